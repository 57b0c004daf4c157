import { utf8 } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import type { CloseReason, ConnectionEvent } from '../events.js';
import { PacketSpace } from '../packet/space.js';
import { LossDetector } from '../recovery/loss.js';
import type { Direction } from '../streams/stream-id.js';
import { StreamMap } from '../streams/stream-map.js';
import { resolveTransportConfig, type TransportConfig } from '../transport-config.js';
import type { TransportParameters } from '../transport-params.js';
import { Level } from '../../tls/engine.js';
import { TlsAlert } from '../../tls/alerts.js';
import { LocalCids, RemoteCids } from './cids.js';
import { LossRecovery } from './loss-recovery.js';
import type { ConnectionOptions } from './options.js';
import { Datagrams } from './datagrams.js';
import { EventQueue } from './events.js';
import { Handshake } from './handshake.js';
import { IdleTimer } from './idle.js';
import { ConnectionKeys } from './keys.js';
import { Lifecycle, transportClose, type CloseFrame, type ConnectionState } from './lifecycle.js';
import { PathRecovery } from './path.js';
import { PathSet } from './paths.js';
import type { ConnectionStats } from './stats.js';
import { QlogTracer, qlogParameters, qlogState, qlogTlsKey, startTrace, type QlogSink } from './qlog.js';
import { FrameDispatcher } from './dispatch.js';
import { Receiver } from './receive.js';
import type { FrameOwners, PacketRecord } from './sent-packet.js';
import { PacketSpaces } from './spaces.js';
import { RecvStreamHandle, SendStreamHandle, type StreamHost } from './stream-handles.js';
import { MIN_PACKET_BUDGET, Transmitter } from './transmit.js';

export type { ConnectionTlsOptions } from './handshake.js';
export type { ClientConnectionOptions, ConnectionOptions, ServerConnectionOptions } from './options.js';
export type { ConnectionState } from './lifecycle.js';
export type { ConnectionStats, DatagramStats, PathStats } from './stats.js';
export type { QlogSink } from './qlog.js';

/**
 * The parts of a connection, each the owner of its state (for tests and the fuzzer's oracle,
 * which read them; driving them directly bypasses the connection). @internal
 */
export interface ConnectionInternals extends FrameOwners {
  readonly config: TransportConfig;
  readonly events: EventQueue;
  readonly lifecycle: Lifecycle;
  readonly keys: ConnectionKeys;
  readonly loss: LossDetector<PacketRecord>;
  readonly paths: PathSet;
  readonly idle: IdleTimer;
  readonly receiver: Receiver;
  readonly transmitter: Transmitter;
  /** The qlog tracer while tracing. */
  readonly qlog: QlogTracer | undefined;
}

/**
 * A QUIC connection (RFC 9000), sans-IO: a driver feeds it datagrams and time and pulls
 * datagrams, one timer deadline and events:
 *
 *   handleDatagram(now, bytes, from) | handleTimeout(now) | commands (openStream, write, close, ...)
 *   then pollTransmit(now, buf) until 0, pollTimeout(), pollEvent() until undefined.
 *
 * It holds its parts privately and orchestrates them; each part owns its state: Lifecycle (states and closing), Handshake (TLS, transport parameters,
 * handshake CIDs), ConnectionKeys, PacketSpaces (packet numbers, ACK tracking, CRYPTO streams),
 * LossDetector (RFC 9002), PathSet (paths, each with its congestion controller, RTT, pacer, MTU
 * discovery and anti-amplification budget; validation and migration), StreamMap, Datagrams,
 * LocalCids/RemoteCids, IdleTimer, and the Receiver and Transmitter that move packets. A peer
 * error anywhere becomes a TransportError that closes this connection with the RFC code; nothing
 * escapes to the driver.
 */
export class Connection {
  readonly role: 'client' | 'server';
  /**
   * Set by the owner (EndpointCore): called by every command, which may give the connection
   * something to send or move its timer, so the owner polls only connections that were touched.
   * (Inputs, timers and pollTransmit go through the owner already.)
   */
  onCommand: (() => void) | undefined = undefined;

  private readonly config: TransportConfig;
  private readonly events = new EventQueue();
  private readonly lifecycle: Lifecycle;
  private readonly handshake: Handshake;
  private readonly keys: ConnectionKeys;
  private readonly spaces: PacketSpaces;
  private readonly loss: LossDetector<PacketRecord>;
  private readonly streams: StreamMap;
  private readonly datagrams: Datagrams;
  private readonly localCids: LocalCids;
  private readonly remoteCids: RemoteCids;
  private readonly paths: PathSet;
  private readonly idle: IdleTimer;
  private readonly rx: Receiver;
  private readonly tx: Transmitter;
  private readonly owners: FrameOwners;
  private readonly recovery: LossRecovery;
  private readonly streamHost: StreamHost;
  /** qlog tracing: undefined unless a sink is attached; every hook tests it first. */
  private qlog: QlogTracer | undefined = undefined;

  constructor(options: ConnectionOptions, now: number) {
    this.role = options.role;
    const c = (this.config = resolveTransportConfig(options.transport));
    const isClient = options.role === 'client';
    this.lifecycle = new Lifecycle(this.events);
    this.keys = new ConnectionKeys(isClient, c.insecureNullKeys);
    this.spaces = new PacketSpaces(c);
    this.loss = new LossDetector<PacketRecord>({ isServer: !isClient });
    this.streams = new StreamMap(options.role, c.streams, (e) => this.events.push(e));
    this.datagrams = new Datagrams({ maxFrameSize: c.maxDatagramFrameSize, sendQueueCount: c.datagramSendQueue, recvQueueCount: c.datagramRecvQueue });
    this.localCids = new LocalCids(c.localCidLength, options.random, options.resetToken);
    const ourScid = this.localCids.issueInitial().cid;
    this.idle = new IdleTimer(c.maxIdleTimeoutMs, c.keepAliveIntervalMs, now);
    this.handshake = new Handshake(
      options.role === 'client'
        ? { role: 'client', initialDcidLength: options.initialDcidLength ?? 16, token: options.token }
        : { role: 'server', initialDcid: options.initialDcid, clientScid: options.clientScid, retry: options.retry, resetToken: this.localCids.initial!.resetToken },
      options.tls,
      c,
      options.random,
      ourScid,
      this.streams.localParams(),
      now,
    );
    this.remoteCids = new RemoteCids(this.handshake.peerInitialCid, c.activeConnectionIdLimit);
    this.keys.setInitial(this.handshake.initialSecretDcid);
    this.paths = new PathSet(options.remoteAddress ?? '', isClient || (options.role === 'server' && options.addressValidated === true), {
      role: options.role,
      config: c,
      random: options.random,
      remoteCids: this.remoteCids,
      loss: this.loss,
      newRecovery: () => this.newPathRecovery(),
      qlog: () => this.qlog,
    });
    this.owners = {
      spaces: this.spaces, streams: this.streams, datagrams: this.datagrams,
      localCids: this.localCids, remoteCids: this.remoteCids, handshake: this.handshake,
    };
    this.recovery = new LossRecovery(this.loss, this.paths, this.spaces, this.keys, this.owners, () => this.qlog);
    this.rx = new Receiver({
      localCidLength: c.localCidLength,
      keys: this.keys,
      spaces: this.spaces,
      handler: new FrameDispatcher({
        role: this.role, handshake: this.handshake, lifecycle: this.lifecycle, events: this.events, keys: this.keys,
        spaces: this.spaces, streams: this.streams, datagrams: this.datagrams, localCids: this.localCids,
        remoteCids: this.remoteCids, paths: this.paths, idle: this.idle, recovery: this.recovery,
        packetDcid: () => this.rx.packetDcid,
        pto: () => this.currentPto(),
        peerAckDelayExponent: (space) => this.peerAckDelayExponent(space),
        processTlsEvents: (t) => this.processTlsEvents(t),
        onHandshakeConfirmed: (t) => this.onHandshakeConfirmed(t),
        discardSpace: (space, t) => this.discardSpace(space, t),
        logState: () => this.logState(),
      }),
      // RFC 9001 §5.7: a server processes no 1-RTT packet before the handshake completes.
      canOpen: (space) => !(space === PacketSpace.Application && this.role === 'server' && !this.handshake.isComplete),
      isOpen: () => this.lifecycle.isOpen,
      isStatelessReset: (d) => this.remoteCids.isStatelessReset(d),
      pto: () => this.currentPto(),
      peerAckDelayExponent: (space) => this.peerAckDelayExponent(space),
      qlog: () => this.qlog,
    });
    this.tx = new Transmitter({
      role: options.role,
      config: c,
      keys: this.keys,
      spaces: this.spaces,
      loss: this.loss,
      paths: this.paths,
      streams: this.streams,
      datagrams: this.datagrams,
      localCids: this.localCids,
      remoteCids: this.remoteCids,
      handshake: this.handshake,
      lifecycle: this.lifecycle,
      idle: this.idle,
      scid: ourScid,
      pto: () => this.currentPto(),
      onFirstHandshakeSent: (t) => this.discardSpace(PacketSpace.Initial, t),
    });
    const lifecycle = this.lifecycle;
    const streams = this.streams;
    this.streamHost = {
      streams,
      touched: () => this.onCommand?.(),
      assertUsable: () => this.assertUsable(),
      get isClosed() {
        return lifecycle.isClosed;
      },
    };
    if (isClient) {
      this.handshake.tls.start();
      this.processTlsEvents(now);
    }
    if (options.qlog) this.setQlog(options.qlog, now);
  }

  // ------------------------------------------------------------------ queries

  /** handshake, established, closing, draining or terminated (RFC 9000 §10). */
  get state(): ConnectionState {
    return this.lifecycle.state;
  }

  /** True once the handshake completed (the peer is authenticated) and until the connection closes. */
  get isConnected(): boolean {
    return this.handshake.isComplete && this.lifecycle.isOpen;
  }

  /** True once closing, draining or terminated. */
  get isClosed(): boolean {
    return this.lifecycle.isClosed;
  }

  get isTerminated(): boolean {
    return this.lifecycle.isTerminated;
  }

  /** The handshake completed on our side: the peer is authenticated. */
  get handshakeComplete(): boolean {
    return this.handshake.isComplete;
  }

  /** RFC 9001 §4.1.2: the handshake is confirmed. */
  get handshakeConfirmed(): boolean {
    return this.handshake.isConfirmed;
  }

  /** Why the connection closed, once it did. */
  get closeInfo(): CloseReason | undefined {
    return this.lifecycle.closeReason;
  }

  /** The negotiated ALPN. */
  get alpn(): string | undefined {
    return this.handshake.tls.alpn;
  }

  /** The peer's verified Ed25519 public key. */
  get peerPublicKey(): Uint8Array | undefined {
    return this.handshake.tls.peerPublicKey;
  }

  /** The peer's transport parameters, once known. */
  get peerTransportParameters(): Readonly<TransportParameters> | undefined {
    return this.handshake.peerParams;
  }

  /** The transport parameters we sent. */
  get localTransportParameters(): Readonly<TransportParameters> {
    return this.handshake.localParams;
  }

  /**
   * Where this connection's non-probing packets go: the peer's address as the driver named it
   * (undefined when the driver gives none). It follows the peer's migrations (RFC 9000 §9).
   */
  get remoteAddress(): string | undefined {
    return this.paths.current.address || undefined;
  }

  /** The destination of the datagram the last `pollTransmit` wrote (path datagrams may go elsewhere). */
  get transmitAddress(): string | undefined {
    return this.tx.destination.address || undefined;
  }

  /** Our CID of sequence 0 (the endpoint routes it to us). */
  get initialLocalCid(): Uint8Array {
    return this.tx.builder.scid;
  }

  /** The client's first DCID: an endpoint also routes duplicated Initials by it. */
  get originalDestinationCid(): Uint8Array {
    return this.handshake.originalDcid;
  }

  /** Packets that opened so far (an endpoint keeps no state for a first datagram of which none did). */
  get packetsReceived(): number {
    return this.rx.packetsReceived;
  }

  /** The current PTO period without backoff (RFC 9002 §6.2.1), ms. */
  currentPto(): number {
    return this.paths.recovery.rtt.pto(PacketSpace.Application, this.loss.maxAckDelay);
  }

  /** CIDs to add to / remove from the endpoint's routing table since the last call. */
  takeCidChanges(): { added: Uint8Array[]; retired: Uint8Array[] } {
    return { added: this.localCids.takeAdded(), retired: this.localCids.takeRetired() };
  }

  /**
   * RFC 9000 §10.3.1: whether `datagram` ends with the stateless reset token of one of the peer's
   * CIDs. The endpoint asks this of the connections at a datagram's address when the datagram
   * routes to no CID (a reset's DCID is random), then hands it to the matching one.
   */
  isStatelessReset(datagram: Uint8Array): boolean {
    return this.remoteCids.isStatelessReset(datagram);
  }

  /** The largest datagram payload that can be sent now, or undefined when the peer does not accept datagrams. */
  maxDatagramSize(): number | undefined {
    if (!this.handshake.peerParams) return undefined;
    return this.datagrams.maxSize(this.paths.recovery.mtu.current, this.remoteCids.current.length);
  }

  getStats(): ConnectionStats {
    const r = this.paths.recovery;
    const rtt = r.rtt;
    const ccs = r.cc.stats;
    const tx = this.tx.stats;
    const rx = this.rx.stats;
    return {
      rtt: { smoothed: rtt.smoothed, min: rtt.hasSample ? rtt.min : 0, latest: rtt.latest, variance: rtt.rttvar },
      cwnd: r.cc.window,
      bytesInFlight: r.cc.bytesInFlight,
      congestionEvents: ccs.congestionEvents,
      packetsSent: tx.packetsSent,
      bytesSent: tx.bytesSent,
      packetsReceived: rx.packetsReceived,
      bytesReceived: rx.bytesReceived,
      packetsLost: ccs.lostPackets,
      bytesLost: ccs.lostBytes,
      packetsRetransmitted: tx.packetsRetransmitted,
      packetsDropped: rx.packetsDropped,
      mtu: r.mtu.current,
      keyUpdates: this.keys.updates,
      ptoCount: this.loss.ptoCount,
      datagrams: { ...this.datagrams.stats },
      ...this.paths.stats,
    };
  }

  /** The parts of the connection. @internal (tests, the fuzzer's oracle) */
  get internals(): ConnectionInternals {
    return {
      ...this.owners,
      config: this.config, events: this.events, lifecycle: this.lifecycle, keys: this.keys, loss: this.loss, paths: this.paths,
      idle: this.idle, receiver: this.rx, transmitter: this.tx, qlog: this.qlog,
    };
  }

  // ------------------------------------------------------------------ commands

  /**
   * Starts qlog tracing into `sink` (the local transport parameters and the state are logged
   * first), replaces the sink of a running trace, or stops tracing (undefined).
   */
  setQlog(sink: QlogSink | undefined, now: number): void {
    if (!sink) {
      this.qlog = undefined;
      this.tx.traceSealed(undefined);
      return;
    }
    if (this.qlog) {
      this.qlog.sink = sink;
      return;
    }
    const q = (this.qlog = new QlogTracer(sink, now));
    this.tx.traceSealed(q);
    startTrace(q, this.handshake.localParams, this.keys.hasInitialKeys, this.handshake.peerParams);
    this.afterInput(q);
  }

  /** Opens a stream; returns its id, or null when the peer's stream limit blocks (retry on 'streams-available'). */
  openStream(direction: Direction, priority = 0): number | null {
    this.onCommand?.();
    this.assertUsable();
    const r = this.streams.open(direction, priority);
    return r.kind === 'opened' ? r.stream.id : null;
  }

  /** The next stream the peer opened, or null. */
  acceptStream(direction: Direction): number | null {
    this.onCommand?.();
    return this.streams.accept(direction)?.id ?? null;
  }

  /** The sending part of stream `id` (its operations mark the connection as needing service). */
  sendStream(id: number): SendStreamHandle {
    return new SendStreamHandle(this.streamHost, id);
  }

  /** The receiving part of stream `id` (its operations mark the connection as needing service). */
  recvStream(id: number): RecvStreamHandle {
    return new RecvStreamHandle(this.streamHost, id);
  }

  /** Writes what fits of `data` into stream `id`'s send buffer; returns the bytes accepted. */
  writeStream(id: number, data: Uint8Array): number {
    return this.sendStream(id).write(data);
  }

  /** Ends stream `id` after the bytes written (FIN). */
  finishStream(id: number): void {
    this.sendStream(id).finish();
  }

  /** Resets stream `id`'s sending part (RESET_STREAM). */
  resetStream(id: number, code: number | bigint): void {
    this.sendStream(id).reset(code);
  }

  /** Reads up to `max` in-order bytes of stream `id` (see RecvStreamHandle.read). */
  readStream(id: number, max = Number.POSITIVE_INFINITY): Uint8Array | null {
    return this.recvStream(id).read(max);
  }

  /** Asks the peer to stop sending on stream `id` (STOP_SENDING). */
  stopSending(id: number, code: number | bigint): void {
    this.recvStream(id).stop(code);
  }

  /** Queues a datagram; throws DatagramError when unsupported or too large. */
  sendDatagram(data: Uint8Array): void {
    this.onCommand?.();
    this.assertUsable();
    this.datagrams.send(data, this.paths.recovery.mtu.current, this.remoteCids.current.length);
  }

  /** The oldest received datagram, or undefined. */
  recvDatagram(): Uint8Array | undefined {
    this.onCommand?.();
    return this.datagrams.recv();
  }

  /** Sends an ack-eliciting PING (keeps the path alive, measures RTT). */
  ping(): void {
    this.onCommand?.();
    this.tx.requestPing();
  }

  /** Starts a 1-RTT key update (RFC 9001 §6.1); returns false when one may not start yet. */
  initiateKeyUpdate(now: number): boolean {
    this.onCommand?.();
    if (!this.handshake.isConfirmed || !this.keys.canInitiateUpdate) return false;
    this.keys.initiateUpdate(now, this.currentPto());
    return true;
  }

  /**
   * Checks that the peer still holds the current address (RFC 9000 §8.2: "an endpoint might check
   * that a peer is still in possession of its address after a period of quiescence"): a
   * PATH_CHALLENGE in a probing datagram; `getStats().pathValidations` counts the answer.
   */
  validatePath(now: number): void {
    this.onCommand?.();
    this.assertUsable();
    if (!this.handshake.isConfirmed) return;
    if (this.qlog) this.qlog.now = now;
    this.paths.validateCurrent(now, this.currentPto());
  }

  /**
   * Closes the connection with an application error code and reason (CONNECTION_CLOSE 0x1d),
   * entering the closing period (RFC 9000 §10.2.1).
   */
  close(now: number, code: number | bigint, reason = ''): void {
    this.onCommand?.();
    if (this.lifecycle.isClosed) return;
    const q = this.qlog;
    if (q) q.now = now;
    const frame: CloseFrame = { kind: 'connectionClose', application: true, errorCode: code, frameType: 0, reason: utf8(reason) };
    this.lifecycle.close(now, frame, { kind: 'application', code, reason, remote: false }, this.currentPto());
    if (q) this.afterInput(q);
  }

  // ------------------------------------------------------------------ inputs

  /**
   * A UDP datagram arrived for this connection from `from` ("ip:port"; omitted, the current
   * path). Never throws on peer input: malformed packets are dropped, protocol violations close
   * the connection.
   */
  handleDatagram(now: number, data: Uint8Array, from?: string): void {
    const state = this.lifecycle.state;
    if (state === 'terminated' || state === 'draining') return;
    if (!this.paths.onDatagramFrom(from, data.length, this.handshake.isConfirmed)) {
      this.rx.onDatagramDropped(data.length);
      return;
    }
    if (state === 'closing') {
      this.rx.onDatagramIgnored(data.length);
      this.lifecycle.onPacketWhileClosing();
      return;
    }
    const q = this.qlog;
    if (q) q.now = now;
    try {
      this.rx.handleDatagram(now, data);
    } catch (e) {
      this.onError(now, e);
    }
    if (q) this.afterInput(q);
  }

  /** The timer from `pollTimeout()` fired (or any time: only what is due happens). */
  handleTimeout(now: number): void {
    if (this.lifecycle.isTerminated) return;
    const q = this.qlog;
    if (q) q.now = now;
    try {
      this.onTimeout(now);
    } catch (e) {
      this.onError(now, e);
    }
    if (q) this.afterInput(q);
  }

  // ------------------------------------------------------------------ outputs

  /**
   * Writes the next datagram into `out` (sized for the path: pass at least `maxUdpPayloadSize`
   * bytes) and returns its length, or 0 when there is nothing to send now. Its destination is
   * `transmitAddress`.
   */
  pollTransmit(now: number, out: Uint8Array): number {
    const state = this.lifecycle.state;
    if (state === 'terminated' || state === 'draining') return 0;
    const q = this.qlog;
    if (q) q.now = now;
    let len: number;
    try {
      len = this.tx.pollTransmit(now, out);
    } catch (e) {
      this.onError(now, e);
      len = this.lifecycle.state === 'closing' ? this.tx.transmitClose(now, out) : 0;
    }
    if (q) this.afterInput(q);
    return len;
  }

  /** When `handleTimeout` should next be called (ms), or Infinity. */
  pollTimeout(): number {
    const lc = this.lifecycle;
    if (lc.isTerminated) return Number.POSITIVE_INFINITY;
    if (lc.isClosed) return lc.closeDeadline;
    const pto = this.currentPto();
    let t = Math.min(this.loss.timeout, this.idle.deadline(pto), this.tx.pacingWake, this.keys.previousReadDiscardAt);
    if (!this.handshake.isComplete) t = Math.min(t, this.handshake.deadline);
    // What the anti-amplification limit keeps us from sending (an ACK, a keep-alive; RFC 9000
    // §8.1, §9.3) waits for the peer's next datagram: its deadline is no timer, or a driver would
    // spin on it. MTU probes wait for a validated path (transmit.ts).
    const path = this.paths.current;
    if (path.validated || path.budget >= MIN_PACKET_BUDGET) {
      for (const s of this.spaces.all) if (!s.discarded && this.keys.canWrite(s.space)) t = Math.min(t, s.ack.ackDeadline);
      if (this.handshake.isComplete) t = Math.min(t, this.idle.keepAliveAt);
    }
    const mtuAt = this.paths.recovery.mtu.nextSearchAt;
    if (mtuAt !== undefined && path.validated) t = Math.min(t, mtuAt);
    return Math.min(t, this.paths.timeout);
  }

  /** The next event, or undefined. */
  pollEvent(): ConnectionEvent | undefined {
    const e = this.events.shift();
    if (e !== undefined && (e.type === 'readable' || e.type === 'writable')) this.streams.eventTaken(e);
    return e;
  }

  // ------------------------------------------------------------------ TLS and the handshake

  private processTlsEvents(now: number): void {
    const tls = this.handshake.tls;
    for (let e = tls.pollEvent(); e; e = tls.pollEvent()) {
      switch (e.kind) {
        case 'writeData': {
          const space = LEVEL_SPACE[e.level];
          if (space === undefined) throw new TransportError(TransportErrorCode.INTERNAL_ERROR, 'TLS wrote 0-RTT data');
          this.spaces.at(space).crypto.write(e.data);
          break;
        }
        case 'readSecret':
        case 'writeSecret': {
          const dir = e.kind === 'readSecret' ? 'read' : 'write';
          if (e.level === Level.Handshake) {
            this.keys.setHandshakeSecret(dir, e.suite, e.secret);
            if (this.role === 'client' && !this.loss.hasHandshakeKeys) this.loss.onHandshakeKeys(now, this.paths.recovery.rtt);
          } else if (e.level === Level.Application) {
            this.keys.setOneRttSecret(dir, e.suite, e.secret);
          }
          if (this.qlog && e.level !== Level.Initial) {
            const writer = dir === 'write' ? this.role : this.role === 'client' ? 'server' : 'client';
            qlogTlsKey(this.qlog, writer, e.level === Level.Handshake ? 'handshake' : '1rtt');
          }
          if (dir === 'read') this.rx.onReadKeys(now);
          break;
        }
        case 'peerTransportParameters':
          this.onPeerParams(now, e.data);
          break;
        case 'handshakeDone':
          this.onHandshakeComplete(now);
          break;
        case 'sessionTicket':
          break; // no resumption: tickets are accepted and dropped (IROH.md: iroh sends two)
      }
    }
  }

  private onPeerParams(now: number, data: Uint8Array): void {
    const p = this.handshake.onPeerParams(data);
    if (this.role === 'client' && p.statelessResetToken) this.remoteCids.setInitialResetToken(p.statelessResetToken);
    if (this.qlog) this.qlog.emit({ time: this.qlog.now, name: 'transport:parameters_set', data: qlogParameters('remote', p) });
    this.streams.setPeerParams(p);
    this.loss.setMaxAckDelay(p.maxAckDelay, now, this.paths.recovery.rtt);
    this.datagrams.setPeerMaxFrameSize(p.maxDatagramFrameSize);
    this.idle.onPeerTimeout(p.maxIdleTimeout);
    this.localCids.setPeerLimit(Math.min(p.activeConnectionIdLimit, 8));
  }

  private onHandshakeComplete(now: number): void {
    this.handshake.onComplete();
    this.lifecycle.onEstablished();
    this.logState();
    this.events.push({ type: 'connected' });
    // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes.
    if (this.role === 'server') this.onHandshakeConfirmed(now);
    this.rx.onReadKeys(now);
  }

  private onHandshakeConfirmed(now: number): void {
    if (!this.handshake.onConfirmed()) return;
    this.logState();
    this.loss.onHandshakeConfirmed(now, this.paths.recovery.rtt);
    // RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed.
    this.discardSpace(PacketSpace.Initial, now);
    this.discardSpace(PacketSpace.Handshake, now);
    const peer = this.handshake.peerParams;
    if (this.config.mtuDiscovery && peer) this.paths.recovery.mtu.enable(peer.maxUdpPayloadSize);
    this.events.push({ type: 'handshakeConfirmed' });
  }

  /** Keys of `space` are discarded (RFC 9001 §4.9): its packets leave flight, its waiting packets go. */
  private discardSpace(space: PacketSpace, now: number): void {
    const sp = this.spaces.at(space);
    if (sp.discarded) return;
    sp.discard();
    this.keys.discard(space);
    const r = this.paths.recovery;
    r.cc.onPacketsDiscarded(this.loss.discardSpace(space, now, r.rtt));
    this.rx.discardBuffered(space);
  }

  /** A fresh recovery state for a new network path, searching the MTU once allowed. */
  private newPathRecovery(): PathRecovery {
    const r = new PathRecovery(this.config);
    const peer = this.handshake.peerParams;
    if (this.config.mtuDiscovery && peer && this.handshake.isConfirmed) r.mtu.enable(peer.maxUdpPayloadSize);
    return r;
  }

  // ------------------------------------------------------------------ timers

  private onTimeout(now: number): void {
    const lc = this.lifecycle;
    if (lc.isClosed) {
      lc.onTimeout(now);
      return;
    }
    const pto = this.currentPto();
    if (now >= this.idle.deadline(pto)) {
      lc.closeSilently({ kind: 'idle', code: 0, reason: `no packet received for ${this.idle.timeout} ms (idle timeout)`, remote: false });
      return;
    }
    const hs = this.handshake;
    if (!hs.isComplete && now >= hs.deadline) {
      lc.close(now, transportClose(TransportErrorCode.CONNECTION_REFUSED, 'handshake timeout'), {
        kind: 'handshakeTimeout', code: TransportErrorCode.CONNECTION_REFUSED,
        reason: `the handshake did not complete within ${this.config.handshakeTimeoutMs} ms`, remote: false,
      }, pto);
      return;
    }
    this.keys.onTimeout(now);
    if (now >= this.paths.timeout) {
      const noPath = this.paths.onTimeout(now);
      if (noPath !== undefined) {
        // RFC 9000 §9.3.2: silently, with NO_VIABLE_PATH as the reason the application sees.
        lc.closeSilently({ kind: 'transport', code: TransportErrorCode.NO_VIABLE_PATH, reason: noPath, remote: false });
        return;
      }
    }
    this.tx.onTimeout(now);
    if (now >= this.loss.timeout) this.recovery.onLossTimeout(now);
    if (hs.isComplete && now >= this.idle.keepAliveAt) this.tx.requestPing();
    if (hs.isConfirmed) this.keys.maybeUpdate(now, this.config.keyUpdateIntervalPackets, this.currentPto());
  }

  // ------------------------------------------------------------------ errors and helpers

  /** An error while handling input: the connection closes with the RFC code (a bug of ours: INTERNAL_ERROR). */
  private onError(now: number, e: unknown): void {
    if (this.lifecycle.isClosed) return;
    let frame: CloseFrame;
    let reason: CloseReason;
    if (e instanceof TransportError) {
      frame = transportClose(e.code, e.reason, e.frameType);
      reason = { kind: 'transport', code: e.code, reason: e.reason, remote: false, frameType: e.frameType };
    } else if (e instanceof TlsAlert) {
      frame = transportClose(e.quicCode, e.message);
      reason = { kind: 'transport', code: e.quicCode, reason: e.message, remote: false };
    } else {
      // A bug of ours: close with INTERNAL_ERROR rather than crash the process (the driver logs it).
      const msg = e instanceof Error ? e.message : String(e);
      frame = transportClose(TransportErrorCode.INTERNAL_ERROR, 'internal error');
      reason = { kind: 'transport', code: TransportErrorCode.INTERNAL_ERROR, reason: `internal error: ${msg}`, remote: false };
    }
    this.lifecycle.close(now, frame, reason, this.currentPto());
  }

  private assertUsable(): void {
    if (this.lifecycle.isClosed) throw new ConnectionClosedError(this.lifecycle.closeReason);
  }

  /** The ack_delay_exponent of the peer's ACK frames in `space` (RFC 9000 §18.2; 3 outside 1-RTT). */
  private peerAckDelayExponent(space: PacketSpace): number {
    return space === PacketSpace.Application ? (this.handshake.peerParams?.ackDelayExponent ?? 3) : 3;
  }

  /** qlog: the state, the close, a local key update and the metrics, when changed; the trace ends with the connection. */
  private afterInput(q: QlogTracer): void {
    const r = this.paths.recovery;
    q.afterInput({
      state: qlogState(this.lifecycle.state, this.handshake),
      closeReason: this.lifecycle.closeReason,
      keyGeneration: this.keys.updates,
      rtt: r.rtt,
      ptoCount: this.loss.ptoCount,
      cc: r.cc,
    });
    if (this.lifecycle.isTerminated) {
      // The trace ends here: the sink is told no event follows.
      this.setQlog(undefined, q.now);
      q.sink.close?.();
    }
  }

  private logState(): void {
    this.qlog?.stateChanged(qlogState(this.lifecycle.state, this.handshake));
  }
}

/** Thrown by commands on a closed connection. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  readonly reason: CloseReason | undefined;
  constructor(reason: CloseReason | undefined) {
    super(`connection closed${reason ? `: ${reason.reason || reason.kind}` : ''}`);
    this.reason = reason;
  }
}

const LEVEL_SPACE: Partial<Record<Level, PacketSpace>> = {
  [Level.Initial]: PacketSpace.Initial,
  [Level.Handshake]: PacketSpace.Handshake,
  [Level.Application]: PacketSpace.Application,
};
