import { bytesEqual, fromUtf8, utf8 } from './codec/bytes.js';
import { LocalCids, RemoteCids, type ResetTokenFn } from './cid.js';
import { resolveTransportConfig, type TransportConfig } from './config.js';
import { createController, type CongestionController } from './congestion/controller.js';
import { ConnectionKeys } from './connection-keys.js';
import { CryptoStream } from './crypto-stream.js';
import { Datagrams } from './datagrams.js';
import { TransportError, TransportErrorCode, protocolViolation, transportParameterError } from './errors.js';
import type { CloseReason, ConnectionEvent } from './events.js';
import { FrameContext } from './frames/types.js';
import { FrameIterator } from './frames/decode.js';
import type { Frame } from './frames/frame.js';
import { MtuDiscovery } from './mtu.js';
import { LongPacketType, tryParsePacketHeader, type PacketHeader } from './packet/header.js';
import { QUIC_VERSION_1 } from './packet/version.js';
import { openPayload, removeHeaderProtection } from './packet/protection.js';
import { verifyRetry } from './packet/retry.js';
import { AckTracker } from './recovery/ack-tracker.js';
import { PacketSpace, PACKET_SPACES } from './recovery/constants.js';
import { LossDetector } from './recovery/loss.js';
import { Pacer } from './recovery/pacer.js';
import type { SentPacket } from './recovery/sent-packets.js';
import type { PacketTokens, RecoveryToken } from './recovery-tokens.js';
import { StreamMap } from './streams/stream-map.js';
import type { Direction } from './streams/stream-id.js';
import { PacketBuilder } from './packet-builder.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from './transport-params.js';
import { Level, type TlsConfig, type TlsEngine } from '../tls/engine.js';
import { TlsAlert } from '../tls/alerts.js';
import { TlsClient } from '../tls/client.js';
import { TlsServer } from '../tls/server.js';
import type { Random } from '../tls/random.js';

/**
 * A QUIC connection (RFC 9000), sans-IO: a driver feeds it datagrams and time and pulls
 * datagrams, one timer deadline and events (STYLE.md rule 2):
 *
 *   handleDatagram(now, bytes) | handleTimeout(now) | commands (openStream, write, close, ...)
 *   then pollTransmit(now, buf) until 0, pollTimeout(), pollEvent() until undefined.
 *
 * It orchestrates small modules: ConnectionKeys (keys and key update), one CryptoStream and
 * AckTracker per packet number space, LossDetector (RFC 9002), a congestion controller and a
 * pacer, StreamMap (streams and flow control), Datagrams (RFC 9221), LocalCids/RemoteCids,
 * MtuDiscovery and PacketBuilder (what goes in the next datagram). A peer error anywhere becomes
 * a TransportError that closes this connection with the RFC code; nothing escapes to the driver.
 */

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
}

export type ConnectionOptions = ClientConnectionOptions | ServerConnectionOptions;

type State = 'handshake' | 'established' | 'closing' | 'draining' | 'terminated';

/** Per packet number space state. */
interface Space {
  readonly space: PacketSpace;
  readonly ack: AckTracker;
  readonly crypto: CryptoStream;
  /** Next packet number to send. */
  nextPn: number;
  /** PTO probes (ack-eliciting packets) owed in this space. */
  probes: number;
  discarded: boolean;
}

const FRAME_CONTEXT: Record<PacketSpace, FrameContext> = {
  [PacketSpace.Initial]: FrameContext.Initial,
  [PacketSpace.Handshake]: FrameContext.Handshake,
  [PacketSpace.Application]: FrameContext.OneRtt,
};

const LEVEL_SPACE: Partial<Record<Level, PacketSpace>> = {
  [Level.Initial]: PacketSpace.Initial,
  [Level.Handshake]: PacketSpace.Handshake,
  [Level.Application]: PacketSpace.Application,
};

const SPACE_LEVEL: Record<PacketSpace, Level> = {
  [PacketSpace.Initial]: Level.Initial,
  [PacketSpace.Handshake]: Level.Handshake,
  [PacketSpace.Application]: Level.Application,
};

/** Undecryptable packets kept until their keys arrive (RFC 9001 §5.7). */
const MAX_BUFFERED_PACKETS = 16;

export interface ConnectionStats {
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

export class Connection {
  readonly role: 'client' | 'server';
  readonly config: TransportConfig;
  private state: State = 'handshake';
  private readonly random: Random;
  private readonly tls: TlsEngine;
  private readonly keys: ConnectionKeys;
  private readonly spaces: Space[];
  private readonly loss: LossDetector<PacketTokens>;
  private readonly cc: CongestionController;
  private readonly pacer: Pacer | undefined;
  readonly streams: StreamMap;
  private readonly datagrams: Datagrams;
  private readonly localCids: LocalCids;
  private remoteCids: RemoteCids;
  private readonly mtu: MtuDiscovery;
  private readonly builder: PacketBuilder;
  private readonly frames = new FrameIterator();
  private readonly events: ConnectionEvent[] = [];

  // ---- handshake / addressing ----
  /** The client's first DCID (original_destination_connection_id). */
  private originalDcid: Uint8Array;
  /** Client: a Retry changed the DCID; server: we sent one. */
  private retryScid: Uint8Array | undefined;
  /** Client: the token to put in Initial packets (Retry or NEW_TOKEN). */
  private token: Uint8Array;
  /** Client: the server's SCID was learnt from its first Initial. */
  private peerScidKnown: boolean;
  /** The peer's initial_source_connection_id must equal this (RFC 9000 §7.3). */
  private expectedPeerScid: Uint8Array;
  private peerParams: TransportParameters | undefined;
  private addressValidated: boolean;
  /** Anti-amplification (RFC 9000 §8.1): bytes received from / sent to an unvalidated client. */
  private amplificationReceived = 0;
  private amplificationSent = 0;
  private handshakeComplete = false;
  private handshakeConfirmed = false;
  private handshakeDonePending = false;
  private readonly handshakeDeadline: number;
  private readonly buffered: Array<{ bytes: Uint8Array; space: PacketSpace }> = [];

  // ---- closing ----
  private closeReason: CloseReason | undefined;
  /** The CONNECTION_CLOSE we send while closing (RFC 9000 §10.2.1). */
  private closeFrame: Extract<Frame, { kind: 'connectionClose' }> | undefined;
  private closeSendPending = false;
  private closeDeadline = Number.POSITIVE_INFINITY;
  private closePacketsReceived = 0;

  // ---- timers ----
  private idleTimeoutMs: number;
  private lastActivity: number;
  private ackElicitingSentSinceReceive = false;
  private lastAckElicitingSent: number;
  private pacingWake = Number.POSITIVE_INFINITY;
  private pingPending = false;

  /** DCID of the packet being processed (RETIRE_CONNECTION_ID may not retire it, §19.16). */
  private rxDcid: Uint8Array = new Uint8Array(0);

  // ---- path validation (PATH_CHALLENGE from the peer) ----
  private readonly pathResponses: Uint8Array[] = [];

  // ---- stats ----
  private packetsSent = 0;
  private bytesSent = 0;
  private packetsReceived = 0;
  private bytesReceived = 0;
  private packetsDropped = 0;
  private packetsRetransmitted = 0;

  constructor(options: ConnectionOptions, now: number) {
    this.role = options.role;
    this.config = resolveTransportConfig(options.transport);
    this.random = options.random;
    const isClient = options.role === 'client';
    const c = this.config;

    this.keys = new ConnectionKeys(isClient);
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
      this.addressValidated = true;
      params = this.localTransportParameters(ourScid);
    } else {
      this.originalDcid = options.retry?.originalDcid ?? options.initialDcid;
      this.retryScid = options.retry?.retryScid;
      this.remoteCids = new RemoteCids(options.clientScid, c.activeConnectionIdLimit);
      this.keys.setInitial(options.initialDcid);
      this.token = new Uint8Array(0);
      this.peerScidKnown = true;
      this.expectedPeerScid = options.clientScid;
      this.addressValidated = options.addressValidated ?? false;
      params = this.localTransportParameters(ourScid);
      params.originalDestinationConnectionId = this.originalDcid;
      params.statelessResetToken = this.localCids.initial!.resetToken;
      if (this.retryScid) params.retrySourceConnectionId = this.retryScid;
    }
    this.builder = new PacketBuilder(ourScid);

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
  }

  // =============================================================================== queries

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

  /** Why the connection closed, once it did. */
  get closeInfo(): CloseReason | undefined {
    return this.closeReason;
  }

  /** The negotiated ALPN. */
  get alpn(): string | undefined {
    return this.tls.alpn;
  }

  /** The peer's verified Ed25519 public key. */
  get peerPublicKey(): Uint8Array | undefined {
    return this.tls.peerPublicKey;
  }

  /** The peer's transport parameters, once known. */
  get peerTransportParameters(): Readonly<TransportParameters> | undefined {
    return this.peerParams;
  }

  /** Our CID of sequence 0 (the endpoint routes it to us). */
  get initialLocalCid(): Uint8Array {
    return this.builder.scid;
  }

  /** The client's first DCID: an endpoint also routes duplicated Initials by it. */
  get originalDestinationCid(): Uint8Array {
    return this.originalDcid;
  }

  /** CIDs to add to / remove from the endpoint's routing table since the last call. */
  takeCidChanges(): { added: Uint8Array[]; retired: Uint8Array[] } {
    return { added: this.localCids.takeAdded(), retired: this.localCids.takeRetired() };
  }

  /** The largest datagram payload that can be sent now, or undefined when the peer does not accept datagrams. */
  maxDatagramSize(): number | undefined {
    if (!this.peerParams) return undefined;
    return this.datagrams.maxSize(this.mtu.current, this.remoteCids.current.length);
  }

  getStats(): ConnectionStats {
    const r = this.loss.rtt;
    const ccs = this.cc.stats;
    return {
      rtt: { smoothed: r.smoothed, min: r.hasSample ? r.min : 0, latest: r.latest, variance: r.rttvar },
      cwnd: this.cc.window,
      bytesInFlight: this.cc.bytesInFlight,
      congestionEvents: ccs.congestionEvents,
      packetsSent: this.packetsSent,
      bytesSent: this.bytesSent,
      packetsReceived: this.packetsReceived,
      bytesReceived: this.bytesReceived,
      packetsLost: ccs.lostPackets,
      bytesLost: ccs.lostBytes,
      packetsRetransmitted: this.packetsRetransmitted,
      packetsDropped: this.packetsDropped,
      mtu: this.mtu.current,
      keyUpdates: this.keys.updates,
      ptoCount: this.loss.ptoCount,
      datagrams: { ...this.datagrams.stats },
    };
  }

  // =============================================================================== commands

  /** Opens a stream; returns its id, or null when the peer's stream limit blocks (retry on 'streams-available'). */
  openStream(direction: Direction, priority = 0): number | null {
    this.assertUsable();
    const r = this.streams.open(direction, priority);
    return r.kind === 'opened' ? r.stream.id : null;
  }

  /** The next stream the peer opened, or null. */
  acceptStream(direction: Direction): number | null {
    return this.streams.accept(direction)?.id ?? null;
  }

  /** Writes what fits of `data` into stream `id`'s send buffer; returns the bytes accepted. */
  writeStream(id: number, data: Uint8Array): number {
    this.assertUsable();
    return this.sendPart(id).write(data);
  }

  finishStream(id: number): void {
    this.assertUsable();
    this.sendPart(id).finish();
  }

  resetStream(id: number, code: number | bigint): void {
    if (this.isClosed) return;
    this.sendPart(id).reset(code);
  }

  /** Reads up to `max` in-order bytes of stream `id`, or null when none are available. */
  readStream(id: number, max = Number.POSITIVE_INFINITY): Uint8Array | null {
    return this.recvPart(id).read(max);
  }

  stopSending(id: number, code: number | bigint): void {
    if (this.isClosed) return;
    this.recvPart(id).stopSending(code);
  }

  /** Queues a datagram; throws DatagramError when unsupported or too large. */
  sendDatagram(data: Uint8Array): void {
    this.assertUsable();
    this.datagrams.send(data, this.mtu.current, this.remoteCids.current.length);
  }

  /** The oldest received datagram, or undefined. */
  recvDatagram(): Uint8Array | undefined {
    return this.datagrams.recv();
  }

  /** Sends an ack-eliciting PING (keeps the path alive, measures RTT). */
  ping(): void {
    this.pingPending = true;
  }

  /** Starts a 1-RTT key update (RFC 9001 §6.1); returns false when one may not start yet. */
  initiateKeyUpdate(now: number): boolean {
    if (!this.handshakeConfirmed || !this.keys.canInitiateUpdate) return false;
    this.keys.initiateUpdate(now, this.currentPto());
    return true;
  }

  /**
   * Closes the connection with an application error code and reason (CONNECTION_CLOSE 0x1d),
   * entering the closing period (RFC 9000 §10.2.1).
   */
  close(now: number, code: number | bigint, reason = ''): void {
    if (this.isClosed) return;
    this.enterClosing(now, { kind: 'connectionClose', application: true, errorCode: code, frameType: 0, reason: utf8(reason) }, {
      kind: 'application', code, reason, remote: false,
    });
  }

  // =============================================================================== input

  /**
   * A UDP datagram arrived for this connection. Never throws on peer input: malformed packets are
   * dropped, protocol violations close the connection.
   */
  handleDatagram(now: number, data: Uint8Array): void {
    if (this.state === 'terminated' || this.state === 'draining') return;
    this.bytesReceived += data.length;
    if (!this.addressValidated) this.amplificationReceived += data.length;
    if (this.state === 'closing') {
      this.onPacketWhileClosing(now);
      return;
    }
    try {
      this.processDatagram(now, data);
    } catch (e) {
      this.onError(now, e);
    }
  }

  /** The timer from `pollTimeout()` fired (or any time: only what is due happens). */
  handleTimeout(now: number): void {
    if (this.state === 'terminated') return;
    try {
      this.onTimeout(now);
    } catch (e) {
      this.onError(now, e);
    }
  }

  // =============================================================================== output

  /**
   * Writes the next datagram into `out` (sized for the path: pass at least `maxUdpPayloadSize`
   * bytes) and returns its length, or 0 when there is nothing to send now.
   */
  pollTransmit(now: number, out: Uint8Array): number {
    if (this.state === 'terminated' || this.state === 'draining') return 0;
    try {
      if (this.state === 'closing') return this.transmitClose(out);
      return this.transmit(now, out);
    } catch (e) {
      this.onError(now, e);
      return this.state === 'closing' ? this.transmitClose(out) : 0;
    }
  }

  /** When `handleTimeout` should next be called (ms), or Infinity. */
  pollTimeout(): number {
    if (this.state === 'terminated') return Number.POSITIVE_INFINITY;
    if (this.state === 'closing' || this.state === 'draining') return this.closeDeadline;
    let t = Math.min(this.loss.timeout, this.idleDeadline(), this.pacingWake, this.keys.previousReadDiscardAt);
    if (!this.handshakeComplete) t = Math.min(t, this.handshakeDeadline);
    for (const s of this.spaces) if (!s.discarded && this.keys.canWrite(s.space)) t = Math.min(t, s.ack.ackDeadline);
    if (this.config.keepAliveIntervalMs > 0 && this.handshakeComplete) {
      t = Math.min(t, this.lastAckElicitingSent + this.config.keepAliveIntervalMs);
    }
    const mtuAt = this.mtu.nextSearchAt;
    if (mtuAt !== undefined) t = Math.min(t, mtuAt);
    return t;
  }

  /** The next event, or undefined. */
  pollEvent(): ConnectionEvent | undefined {
    const e = this.events.shift();
    if (e) return e;
    return this.streams.pollEvent() ?? undefined;
  }

  // =============================================================================== receive

  private processDatagram(now: number, data: Uint8Array): void {
    const localCidLen = this.config.localCidLength;
    let at = 0;
    let firstDcid: Uint8Array | undefined;
    let anyProcessed = false;
    while (at < data.length) {
      const h = tryParsePacketHeader(data, at, localCidLen);
      if (h.kind === 'invalid') {
        this.packetsDropped++;
        break;
      }
      at = h.end;
      if (h.kind === 'versionNegotiation') {
        this.onVersionNegotiation(now, h.versions);
        return;
      }
      if (h.kind === 'retry') {
        this.onRetry(now, data, h);
        return;
      }
      if (h.kind === 'unsupportedVersion') {
        this.packetsDropped++;
        continue;
      }
      // RFC 9000 §12.2: coalesced packets with another DCID than the first are ignored.
      if (firstDcid === undefined) firstDcid = h.dcid;
      else if (!bytesEqual(firstDcid, h.dcid)) {
        this.packetsDropped++;
        continue;
      }
      if (this.processPacket(now, data, h)) anyProcessed = true;
    }
    // RFC 9000 §10.3.1: a datagram none of whose packets opened may be a Stateless Reset.
    if (!anyProcessed && data.length > 0 && (data[0]! & 0x80) === 0 && this.remoteCids.isStatelessReset(data)) {
      this.closeReason = { kind: 'reset', code: 0, reason: 'stateless reset from the peer', remote: true };
      this.events.push({ type: 'closed', reason: this.closeReason });
      this.enterDraining(now);
    }
  }

  /** Opens and processes one packet; returns false when it was dropped. */
  private processPacket(now: number, data: Uint8Array, h: Exclude<PacketHeader, { kind: 'retry' | 'versionNegotiation' | 'unsupportedVersion' }>): boolean {
    let space: PacketSpace;
    if (h.kind === 'long') {
      if (h.type === LongPacketType.ZeroRtt) {
        this.packetsDropped++; // we never accept 0-RTT
        return false;
      }
      space = h.type === LongPacketType.Initial ? PacketSpace.Initial : PacketSpace.Handshake;
    } else {
      space = PacketSpace.Application;
    }
    const sp = this.spaces[space]!;
    if (sp.discarded) {
      this.packetsDropped++;
      return false;
    }
    // RFC 9001 §5.7: keys not there yet (reordering): keep a copy for later, bounded.
    const readable = this.keys.canRead(space) && !(space === PacketSpace.Application && this.role === 'server' && !this.handshakeComplete);
    if (!readable) {
      if (this.buffered.length < MAX_BUFFERED_PACKETS) this.buffered.push({ bytes: data.slice(h.start, h.end), space });
      else this.packetsDropped++;
      return false;
    }
    const hp = this.keys.readHeaderKey(space);
    const u = removeHeaderProtection(data, h, hp);
    if (u === null) {
      this.packetsDropped++;
      return false;
    }
    const largest = sp.ack.largestReceived;
    const opened = openPayload(data, h, u, largest, space === PacketSpace.Application ? this.keys.selectReadKey : this.keys.readPacketKey(space));
    if (opened === null) {
      this.packetsDropped++;
      if (++this.keys.authFailures > (this.keys.oneRtt?.suite.integrityLimit ?? 2 ** 52)) {
        throw new TransportError(TransportErrorCode.AEAD_LIMIT_REACHED, 'too many packets failed authentication');
      }
      return false;
    }
    if (sp.ack.isDuplicate(opened.pn)) {
      this.packetsDropped++;
      return true;
    }
    this.packetsReceived++;
    if (space === PacketSpace.Application) this.keys.onOneRttOpened(opened.keyPhase, opened.pn, now, this.currentPto());

    // Address and CID learning from long headers.
    if (h.kind === 'long') {
      if (this.role === 'client' && h.type === LongPacketType.Initial && !this.peerScidKnown) {
        // RFC 9000 §7.2: the client switches to the server's chosen CID.
        this.peerScidKnown = true;
        this.expectedPeerScid = h.scid.slice();
        this.remoteCids.replaceInitial(h.scid.slice());
      }
      if (space === PacketSpace.Handshake && this.role === 'server' && !this.addressValidated) {
        // RFC 9000 §8.1: a Handshake packet from the client validates its address.
        this.addressValidated = true;
        this.loss.amplificationBlocked = false;
      }
      if (space === PacketSpace.Handshake && this.role === 'server' && !this.spaces[PacketSpace.Initial]!.discarded) {
        // RFC 9001 §4.9.1: a server discards Initial keys when it first processes a Handshake packet.
        this.discardSpace(PacketSpace.Initial, now);
      }
    }

    this.rxDcid = h.dcid;
    const ackEliciting = this.processFrames(now, opened.payload, space);
    sp.ack.onPacketReceived(opened.pn, ackEliciting, now);
    this.lastActivity = now;
    this.ackElicitingSentSinceReceive = false;
    return true;
  }

  /** Decodes and dispatches every frame; returns whether the packet was ack-eliciting. */
  private processFrames(now: number, payload: Uint8Array, space: PacketSpace): boolean {
    const it = this.frames;
    it.reset(payload, FRAME_CONTEXT[space]);
    for (let f = it.next(); f !== null; f = it.next()) {
      if (this.state === 'draining') break;
      this.onFrame(now, f, it.frameType, space);
    }
    return it.ackEliciting;
  }

  private onFrame(now: number, f: Frame, frameType: number, space: PacketSpace): void {
    switch (f.kind) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        this.onAck(now, f.ranges, f.ackDelay, space);
        return;
      case 'crypto':
        this.onCrypto(now, space, f.offset, f.data, frameType);
        return;
      case 'stream':
        this.streams.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
        return;
      case 'resetStream':
        this.streams.onResetStream(f.streamId, f.errorCode, f.finalSize);
        return;
      case 'stopSending':
        this.streams.onStopSending(f.streamId, f.errorCode);
        return;
      case 'maxData':
        this.streams.onMaxData(f.maximum);
        return;
      case 'maxStreamData':
        this.streams.onMaxStreamData(f.streamId, f.maximum);
        return;
      case 'maxStreams':
        this.streams.onMaxStreams(f.bidi ? 'bidi' : 'uni', f.maximum);
        return;
      case 'dataBlocked':
        this.streams.onDataBlocked(f.maximum);
        return;
      case 'streamDataBlocked':
        this.streams.onStreamDataBlocked(f.streamId, f.maximum);
        return;
      case 'streamsBlocked':
        this.streams.onStreamsBlocked(f.bidi ? 'bidi' : 'uni', f.maximum);
        return;
      case 'newToken':
        // RFC 9000 §19.7: servers never receive NEW_TOKEN.
        if (this.role === 'server') throw protocolViolation('NEW_TOKEN sent to a server', frameType);
        this.events.push({ type: 'newToken', token: f.token.slice() });
        return;
      case 'newConnectionId':
        this.remoteCids.onNewCid(f.sequence, f.retirePriorTo, f.connectionId.slice(), f.resetToken.slice());
        return;
      case 'retireConnectionId':
        this.localCids.onRetire(f.sequence, this.rxDcid);
        return;
      case 'pathChallenge':
        // RFC 9000 §8.2.2: echo the data in a PATH_RESPONSE (bounded: a peer could flood).
        if (this.pathResponses.length < 4) this.pathResponses.push(f.data.slice());
        return;
      case 'pathResponse':
        return; // we send no PATH_CHALLENGE yet: an unsolicited response is ignored (§8.2.3 allows it)
      case 'connectionClose':
        this.onConnectionClose(now, f);
        return;
      case 'handshakeDone':
        // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE is a PROTOCOL_VIOLATION.
        if (this.role === 'server') throw protocolViolation('HANDSHAKE_DONE sent to a server', frameType);
        this.onHandshakeConfirmed(now);
        return;
      case 'datagram':
        this.datagrams.onReceived(f.data, f.data.length + 3, frameType);
        if (this.datagrams.receivedCount === 1) this.events.push({ type: 'datagram' });
        return;
    }
  }

  private onAck(now: number, ranges: number[], ackDelayField: number, space: PacketSpace): void {
    // RFC 9000 §19.3: ack_delay is scaled by the PEER's exponent; it applies to 1-RTT only in RFC 9002 terms.
    const exponent = space === PacketSpace.Application ? (this.peerParams?.ackDelayExponent ?? 3) : 3;
    const ackDelayMs = (ackDelayField * 2 ** exponent) / 1000;
    const r = this.loss.onAckReceived(space, ranges, ackDelayMs, now);
    if (space === PacketSpace.Application && ranges.length > 0) this.keys.onOneRttAcked(ranges[0]!);
    if (r.newlyAcked.length > 0) {
      for (const p of r.newlyAcked) this.onPacketAcked(p, now);
      this.cc.onPacketsAcked(now, r.newlyAcked, this.loss.rtt);
    }
    if (r.lost.length > 0) this.onPacketsLost(now, r.lost, r.persistentCongestion);
    this.updatePacer();
  }

  private onPacketAcked(p: SentPacket<PacketTokens>, _now: number): void {
    for (const t of p.tokens) {
      switch (t.k) {
        case 'crypto':
          this.spaces[t.space]!.crypto.onAcked(t.offset, t.length);
          break;
        case 'stream':
          this.streams.onStreamFrameAcked(t.id, t.offset, t.length, t.fin);
          break;
        case 'control':
          this.streams.onControlAcked(t.frame);
          break;
        case 'ack':
          this.spaces[t.space]!.ack.onAckOfAckReceived(t.largest);
          break;
        case 'datagram':
          this.datagrams.onAcked();
          break;
        case 'mtuProbe':
          this.mtu.onProbeAcked(t.size);
          this.onMtuChanged();
          break;
        case 'handshakeDone':
        case 'newCid':
        case 'retireCid':
        case 'pathChallenge':
          break;
      }
    }
    if (!p.tokens.some((t) => t.k === 'mtuProbe')) this.mtu.onPacketAcked(p.size);
  }

  private onPacketsLost(now: number, lost: readonly SentPacket<PacketTokens>[], persistentCongestion: boolean): void {
    const congestionLost: SentPacket<PacketTokens>[] = [];
    let blackHole = false;
    for (const p of lost) {
      let probe = false;
      for (const t of p.tokens) if (this.onTokenLost(t, now)) probe = true;
      if (probe) {
        // RFC 8899 §4.4: a lost probe says nothing about congestion; only its bytes leave flight.
        this.cc.onPacketsDiscarded(p.inFlight ? p.size : 0);
      } else {
        congestionLost.push(p);
        if (this.mtu.onPacketLost(p.size, now)) blackHole = true;
      }
    }
    if (congestionLost.length > 0) this.cc.onPacketsLost(now, congestionLost);
    if (persistentCongestion) this.cc.onPersistentCongestion(now);
    if (blackHole) this.onMtuChanged();
  }

  /** Re-queues what a lost token carried; returns true for an MTU probe. */
  private onTokenLost(t: RecoveryToken, _now: number): boolean {
    switch (t.k) {
      case 'crypto':
        this.spaces[t.space]!.crypto.onLost(t.offset, t.length);
        return false;
      case 'stream':
        this.streams.onStreamFrameLost(t.id, t.offset, t.length, t.fin);
        return false;
      case 'control':
        this.streams.onControlLost(t.frame);
        return false;
      case 'handshakeDone':
        this.handshakeDonePending = true;
        return false;
      case 'newCid':
        this.localCids.onNewCidLost(t.seq);
        return false;
      case 'retireCid':
        this.remoteCids.onRetireLost(t.seq);
        return false;
      case 'datagram':
        this.datagrams.onLost();
        return false;
      case 'mtuProbe':
        this.mtu.onProbeLost(t.size);
        return true;
      case 'ack':
      case 'pathChallenge':
        return false;
    }
  }

  private onCrypto(now: number, space: PacketSpace, offset: number, data: Uint8Array, frameType: number): void {
    const chunks = this.spaces[space]!.crypto.onCryptoFrame(offset, data, frameType);
    const level = SPACE_LEVEL[space];
    for (const chunk of chunks) this.tls.handleData(level, chunk);
    this.processTlsEvents(now);
  }

  private processTlsEvents(now: number): void {
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
          if (dir === 'read') this.replayBuffered(now);
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

  private onPeerTransportParameters(data: Uint8Array): void {
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
    this.streams.setPeerParams(p);
    this.loss.maxAckDelay = p.maxAckDelay;
    this.datagrams.setPeerMaxFrameSize(p.maxDatagramFrameSize);
    // RFC 9000 §10.1: the effective idle timeout is the minimum of both, 0 meaning none.
    const ours = this.config.maxIdleTimeoutMs;
    const theirs = p.maxIdleTimeout;
    this.idleTimeoutMs = ours === 0 ? theirs : theirs === 0 ? ours : Math.min(ours, theirs);
    this.localCids.setPeerLimit(Math.min(p.activeConnectionIdLimit, 8));
  }

  private onHandshakeComplete(now: number): void {
    this.handshakeComplete = true;
    if (this.state === 'handshake') this.state = 'established';
    this.events.push({ type: 'connected' });
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes.
      this.handshakeDonePending = true;
      this.onHandshakeConfirmed(now);
    }
    this.replayBuffered(now);
  }

  private onHandshakeConfirmed(now: number): void {
    if (this.handshakeConfirmed) return;
    this.handshakeConfirmed = true;
    this.loss.onHandshakeConfirmed(now);
    // RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed.
    if (!this.spaces[PacketSpace.Initial]!.discarded) this.discardSpace(PacketSpace.Initial, now);
    this.discardSpace(PacketSpace.Handshake, now);
    if (this.config.mtuDiscovery && this.peerParams) this.mtu.enable(this.peerParams.maxUdpPayloadSize);
    this.events.push({ type: 'handshakeConfirmed' });
  }

  private discardSpace(space: PacketSpace, now: number): void {
    const sp = this.spaces[space]!;
    if (sp.discarded) return;
    sp.discarded = true;
    sp.probes = 0;
    this.keys.discard(space);
    this.cc.onPacketsDiscarded(this.loss.discardSpace(space, now));
    this.buffered.splice(0, this.buffered.length, ...this.buffered.filter((b) => b.space !== space));
  }

  /** New read keys arrived: process the packets that waited for them. */
  private replayBuffered(now: number): void {
    if (this.buffered.length === 0) return;
    const pending = this.buffered.splice(0);
    for (const b of pending) {
      const h = tryParsePacketHeader(b.bytes, 0, this.config.localCidLength);
      if (h.kind === 'long' || h.kind === 'short') {
        if (!this.processPacket(now, b.bytes, h) && !this.keys.canRead(b.space)) continue;
      }
    }
  }

  private onVersionNegotiation(now: number, versions: readonly number[]): void {
    // RFC 9000 §6.2: only a client that has received nothing else acts on it, and only when its
    // version is not listed (a listed one means the packet is forged or stale).
    if (this.role !== 'client' || this.peerScidKnown || versions.includes(QUIC_VERSION_1)) return;
    this.closeReason = { kind: 'versionMismatch', code: 0, reason: `the server supports none of our versions (it offers ${versions.map((v) => `0x${v.toString(16)}`).join(', ')})`, remote: true };
    this.events.push({ type: 'closed', reason: this.closeReason });
    this.terminate();
    void now;
  }

  private onRetry(now: number, data: Uint8Array, h: Extract<PacketHeader, { kind: 'retry' }>): void {
    // RFC 9000 §17.2.5.2: a client accepts at most one Retry, before any server Initial, with a
    // valid integrity tag and a non-empty token; anything else is discarded.
    if (this.role !== 'client' || this.retryScid || this.peerScidKnown || h.token.length === 0) return;
    if (!verifyRetry(data, h, this.originalDcid)) return;
    this.retryScid = h.scid.slice();
    this.token = h.token.slice();
    this.expectedPeerScid = this.retryScid;
    this.remoteCids.replaceInitial(this.retryScid);
    this.keys.setInitial(this.retryScid);
    // RFC 9002 §6.3: recovery state restarts; the Initial flight is sent again with the token.
    const sp = this.spaces[PacketSpace.Initial]!;
    this.cc.onPacketsDiscarded(this.loss.discardSpace(PacketSpace.Initial, now));
    sp.crypto.requeueUnacked();
    sp.discarded = false;
  }

  private onConnectionClose(now: number, f: Extract<Frame, { kind: 'connectionClose' }>): void {
    const reason = fromUtf8(f.reason);
    this.closeReason = f.application
      ? { kind: 'application', code: f.errorCode, reason, remote: true }
      : { kind: 'transport', code: f.errorCode, reason, remote: true, frameType: f.frameType };
    this.events.push({ type: 'closed', reason: this.closeReason });
    // RFC 9000 §10.2.2: enter draining; we may send one CONNECTION_CLOSE in answer (iroh does).
    this.closeFrame = { kind: 'connectionClose', application: false, errorCode: 0, frameType: 0, reason: new Uint8Array(0) };
    this.closeSendPending = this.handshakeComplete;
    this.state = 'draining';
    this.closeDeadline = now + 3 * this.currentPto();
  }

  // =============================================================================== timers

  private onTimeout(now: number): void {
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
    if (now >= this.pacingWake) this.pacingWake = Number.POSITIVE_INFINITY;
    if (now >= this.loss.timeout) {
      const r = this.loss.onLossTimeout(now);
      if (r.kind === 'loss') {
        this.onPacketsLost(now, r.lost, r.persistentCongestion);
      } else if (r.kind === 'pto') {
        const sp = this.spaces[r.space]!;
        sp.probes = Math.max(sp.probes, r.probes);
        // RFC 9002 §6.2.4: probes carry unacknowledged handshake data when there is some.
        if (r.space !== PacketSpace.Application) sp.crypto.requeueUnacked();
        if (r.antiDeadlock && r.space === PacketSpace.Initial) sp.probes = 1;
      }
    }
    if (this.config.keepAliveIntervalMs > 0 && this.handshakeComplete && now >= this.lastAckElicitingSent + this.config.keepAliveIntervalMs) {
      this.pingPending = true;
    }
    this.maybeAutoKeyUpdate(now);
  }

  private idleDeadline(): number {
    if (this.idleTimeoutMs === 0) return Number.POSITIVE_INFINITY;
    // RFC 9000 §10.1: at least three PTOs, so a lossy path is not mistaken for a dead one.
    return this.lastActivity + Math.max(this.idleTimeoutMs, 3 * this.currentPto());
  }

  private currentPto(): number {
    return this.loss.rtt.pto(PacketSpace.Application, this.loss.maxAckDelay);
  }

  private maybeAutoKeyUpdate(now: number): void {
    const k = this.keys.oneRtt;
    if (!k || !this.handshakeConfirmed || !this.keys.canInitiateUpdate) return;
    const interval = this.config.keyUpdateIntervalPackets;
    // RFC 9001 §6.6: update well before the confidentiality limit of the AEAD.
    const limit = Math.floor(k.suite.confidentialityLimit * 0.9);
    if ((interval > 0 && this.keys.packetsInPhase >= interval) || this.keys.packetsInPhase >= limit) {
      this.keys.initiateUpdate(now, this.currentPto());
    }
  }

  // =============================================================================== transmit

  private transmit(now: number, out: Uint8Array): number {
    this.maybeAutoKeyUpdate(now);
    let limit = Math.min(out.length, this.mtu.current);
    if (!this.addressValidated) {
      // RFC 9000 §8.1: at most three times what the client sent before its address is validated.
      const budget = 3 * this.amplificationReceived - this.amplificationSent;
      this.loss.amplificationBlocked = budget < 1200;
      if (budget <= 0) return 0;
      limit = Math.min(limit, budget);
    }
    const b = this.builder;
    if (this.handshakeConfirmed && this.addressValidated) {
      // A path MTU probe travels alone in a datagram larger than the current MTU (RFC 9000 §14.4).
      const probe = this.mtu.pollProbe(now);
      if (probe !== undefined && probe <= out.length && this.cc.canSend(probe) && (!this.pacer || this.pacer.delayUntil(now, probe) === 0)) {
        b.beginDatagram(out, probe, this.remoteCids.current);
        this.buildMtuProbe(now, this.spaces[PacketSpace.Application]!, probe);
        const len = b.finishDatagram();
        this.bytesSent += len;
        return len;
      }
    }
    b.beginDatagram(out, limit, this.remoteCids.current);
    const needPadding = { value: false };
    for (const sp of this.spaces) {
      if (sp.discarded || !this.keys.canWrite(sp.space)) continue;
      if (sp.space === PacketSpace.Application && !this.handshakeComplete && this.role === 'server') continue;
      if (b.remaining < 64) break;
      this.buildPacket(now, sp, needPadding);
      if (sp.space === PacketSpace.Handshake && this.role === 'client' && b.sentInDatagram(PacketSpace.Handshake)) {
        // RFC 9001 §4.9.1: a client discards Initial keys once it first sends a Handshake packet.
        this.discardSpace(PacketSpace.Initial, now);
      }
    }
    const len = b.finishDatagram();
    if (len > 0) {
      this.bytesSent += len;
      if (!this.addressValidated) this.amplificationSent += len;
    }
    return len;
  }

  /** Builds one packet of `sp` into the current datagram, if it has anything to say. */
  private buildPacket(now: number, sp: Space, needPadding: { value: boolean }): void {
    const b = this.builder;
    const space = sp.space;
    const app = space === PacketSpace.Application;
    const ackDue = sp.ack.ackPending && (sp.ack.shouldSendAck(now) || !app);
    const probing = sp.probes > 0;
    const congestionOk = probing || this.cc.canSend(1200);
    const pacingOk = probing || !this.pacer || this.pacer.delayUntil(now, 1200) === 0;
    const canElicit = congestionOk && pacingOk;
    const hasData = this.hasAckElicitingData(sp);
    if (!ackDue && !(hasData && canElicit) && !probing) {
      if (hasData && !pacingOk && this.pacer) this.pacingWake = this.pacer.delayUntil(now, 1200);
      return;
    }
    const keys = this.keys.writeKeys(space);
    const largestAcked = this.loss.largestAcked(space);
    const token = space === PacketSpace.Initial && this.role === 'client' ? this.token : undefined;
    if (!b.beginPacket(space, sp.nextPn, largestAcked, app ? this.keys.keyPhase : 0, token)) return;
    const tokens: RecoveryToken[] = [];
    let ackEliciting = false;
    let retransmission = false;

    // ACK first (RFC 9000 §13.2: piggyback whenever we send anyway).
    if (sp.ack.ackPending) {
      const frame = sp.ack.ackFrame(now, space === PacketSpace.Application ? this.config.ackDelayExponent : 3, this.config.maxAckRanges);
      if (frame && b.writeAck(frame)) {
        sp.ack.onAckSent();
        tokens.push({ k: 'ack', space, largest: frame.largest });
      }
    }
    if (canElicit || probing) {
      // CRYPTO data.
      for (let chunk = sp.crypto.nextChunk(b.cryptoRoom()); chunk; chunk = sp.crypto.nextChunk(b.cryptoRoom())) {
        b.writeCrypto(chunk.offset, chunk.data);
        tokens.push({ k: 'crypto', space, offset: chunk.offset, length: chunk.data.length });
        ackEliciting = true;
        if (b.cryptoRoom() <= 0) break;
      }
      if (app) {
        if (this.fillApplication(now, tokens)) ackEliciting = true;
        retransmission = b.retransmittedStream;
      }
      if (probing && !ackEliciting) {
        b.writePing();
        ackEliciting = true;
      }
      if (this.pingPending && app && !ackEliciting) {
        b.writePing();
        ackEliciting = true;
      }
      if (app && ackEliciting) this.pingPending = false;
    }
    if (tokens.length === 0 && !ackEliciting && !b.packetHasFrames) {
      b.abandonPacket();
      return;
    }
    // RFC 9000 §14.1: datagrams with Initial packets are padded to 1200 bytes (the client's all of
    // them, the server's those with ack-eliciting Initials).
    if (space === PacketSpace.Initial && (this.role === 'client' || ackEliciting)) needPadding.value = true;
    const isLast = space === PacketSpace.Application || !this.laterSpaceWillSend(now, space);
    if (needPadding.value && isLast) b.padTo(1200);
    const size = b.finishPacket(keys);
    const pn = sp.nextPn++;
    if (probing && ackEliciting) sp.probes--;
    if (app) this.keys.onOneRttSent(pn);
    const inFlight = ackEliciting || b.lastPacketPadded;
    this.loss.onPacketSent(space, { pn, timeSent: now, size, ackEliciting, inFlight, tokens });
    if (inFlight) {
      this.cc.onPacketSent(now, size, this.currentPto());
      this.pacer?.onPacketSent(now, size);
    }
    if (ackEliciting) {
      this.lastAckElicitingSent = now;
      if (!this.ackElicitingSentSinceReceive) {
        // RFC 9000 §10.1: sending the first ack-eliciting packet after a receipt restarts the idle timer.
        this.lastActivity = now;
        this.ackElicitingSentSinceReceive = true;
      }
    }
    if (retransmission) this.packetsRetransmitted++;
    this.packetsSent++;
    this.loss.rearm(now);
  }

  /** Frames of the application space after ACK and CRYPTO. Returns whether any is ack-eliciting. */
  private fillApplication(now: number, tokens: RecoveryToken[]): boolean {
    const b = this.builder;
    let eliciting = false;
    if (this.handshakeDonePending && this.role === 'server' && b.room(1)) {
      b.writeHandshakeDone();
      this.handshakeDonePending = false;
      tokens.push({ k: 'handshakeDone' });
      eliciting = true;
    }
    while (this.pathResponses.length > 0 && b.room(9)) {
      b.writePathResponse(this.pathResponses.shift()!);
      eliciting = true;
    }
    // Control frames: each is at most ~20 bytes, so only poll when one surely fits.
    while (this.streams.hasControlFrames && b.room(32)) {
      const f = this.streams.pollControlFrame(now, this.loss.rtt.smoothed);
      if (f === null) break;
      b.writeStreamControl(f);
      tokens.push({ k: 'control', frame: f });
      eliciting = true;
    }
    for (let c = this.localCids.peekPending(); c && b.room(1 + 8 + 8 + 1 + c.cid.length + 16); c = this.localCids.peekPending()) {
      b.writeNewConnectionId(c.seq, c.retirePriorTo, c.cid, c.resetToken);
      this.localCids.onNewCidSent(c.seq);
      tokens.push({ k: 'newCid', seq: c.seq });
      eliciting = true;
    }
    for (let s = this.remoteCids.peekRetire(); s !== undefined && b.room(9); s = this.remoteCids.peekRetire()) {
      b.writeRetireConnectionId(s);
      this.remoteCids.onRetireSent(s);
      tokens.push({ k: 'retireCid', seq: s });
      eliciting = true;
    }
    // Datagrams before stream data: they are the latency-sensitive traffic.
    for (let d = this.datagrams.peek(); d; d = this.datagrams.peek()) {
      if (!b.writeDatagram(d)) {
        if (!b.packetHasFrames && d.length > b.remaining) this.datagrams.dropHead(); // can never fit now
        break;
      }
      this.datagrams.onSent();
      tokens.push({ k: 'datagram' });
      eliciting = true;
    }
    // Stream data, round-robin across streams.
    b.retransmittedStream = false;
    for (let s = this.streams.nextSendable(); s !== null; s = this.streams.nextSendable()) {
      const room = b.streamRoom(s.id, s.peekNextOffset());
      if (room < 0) break;
      const chunk = s.nextFrame(room);
      if (chunk === null) break;
      b.writeStream(s, chunk.offset, chunk.length, chunk.fin);
      if (!chunk.isNew) b.retransmittedStream = true;
      tokens.push({ k: 'stream', id: s.id, offset: chunk.offset, length: chunk.length, fin: chunk.fin });
      eliciting = true;
      if (b.remaining < 24) break;
    }
    this.cc.setAppLimited(!this.streams.nextSendable() && this.cc.bytesInFlight < this.cc.window / 2);
    return eliciting;
  }

  private buildMtuProbe(now: number, sp: Space, size: number): void {
    const b = this.builder;
    if (!b.beginPacket(sp.space, sp.nextPn, this.loss.largestAcked(sp.space), this.keys.keyPhase, undefined)) return;
    b.writePing();
    b.padTo(size);
    const len = b.finishPacket(this.keys.writeKeys(sp.space));
    const pn = sp.nextPn++;
    this.keys.onOneRttSent(pn);
    this.mtu.onProbeSent(size);
    this.loss.onPacketSent(sp.space, { pn, timeSent: now, size: len, ackEliciting: true, inFlight: true, tokens: [{ k: 'mtuProbe', size }] });
    this.cc.onPacketSent(now, len, this.currentPto());
    this.pacer?.onPacketSent(now, len);
    this.packetsSent++;
    this.loss.rearm(now);
  }

  private hasAckElicitingData(sp: Space): boolean {
    if (sp.crypto.hasDataToSend) return true;
    if (sp.space !== PacketSpace.Application) return false;
    return (
      this.handshakeDonePending ||
      this.pingPending ||
      this.pathResponses.length > 0 ||
      this.streams.hasControlFrames ||
      this.localCids.peekPending() !== undefined ||
      this.remoteCids.peekRetire() !== undefined ||
      this.datagrams.peek() !== undefined ||
      this.streams.nextSendable() !== null
    );
  }

  /** Whether a later space than `space` will put a packet in this datagram. */
  private laterSpaceWillSend(now: number, space: PacketSpace): boolean {
    for (const sp of this.spaces) {
      if (sp.space <= space || sp.discarded || !this.keys.canWrite(sp.space)) continue;
      if (sp.space === PacketSpace.Application && !this.handshakeComplete && this.role === 'server') continue;
      if (sp.probes > 0 || sp.crypto.hasDataToSend || (sp.ack.ackPending && sp.ack.shouldSendAck(now))) return true;
      if (sp.space === PacketSpace.Application && this.hasAckElicitingData(sp) && this.cc.canSend(1200)) return true;
    }
    return false;
  }

  private onMtuChanged(): void {
    this.cc.setMaxDatagramSize(this.mtu.current);
    this.updatePacer();
  }

  private updatePacer(): void {
    this.pacer?.update(this.cc.window, this.loss.rtt.smoothed, this.mtu.current, this.cc.inSlowStart);
  }

  // =============================================================================== closing

  private onError(now: number, e: unknown): void {
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

  private enterClosing(now: number, frame: Extract<Frame, { kind: 'connectionClose' }>, reason: CloseReason): void {
    this.closeReason = reason;
    this.events.push({ type: 'closed', reason });
    this.closeFrame = frame;
    this.closeSendPending = true;
    this.state = 'closing';
    // RFC 9000 §10.2: the closing period lasts at least three PTOs.
    this.closeDeadline = now + 3 * this.currentPto();
  }

  private enterDraining(now: number): void {
    this.state = 'draining';
    this.closeSendPending = false;
    this.closeDeadline = now + 3 * this.currentPto();
  }

  /** RFC 9000 §10.2.1: answer packets received while closing, at an exponentially decreasing rate. */
  private onPacketWhileClosing(_now: number): void {
    this.closePacketsReceived++;
    if ((this.closePacketsReceived & (this.closePacketsReceived - 1)) === 0) this.closeSendPending = true;
  }

  private transmitClose(out: Uint8Array): number {
    if (!this.closeSendPending || !this.closeFrame) return 0;
    this.closeSendPending = false;
    const b = this.builder;
    b.beginDatagram(out, Math.min(out.length, this.mtu.current), this.remoteCids.current);
    // Before the handshake is confirmed the peer may lack 1-RTT (or Handshake) keys: send the close
    // in every space we can write (RFC 9000 §10.2.3); an application close becomes APPLICATION_ERROR
    // with no reason outside 1-RTT.
    let wroteInitial = false;
    for (const sp of this.spaces) {
      if (sp.discarded || !this.keys.canWrite(sp.space)) continue;
      if (sp.space === PacketSpace.Application && !this.handshakeComplete) continue;
      if (this.handshakeConfirmed && sp.space !== PacketSpace.Application) continue;
      const f = this.closeFrame.application && sp.space !== PacketSpace.Application
        ? transportClose(TransportErrorCode.APPLICATION_ERROR, '')
        : this.closeFrame;
      if (!b.beginPacket(sp.space, sp.nextPn, this.loss.largestAcked(sp.space), this.keys.keyPhase, sp.space === PacketSpace.Initial && this.role === 'client' ? this.token : undefined)) break;
      b.writeConnectionClose(f);
      if (sp.space === PacketSpace.Initial) wroteInitial = true;
      const isLast = sp.space === PacketSpace.Application || (this.handshakeComplete ? false : sp.space === PacketSpace.Handshake || !this.keys.canWrite(PacketSpace.Handshake));
      if (wroteInitial && this.role === 'client' && isLast) b.padTo(1200);
      b.finishPacket(this.keys.writeKeys(sp.space));
      sp.nextPn++;
      this.packetsSent++;
    }
    const len = b.finishDatagram();
    this.bytesSent += len;
    return len;
  }

  private terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.events.push({ type: 'terminated' });
  }

  // =============================================================================== helpers

  private localTransportParameters(scid: Uint8Array): TransportParameters {
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
    return p;
  }

  private assertUsable(): void {
    if (this.isClosed) throw new ConnectionClosedError(this.closeReason);
  }

  private sendPart(id: number) {
    const s = this.streams.get(id);
    if (!s?.send) throw new RangeError(`stream ${id} has no sending part here (unknown, closed or receive-only)`);
    return s.send;
  }

  private recvPart(id: number) {
    const s = this.streams.get(id);
    if (!s?.recv) throw new RangeError(`stream ${id} has no receiving part here (unknown, closed or send-only)`);
    return s.recv;
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

function transportClose(code: number, reason: string, frameType = 0): Extract<Frame, { kind: 'connectionClose' }> {
  // Keep reason phrases short: they travel in one packet.
  const r = utf8(reason);
  return { kind: 'connectionClose', application: false, errorCode: code, frameType, reason: r.length > 256 ? r.subarray(0, 256) : r };
}
