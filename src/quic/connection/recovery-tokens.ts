import type { PacketSpace } from '../packet/space.js';
import type { SentPacket } from '../recovery/sent-packets.js';
import type { ConnectionCore } from './connection-core.js';
import type { StreamControlFrame } from '../streams/stream-types.js';

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
 * One sent packet with its tokens, in ONE object allocated per packet: the SentPacket fields, the
 * tokens every data packet carries stored inline (its first STREAM frame, its ACK frame), and any
 * other token (CRYPTO, control frames, further STREAM frames...) in `more`. Before, a packet cost a
 * SentPacket, a token array and an object per token, all living one RTT. (A free list of records
 * was tried and measured slower: a recycled record is cold in the cache when reused, a fresh one
 * is allocated warm in the young generation.)
 */
export class PacketTokens implements SentPacket<PacketTokens> {
  pn = 0;
  /** Time sent, ms. */
  timeSent = 0;
  size = 0;
  ackEliciting = false;
  inFlight = false;
  /** The first STREAM token: stream id (-1: none), offset, length, FIN. */
  streamId = -1;
  streamOffset = 0;
  streamLength = 0;
  streamFin = false;
  /** The ACK token: packet number space and Largest Acknowledged (-1: none). */
  ackSpace: PacketSpace = 0;
  ackLargest = -1;
  /** Whether one of the tokens is an MTU probe (its fate says nothing about congestion). */
  mtuProbe = false;
  /** The other tokens, in the order they were added. */
  more: RecoveryToken[] | null = null;

  /** Fills in what the loss detector needs once the packet is sealed (before `onPacketSent`). */
  sent(pn: number, timeSent: number, size: number, ackEliciting: boolean, inFlight: boolean): this {
    this.pn = pn;
    this.timeSent = timeSent;
    this.size = size;
    this.ackEliciting = ackEliciting;
    this.inFlight = inFlight;
    return this;
  }

  /** The record is its own token list (SentPacket.tokens). */
  get tokens(): PacketTokens {
    return this;
  }

  /** Number of tokens. */
  get count(): number {
    return (this.streamId >= 0 ? 1 : 0) + (this.ackLargest >= 0 ? 1 : 0) + (this.more === null ? 0 : this.more.length);
  }

  addStream(id: number, offset: number, length: number, fin: boolean): void {
    if (this.streamId >= 0) {
      this.push({ k: 'stream', id, offset, length, fin });
      return;
    }
    this.streamId = id;
    this.streamOffset = offset;
    this.streamLength = length;
    this.streamFin = fin;
  }

  addAck(space: PacketSpace, largest: number): void {
    if (this.ackLargest >= 0) {
      this.push({ k: 'ack', space, largest });
      return;
    }
    this.ackSpace = space;
    this.ackLargest = largest;
  }

  /** Any token (STREAM and ACK go inline when their slot is free). */
  add(t: RecoveryToken): void {
    if (t.k === 'stream') this.addStream(t.id, t.offset, t.length, t.fin);
    else if (t.k === 'ack') this.addAck(t.space, t.largest);
    else {
      if (t.k === 'mtuProbe') this.mtuProbe = true;
      this.push(t);
    }
  }

  /** The tokens as objects (tests, debugging; allocates). */
  toArray(): RecoveryToken[] {
    const out: RecoveryToken[] = [];
    if (this.ackLargest >= 0) out.push({ k: 'ack', space: this.ackSpace, largest: this.ackLargest });
    if (this.streamId >= 0) out.push({ k: 'stream', id: this.streamId, offset: this.streamOffset, length: this.streamLength, fin: this.streamFin });
    if (this.more !== null) out.push(...this.more);
    return out;
  }

  private push(t: RecoveryToken): void {
    if (this.more === null) this.more = [t];
    else this.more.push(t);
  }
}

/**
 * What acknowledgment and loss of a packet mean for the modules that produced its frames.
 */

export function onPacketAcked(c: ConnectionCore, p: SentPacket<PacketTokens>, _now: number): void {
  const t = p.tokens;
  if (t.ackLargest >= 0) c.spaces[t.ackSpace]!.ack.onAckOfAckReceived(t.ackLargest);
  if (t.streamId >= 0) c.streams.onStreamFrameAcked(t.streamId, t.streamOffset, t.streamLength, t.streamFin);
  const more = t.more;
  if (more !== null) for (let i = 0; i < more.length; i++) onTokenAcked(c, more[i]!);
  if (!t.mtuProbe) c.mtu.onPacketAcked(p.size, p.timeSent);
}

function onTokenAcked(c: ConnectionCore, t: RecoveryToken): void {
  switch (t.k) {
    case 'crypto':
      c.spaces[t.space]!.crypto.onAcked(t.offset, t.length);
      break;
    case 'stream':
      c.streams.onStreamFrameAcked(t.id, t.offset, t.length, t.fin);
      break;
    case 'control':
      c.streams.onControlAcked(t.frame);
      break;
    case 'ack':
      c.spaces[t.space]!.ack.onAckOfAckReceived(t.largest);
      break;
    case 'datagram':
      c.datagrams.onAcked();
      break;
    case 'mtuProbe':
      c.mtu.onProbeAcked(t.size);
      c.onMtuChanged();
      break;
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
  for (let k = 0; k < lost.length; k++) {
    const p = lost[k]!;
    const t = p.tokens;
    if (t.streamId >= 0) c.streams.onStreamFrameLost(t.streamId, t.streamOffset, t.streamLength, t.streamFin);
    const more = t.more;
    if (more !== null) for (let i = 0; i < more.length; i++) onTokenLost(c, more[i]!);
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
  if (persistentCongestion) c.cc.onPersistentCongestion(now);
  if (c.mtu.detectBlackHole(now)) c.onMtuChanged();
}

/** Re-queues what a lost token carried. */
function onTokenLost(c: ConnectionCore, t: RecoveryToken): void {
  switch (t.k) {
    case 'crypto':
      c.spaces[t.space]!.crypto.onLost(t.offset, t.length);
      return;
    case 'stream':
      c.streams.onStreamFrameLost(t.id, t.offset, t.length, t.fin);
      return;
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
    case 'ack':
    case 'pathChallenge':
      return;
  }
}

/** Token objects without fields, shared. */
export const HANDSHAKE_DONE_TOKEN: RecoveryToken = Object.freeze({ k: 'handshakeDone' });
export const DATAGRAM_TOKEN: RecoveryToken = Object.freeze({ k: 'datagram' });

