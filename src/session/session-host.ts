import type { ConnectionHandle } from '../quic/endpoint/endpoint-core.js';
import type { EndpointId } from '../tls/identity.js';
import type { EndpointAddr } from './addressing.js';
import type { SessionState } from './session-state.js';
import type { DialTlsOptions } from './x509-options.js';

// The session layer drives its connections through this interface only and never imports the
// endpoint, so that a Session can be read (and tested) without the endpoint's sockets, key log and
// qlog, and the endpoint without the session's streams and promises. The endpoint creates a
// SessionState for every connection, dialled or incoming, and routes the connection's events to
// it; the session asks the endpoint for the clock and a transmit through the methods below. Those
// methods are tagged internal: the published declarations keep only what an application may use,
// and Endpoint is the one implementation an application passes.

/** @internal How `Session.connect` asks its host to dial. */
export interface DialOptions {
  readonly directAddrs?: readonly string[];
  /** Relay URLs the remote is reachable through, besides those of its ticket. */
  readonly relays?: readonly string[];
  readonly alpn?: string;
  /** Ends the wait for a relay before the connection starts (the handshake's own wait is the caller's). */
  readonly signal?: AbortSignal;
  /** The connection's handshake timeout (ms, an integer): the dial gives up after it. */
  readonly timeoutMs: number;
  /**
   * An X.509 dial: `remote` is then an `ip:port` socket address, `serverName` the name sent in
   * SNI and checked in the certificate (absent: the IP is checked), `tls` how to check it.
   */
  readonly x509?: { readonly serverName?: string; readonly tls?: DialTlsOptions };
  /** Offer 0-RTT early data with a ticket that allows it (`ConnectOptions.earlyData`). */
  readonly earlyData?: boolean;
}

/** The endpoint a session runs on, as the session sees it: an `Endpoint`. */
export interface SessionHost {
  /** How long `Session.connect` waits for the handshake (ms) unless its options say otherwise. */
  readonly dialTimeoutMs: number;
  /** @internal How this endpoint authenticates by default: its dials too, unless told otherwise. */
  readonly tlsMode?: 'rawPublicKey' | 'x509';
  /** @internal Milliseconds on the driver's clock: the `now` of every connection command. */
  now(): number;
  /**
   * @internal Runs the transmit loop at the end of this event-loop turn (a connection command
   * marked its connection as needing service already).
   */
  schedule(): void;
  /** @internal The peer's current socket address on that connection (undefined once it is gone). */
  remoteAddress(handle: ConnectionHandle): string | undefined;
  /**
   * @internal Starts a connection to `remote` and registers its state for events; rejects with a
   * ConnectError when it cannot start. `Session.connect` awaits the state's readiness.
   */
  dial(remote: string | EndpointId | EndpointAddr, options: DialOptions): Promise<SessionState>;
  /**
   * @internal The next incoming connection whose handshake completed, in arrival order; null
   * once the endpoint closes; rejects with the abort reason when `signal` fires.
   */
  acceptNext(signal?: AbortSignal): Promise<SessionState | null>;
}
