import { TransportErrorCode } from '../errors.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import { PacketSpace } from '../packet/space.js';
import { transportClose } from './lifecycle.js';
import { BASE_PLPMTU } from './mtu.js';
import { PacketBuilder } from './packet-builder.js';
import { currentPto, type ConnectionParts } from './parts.js';
import type { Path, PathRecovery } from './path.js';
import type { HandshakeProgress } from './progress.js';
import type { PathCids } from './path-cids.js';
import { qlogPacketSent, type QlogTracer } from './qlog.js';
import { DATAGRAM_FRAME, HANDSHAKE_DONE_FRAME, PATH_CHALLENGE_FRAME, PacketRecord } from './sent-packet.js';
import type { SpaceState } from './spaces.js';

/** Counters of the transmit path. */
export interface TransmitStats {
  readonly packetsSent: number;
  readonly bytesSent: number;
  /** Packets that carried retransmitted data (CRYPTO or STREAM sent before). */
  readonly packetsRetransmitted: number;
}

/** Fewer bytes than this cannot carry a packet (header, a frame, the 16-byte tag). */
export const MIN_PACKET_BUDGET = 64;
/** ACK ranges sent with a CONNECTION_CLOSE: few enough that the close frame always fits after them. */
const CLOSE_ACK_RANGES = 16;

/**
 * The transmit path of a connection: what goes in the next datagram, to which path, in which
 * packet number spaces, within the congestion window, the pacer and the anti-amplification limit
 * (RFC 9000 §12.2, §13, §14; RFC 9002 §7). Three kinds of datagram: path datagrams
 * (PATH_CHALLENGE / PATH_RESPONSE, to any path, RFC 9000 §8.2), path MTU probes (RFC 9000 §14.4)
 * and everything else, coalesced per space. It owns the packet builder, the PING owed, the pacing
 * wake-up and its counters; every packet it seals is recorded with the loss detector together
 * with the path it left on.
 */
export class Transmitter {
  readonly builder: PacketBuilder;
  private readonly d: ConnectionParts;
  private readonly progress: HandshakeProgress;
  /** Our SCID of sequence 0 (long headers). */
  private readonly scid: Uint8Array;
  private pingPending = false;
  /** When the pacer lets the next packet go (Infinity: not paced). */
  private wake = Number.POSITIVE_INFINITY;
  /** The path of the datagram `pollTransmit` wrote last. */
  private txPath: Path;
  /** A STREAM frame of the packet being built carried retransmitted data. */
  private retransmitted = false;
  /** The largest datagram the current path takes (before budgets shrink the one being built). */
  private pathRoom: number = MIN_DATAGRAM_SIZE;
  private sent = 0;
  private bytes = 0;
  private retransmissions = 0;

  constructor(parts: ConnectionParts, progress: HandshakeProgress, scid: Uint8Array) {
    this.d = parts;
    this.progress = progress;
    this.scid = scid;
    this.builder = new PacketBuilder(scid);
    this.txPath = parts.paths.current;
  }

  get stats(): TransmitStats {
    return { packetsSent: this.sent, bytesSent: this.bytes, packetsRetransmitted: this.retransmissions };
  }

  /** The destination of the datagram `pollTransmit` wrote last. */
  get destination(): Path {
    return this.txPath;
  }

  /** When the pacer next lets a packet go (a timer of the connection), or Infinity. */
  get pacingWake(): number {
    return this.wake;
  }

  /** Every packet sealed from now on is logged to `q` (qlog packet_sent); undefined stops it. */
  traceSealed(q: QlogTracer | undefined): void {
    if (!q) {
      this.builder.onSealed = undefined;
      return;
    }
    const d = this.d;
    this.builder.onSealed = (space, pn, plaintext, size) =>
      qlogPacketSent(q, space, pn, plaintext, size, this.scid, d.remoteCids.current, this.ackDelayExponent(space));
  }

  /** An ack-eliciting PING goes in the next 1-RTT packet (keep-alive, RTT, `Connection.ping`). */
  requestPing(): void {
    this.pingPending = true;
  }

  /** Timers are due: a passed pacing wake-up is spent. */
  onTimeout(now: number): void {
    if (now >= this.wake) this.wake = Number.POSITIVE_INFINITY;
  }

  /** Writes the next datagram into `out`; returns its length, or 0 when nothing is to be sent now. */
  pollTransmit(now: number, out: Uint8Array): number {
    this.txPath = this.d.paths.current;
    if (this.d.lifecycle.state === 'closing') return this.transmitClose(now, out);
    return this.transmitPathFrames(now, out) || this.transmitData(now, out);
  }

  /**
   * The CONNECTION_CLOSE of the closing state (RFC 9000 §10.2.1), once per `Lifecycle` request.
   * Before the handshake is confirmed the peer may lack 1-RTT (or Handshake) keys: the close goes
   * in every space we can write (§10.2.3); an application close becomes APPLICATION_ERROR with no
   * reason outside 1-RTT.
   */
  transmitClose(now: number, out: Uint8Array): number {
    const d = this.d;
    const frame = d.lifecycle.pendingClose;
    if (!frame) return 0;
    d.lifecycle.onCloseSent();
    const hs = d.handshake;
    const b = this.builder;
    b.beginDatagram(out, Math.min(out.length, d.paths.recovery.mtu.current), d.remoteCids.current);
    let wroteInitial = false;
    for (const sp of d.spaces.all) {
      const space = sp.space;
      if (sp.discarded || !d.keys.canWrite(space)) continue;
      if (space === PacketSpace.Application && !hs.isComplete) continue;
      if (hs.isConfirmed && space !== PacketSpace.Application) continue;
      const f = frame.application && space !== PacketSpace.Application ? transportClose(TransportErrorCode.APPLICATION_ERROR, '') : frame;
      const token = space === PacketSpace.Initial && d.role === 'client' ? hs.token : undefined;
      if (!b.beginPacket(space, sp.nextPn, d.loss.largestAcked(space), d.keys.keyPhase, token)) break;
      // ACKs first, as quinn does: the peer learns what arrived before the connection ends. Without
      // it, a FIN received just before an application closes (delayed ACK pending) is never
      // acknowledged, and the peer's wait for that acknowledgment fails with the close.
      const ack = sp.ack.ackFrame(now, this.ackDelayExponent(space), Math.min(d.config.maxAckRanges, CLOSE_ACK_RANGES));
      if (ack && b.writeAck(ack)) sp.ack.onAckSent();
      b.writeConnectionClose(f);
      if (space === PacketSpace.Initial) wroteInitial = true;
      const isLast = space === PacketSpace.Application || (hs.isComplete ? false : space === PacketSpace.Handshake || !d.keys.canWrite(PacketSpace.Handshake));
      if (wroteInitial && d.role === 'client' && isLast) b.padTo(MIN_DATAGRAM_SIZE);
      b.finishPacket(d.keys.writeKeys(space));
      sp.takePn();
      this.sent++;
    }
    const len = b.finishDatagram();
    this.bytes += len;
    // A connection whose handshake never completed holds nothing worth a closing period (no
    // session, no streams): the CONNECTION_CLOSE is sent once and the state discarded (RFC 9000
    // §10.2 allows leaving the closing state early; the cost is at most a stateless reset).
    // Without this, a failed dial keeps its endpoint busy for 3 PTOs of the 333 ms initial RTT.
    if (!hs.isComplete) d.lifecycle.terminate();
    return len;
  }

  // ------------------------------------------------------------------ path datagrams

  /**
   * The next path datagram (PATH_CHALLENGE and/or PATH_RESPONSE, padded, to one path), or 0 when
   * no path has anything to send now. Registered with loss detection as ack-eliciting but not in
   * flight: exempt from the congestion window (their number is bounded: one challenge per PTO per
   * path, one response per challenge received, at most MAX_RESPONSES queued) and their loss is
   * handled by the challenge timer, as RFC 9000 §9.4 allows ("a sender can make exceptions for
   * probe packets so that their loss detection is independent").
   */
  private transmitPathFrames(now: number, out: Uint8Array): number {
    const d = this.d;
    if (!d.paths.mayHavePathFrames || !d.handshake.isComplete || !d.keys.canWrite(PacketSpace.Application)) return 0;
    for (const p of d.paths.all()) {
      if (!p.hasPathFrames) continue;
      const len = this.buildPathDatagram(now, out, p);
      if (len > 0) {
        this.txPath = p;
        return len;
      }
    }
    return 0;
  }

  private buildPathDatagram(now: number, out: Uint8Array, p: Path): number {
    const d = this.d;
    const budget = p.budget;
    if (budget < MIN_PACKET_BUDGET) return 0;
    // RFC 9000 §8.2.1, §8.2.2: expanded to 1200 bytes, unless the anti-amplification limit forbids.
    const target = Math.min(MIN_DATAGRAM_SIZE, budget, out.length);
    const sp = d.spaces.at(PacketSpace.Application);
    const b = this.builder;
    b.beginDatagram(out, target, d.paths.dcidFor(p));
    if (!b.beginPacket(PacketSpace.Application, sp.nextPn, d.loss.largestAcked(PacketSpace.Application), d.keys.keyPhase, undefined)) return 0;
    const record = new PacketRecord(p);
    let responses = 0;
    while (p.responsesOwed > 0 && b.room(9)) {
      b.writePathResponse(p.takeResponse()!);
      responses++;
    }
    if (p.challengePending && b.room(9)) {
      b.writePathChallenge(d.paths.takeChallenge(p, now, currentPto(d), target >= MIN_DATAGRAM_SIZE));
      record.add(PATH_CHALLENGE_FRAME);
    }
    // RFC 9000 §9.3.3: the response on the active path is non-probing, so a genuine peer's answer
    // reaches us on the path it wants, ahead of an attacker's copies.
    if (responses > 0 && p === d.paths.current) b.writePing();
    b.padTo(target);
    const size = b.finishPacket(d.keys.writeKeys(PacketSpace.Application));
    const pn = sp.takePn();
    d.keys.onOneRttSent(pn);
    d.loss.onPacketSent(PacketSpace.Application, record.sent(pn, now, size, true, false), d.paths.recovery.rtt);
    const len = b.finishDatagram();
    d.paths.onResponsesSent(responses);
    this.sent++;
    this.bytes += len;
    p.onSent(len);
    return len;
  }

  // ------------------------------------------------------------------ everything else

  private transmitData(now: number, out: Uint8Array): number {
    const d = this.d;
    const hs = d.handshake;
    if (hs.isConfirmed) d.keys.maybeUpdate(now, d.config.keyUpdateIntervalPackets, currentPto(d));
    const path = d.paths.current;
    const r = d.paths.recovery;
    let limit = Math.min(out.length, r.mtu.current);
    this.pathRoom = limit;
    if (!path.validated) {
      // RFC 9000 §8.1: at most three times what the client sent before its address is validated.
      const budget = path.budget;
      d.loss.setAmplificationBlocked(budget < MIN_DATAGRAM_SIZE, now, r.rtt);
      if (budget <= 0) return 0;
      limit = Math.min(limit, budget);
    }
    // RFC 9002 §7: a packet must not take bytes in flight past the window. The checks below ask
    // for room for a base-size packet; a datagram is cut to the room left, so a full-size one
    // (up to 64 KiB on loopback) never overshoots the window by more than a base-size packet.
    if (!d.spaces.probesPending) limit = Math.min(limit, Math.max(BASE_PLPMTU, r.cc.available()));
    if (r.mtu.current > BASE_PLPMTU && d.spaces.probesPending) {
      // PTO probes go in base-size datagrams: if the path MTU shrank (a route change), full-size
      // packets vanish without a trace and only a probe that fits can elicit the ACK that declares
      // them lost, which is what black-hole detection needs (RFC 8899 §4.3, mtu.ts).
      limit = Math.min(limit, BASE_PLPMTU);
    }
    const b = this.builder;
    if (hs.isConfirmed && path.validated) {
      // A path MTU probe travels alone in a datagram larger than the current MTU (RFC 9000 §14.4).
      // It needs the room of a base-size packet, as every packet: a jumbo probe (64 KiB on
      // loopback) can be larger than the whole window, and would never find room for itself
      // while data keeps the window full. Its bytes count in flight until it is acknowledged or
      // lost; its loss is no congestion signal (§14.4); at most MAX_PROBES of a size (mtu.ts).
      let probe = r.mtu.pollProbe(now);
      if (probe !== undefined && probe > out.length) {
        r.mtu.onProbeUnsendable(probe);
        probe = r.mtu.pollProbe(now);
      }
      if (probe !== undefined && probe <= out.length && r.canSend(now, Math.min(probe, BASE_PLPMTU))) {
        b.beginDatagram(out, probe, d.remoteCids.current);
        this.buildMtuProbe(now, path, r, probe);
        const len = b.finishDatagram();
        this.bytes += len;
        return len;
      }
    }
    b.beginDatagram(out, limit, d.remoteCids.current);
    let needPadding = false;
    for (const sp of d.spaces.all) {
      if (!this.canWrite(sp)) continue;
      if (b.remaining < MIN_PACKET_BUDGET) break;
      needPadding = this.buildPacket(now, path, r, sp, needPadding);
      if (sp.space === PacketSpace.Handshake && d.role === 'client' && b.sentInDatagram(PacketSpace.Handshake)) {
        // RFC 9001 §4.9.1: a client discards Initial keys once it first sends a Handshake packet.
        this.progress.discardSpace(PacketSpace.Initial, now);
      }
    }
    const len = b.finishDatagram();
    if (len > 0) {
      this.bytes += len;
      path.onSent(len);
    }
    return len;
  }

  /** Whether packets of `sp` may be written now. */
  private canWrite(sp: SpaceState): boolean {
    const d = this.d;
    if (sp.discarded) return false;
    if (!d.keys.canWrite(sp.space)) return sp.space === PacketSpace.Application && this.zeroRtt;
    // A server sends no 1-RTT packet before the handshake completes (RFC 9001 §5.7 allows it; we
    // do it only to answer accepted 0-RTT data, the "0.5-RTT" that makes 0-RTT worth having).
    return !(sp.space === PacketSpace.Application && !d.handshake.isComplete && d.role === 'server' && d.handshake.tls.earlyData !== 'accepted');
  }

  /**
   * Client: Application data goes in 0-RTT packets now (RFC 9001 §4.6.1): 0-RTT keys and no
   * 1-RTT keys yet (the 0-RTT keys go at the server's EncryptedExtensions, before 1-RTT ones come).
   */
  private get zeroRtt(): boolean {
    const keys = this.d.keys;
    // A server's 0-RTT keys open the client's packets; it never sends 0-RTT (RFC 9000 §17.2.3).
    return this.d.role === 'client' && keys.hasZeroRtt && !keys.canWrite(PacketSpace.Application);
  }

  /**
   * Builds one packet of `sp` into the current datagram, if it has anything to say. `needPadding`:
   * an earlier packet of the datagram requires it padded to 1200 bytes; returns the same for the
   * next packet.
   */
  private buildPacket(now: number, path: Path, r: PathRecovery, sp: SpaceState, needPadding: boolean): boolean {
    const d = this.d;
    const b = this.builder;
    const space = sp.space;
    const app = space === PacketSpace.Application;
    if (!this.willSend(now, r, sp)) {
      if (r.pacer && this.hasAckElicitingData(sp) && r.cc.canSend(MIN_DATAGRAM_SIZE)) {
        const wake = r.pacer.delayUntil(now, MIN_DATAGRAM_SIZE);
        if (wake > 0) this.wake = wake;
      }
      return needPadding;
    }
    const probing = sp.probesOwed > 0;
    const canElicit = probing || r.canSend(now, MIN_DATAGRAM_SIZE);
    const token = space === PacketSpace.Initial && d.role === 'client' ? d.handshake.token : undefined;
    const zeroRtt = app && this.zeroRtt;
    if (!b.beginPacket(space, sp.nextPn, d.loss.largestAcked(space), app ? d.keys.keyPhase : 0, token, zeroRtt)) return needPadding;
    const record = new PacketRecord(path);
    let ackEliciting = false;
    this.retransmitted = false;

    // ACK first (RFC 9000 §13.2: piggyback whenever we send anyway); never in 0-RTT (§12.4 Table 3).
    if (sp.ack.ackPending && !zeroRtt) {
      const frame = sp.ack.ackFrame(now, this.ackDelayExponent(space), d.config.maxAckRanges);
      if (frame && b.writeAck(frame)) {
        sp.ack.onAckSent();
        record.addAck(space, frame.largest);
      }
    }
    if (canElicit) {
      for (let chunk = sp.crypto.nextChunk(b.cryptoRoom()); chunk; chunk = sp.crypto.nextChunk(b.cryptoRoom())) {
        b.writeCrypto(chunk.offset, chunk.data);
        record.add({ k: 'crypto', space, offset: chunk.offset, length: chunk.data.length });
        ackEliciting = true;
        if (b.cryptoRoom() <= 0) break;
      }
      if (app && this.fillApplication(now, r, record, zeroRtt)) ackEliciting = true;
      if (!ackEliciting && (probing || (app && this.pingPending))) {
        b.writePing();
        ackEliciting = true;
      }
      if (app && ackEliciting) this.pingPending = false;
    }
    if (record.count === 0 && !ackEliciting && !b.packetHasFrames) {
      b.abandonPacket();
      return needPadding;
    }
    // RFC 9000 §14.1: datagrams with Initial packets are padded to 1200 bytes (the client's all of
    // them, the server's those with ack-eliciting Initials).
    if (space === PacketSpace.Initial && (d.role === 'client' || ackEliciting)) needPadding = true;
    const isLast = app || !this.laterSpaceWillSend(now, r, space);
    if (needPadding && isLast) b.padTo(MIN_DATAGRAM_SIZE);
    const size = b.finishPacket(zeroRtt ? d.keys.zeroRttKeys : d.keys.writeKeys(space));
    const pn = sp.takePn();
    if (probing && ackEliciting) sp.onProbeSent();
    if (app && !zeroRtt) d.keys.onOneRttSent(pn);
    const inFlight = ackEliciting || b.lastPacketPadded;
    d.loss.onPacketSent(space, record.sent(pn, now, size, ackEliciting, inFlight), r.rtt);
    if (inFlight) r.onPacketSent(now, size, currentPto(d));
    if (ackEliciting) d.idle.onAckElicitingSent(now);
    if (this.retransmitted) this.retransmissions++;
    this.sent++;
    // An in-flight packet already re-armed the loss timer at `now` in onPacketSent; rearm for the
    // others too.
    if (!inFlight) d.loss.rearm(now, r.rtt);
    return needPadding;
  }

  /**
   * Frames of the application space after ACK and CRYPTO. Returns whether any is ack-eliciting.
   * In a 0-RTT packet (`zeroRtt`) only what the client may send there (RFC 9000 §12.4, Table 3;
   * RFC 9221 §4): stream data and stream control frames, datagrams.
   */
  private fillApplication(now: number, r: PathRecovery, record: PacketRecord, zeroRtt: boolean): boolean {
    const d = this.d;
    const b = this.builder;
    let eliciting = false;
    if (zeroRtt) return this.fillStreamsAndDatagrams(now, r, record, true);
    if (d.handshake.handshakeDonePending && b.room(1)) {
      b.writeHandshakeDone();
      d.handshake.onHandshakeDoneSent();
      record.add(HANDSHAKE_DONE_FRAME);
      eliciting = true;
    }
    const token = d.handshake.newTokenPending;
    if (token && b.room(1 + 8 + token.length)) {
      b.writeNewToken(token);
      d.handshake.onNewTokenSent();
      record.add({ k: 'newToken', token });
      eliciting = true;
    }
    if (this.fillStreamControl(now, r, record)) eliciting = true;
    const local = d.localCids;
    for (let n = local.peekPending(); n && b.room(1 + 8 + 8 + 1 + n.cid.length + 16); n = local.peekPending()) {
      b.writeNewConnectionId(n.seq, n.retirePriorTo, n.cid, n.resetToken);
      local.onNewCidSent(n.seq);
      record.add({ k: 'newCid', seq: n.seq });
      eliciting = true;
    }
    const remote = d.remoteCids;
    for (let s = remote.peekRetire(); s !== undefined && b.room(9); s = remote.peekRetire()) {
      b.writeRetireConnectionId(s);
      remote.onRetireSent(s);
      record.add({ k: 'retireCid', seq: s });
      eliciting = true;
    }
    const pathCids = d.multipath.cids;
    if (pathCids !== null && this.fillPathCids(b, record, pathCids)) eliciting = true;
    return this.fillStreamsAndDatagrams(now, r, record, false) || eliciting;
  }

  /** PATH_NEW_CONNECTION_ID and PATH_RETIRE_CONNECTION_ID owed (multipath, path ids 1..n). Returns whether any was written. */
  private fillPathCids(b: PacketBuilder, record: PacketRecord, pathCids: PathCids): boolean {
    let written = false;
    for (let n = pathCids.peekNewCid(); n && b.room(4 + 1 + 8 + 8 + 1 + n.info.cid.length + 16); n = pathCids.peekNewCid()) {
      const i = n.info;
      b.writeMultipathFrame({ kind: 'pathNewConnectionId', pathId: n.pathId, sequence: i.seq, retirePriorTo: i.retirePriorTo, connectionId: i.cid, resetToken: i.resetToken });
      pathCids.onNewCidSent(n.pathId, i.seq);
      record.add({ k: 'pathNewCid', pathId: n.pathId, seq: i.seq });
      written = true;
    }
    for (let r = pathCids.peekRetire(); r !== undefined && b.room(4 + 8 + 8); r = pathCids.peekRetire()) {
      b.writeMultipathFrame({ kind: 'pathRetireConnectionId', pathId: r.pathId, sequence: r.seq });
      pathCids.onRetireSent(r.pathId, r.seq);
      record.add({ k: 'pathRetireCid', pathId: r.pathId, seq: r.seq });
      written = true;
    }
    return written;
  }

  /** Stream control frames (MAX_STREAM_DATA, RESET_STREAM...). Returns whether any was written. */
  private fillStreamControl(now: number, r: PathRecovery, record: PacketRecord): boolean {
    const b = this.builder;
    const streams = this.d.streams;
    let written = false;
    // Each is at most ~20 bytes, so only poll when one surely fits.
    while (streams.hasControlFrames && b.room(32)) {
      const f = streams.pollControlFrame(now, r.rtt.smoothed);
      if (f === null) break;
      b.writeStreamControl(f);
      record.add({ k: 'control', frame: f });
      written = true;
    }
    return written;
  }

  /** Stream control frames, datagrams and stream data (what 0-RTT may carry). Returns whether any was written. */
  private fillStreamsAndDatagrams(now: number, r: PathRecovery, record: PacketRecord, zeroRtt: boolean): boolean {
    const d = this.d;
    const b = this.builder;
    const streams = d.streams;
    let eliciting = false;
    if (zeroRtt && this.fillStreamControl(now, r, record)) eliciting = true;
    // Datagrams before stream data: they are the latency-sensitive traffic.
    const dgrams = d.datagrams;
    for (let dg = dgrams.peek(); dg; dg = dgrams.peek()) {
      if (b.writeDatagram(dg)) {
        dgrams.onSent(zeroRtt);
        record.add(DATAGRAM_FRAME);
        eliciting = true;
        continue;
      }
      // It waits for the next packet, unless no packet of this path can carry it any more (the
      // path MTU shrank after it was queued): then it is dropped, and reported, rather than
      // block the queue. A PTO probe's base size, an anti-amplification budget or the packets
      // coalesced before this one shrink only this datagram.
      if (dg.length > (dgrams.maxSize(this.pathRoom, d.remoteCids.current.length) ?? 0)) {
        dgrams.dropHead();
        continue;
      }
      break;
    }
    // Stream data, round-robin across streams.
    for (let s = streams.nextSendable(); s !== null; s = streams.nextSendable()) {
      const room = b.streamRoom(s.id, s.peekNextOffset());
      if (room < 0) break;
      const chunk = s.nextFrame(room);
      if (chunk === null) break;
      b.writeStream(s, chunk.offset, chunk.length, chunk.fin);
      if (!chunk.isNew) this.retransmitted = true;
      record.addStream(s.id, chunk.offset, chunk.length, chunk.fin);
      eliciting = true;
      if (b.remaining < 24) break;
    }
    // Datagrams left queued (the window, not the application, stopped them) count as data to
    // send like stream data: without this, a datagram-only flow stayed at the initial window.
    r.cc.setAppLimited(!streams.nextSendable() && dgrams.queuedCount === 0 && r.cc.bytesInFlight < r.cc.window / 2);
    return eliciting;
  }

  /** A PING padded to `size`: a path MTU probe (RFC 9000 §14.4), alone in its datagram. */
  private buildMtuProbe(now: number, path: Path, r: PathRecovery, size: number): void {
    const d = this.d;
    const b = this.builder;
    const sp = d.spaces.at(PacketSpace.Application);
    if (!b.beginPacket(PacketSpace.Application, sp.nextPn, d.loss.largestAcked(PacketSpace.Application), d.keys.keyPhase, undefined)) return;
    b.writePing();
    b.padTo(size);
    const len = b.finishPacket(d.keys.writeKeys(PacketSpace.Application));
    const pn = sp.takePn();
    d.keys.onOneRttSent(pn);
    r.mtu.onProbeSent(size);
    const record = new PacketRecord(path);
    record.add({ k: 'mtuProbe', size });
    d.loss.onPacketSent(PacketSpace.Application, record.sent(pn, now, len, true, true), r.rtt);
    r.onPacketSent(now, len, currentPto(d));
    this.sent++;
  }

  private hasAckElicitingData(sp: SpaceState): boolean {
    if (sp.crypto.hasDataToSend) return true;
    if (sp.space !== PacketSpace.Application) return false;
    const d = this.d;
    return (
      d.handshake.handshakeDonePending ||
      d.handshake.newTokenPending !== undefined ||
      this.pingPending ||
      d.streams.hasControlFrames ||
      d.localCids.hasPending ||
      d.remoteCids.peekRetire() !== undefined ||
      (d.multipath.cids !== null && (d.multipath.cids.hasPendingNewCid || d.multipath.cids.peekRetire() !== undefined)) ||
      d.datagrams.peek() !== undefined ||
      d.streams.nextSendable() !== null
    );
  }

  /**
   * Whether `buildPacket` will write a packet of `sp` now: a PTO probe is owed, an ACK is due, or
   * ack-eliciting data waits and the congestion window and the pacer allow it.
   *
   * RFC 9000 §13.2.1: an ACK alone goes out only when one is due (at once for ack-eliciting
   * Initial/Handshake packets, within max_ack_delay at 1-RTT); packets that only acknowledged or
   * padded are acknowledged when something else is sent, never by an ACK-only packet of their own
   * ("MUST NOT send a non-ack-eliciting packet in response to a non-ack-eliciting packet").
   */
  private willSend(now: number, r: PathRecovery, sp: SpaceState): boolean {
    if (sp.probesOwed > 0) return true;
    if (sp.ack.ackPending && sp.ack.shouldSendAck(now)) return true;
    return this.hasAckElicitingData(sp) && r.canSend(now, MIN_DATAGRAM_SIZE);
  }

  /**
   * Whether a later space than `space` will put a packet in this datagram (the padding of a
   * datagram with an Initial goes in its last packet). Uses the same predicate as `buildPacket`, so
   * the prediction holds.
   */
  private laterSpaceWillSend(now: number, r: PathRecovery, space: PacketSpace): boolean {
    for (const sp of this.d.spaces.all) {
      if (sp.space <= space || !this.canWrite(sp)) continue;
      if (this.willSend(now, r, sp)) return true;
    }
    return false;
  }

  /** The ack_delay_exponent of our ACK frames in `space` (RFC 9000 §19.3: ours at 1-RTT, 3 before). */
  private ackDelayExponent(space: PacketSpace): number {
    return space === PacketSpace.Application ? this.d.config.ackDelayExponent : 3;
  }
}
