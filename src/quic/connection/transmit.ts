import { TransportErrorCode } from '../errors.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import { PacketSpace } from '../packet/space.js';
import type { AckTracker } from '../recovery/ack-tracker.js';
import { transportClose, type CloseFrame } from './lifecycle.js';
import { BASE_PLPMTU } from './mtu.js';
import { PacketBuilder } from './packet-builder.js';
import { currentPto, type ConnectionParts } from './parts.js';
import { Path, type PathRecovery } from './path.js';
import type { HandshakeProgress } from './progress.js';
import type { PathIdState } from './path-id.js';
import type { PathIds } from './path-ids.js';
import { fillPathCids, fillPathControl, hasPathControl, orphanAckDue, pathZeroOwesPathAck, writeCloseAcks, writeOrphanAcks, writePathAcks } from './path-frames.js';
import { mtuProbeDue, writeMtuProbe } from './mtu-probes.js';
import { buildNatProbe, buildOffPathResponse, probeCarrier, type OffPathDatagram } from './off-path.js';
import { writeObservedAddress } from './qad-frames.js';
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
/** Bytes of a CONNECTION_CLOSE besides its reason (type, codes, reason length), kept free by the PATH_ACKs before it. */
const CLOSE_FRAME_RESERVE = 24;
/** Most reason bytes the PATH_ACKs before a close leave room for (a longer reason is trimmed to fit). */
const CLOSE_REASON_RESERVE = 200;

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
  private readonly pathIds: PathIds;
  /** The path id new data goes on in this `pollTransmit` (0 without multipath). */
  private dataPath = 0;

  constructor(parts: ConnectionParts, progress: HandshakeProgress, scid: Uint8Array, pathIds: PathIds) {
    this.d = parts;
    this.progress = progress;
    this.pathIds = pathIds;
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
    this.dataPath = this.pathIds.selectDataPath();
    // An abandoned path 0 (draft §3.4) sends nothing more: what its packets carried goes on the
    // data path's (transmitOnPathIds); NAT probes go in packets of a path id (off-path.ts).
    if (this.d.multipath.isPathZeroAbandoned) return this.transmitNatProbe(now, out) || this.transmitOnPathIds(now, out);
    return this.transmitPathFrames(now, out) || this.transmitNatProbe(now, out) || this.transmitOnPathIds(now, out) || this.transmitData(now, out);
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
    // A round trip with its variance, no ACK delay (the peer's packets that crossed our close).
    d.lifecycle.onCloseSent(now, d.paths.recovery.rtt.pto(PacketSpace.Initial, 0));
    if (d.multipath.isPathZeroAbandoned) {
      // Path 0 is gone (the peer may have forgotten it): the close goes on a path left.
      const id = this.pathIds.selectDataPath();
      const st = id === 0 ? undefined : d.multipath.pathAt(id);
      const cid = st === undefined ? undefined : d.multipath.cids?.peerCidFor(id)?.cid;
      if (st !== undefined && cid !== undefined) return this.transmitCloseOnPathId(now, out, frame, st, cid);
    }
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
      // With multipath, the other path ids' too (draft-ietf-quic-multipath §4.1).
      if (space === PacketSpace.Application && d.multipath.cids !== null) this.writeCloseAcks(now, f, undefined);
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

  /**
   * Before a CONNECTION_CLOSE in a multipath connection: the PATH_ACKs of every path id (and with
   * `zero`, path 0's acknowledgment as a PATH_ACK of path id 0), leaving room for the close.
   */
  private writeCloseAcks(now: number, frame: CloseFrame, zero: AckTracker | undefined): void {
    const exp = this.ackDelayExponent(PacketSpace.Application);
    const reserve = CLOSE_FRAME_RESERVE + Math.min(frame.reason.length, CLOSE_REASON_RESERVE);
    writeCloseAcks(this.builder, this.d.multipath, zero, now, exp, Math.min(this.d.config.maxAckRanges, CLOSE_ACK_RANGES), reserve);
  }

  /** The CONNECTION_CLOSE `frame` in a packet of path id `st` (path 0 abandoned). */
  private transmitCloseOnPathId(now: number, out: Uint8Array, frame: CloseFrame, st: PathIdState<PacketRecord>, dcid: Uint8Array): number {
    const d = this.d;
    const b = this.builder;
    b.beginDatagram(out, Math.min(out.length, st.recovery.mtu.current), dcid);
    if (!b.beginPacket(PacketSpace.Application, st.nextPn, st.loss.largestAcked(PacketSpace.Application), d.keys.keyPhase, undefined)) return 0;
    this.writeCloseAcks(now, frame, d.spaces.at(PacketSpace.Application).ack);
    b.writeConnectionClose(frame);
    b.finishPacket(d.keys.writeKeys(PacketSpace.Application), st.id);
    d.keys.onOneRttSent(st.takePn(), st.id);
    this.sent++;
    const len = b.finishDatagram();
    this.bytes += len;
    this.txPath = st.path;
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
    const record = PacketRecord.take(p);
    let responses = 0;
    while (p.responsesOwed > 0 && b.room(9)) {
      b.writePathResponse(p.takeResponse()!);
      responses++;
    }
    if (p.challengePending && b.room(9)) {
      b.writePathChallenge(d.paths.takeChallenge(p, now, currentPto(d), target >= MIN_DATAGRAM_SIZE));
      record.add(PATH_CHALLENGE_FRAME);
    } else if (responses > 0 && d.nat?.machine?.role === 'client' && p !== d.paths.current && b.room(9)) {
      // n0 NAT traversal (noq): a client answering the server's probe from another address probes
      // it back in the same datagram; the answer is a path to open, as for our own probes.
      const data = d.random.fill(new Uint8Array(8));
      b.writePathChallenge(data);
      d.nat.onProbeSent(p.address, data);
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

  /**
   * An n0 NAT traversal probe (nat.ts, off-path.ts): a PATH_CHALLENGE alone, unpadded, to a
   * candidate address of the peer, in a packet of path 0 or, once path 0 is abandoned, of the
   * first validated path id (as noq), outside congestion control.
   */
  private transmitNatProbe(now: number, out: Uint8Array): number {
    const d = this.d;
    // Checked on every transmit: nothing more unless a probe is due.
    if (d.nat === null || d.nat.nextProbe() === undefined) return 0;
    let carrier: PathIdState<PacketRecord> | undefined;
    if (d.multipath.isPathZeroAbandoned) {
      carrier = probeCarrier(d);
      if (carrier === undefined) return 0;
    }
    return this.sentOffPath(buildNatProbe(d, this.builder, now, out, carrier));
  }

  /** Counts an off-path datagram (off-path.ts) and sends it to its address; 0 for none. */
  private sentOffPath(g: OffPathDatagram | null): number {
    if (g === null) return 0;
    this.txPath = g.to;
    this.sent++;
    this.bytes += g.length;
    return g.length;
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
    // A path MTU probe, alone in its datagram (mtu-probes.ts).
    const probe = hs.isConfirmed && path.validated ? mtuProbeDue(r, now, out.length) : undefined;
    if (probe !== undefined) {
      b.beginDatagram(out, probe, d.remoteCids.current);
      writeMtuProbe(d, b, now, path, r, probe);
      this.sent++;
      const len = b.finishDatagram();
      this.bytes += len;
      return len;
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
    const canElicit = probing || this.cryptoRidesProbe(sp) || r.canSend(now, MIN_DATAGRAM_SIZE);
    const token = space === PacketSpace.Initial && d.role === 'client' ? d.handshake.token : undefined;
    const zeroRtt = app && this.zeroRtt;
    if (!b.beginPacket(space, sp.nextPn, d.loss.largestAcked(space), app ? d.keys.keyPhase : 0, token, zeroRtt)) return needPadding;
    const record = PacketRecord.take(path);
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
    if (app && !zeroRtt && d.multipath.cids !== null && d.multipath.ackPending) writePathAcks(this.builder, d.multipath, now, d.config, record, -1);
    if (canElicit) {
      for (let chunk = sp.crypto.nextChunk(b.cryptoRoom()); chunk; chunk = sp.crypto.nextChunk(b.cryptoRoom())) {
        b.writeCrypto(chunk.offset, chunk.data);
        record.add({ k: 'crypto', space, offset: chunk.offset, length: chunk.data.length });
        ackEliciting = true;
        if (b.cryptoRoom() <= 0) break;
      }
      if (app && !zeroRtt && d.qad !== null && writeObservedAddress(b, d.qad, 0, path.address, record)) ackEliciting = true;
      if (app && this.fillApplication(now, r, record, zeroRtt, this.dataPath === 0)) ackEliciting = true;
      if (!ackEliciting && (probing || (app && this.pingPending))) {
        b.writePing();
        ackEliciting = true;
      }
      if (app && ackEliciting) this.pingPending = false;
    }
    if (record.count === 0 && !ackEliciting && !b.packetHasFrames) {
      b.abandonPacket();
      PacketRecord.recycle(record);
      return needPadding;
    }
    // RFC 9000 §14.1: datagrams with Initial packets are padded to 1200 bytes (the client's all of
    // them, the server's those with ack-eliciting Initials).
    if (space === PacketSpace.Initial && (d.role === 'client' || ackEliciting)) needPadding = true;
    const isLast = app || !this.laterSpaceWillSend(now, r, space);
    if (needPadding && isLast) b.padTo(MIN_DATAGRAM_SIZE);
    const size = b.finishPacket(zeroRtt ? d.keys.zeroRttKeys : d.keys.writeKeys(space));
    const pn = sp.takePn();
    if (probing && ackEliciting) {
      sp.onProbeSent();
      // RFC 9002 §6.2.4 allows two probes "to avoid an expensive consecutive PTO expiration due to
      // a single lost datagram": during the handshake the second carries the unacknowledged CRYPTO
      // data again rather than a PING, so either probe arriving is progress (at 30% loss a PING
      // that arrives while the data beside it is lost doubles the wait several times over).
      if (!app && sp.probesOwed > 0) sp.crypto.requeueUnacked();
    }
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
  private fillApplication(now: number, r: PathRecovery, record: PacketRecord, zeroRtt: boolean, data: boolean): boolean {
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
    if (pathCids !== null && fillPathCids(b, record, pathCids)) eliciting = true;
    if (pathCids !== null && fillPathControl(b, record, d.multipath, d.handshake.multipath)) eliciting = true;
    const nat = d.nat;
    for (let f = nat?.peekFrame(); f !== undefined && b.writeNatFrame(f); f = nat!.peekFrame()) {
      nat!.onFrameSent();
      record.add({ k: 'nat', frame: f });
      eliciting = true;
    }
    // Stream data and datagrams go on the path the scheduler picked.
    if (!data) return eliciting;
    return this.fillStreamsAndDatagrams(now, r, record, false) || eliciting;
  }

  // ------------------------------------------------------------------ path ids ≥ 1 (multipath)

  /**
   * The next datagram on a path id ≥ 1 (draft-ietf-quic-multipath): its PATH_CHALLENGE /
   * PATH_RESPONSE datagram, a PTO probe owed on it, or new data when the scheduler picked it;
   * or 0. Every packet takes that path id's packet number, its nonce and the peer's connection
   * id of that path id, and is recorded with that path id's loss detector.
   */
  private transmitOnPathIds(now: number, out: Uint8Array): number {
    const d = this.d;
    const mp = d.multipath;
    if (mp.paths.size === 0 || !d.handshake.isConfirmed || !d.keys.canWrite(PacketSpace.Application)) return 0;
    for (const st of mp.paths.values()) {
      if (st.isAbandoned) continue;
      const cid = mp.cids?.peerCidFor(st.id)?.cid;
      if (cid === undefined) continue;
      // The peer's NAT probes that came on this path id from its other addresses are answered there.
      if (st.hasOffPathResponses) {
        const g = this.sentOffPath(buildOffPathResponse(d, this.builder, now, out, st));
        if (g > 0) return g;
      }
      const len = this.buildOnPathId(now, out, st, cid);
      if (len > 0) {
        this.txPath = st.path;
        return len;
      }
    }
    return 0;
  }

  private buildOnPathId(now: number, out: Uint8Array, st: PathIdState<PacketRecord>, dcid: Uint8Array): number {
    const d = this.d;
    const path = st.path;
    const r = st.recovery;
    const frames = path.hasPathFrames;
    const probing = st.probesOwed > 0;
    // With path 0 abandoned the data path carries what path 0's packets did, acknowledgments too.
    const mp = d.multipath;
    const carrier = mp.isPathZeroAbandoned && this.dataPath === st.id;
    const zeroAck = d.spaces.at(PacketSpace.Application).ack;
    const ackDue = (mp.receivedOn(st.id)?.shouldSendAck(now) === true && mp.receivedOn(st.id)!.ackPending) || (carrier && orphanAckDue(mp, zeroAck, now));
    const wants = !frames && !probing && this.dataPath === st.id && path.validated && this.hasAckElicitingData(d.spaces.at(PacketSpace.Application), true);
    const data = wants && r.canSend(now, MIN_DATAGRAM_SIZE);
    if (!frames && !probing && !data && !ackDue) {
      // Held back by the pacer only: wake up when it lets the packet go (as on path 0).
      if (wants && r.pacer && r.cc.canSend(MIN_DATAGRAM_SIZE)) {
        const wake = r.pacer.delayUntil(now, MIN_DATAGRAM_SIZE);
        if (wake > 0) this.wake = Math.min(this.wake, wake);
      }
      return 0;
    }
    const b = this.builder;
    // Each path id searches its own path MTU (mtu-probes.ts), once validated.
    const mtuProbe = !frames && !probing && path.validated ? mtuProbeDue(r, now, out.length) : undefined;
    if (mtuProbe !== undefined) {
      b.beginDatagram(out, mtuProbe, dcid);
      writeMtuProbe(d, b, now, path, r, mtuProbe, st);
      st.onAckElicitingSent(now);
      return this.finishOnPathId(st, b.finishDatagram());
    }
    let limit = Math.min(out.length, r.mtu.current);
    if (!path.validated && st.openedBy === 'remote') {
      // RFC 9000 §8.1 on a path the peer opened: three times what arrived on it until it is
      // validated (a path we open leads to an address we chose: no amplification to limit).
      const budget = path.budget;
      if (budget < MIN_PACKET_BUDGET) return 0;
      limit = Math.min(limit, budget);
    }
    // RFC 9000 §8.2.1: a challenge's datagram is expanded to 1200 bytes (within the budget).
    if (frames) limit = Math.min(limit, MIN_DATAGRAM_SIZE);
    else if (!probing) limit = Math.min(limit, Math.max(BASE_PLPMTU, r.cc.available()));
    b.beginDatagram(out, limit, dcid);
    if (!b.beginPacket(PacketSpace.Application, st.nextPn, st.loss.largestAcked(PacketSpace.Application), d.keys.keyPhase, undefined)) return 0;
    const record = PacketRecord.take(path);
    let eliciting = false;
    if (mp.ackPending) writePathAcks(this.builder, mp, now, d.config, record, st.id);
    if (carrier) writeOrphanAcks(b, mp, zeroAck, now, d.config, record);
    if (frames) {
      let responses = 0;
      while (path.responsesOwed > 0 && b.room(9)) {
        b.writePathResponse(path.takeResponse()!);
        responses++;
      }
      d.paths.onResponsesSent(responses);
      if (path.challengePending && b.room(9)) {
        b.writePathChallenge(d.paths.takeChallenge(path, now, Math.max(currentPto(d), r.rtt.pto(PacketSpace.Application, d.loss.maxAckDelay)), limit >= MIN_DATAGRAM_SIZE));
        record.add(PATH_CHALLENGE_FRAME);
      }
      // noq reports the address a new path's peer is at with the path's first challenge.
      if (d.qad !== null) writeObservedAddress(b, d.qad, st.id, path.address, record);
      // Responses count as ack-eliciting here: the PATH_ACK for them gives the new path's RTT.
      eliciting = true;
      b.padTo(limit);
    } else {
      this.retransmitted = false;
      // A PTO probe of a path the scheduler did not pick is a PING: the frames owed (flow
      // control above all) go on the data path, or a path that died would keep taking them.
      if (d.qad !== null && writeObservedAddress(b, d.qad, st.id, path.address, record)) eliciting = true;
      if (this.dataPath === st.id && this.fillApplication(now, r, record, false, data)) eliciting = true;
      // RFC 9000 §13.2.1: an ACK-only packet (here PATH_ACK) when only the acknowledgment is due.
      // A PING owed (keep-alive, `Connection.ping`) goes on the data path.
      if (!eliciting && (probing || record.count === 0 || (data && this.pingPending))) {
        b.writePing();
        eliciting = true;
      }
      if (eliciting && this.dataPath === st.id) this.pingPending = false;
      if (this.retransmitted) this.retransmissions++;
    }
    const size = b.finishPacket(d.keys.writeKeys(PacketSpace.Application), st.id);
    const pn = st.takePn();
    d.keys.onOneRttSent(pn, st.id);
    if (probing) st.onProbeSent();
    // Path datagrams are exempt from the window as on path 0 (their loss is the challenge timer's);
    // a PATH_ACK-only packet is not in flight (RFC 9002 §2).
    const inFlight = !frames && eliciting;
    st.loss.onPacketSent(PacketSpace.Application, record.sent(pn, now, size, eliciting, inFlight), r.rtt);
    if (inFlight) r.onPacketSent(now, size, r.rtt.pto(PacketSpace.Application, d.loss.maxAckDelay));
    if (eliciting) {
      d.idle.onAckElicitingSent(now);
      st.onAckElicitingSent(now);
    }
    return this.finishOnPathId(st, b.finishDatagram());
  }

  /** A datagram of `len` bytes on path id `st` is done (counted). */
  private finishOnPathId(st: PathIdState<PacketRecord>, len: number): number {
    this.sent++;
    this.bytes += len;
    st.onSent(len);
    st.path.onSent(len);
    return len;
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

  private hasAckElicitingData(sp: SpaceState, data = this.dataPath === 0): boolean {
    if (sp.crypto.hasDataToSend) return true;
    if (sp.space !== PacketSpace.Application) return false;
    const d = this.d;
    if (d.multipath.cids !== null && hasPathControl(d.multipath, d.handshake.multipath)) return true;
    if (!data) {
      // The scheduler sends data elsewhere: only control frames would go here.
      return d.handshake.handshakeDonePending || d.handshake.newTokenPending !== undefined || this.pingPending || d.streams.hasControlFrames || d.localCids.hasPending || d.remoteCids.peekRetire() !== undefined;
    }
    return (
      d.handshake.handshakeDonePending ||
      d.handshake.newTokenPending !== undefined ||
      this.pingPending ||
      d.streams.hasControlFrames ||
      d.localCids.hasPending ||
      d.remoteCids.peekRetire() !== undefined ||
      (d.multipath.cids !== null && (d.multipath.cids.hasPendingNewCid || d.multipath.cids.peekRetire() !== undefined)) ||
      (d.nat !== null && d.nat.peekFrame() !== undefined) ||
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
    if (sp.probesOwed > 0 || this.cryptoRidesProbe(sp)) return true;
    if (sp.ack.ackPending && sp.ack.shouldSendAck(now)) return true;
    if (sp.space === PacketSpace.Application && this.d.multipath.cids !== null && pathZeroOwesPathAck(this.d.multipath, now)) return true;
    return this.hasAckElicitingData(sp) && r.canSend(now, MIN_DATAGRAM_SIZE);
  }

  /**
   * Whether `sp`'s CRYPTO data waiting to be sent (lost, or new) goes in this datagram because a
   * PTO probe of another space is owed: a probe datagram is outside the congestion window, and RFC
   * 9002 §6.2.4 asks for packets of the other spaces in it. Without this a server whose Initial
   * (the ServerHello) was lost every time could never send it again: its window stays full of
   * Handshake packets the client cannot open (no Handshake keys without the ServerHello), those
   * are never acknowledged nor declared lost, and its PTO probes went to the Handshake space only
   * (a handshake stuck for good, seen at 30% loss: test/unit/connection/handshake-loss.test.ts).
   */
  private cryptoRidesProbe(sp: SpaceState): boolean {
    return sp.space !== PacketSpace.Application && this.d.spaces.probesPending && sp.crypto.hasDataToSend;
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
