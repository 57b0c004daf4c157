import type { ConnectionStats } from '../quic/connection/connection.js';
import type { SessionPath } from './session-paths.js';
import { isVarintExact } from '../codec/varint.js';
import { EndpointId } from '../tls/identity.js';
import { InvalidArgumentError } from './errors.js';
import { DatagramError } from '../quic/connection/datagram-error.js';
import { raceAbort } from './abort.js';
import { checkHost, checkOptionKeys, checkStrings, signalOption, waitSignal, type WaitOptions } from './arguments.js';
import type { EndpointAddr } from './addressing.js';
import type { DialOptions, SessionHost } from './session-host.js';
import { checkType } from './arguments.js';
import { resolveHostPort } from './resolve.js';
import type { DialTlsOptions } from './x509-options.js';
import type { CloseInfo, SessionState } from './session-state.js';
import { QuicTransport } from './quic-transport.js';
import type { BidirectionalStream, SessionKind, SessionTransport } from './session-transport.js';
import { callablePromise, handled, handledBidi, handledReads, handledWrites, pulling, type CallablePromise } from './shapes.js';

export type { BidirectionalStream, SessionKind, SessionTransport } from './session-transport.js';
export type { CallablePromise } from './shapes.js';

/** A session's datagrams (RFC 9221) as web streams: unreliable, unordered, one message each. */
export interface SessionDatagrams {
  /** Datagrams received. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Datagrams to send, each at most `maxDatagramSize` bytes. */
  readonly writable: WritableStream<Uint8Array>;
  /** The largest datagram that can be sent now (0 when the peer accepts none). */
  readonly maxDatagramSize: number;
}

/** The largest application close code of a QUIC session: 2^62 - 1 (a QUIC varint, RFC 9000 §19.19). */
const MAX_QUIC_CODE = (1n << 62n) - 1n;
/** The largest close code of a WebTransport session: 2^32 - 1 (CLOSE_WEBTRANSPORT_SESSION, draft-ietf-webtrans-http3-02 §5). */
const MAX_WEBTRANSPORT_CODE = 0xffffffff;
/** The longest dial timeout: the transport's bound on handshakeTimeoutMs (about 35 years). */
const MAX_TIMEOUT_MS = 2 ** 40;

/** The options of `connect` that say whom to dial and how (`directAddrs`, `alpn`), when given. */
function dialTarget(o: ConnectOptions): { directAddrs?: readonly string[]; relays?: readonly string[]; alpn?: string } {
  return {
    ...(o.directAddrs !== undefined ? { directAddrs: o.directAddrs } : {}),
    ...(o.relays !== undefined ? { relays: o.relays } : {}),
    ...(o.alpn !== undefined ? { alpn: o.alpn } : {}),
  };
}

/** Options of {@link Session.connect}. */
export interface ConnectOptions {
  /** Extra direct addresses (ip:port) to dial, merged with the ones in `remote`. */
  readonly directAddrs?: readonly string[];
  /**
   * Relay URLs the remote is reachable through (its home relay), merged with the ones in
   * `remote`'s ticket. Direct addresses and relays are tried at once; the first the peer answers
   * on wins.
   */
  readonly relays?: readonly string[];
  /** The ALPN to speak (default `iroh-http/2-duplex`, so a quic-peer session speaks to an iroh-http one). */
  readonly alpn?: string;
  /**
   * Give up when the handshake has not completed after this long, in ms (default: the endpoint's
   * `dialTimeoutMs`). It is the connection's handshake timeout, whatever the transport's
   * `handshakeTimeoutMs` says. The ConnectError (kind `timeout`) says `no answer within N ms` when
   * nothing came back (nobody listens there, or every packet was lost: a closed UDP port is not
   * reported to the endpoint's socket), or `the handshake did not complete within N ms` when the
   * peer answered.
   */
  readonly timeoutMs?: number;
  /**
   * Abandons the dial: the connection attempt is closed and `connect` rejects with the signal's
   * reason.
   */
  readonly signal?: AbortSignal;
  /**
   * X.509 mode: the server's name, sent in SNI and checked against its certificate (default: the
   * host of a `host:port` remote; for an `ip:port` remote, the IP is checked against the
   * certificate's IP addresses). Setting it makes the dial an X.509 dial.
   */
  readonly serverName?: string;
  /**
   * X.509 mode: how the server's certificate is checked (`ca`, `pinSha256` or
   * `insecureSkipVerify`; default: the system's roots) and a client certificate to present.
   * Setting it makes the dial an X.509 dial; an endpoint bound with `tls: { mode: 'x509' }` dials
   * X.509 by default.
   */
  readonly tls?: DialTlsOptions;
  /**
   * 0-RTT (default false): when the session cache holds a ticket of this server that allows early
   * data (same ALPN; for X.509, same name and a chain that passes this dial's checks), `connect`
   * resolves at once, before the handshake, and streams and datagrams opened now travel in the
   * first flight. `ready` still resolves when the handshake completes, and `earlyDataAccepted`
   * then says whether the server took the early data: if it refused it, the stream data was sent
   * again (nothing to do) and datagrams sent early rejected with a DatagramError
   * (`early-data-rejected`). Early data can be replayed by an attacker (README, "Resumption"):
   * send only what is safe to receive twice. Without such a ticket, `connect` waits as usual.
   */
  readonly earlyData?: boolean;
}

const CONNECT_OPTIONS = ['directAddrs', 'relays', 'alpn', 'timeoutMs', 'signal', 'serverName', 'tls', 'earlyData'];

/** A WebTransport request as the server saw it (or the client sent it): the extended CONNECT. */
export interface WebTransportRequest {
  /** The `:path` (with its query string). */
  readonly path: string;
  /** The `:authority` (host and port). */
  readonly authority: string;
  /** The `origin` header, when the client sent one (browsers do). */
  readonly origin: string | undefined;
  /** The request's other header fields. */
  readonly headers: readonly WebTransportHeader[];
}

/** A header field of a WebTransport request. */
export interface WebTransportHeader {
  /** The field's name, lowercase. */
  readonly name: string;
  /** The field's value. */
  readonly value: string;
}

/** What a WebTransport session adds to a Session: {@link Session.webTransport}. */
export interface WebTransportInfo {
  /** The session id: the QUIC stream id of its extended CONNECT (draft-ietf-webtrans-http3-02 §2). */
  readonly sessionId: number;
  /** The draft both ends speak: draft-02 (Chromium's default) or draft-07 (when both announce it). */
  readonly draft: 'draft-02' | 'draft-07';
  /** The request that opened the session. */
  readonly request: WebTransportRequest;
  /** Resolves when the peer asks to wind the session down (DRAIN_WEBTRANSPORT_SESSION, draft-07 §4.7). */
  readonly draining: Promise<void>;
  /** Asks the peer to wind the session down (DRAIN_WEBTRANSPORT_SESSION); the session stays open. */
  drain(): void;
  /** The QUIC session (kind `'quic'`) of the HTTP/3 connection that carries this one. */
  readonly connection: Session;
}

/**
 * A session with one remote peer, in the shape of W3C WebTransport (and method for method the
 * `Session` of iroh-http's Rust core): streams and datagrams as web streams with backpressure,
 * close codes, stats. One class whatever carries it ({@link Session.kind}): a QUIC connection of
 * its own (`Session.connect`, `Session.accept`, `for await (const s of endpoint)`), or a
 * WebTransport session over HTTP/3 (`connectWebTransport` and `WebTransportServer` of
 * `quic-peer/http`, where {@link Session.webTransport} says more). The methods, their errors and
 * the close semantics are the same for both, except where `close` says otherwise.
 *
 * Each `connect` is its own connection: closing a session never affects another to the same peer.
 */
export class Session {
  /** @internal What carries the session: a QUIC connection or a WebTransport session. */
  readonly transport: SessionTransport;
  /** What a WebTransport session adds (its request, draft, drain); undefined for a QUIC session. */
  readonly webTransport: WebTransportInfo | undefined;
  // The web streams and callable promises below are built on first use: an idle session held by
  // a server should not carry four web streams it may never read (issue #6, heap per idle
  // connection: they were ~9 KB of each session's heap).
  private readyP: CallablePromise<void> | undefined;
  private closedP: CallablePromise<CloseInfo> | undefined;
  private incomingBidi: ReadableStream<BidirectionalStream> | undefined;
  private incomingUni: ReadableStream<ReadableStream<Uint8Array>> | undefined;
  private datagramStreams: SessionDatagrams | undefined;

  /** Sessions come from `Session.connect`, `Session.accept` and `Session.fromTransport`. */
  private constructor(transport: SessionTransport, webTransport: WebTransportInfo | undefined) {
    this.transport = transport;
    this.webTransport = webTransport;
  }

  /**
   * A Session over another transport than an endpoint's QUIC connection: how `quic-peer/http`
   * makes its WebTransport sessions (`webTransport` describes them). The transport implements
   * what the Session delegates; the Session checks arguments and gives the WebTransport shapes.
   */
  static fromTransport(transport: SessionTransport, webTransport?: WebTransportInfo): Session {
    return new Session(transport, webTransport);
  }

  /** What carries this session: `'quic'` (a QUIC connection) or `'webtransport'` (a WebTransport session over HTTP/3). */
  get kind(): SessionKind {
    return this.transport.kind;
  }

  /** @internal The QUIC connection's state, for tests; throws on a session that is not a QUIC connection of its own. */
  get state(): SessionState {
    if (this.transport instanceof QuicTransport) return this.transport.state;
    throw new InvalidArgumentError(`a ${this.transport.kind} session has no QUIC connection state of its own`);
  }

  /** Resolves when the session is open (the handshake completed and the peer is authenticated). Also callable. */
  get ready(): CallablePromise<void> {
    return (this.readyP ??= callablePromise(this.transport.ready));
  }

  /** Resolves with how the session ended, whoever closed it. Also callable (iroh-http's `closed()`). */
  get closed(): CallablePromise<CloseInfo> {
    return (this.closedP ??= callablePromise(this.transport.closed));
  }

  /**
   * Incoming bidirectional streams the peer opens. Cancelling it ends its pending wait, so the
   * next stream goes to `nextBidiStream` rather than into a cancelled stream.
   */
  get incomingBidirectionalStreams(): ReadableStream<BidirectionalStream> {
    return (this.incomingBidi ??= pulling((signal) => this.transport.nextBidirectionalStream(signal).then(handledNextBidi)));
  }

  /** Incoming unidirectional streams the peer opens (cancelling it ends its wait, as above). */
  get incomingUnidirectionalStreams(): ReadableStream<ReadableStream<Uint8Array>> {
    return (this.incomingUni ??= pulling((signal) => this.transport.nextUnidirectionalStream(signal).then(handledNextUni)));
  }

  /**
   * Datagrams as web streams (WebTransport's `datagrams`). A write resolves as `sendDatagram` does:
   * once the datagram left in a packet. A datagram dropped after it was queued (the full send
   * queue pushed it out, or the server refused the 0-RTT it left in) resolves its write all the
   * same and leaves the stream writable, as WebTransport drops from its outgoing queue: datagrams
   * are unreliable. Anything else (too large, the session closed) errors the stream.
   */
  get datagrams(): SessionDatagrams {
    if (this.datagramStreams) return this.datagramStreams;
    const session = this;
    this.datagramStreams = {
      readable: handledReads(pulling((signal) => this.transport.recvDatagram(signal))),
      writable: handledWrites(new WritableStream<Uint8Array>({ write: (d) => this.sendDatagram(d).catch(unlessDropped) })),
      get maxDatagramSize(): number {
        return session.maxDatagramSize() ?? 0;
      },
    };
    return this.datagramStreams;
  }

  /**
   * Dials `remote`: an endpoint id (hex or base32, or an EndpointId), `id@ip:port`, an iroh
   * `endpoint…` ticket or an iroh-http JSON ticket. Resolves once the handshake completed and the
   * peer proved it holds that id's key; rejects with a ConnectError saying why not, with the
   * signal's reason when `signal` aborts first, and with an InvalidArgumentError for an unknown
   * option or one of the wrong type.
   */
  static async connect(endpoint: SessionHost, remote: string | EndpointId | EndpointAddr, options: ConnectOptions = {}): Promise<Session> {
    checkHost('Session.connect', endpoint, 'dial');
    checkRemote(remote);
    checkOptionKeys('Session.connect options', options, CONNECT_OPTIONS);
    checkStrings('Session.connect', 'directAddrs', options.directAddrs);
    checkStrings('Session.connect', 'relays', options.relays);
    const signal = signalOption('Session.connect', options.signal);
    const timeoutMs = options.timeoutMs ?? endpoint.dialTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) {
      throw new InvalidArgumentError(`timeoutMs must be a positive number of milliseconds (at most 2^40), got ${String(timeoutMs)}`);
    }
    signal?.throwIfAborted();
    let x509: DialOptions['x509'];
    if (options.tls !== undefined || options.serverName !== undefined || endpoint.tlsMode === 'x509') {
      checkType('Session.connect', 'serverName', options.serverName, 'string');
      if (typeof remote !== 'string') throw new InvalidArgumentError('Session.connect: an X.509 dial names its server by "ip:port" or "host:port"');
      if (options.directAddrs !== undefined) throw new InvalidArgumentError('Session.connect: directAddrs is for iroh dials; an X.509 dial names one "host:port"');
      const resolved = await resolveHostPort(remote);
      signal?.throwIfAborted();
      remote = resolved.address;
      const serverName = options.serverName ?? resolved.host;
      x509 = { ...(serverName !== undefined ? { serverName } : {}), ...(options.tls !== undefined ? { tls: options.tls } : {}) };
    }
    // The connection's own handshake timeout is the dial timeout (Endpoint.dial sets it), so
    // there is one timer and one message per cause whatever the value: the transport's
    // handshakeTimeoutMs no longer cuts a longer dial short.
    checkType('Session.connect', 'earlyData', options.earlyData, 'boolean');
    const earlyData = options.earlyData === true;
    const state = await endpoint.dial(remote, { ...dialTarget(options), timeoutMs: Math.ceil(timeoutMs), ...(signal ? { signal } : {}), ...(x509 ? { x509 } : {}), ...(earlyData ? { earlyData } : {}) });
    // 0-RTT: the session is usable now; its `ready` reports the handshake (RFC 9001 §4.6.1).
    if (earlyData && state.conn.earlyData === 'offered') return new Session(new QuicTransport(state, endpoint), undefined);
    await raceAbort(state.ready, signal, () => {
      // An abandoned dial leaves nothing running: the attempt closes (its handshake never
      // completed, so the endpoint forgets it once the CONNECTION_CLOSE is out).
      state.conn.close(endpoint.now(), 0, 'dial aborted');
      endpoint.schedule();
    });
    return new Session(new QuicTransport(state, endpoint), undefined);
  }

  /**
   * The next incoming session whose handshake completed, or null once the endpoint closes.
   * `signal` abandons the wait (it rejects with the signal's reason and gives up its turn).
   * `for await (const session of endpoint)` does the same in a loop.
   */
  static async accept(endpoint: SessionHost, options: WaitOptions = {}): Promise<Session | null> {
    checkHost('Session.accept', endpoint, 'acceptNext');
    const state = await endpoint.acceptNext(waitSignal('Session.accept', options));
    return state === null ? null : new Session(new QuicTransport(state, endpoint), undefined);
  }

  /**
   * The peer's endpoint id (its Ed25519 public key, verified in the handshake). An X.509 peer has
   * one only when its certificate's key is Ed25519: otherwise this throws, and
   * `peerCertificates` says who it is. A WebTransport session's is its QUIC connection's.
   */
  get remoteId(): EndpointId {
    return this.transport.remoteId;
  }

  /**
   * X.509 mode: the certificate chain the peer presented and we verified (DER, leaf first);
   * undefined with raw public keys, and on a server that did not ask for client certificates.
   */
  get peerCertificates(): readonly Uint8Array[] | undefined {
    return this.transport.peerCertificates;
  }

  /**
   * True when the handshake resumed an earlier session with a ticket (one round trip, no
   * signatures; the peer is who the ticket's session authenticated). See the README, "Resumption".
   */
  get resumed(): boolean {
    return this.transport.resumed;
  }

  /**
   * True when early data (0-RTT, `connect`'s `earlyData`) was sent and the server accepted it;
   * false when none was sent or the server refused it (its stream data was then sent again).
   * Final once `ready` resolves (for a server: its session may come from `accept` before, with
   * the early data already there; this is then true). A WebTransport session's is its QUIC
   * connection's. See the README, "Resumption".
   */
  get earlyDataAccepted(): boolean {
    return this.transport.earlyDataAccepted;
  }

  /** The negotiated ALPN (`h3` for a WebTransport session). */
  get alpn(): string {
    return this.transport.alpn;
  }

  /** The peer's current socket address (a server follows its client's NAT rebinding, RFC 9000 §9). */
  get remoteAddress(): string | undefined {
    return this.transport.remoteAddress;
  }

  // ---- WebTransport shape ----

  /**
   * Opens a bidirectional stream, waiting while the peer's stream limit (its MAX_STREAMS) is
   * reached; `signal` ends that wait. Rejects with a SessionClosedError once the session closed.
   */
  createBidirectionalStream(options?: WaitOptions): Promise<BidirectionalStream> {
    // Not async (nor the methods below): a bad argument still rejects rather than throws. The
    // stream's promises are marked handled (shapes.ts, `handledBidi`: peer input may not end the process).
    try {
      return this.transport.openBidirectionalStream(waitSignal('createBidirectionalStream', options)).then(handledBidi);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Opens a unidirectional stream, waiting as `createBidirectionalStream` does. */
  createUnidirectionalStream(options?: WaitOptions): Promise<WritableStream<Uint8Array>> {
    try {
      return this.transport.openUnidirectionalStream(waitSignal('createUnidirectionalStream', options)).then(handledWrites);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Closes the session with an application code and reason: `close({ closeCode, reason })` as
   * WebTransport, or `close(code, reason)` as iroh-http. The code's range depends on the
   * session's {@link Session.kind}: 0..2^62-1 for a QUIC session (a QUIC varint), 0..2^32-1 for a
   * WebTransport session (CLOSE_WEBTRANSPORT_SESSION carries 32 bits); a code outside it, or a
   * reason that is not a string, throws an InvalidArgumentError saying so, and nothing is closed.
   *
   * What happens, exactly: at once, `closed` resolves with this code and reason, every wait of the
   * session ends (incoming streams and datagrams resolve null, stream reads and writes fail), and
   * nothing new is accepted. Then, for a QUIC session, the connection sends what was already
   * queued: datagrams passed to `sendDatagram` (their promises resolve as they leave) and the
   * stream bytes and FINs writers handed over, as fast as the congestion window and pacer allow,
   * for at most three PTOs (a PTO is about a round trip plus the peer's ACK delay, RFC 9002
   * §6.2); then the CONNECTION_CLOSE goes out with this code and reason, and what is still queued
   * is discarded. Nothing is retransmitted after that (RFC 9000 §10.2). For a WebTransport
   * session, CLOSE_WEBTRANSPORT_SESSION goes out on its CONNECT stream with this code and reason
   * (cut to 1024 bytes of UTF-8 at a character, as browsers do; `closed` reports what was sent),
   * then its FIN, and every stream of the session is reset as the draft requires (stream bytes
   * not yet acknowledged are lost; datagrams already sent still leave); the HTTP/3 connection ends
   * with its last session. Either way only an acknowledgment proves delivery: await the writer's
   * `close()` (it resolves once the peer acknowledged every byte and the FIN) before closing the
   * session.
   */
  close(info?: { closeCode?: number | bigint; reason?: string } | number | bigint, reason?: string): void {
    const byObject = typeof info === 'object' && info !== null;
    const code: unknown = byObject ? (info.closeCode ?? 0) : (info ?? 0);
    const why: unknown = byObject ? (info.reason ?? '') : (reason ?? '');
    if (this.transport.kind === 'webtransport') {
      const n = typeof code === 'bigint' ? Number(code) : code;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_WEBTRANSPORT_CODE) {
        throw new InvalidArgumentError(`close code must be an integer in [0, 2^32-1] for a WebTransport session (CLOSE_WEBTRANSPORT_SESSION carries 32 bits), got ${describeCode(code)}`);
      }
    } else if (!isVarintExact(code) || (typeof code === 'bigint' && code > MAX_QUIC_CODE)) {
      throw new InvalidArgumentError(`close code must be an integer in [0, 2^62-1] for a QUIC session (a QUIC varint), got ${describeCode(code)}`);
    }
    if (typeof why !== 'string') throw new InvalidArgumentError(`close reason must be a string, got ${typeof why}`);
    this.transport.close(this.transport.kind === 'webtransport' ? Number(code) : (code as number | bigint), why);
  }

  /** The QUIC connection's counters now (for a WebTransport session, those of the connection that carries it): RTT, congestion window, packets and bytes, losses, datagrams, paths. */
  getStats(): ConnectionStats {
    return this.transport.getStats();
  }

  /**
   * The network paths of the session's QUIC connection (for a WebTransport session, those of the
   * connection that carries it), as iroh's `conn.paths()`: each with its path id, `kind`
   * (`'relay'` or `'direct'`), remote address, whether it is `selected` (carries the packets now),
   * its smoothed RTT (`rttMs`) and `status`. One path (id 0) until multipath opens others, e.g. a
   * direct path found by iroh's NAT traversal; empty once the session is closed.
   */
  paths(): SessionPath[] {
    return this.transport.paths();
  }

  /** `await using session = ...`: closes with code 0 and waits until the session is closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
  }

  // ---- iroh-http's methods ----

  /** iroh-http's name for {@link Session.createBidirectionalStream}. */
  createBidiStream(options?: WaitOptions): Promise<BidirectionalStream> {
    return this.createBidirectionalStream(options);
  }

  /** The next bidirectional stream the peer opens, or null when the session is closed; `signal` ends the wait. */
  nextBidiStream(options?: WaitOptions): Promise<BidirectionalStream | null> {
    try {
      return this.transport.nextBidirectionalStream(waitSignal('nextBidiStream', options)).then(handledNextBidi);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** iroh-http's name for {@link Session.createUnidirectionalStream}. */
  createUniStream(options?: WaitOptions): Promise<WritableStream<Uint8Array>> {
    return this.createUnidirectionalStream(options);
  }

  /** The next unidirectional stream the peer opens, or null when the session is closed; `signal` ends the wait. */
  nextUniStream(options?: WaitOptions): Promise<ReadableStream<Uint8Array> | null> {
    try {
      return this.transport.nextUnidirectionalStream(waitSignal('nextUniStream', options)).then(handledNextUni);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends a datagram (a copy of `data`: it may be reused at once). Resolves once the datagram has
   * left in a packet (datagrams are unreliable, RFC 9221: that is no proof of delivery, and it is
   * never retransmitted), so a `close()` after it cannot lose it. Rejects with a DatagramError over
   * `maxDatagramSize()` or when the peer accepts none, and when it was dropped before it could
   * leave (`queue-full`: more were queued than the congestion window let out and newer ones pushed
   * it out; `too-large`: the path MTU shrank); with a SessionClosedError when the session closed
   * first. A send nobody awaits (fire and forget, as unreliable datagrams often are) never ends
   * the process: its rejection is marked handled (a dropped datagram, or a session the peer closed,
   * is not an unhandled rejection); who awaits the promise still gets it.
   */
  sendDatagram(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new InvalidArgumentError('datagrams must be Uint8Array'));
    return handled(this.transport.sendDatagram(data));
  }

  /** The next datagram, or null when the session is closed; `signal` ends the wait. */
  recvDatagram(options?: WaitOptions): Promise<Uint8Array | null> {
    try {
      return this.transport.recvDatagram(waitSignal('recvDatagram', options));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The largest datagram payload that can be sent now, or null when the peer accepts none. */
  maxDatagramSize(): number | null {
    return this.transport.maxDatagramSize();
  }
}

/** A close code as an error message shows it. */
function describeCode(code: unknown): string {
  return typeof code === 'string' ? JSON.stringify(code) : String(code);
}

/** A remote of the wrong shape (undefined, a number, an object without an EndpointId) is the caller's error, named. */
function checkRemote(remote: unknown): void {
  if (typeof remote === 'string' || remote instanceof EndpointId) return;
  const a = remote as Partial<EndpointAddr> | null;
  if (typeof a === 'object' && a !== null && a.id instanceof EndpointId && Array.isArray(a.addrs) && (a.relays === undefined || Array.isArray(a.relays))) return;
  const got = a === null ? 'null' : typeof a === 'object' ? 'an object without { id: EndpointId, addrs: string[] }' : typeof a;
  throw new InvalidArgumentError(`Session.connect: remote must be a string (id, id@ip:port, ticket), an EndpointId or an EndpointAddr, got ${got}`);
}

function handledNextBidi(s: BidirectionalStream | null): BidirectionalStream | null {
  return s === null ? null : handledBidi(s);
}

function handledNextUni(s: ReadableStream<Uint8Array> | null): ReadableStream<Uint8Array> | null {
  return s === null ? null : handledReads(s);
}

/** A datagram write's failure, unless the datagram was merely dropped after it was queued (then the write resolves). */
function unlessDropped(e: unknown): void {
  if (e instanceof DatagramError && (e.kind === 'queue-full' || e.kind === 'early-data-rejected')) return;
  throw e;
}
