import * as nodeUtil from 'node:util';
import { EndpointCore, EndpointError, type ConnectionHandle, type EndpointEvent } from '../quic/endpoint/endpoint-core.js';
import type { TransportOptions } from '../quic/transport-config.js';
import { CryptoRandom } from '../tls/random.js';
import { X25519KeyPool } from '../tls/x25519-pool.js';
import { EndpointId, generateSecretKey, secretKeyFromBytes, secretKeyFromHex } from '../tls/identity.js';
import type { KeyLogger } from '../tls/engine.js';
import { UdpDriver, bindSocket, type BoundSocket } from './driver.js';
import { encodeEndpointTicket, formatSocketAddr, parseRemote, parseSocketAddr, type EndpointAddr } from './addressing.js';
import { dialX509Settings, resolveEndpointTls, serverX509Settings, SystemRoots, type EndpointX509 } from './x509-options.js';
import type { ConnectionTlsOptions } from '../quic/connection/handshake.js';
import type { Connection } from '../quic/connection/connection.js';
import { isIP } from 'node:net';
import { DEFAULT_BIND, advertisedAddrs, pickDialAddresses } from './local-addrs.js';
import { RelayPaths, normalizeRelayUrl, parseRelayAddress, relayAddress } from './relay-paths.js';
import { KeyLogFile } from './keylog.js';
import { QlogDir } from './qlog-files.js';
import { ConnectError, InvalidArgumentError } from './errors.js';
import { SessionState } from './session-state.js';
import { MemorySessionCache, type SessionCache } from './session-cache.js';
import { Session } from './session.js';
import { DEFAULT_ALPN, checkEndpointOptions, serverTickets, type EndpointOptions } from './endpoint-options.js';
import type { DialOptions, SessionHost } from './session-host.js';
import { RelayQad, type RelayAddressDiscoveryStatus } from './relay-qad.js';

export { DEFAULT_ALPN, type EndpointOptions, type TicketOptions } from './endpoint-options.js';

/** How long binding waits for the relays' `/ping` answers before keeping the first URL as home. */
const RELAY_PROBE_MS = 2_000;

/**
 * What a dial of an endpoint without a session cache tells the TLS client: offer no
 * psk_key_exchange_modes, so a server that follows RFC 9846 §4.2.9 (ours does) sends no
 * NewSessionTickets the client would drop, and neither end spends anything on them.
 */
const NO_TICKETS = { offerPskModes: false } as const;

/** A QUIC endpoint: one identity, one or two UDP sockets, many sessions. */
export class Endpoint implements SessionHost {
  /** Our endpoint id: the Ed25519 public key of `secretKey`. */
  readonly id: EndpointId;
  /** @internal */
  readonly core: EndpointCore;
  readonly dialTimeoutMs: number;
  private readonly driver: UdpDriver;
  private readonly secretKey: Uint8Array;
  private readonly sessions = new Map<ConnectionHandle, SessionState>();
  /** Addresses peers reported seeing us at, newest first (`observedAddresses`). */
  private readonly observed: string[] = [];
  /** Our candidates as last listed (`candidates`), and when. */
  private cachedCandidates: { readonly at: number; readonly value: Candidates } | undefined;
  /** Frozen dial transport options by handshake timeout (`dialTransport`). */
  private readonly dialTransports = new Map<number, TransportOptions>();
  /**
   * Our dials whose handshake has not completed, with the addresses they still try: a send error
   * to one (or the relay's EndpointGone) removes it, and the dial fails when none is left.
   */
  private readonly dialling = new Map<ConnectionHandle, Set<string>>();
  /** The relays we use: clients by URL, the home relay. */
  private readonly relays: RelayPaths;
  /** Incoming connections whose handshake completed, waiting for `Session.accept`. */
  private readonly acceptQueue: SessionState[] = [];
  private acceptWaiters: Array<(s: SessionState | null) => void> = [];
  private readonly keyLog: KeyLogger | undefined;
  private readonly keyLogFile: KeyLogFile | undefined;
  private qlogDir: QlogDir | undefined;
  /** Key shares made ahead, for our dials and the handshakes we serve (X25519KeyPool). */
  private x25519Keys: X25519KeyPool | undefined;
  /** Tickets and tokens of the servers we dialled (undefined: resumption disabled). */
  private sessionCache: SessionCache | undefined;
  private closing: Promise<void> | undefined;
  private closedResolve: (() => void) | undefined;
  private readonly closeListeners: Array<() => void> = [];
  /** X.509 mode: our chains (and client CAs); undefined for raw public keys. */
  private readonly x509: EndpointX509 | undefined;
  /** The system's trust anchors, parsed at the first X.509 dial that needs them. */
  private readonly systemRoots = new SystemRoots();
  /** QUIC Address Discovery against the home relay (`EndpointOptions.relayAddressDiscovery`). */
  private qad: RelayQad | undefined;
  /** Every session state's way to ask for a transmit: one function for all, not one per session. */
  private readonly scheduleTransmit = (): void => this.schedule();

  private constructor(
    secretKey: Uint8Array,
    core: EndpointCore,
    sockets: BoundSocket[],
    dialTimeoutMs: number,
    keyLog: KeyLogger | undefined,
    keyLogFile: KeyLogFile | undefined,
    relayCa: string | undefined,
    x509: EndpointX509 | undefined,
  ) {
    this.secretKey = secretKey;
    this.x509 = x509;
    this.id = EndpointId.fromSecretKey(secretKey);
    this.core = core;
    this.dialTimeoutMs = dialTimeoutMs;
    this.keyLog = keyLog;
    this.keyLogFile = keyLogFile;
    this.driver = new UdpDriver(core, sockets, {
      datagramBufferSize: core.maxUdpPayloadSize,
      onEvent: (e) => this.onEvent(e),
      onError: () => {
        // Socket errors (e.g. ICMP unreachable on some platforms) and caught core bugs: the
        // affected connection handles itself; the endpoint keeps serving the others.
      },
      onSendError: (address, e) => this.onSendError(address, e),
      sendRelay: (address, datagram) => void this.relays.send(address, datagram),
    });
    this.relays = new RelayPaths({
      secretKey,
      ...(relayCa !== undefined ? { ca: relayCa } : {}),
      onDatagram: (address, datagram) => this.driver.receive(address, datagram),
      onPeerGone: (address) => this.addressFailed(address, () => {
        const { url, peer } = parseRelayAddress(address);
        return new ConnectError('unreachable', `${EndpointId.fromBytes(peer).toShortString()} is not connected to relay ${url} (EndpointGone)`);
      }),
    });
  }

  /**
   * Binds the sockets and starts the endpoint. Rejects with an InvalidArgumentError naming the
   * option when one is unknown or of the wrong type (transport options included), before anything
   * is bound.
   */
  static async bind(options: EndpointOptions = {}): Promise<Endpoint> {
    checkEndpointOptions(options);
    const relayUrls = (options.relays ?? []).map((u) => {
      try {
        return normalizeRelayUrl(u);
      } catch (e) {
        throw new InvalidArgumentError(`Endpoint.bind: relays: ${(e as Error).message}`);
      }
    });
    const random = new CryptoRandom();
    const secretKey = parseSecret(options.secretKey, random);
    const x509 = resolveEndpointTls(options.tls);
    if (x509 && x509.identities.length === 0 && options.acceptIncoming !== false) {
      throw new InvalidArgumentError('Endpoint.bind: an X.509 endpoint that accepts sessions needs tls.cert and tls.key (or acceptIncoming: false)');
    }
    const alpns = options.alpns ?? [DEFAULT_ALPN];
    if (!Array.isArray(alpns) || alpns.length === 0 || alpns.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 255)) {
      throw new InvalidArgumentError('alpns must be a non-empty list of non-empty strings (at most 255 bytes each)');
    }
    // Without a dial timeout of its own, a dial waits as long as the transport lets a handshake run.
    const dialTimeoutMs = options.dialTimeoutMs ?? options.transport?.handshakeTimeoutMs ?? 10_000;
    if (typeof dialTimeoutMs !== 'number' || !(dialTimeoutMs > 0) || dialTimeoutMs > 2 ** 40) {
      throw new InvalidArgumentError(`dialTimeoutMs must be a positive number of milliseconds (at most 2^40), got ${String(dialTimeoutMs)}`);
    }
    let qlogDir: QlogDir | undefined;
    if (options.qlogDir !== undefined) {
      try {
        qlogDir = new QlogDir(options.qlogDir);
      } catch (e) {
        throw new InvalidArgumentError(`qlogDir ${options.qlogDir}: ${(e as Error).message}`);
      }
    }
    // The key log covers incoming sessions too, not only dials: it is opened here, before the core,
    // so the server's TLS config gets it. (Found by the iroh interop suite, which opens the
    // Handshake packets of sessions iroh dialled to read our EncryptedExtensions: none were logged.)
    const keyLogFile = typeof options.keylog === 'string' ? new KeyLogFile(options.keylog) : undefined;
    const keyLog = keyLogFile?.logger ?? (typeof options.keylog === 'function' ? options.keylog : undefined);
    const explicit = options.bind !== undefined;
    const addrs = typeof options.bind === 'string' ? [options.bind] : (options.bind ?? DEFAULT_BIND);
    const sockets: BoundSocket[] = [];
    for (const a of addrs) {
      try {
        parseSocketAddr(a);
      } catch (e) {
        throw new InvalidArgumentError(`bind address ${a}: ${(e as Error).message}`);
      }
      try {
        sockets.push(await bindSocket(a));
      } catch (e) {
        // The default IPv6 socket may not bind (IPv6 disabled): skip it; an explicit address must bind.
        if (explicit || sockets.length === 0) {
          for (const s of sockets) s.socket.close();
          keyLogFile?.close();
          throw new InvalidArgumentError(`cannot bind ${a}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    const transport: TransportOptions = { keepAliveIntervalMs: 5_000, ...options.transport };
    const staticKey = random.fill(new Uint8Array(32));
    // Each spare key share is made after a flush's datagrams have left (the driver's afterSend).
    let afterSend: (work: () => void) => void = (work) => work();
    const x25519Keys = new X25519KeyPool(random, (work) => afterSend(work));
    const core = new EndpointCore({
      staticKey,
      random,
      transport,
      ...(options.acceptIncoming === false
        ? {}
        : x509
          ? {
              server: {
                tls: {
                  secretKey,
                  certificateType: 'x509',
                  alpnProtocols: alpns,
                  x509: serverX509Settings(x509, () => Date.now()),
                  requireClientAuth: x509.clientAnchors !== undefined,
                  x25519Keys,
                  ...(keyLog ? { keyLog } : {}),
                  // Tickets without client certificates only (the TLS server issues none otherwise).
                  ...(x509.clientAnchors === undefined ? serverTickets(options.tickets, random) : {}),
                },
              },
            }
          : { server: { tls: { secretKey, certificateType: 'rawPublicKey', alpnProtocols: alpns, x25519Keys, ...(keyLog ? { keyLog } : {}), ...serverTickets(options.tickets, random) } } }),
      ...(options.maxSessions !== undefined ? { maxConnections: options.maxSessions } : {}),
      ...(options.maxHandshakes !== undefined ? { maxHandshakes: options.maxHandshakes } : {}),
      retry: options.retry ?? 'underLoad',
      ...(qlogDir ? { qlog: qlogDir.factory } : {}),
    });
    const ep = new Endpoint(secretKey, core, sockets, dialTimeoutMs, keyLog, keyLogFile, options.relayCa, x509);
    ep.qlogDir = qlogDir;
    ep.x25519Keys = x25519Keys;
    afterSend = (work) => ep.driver.afterSend(work);
    x25519Keys.prime();
    ep.sessionCache = options.sessionCache === false ? undefined : (options.sessionCache ?? new MemorySessionCache());
    if (relayUrls.length > 0) await ep.relays.chooseHome(relayUrls, RELAY_PROBE_MS);
    const home = ep.relays.home;
    if (options.relayAddressDiscovery && home !== undefined) {
      ep.qad = new RelayQad({ dial: (remote, o) => ep.dial(remote, o), get isClosing() { return ep.closing !== undefined; } }, home, options.relayAddressDiscovery, options.relayCa);
      ep.qad.start();
    }
    return ep;
  }

  /**
   * Our id and the addresses a peer can dial: the bound sockets, a socket bound to all interfaces
   * as the host's interface addresses (non-loopback first; never an unspecified address, nor an
   * IPv6 link-local one, which is useless without a zone).
   */
  addr(): EndpointAddr {
    const home = this.relays.home;
    return { id: this.id, addrs: advertisedAddrs(this.boundAddresses), relays: home !== undefined ? [home] : [] };
  }

  /**
   * Our home relay's URL (see `EndpointOptions.relays`), or undefined without relays. Our
   * endpoint tickets carry it; peers reach us through it.
   */
  homeRelay(): string | undefined {
    return this.relays.home;
  }

  /**
   * Resolves once we are connected to our home relay (at once without relays): from then on a
   * peer holding our ticket reaches us through it. Rejects with a ConnectError naming the relay
   * when `timeoutMs` (default: the dial timeout) passes first, or with the signal's reason.
   */
  async online(options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {}): Promise<void> {
    const home = this.relays.home;
    if (home === undefined) return;
    const timeoutMs = options.timeoutMs ?? this.dialTimeoutMs;
    try {
      await this.relays.client(home).connected({ timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new ConnectError('unreachable', `home relay ${home}: ${(e as Error).message}`);
    }
  }

  /** An iroh `endpoint…` ticket for our id and addresses. */
  ticket(): string {
    return encodeEndpointTicket(this.addr());
  }

  /**
   * The addresses peers, and the home relay's address discovery service
   * (`relayAddressDiscovery`), reported seeing us at (QUIC Address Discovery, `TransportConfig.
   * addressDiscovery`), newest first, at most MAX_OBSERVED: what NATs between us and them made
   * of our sockets' addresses. They join the interface addresses as NAT traversal candidates of
   * every connection; they are not put in `addr()` or tickets (a peer's word, not verified).
   */
  get observedAddresses(): readonly string[] {
    return this.observed;
  }

  /**
   * The home relay's QUIC Address Discovery (`EndpointOptions.relayAddressDiscovery`): the server
   * dialled, its state, the address it last reported; undefined when off or without a relay.
   */
  get relayAddressDiscovery(): RelayAddressDiscoveryStatus | undefined {
    return this.qad?.status;
  }

  /** The local socket addresses actually bound. */
  get boundAddresses(): string[] {
    return this.driver.sockets.map((s) => s.address);
  }

  /** @internal Milliseconds on the driver's clock: the `now` of every connection command. */
  now(): number {
    return this.driver.now();
  }

  /**
   * @internal Runs the transmit loop at the end of this event-loop turn (a connection command
   * marked its connection as needing service already).
   */
  schedule(): void {
    this.driver.schedule();
  }

  /** @internal The peer's current socket address on that connection (undefined once it is gone). */
  remoteAddress(handle: ConnectionHandle): string | undefined {
    return this.core.remoteAddress(handle);
  }

  /** @internal How this endpoint authenticates by default (its `tls.mode`). */
  get tlsMode(): 'rawPublicKey' | 'x509' {
    return this.x509 ? 'x509' : 'rawPublicKey';
  }

  /** Number of live sessions (incoming and outgoing). */
  get sessionCount(): number {
    let n = this.sessions.size;
    for (const s of this.sessions.values()) if (this.qad?.owns(s)) n--;
    return n;
  }

  /**
   * Closes every session gracefully (application close, code 0) and resolves once they are gone
   * and the sockets are closed. Pending `accept`s resolve to null.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        this.closedResolve = resolve;
      }).then(async () => {
        await Promise.all([this.driver.close(), this.relays.close()]);
        this.keyLogFile?.close();
        await this.qlogDir?.close();
      });
      for (const f of this.acceptWaiters.splice(0)) f(null);
      this.qad?.stop();
      this.x25519Keys?.stop();
      this.core.close(this.now(), 0, 'endpoint closing');
      this.schedule();
      for (const f of this.closeListeners.splice(0)) {
        try {
          f();
        } catch {
          // A listener's failure must not stop the close.
        }
      }
      // The peers may never answer: the closing periods end on their own, but do not wait forever.
      setTimeout(() => this.closedResolve?.(), 3_000).unref();
    }
    return this.closing;
  }

  /** `await using ep = ...`: the same as {@link Endpoint.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * The incoming sessions, in the order their handshakes completed: `for await (const session of
   * endpoint)`, the loop form of `Session.accept`. It ends when the endpoint closes; leaving the
   * loop early (break, return, throw) leaves no accept waiting.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Session, void, undefined> {
    for (let s = await Session.accept(this); s; s = await Session.accept(this)) yield s;
  }

  /**
   * Calls `listener` once when `close()` starts, after every session was told to close (code 0,
   * 'endpoint closing'); at once when the endpoint is already closing. For owners of per-endpoint
   * state, such as the handle store of `quic-peer/handles`.
   */
  onClose(listener: () => void): void {
    if (this.closing) listener();
    else this.closeListeners.push(listener);
  }

  /**
   * @internal Starts a connection to `remote` and registers its state for events; rejects with a
   * ConnectError when it cannot start. `Session.connect` awaits the state's readiness.
   */
  async dial(remote: string | EndpointId | EndpointAddr, options: DialOptions): Promise<SessionState> {
    if (this.closing) throw new ConnectError('endpoint', 'the endpoint is closed');
    const started = this.now();
    const alpn = options.alpn ?? DEFAULT_ALPN;
    if (typeof alpn !== 'string' || alpn.length === 0 || alpn.length > 255) throw new InvalidArgumentError('alpn must be a non-empty string of at most 255 bytes');
    if (options.x509) return this.dialX509(remote, alpn, options, options.x509);
    let addr: EndpointAddr;
    if (remote instanceof EndpointId) addr = parseRemote(remote.toString(), options.directAddrs);
    else if (typeof remote === 'string') addr = parseRemote(remote, options.directAddrs);
    else addr = { id: remote.id, addrs: [...remote.addrs, ...(options.directAddrs ?? [])], relays: [...(remote.relays ?? [])] };
    const relayUrls: string[] = [];
    for (const u of [...(addr.relays ?? []), ...(options.relays ?? [])]) {
      let url: string;
      try {
        url = normalizeRelayUrl(u);
      } catch (e) {
        throw new InvalidArgumentError(`relays: ${(e as Error).message}`);
      }
      if (!relayUrls.includes(url)) relayUrls.push(url);
    }
    const direct = addr.addrs.length > 0 ? pickDialAddresses(addr.addrs, this.boundAddresses) : { addresses: [], why: '' };
    if (direct.addresses.length === 0 && relayUrls.length === 0) {
      if (addr.addrs.length === 0) throw new ConnectError('no-address', `no address to dial ${addr.id.toString()}: pass directAddrs or relays, an id@ip:port or a ticket`);
      throw new ConnectError('no-address', `no address of ${addr.id.toString()} can be dialled: ${direct.why}`);
    }
    // Relays and direct addresses are tried at once, and the first the peer answers on wins
    // (Connection's alternateAddresses). With only relays to try, the dial first waits for one
    // to be connected, so that a relay that is down fails the dial at once, naming it.
    // The time spent waiting for a relay counts toward the dial's timeout.
    let timeoutMs = options.timeoutMs;
    if (direct.addresses.length === 0) {
      await this.relayReady(relayUrls, options.timeoutMs, options.signal);
      timeoutMs = Math.max(1, Math.ceil(options.timeoutMs - (this.now() - started)));
    } else {
      for (const u of relayUrls) this.relays.client(u);
    }
    if (this.closing) throw new ConnectError('endpoint', 'the endpoint is closed');
    const candidates = [...direct.addresses, ...relayUrls.map((u) => relayAddress(u, addr.id.bytes))];
    const address = candidates[0]!;
    const resumeKey = `rpk:${addr.id.toString()}`;
    const ticket = this.sessionCache?.takeTicket(resumeKey, alpn);
    const state = this.open(address, `${addr.id.toShortString()}@${candidates.length === 1 ? address : `{${candidates.join(', ')}}`}`, {
      secretKey: this.secretKey,
      certificateType: 'rawPublicKey',
      alpnProtocols: [alpn],
      expectedPeerKey: addr.id.bytes,
      ...(this.keyLog ? { keyLog: this.keyLog } : {}),
      ...(ticket ? { resumption: ticket, ...(options.earlyData ? { earlyData: true } : {}) } : {}),
      ...(this.sessionCache ? {} : NO_TICKETS),
    }, timeoutMs, candidates, this.sessionCache?.token(resumeKey));
    state.resumeKey = resumeKey;
    return state;
  }

  /**
   * Opens a client connection to `addresses` (the first, and the others at once as alternates:
   * the first the server answers on wins) and registers its state.
   */
  private open(address: string, target: string, tls: ConnectionTlsOptions, timeoutMs: number, candidates: readonly string[] = [address], token?: Uint8Array): SessionState {
    let opened;
    try {
      opened = this.core.connect(this.now(), address, {
        tls: this.x25519Keys ? { ...tls, x25519Keys: this.x25519Keys } : tls,
        // A NEW_TOKEN token from this server (RFC 9000 §8.1.3): a server under load skips the Retry.
        ...(token ? { token } : {}),
        // The dial timeout is this connection's handshake timeout: one timer, in the connection.
        transport: this.dialTransport(timeoutMs),
        ...(candidates.length > 1 ? { alternateAddresses: candidates.slice(1) } : {}),
      });
    } catch (e) {
      if (e instanceof EndpointError) throw new ConnectError('endpoint', e.message);
      throw e;
    }
    const state = new SessionState(opened.handle, opened.connection, target, this.scheduleTransmit);
    this.sessions.set(opened.handle, state);
    this.giveCandidates(opened.connection);
    this.dialling.set(opened.handle, new Set(candidates));
    const settled = (): void => void this.dialling.delete(opened.handle);
    state.ready.then(settled, settled);
    this.schedule();
    return state;
  }

  /** An X.509 dial of `remote`, an `ip:port` address (Session.connect resolved any host name). */
  private dialX509(remote: unknown, alpn: string, options: DialOptions, x: NonNullable<DialOptions['x509']>): SessionState {
    if (typeof remote !== 'string') throw new InvalidArgumentError('an X.509 dial names its server by "ip:port" (or "host:port")');
    const sa = parseSocketAddr(remote.trim());
    if (sa.port === 0) throw new InvalidArgumentError(`${remote}: port 0 cannot be dialled`);
    const choice = pickDialAddresses([formatSocketAddr(sa)], this.boundAddresses);
    const address = choice.addresses[0];
    if (address === undefined) throw new ConnectError('no-address', `${remote} cannot be dialled: ${choice.why}`);
    const settings = dialX509Settings(x.tls, { serverName: x.serverName, ip: sa.host }, this.systemRoots, () => Date.now());
    // Without a client certificate of its own, a dial presents the endpoint's (mutual authentication).
    const identities = settings.identities.length > 0 ? settings.identities : (this.x509?.identities ?? []);
    // RFC 6066 §3: SNI carries host names only, never an IP literal.
    const sni = x.serverName !== undefined && isIP(x.serverName) === 0 ? x.serverName : undefined;
    // Tickets and tokens are kept per name (or IP) and port: the name the certificate was checked for.
    const resumeKey = `x509:${x.serverName ?? sa.host}@${address}`;
    const ticket = this.sessionCache?.takeTicket(resumeKey, alpn);
    const state = this.open(address, `${x.serverName ?? sa.host}@${address}`, {
      secretKey: this.secretKey,
      certificateType: 'x509',
      alpnProtocols: [alpn],
      x509: { ...settings, identities },
      ...(sni !== undefined ? { serverName: sni } : {}),
      ...(this.keyLog ? { keyLog: this.keyLog } : {}),
      ...(ticket ? { resumption: ticket, ...(options.earlyData ? { earlyData: true } : {}) } : {}),
      ...(this.sessionCache ? {} : NO_TICKETS),
    }, options.timeoutMs, [address], this.sessionCache?.token(resumeKey));
    state.resumeKey = resumeKey;
    return state;
  }

  /**
   * Resolves once one of the relays at `urls` is connected; rejects with a ConnectError naming
   * each relay and why it failed, or with the signal's reason.
   */
  private async relayReady(urls: readonly string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const failures: string[] = [];
    try {
      await Promise.any(
        urls.map((u) =>
          this.relays
            .client(u)
            .connected({ timeoutMs, ...(signal ? { signal } : {}) })
            .catch((e: unknown) => {
              failures.push(`relay ${u}: ${(e as Error).message}`);
              throw e;
            }),
        ),
      );
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw new ConnectError('unreachable', failures.join('; ') || String(e));
    }
  }

  /**
   * @internal The next incoming connection whose handshake completed, in arrival order; null
   * once the endpoint closes; rejects with the abort reason when `signal` fires.
   */
  acceptNext(signal?: AbortSignal): Promise<SessionState | null> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const s = this.acceptQueue.shift();
    if (s) return Promise.resolve(s);
    if (this.closing) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const waiter = (x: SessionState | null): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(x);
      };
      // An abandoned accept must not keep its place: the next session goes to the next caller.
      const onAbort = (): void => {
        const i = this.acceptWaiters.indexOf(waiter);
        if (i >= 0) this.acceptWaiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.acceptWaiters.push(waiter);
    });
  }

  /**
   * A dial's transport options: its handshake timeout. One frozen object per timeout, so the
   * connection layer resolves it once and its connections share the result; a few are kept.
   */
  private dialTransport(handshakeTimeoutMs: number): TransportOptions {
    let t = this.dialTransports.get(handshakeTimeoutMs);
    if (t === undefined) {
      if (this.dialTransports.size >= 8) this.dialTransports.clear();
      t = Object.freeze({ handshakeTimeoutMs });
      this.dialTransports.set(handshakeTimeoutMs, t);
    }
    return t;
  }

  /**
   * iroh's n0 NAT traversal (TransportConfig.natTraversal, with multipath): our candidate
   * addresses for a new connection are those a ticket lists, the interface addresses of our
   * sockets, loopback included (never a relay: a relay path is no candidate). The connection
   * ignores them when NAT traversal is off or not negotiated.
   */
  private giveCandidates(conn: Connection, known?: Candidates): void {
    // Only when offered: listing the interfaces is a system call per connection.
    if (conn.localTransportParameters.n0NatTraversal === null) return;
    const c = known ?? this.candidates();
    conn.setLocalCandidates(this.now(), c.addresses, c.families);
  }

  /** Our NAT traversal candidates: the interface addresses of our sockets, then the observed ones. */
  private candidates(): Candidates {
    // Listing the interfaces costs ~130 us (a system call and parsing): once per CANDIDATES_TTL_MS,
    // not once per connection (a busy server accepts hundreds a second).
    const now = this.now();
    const cached = this.cachedCandidates;
    if (cached !== undefined && now - cached.at < CANDIDATES_TTL_MS) return cached.value;
    const bound = this.boundAddresses;
    const families = { ipv4: bound.some((a) => !a.startsWith('[')), ipv6: bound.some((a) => a.startsWith('[')) };
    const addresses = advertisedAddrs(bound);
    for (const a of this.observed) if (!addresses.includes(a) && (a.startsWith('[') ? families.ipv6 : families.ipv4)) addresses.push(a);
    const value = { addresses, families };
    this.cachedCandidates = { at: now, value };
    return value;
  }

  /** A peer reported an address it sees us at: every connection gets it as a candidate. */
  private onObserved(address: string): void {
    const at = this.observed.indexOf(address);
    if (at === 0) return;
    if (at > 0) this.observed.splice(at, 1);
    this.observed.unshift(address);
    if (this.observed.length > MAX_OBSERVED) this.observed.length = MAX_OBSERVED;
    this.cachedCandidates = undefined;
    const c = this.candidates();
    for (const s of this.sessions.values()) if (!s.conn.isClosed) this.giveCandidates(s.conn, c);
    this.schedule();
  }

  /**
   * The OS refused a datagram to `address`. A dial to it fails now, with the OS's reason, rather
   * than as a timeout: these errors say the address cannot be reached from our socket at all
   * (EINVAL from a loopback socket to another address, no route...), and retrying will not
   * change that. Transient ones (ENOBUFS, EAGAIN) and sessions already established are left to
   * QUIC's loss recovery.
   */
  private onSendError(address: string, e: Error): void {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const kind = code === 'ECONNREFUSED' ? 'refused' : UNREACHABLE_CODES.has(code) ? 'unreachable' : undefined;
    if (!kind) return;
    this.addressFailed(address, (state) => new ConnectError(kind, `${state.target}: cannot send to ${address}: ${osReason(e)}`));
  }

  /**
   * `address` cannot reach its peer (the OS refused to send there, or a relay says the peer is
   * not connected to it): the dials trying it stop counting on it, and a dial left with no
   * address fails now with `error`.
   */
  private addressFailed(address: string, error: (state: SessionState) => ConnectError): void {
    for (const [handle, addresses] of this.dialling) {
      if (!addresses.delete(address) || addresses.size > 0) continue;
      const state = this.sessions.get(handle);
      this.dialling.delete(handle);
      if (!state) continue;
      state.failDial(error(state));
      state.conn.close(this.now(), 0, 'unreachable');
    }
    this.schedule();
  }

  private onEvent(e: EndpointEvent): void {
    switch (e.type) {
      case 'incoming': {
        const state = new SessionState(e.handle, e.connection, `incoming@${e.remoteAddress}`, this.scheduleTransmit);
        this.sessions.set(e.handle, state);
        this.giveCandidates(e.connection);
        // A session is handed to `accept` when its handshake completes, or before, when it came
        // with 0-RTT data we accepted (so that it can be answered at once, RFC 9001 §4.6.1).
        let handed = false;
        const hand = (): void => {
          if (handed) return;
          handed = true;
          state.target = `${state.conn.peerPublicKey ? EndpointId.fromBytes(state.conn.peerPublicKey).toShortString() : '?'}@${e.remoteAddress}`;
          const w = this.acceptWaiters.shift();
          if (w) w(state);
          else this.acceptQueue.push(state);
        };
        state.onEarlyDataAccepted = hand;
        state.ready.then(
          hand,
          () => {
            // A handshake that failed never becomes a session.
          },
        );
        break;
      }
      case 'connection': {
        const s = this.sessions.get(e.handle);
        if (!s) break;
        if (e.event.type === 'observedAddress') {
          if (this.qad?.owns(s)) this.qad.onObserved(e.event.address);
          this.onObserved(e.event.address);
          break;
        }
        if (e.event.type === 'sessionTicket' || e.event.type === 'newToken') {
          if (s.resumeKey === undefined) break;
          if (e.event.type === 'sessionTicket') this.sessionCache?.putTicket(s.resumeKey, e.event.ticket);
          else this.sessionCache?.putToken(s.resumeKey, e.event.token);
          break;
        }
        s.onEvent(e.event);
        if (e.event.type === 'terminated') this.sessions.delete(e.handle);
        break;
      }
      case 'closed':
        this.closedResolve?.();
        break;
    }
  }
}

/** NAT traversal candidates for a connection (`Connection.setLocalCandidates`). */
interface Candidates {
  readonly addresses: string[];
  readonly families: { readonly ipv4: boolean; readonly ipv6: boolean };
}

/** How long a listing of our candidates serves new connections (interface changes show after it). */
const CANDIDATES_TTL_MS = 2_000;

/** Most observed addresses an endpoint keeps (`Endpoint.observedAddresses`). */
const MAX_OBSERVED = 8;

/** Send errors that mean the address cannot be reached from our socket (see `onSendError`). */
const UNREACHABLE_CODES = new Set(['EINVAL', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EACCES', 'EPERM', 'ERR_SOCKET_BAD_PORT']);

/** The OS's words for a system error ("network is unreachable (ENETUNREACH)"), else the message. */
function osReason(e: Error): string {
  const errno = (e as NodeJS.ErrnoException).errno;
  // Looked up defensively: not every runtime that runs Node code (Bun, Deno) has the map.
  const map = typeof nodeUtil.getSystemErrorMap === 'function' ? nodeUtil.getSystemErrorMap() : undefined;
  const known = typeof errno === 'number' ? map?.get(errno) : undefined;
  return known ? `${known[1]} (${known[0]})` : e.message;
}

function parseSecret(s: Uint8Array | string | undefined, random: CryptoRandom): Uint8Array {
  try {
    if (s === undefined) return generateSecretKey(random);
    if (typeof s === 'string') return secretKeyFromHex(s);
    return secretKeyFromBytes(s);
  } catch (e) {
    throw new InvalidArgumentError(`secretKey: ${(e as Error).message}`);
  }
}
