import { utf8 } from '../../codec/bytes.js';
import type { CloseReason, ConnectionEvent } from '../events.js';
import type { Direction } from '../streams/stream-id.js';
import type { TransportParameters } from '../transport-params.js';
import { ConnectionCore, type ConnectionStats } from './connection-core.js';
import { processDatagram } from './receive.js';
import { transmit, transmitClose } from './transmit.js';
import { StreamResetError } from '../streams/stream-error.js';
import { qlogAfterInput, type QlogTracer } from './qlog.js';
import { onDatagramFrom, transmitPath, validateCurrentPath } from './paths.js';
export type { QlogSink } from './qlog.js';
export type { ConnectionOptions, ClientConnectionOptions, ServerConnectionOptions, ConnectionTlsOptions, ConnectionStats } from './connection-core.js';
export type { PathStats } from './paths.js';

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
export class Connection extends ConnectionCore {
  /**
   * Set by the owner (EndpointCore): called by every command below, which may give the
   * connection something to send or move its timer, so the owner polls only connections that
   * were touched. (Inputs, timers and pollTransmit go through the owner already.)
   */
  onCommand: (() => void) | undefined = undefined;

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

  /**
   * Where this connection's non-probing packets go: the peer's address as the driver named it
   * (undefined when the driver gives none). It follows the peer's migrations (path.ts).
   */
  get remoteAddress(): string | undefined {
    return this.paths.current.address || undefined;
  }

  /** The destination of the datagram the last `pollTransmit` wrote (path datagrams may go elsewhere). */
  get transmitAddress(): string | undefined {
    return this.paths.txAddress || undefined;
  }

  /**
   * Checks that the peer still holds the current address (RFC 9000 §8.2: "an endpoint might check
   * that a peer is still in possession of its address after a period of quiescence"): a
   * PATH_CHALLENGE in a probing datagram; `getStats().pathValidations` counts the answer.
   */
  validatePath(now: number): void {
    this.onCommand?.();
    this.assertUsable();
    if (!this.handshakeConfirmed) return;
    if (this.qlog) this.qlog.now = now;
    validateCurrentPath(this, now);
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
      ...this.paths.stats,
    };
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

  /** Writes what fits of `data` into stream `id`'s send buffer; returns the bytes accepted. */
  writeStream(id: number, data: Uint8Array): number {
    this.onCommand?.();
    this.assertUsable();
    return this.sendPart(id).write(data);
  }

  finishStream(id: number): void {
    this.onCommand?.();
    this.assertUsable();
    this.sendPart(id).finish();
  }

  resetStream(id: number, code: number | bigint): void {
    this.onCommand?.();
    if (this.isClosed) return;
    this.sendPart(id).reset(code);
  }

  /**
   * Reads up to `max` in-order bytes of stream `id`, or null when none are available. When the
   * peer reset the stream (RESET_STREAM, RFC 9000 §19.4), the read that reaches the reset throws
   * a StreamResetError carrying the peer's application error code (byPeer true), as writeStream
   * does after STOP_SENDING.
   */
  readStream(id: number, max = Number.POSITIVE_INFINITY): Uint8Array | null {
    this.onCommand?.();
    const recv = this.recvPart(id);
    const data = recv.read(max);
    if (data === null && recv.resetCode !== undefined) throw new StreamResetError(id, recv.resetCode, true);
    return data;
  }

  stopSending(id: number, code: number | bigint): void {
    this.onCommand?.();
    if (this.isClosed) return;
    this.recvPart(id).stopSending(code);
  }

  /** Queues a datagram; throws DatagramError when unsupported or too large. */
  sendDatagram(data: Uint8Array): void {
    this.onCommand?.();
    this.assertUsable();
    this.datagrams.send(data, this.mtu.current, this.remoteCids.current.length);
  }

  /** The oldest received datagram, or undefined. */
  recvDatagram(): Uint8Array | undefined {
    this.onCommand?.();
    return this.datagrams.recv();
  }

  /** Sends an ack-eliciting PING (keeps the path alive, measures RTT). */
  ping(): void {
    this.onCommand?.();
    this.pingPending = true;
  }

  /** Starts a 1-RTT key update (RFC 9001 §6.1); returns false when one may not start yet. */
  initiateKeyUpdate(now: number): boolean {
    this.onCommand?.();
    if (!this.handshakeConfirmed || !this.keys.canInitiateUpdate) return false;
    this.keys.initiateUpdate(now, this.currentPto());
    return true;
  }

  /**
   * Closes the connection with an application error code and reason (CONNECTION_CLOSE 0x1d),
   * entering the closing period (RFC 9000 §10.2.1).
   */
  close(now: number, code: number | bigint, reason = ''): void {
    this.onCommand?.();
    if (this.isClosed) return;
    if (this.qlog) this.qlog.now = now;
    this.enterClosing(now, { kind: 'connectionClose', application: true, errorCode: code, frameType: 0, reason: utf8(reason) }, {
      kind: 'application', code, reason, remote: false,
    });
    if (this.qlog) qlogAfterInput(this, this.qlog);
  }

  /**
   * A UDP datagram arrived for this connection from `from` ("ip:port"; omitted, the current
   * path). Never throws on peer input: malformed packets are dropped, protocol violations close
   * the connection.
   */
  handleDatagram(now: number, data: Uint8Array, from?: string): void {
    if (this.state === 'terminated' || this.state === 'draining') return;
    this.bytesReceived += data.length;
    if (!onDatagramFrom(this, from, data.length)) {
      this.packetsDropped++;
      return;
    }
    if (this.state === 'closing') {
      this.onPacketWhileClosing(now);
      return;
    }
    if (this.qlog) this.qlog.now = now;
    try {
      processDatagram(this, now, data);
    } catch (e) {
      this.onError(now, e);
    }
    if (this.qlog) qlogAfterInput(this, this.qlog);
  }

  /** The timer from `pollTimeout()` fired (or any time: only what is due happens). */
  handleTimeout(now: number): void {
    if (this.state === 'terminated') return;
    if (this.qlog) this.qlog.now = now;
    try {
      this.onTimeout(now);
    } catch (e) {
      this.onError(now, e);
    }
    if (this.qlog) qlogAfterInput(this, this.qlog);
  }

  /**
   * Writes the next datagram into `out` (sized for the path: pass at least `maxUdpPayloadSize`
   * bytes) and returns its length, or 0 when there is nothing to send now.
   */
  pollTransmit(now: number, out: Uint8Array): number {
    if (this.state === 'terminated' || this.state === 'draining') return 0;
    if (this.qlog) return this.pollTransmitTraced(now, out, this.qlog);
    this.paths.txAddress = this.paths.current.address;
    try {
      if (this.state === 'closing') return transmitClose(this, now, out);
      return transmitPath(this, now, out) || transmit(this, now, out);
    } catch (e) {
      this.onError(now, e);
      this.paths.txAddress = this.paths.current.address;
      return this.state === 'closing' ? transmitClose(this, now, out) : 0;
    }
  }

  /** `pollTransmit` while tracing: the packets are logged as sealed; then what changed. */
  private pollTransmitTraced(now: number, out: Uint8Array, q: QlogTracer): number {
    q.now = now;
    this.paths.txAddress = this.paths.current.address;
    let len: number;
    try {
      len = this.state === 'closing' ? transmitClose(this, now, out) : transmitPath(this, now, out) || transmit(this, now, out);
    } catch (e) {
      this.onError(now, e);
      this.paths.txAddress = this.paths.current.address;
      len = this.state === 'closing' ? transmitClose(this, now, out) : 0;
    }
    if (this.qlog) qlogAfterInput(this, this.qlog);
    return len;
  }

  /** When `handleTimeout` should next be called (ms), or Infinity. */
  pollTimeout(): number {
    if (this.state === 'terminated') return Number.POSITIVE_INFINITY;
    if (this.state === 'closing' || this.state === 'draining') return this.closeDeadline;
    let t = Math.min(this.loss.timeout, this.idleDeadline(), this.pacingWake, this.keys.previousReadDiscardAt);
    if (!this.handshakeComplete) t = Math.min(t, this.handshakeDeadline);
    // What the anti-amplification limit keeps us from sending (an ACK, a keep-alive; RFC 9000
    // §8.1, §9.3) waits for the peer's next datagram: its deadline is no timer, or a driver would
    // spin on it. MTU probes wait for a validated path (transmit.ts).
    if (!this.amplificationBlocked()) {
      for (const s of this.spaces) if (!s.discarded && this.keys.canWrite(s.space)) t = Math.min(t, s.ack.ackDeadline);
      if (this.config.keepAliveIntervalMs > 0 && this.handshakeComplete) {
        t = Math.min(t, this.lastAckElicitingSent + this.config.keepAliveIntervalMs);
      }
    }
    const mtuAt = this.mtu.nextSearchAt;
    if (mtuAt !== undefined && this.addressValidated) t = Math.min(t, mtuAt);
    return Math.min(t, this.paths.timeout);
  }

  /** The next event, or undefined. */
  pollEvent(): ConnectionEvent | undefined {
    const e = this.events.shift();
    if (e) return e;
    return this.streams.pollEvent() ?? undefined;
  }

  /** The current path is unvalidated and its 3x budget is too small for any packet. */
  private amplificationBlocked(): boolean {
    return !this.addressValidated && 3 * this.amplificationReceived - this.amplificationSent < MIN_PACKET_BUDGET;
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

/** Fewer bytes than this cannot carry a packet (header, a frame, the 16-byte tag). */
const MIN_PACKET_BUDGET = 64;

/** Thrown by commands on a closed connection. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  readonly reason: CloseReason | undefined;
  constructor(reason: CloseReason | undefined) {
    super(`connection closed${reason ? `: ${reason.reason || reason.kind}` : ''}`);
    this.reason = reason;
  }
}

