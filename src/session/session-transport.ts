import type { ConnectionStats } from '../quic/connection/stats.js';
import type { EndpointId } from '../tls/identity.js';
import type { CloseInfo } from './session-state.js';
import type { SessionPath } from './session-paths.js';

/**
 * What a `Session` runs over. A Session is one class whatever carries it: a QUIC connection of an
 * `Endpoint` (`Session.connect`, `Session.accept`) or a WebTransport session over HTTP/3
 * (`quic-peer/http`: `connectWebTransport`, `WebTransportServer`). The Session checks the
 * application's arguments, gives the WebTransport shapes (callable `ready` / `closed`, incoming
 * streams and datagrams as web streams, the iroh-http method names) and delegates the rest to its
 * transport, through the interface below. It lives in its own module so that the session layer
 * stands without HTTP: the HTTP/3 layer implements it, the session layer never imports HTTP.
 */

/** A bidirectional stream: both halves as web streams. */
export interface BidirectionalStream {
  /** What the peer sends; `cancel(code)` sends STOP_SENDING with that code. */
  readonly readable: ReadableStream<Uint8Array>;
  /** What we send; `close()` sends the FIN, `abort(code)` sends RESET_STREAM with that code. */
  readonly writable: WritableStream<Uint8Array>;
  /** The QUIC stream id (RFC 9000 §2.1), where the stream is one QUIC stream (HTTP/3 needs it: a request's id names its WebTransport session). */
  readonly streamId?: number;
}

/**
 * What carries a session: `'quic'`, a QUIC connection of its own (application close codes up to
 * 2^62-1, RFC 9000 §19.19); `'webtransport'`, a WebTransport session over HTTP/3, one of the
 * sessions of an HTTP/3 connection (close codes up to 2^32-1: CLOSE_WEBTRANSPORT_SESSION carries
 * 32 bits, draft-ietf-webtrans-http3 §5).
 */
export type SessionKind = 'quic' | 'webtransport';

/**
 * The transport under a `Session`: one implementation per {@link SessionKind}. Every wait takes
 * an optional AbortSignal (already checked by the Session): an aborted wait rejects with the
 * signal's reason and leaves no waiter behind. Errors are the Session's: `SessionClosedError` for
 * an operation on a closed session, `DatagramError` for a datagram that cannot be sent,
 * `StreamAbortedError` on the streams.
 */
export interface SessionTransport {
  /** What carries the session (it decides the range of close codes). */
  readonly kind: SessionKind;
  /** Resolves once the session is open (the handshake completed; for WebTransport, the server accepted the CONNECT). */
  readonly ready: Promise<void>;
  /** Resolves with how the session ended, whoever closed it; never rejects. */
  readonly closed: Promise<CloseInfo>;
  /** The peer's endpoint id (its Ed25519 key); throws when it has none. */
  readonly remoteId: EndpointId;
  /** The certificate chain the peer presented (DER, leaf first), if it presented one. */
  readonly peerCertificates: readonly Uint8Array[] | undefined;
  /** True when the QUIC handshake resumed an earlier TLS session. */
  readonly resumed: boolean;
  /** True when the QUIC connection's early data (0-RTT) was sent and accepted (see `Session.earlyDataAccepted`). */
  readonly earlyDataAccepted: boolean;
  /** The negotiated ALPN of the QUIC connection. */
  readonly alpn: string;
  /** The peer's current socket address, while it is known. */
  readonly remoteAddress: string | undefined;
  /** Opens a bidirectional stream, waiting while the peer's stream limit is reached. */
  openBidirectionalStream(signal?: AbortSignal): Promise<BidirectionalStream>;
  /** Opens a unidirectional stream, waiting as `openBidirectionalStream` does. */
  openUnidirectionalStream(signal?: AbortSignal): Promise<WritableStream<Uint8Array>>;
  /** The next bidirectional stream the peer opened, or null once the session is closed. */
  nextBidirectionalStream(signal?: AbortSignal): Promise<BidirectionalStream | null>;
  /** The next unidirectional stream the peer opened, or null once the session is closed. */
  nextUnidirectionalStream(signal?: AbortSignal): Promise<ReadableStream<Uint8Array> | null>;
  /** Sends a datagram (a copy: `data` may be reused at once); resolves once it left in a packet. */
  sendDatagram(data: Uint8Array): Promise<void>;
  /** The next datagram, or null once the session is closed. */
  recvDatagram(signal?: AbortSignal): Promise<Uint8Array | null>;
  /** The largest datagram payload that can be sent now, or null when the peer accepts none. */
  maxDatagramSize(): number | null;
  /**
   * Closes the session with `code` (already checked against the kind's range) and `reason`; a
   * second close does nothing. `closed` resolves with them at once.
   */
  close(code: number | bigint, reason: string): void;
  /** The QUIC connection's counters. */
  getStats(): ConnectionStats;
  /** The network paths of the QUIC connection (see `Session.paths`). */
  paths(): SessionPath[];
}
