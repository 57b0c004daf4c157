import { TransportError, TransportErrorCode } from '../errors.js';
import { transportClose } from './lifecycle.js';
import type { LossRecovery } from './loss-recovery.js';
import { MultipathState } from './multipath.js';
import { pathMaxUdpPayload } from './mtu.js';
import { Path, PathRecovery } from './path.js';
import { PATH_SPACE, PathIdState } from './path-id.js';
import type { OpenPathResult, PathStatus } from './path-types.js';
import { currentPto, type ConnectionParts } from './parts.js';
import { qlogPathUpdated, type QlogPathUpdated } from './qlog.js';
import type { PacketRecord } from './sent-packet.js';
import { MAX_RESPONSES } from './paths.js';
import { FAILED_PATH_PTOS, selectDataPath, type PathCandidate } from './scheduler.js';
import type { RttEstimator } from '../recovery/rtt.js';


/** Error code of a PATH_ABANDON for a path whose validation failed or that went idle. */
const PATH_FAILED = TransportErrorCode.NO_VIABLE_PATH;
/** A path id with this many PTOs in a row unanswered, while another path works, is abandoned. */
const ABANDON_PATH_PTOS = FAILED_PATH_PTOS + 2;

/**
 * What opening, validating, abandoning and forgetting the path ids ≥ 1 of a multipath
 * connection means for its parts (draft-ietf-quic-multipath §3): a client opens path id k to an
 * address with `open`; a server accepts path id k when a packet arrives on one of our path-k
 * connection ids (`onPacketReceived`); both validate the address of a new path (RFC 9000 §8.2,
 * anti-amplification until then); PATH_ABANDON both ways (§3.4); path timers (challenges,
 * validation deadline, path idle timeout, loss detection and PTO per path id, the end of an
 * abandoned path's lingering). It owns no state: each path id's is its `PathIdState`, held by
 * `MultipathState`.
 */
export class PathIds {
  private readonly p: ConnectionParts;
  private readonly recovery: LossRecovery;
  /** Scratch list of the scheduler's candidates (made when a path id first opens). */
  private candidates: PathCandidate[] | undefined;

  constructor(parts: ConnectionParts, recovery: LossRecovery) {
    this.p = parts;
    this.recovery = recovery;
  }

  /**
   * Client (draft §3.1): opens the next path id toward `address`, validated by a PATH_CHALLENGE
   * in a datagram padded to 1200 bytes on it. Data moves to it once validated, if its RTT is the
   * lowest of the available paths.
   */
  open(now: number, address: string): OpenPathResult {
    const p = this.p;
    const n = p.handshake.multipath;
    if (n === null || !p.handshake.isConfirmed || !p.lifecycle.isOpen || p.multipath.cids === null) return { kind: 'blocked', reason: 'unavailable' };
    const mp = p.multipath;
    const id = mp.nextPathId(n);
    if (id === 'pathIds' || id === 'cids') return { kind: 'blocked', reason: id };
    const st = this.create(now, id, address, 'local');
    this.log(st, 'opened');
    st.path.startValidation(now + p.paths.validationTimeout(currentPto(p)), false);
    return { kind: 'opened', pathId: id };
  }

  /**
   * We abandon path id `pathId` (draft §3.4): no more sending on it; PATH_ABANDON goes to the
   * peer. Path 0 too, while another validated path is open (the connection goes on there).
   */
  abandon(now: number, pathId: number, code: number): boolean {
    if (pathId === 0) {
      if (this.p.handshake.multipath === null || this.p.multipath.isPathZeroAbandoned || this.otherValidatedPath() === undefined) return false;
      this.closePathZero(now, code);
      return true;
    }
    const st = this.p.multipath.pathAt(pathId);
    if (st === undefined || st.isAbandoned) return false;
    this.close(now, st, code);
    this.endIfNoPathLeft(now);
    return true;
  }

  /**
   * PATH_ABANDON from the peer (draft §3.4, §4.2): we stop too, and answer with our own. Path 0
   * included: the connection goes on on the paths left; abandoning the last one ends it.
   *
   * @throws TransportError NO_ERROR when the peer abandons path 0 and no other path is open
   *   (there is nowhere left to go: the connection ends).
   */
  onPeerAbandon(now: number, pathId: number, code: number, frameType: number): void {
    const mp = this.p.multipath;
    if (pathId === 0) {
      if (mp.isPathZeroAbandoned) return;
      // A path still being validated counts: the peer reaches us there (it chose to leave path 0
      // for it), and data goes there once our challenge is answered.
      if (this.firstOpenPath() === undefined) throw new TransportError(TransportErrorCode.NO_ERROR, 'the peer abandoned path 0, its last path', frameType);
      this.closePathZero(now, code);
      this.restartOtherPtos(now, 0);
      return;
    }
    // A path id never opened (or already forgotten: our PATH_ABANDON of it was acknowledged) is
    // ignored, as noq does.
    const st = mp.pathAt(pathId);
    if (st === undefined) return;
    this.close(now, st, code);
    // The peer's acknowledgments of the other paths may have travelled on this one: they come
    // on the paths left from now on, and a PTO backed off meanwhile need not wait.
    this.restartOtherPtos(now, pathId);
    this.endIfNoPathLeft(now);
  }

  /** Our status for path id `pathId` (PATH_STATUS_AVAILABLE / _BACKUP, draft §3.3). */
  setStatus(pathId: number, status: PathStatus): boolean {
    if (pathId === 0) {
      if (this.p.handshake.multipath === null) return false;
      this.p.multipath.setLocalPathZeroStatus(status);
      return true;
    }
    const st = this.p.multipath.pathAt(pathId);
    if (st === undefined || st.isAbandoned) return false;
    st.setLocalStatus(status);
    this.log(st, status);
    return true;
  }

  /** A PATH_ACK for `pathId` ≥ 1 (`ranges` as decoded, `ackDelayMs` scaled). */
  onPathAck(now: number, pathId: number, ranges: readonly number[], ackDelayMs: number, frameType: number): void {
    const mp = this.p.multipath;
    const st = mp.pathAt(pathId);
    if (st !== undefined) {
      this.recovery.onPathAck(now, st, ranges, ackDelayMs);
      // It answers again: the peer may send on it again (see onTimeout).
      if (st.markAnswered()) this.log(st, 'available');
      return;
    }
    // A late PATH_ACK of a path id whose state is gone acknowledges what no longer matters.
    if (!mp.wasOpened(pathId)) MultipathState.neverOpened(pathId, frameType);
  }

  /** PATH_CHALLENGE on path id `pathId` ≥ 1: answered on that path id (RFC 9000 §8.2.2). */
  onPathChallenge(pathId: number, data: Uint8Array): void {
    this.p.paths.stats.pathChallengesReceived++;
    const st = this.p.multipath.pathAt(pathId);
    if (st === undefined) return;
    // RFC 9000 §8.2.2: the response goes where the challenge came from. From another address than
    // the path's it is a NAT probe the peer sent on this path id (noq probes on its first validated
    // path: a path id once its path 0 is abandoned): answered there, the path stays where it is.
    const rx = this.p.multipath.rxDatagram;
    if (rx.from !== undefined && st.path.address !== '' && rx.from !== st.path.address) st.queueOffPathResponse(rx.from, data, 3 * rx.size);
    else st.path.queueResponse(data, MAX_RESPONSES);
  }

  /** The source address of the datagram being processed, when it is one of path id `pathId` ≥ 1. */
  rxAddress(pathId: number): string | undefined {
    return this.p.multipath.rxDatagram.from ?? this.p.multipath.pathAt(pathId)?.path.address;
  }

  /** PATH_RESPONSE: validates the path id whose challenge it echoes; false when none did. */
  onPathResponse(data: Uint8Array): boolean {
    for (const st of this.p.multipath.paths.values()) {
      if (!st.path.answers(data)) continue;
      st.path.endValidation();
      st.path.markValidated();
      this.p.paths.stats.pathValidations++;
      this.log(st, 'validated');
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ receive side

  /**
   * A datagram to one of our connection ids of path id ≥ 1 (the caller looked it up): it counts
   * for that path's anti-amplification budget; its address is the path's for a path id opened by
   * the peer with this datagram (made once one of its packets authenticates).
   */
  onDatagram(pathId: number, from: string | undefined, size: number): void {
    const st = this.p.multipath.pathAt(pathId);
    if (st !== undefined) st.path.onReceived(size);
    this.p.multipath.setRxDatagram(from, size);
  }

  /**
   * A packet of path id `pathId` ≥ 1 authenticated. A server meets a new path id this way (draft
   * §3.1): its state is made (a path toward the datagram's source, validated before data goes
   * there); a path id abandoned and forgotten gets nothing.
   */
  onPacketReceived(now: number, pathId: number, size: number): void {
    const mp = this.p.multipath;
    let st = mp.pathAt(pathId);
    if (st === undefined) {
      if (mp.wasOpened(pathId) || this.p.handshake.multipath === null || !this.p.handshake.isConfirmed) return;
      const rx = mp.rxDatagram;
      st = this.create(now, pathId, rx.from ?? this.p.paths.current.address, 'remote');
      this.log(st, 'opened');
      // We answer on this path id with one of the peer's connection ids of it: ask for them when
      // none arrived yet (draft §4.8; its PATH_ACKs go on path 0's packets meanwhile).
      if (mp.cids?.hasPeerCid(pathId) === false) mp.askPeerCids(pathId);
      st.path.onReceived(rx.size);
      st.path.startValidation(now + this.p.paths.validationTimeout(currentPto(this.p)), false);
    }
    st.onReceived(now, size);
  }

  // ------------------------------------------------------------------ timers

  /** The earliest timer of the path ids ≥ 1 (Infinity: none). */
  get timeout(): number {
    const paths = this.p.multipath.paths;
    if (paths.size === 0) return Number.POSITIVE_INFINITY;
    const idle = this.pathIdleTimeout;
    const keepAlive = this.p.config.keepAliveIntervalMs;
    let t = this.p.multipath.pathZeroForgetDeadline;
    for (const st of paths.values()) {
      t = Math.min(t, st.loss.timeout, st.path.nextChallengeAt, st.path.deadline, st.forgetDeadline);
      if (!st.isAbandoned && idle > 0) t = Math.min(t, st.lastReceived + idle);
      if (keepAlive > 0 && st.usable) t = Math.min(t, st.lastAckElicitingSent + keepAlive);
    }
    return t;
  }

  /** Timers due at `now`: losses and PTOs per path id, challenges, failed validations, idle paths, lingering ends. */
  onTimeout(now: number): void {
    const p = this.p;
    const n = p.handshake.multipath;
    if (n === null) return;
    const idle = this.pathIdleTimeout;
    if (now >= p.multipath.pathZeroForgetDeadline) {
      // Path 0's late packets have had 3 PTOs to arrive: no more PATH_ACKs for it.
      p.multipath.forgetPathZero();
      this.logZero('forgotten');
    }
    for (const st of [...p.multipath.paths.values()]) {
      if (now >= st.forgetDeadline) {
        p.multipath.forget(n, st.id);
        p.qad?.forgetPath(st.id);
        this.log(st, 'forgotten');
        p.multipath.issueCids(n, p.handshake.peerParams?.activeConnectionIdLimit ?? 2);
        continue;
      }
      if (now >= st.loss.timeout) {
        this.recovery.onPathLossTimeout(now, st);
        // A path that stopped answering (FAILED_PATH_PTOS PTOs in a row) gets no new data (the
        // scheduler) and what it holds in flight is declared lost now, to go on another path
        // without waiting for the path's idle timeout, which abandons it unless it answers.
        if (st.loss.ptoCount >= FAILED_PATH_PTOS && this.selectDataPath() !== st.id) {
          this.recovery.onPathGone(now, st);
          if (st.loss.ptoCount === FAILED_PATH_PTOS) this.restartOtherPtos(now, st.id);
          // And the peer is told (PATH_STATUS_BACKUP, on a path that works): until it hears, it
          // may go on sending on this path, its ACKs of our other paths' packets included, and
          // those are lost with it (iroh did so for 15 s, until its own idle timeout).
          if (st.markFailed()) this.log(st, 'backup');
          // Still silent ABANDON_PATH_PTOS PTOs in a row (1-3 s): abandoned. A backup status does
          // not stop every peer (iroh kept its ACKs on the dead path until its own 15 s idle
          // timeout, and our other path's PTO backed off meanwhile); a PATH_ABANDON does. NAT
          // traversal opens a new path if the address answers again.
          if (st.loss.ptoCount >= ABANDON_PATH_PTOS) {
            this.close(now, st, PATH_FAILED);
            this.restartOtherPtos(now, st.id);
          }
        }
      }
      const path = st.path;
      if (now >= path.deadline) {
        // RFC 9000 §8.2.4: the validation failed; draft §3.4: the path is abandoned.
        path.endValidation();
        p.paths.stats.pathValidationFailures++;
        this.close(now, st, PATH_FAILED);
      } else if (now >= path.nextChallengeAt) {
        path.onChallengeTimer();
      }
      // A path silent for the idle timeout is abandoned (noq's path idle timeout); the
      // connection's own idle timer watches every path's packets.
      if (!st.isAbandoned && idle > 0 && now >= st.lastReceived + idle) this.close(now, st, PATH_FAILED);
      // Keep-alive per path id (noq's path keep-alive, iroh's 5 s heartbeat): a path that sent
      // nothing ack-eliciting for the keep-alive interval gets a PING (a probe: outside the
      // congestion window), so a path that carries no data (a backup, a slower one) is not
      // abandoned by the idle timeout on either side while it works, and its RTT stays current.
      // The data path gets the connection's keep-alive instead.
      const keepAlive = p.config.keepAliveIntervalMs;
      if (keepAlive > 0 && st.usable && now >= st.lastAckElicitingSent + keepAlive) {
        st.onAckElicitingSent(now);
        if (this.selectDataPath() !== st.id) st.oweProbes(1);
      }
    }
    this.endIfNoPathLeft(now);
  }

  /**
   * Path 0's loss timer fired: when it has had FAILED_PATH_PTOS PTOs in a row and the scheduler
   * moved new data to another path, what it holds in flight goes there too.
   */
  onPathZeroLossTimeout(now: number): void {
    const p = this.p;
    if (p.multipath.paths.size === 0 || p.multipath.isPathZeroAbandoned || p.loss.ptoCount < FAILED_PATH_PTOS || this.selectDataPath() === 0) return;
    this.recovery.onPathZeroFailed(now);
    if (p.loss.ptoCount === FAILED_PATH_PTOS) this.restartOtherPtos(now, 0);
  }

  // ------------------------------------------------------------------ transmit side

  /**
   * The path id new data goes on now: path 0 when no other is open, else the
   * working path with the lowest RTT, available before backup.
   */
  selectDataPath(): number {
    const mp = this.p.multipath;
    if (mp.paths.size === 0) return 0;
    const c = (this.candidates ??= []);
    c.length = 0;
    const r0 = this.p.paths.recovery;
    const zeroGone = mp.isPathZeroAbandoned;
    c.push({ id: 0, usable: this.p.paths.current.validated && !zeroGone, backup: mp.pathZeroStatus === 'backup' || mp.localPathZeroStatus === 'backup', ptoCount: this.p.loss.ptoCount, srtt: r0.rtt.smoothed, minRtt: minRtt(r0.rtt) });
    for (const st of mp.paths.values()) {
      c.push({ id: st.id, usable: st.usable, backup: st.localStatus === 'backup' || st.remoteStatus === 'backup', ptoCount: st.loss.ptoCount, srtt: st.rtt.smoothed, minRtt: minRtt(st.rtt) });
    }
    let id = selectDataPath(c);
    c.length = 0;
    // Path 0 abandoned and no path works: the oldest path left (it may answer again; until it
    // does, its PTOs probe it), never path 0.
    if (id === 0 && zeroGone) id = this.firstOpenPath()?.id ?? 0;
    return id;
  }

  /**
   * The path whose address stands for the connection's peer: the data path, or path 0's when
   * path 0 is open or nothing else is (`Connection.remoteAddress`).
   */
  get currentAddress(): string {
    const id = this.p.multipath.isPathZeroAbandoned ? this.selectDataPath() : 0;
    return id === 0 ? this.p.paths.current.address : this.p.multipath.pathAt(id)!.path.address;
  }

  // ------------------------------------------------------------------ helpers

  /** The path idle timeout: the connection's (0: none). */
  private get pathIdleTimeout(): number {
    return this.p.idle.timeout;
  }

  private create(now: number, id: number, address: string, openedBy: 'local' | 'remote'): PathIdState<PacketRecord> {
    const p = this.p;
    const c = p.config;
    const rec = new PathRecovery(c);
    const peer = p.handshake.peerParams;
    if (c.mtuDiscovery && peer) rec.mtu.enable(peer.maxUdpPayloadSize, pathMaxUdpPayload(address, c.mtuUpperBound));
    const seq = p.multipath.cids?.peerCidFor(id)?.seq ?? 0;
    const st = new PathIdState<PacketRecord>(id, new Path(address, false, seq, rec), openedBy, now, p.role === 'server', p.loss.maxAckDelay);
    p.multipath.add(st);
    // Its connection ids topped up, and one for the next path id (MultipathState.issueCids).
    const n = p.handshake.multipath;
    if (n !== null) p.multipath.issueCids(n, peer?.activeConnectionIdLimit ?? 2);
    return st;
  }

  /**
   * Path id `failed` stopped answering (or was abandoned for it): the PTO backoff of every other
   * open path starts over (`LossDetector.restartPtoBackoff`), so one backed off because the peer
   * acknowledged it on the failed path probes again within its base PTO. The probe carries what
   * is owed (the PATH_STATUS_BACKUP or PATH_ABANDON that moves the peer off the failed path).
   */
  private restartOtherPtos(now: number, failed: number): void {
    const p = this.p;
    if (failed !== 0 && !p.multipath.isPathZeroAbandoned) p.loss.restartPtoBackoff(now, p.paths.recovery.rtt);
    for (const st of p.multipath.paths.values()) if (st.id !== failed && !st.isAbandoned) st.loss.restartPtoBackoff(now, st.rtt);
  }

  /** An open path id ≥ 1 other than path 0 that is validated, or undefined. */
  private otherValidatedPath(): PathIdState<PacketRecord> | undefined {
    for (const st of this.p.multipath.paths.values()) if (st.usable) return st;
    return undefined;
  }

  /** The oldest path id ≥ 1 not abandoned, or undefined. */
  private firstOpenPath(): PathIdState<PacketRecord> | undefined {
    for (const st of this.p.multipath.paths.values()) if (!st.isAbandoned) return st;
    return undefined;
  }

  /**
   * Path 0 stops (draft §3.4: any path may be abandoned while another is open): nothing more is
   * sent on it (transmit.ts), what it has in flight is declared lost now and its frames re-queued
   * for another path, the peer's other connection ids of path 0 are retired, a PATH_ABANDON is
   * owed (our answer when the peer abandoned it), and its late packets are acknowledged (PATH_ACK
   * on another path) for 3 PTOs. `PathSet` keeps path 0's state: its address and RTT are read
   * no more for sending.
   */
  private closePathZero(now: number, code: number): void {
    const p = this.p;
    p.paths.current.stopValidation();
    p.multipath.abandonPathZero(now, code, 3 * currentPto(p));
    this.recovery.onPathZeroFailed(now);
    p.remoteCids.retireAllButCurrent();
    this.logZero('abandoned');
  }

  /**
   * Path 0 is abandoned and now every other path is too: nothing is left to carry the
   * connection (draft §3.4), which ends with NO_ERROR.
   */
  private endIfNoPathLeft(now: number): void {
    const p = this.p;
    if (!p.multipath.isPathZeroAbandoned || !p.lifecycle.isOpen || this.firstOpenPath() !== undefined) return;
    const reason = 'every path was abandoned';
    p.lifecycle.close(now, transportClose(TransportErrorCode.NO_ERROR, reason), { kind: 'transport', code: TransportErrorCode.NO_ERROR, reason, remote: false }, currentPto(p));
  }

  private logZero(state: QlogPathUpdated['state']): void {
    const q = this.p.trace.tracer;
    if (q) qlogPathUpdated(q, 0, this.p.paths.current.address, state);
  }

  /** Path id `st` stops: in-flight data is re-sent elsewhere, its connection ids retired, its state lingers 3 PTOs. */
  private close(now: number, st: PathIdState<PacketRecord>, code: number): void {
    if (st.isAbandoned) return;
    st.path.stopValidation();
    st.abandon(now, code, true, 3 * Math.max(currentPto(this.p), st.rtt.pto(PATH_SPACE, this.p.loss.maxAckDelay)));
    this.recovery.onPathGone(now, st);
    this.p.multipath.cids?.closePath(st.id);
    this.log(st, 'abandoned');
  }

  private log(st: PathIdState<PacketRecord>, state: QlogPathUpdated['state']): void {
    const q = this.p.trace.tracer;
    if (q) qlogPathUpdated(q, st.id, st.path.address, state);
  }
}

/**
 * A path's minimum RTT for the scheduler: its lowest sample less the peer's acknowledgment delay
 * (`RttEstimator.minAdjusted`), the smoothed (initial) RTT before a sample.
 */
function minRtt(rtt: RttEstimator): number {
  return rtt.hasSample ? rtt.minAdjusted : rtt.smoothed;
}
