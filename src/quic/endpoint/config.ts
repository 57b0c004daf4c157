import { ConfigError, type TransportOptions } from '../transport-config.js';
import type { Connection, ConnectionTlsOptions } from '../connection/connection.js';
import type { ConnectionEvent } from '../events.js';
import type { QlogSink } from '../connection/qlog.js';
import { RateLimiter } from './rate-limit.js';
import type { Random } from '../../tls/random.js';

/** The public types of the endpoint core (endpoint.ts) and the validation of its configuration. */

/** An opaque connection handle: never reused, so a stale one resolves to nothing. */
export type ConnectionHandle = number & { readonly __brand: 'ConnectionHandle' };

/** Transport options of new connections (see TransportConfig). */
export type { TransportOptions } from '../transport-config.js';

/** A rate limit (rate-limit.ts): `perSecond` sends per second, up to `burst` at once. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

export interface EndpointConfig {
  /**
   * The endpoint's static secret (32 bytes, random, stable across restarts if resets should
   * survive them). Stateless reset tokens (RFC 9000 §10.3.2) and address-validation tokens
   * (§8.1.4) are derived from it with HKDF.
   */
  readonly staticKey: Uint8Array;
  /** Randomness for CIDs, TLS, Retry SCIDs, reset bytes (a SeededRandom in tests). */
  readonly random: Random;
  /** Present when this endpoint accepts incoming connections. */
  readonly server?: {
    /** Our identity and the ALPNs served. */
    readonly tls: ConnectionTlsOptions;
    /** Transport options of incoming connections (over `transport`). */
    readonly transport?: TransportOptions;
  };
  /** Transport options of every new connection. `localCidLength`, if given, must equal ours. */
  readonly transport?: TransportOptions;
  /** Length of the CIDs our connections issue (4..20, default 8 as iroh): short headers route by it. */
  readonly localCidLength?: number;
  /** Most connections at once, incoming and outgoing (default 4096). */
  readonly maxConnections?: number;
  /** Most incoming handshakes in flight (default 256); more Initials are refused. */
  readonly maxHandshakes?: number;
  /**
   * Address validation with Retry (RFC 9000 §8.1.2): never, for every new client, or only while
   * `retryThreshold` or more incoming handshakes are in flight. Default 'never'.
   */
  readonly retry?: 'never' | 'always' | 'underLoad';
  /** Handshakes in flight from which 'underLoad' sends Retry (default half of maxHandshakes). */
  readonly retryThreshold?: number;
  /** Lifetime of Retry tokens (default 10 s) and NEW_TOKEN tokens (default 24 h). */
  readonly retryTokenLifetimeMs?: number;
  readonly newTokenLifetimeMs?: number;
  /** Stateless resets sent (default 20/s, burst 20). */
  readonly statelessResetRate?: RateLimit;
  /** Version Negotiation, Retry and refusal packets sent (default 200/s, burst 200). */
  readonly responseRate?: RateLimit;
  /** Endpoint-generated datagrams waiting for `pollTransmit` before new ones are dropped (default 256). */
  readonly maxQueuedResponses?: number;
  /**
   * qlog tracing: asked once per new connection for a sink (undefined: not traced). An outgoing
   * connection is asked when it opens; an incoming one once its first datagram authenticated (so
   * forged Initials create no trace), the events of that datagram replayed into the sink first.
   */
  readonly qlog?: (info: QlogConnectionInfo) => QlogSink | undefined;
}

/** What a qlog sink factory learns of a new connection. */
export interface QlogConnectionInfo {
  readonly handle: ConnectionHandle;
  readonly role: 'client' | 'server';
  /** The client's first Destination Connection ID (both sides know it: the trace's ODCID). */
  readonly odcid: Uint8Array;
  /** The connection's clock at creation (ms). */
  readonly now: number;
}

/** What `connect` needs besides the endpoint's defaults. */
export interface ConnectOptions {
  /** Our identity, the ALPNs offered and the expected server key. */
  readonly tls: ConnectionTlsOptions;
  /** Over the endpoint's `transport`. */
  readonly transport?: TransportOptions;
  /** Length of the random first DCID (8..20, default 16). */
  readonly initialDcidLength?: number;
  /** A NEW_TOKEN token from an earlier connection to this server. */
  readonly token?: Uint8Array;
  /**
   * Other addresses of the same server, tried at once: each gets a copy of the datagrams until
   * the server answers on one, which the connection keeps (the first to answer wins).
   */
  readonly alternateAddresses?: readonly string[];
}

export type EndpointEvent =
  /** A client's connection was accepted; its events follow as 'connection' events. */
  | { readonly type: 'incoming'; readonly handle: ConnectionHandle; readonly connection: Connection; readonly remoteAddress: string }
  /** An event of one connection. After its 'terminated' the handle is gone. */
  | { readonly type: 'connection'; readonly handle: ConnectionHandle; readonly event: ConnectionEvent }
  /** After `close()`: every connection has terminated; the endpoint does nothing more. */
  | { readonly type: 'closed' };

/** A datagram `pollTransmit` wrote: `length` bytes of `out`, to `address`. */
export interface Transmit {
  readonly length: number;
  readonly address: string;
}

export interface EndpointStats {
  datagramsReceived: number;
  bytesReceived: number;
  datagramsSent: number;
  bytesSent: number;
  /** Incoming connections created / outgoing connections opened. */
  connectionsAccepted: number;
  connectionsOpened: number;
  /** Initials answered with CONNECTION_REFUSED (limits, closing endpoint). */
  connectionsRefused: number;
  /** Datagrams that did not parse. */
  droppedMalformed: number;
  /** Datagrams for no connection that got no answer (long headers, too short to reset, ...). */
  droppedUnroutable: number;
  /** 0-RTT datagrams held for a connection whose Initial had not arrived yet (early-hold.ts). */
  earlyDatagramsHeld: number;
  /** Initials in datagrams under 1200 bytes (RFC 9000 §14.1) or with a DCID under 8 bytes (§7.2). */
  droppedInitials: number;
  /** Initials that did not authenticate (no connection is kept for them). */
  droppedUnauthenticated: number;
  /** Stateless answers (VN, Retry, refusal) not sent because of the rate limit or a full queue. */
  droppedResponses: number;
  versionNegotiationsSent: number;
  retriesSent: number;
  /** Initials with a token that did not validate (answered with INVALID_TOKEN when it claimed to be a Retry token). */
  invalidTokens: number;
  statelessResetsSent: number;
  statelessResetsRateLimited: number;
  /** Unroutable datagrams recognised as a Stateless Reset for one of our connections. */
  statelessResetsReceived: number;
  /** A connection issued a CID another already had (it stays with the first). */
  cidCollisions: number;
  /** Bugs caught at the endpoint boundary (the datagram is dropped); always 0 unless we have a bug. */
  internalErrors: number;
}

/** Thrown by `connect` when the endpoint cannot open a connection now. */
export class EndpointError extends Error {
  override readonly name = 'EndpointError';
}

/** `over` over `base`, the stream limits merged field by field. */
export function mergeTransport(base: TransportOptions | undefined, over: TransportOptions | undefined): TransportOptions {
  return { ...base, ...over, streams: { ...base?.streams, ...over?.streams } };
}

/** Throws a ConfigError unless `v` is an integer in [min, max]. */
export function int(field: string, v: number, min: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new ConfigError(field, `must be an integer in [${min}, ${max}], got ${String(v)}`);
}

/** A RateLimiter for the configured `r`, validated (a ConfigError names `field`). */
export function rateLimiter(field: string, r: RateLimit): RateLimiter {
  if (!(r.perSecond >= 0) || !(r.burst >= 0)) throw new ConfigError(field, 'perSecond and burst must be >= 0');
  return new RateLimiter(r.perSecond, r.burst);
}
