import type { PacketSpace } from './recovery/constants.js';
import type { SentPacket } from './recovery/sent-packets.js';
import type { ConnectionCore } from './connection-core.js';
import type { StreamControlFrame } from './streams/stream-types.js';

/**
 * Recovery tokens: what a sent packet carried that matters when it is acknowledged or lost
 * (STYLE.md rule 7: retransmit information, not packets). The packet builder records one token per
 * retransmittable frame; on loss the owning module re-queues what is still needed, and the next
 * packet is built with current values.
 */
export type RecoveryToken =
  /** CRYPTO bytes [offset, offset+length) of a packet number space. */
  | { readonly k: 'crypto'; readonly space: PacketSpace; readonly offset: number; readonly length: number }
  /** STREAM bytes (and FIN) of a stream. */
  | { readonly k: 'stream'; readonly id: number; readonly offset: number; readonly length: number; readonly fin: boolean }
  /** A stream or connection flow-control frame (MAX_DATA, RESET_STREAM, ...): re-polled with current values. */
  | { readonly k: 'control'; readonly frame: StreamControlFrame }
  /** An ACK frame whose largest acknowledged was `largest`: once acked, older ranges need not be repeated. */
  | { readonly k: 'ack'; readonly space: PacketSpace; readonly largest: number }
  | { readonly k: 'handshakeDone' }
  | { readonly k: 'newCid'; readonly seq: number }
  | { readonly k: 'retireCid'; readonly seq: number }
  /** A DATAGRAM: counted as acked or lost, never retransmitted (RFC 9221 §5.2). */
  | { readonly k: 'datagram' }
  /** A PATH_CHALLENGE we sent (re-sent on loss while validation is pending). */
  | { readonly k: 'pathChallenge' }
  /** A path MTU probe of `size` bytes (its loss is not a congestion signal, RFC 8899 §4.4). */
  | { readonly k: 'mtuProbe'; readonly size: number };

/**
 * Numeric codes of the tokens every data packet carries (STREAM, CRYPTO, ACK), stored flat; any
 * other token is kept as its object (OBJECT).
 */
const OBJECT = 0;
const STREAM = 1;
const STREAM_FIN = 2;
const CRYPTO = 3;
const ACK = 4;
/** Numbers per token in `PacketTokens.nums`: code, then up to three fields. */
const STRIDE = 4;

/**
 * The tokens of one packet. The hot ones are stored as numbers in one flat array that is reused
 * (no object per token, no array per packet); the rare ones as their objects.
 */
export class PacketTokens {
  /** Number of tokens. */
  count = 0;
  /** Whether one of them is an MTU probe (its fate says nothing about congestion). */
  mtuProbe = false;
  /** [code, a, b, c] per token: STREAM id, offset, length; CRYPTO space, offset, length; ACK space, largest. */
  readonly nums: number[] = [];
  /** The token object of an OBJECT token, at the token's index. */
  readonly objs: Array<RecoveryToken | undefined> = [];

  clear(): void {
    if (this.objs.length > 0) this.objs.length = 0;
    this.count = 0;
    this.mtuProbe = false;
  }

  addStream(id: number, offset: number, length: number, fin: boolean): void {
    this.put(fin ? STREAM_FIN : STREAM, id, offset, length);
  }

  addCrypto(space: PacketSpace, offset: number, length: number): void {
    this.put(CRYPTO, space, offset, length);
  }

  addAck(space: PacketSpace, largest: number): void {
    this.put(ACK, space, largest, 0);
  }

  /** Any token (the hot kinds are stored flat like their add* methods do). */
  add(t: RecoveryToken): void {
    switch (t.k) {
      case 'stream':
        this.addStream(t.id, t.offset, t.length, t.fin);
        return;
      case 'crypto':
        this.addCrypto(t.space, t.offset, t.length);
        return;
      case 'ack':
        this.addAck(t.space, t.largest);
        return;
      default:
        if (t.k === 'mtuProbe') this.mtuProbe = true;
        this.objs[this.count] = t;
        this.put(OBJECT, 0, 0, 0);
    }
  }

  /** The tokens as objects (tests, debugging; allocates). */
  toArray(): RecoveryToken[] {
    const out: RecoveryToken[] = [];
    for (let i = 0; i < this.count; i++) {
      const n = this.nums;
      const j = i * STRIDE;
      const code = n[j]!;
      if (code === STREAM || code === STREAM_FIN) out.push({ k: 'stream', id: n[j + 1]!, offset: n[j + 2]!, length: n[j + 3]!, fin: code === STREAM_FIN });
      else if (code === CRYPTO) out.push({ k: 'crypto', space: n[j + 1]! as PacketSpace, offset: n[j + 2]!, length: n[j + 3]! });
      else if (code === ACK) out.push({ k: 'ack', space: n[j + 1]! as PacketSpace, largest: n[j + 2]! });
      else out.push(this.objs[i]!);
    }
    return out;
  }

  private put(code: number, a: number, b: number, c: number): void {
    const j = this.count * STRIDE;
    const n = this.nums;
    n[j] = code;
    n[j + 1] = a;
    n[j + 2] = b;
    n[j + 3] = c;
    this.count++;
  }
}

/** A sent packet with its tokens: one object, recycled once the packet is acknowledged or lost. */
export class SentRecord implements SentPacket<PacketTokens> {
  pn = 0;
  timeSent = 0;
  size = 0;
  ackEliciting = false;
  inFlight = false;
  readonly tokens = new PacketTokens();
}

/**
 * Records of acknowledged or lost packets, reused for the next packets sent: shared by every
 * connection of the process (one thread), bounded.
 */
const free: SentRecord[] = [];
const MAX_FREE = 4096;

/** An empty record for the packet being built. */
export function takeSentRecord(): SentRecord {
  const r = free.pop();
  if (r === undefined) return new SentRecord();
  r.tokens.clear();
  return r;
}

/** Returns a record taken for a packet that was abandoned before it was sent. */
export function returnUnsentRecord(r: SentRecord): void {
  if (free.length < MAX_FREE) free.push(r);
}

/**
 * Returns a record whose packet was acknowledged or declared lost. Its fields are left as they are
 * until `takeSentRecord` hands it out again, which only happens when a packet is built: the
 * congestion controller reads acked and lost packets in the same ACK processing, after this.
 */
function recycle(p: SentPacket<PacketTokens>): void {
  if (p instanceof SentRecord && free.length < MAX_FREE) free.push(p);
}

/**
 * What acknowledgment and loss of a packet mean for the modules that produced its frames.
 */

export function onPacketAcked(c: ConnectionCore, p: SentPacket<PacketTokens>, _now: number): void {
  const t = p.tokens;
  const n = t.nums;
  for (let i = 0, j = 0; i < t.count; i++, j += STRIDE) {
    switch (n[j]) {
      case STREAM:
      case STREAM_FIN:
        c.streams.onStreamFrameAcked(n[j + 1]!, n[j + 2]!, n[j + 3]!, n[j] === STREAM_FIN);
        break;
      case CRYPTO:
        c.spaces[n[j + 1]!]!.crypto.onAcked(n[j + 2]!, n[j + 3]!);
        break;
      case ACK:
        c.spaces[n[j + 1]!]!.ack.onAckOfAckReceived(n[j + 2]!);
        break;
      default:
        onObjectAcked(c, t.objs[i]!);
    }
  }
  if (!t.mtuProbe) c.mtu.onPacketAcked(p.size, p.timeSent);
  recycle(p);
}

function onObjectAcked(c: ConnectionCore, t: RecoveryToken): void {
  switch (t.k) {
    case 'control':
      c.streams.onControlAcked(t.frame);
      break;
    case 'datagram':
      c.datagrams.onAcked();
      break;
    case 'mtuProbe':
      c.mtu.onProbeAcked(t.size);
      c.onMtuChanged();
      break;
    case 'stream':
    case 'crypto':
    case 'ack':
    case 'handshakeDone':
    case 'newCid':
    case 'retireCid':
    case 'pathChallenge':
      break;
  }
}

/** The congestion-relevant packets of one `onPacketsLost` call (reused). */
const congestionLost: SentPacket<PacketTokens>[] = [];

export function onPacketsLost(c: ConnectionCore, now: number, lost: readonly SentPacket<PacketTokens>[], persistentCongestion: boolean): void {
  congestionLost.length = 0;
  for (const p of lost) {
    const t = p.tokens;
    const n = t.nums;
    for (let i = 0, j = 0; i < t.count; i++, j += STRIDE) {
      switch (n[j]) {
        case STREAM:
        case STREAM_FIN:
          c.streams.onStreamFrameLost(n[j + 1]!, n[j + 2]!, n[j + 3]!, n[j] === STREAM_FIN);
          break;
        case CRYPTO:
          c.spaces[n[j + 1]!]!.crypto.onLost(n[j + 2]!, n[j + 3]!);
          break;
        case ACK:
          break;
        default:
          onObjectLost(c, t.objs[i]!);
      }
    }
    if (t.mtuProbe) {
      // RFC 8899 §4.4: a lost probe says nothing about congestion; only its bytes leave flight.
      c.cc.onPacketsDiscarded(p.inFlight ? p.size : 0);
    } else {
      congestionLost.push(p);
      c.mtu.onPacketLost(p.size, p.timeSent);
    }
  }
  if (congestionLost.length > 0) c.cc.onPacketsLost(now, congestionLost);
  congestionLost.length = 0;
  for (const p of lost) recycle(p);
  if (persistentCongestion) c.cc.onPersistentCongestion(now);
  if (c.mtu.detectBlackHole(now)) c.onMtuChanged();
}

/** Re-queues what a lost token carried. */
function onObjectLost(c: ConnectionCore, t: RecoveryToken): void {
  switch (t.k) {
    case 'control':
      c.streams.onControlLost(t.frame);
      return;
    case 'handshakeDone':
      c.handshakeDonePending = true;
      return;
    case 'newCid':
      c.localCids.onNewCidLost(t.seq);
      return;
    case 'retireCid':
      c.remoteCids.onRetireLost(t.seq);
      return;
    case 'datagram':
      c.datagrams.onLost();
      return;
    case 'mtuProbe':
      c.mtu.onProbeLost(t.size);
      return;
    case 'stream':
    case 'crypto':
    case 'ack':
    case 'pathChallenge':
      return;
  }
}

/** Token objects without fields, shared. */
export const HANDSHAKE_DONE_TOKEN: RecoveryToken = Object.freeze({ k: 'handshakeDone' });
export const DATAGRAM_TOKEN: RecoveryToken = Object.freeze({ k: 'datagram' });

