import type { PacketSpace } from './recovery/constants.js';
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
