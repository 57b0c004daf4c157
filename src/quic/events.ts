import type { StreamEvent } from './streams/stream-types.js';
import type { ResumptionTicket } from '../tls/resumption.js';

/**
 * What a connection tells its driver (pulled with `pollEvent()`; events notify, data is pulled).
 */
export type ConnectionEvent =
  /** The handshake completed: the peer is authenticated, streams and datagrams may be used. */
  | { readonly type: 'connected' }
  /** RFC 9001 §4.1.2: the handshake is confirmed (HANDSHAKE_DONE received, or server complete). */
  | { readonly type: 'handshakeConfirmed' }
  /** A stream event (incoming, readable, writable, stopped, closed, streams-available). */
  | StreamEvent
  /** Datagrams wait in the receive queue. */
  | { readonly type: 'datagram' }
  /**
   * Queued datagrams left in packets or were dropped (RFC 9221 gives no delivery guarantee: "sent"
   * means written into a packet): `Connection.takeDatagramSendReport()` says which.
   */
  | { readonly type: 'datagramsSent' }
  /**
   * What became of the 0-RTT early data offered (RFC 9001 §4.6.2), once known: a client learns it
   * from the server's EncryptedExtensions, a server when it handled the ClientHello. On
   * rejection a client has already rewound its streams (their data is sent again in 1-RTT) and
   * reports the datagrams sent in 0-RTT as dropped ('early-data-rejected').
   */
  | { readonly type: 'earlyData'; readonly accepted: boolean }
  /** The server sent a NEW_TOKEN (client; for address validation on a later connection). */
  | { readonly type: 'newToken'; readonly token: Uint8Array }
  /** The server sent a session ticket (client; to resume a later connection, RFC 9846 §4.6.1). */
  | { readonly type: 'sessionTicket'; readonly ticket: ResumptionTicket }
  /**
   * The peer reported a new address it sees us at (QUIC Address Discovery, OBSERVED_ADDRESS;
   * `ip:port`): what a NAT between us made of our address, a candidate for hole punching.
   */
  | { readonly type: 'observedAddress'; readonly address: string }
  /**
   * The connection is lost to the application (closed by either side, idle timeout, stateless
   * reset, handshake failure). Emitted once. The connection may still exist for a few PTOs
   * (closing or draining period) before `terminated`.
   */
  | { readonly type: 'closed'; readonly reason: CloseReason }
  /** The connection's state can be dropped: no packet will be sent or accepted any more. */
  | { readonly type: 'terminated' };

/** Why a connection closed. */
export interface CloseReason {
  /**
   * - `application`: CONNECTION_CLOSE 0x1d (an application code and reason);
   * - `transport`: CONNECTION_CLOSE 0x1c (a transport error code, 0x100+ for TLS alerts);
   * - `idle`: the idle timeout expired; `handshakeTimeout`: the handshake took too long;
   * - `reset`: a stateless reset from the peer; `versionMismatch`: no common QUIC version.
   */
  readonly kind: 'application' | 'transport' | 'idle' | 'handshakeTimeout' | 'reset' | 'versionMismatch';
  /** Error code (application or transport). 0 for idle/reset. */
  readonly code: number | bigint;
  /** Reason phrase or a description. */
  readonly reason: string;
  /** True when the peer closed (or reset) the connection; false when we did. */
  readonly remote: boolean;
  /** For transport errors: the frame type that caused it, if any. */
  readonly frameType?: number;
}
