import { toBinaryString, toHex } from '../../codec/bytes.js';
import { EarlyHold } from './early-hold.js';
import { ConfigError, DEFAULT_TRANSPORT_CONFIG, resolveTransportConfig, type TransportConfig } from '../transport-config.js';
import { Connection } from '../connection/connection.js';
import {
  EndpointError,
  int,
  mergeTransport,
  rateLimiter,
  type ConnectOptions,
  type ConnectionHandle,
  type EndpointConfig,
  type EndpointEvent,
  type EndpointStats,
  type Transmit,
  type TransportOptions,
} from './config.js';
import { DeadlineHeap } from './deadline-heap.js';
import { RouteTable } from './routes.js';
import { QlogRecorder } from '../connection/qlog.js';
import { initialAuthenticates, initialCloseFor, retryFor, versionNegotiationFor } from './stateless-packets.js';
import { TransportErrorCode } from '../errors.js';
import { HP_SAMPLE_LENGTH, HP_SAMPLE_OFFSET, type HeaderProtectionBatch, type HeaderProtectionPrimer } from '../crypto/header-protection.js';
import { FIXED_BIT, HEADER_FORM_BIT, LongPacketType, tryParsePacketHeader, type LongHeader, type UnsupportedVersionHeader } from '../packet/header.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import type { RateLimiter } from './rate-limit.js';
import { StatelessResetKey, statelessResetLength, writeStatelessReset } from './stateless-reset.js';
import { AddressTokens } from './address-tokens.js';
import type { Random } from '../../tls/random.js';

export {
  EndpointError,
  type ConnectOptions,
  type ConnectionHandle,
  type EndpointConfig,
  type EndpointEvent,
  type EndpointStats,
  type QlogConnectionInfo,
  type RateLimit,
  type Transmit,
  type TransportOptions,
} from './config.js';

/**
 * The endpoint core (RFC 9000 §5.2, §6, §8.1, §10.3): one per UDP socket, many connections,
 * sans-IO like the connection (STYLE.md rule 2). The UDP driver (src/session) feeds it datagrams
 * with their source address and the time, and pulls datagrams with their destination address,
 * one timer deadline and events:
 *
 *   handleDatagram(now, from, bytes) | handleTimeout(now) | connect(...) | close(...)
 *   then pollTransmit(now, out) until null, pollTimeout(), pollEvent() until undefined.
 *
 * It routes datagrams to connections by Destination Connection ID (every active CID we issued,
 * kept current from `Connection.takeCidChanges()`), and, for a server, Initial and 0-RTT packets
 * also by the client's first DCID, so copies of one Initial (iroh sends one per candidate
 * address, IROH.md) reach one connection. It creates server connections from valid Initials
 * within its limits, and answers what it cannot route without holding state: Version
 * Negotiation, Retry, an Initial CONNECTION_CLOSE to refuse, Stateless Reset.
 *
 * Addresses ("ip:port") are opaque strings to the core. Each datagram is handed to its
 * connection with its source address, and each datagram a connection writes goes where the
 * connection says (`Connection.transmitAddress`): the connection follows its peer's address
 * changes itself, with path validation (src/quic/connection/paths.ts, RFC 9000 §8.2, §9): a server moves to
 * a client's new address only on its highest-numbered non-probing packet, validates it with
 * PATH_CHALLENGE under the 3x anti-amplification limit, probes the old address, and reverts when
 * validation fails; a client ignores datagrams from any address but its server's. Routing stays
 * by connection ID; the address index (Stateless Reset detection) follows each connection's
 * current address.
 *
 * Connections are owned by the endpoint: the driver may call any command of a `Connection`, but
 * its events are drained by the endpoint (`pollEvent` here), never by calling
 * `Connection.pollEvent` directly. Outputs cost what there is to do, not O(connections): a
 * connection becomes "dirty" when it got a datagram, a timer or a command (every `Connection`
 * command, stream handles included, calls its `onCommand` hook), and only dirty connections are
 * asked for datagrams and events; the others' deadlines sit in a min-heap (deadline-heap.ts),
 * refreshed whenever a connection leaves the dirty set.
 */

/** RFC 9000 §7.2: a client's first Destination Connection ID has at least 8 bytes. */
const MIN_INITIAL_DCID = 8;

interface Entry {
  readonly handle: ConnectionHandle;
  readonly connection: Connection;
  remoteAddress: string;
  /** Server: the routing key of the client's Initial DCID. */
  initialKey: string | undefined;
  /** An incoming connection counted in `handshakesInFlight`. */
  handshaking: boolean;
  /** Its `pollTimeout()` as filed in the deadline heap (valid while not dirty). */
  deadline: number;
  heapIndex: number;
}

const NO_COPIES: readonly string[] = [];

export class EndpointCore {
  /** The `now` of the last input (for tokens issued while servicing a connection). */
  private clock = 0;
  readonly localCidLength: number;
  readonly maxConnections: number;
  readonly maxHandshakes: number;
  readonly retryMode: 'never' | 'always' | 'underLoad';
  readonly retryThreshold: number;
  private readonly stat: EndpointStats = {
    datagramsReceived: 0, bytesReceived: 0, datagramsSent: 0, bytesSent: 0, connectionsAccepted: 0,
    connectionsOpened: 0, connectionsRefused: 0, droppedMalformed: 0, droppedUnroutable: 0, droppedInitials: 0,
    droppedUnauthenticated: 0, droppedResponses: 0, versionNegotiationsSent: 0, retriesSent: 0, invalidTokens: 0,
    statelessResetsSent: 0, statelessResetsRateLimited: 0, statelessResetsReceived: 0, cidCollisions: 0, internalErrors: 0,
    earlyDatagramsHeld: 0,
  };
  private readonly random: Random;
  private readonly server: EndpointConfig['server'];
  private readonly clientTransport: TransportConfig;
  /** Dials' frozen transport options and their configurations (`dialTransport`). */
  private readonly dialConfigs = new WeakMap<TransportOptions, TransportConfig>();
  private readonly serverTransport: TransportConfig;
  private readonly resetKey: StatelessResetKey;
  private readonly resetTokenFn: (cid: Uint8Array) => Uint8Array;
  private readonly tokens: AddressTokens;
  private readonly resetLimiter: RateLimiter;
  private readonly responseLimiter: RateLimiter;
  private readonly maxQueued: number;
  /** Which connection a datagram is for: by our CIDs, clients' Initial DCIDs, remote address. */
  private readonly routes = new RouteTable<Entry>();
  /** 0-RTT datagrams ahead of their Initial, by "address dcid". */
  private readonly earlyHeld = new EarlyHold();
  private readonly entries = new Map<ConnectionHandle, Entry>();
  /**
   * Connections touched since they last had nothing to send (input, timer, command): the only
   * ones pollTransmit, pollTimeout and pollEvent ask. Insertion order is the round-robin order.
   */
  private readonly dirty = new Set<Entry>();
  /** Deadlines of the connections that are not dirty. */
  private readonly timers = new DeadlineHeap<Entry>();
  private handshaking = 0;
  private nextHandle = 1;
  private readonly responses: Array<{ bytes: Uint8Array; address: string }> = [];
  private readonly events: EndpointEvent[] = [];
  private state: 'open' | 'closing' | 'closed' = 'open';
  /** The last bug caught at the boundary (for the driver's log). */
  lastInternalError: unknown;
  private readonly qlogFactory: EndpointConfig['qlog'];

  constructor(config: EndpointConfig) {
    this.random = config.random;
    this.server = config.server;
    this.qlogFactory = config.qlog;
    this.localCidLength = config.localCidLength ?? 8;
    int('localCidLength', this.localCidLength, 4, 20);
    this.maxConnections = config.maxConnections ?? 4096;
    int('maxConnections', this.maxConnections, 1, 2 ** 30);
    this.maxHandshakes = config.maxHandshakes ?? 256;
    int('maxHandshakes', this.maxHandshakes, 1, 2 ** 30);
    this.retryMode = config.retry ?? 'never';
    if (this.retryMode !== 'never' && this.retryMode !== 'always' && this.retryMode !== 'underLoad') {
      throw new ConfigError('retry', `must be 'never', 'always' or 'underLoad', got ${String(this.retryMode)}`);
    }
    this.retryThreshold = config.retryThreshold ?? Math.ceil(this.maxHandshakes / 2);
    int('retryThreshold', this.retryThreshold, 0, 2 ** 30);
    this.maxQueued = config.maxQueuedResponses ?? 256;
    int('maxQueuedResponses', this.maxQueued, 1, 2 ** 20);
    if (!(config.staticKey instanceof Uint8Array) || config.staticKey.length !== 32) {
      throw new ConfigError('staticKey', 'must be 32 bytes');
    }
    this.clientTransport = this.transportFor(config.transport, 'transport');
    this.serverTransport = this.transportFor(mergeTransport(config.transport, config.server?.transport), 'server.transport');
    this.resetKey = new StatelessResetKey(config.staticKey);
    this.resetTokenFn = (cid) => this.resetKey.token(cid);
    this.tokens = new AddressTokens(config.staticKey, {
      ...(config.retryTokenLifetimeMs !== undefined ? { retryLifetimeMs: config.retryTokenLifetimeMs } : {}),
      ...(config.newTokenLifetimeMs !== undefined ? { newTokenLifetimeMs: config.newTokenLifetimeMs } : {}),
    });
    this.resetLimiter = rateLimiter('statelessResetRate', config.statelessResetRate ?? { perSecond: 20, burst: 20 });
    this.responseLimiter = rateLimiter('responseRate', config.responseRate ?? { perSecond: 200, burst: 200 });
  }

  // ------------------------------------------------------------------ queries

  get stats(): Readonly<EndpointStats> {
    return { ...this.stat };
  }

  /** Connections alive (not yet terminated). */
  get connectionCount(): number {
    return this.entries.size;
  }

  /** How many connection ids route to a connection (tests: what a closed connection leaves). */
  get routeCount(): number {
    return this.routes.size;
  }

  /** Incoming connections whose handshake has not completed (nor failed). */
  get handshakesInFlight(): number {
    return this.handshaking;
  }

  /** True once `close()` finished: every connection terminated. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** True when this endpoint accepts incoming connections (and is not closing). */
  get isAccepting(): boolean {
    return this.server !== undefined && this.state === 'open';
  }

  /** The connection of `handle`, or undefined when it has terminated (or never existed). */
  connection(handle: ConnectionHandle): Connection | undefined {
    return this.entries.get(handle)?.connection;
  }

  /** Where `handle`'s non-probing datagrams go: its peer's current (possibly migrated) address. */
  remoteAddress(handle: ConnectionHandle): string | undefined {
    return this.entries.get(handle)?.remoteAddress;
  }

  /** Handles of the live connections. */
  handles(): ConnectionHandle[] {
    return [...this.entries.keys()];
  }

  /** The stateless reset token we give for `cid` (tests, diagnostics). */
  statelessResetToken(cid: Uint8Array): Uint8Array {
    return this.resetKey.token(cid);
  }

  /**
   * A NEW_TOKEN token (RFC 9000 §8.1.3) for the client of `handle` at its current address: valid
   * on a later connection from the same host for `newTokenLifetimeMs`. Sending it needs a
   * NEW_TOKEN frame from the connection.
   */
  issueNewToken(now: number, handle: ConnectionHandle): Uint8Array | undefined {
    const e = this.entries.get(handle);
    return e ? this.tokens.issueNewToken(now, e.remoteAddress, this.random) : undefined;
  }

  // ------------------------------------------------------------------ inputs and commands

  /**
   * A datagram `handleDatagram` will get next: if it is a short-header packet of a connection with
   * 1-RTT keys, its header protection sample goes to `primer`, whose masks (one AES-ECB call per
   * burst, HeaderProtectionPrimer) the connection's key then uses. Changes nothing else.
   */
  primeHeaderProtection(primer: HeaderProtectionPrimer, datagram: Uint8Array): void {
    const cidLength = this.localCidLength;
    if (datagram.length < 1 + cidLength + HP_SAMPLE_OFFSET + HP_SAMPLE_LENGTH || (datagram[0]! & HEADER_FORM_BIT) !== 0) return;
    const hp = this.routes.get(this.routes.shortKey(datagram, cidLength))?.connection.shortHeaderReadKey;
    if (hp) primer.add(hp, datagram, 1 + cidLength + HP_SAMPLE_OFFSET);
  }

  /** A UDP datagram arrived from `remoteAddress`. Never throws: what does not parse is dropped and counted. */
  handleDatagram(now: number, remoteAddress: string, datagram: Uint8Array): void {
    this.clock = now;
    this.stat.datagramsReceived++;
    this.stat.bytesReceived += datagram.length;
    if (this.state === 'closed') return;
    try {
      this.route(now, remoteAddress, datagram);
    } catch (e) {
      // Connections catch their own errors; this is a bug of ours. Drop the datagram, keep serving.
      this.stat.internalErrors++;
      this.lastInternalError = e;
    }
  }

  /** Timers are due (or any time: only what is due happens). */
  handleTimeout(now: number): void {
    this.clock = now;
    const due: Entry[] = [];
    // Filed deadlines are current for connections that are not dirty; a dirty one is asked.
    for (const e of this.timers.takeDue(now)) if (!this.dirty.has(e)) due.push(e);
    for (const e of this.dirty) if (e.connection.pollTimeout() <= now) due.push(e);
    for (const e of due) {
      if (!this.entries.has(e.handle)) continue;
      this.dirty.add(e);
      e.connection.handleTimeout(now);
      this.service(e);
    }
  }

  /**
   * Opens a client connection to `remoteAddress`. Throws `EndpointError` when the endpoint is
   * closing or at `maxConnections`, `ConfigError`/`RangeError` for bad options.
   */
  connect(now: number, remoteAddress: string, options: ConnectOptions): { handle: ConnectionHandle; connection: Connection } {
    if (this.state !== 'open') throw new EndpointError('the endpoint is closing');
    if (this.entries.size >= this.maxConnections) throw new EndpointError(`connection limit of ${this.maxConnections} reached`);
    const connection = new Connection(
      {
        role: 'client',
        tls: options.tls,
        transport: options.transport === undefined ? this.clientTransport : this.dialTransport(options.transport),
        random: this.random,
        resetToken: this.resetTokenFn,
        ...(options.initialDcidLength !== undefined ? { initialDcidLength: options.initialDcidLength } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(options.alternateAddresses !== undefined ? { alternateAddresses: options.alternateAddresses } : {}),
        remoteAddress,
      },
      now,
    );
    const e = this.register(connection, remoteAddress);
    if (this.qlogFactory) this.startQlog(e, now, undefined);
    this.stat.connectionsOpened++;
    this.service(e);
    return { handle: e.handle, connection };
  }

  /**
   * Closes every connection with an application CONNECTION_CLOSE (`code`, `reason`) and stops
   * accepting. A 'closed' event follows once every connection has terminated.
   */
  close(now: number, code: number | bigint = 0, reason = ''): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    for (const e of [...this.entries.values()]) {
      e.connection.close(now, code, reason);
      this.service(e);
    }
    this.maybeFinishClose();
  }

  // ------------------------------------------------------------------ outputs

  /**
   * The largest UDP payload a connection of this endpoint may send (the larger of its client and
   * server transports' `maxUdpPayloadSize`): the size of the buffers to hand `pollTransmit`.
   */
  get maxUdpPayloadSize(): number {
    const size = (t: TransportOptions): number => t.maxUdpPayloadSize ?? DEFAULT_TRANSPORT_CONFIG.maxUdpPayloadSize;
    return Math.max(size(this.clientTransport), size(this.serverTransport));
  }

  /**
   * Writes the next datagram into `out` (at least `maxUdpPayloadSize` bytes, or a connection's
   * datagrams stay smaller than its path allows) and says where it goes, or returns null when nothing is to be sent now. Endpoint
   * answers go first, then connections in round-robin, one datagram each per call.
   * `headerProtection`: the connections' packets record their header protection there, and the
   * caller applies it before any datagram leaves (Connection.pollTransmit, `HeaderProtectionBatch`).
   */
  pollTransmit(now: number, out: Uint8Array, headerProtection: HeaderProtectionBatch | null = null): Transmit | null {
    for (let r = this.responses.shift(); r; r = this.responses.shift()) {
      if (r.bytes.length > out.length) {
        this.stat.droppedResponses++;
        continue;
      }
      out.set(r.bytes);
      return this.sent(r.bytes.length, r.address);
    }
    for (const e of this.dirty) {
      const length = e.connection.pollTransmit(now, out, headerProtection);
      if (length > 0) {
        // Round robin: to the back of the line, one datagram per connection per turn (alone in
        // the line, as in a bulk transfer, it already is).
        if (this.dirty.size > 1) {
          this.dirty.delete(e);
          this.dirty.add(e);
        }
        // A path datagram (PATH_CHALLENGE/RESPONSE) may go to another address than the current one.
        const address = e.connection.transmitAddress ?? e.remoteAddress;
        // A dial with several addresses: the same datagram to each until the server answers on one.
        const copies = address === e.remoteAddress ? e.connection.copyAddresses : NO_COPIES;
        // The copies are of the finished datagram: its header protection first, if deferred.
        if (copies.length > 0) headerProtection?.apply();
        for (const to of copies) this.responses.push({ bytes: out.slice(0, length), address: to });
        this.service(e);
        return this.sent(length, address);
      }
      // Nothing more to send until its next input, timer or command: file its deadline.
      this.service(e);
      if (this.dirty.delete(e)) this.timers.set(e, e.connection.pollTimeout());
    }
    return null;
  }

  /** When `handleTimeout` should next be called (the earliest connection timer), or Infinity. */
  pollTimeout(): number {
    let t = this.timers.earliest();
    for (const e of this.dirty) t = Math.min(t, e.connection.pollTimeout());
    return t;
  }

  /** The next event, or undefined. */
  pollEvent(): EndpointEvent | undefined {
    if (this.events.length === 0) {
      // Commands called on a Connection directly (close, stream writes) can raise events and
      // CID changes between our calls: collect them.
      for (const e of [...this.dirty]) this.service(e);
    }
    return this.events.shift();
  }

  // ------------------------------------------------------------------ routing

  private route(now: number, address: string, datagram: Uint8Array): void {
    const first = datagram[0];
    if (first === undefined) {
      this.stat.droppedMalformed++;
      return;
    }
    if ((first & HEADER_FORM_BIT) === 0) {
      this.routeShort(now, address, datagram, first);
      return;
    }
    const h = tryParsePacketHeader(datagram, 0, this.localCidLength);
    switch (h.kind) {
      case 'invalid':
      case 'short':
        this.stat.droppedMalformed++;
        return;
      case 'versionNegotiation':
      case 'retry': {
        // Answers to a client connection of ours. RFC 9000 §6.1: never answer a VN packet.
        const e = this.routes.get(h.dcid);
        if (e) this.deliver(now, e, address, datagram);
        else this.stat.droppedUnroutable++;
        return;
      }
      case 'unsupportedVersion':
        this.onUnsupportedVersion(now, address, datagram, h);
        return;
      case 'long': {
        const initialish = h.type === LongPacketType.Initial || h.type === LongPacketType.ZeroRtt;
        const key = toBinaryString(h.dcid);
        const e = this.routes.get(key) ?? (initialish ? this.routes.initial(key) : undefined);
        if (e) {
          // RFC 9000 §14.1: a server discards Initials in datagrams under 1200 bytes.
          if (h.type === LongPacketType.Initial && e.connection.role === 'server' && datagram.length < MIN_DATAGRAM_SIZE) {
            this.stat.droppedInitials++;
            return;
          }
          this.deliver(now, e, address, datagram);
        } else if (h.type === LongPacketType.Initial) {
          this.onNewInitial(now, address, datagram, h);
        } else if (h.type === LongPacketType.ZeroRtt && this.server && this.earlyHeld.hold(now, `${address} ${key}`, datagram)) {
          // 0-RTT that overtook its Initial: held a moment for the connection the Initial creates.
          this.stat.earlyDatagramsHeld++;
        } else {
          // Handshake for a connection we do not know: nothing to do (a Stateless Reset is useless
          // before the peer has our token, RFC 9000 §10.3).
          this.stat.droppedUnroutable++;
        }
        return;
      }
    }
  }

  private routeShort(now: number, address: string, datagram: Uint8Array, first: number): void {
    if (datagram.length < 1 + this.localCidLength) {
      this.stat.droppedMalformed++;
      return;
    }
    const e = this.routes.get(this.routes.shortKey(datagram, this.localCidLength));
    if (e) {
      this.deliver(now, e, address, datagram);
      return;
    }
    // RFC 9000 §10.3.1: a Stateless Reset has a random DCID; it is recognised by its trailing
    // token among the connections at the address it came from.
    const here = this.routes.at(address);
    if (here) {
      for (const c of here) {
        if (c.connection.isStatelessReset(datagram)) {
          this.stat.statelessResetsReceived++;
          this.deliver(now, c, address, datagram);
          return;
        }
      }
    }
    // RFC 9000 §17.3.1: without the Fixed Bit it is no QUIC v1 packet: no answer.
    if ((first & FIXED_BIT) === 0) {
      this.stat.droppedMalformed++;
      return;
    }
    this.sendStatelessReset(now, address, datagram.length, datagram.subarray(1, 1 + this.localCidLength));
  }

  /** RFC 9000 §10.3: answer a short-header packet for a CID we do not know (lost state). */
  private sendStatelessReset(now: number, address: string, triggerLength: number, dcid: Uint8Array): void {
    // Strictly smaller than the trigger and at least 21 bytes (§10.3, §10.3.3): a datagram of 21
    // bytes or fewer could itself be a reset, and gets no answer.
    const length = statelessResetLength(triggerLength, this.random);
    if (length === 0) {
      this.stat.droppedUnroutable++;
      return;
    }
    if (!this.resetLimiter.take(now)) {
      this.stat.statelessResetsRateLimited++;
      return;
    }
    const bytes = new Uint8Array(length);
    writeStatelessReset(bytes, length, this.resetKey.token(dcid), this.random);
    if (this.queue(bytes, address)) this.stat.statelessResetsSent++;
  }

  private onUnsupportedVersion(now: number, address: string, datagram: Uint8Array, h: UnsupportedVersionHeader): void {
    // RFC 9000 §6.1: a server answers a packet that might start a connection with Version
    // Negotiation; §14.1 / §6.1: only for datagrams of at least 1200 bytes (smaller ones cannot
    // start a connection in any version we could speak, and must not be amplified).
    if (!this.isAccepting || datagram.length < MIN_DATAGRAM_SIZE) {
      this.stat.droppedUnroutable++;
      return;
    }
    if (!this.takeResponse(now)) return;
    if (this.queue(versionNegotiationFor(h, this.random), address)) this.stat.versionNegotiationsSent++;
  }

  /** A client Initial for no connection: accept it, ask for a Retry, or refuse it. */
  private onNewInitial(now: number, address: string, datagram: Uint8Array, h: LongHeader): void {
    if (!this.server) {
      this.stat.droppedUnroutable++;
      return;
    }
    if (datagram.length < MIN_DATAGRAM_SIZE) {
      // RFC 9000 §14.1: "A server MUST discard an Initial packet that is carried in a UDP
      // datagram with a payload that is smaller than ... 1200 bytes."
      this.stat.droppedInitials++;
      return;
    }
    if (this.state !== 'open') {
      this.refuse(now, address, h, TransportErrorCode.CONNECTION_REFUSED, 'endpoint closing');
      return;
    }
    let validated = false;
    let retry: { originalDcid: Uint8Array; retryScid: Uint8Array } | undefined;
    if (h.token.length > 0) {
      const t = this.tokens.validate(h.token, now, address, h.dcid);
      if (t.kind === 'retry') {
        retry = { originalDcid: t.originalDcid, retryScid: t.retryScid };
        validated = true;
      } else if (t.kind === 'newToken') {
        validated = true;
      } else {
        this.stat.invalidTokens++;
        if (t.retry) {
          // RFC 9000 §8.1.2: "If a server receives a client Initial that contains an invalid
          // Retry token but is otherwise valid, it knows the client will not accept another
          // Retry token. ... the server SHOULD immediately close the connection with an
          // INVALID_TOKEN error." A packet that does not even open is just dropped.
          if (initialAuthenticates(datagram, h)) this.refuse(now, address, h, TransportErrorCode.INVALID_TOKEN, t.reason);
          else this.stat.droppedUnauthenticated++;
          return;
        }
        // RFC 9000 §8.1.3: another invalid token: "proceed as if the client did not have a
        // validated address, including potentially sending a Retry packet".
      }
    }
    if (!retry && h.dcid.length < MIN_INITIAL_DCID) {
      this.stat.droppedInitials++;
      return;
    }
    if (this.entries.size >= this.maxConnections) {
      this.refuse(now, address, h, TransportErrorCode.CONNECTION_REFUSED, 'too many connections');
      return;
    }
    if (!validated && (this.retryMode === 'always' || (this.retryMode === 'underLoad' && this.handshaking >= this.retryThreshold))) {
      this.sendRetry(now, address, h);
      return;
    }
    // RFC 9000 §5.2.2: "If a server refuses to accept a new connection, it SHOULD send an
    // Initial packet containing a CONNECTION_CLOSE frame with error code CONNECTION_REFUSED."
    if (this.handshaking >= this.maxHandshakes) {
      this.refuse(now, address, h, TransportErrorCode.CONNECTION_REFUSED, 'too many handshakes in flight');
      return;
    }
    this.accept(now, address, datagram, h, retry, validated);
  }

  private accept(
    now: number,
    address: string,
    datagram: Uint8Array,
    h: LongHeader,
    retry: { originalDcid: Uint8Array; retryScid: Uint8Array } | undefined,
    validated: boolean,
  ): void {
    const connection = new Connection(
      {
        role: 'server',
        tls: this.server!.tls,
        transport: this.serverTransport,
        random: this.random,
        resetToken: this.resetTokenFn,
        initialDcid: h.dcid.slice(),
        clientScid: h.scid.slice(),
        ...(retry ? { retry } : {}),
        ...(validated ? { addressValidated: true } : {}),
        remoteAddress: address,
      },
      now,
    );
    const e = this.register(connection, address);
    e.initialKey = this.routes.addInitial(h.dcid, e);
    e.handshaking = true;
    this.handshaking++;
    // Traced: the first datagram's events wait in memory until it proves to be a real client.
    const early = this.qlogFactory ? new QlogRecorder() : undefined;
    if (early) connection.setQlog(early, now);
    connection.handleDatagram(now, datagram, address);
    if (connection.packetsReceived === 0) {
      // Nothing in it opened: an Initial-shaped forgery. Keep no state for it (no handshake slot
      // held until a timeout, no event).
      this.stat.droppedUnauthenticated++;
      this.unregister(e);
      return;
    }
    this.stat.connectionsAccepted++;
    if (early) this.startQlog(e, now, early);
    // 0-RTT datagrams that arrived before this Initial (RFC 9001 §4.6.1: the server may buffer them).
    for (const d of this.earlyHeld.take(`${address} ${e.initialKey}`) ?? []) connection.handleDatagram(now, d, address);
    this.events.push({ type: 'incoming', handle: e.handle, connection, remoteAddress: address });
    this.service(e);
  }

  private sendRetry(now: number, address: string, h: LongHeader): void {
    if (!this.takeResponse(now)) return;
    // RFC 9000 §17.2.5.1: our Retry SCID "MUST NOT be equal to the Destination Connection ID
    // field of the packet sent by the client".
    let scid = this.random.fill(new Uint8Array(this.localCidLength));
    while (toHex(scid) === toHex(h.dcid)) scid = this.random.fill(new Uint8Array(this.localCidLength));
    const token = this.tokens.issueRetry(now, address, h.dcid, scid);
    if (this.queue(retryFor(h, scid, token, this.random), address)) this.stat.retriesSent++;
  }

  private refuse(now: number, address: string, h: LongHeader, code: number, reason: string): void {
    if (!this.takeResponse(now)) return;
    const scid = this.random.fill(new Uint8Array(this.localCidLength));
    if (this.queue(initialCloseFor(h, scid, code, reason), address) && code === TransportErrorCode.CONNECTION_REFUSED) {
      this.stat.connectionsRefused++;
    }
  }

  // ------------------------------------------------------------------ connections

  private register(connection: Connection, address: string): Entry {
    const e: Entry = {
      handle: this.nextHandle++ as ConnectionHandle,
      connection,
      remoteAddress: address,
      initialKey: undefined,
      handshaking: false,
      deadline: Number.POSITIVE_INFINITY,
      heapIndex: -1,
    };
    this.entries.set(e.handle, e);
    this.dirty.add(e);
    connection.onCommand = () => {
      if (this.entries.has(e.handle)) this.dirty.add(e);
    };
    this.routes.addAddress(address, e);
    this.updateCids(e);
    return e;
  }

  /** Hands `datagram` from `address` to `e` (the connection decides whether its path moves). */
  private deliver(now: number, e: Entry, address: string, datagram: Uint8Array): void {
    this.dirty.add(e);
    e.connection.handleDatagram(now, datagram, address);
    this.service(e);
  }

  /** After anything touched `e`: its address, routing changes and events. */
  private service(e: Entry): void {
    if (!this.entries.has(e.handle)) return;
    const address = e.connection.remoteAddress;
    if (address !== undefined && address !== e.remoteAddress) {
      // The peer migrated (or reverted): keep the address index on its current address.
      this.routes.removeAddress(e.remoteAddress, e);
      e.remoteAddress = address;
      this.routes.addAddress(address, e);
      // RFC 9000 §8.1.3: a token for the new address, for the client's next connection.
      if (e.connection.role === 'server' && e.connection.isConnected) e.connection.sendNewToken(this.tokens.issueNewToken(this.clock, address, this.random));
    }
    this.updateCids(e);
    for (let ev = e.connection.pollEvent(); ev; ev = e.connection.pollEvent()) {
      if (ev.type === 'connected' || ev.type === 'closed') this.endHandshake(e);
      // RFC 9000 §8.1.3: a server sends a NEW_TOKEN so the client's next connection skips the Retry.
      if (ev.type === 'connected' && e.connection.role === 'server') e.connection.sendNewToken(this.tokens.issueNewToken(this.clock, e.remoteAddress, this.random));
      this.events.push({ type: 'connection', handle: e.handle, event: ev });
      if (ev.type === 'terminated') {
        this.unregister(e);
        this.maybeFinishClose();
        return;
      }
    }
  }

  /** Asks the qlog factory for `e`'s sink; replays `early` (events recorded before) into it. */
  private startQlog(e: Entry, now: number, early: QlogRecorder | undefined): void {
    const c = e.connection;
    const sink = this.qlogFactory!({ handle: e.handle, role: c.role, odcid: c.originalDestinationCid, now });
    if (sink && early) for (const ev of early.events) sink.event(ev);
    c.setQlog(sink, now);
  }

  private updateCids(e: Entry): void {
    if (!e.connection.hasCidChanges) return;
    const { added, retired } = e.connection.takeCidChanges();
    for (const cid of added) if (!this.routes.add(cid, e)) this.stat.cidCollisions++;
    for (const cid of retired) this.routes.remove(cid, e);
  }

  private endHandshake(e: Entry): void {
    if (!e.handshaking) return;
    e.handshaking = false;
    this.handshaking--;
  }

  private unregister(e: Entry): void {
    this.endHandshake(e);
    // The routes to it: its CIDs still active, and those it retired since the last update (no
    // set of keys per connection is kept: [perf2], ~200 B of an idle connection). Those added
    // since were never routed.
    const { retired } = e.connection.takeCidChanges();
    for (const cid of retired) this.routes.remove(cid, e);
    for (const cid of e.connection.activeLocalCids()) this.routes.remove(cid, e);
    if (e.initialKey !== undefined) this.routes.removeInitial(e.initialKey, e);
    this.routes.removeAddress(e.remoteAddress, e);
    this.entries.delete(e.handle);
    this.dirty.delete(e);
    this.timers.remove(e);
    e.connection.onCommand = undefined;
  }

  private maybeFinishClose(): void {
    if (this.state === 'closing' && this.entries.size === 0) {
      this.state = 'closed';
      this.responses.length = 0;
      this.events.push({ type: 'closed' });
    }
  }

  // ------------------------------------------------------------------ helpers

  private takeResponse(now: number): boolean {
    if (this.responseLimiter.take(now)) return true;
    this.stat.droppedResponses++;
    return false;
  }

  private queue(bytes: Uint8Array, address: string): boolean {
    if (this.responses.length >= this.maxQueued) {
      this.stat.droppedResponses++;
      return false;
    }
    this.responses.push({ bytes, address });
    return true;
  }

  private sent(length: number, address: string): Transmit {
    this.stat.datagramsSent++;
    this.stat.bytesSent += length;
    return { length, address };
  }

  /**
   * A dial's transport options over the endpoint's, resolved. Frozen options (what the session
   * layer passes: one object per dial timeout) are resolved once and their configuration shared
   * by every dial that passes them: resolving cost ~10 us and ~0.5 KB of heap per connection.
   */
  private dialTransport(t: TransportOptions): TransportConfig {
    const known = Object.isFrozen(t) ? this.dialConfigs.get(t) : undefined;
    if (known) return known;
    const c = this.transportFor(mergeTransport(this.clientTransport, t), 'transport');
    if (Object.isFrozen(t)) this.dialConfigs.set(t, c);
    return c;
  }

  /**
   * Transport options with our CID length, resolved now: a bad option fails here, not per Initial,
   * and the connections made with them share the one (frozen) configuration.
   */
  private transportFor(t: TransportOptions | undefined, field: string): TransportConfig {
    if (t?.localCidLength !== undefined && t.localCidLength !== this.localCidLength) {
      throw new ConfigError(`${field}.localCidLength`, `must equal the endpoint's localCidLength (${this.localCidLength}): short headers are routed by it`);
    }
    return resolveTransportConfig({ ...t, localCidLength: this.localCidLength });
  }
}
