import { bytesEqual, fromUtf8, utf8 } from '../../codec/bytes.js';
import { LocalCids, RemoteCids, type ResetTokenFn } from './cids.js';
import { resolveTransportConfig, type TransportConfig } from '../transport-config.js';
import { createController, type CongestionController } from '../congestion/controller.js';
import { ConnectionKeys } from './keys.js';
import { CryptoStream } from './crypto-stream.js';
import { Datagrams } from './datagrams.js';
import { TransportError, TransportErrorCode, transportParameterError } from '../errors.js';
import type { CloseReason, ConnectionEvent } from '../events.js';
import { FrameContext } from '../frames/types.js';
import { FrameIterator } from '../frames/decode.js';
import type { Frame } from '../frames/frame.js';
import { MtuDiscovery } from './mtu.js';
import { AckTracker } from '../recovery/ack-tracker.js';
import { PacketSpace, PACKET_SPACES } from '../packet/space.js';
import { LossDetector } from '../recovery/loss.js';
import { Pacer } from '../recovery/pacer.js';
import type { PacketTokens } from './recovery-tokens.js';
import { StreamMap } from '../streams/stream-map.js';
import { PacketBuilder } from './packet-builder.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../transport-params.js';
import { Level, type TlsConfig, type TlsEngine } from '../../tls/engine.js';
import { TlsAlert } from '../../tls/alerts.js';
import { TlsClient } from '../../tls/client.js';
import { TlsServer } from '../../tls/server.js';
import type { Random } from '../../tls/random.js';
import { Paths, onPacketsLostOnPaths, onPathTimeout, type PathStats } from './paths.js';
import { replayBuffered } from './receive.js';
import { attachQlog, qlogPacketsLost, qlogRemoteParameters, qlogTlsKey, type QlogSink, type QlogTracer } from './qlog.js';

/** What the TLS layer needs besides what the connection supplies (transport parameters, randomness). */
export type ConnectionTlsOptions = Omit<TlsConfig, 'transportParameters' | 'random' | 'cipherSuites'>;

export interface ClientConnectionOptions {
  readonly role: 'client';
  readonly tls: ConnectionTlsOptions;
  readonly transport?: Parameters<typeof resolveTransportConfig>[0];
  readonly random: Random;
  readonly resetToken: ResetTokenFn;
  /** Length of the random first Destination Connection ID (8..20, default 16). */
  readonly initialDcidLength?: number;
  /** A NEW_TOKEN token from an earlier connection to this server (RFC 9000 §8.1.3). */
  readonly token?: Uint8Array;
  /** The server's address ("ip:port", opaque): datagrams from any other are discarded (RFC 9000 §9). */
  readonly remoteAddress?: string;
  /** qlog tracing from the start (or later with `setQlog`). */
  readonly qlog?: QlogSink;
}

export interface ServerConnectionOptions {
  readonly role: 'server';
  readonly tls: ConnectionTlsOptions;
  readonly transport?: Parameters<typeof resolveTransportConfig>[0];
  readonly random: Random;
  readonly resetToken: ResetTokenFn;
  /** The Destination Connection ID of the client's Initial we are answering (Initial keys come from it). */
  readonly initialDcid: Uint8Array;
  /** The client's Source Connection ID. */
  readonly clientScid: Uint8Array;
  /** After a Retry: the client's very first DCID (original_destination_connection_id) and our Retry SCID. */
  readonly retry?: { readonly originalDcid: Uint8Array; readonly retryScid: Uint8Array };
  /** The client's address is validated (a valid Retry or NEW_TOKEN token): no amplification limit. */
  readonly addressValidated?: boolean;
  /** The client's address ("ip:port", opaque), as the datagrams to `handleDatagram` name it. */
  readonly remoteAddress?: string;
  /** qlog tracing from the start (or later with `setQlog`). */
  readonly qlog?: QlogSink;
}

export type ConnectionOptions = ClientConnectionOptions | ServerConnectionOptions;

type State = 'handshake' | 'established' | 'closing' | 'draining' | 'terminated';

/** Per packet number space state. */
export interface Space {
  readonly space: PacketSpace;
  readonly ack: AckTracker;
  readonly crypto: CryptoStream;
  /** Next packet number to send. */
  nextPn: number;
  /** PTO probes (ack-eliciting packets) owed in this space. */
  probes: number;
  discarded: boolean;
}

export const FRAME_CONTEXT: Record<PacketSpace, FrameContext> = {
  [PacketSpace.Initial]: FrameContext.Initial,
  [PacketSpace.Handshake]: FrameContext.Handshake,
  [PacketSpace.Application]: FrameContext.OneRtt,
};

const LEVEL_SPACE: Partial<Record<Level, PacketSpace>> = {
  [Level.Initial]: PacketSpace.Initial,
  [Level.Handshake]: PacketSpace.Handshake,
  [Level.Application]: PacketSpace.Application,
};

export const SPACE_LEVEL: Record<PacketSpace, Level> = {
  [PacketSpace.Initial]: Level.Initial,
  [PacketSpace.Handshake]: Level.Handshake,
  [PacketSpace.Application]: Level.Application,
};

/** Undecryptable packets kept until their keys arrive (RFC 9001 §5.7). */
export const MAX_BUFFERED_PACKETS = 16;

/** Connection counters; the path ones (PATH_CHALLENGE/RESPONSE, validations, migrations: path.ts) at the top level. */
export interface ConnectionStats extends Readonly<PathStats> {
  /** RTT figures in ms. */
  readonly rtt: { readonly smoothed: number; readonly min: number; readonly latest: number; readonly variance: number };
  readonly cwnd: number;
  readonly bytesInFlight: number;
  readonly congestionEvents: number;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsReceived: number;
  readonly bytesReceived: number;
  readonly packetsLost: number;
  readonly bytesLost: number;
  /** Packets that carried retransmitted data (CRYPTO or STREAM sent before). */
  readonly packetsRetransmitted: number;
  /** Packets dropped on receipt (undecryptable, duplicate, malformed header). */
  readonly packetsDropped: number;
  /** Current UDP payload size used on the path. */
  readonly mtu: number;
  readonly keyUpdates: number;
  readonly ptoCount: number;
  readonly datagrams: Readonly<Datagrams['stats']>;
}

/**
 * The state of a connection and the logic that touches all of it (TLS events, handshake
 * progress, timers, closing). Receiving (receive.ts), transmitting (transmit.ts) and recovery
 * token handling (recovery-tokens.ts) are functions over it; `Connection` (connection.ts) is the
 * public face. Fields are public for those modules only (@internal): applications use
 * `Connection`.
 */
export class ConnectionCore {
  readonly role: 'client' | 'server';
  readonly config: TransportConfig;
  state: State = 'handshake';
  readonly random: Random;
  readonly tls: TlsEngine;
  readonly keys: ConnectionKeys;
  readonly spaces: Space[];
  readonly loss: LossDetector<PacketTokens>;
  /** The congestion controller of the current path (path.ts swaps it on migration, RFC 9000 §9.4). */
  cc: CongestionController;
  readonly pacer: Pacer | undefined;
  readonly streams: StreamMap;
  readonly datagrams: Datagrams;
  readonly localCids: LocalCids;
  remoteCids: RemoteCids;
  readonly mtu: MtuDiscovery;
  readonly builder: PacketBuilder;
  readonly frames = new FrameIterator();
  readonly events: ConnectionEvent[] = [];
  /** qlog tracing (qlog.ts): undefined unless a sink is attached; every hook tests it first. */
  qlog: QlogTracer | undefined = undefined;
  /** The transport parameters we sent (for qlog). */
  readonly localParams: TransportParameters;

  // ---- handshake / addressing ----
  /** The client's first DCID (original_destination_connection_id). */
  originalDcid: Uint8Array;
  /** Client: a Retry changed the DCID; server: we sent one. */
  retryScid: Uint8Array | undefined;
  /** Client: the token to put in Initial packets (Retry or NEW_TOKEN). */
  token: Uint8Array;
  /** Client: the server's SCID was learnt from its first Initial. */
  peerScidKnown: boolean;
  /** The peer's initial_source_connection_id must equal this (RFC 9000 §7.3). */
  expectedPeerScid: Uint8Array;
  peerParams: TransportParameters | undefined;
  /** The peer's addresses, path validation and migration (path.ts). */
  readonly paths: Paths;
  handshakeComplete = false;
  handshakeConfirmed = false;
  handshakeDonePending = false;
  readonly handshakeDeadline: number;
  readonly buffered: Array<{ bytes: Uint8Array; space: PacketSpace }> = [];
  /** A packet's frames are being dispatched (receive.ts): a replay of `buffered` waits for the end. */
  inFrames = false;
  replayDeferred = false;

  // ---- closing ----
  closeReason: CloseReason | undefined;
  /** The CONNECTION_CLOSE we send while closing (RFC 9000 §10.2.1). */
  closeFrame: Extract<Frame, { kind: 'connectionClose' }> | undefined;
  closeSendPending = false;
  closeDeadline = Number.POSITIVE_INFINITY;
  closePacketsReceived = 0;

  // ---- timers ----
  idleTimeoutMs: number;
  lastActivity: number;
  ackElicitingSentSinceReceive = false;
  lastAckElicitingSent: number;
  pacingWake = Number.POSITIVE_INFINITY;
  pingPending = false;

  /** DCID of the packet being processed (RETIRE_CONNECTION_ID may not retire it, §19.16). */
  rxDcid: Uint8Array = new Uint8Array(0);

  /**
   * PATH_RESPONSEs for transmit.ts's packets: always empty now, responses go in padded datagrams
   * on the path their challenge came from (path.ts, RFC 9000 §8.2.2).
   */
  readonly pathResponses: Uint8Array[] = [];

  // ---- stats ----
  packetsSent = 0;
  bytesSent = 0;
  packetsReceived = 0;
  bytesReceived = 0;
  packetsDropped = 0;
  packetsRetransmitted = 0;

  constructor(options: ConnectionOptions, now: number) {
    this.role = options.role;
    this.config = resolveTransportConfig(options.transport);
    this.random = options.random;
    const isClient = options.role === 'client';
    const c = this.config;

    this.keys = new ConnectionKeys(isClient, c.insecureNullKeys);
    this.spaces = PACKET_SPACES.map((space) => ({
      space,
      ack: new AckTracker(space, { maxRanges: c.maxAckRanges, maxAckDelay: c.maxAckDelayMs }),
      crypto: new CryptoStream(c.maxCryptoBuffer),
      nextPn: 0,
      probes: 0,
      discarded: false,
    }));
    this.loss = new LossDetector<PacketTokens>({ isServer: !isClient, initialRtt: c.initialRttMs });
    this.cc = createController(c.congestionControl, 1200);
    this.pacer = c.pacing ? new Pacer(this.cc.window, c.initialRttMs, 1200, true) : undefined;
    this.streams = new StreamMap(options.role, c.streams);
    this.datagrams = new Datagrams({
      maxFrameSize: c.maxDatagramFrameSize,
      sendQueueCount: c.datagramSendQueue,
      recvQueueCount: c.datagramRecvQueue,
    });
    this.localCids = new LocalCids(c.localCidLength, this.random, options.resetToken);
    const ourScid = this.localCids.issueInitial().cid;
    this.mtu = new MtuDiscovery(c.maxUdpPayloadSize);
    this.idleTimeoutMs = c.maxIdleTimeoutMs;
    this.lastActivity = now;
    this.lastAckElicitingSent = now;
    this.handshakeDeadline = now + c.handshakeTimeoutMs;

    let params: TransportParameters;
    if (options.role === 'client') {
      const len = options.initialDcidLength ?? 16;
      if (!Number.isInteger(len) || len < 8 || len > 20) throw new RangeError(`initialDcidLength must be 8..20, got ${len}`);
      const dcid = this.random.fill(new Uint8Array(len));
      this.originalDcid = dcid;
      this.remoteCids = new RemoteCids(dcid, c.activeConnectionIdLimit);
      this.keys.setInitial(dcid);
      this.token = options.token ?? new Uint8Array(0);
      this.peerScidKnown = false;
      this.expectedPeerScid = dcid; // replaced by the server's SCID from its first Initial
      this.paths = new Paths(options.remoteAddress ?? '', true);
      params = this.localTransportParameters(ourScid);
    } else {
      this.originalDcid = options.retry?.originalDcid ?? options.initialDcid;
      this.retryScid = options.retry?.retryScid;
      this.remoteCids = new RemoteCids(options.clientScid, c.activeConnectionIdLimit);
      this.keys.setInitial(options.initialDcid);
      this.token = new Uint8Array(0);
      this.peerScidKnown = true;
      this.expectedPeerScid = options.clientScid;
      this.paths = new Paths(options.remoteAddress ?? '', options.addressValidated ?? false);
      params = this.localTransportParameters(ourScid);
      params.originalDestinationConnectionId = this.originalDcid;
      params.statelessResetToken = this.localCids.initial!.resetToken;
      if (this.retryScid) params.retrySourceConnectionId = this.retryScid;
    }
    this.builder = new PacketBuilder(ourScid);
    this.localParams = params;

    const tlsConfig: TlsConfig = {
      ...options.tls,
      transportParameters: encodeTransportParameters(params, options.role),
      random: this.random,
      cipherSuites: c.cipherSuites,
    };
    this.tls = isClient ? new TlsClient(tlsConfig) : new TlsServer(tlsConfig);
    if (isClient) {
      this.tls.start();
      this.processTlsEvents(now);
    }
    if (options.qlog) attachQlog(this, options.qlog, now);
  }

  /**
   * Starts qlog tracing into `sink` (the local transport parameters and the state are logged
   * first), replaces the sink of a running trace, or stops tracing (undefined).
   */
  setQlog(sink: QlogSink | undefined, now: number): void {
    attachQlog(this, sink, now);
  }

  /** The current path's address is validated (RFC 9000 §8): no anti-amplification limit. */
  get addressValidated(): boolean {
    return this.paths.current.validated;
  }

  set addressValidated(v: boolean) {
    this.paths.current.validated = v;
  }

  /** Anti-amplification (RFC 9000 §8.1, §9.3): bytes received from / sent to the current path while unvalidated. */
  get amplificationReceived(): number {
    return this.paths.current.received;
  }

  set amplificationReceived(v: number) {
    this.paths.current.received = v;
  }

  get amplificationSent(): number {
    return this.paths.current.sent;
  }

  set amplificationSent(v: number) {
    this.paths.current.sent = v;
  }

  /** True once the handshake completed (the peer is authenticated). */
  get isConnected(): boolean {
    return this.handshakeComplete && (this.state === 'handshake' || this.state === 'established');
  }

  /** True once closing, draining or terminated. */
  get isClosed(): boolean {
    return this.state === 'closing' || this.state === 'draining' || this.state === 'terminated';
  }

  get isTerminated(): boolean {
    return this.state === 'terminated';
  }

  processTlsEvents(now: number): void {
    for (let e = this.tls.pollEvent(); e; e = this.tls.pollEvent()) {
      switch (e.kind) {
        case 'writeData': {
          const space = LEVEL_SPACE[e.level];
          if (space === undefined) throw new TransportError(TransportErrorCode.INTERNAL_ERROR, 'TLS wrote 0-RTT data');
          this.spaces[space]!.crypto.write(e.data);
          break;
        }
        case 'readSecret':
        case 'writeSecret': {
          const dir = e.kind === 'readSecret' ? 'read' : 'write';
          if (e.level === Level.Handshake) {
            this.keys.setHandshakeSecret(dir, e.suite, e.secret);
            if (this.role === 'client') this.loss.hasHandshakeKeys = true;
          } else if (e.level === Level.Application) {
            this.keys.setOneRttSecret(dir, e.suite, e.secret);
          }
          if (this.qlog && e.level !== Level.Initial) qlogTlsKey(this, this.qlog, e.level === Level.Handshake ? 'handshake' : '1rtt', dir);
          if (dir === 'read') replayBuffered(this, now);
          break;
        }
        case 'peerTransportParameters':
          this.onPeerTransportParameters(e.data);
          break;
        case 'handshakeDone':
          this.onHandshakeComplete(now);
          break;
        case 'sessionTicket':
          break; // no resumption: tickets are accepted and dropped (IROH.md: iroh sends two)
      }
    }
  }

  onPeerTransportParameters(data: Uint8Array): void {
    const peerRole = this.role === 'client' ? 'server' : 'client';
    const p = decodeTransportParameters(data, peerRole);
    // RFC 9000 §7.3: authenticate the connection IDs of the handshake.
    if (!p.initialSourceConnectionId || !bytesEqual(p.initialSourceConnectionId, this.expectedPeerScid)) {
      throw transportParameterError('initial_source_connection_id does not match the Source Connection ID used');
    }
    if (this.role === 'client') {
      if (!p.originalDestinationConnectionId || !bytesEqual(p.originalDestinationConnectionId, this.originalDcid)) {
        throw transportParameterError('original_destination_connection_id does not match our first Destination Connection ID');
      }
      if (this.retryScid) {
        if (!p.retrySourceConnectionId || !bytesEqual(p.retrySourceConnectionId, this.retryScid)) {
          throw transportParameterError('retry_source_connection_id missing or wrong after a Retry');
        }
      } else if (p.retrySourceConnectionId) {
        throw transportParameterError('retry_source_connection_id without a Retry');
      }
      if (p.statelessResetToken) this.remoteCids.setInitialResetToken(p.statelessResetToken);
    }
    this.peerParams = p;
    if (this.qlog) qlogRemoteParameters(this.qlog, p);
    this.streams.setPeerParams(p);
    this.loss.maxAckDelay = p.maxAckDelay;
    this.datagrams.setPeerMaxFrameSize(p.maxDatagramFrameSize);
    // RFC 9000 §10.1: the effective idle timeout is the minimum of both, 0 meaning none.
    const ours = this.config.maxIdleTimeoutMs;
    const theirs = p.maxIdleTimeout;
    this.idleTimeoutMs = ours === 0 ? theirs : theirs === 0 ? ours : Math.min(ours, theirs);
    this.localCids.setPeerLimit(Math.min(p.activeConnectionIdLimit, 8));
  }

  onHandshakeComplete(now: number): void {
    this.handshakeComplete = true;
    if (this.state === 'handshake') this.state = 'established';
    if (this.qlog) this.qlog.stateChanged(this);
    this.events.push({ type: 'connected' });
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes.
      this.handshakeDonePending = true;
      this.onHandshakeConfirmed(now);
    }
    replayBuffered(this, now);
  }

  onHandshakeConfirmed(now: number): void {
    if (this.handshakeConfirmed) return;
    this.handshakeConfirmed = true;
    if (this.qlog) this.qlog.stateChanged(this);
    this.loss.onHandshakeConfirmed(now);
    // RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed.
    if (!this.spaces[PacketSpace.Initial]!.discarded) this.discardSpace(PacketSpace.Initial, now);
    this.discardSpace(PacketSpace.Handshake, now);
    if (this.config.mtuDiscovery && this.peerParams) this.mtu.enable(this.peerParams.maxUdpPayloadSize);
    this.events.push({ type: 'handshakeConfirmed' });
  }

  discardSpace(space: PacketSpace, now: number): void {
    const sp = this.spaces[space]!;
    if (sp.discarded) return;
    sp.discarded = true;
    sp.probes = 0;
    this.keys.discard(space);
    this.cc.onPacketsDiscarded(this.loss.discardSpace(space, now));
    this.buffered.splice(0, this.buffered.length, ...this.buffered.filter((b) => b.space !== space));
  }

  onConnectionClose(now: number, f: Extract<Frame, { kind: 'connectionClose' }>): void {
    const reason = fromUtf8(f.reason);
    this.closeReason = f.application
      ? { kind: 'application', code: f.errorCode, reason, remote: true }
      : { kind: 'transport', code: f.errorCode, reason, remote: true, frameType: f.frameType };
    this.events.push({ type: 'closed', reason: this.closeReason });
    // RFC 9000 §10.2.2: enter draining; we may send one CONNECTION_CLOSE in answer (iroh does).
    this.closeFrame = { kind: 'connectionClose', application: false, errorCode: 0, frameType: 0, reason: new Uint8Array(0) };
    this.closeSendPending = this.handshakeComplete;
    this.state = 'draining';
    // Refused during the handshake (bad certificate, no ALPN...): nothing to drain for, end now.
    this.closeDeadline = this.handshakeComplete ? now + 3 * this.currentPto() : now;
  }

  onTimeout(now: number): void {
    if (this.state === 'closing' || this.state === 'draining') {
      if (now >= this.closeDeadline) this.terminate();
      return;
    }
    if (now >= this.idleDeadline()) {
      this.closeReason = { kind: 'idle', code: 0, reason: `no packet received for ${this.idleTimeoutMs} ms (idle timeout)`, remote: false };
      this.events.push({ type: 'closed', reason: this.closeReason });
      this.terminate(); // RFC 9000 §10.1: silently discarded
      return;
    }
    if (!this.handshakeComplete && now >= this.handshakeDeadline) {
      this.enterClosing(now, transportClose(TransportErrorCode.CONNECTION_REFUSED, 'handshake timeout'), {
        kind: 'handshakeTimeout', code: TransportErrorCode.CONNECTION_REFUSED,
        reason: `the handshake did not complete within ${this.config.handshakeTimeoutMs} ms`, remote: false,
      });
      return;
    }
    this.keys.onTimeout(now);
    if (now >= this.paths.timeout) {
      onPathTimeout(this, now);
      if (this.isTerminated) return;
    }
    if (now >= this.pacingWake) this.pacingWake = Number.POSITIVE_INFINITY;
    if (now >= this.loss.timeout) {
      const r = this.loss.onLossTimeout(now);
      if (r.kind === 'loss') {
        if (this.qlog) qlogPacketsLost(this, this.qlog, r.space, r.lost);
        onPacketsLostOnPaths(this, now, r.lost, r.persistentCongestion, r.space);
      } else if (r.kind === 'pto') {
        this.onPto(r.space, r.probes);
      }
    }
    if (this.config.keepAliveIntervalMs > 0 && this.handshakeComplete && now >= this.lastAckElicitingSent + this.config.keepAliveIntervalMs) {
      this.pingPending = true;
    }
    this.maybeAutoKeyUpdate(now);
  }

  /**
   * RFC 9002 §6.2.4: the PTO of `space` expired. Probes (ack-eliciting, exempt from the congestion
   * window) go in that space, carrying its unacknowledged CRYPTO data when it has some; and "the
   * sender SHOULD send ack-eliciting packets from other packet number spaces with in-flight data,
   * coalescing packets if possible": a server whose first flight was lost probes Initial AND
   * Handshake in one datagram, since the client may only be able to read one of them.
   */
  onPto(space: PacketSpace, probes: number): void {
    for (const sp of this.spaces) {
      if (sp.discarded) continue;
      if (sp.space === space) sp.probes = Math.max(sp.probes, probes);
      else if (this.loss.hasAckElicitingInFlight(sp.space)) sp.probes = Math.max(sp.probes, 1);
      else continue;
      if (sp.space !== PacketSpace.Application) sp.crypto.requeueUnacked();
    }
  }

  idleDeadline(): number {
    if (this.idleTimeoutMs === 0) return Number.POSITIVE_INFINITY;
    // RFC 9000 §10.1: at least three PTOs, so a lossy path is not mistaken for a dead one.
    return this.lastActivity + Math.max(this.idleTimeoutMs, 3 * this.currentPto());
  }

  currentPto(): number {
    return this.loss.rtt.pto(PacketSpace.Application, this.loss.maxAckDelay);
  }

  maybeAutoKeyUpdate(now: number): void {
    const k = this.keys.oneRtt;
    if (!k || !this.handshakeConfirmed || !this.keys.canInitiateUpdate) return;
    const interval = this.config.keyUpdateIntervalPackets;
    // RFC 9001 §6.6: update well before the confidentiality limit of the AEAD.
    const limit = Math.floor(k.suite.confidentialityLimit * 0.9);
    if ((interval > 0 && this.keys.packetsInPhase >= interval) || this.keys.packetsInPhase >= limit) {
      this.keys.initiateUpdate(now, this.currentPto());
    }
  }

  onMtuChanged(): void {
    this.cc.setMaxDatagramSize(this.mtu.current);
    this.updatePacer();
  }

  updatePacer(): void {
    this.pacer?.update(this.cc.window, this.loss.rtt.smoothed, this.mtu.current, this.cc.inSlowStart);
  }

  onError(now: number, e: unknown): void {
    if (this.isClosed) return;
    let frame: Extract<Frame, { kind: 'connectionClose' }>;
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
    this.enterClosing(now, frame, reason);
  }

  enterClosing(now: number, frame: Extract<Frame, { kind: 'connectionClose' }>, reason: CloseReason): void {
    this.closeReason = reason;
    this.events.push({ type: 'closed', reason });
    this.closeFrame = frame;
    this.closeSendPending = true;
    this.state = 'closing';
    // RFC 9000 §10.2: the closing period lasts at least three PTOs.
    this.closeDeadline = now + 3 * this.currentPto();
  }

  enterDraining(now: number): void {
    this.state = 'draining';
    this.closeSendPending = false;
    this.closeDeadline = now + 3 * this.currentPto();
  }

  /** RFC 9000 §10.2.1: answer packets received while closing, at an exponentially decreasing rate. */
  onPacketWhileClosing(_now: number): void {
    this.closePacketsReceived++;
    if ((this.closePacketsReceived & (this.closePacketsReceived - 1)) === 0) this.closeSendPending = true;
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.events.push({ type: 'terminated' });
    const q = this.qlog;
    if (q) {
      // The trace ends here: the final state, then the sink is told no event follows.
      q.diff(this);
      attachQlog(this, undefined, q.now);
      q.sink.close?.();
    }
  }

  localTransportParameters(scid: Uint8Array): TransportParameters {
    const c = this.config;
    const p = defaultTransportParameters();
    const s = this.streams.localParams();
    p.maxIdleTimeout = c.maxIdleTimeoutMs;
    p.initialMaxData = s.initialMaxData;
    p.initialMaxStreamDataBidiLocal = s.initialMaxStreamDataBidiLocal;
    p.initialMaxStreamDataBidiRemote = s.initialMaxStreamDataBidiRemote;
    p.initialMaxStreamDataUni = s.initialMaxStreamDataUni;
    p.initialMaxStreamsBidi = s.initialMaxStreamsBidi;
    p.initialMaxStreamsUni = s.initialMaxStreamsUni;
    p.ackDelayExponent = c.ackDelayExponent;
    p.maxAckDelay = c.maxAckDelayMs;
    p.activeConnectionIdLimit = c.activeConnectionIdLimit;
    p.initialSourceConnectionId = scid;
    p.maxDatagramFrameSize = c.maxDatagramFrameSize;
    p.disableActiveMigration = c.disableActiveMigration;
    return p;
  }
}

export function transportClose(code: number, reason: string, frameType = 0): Extract<Frame, { kind: 'connectionClose' }> {
  // Keep reason phrases short: they travel in one packet.
  const r = utf8(reason);
  return { kind: 'connectionClose', application: false, errorCode: code, frameType, reason: r.length > 256 ? r.subarray(0, 256) : r };
}

