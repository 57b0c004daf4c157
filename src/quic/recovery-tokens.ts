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

/** The tokens of one packet. */
export type PacketTokens = RecoveryToken[];

/**
 * What acknowledgment and loss of a packet mean for the modules that produced its frames.
 */

export function onPacketAcked(c: ConnectionCore, p: SentPacket<PacketTokens>, _now: number): void {
  for (const t of p.tokens) {
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
  if (!p.tokens.some((t) => t.k === 'mtuProbe')) c.mtu.onPacketAcked(p.size, p.timeSent);
}

export function onPacketsLost(c: ConnectionCore, now: number, lost: readonly SentPacket<PacketTokens>[], persistentCongestion: boolean): void {
  const congestionLost: SentPacket<PacketTokens>[] = [];
  for (const p of lost) {
    let probe = false;
    for (const t of p.tokens) if (onTokenLost(c, t, now)) probe = true;
    if (probe) {
      // RFC 8899 §4.4: a lost probe says nothing about congestion; only its bytes leave flight.
      c.cc.onPacketsDiscarded(p.inFlight ? p.size : 0);
    } else {
      congestionLost.push(p);
      c.mtu.onPacketLost(p.size, p.timeSent);
    }
  }
  if (congestionLost.length > 0) c.cc.onPacketsLost(now, congestionLost);
  if (persistentCongestion) c.cc.onPersistentCongestion(now);
  if (c.mtu.detectBlackHole(now)) c.onMtuChanged();
}

/** Re-queues what a lost token carried; returns true for an MTU probe. */
function onTokenLost(c: ConnectionCore, t: RecoveryToken, _now: number): boolean {
  switch (t.k) {
    case 'crypto':
      c.spaces[t.space]!.crypto.onLost(t.offset, t.length);
      return false;
    case 'stream':
      c.streams.onStreamFrameLost(t.id, t.offset, t.length, t.fin);
      return false;
    case 'control':
      c.streams.onControlLost(t.frame);
      return false;
    case 'handshakeDone':
      c.handshakeDonePending = true;
      return false;
    case 'newCid':
      c.localCids.onNewCidLost(t.seq);
      return false;
    case 'retireCid':
      c.remoteCids.onRetireLost(t.seq);
      return false;
    case 'datagram':
      c.datagrams.onLost();
      return false;
    case 'mtuProbe':
      c.mtu.onProbeLost(t.size);
      return true;
    case 'ack':
    case 'pathChallenge':
      return false;
  }
}
