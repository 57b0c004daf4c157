import { utf8 } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import type { CloseReason, ConnectionEvent } from '../events.js';
import { LossDetector } from '../recovery/loss.js';
import type { Direction } from '../streams/stream-id.js';
import { StreamMap } from '../streams/stream-map.js';
import { offersAddressDiscovery, resolveTransportConfig } from '../transport-config.js';
import type { TransportParameters } from '../transport-params.js';
import type { HeaderProtectionBatch, HeaderProtectionKey } from '../crypto/header-protection.js';
import { TlsAlert } from '../../tls/alerts.js';
import type { EarlyDataState } from '../../tls/engine.js';
import { LocalCids, RemoteCids } from './cids.js';
import { LossRecovery } from './loss-recovery.js';
import type { ConnectionOptions } from './options.js';
import { Datagrams, type DatagramSendReport } from './datagrams.js';
import { EventQueue } from './event-queue.js';
import { Handshake } from './handshake.js';
import { IdleTimer } from './idle.js';
import { ConnectionKeys } from './keys.js';
import { Lifecycle, transportClose, type CloseFrame, type ConnectionState } from './lifecycle.js';
import { PathSet } from './paths.js';
import { MultipathState } from './multipath.js';
import { NatLink, liveAddresses, wantsHolePunch } from './nat.js';
import { AddressDiscovery } from './address-discovery.js';
import { PathCids } from './path-cids.js';
import { PathIds } from './path-ids.js';
import { pathSnapshots } from './path-info.js';
import { connectionStats } from './connection-stats.js';
import type { OpenPathResult, PathInfo, PathStatus } from './path-types.js';
import type { ConnectionStats } from './stats.js';
import { currentPto, type ConnectionParts } from './parts.js';
import { HandshakeProgress } from './progress.js';
import { QlogTracer, Trace, qlogState, startTrace, type QlogSink } from './qlog.js';
import { FrameDispatcher } from './dispatch.js';
import { Receiver, isPeerStatelessReset } from './receive.js';
import type { PacketRecord } from './sent-packet.js';
import { PacketSpaces } from './spaces.js';
import { PacketSpace } from '../packet/space.js';
import { RecvStreamHandle, SendStreamHandle, StreamHost } from './stream-handles.js';
import { MIN_PACKET_BUDGET, Transmitter } from './transmit.js';

export type { ConnectionTlsOptions } from './handshake.js';
export type { ClientConnectionOptions, ConnectionOptions, ServerConnectionOptions } from './options.js';
export { ConnectionClosedError, type ConnectionState } from './lifecycle.js';
export type { ConnectionStats, DatagramStats, NatTraversalStats, PathStats } from './stats.js';
export type { DatagramDropReason, DatagramSendReport, DroppedDatagram } from './datagrams.js';
export type { QlogSink } from './qlog.js';
export type { OpenPathBlocked, OpenPathResult, PathInfo, PathStatus } from './path-types.js';

/**
 * The parts of a connection, each the owner of its state (for tests and the fuzzer's oracle,
 * which read them; driving them directly bypasses the connection). @internal
 */
export interface ConnectionInternals extends ConnectionParts {
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
 * It holds its parts privately and orchestrates them; each part owns its state: Lifecycle
 * (states and closing), Handshake (TLS, transport parameters, handshake CIDs), ConnectionKeys,
 * PacketSpaces (packet numbers, ACK tracking, CRYPTO streams), LossDetector (RFC 9002), PathSet
 * (paths, each with its congestion controller, RTT, pacer, MTU discovery and anti-amplification
 * budget; validation and migration), StreamMap, Datagrams, LocalCids/RemoteCids, IdleTimer; the
 * Receiver and Transmitter move packets, FrameDispatcher, LossRecovery and HandshakeProgress say
 * what frames, acknowledgments and the handshake mean for the parts. A peer error anywhere
 * becomes a TransportError that closes this connection with the RFC code; nothing escapes to
 * the driver.
 */
export class Connection {
  readonly role: 'client' | 'server';
  /**
   * Set by the owner (EndpointCore): called by every command, which may give the connection
   * something to send or move its timer, so the owner polls only connections that were touched.
   * (Inputs, timers and pollTransmit go through the owner already.)
   */
  onCommand: (() => void) | undefined = undefined;

  /** The parts, each the owner of its state. */
  private readonly p: ConnectionParts;
  private readonly progress: HandshakeProgress;
  private readonly recovery: LossRecovery;
  private readonly pathIds: PathIds;
  private readonly rx: Receiver;
  private readonly tx: Transmitter;
  private readonly streamHost: StreamHost;

  constructor(options: ConnectionOptions, now: number) {
    this.role = options.role;
    const c = resolveTransportConfig(options.transport);
    const isClient = options.role === 'client';
    const events = new EventQueue();
    const loss = new LossDetector<PacketRecord>({ isServer: !isClient });
    const streams = new StreamMap(options.role, c.streams, events);
    const localCids = new LocalCids(c.localCidLength, options.random, options.resetToken);
    const first = localCids.issueInitial();
    const ourScid = first.cid;
    const handshake = new Handshake(
      options.role === 'client'
        ? { role: 'client', initialDcidLength: options.initialDcidLength ?? 16, token: options.token }
        : { role: 'server', initialDcid: options.initialDcid, clientScid: options.clientScid, retry: options.retry, resetToken: first.resetToken },
      options.tls,
      c,
      options.random,
      ourScid,
      streams.localParams(),
      now,
    );
    const remoteCids = new RemoteCids(handshake.peerInitialCid, c.activeConnectionIdLimit);
    const keys = new ConnectionKeys(isClient, c.insecureNullKeys);
    keys.setInitial(handshake.initialSecretDcid);
    const trace = new Trace();
    const validated = isClient || (options.role === 'server' && options.addressValidated === true);
    const paths = new PathSet(options.remoteAddress ?? '', validated, { role: options.role, config: c, random: options.random, remoteCids, loss, handshake, trace }, options.role === 'client' ? options.alternateAddresses : undefined);
    const lifecycle = new Lifecycle(events);
    this.p = {
      role: options.role, config: c, random: options.random, events, lifecycle, handshake, keys,
      spaces: new PacketSpaces(c), loss, streams,
      datagrams: new Datagrams({ maxFrameSize: c.maxDatagramFrameSize, sendQueueCount: c.datagramSendQueue, recvQueueCount: c.datagramRecvQueue }, events),
      localCids, remoteCids, paths,
      multipath: new MultipathState(c.multipath ? new PathCids(c.localCidLength, options.random, options.resetToken, c.activeConnectionIdLimit) : null),
      nat: c.multipath && c.natTraversal ? new NatLink() : null, qad: offersAddressDiscovery(c) ? new AddressDiscovery(2) : null, idle: new IdleTimer(c.maxIdleTimeoutMs, c.keepAliveIntervalMs, now), trace,
    };
    this.progress = new HandshakeProgress(this.p);
    this.recovery = new LossRecovery(this.p);
    this.pathIds = new PathIds(this.p, this.recovery);
    this.rx = new Receiver(this.p, new FrameDispatcher(this.p, this.progress, this.recovery, this.pathIds));
    this.tx = new Transmitter(this.p, this.progress, ourScid, this.pathIds);
    this.streamHost = new StreamHost(streams, lifecycle, this);
    if (isClient) {
      handshake.tls.start();
      this.progress.processTlsEvents(now);
      this.progress.applyRememberedParams();
    }
    if (options.qlog) this.setQlog(options.qlog, now);
  }

  // ------------------------------------------------------------------ queries

  /** handshake, established, closing, draining or terminated (RFC 9000 §10). */
  get state(): ConnectionState {
    return this.p.lifecycle.state;
  }

  /** True once the handshake completed (the peer is authenticated) and until the connection closes. */
  get isConnected(): boolean {
    return this.p.handshake.isComplete && this.p.lifecycle.isOpen;
  }

  /**
   * Server: sends `token` in a NEW_TOKEN frame (RFC 9000 §8.1.3) once 1-RTT packets can carry it
   * (the endpoint issues it after the handshake and after a migration).
   */
  sendNewToken(token: Uint8Array): void {
    if (this.role !== 'server' || !this.p.lifecycle.isOpen) return;
    this.p.handshake.queueNewToken(token);
    this.onCommand?.();
  }

  /** The handshake resumed a session with a ticket (RFC 9846 §2.2): no certificates were exchanged. */
  get resumed(): boolean {
    return this.p.handshake.tls.resumed;
  }

  /**
   * 0-RTT (RFC 9001 §4.6): `none` (not offered), `offered` (a client that may send 0-RTT now:
   * streams and datagrams within the remembered limits), `accepted` or `rejected` (an 'earlyData'
   * event says when it is decided).
   */
  get earlyData(): EarlyDataState {
    return this.p.handshake.tls.earlyData;
  }

  /** True once closing, draining or terminated. */
  get isClosed(): boolean {
    return this.p.lifecycle.isClosed;
  }

  get isTerminated(): boolean {
    return this.p.lifecycle.isTerminated;
  }

  /** The header protection key of the peer's 1-RTT packets, once there is one (the driver primes its masks). */
  get shortHeaderReadKey(): HeaderProtectionKey | undefined {
    return this.p.keys.oneRttReadHeader;
  }

  /** The handshake completed on our side: the peer is authenticated. */
  get handshakeComplete(): boolean {
    return this.p.handshake.isComplete;
  }

  /** RFC 9001 §4.1.2: the handshake is confirmed. */
  get handshakeConfirmed(): boolean {
    return this.p.handshake.isConfirmed;
  }

  /** Why the connection closed, once it did. */
  get closeInfo(): CloseReason | undefined {
    return this.p.lifecycle.closeReason;
  }

  /** The negotiated ALPN. */
  get alpn(): string | undefined {
    return this.p.handshake.tls.alpn;
  }

  /** The peer's verified Ed25519 public key. */
  get peerPublicKey(): Uint8Array | undefined {
    return this.p.handshake.tls.peerPublicKey;
  }

  /** X.509 mode: the peer's verified certificate chain (DER, leaf first). */
  get peerCertificates(): readonly Uint8Array[] | undefined {
    return this.p.handshake.tls.peerCertificates;
  }

  /** The peer's transport parameters, once known. */
  get peerTransportParameters(): Readonly<TransportParameters> | undefined {
    return this.p.handshake.peerParams;
  }

  /** The transport parameters we sent. */
  get localTransportParameters(): Readonly<TransportParameters> {
    return this.p.handshake.localParams;
  }

  /**
   * Where this connection's non-probing packets go: the peer's address as the driver named it
   * (undefined when the driver gives none). It follows the peer's migrations (RFC 9000 §9) and,
   * with multipath once path 0 is abandoned, the path new data goes on.
   */
  get remoteAddress(): string | undefined {
    return (this.p.multipath.isPathZeroAbandoned ? this.pathIds.currentAddress : this.p.paths.current.address) || undefined;
  }

  /**
   * Where copies of the datagram the last `pollTransmit` wrote for the current path go too: a
   * client's other server addresses until the server answered (see `alternateAddresses`).
   */
  get copyAddresses(): readonly string[] {
    return this.p.paths.copyAddresses;
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
    return this.p.handshake.originalDcid;
  }

  /** Packets that opened so far (an endpoint keeps no state for a first datagram of which none did). */
  get packetsReceived(): number {
    return this.rx.packetsReceived;
  }

  /** The current PTO period without backoff (RFC 9002 §6.2.1), ms. */
  currentPto(): number {
    return currentPto(this.p);
  }

  /**
   * Whether `takeCidChanges` has anything: the endpoint asks after every datagram, and most have
   * none (a check allocates nothing; a take makes two arrays and an object).
   */
  get hasCidChanges(): boolean {
    return this.p.localCids.hasChanges || this.p.multipath.cids?.hasChanges === true;
  }

  /** CIDs to add to / remove from the endpoint's routing table since the last call. */
  takeCidChanges(): { added: Uint8Array[]; retired: Uint8Array[] } {
    const added = this.p.localCids.takeAdded();
    const retired = this.p.localCids.takeRetired();
    const pathCids = this.p.multipath.cids;
    if (pathCids !== null) {
      pathCids.takeAdded(added);
      pathCids.takeRetired(retired);
    }
    return { added, retired };
  }

  /**
   * Our CIDs still active, of path 0 and (multipath) every path id: what the endpoint routes to
   * this connection once `takeCidChanges` is drained.
   */
  activeLocalCids(): Uint8Array[] {
    const out = this.p.localCids.activeCids().map((c) => c.cid);
    this.p.multipath.cids?.activeCids(out);
    return out;
  }

  /**
   * RFC 9000 §10.3.1: whether `datagram` ends with the stateless reset token of one of the peer's
   * CIDs. The endpoint asks this of the connections at a datagram's address when the datagram
   * routes to no CID (a reset's DCID is random), then hands it to the matching one.
   */
  isStatelessReset(datagram: Uint8Array): boolean {
    return isPeerStatelessReset(this.p, datagram);
  }

  /** The largest datagram payload that can be sent now, or undefined when the peer does not accept datagrams. */
  maxDatagramSize(): number | undefined {
    // Before the server's parameters: those remembered for 0-RTT (RFC 9000 §7.4.1), if any.
    if (!this.p.handshake.peerParams && !(this.p.handshake.rememberedParams && this.earlyData === 'offered')) return undefined;
    return this.p.datagrams.maxSize(this.p.paths.recovery.mtu.current, this.p.remoteCids.current.length);
  }

  getStats(): ConnectionStats {
    return connectionStats(this.p, this.tx.stats, this.rx.stats, this.paths());
  }

  /** The parts of the connection. @internal (tests, the fuzzer's oracle) */
  get internals(): ConnectionInternals {
    return { ...this.p, receiver: this.rx, transmitter: this.tx, qlog: this.p.trace.tracer };
  }

  // ------------------------------------------------------------------ commands

  /**
   * Starts qlog tracing into `sink` (the local transport parameters and the state are logged
   * first), replaces the sink of a running trace, or stops tracing (undefined).
   */
  setQlog(sink: QlogSink | undefined, now: number): void {
    if (!sink) {
      this.p.trace.tracer = undefined;
      this.tx.traceSealed(undefined);
      return;
    }
    if (this.p.trace.tracer) {
      this.p.trace.tracer.sink = sink;
      return;
    }
    const q = (this.p.trace.tracer = new QlogTracer(sink, now));
    this.tx.traceSealed(q);
    startTrace(q, this.p.handshake.localParams, this.p.keys.hasInitialKeys, this.p.handshake.peerParams);
    this.afterInput(q);
  }

  /** Opens a stream; returns its id, or null when the peer's stream limit blocks (retry on 'streams-available'). */
  openStream(direction: Direction, priority = 0): number | null {
    this.onCommand?.();
    this.assertUsable();
    const r = this.p.streams.open(direction, priority);
    return r.kind === 'opened' ? r.stream.id : null;
  }

  /** The next stream the peer opened, or null. */
  acceptStream(direction: Direction): number | null {
    this.onCommand?.();
    return this.p.streams.accept(direction)?.id ?? null;
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

  /**
   * Queues a datagram and returns its id (0, 1, 2... per connection); throws DatagramError when
   * unsupported or too large. A 'datagramsSent' event follows once it left in a packet or was
   * dropped; `takeDatagramSendReport()` says which.
   */
  sendDatagram(data: Uint8Array): number {
    this.onCommand?.();
    this.assertUsable();
    return this.p.datagrams.send(data, this.p.paths.recovery.mtu.current, this.p.remoteCids.current.length);
  }

  /** What became of queued datagrams since the last call (after a 'datagramsSent' event). */
  takeDatagramSendReport(): DatagramSendReport {
    return this.p.datagrams.takeSendReport();
  }

  /** The oldest received datagram, or undefined. */
  recvDatagram(): Uint8Array | undefined {
    this.onCommand?.();
    return this.p.datagrams.recv();
  }

  /** Sends an ack-eliciting PING (keeps the path alive, measures RTT). */
  ping(): void {
    this.onCommand?.();
    this.tx.requestPing();
  }

  /** Starts a 1-RTT key update (RFC 9001 §6.1); returns false when one may not start yet. */
  initiateKeyUpdate(now: number): boolean {
    this.onCommand?.();
    if (!this.p.handshake.isConfirmed || !this.p.keys.canInitiateUpdate) return false;
    this.p.keys.initiateUpdate(now, this.currentPto());
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
    if (!this.p.handshake.isConfirmed) return;
    if (this.p.trace.tracer) this.p.trace.tracer.now = now;
    this.p.paths.validateCurrent(now, this.currentPto());
  }

  /**
   * Our candidate addresses for iroh's n0 NAT traversal (TransportConfig.natTraversal): every
   * `ip:port` the peer might reach us at (the session layer gathers them: our sockets' interface
   * addresses). Call again when they change: a server announces new ones (ADD_ADDRESS) and
   * withdraws the missing (REMOVE_ADDRESS); a client puts them in the REACH_OUTs of its rounds
   * and starts one when one is new. `families`: the address families our sockets reach. Kept
   * until NAT traversal is negotiated; ignored when it is off.
   */
  setLocalCandidates(now: number, addresses: readonly string[], families?: { readonly ipv4: boolean; readonly ipv6: boolean }): void {
    const nat = this.p.nat;
    if (nat === null) return;
    this.onCommand?.();
    nat.setLocalCandidates(now, addresses, families);
  }

  /**
   * Multipath (draft-ietf-quic-multipath §3.1; `TransportConfig.multipath` on both sides): opens
   * a new path toward `address` (an "ip:port" or any address the driver knows, such as a relay
   * path), with the next path id the peer allows. The path is validated with a PATH_CHALLENGE;
   * new data moves to it once validated if it is the best available path (lowest RTT). Blocked
   * when multipath was not negotiated, the handshake is not confirmed yet, every path id the
   * peer allows is used (PATHS_BLOCKED is sent), or the peer gave no connection id for the next
   * path id (PATH_CIDS_BLOCKED is sent). The n0 NAT traversal calls this when a probe is answered.
   */
  openPath(now: number, address: string): OpenPathResult {
    this.onCommand?.();
    if (this.p.trace.tracer) this.p.trace.tracer.now = now;
    return this.pathIds.open(now, address);
  }

  /**
   * Multipath: abandons path id `pathId` (draft §3.4): nothing more is sent on it, the peer
   * is told with PATH_ABANDON (`code`, a transport error code), what was in flight on it is sent
   * again on another path. Path 0 may be abandoned while another validated path is open; the
   * connection then goes on there. Abandoning the last path left closes the connection.
   * Returns false when no such open path id exists (or path 0 has no validated path to leave for).
   */
  abandonPath(now: number, pathId: number, code = 0): boolean {
    this.onCommand?.();
    if (this.p.trace.tracer) this.p.trace.tracer.now = now;
    return this.pathIds.abandon(now, pathId, code);
  }

  /**
   * Multipath: our status for path id `pathId` (0 included; draft §3.3): 'backup' asks the peer to send
   * on it only when no 'available' path works, and we do the same. Returns false when no such
   * open path id exists.
   */
  setPathStatus(pathId: number, status: PathStatus): boolean {
    this.onCommand?.();
    return this.pathIds.setStatus(pathId, status);
  }

  /**
   * A snapshot of every open path (path 0 first, then path ids ≥ 1 in the order they opened,
   * abandoned ones while their state lingers): path id, remote address, both sides' status,
   * validated, selected for new data, RTT, congestion window and counters. Without multipath
   * it holds path 0 only.
   */
  paths(): PathInfo[] {
    return pathSnapshots(this.p, this.pathIds.selectDataPath(), this.tx.stats, this.rx.stats);
  }

  /**
   * Closes the connection with an application error code and reason (CONNECTION_CLOSE 0x1d),
   * entering the closing period (RFC 9000 §10.2.1).
   *
   * With `flush`, once the handshake is complete, the CONNECTION_CLOSE waits until the queued
   * datagrams, stream data (and FINs) and CRYPTO data (a client's Finished) were sent once, as fast
   * as the congestion window and the pacer allow, for at most three PTOs; meanwhile the connection
   * stays established ('closed' comes with the close itself). Nothing waits for acknowledgments:
   * what is lost on the way is not retransmitted after the close. A close while one waits (the
   * endpoint closing, say) carries the waiting one out at once.
   */
  close(now: number, code: number | bigint, reason = '', options: { readonly flush?: boolean } = {}): void {
    this.onCommand?.();
    const lc = this.p.lifecycle;
    if (lc.isClosed) return;
    const q = this.p.trace.tracer;
    if (q) q.now = now;
    if (lc.hasCloseRequest) {
      lc.closeAsRequested(now, this.currentPto());
    } else {
      const frame: CloseFrame = { kind: 'connectionClose', application: true, errorCode: code, frameType: 0, reason: utf8(reason) };
      const why: CloseReason = { kind: 'application', code, reason, remote: false };
      if (options.flush === true && this.p.handshake.isComplete) {
        lc.requestClose(frame, why, now + 3 * this.currentPto());
        this.closeIfFlushed(now);
      } else {
        lc.close(now, frame, why, this.currentPto());
      }
    }
    if (q) this.afterInput(q);
  }

  // ------------------------------------------------------------------ inputs

  /**
   * A UDP datagram arrived for this connection from `from` ("ip:port"; omitted, the current
   * path). Never throws on peer input: malformed packets are dropped, protocol violations close
   * the connection.
   */
  handleDatagram(now: number, data: Uint8Array, from?: string): void {
    const state = this.p.lifecycle.state;
    if (state === 'terminated' || state === 'draining') return;
    const pathId = this.p.multipath.cids !== null ? this.pathIdOf(data) : 0;
    if (pathId !== 0) {
      // A datagram of a path id ≥ 1 (multipath): its own path's budget; path 0's rules
      // (a client hears only its server's address) are not its.
      this.pathIds.onDatagram(pathId, from, data.length);
    } else if (!this.p.paths.onDatagramFrom(from, data.length, this.p.handshake.isConfirmed)) {
      this.rx.onDatagramDropped(data.length);
      return;
    }
    if (state === 'closing') {
      this.rx.onDatagramIgnored(data.length);
      this.p.lifecycle.onPacketWhileClosing(now);
      return;
    }
    const q = this.p.trace.tracer;
    if (q) q.now = now;
    try {
      this.rx.handleDatagram(now, data);
      if (this.p.nat?.pathToOpen !== undefined) this.openNatPaths(now);
    } catch (e) {
      this.onError(now, e);
    }
    if (q) this.afterInput(q);
  }

  /**
   * n0 NAT traversal (client): each address that answered a probe gets a path id (`openPath`),
   * as noq opens a path on a successful probe; when none can open yet (path ids or the peer's
   * connection ids exhausted, the handshake not confirmed) the address waits for the next datagram.
   */
  private openNatPaths(now: number): void {
    const nat = this.p.nat!;
    let live: ReadonlySet<string> | undefined;
    for (let a = nat.pathToOpen; a !== undefined && this.p.lifecycle.isOpen; a = nat.pathToOpen) {
      // An address that has a path already (path 0's, say, when the client dialled it) needs no other.
      live ??= liveAddresses(this.p);
      if (live.has(a)) {
        nat.onPathOpened(now, false);
        continue;
      }
      if (this.pathIds.open(now, a).kind !== 'opened') return;
      nat.onPathOpened(now);
    }
  }

  /** The timer from `pollTimeout()` fired (or any time: only what is due happens). */
  handleTimeout(now: number): void {
    if (this.p.lifecycle.isTerminated) return;
    const q = this.p.trace.tracer;
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
   * `transmitAddress`. `headerProtection`: the packets' header protection goes there, and the
   * caller must `apply()` it before the bytes leave or are read (the driver does, per burst).
   */
  pollTransmit(now: number, out: Uint8Array, headerProtection: HeaderProtectionBatch | null = null): number {
    const state = this.p.lifecycle.state;
    if (state === 'terminated' || state === 'draining') return 0;
    const q = this.p.trace.tracer;
    if (q) q.now = now;
    let len: number;
    this.tx.builder.headerProtection = headerProtection;
    try {
      len = this.tx.pollTransmit(now, out);
      if (len === 0 && this.p.lifecycle.hasCloseRequest) {
        // Nothing more goes now: a close waiting for the queued data may be due.
        this.closeIfFlushed(now);
        if (this.p.lifecycle.state === 'closing') len = this.tx.transmitClose(now, out);
      }
    } catch (e) {
      this.onError(now, e);
      len = this.p.lifecycle.state === 'closing' ? this.tx.transmitClose(now, out) : 0;
    } finally {
      this.tx.builder.headerProtection = null;
    }
    if (q) this.afterInput(q);
    return len;
  }

  /** When `handleTimeout` should next be called (ms), or Infinity. */
  pollTimeout(): number {
    const lc = this.p.lifecycle;
    if (lc.isTerminated) return Number.POSITIVE_INFINITY;
    if (lc.isClosed) return lc.closeDeadline;
    const pto = this.currentPto();
    // An abandoned path 0 has nothing in flight (declared lost) and probes nothing.
    const lossAt = this.p.multipath.isPathZeroAbandoned ? Number.POSITIVE_INFINITY : this.p.loss.timeout;
    let t = Math.min(lossAt, this.p.idle.deadline(pto), this.tx.pacingWake, this.p.keys.previousReadDiscardAt, lc.closeRequestDeadline);
    if (!this.p.handshake.isComplete) t = Math.min(t, this.p.handshake.deadline);
    // What the anti-amplification limit keeps us from sending (an ACK, a keep-alive; RFC 9000
    // §8.1, §9.3) waits for the peer's next datagram: its deadline is no timer, or a driver would
    // spin on it. MTU probes wait for a validated path (transmit.ts).
    const path = this.p.paths.current;
    if (path.validated || path.budget >= MIN_PACKET_BUDGET) {
      // Path 0's late packets are acknowledged 3 PTOs after it was abandoned, no longer.
      const zeroForgotten = this.p.multipath.isPathZeroForgotten;
      for (const s of this.p.spaces.all) if (!s.discarded && this.p.keys.canWrite(s.space) && !(zeroForgotten && s.space === PacketSpace.Application)) t = Math.min(t, s.ack.ackDeadline);
      if (this.p.handshake.isComplete) t = Math.min(t, this.p.idle.keepAliveAt);
    }
    // An abandoned path 0 searches no MTU and validates nothing: its timers are off.
    const zeroGone = this.p.multipath.isPathZeroAbandoned;
    const mtuAt = this.p.paths.recovery.mtu.nextSearchAt;
    if (mtuAt !== undefined && path.validated && !zeroGone) t = Math.min(t, mtuAt);
    if (this.p.multipath.cids !== null) t = Math.min(t, this.p.multipath.ackDeadline, this.pathIds.timeout);
    if (this.p.nat !== null) t = Math.min(t, this.p.nat.deadline);
    return zeroGone ? t : Math.min(t, this.p.paths.timeout);
  }

  /** The next event, or undefined. */
  pollEvent(): ConnectionEvent | undefined {
    const e = this.p.events.shift();
    if (e !== undefined && (e.type === 'readable' || e.type === 'writable')) this.p.streams.eventTaken(e);
    return e;
  }

  // ------------------------------------------------------------------ timers

  private onTimeout(now: number): void {
    const lc = this.p.lifecycle;
    if (lc.isClosed) {
      lc.onTimeout(now);
      return;
    }
    const pto = this.currentPto();
    if (now >= this.p.idle.deadline(pto)) {
      lc.closeSilently({ kind: 'idle', code: 0, reason: `no packet received for ${this.p.idle.timeout} ms (idle timeout)`, remote: false });
      return;
    }
    if (now >= lc.closeRequestDeadline) {
      lc.closeAsRequested(now, pto);
      return;
    }
    const hs = this.p.handshake;
    if (!hs.isComplete && now >= hs.deadline) {
      // One wording per cause: nothing from the peer ever opened (nobody there, or every packet
      // lost), or the peer answered and the handshake still did not finish.
      const ms = this.p.config.handshakeTimeoutMs;
      const reason = this.rx.packetsReceived === 0 ? `no answer within ${ms} ms` : `the handshake did not complete within ${ms} ms`;
      lc.close(now, transportClose(TransportErrorCode.CONNECTION_REFUSED, 'handshake timeout'), {
        kind: 'handshakeTimeout', code: TransportErrorCode.CONNECTION_REFUSED, reason, remote: false,
      }, pto);
      return;
    }
    this.p.keys.onTimeout(now);
    if (now >= this.p.paths.timeout && !this.p.multipath.isPathZeroAbandoned) {
      const noPath = this.p.paths.onTimeout(now);
      if (noPath !== undefined) {
        // RFC 9000 §9.3.2: silently, with NO_VIABLE_PATH as the reason the application sees.
        lc.closeSilently({ kind: 'transport', code: TransportErrorCode.NO_VIABLE_PATH, reason: noPath, remote: false });
        return;
      }
    }
    this.tx.onTimeout(now);
    const nat = this.p.nat;
    if (nat !== null && now >= nat.deadline) {
      // Timed rounds only while the client runs over a relay and path 0 is not abandoned.
      nat.onTimeout(now, !this.p.multipath.isPathZeroAbandoned && wantsHolePunch(this.p), liveAddresses(this.p));
    }
    if (now >= this.p.loss.timeout && !this.p.multipath.isPathZeroAbandoned) {
      this.recovery.onLossTimeout(now);
      this.pathIds.onPathZeroLossTimeout(now);
    }
    if (this.p.multipath.paths.size > 0 && now >= this.pathIds.timeout) this.pathIds.onTimeout(now);
    if (hs.isComplete && now >= this.p.idle.keepAliveAt) this.tx.requestPing();
    if (hs.isConfirmed) this.p.keys.maybeUpdate(now, this.p.config.keyUpdateIntervalPackets, this.currentPto());
  }

  // ------------------------------------------------------------------ errors and helpers

  /** The path id ≥ 1 a 1-RTT datagram's connection id belongs to, or 0 (multipath on). */
  private pathIdOf(data: Uint8Array): number {
    const len = this.p.config.localCidLength;
    if (data.length < 1 + len || (data[0]! & 0x80) !== 0) return 0;
    return this.p.multipath.cids!.pathIdOf(data.subarray(1, 1 + len)) ?? 0;
  }

  /** An error while handling input: the connection closes with the RFC code (a bug of ours: INTERNAL_ERROR). */
  private onError(now: number, e: unknown): void {
    if (this.p.lifecycle.isClosed) return;
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
    this.p.lifecycle.close(now, frame, reason, this.currentPto());
  }

  /**
   * A close waiting for the application's data (`close` with `flush`) happens once none is left
   * to send now (datagrams queued, stream data or FINs not yet sent, lost stream data due again;
   * data the peer's flow control holds back does not count) or its deadline has passed.
   */
  private closeIfFlushed(now: number): void {
    const lc = this.p.lifecycle;
    if (!lc.hasCloseRequest) return;
    if (now >= lc.closeRequestDeadline || (this.p.datagrams.queuedCount === 0 && this.p.streams.nextSendable() === null && !this.p.spaces.cryptoUnsent)) {
      lc.closeAsRequested(now, this.currentPto());
    }
  }

  private assertUsable(): void {
    this.streamHost.assertUsable();
  }

  /** qlog: the state, the close, a local key update and the metrics, when changed; the trace ends with the connection. */
  private afterInput(q: QlogTracer): void {
    const r = this.p.paths.recovery;
    q.afterInput({
      state: qlogState(this.p.lifecycle.state, this.p.handshake),
      closeReason: this.p.lifecycle.closeReason,
      keyGeneration: this.p.keys.updates,
      rtt: r.rtt,
      ptoCount: this.p.loss.ptoCount,
      cc: r.cc,
      paths: this.p.multipath.paths.size === 0 ? undefined : [...this.p.multipath.paths.values()].map((st) => ({ id: st.id, rtt: st.rtt, ptoCount: st.loss.ptoCount, cc: st.recovery.cc })),
    });
    if (this.p.lifecycle.isTerminated) {
      // The trace ends here: the sink is told no event follows.
      this.setQlog(undefined, q.now);
      q.sink.close?.();
    }
  }
}
