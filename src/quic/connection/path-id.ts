import { PacketSpace } from '../packet/space.js';
import { LossDetector } from '../recovery/loss.js';
import type { RttEstimator } from '../recovery/rtt.js';
import type { Path, PathRecovery } from './path.js';

import type { PathStatus } from './path-types.js';

/** Counters of one path id (`Connection.paths()`). */
export interface PathIdCounters {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
}

/**
 * Our PATH_ABANDON of one path id (draft §3.4), path 0 included: owed until a packet carries it,
 * owed again when that packet is lost, and outstanding until one is acknowledged. The path's state
 * is not forgotten before (`PathIdState.forgetDeadline`, `MultipathState.pathZeroForgetDeadline`):
 * forgotten earlier, a PATH_ABANDON that waited behind a congestion window or a backed-off PTO (the
 * other path's ACKs went on the dead one) was never sent, and the peer went on sending on the dead
 * path until its own idle timeout.
 */
export class OurPathAbandon {
  /** The error code it carries. */
  readonly code: number;
  private owed = true;
  private acked = false;

  constructor(code: number) {
    this.code = code;
  }

  /** Whether a packet should carry it now. */
  get isOwed(): boolean {
    return this.owed;
  }

  /** Whether the peer acknowledged it (the path's state may go). */
  get isAcknowledged(): boolean {
    return this.acked;
  }

  onSent(): void {
    this.owed = false;
  }

  onLost(): void {
    if (!this.acked) this.owed = true;
  }

  onAcked(): void {
    this.acked = true;
    this.owed = false;
  }
}

/**
 * One open path id n ≥ 1 of a multipath connection (draft-ietf-quic-multipath §3): the network
 * path it runs on (a `Path`: address, validation, anti-amplification, PATH_RESPONSEs owed, and
 * its `PathRecovery`: congestion control, RTT, pacer, MTU), its own Application packet number
 * sequence and sent-packet space with its loss detection and PTO (RFC 9002 per path id: its own
 * `LossDetector`, of which only the Application space is used), the PTO probes owed on it, both
 * sides' status, and whether it is being abandoned. `T`: the record of a sent packet (the
 * connection's `PacketRecord`). Path 0 keeps living in `PathSet` and
 * `PacketSpaces`; what is received on path n is in `MultipathState.receiveSpace(n)`.
 */
export class PathIdState<T = unknown> {
  readonly id: number;
  readonly path: Path;
  /** Sent packets of this path id and their timers (Application space only). */
  readonly loss: LossDetector<T>;
  /** Who opened it: we (a client's `openPath`) or the peer (a packet on one of our path-n ids). */
  readonly openedBy: 'local' | 'remote';
  readonly counters: PathIdCounters = { packetsSent: 0, bytesSent: 0, packetsReceived: 0, bytesReceived: 0, packetsLost: 0 };
  private next = 0;
  private probes = 0;
  /** markFailed made it 'backup' (and the application chose no status since). */
  private failedBackup = false;
  private local: PathStatus = 'available';
  private localSeq = 0;
  private statusOwed = false;
  private remote: PathStatus = 'available';
  private remoteSeq = -1;
  /** Our PATH_ABANDON, once we abandon it (undefined: the peer abandoned it, or it is open). */
  private ourAbandon: OurPathAbandon | undefined;
  private abandonedAt = Number.POSITIVE_INFINITY;
  /** When the path id's state is forgotten after an abandon (acks still go out until then). */
  private forgetAt = Number.POSITIVE_INFINITY;
  private lastHeard: number;
  private lastEliciting: number;
  /**
   * PATH_RESPONSEs owed to challenges that came with this path id's connection id from another
   * address than its path's (a peer's NAT probe); made by the first, at most
   * MAX_OFF_PATH_RESPONSES (a peer that sends more loses the oldest: it probes again).
   */
  private offPath: OffPathResponse[] | undefined;

  constructor(id: number, path: Path, openedBy: 'local' | 'remote', now: number, isServer: boolean, peerMaxAckDelay: number) {
    this.id = id;
    this.path = path;
    this.openedBy = openedBy;
    this.loss = new LossDetector<T>({ isServer, maxAckDelay: peerMaxAckDelay });
    // Paths other than 0 exist only once the handshake is confirmed (draft §3.1: "only after the
    // handshake is confirmed"): their PTOs are Application PTOs from the start.
    this.loss.onHandshakeConfirmed(now, path.recovery!.rtt);
    this.lastHeard = now;
    this.lastEliciting = now;
  }

  /** Its congestion control, RTT, pacer and MTU (always made with the path). */
  get recovery(): PathRecovery {
    return this.path.recovery!;
  }

  /** Its RTT estimator. */
  get rtt(): RttEstimator {
    return this.path.recovery!.rtt;
  }

  /** The packet number its next packet gets. */
  get nextPn(): number {
    return this.next;
  }

  /** Takes the next packet number (the packet is being sealed). */
  takePn(): number {
    return this.next++;
  }

  /** PTO probes owed on it (RFC 9002 §6.2.4, per path id). */
  get probesOwed(): number {
    return this.probes;
  }

  oweProbes(n: number): void {
    if (!this.isAbandoned) this.probes = Math.max(this.probes, n);
  }

  onProbeSent(): void {
    if (this.probes > 0) this.probes--;
  }

  // ------------------------------------------------------------------ status (draft §3.3)

  /** Our status for it (what we send PATH_STATUS_* about). */
  get localStatus(): PathStatus {
    return this.local;
  }

  /** The peer's status for it. */
  get remoteStatus(): PathStatus {
    return this.remote;
  }

  /** We change our status: a PATH_STATUS_* with the next sequence number is owed. */
  setLocalStatus(status: PathStatus): void {
    this.failedBackup = false;
    if (status === this.local && this.localSeq > 0) return;
    this.local = status;
    this.localSeq++;
    this.statusOwed = true;
  }

  /** Whether it is 'backup' because it stopped answering (markFailed), not by the application's choice. */
  get backupForFailure(): boolean {
    return this.failedBackup;
  }

  /**
   * It stopped answering (FAILED_PATH_PTOS): 'backup' for the peer, so that it stops sending here,
   * unless the application chose 'backup' already. True when the status changed.
   */
  markFailed(): boolean {
    if (this.local !== 'available' || this.isAbandoned) return false;
    this.setLocalStatus('backup');
    this.failedBackup = true;
    return true;
  }

  /** It answers again: 'available' again when markFailed made it 'backup'. True when the status changed. */
  markAnswered(): boolean {
    if (!this.failedBackup || this.isAbandoned || this.loss.ptoCount !== 0) return false;
    this.setLocalStatus('available');
    return true;
  }

  /** The PATH_STATUS_* owed, or undefined. */
  get pendingStatus(): { readonly status: PathStatus; readonly sequence: number } | undefined {
    return this.statusOwed && !this.isAbandoned ? { status: this.local, sequence: this.localSeq } : undefined;
  }

  onStatusSent(): void {
    this.statusOwed = false;
  }

  /** Its packet was lost: sent again unless a newer one replaced it (`seq` is the lost one's). */
  onStatusLost(seq: number): void {
    if (seq === this.localSeq) this.statusOwed = true;
  }

  /** PATH_STATUS_* from the peer (draft §4.3): only a larger sequence number counts. */
  onRemoteStatus(status: PathStatus, sequence: number): void {
    if (sequence <= this.remoteSeq) return;
    this.remoteSeq = sequence;
    this.remote = status;
  }

  // ------------------------------------------------------------------ off-path responses

  /**
   * A PATH_CHALLENGE came on this path id from `to`, not from its path's address: the response goes
   * there (RFC 9000 §8.2.2), at most `budget` bytes (three times the datagram that carried it, §8.1).
   */
  queueOffPathResponse(to: string, data: Uint8Array, budget: number): void {
    if (this.isAbandoned) return;
    const q = (this.offPath ??= []);
    if (q.length >= MAX_OFF_PATH_RESPONSES) q.shift();
    q.push({ to, data: data.slice(), budget });
  }

  /** Whether a PATH_RESPONSE is owed off this path. */
  get hasOffPathResponses(): boolean {
    return this.offPath !== undefined;
  }

  /** The oldest PATH_RESPONSE owed off this path (the queue goes when emptied: no idle heap). */
  takeOffPathResponse(): OffPathResponse | undefined {
    const q = this.offPath;
    if (q === undefined) return undefined;
    const r = q.shift();
    if (q.length === 0) this.offPath = undefined;
    return r;
  }

  // ------------------------------------------------------------------ abandon (draft §3.4)

  /** Abandoned by either side: nothing but acknowledgments is sent on it any more. */
  get isAbandoned(): boolean {
    return this.abandonedAt !== Number.POSITIVE_INFINITY;
  }

  /** Our PATH_ABANDON of it, once we abandon it (or answer the peer's). */
  get abandonFrame(): OurPathAbandon | undefined {
    return this.ourAbandon;
  }

  /**
   * The path is abandoned at `now` (`send`: we abandon it and owe the peer a PATH_ABANDON). Its
   * state is kept for `linger` ms (draft §3.4: 3 PTOs, the time the peer's last packets and
   * acknowledgments may still arrive), then forgotten.
   */
  abandon(now: number, code: number, send: boolean, linger: number): void {
    if (this.isAbandoned) return;
    this.abandonedAt = now;
    this.forgetAt = now + linger;
    this.probes = 0;
    this.statusOwed = false;
    if (send) this.ourAbandon = new OurPathAbandon(code);
  }

  /** When its state is forgotten (Infinity while open): 3 PTOs after the abandon, and not before our PATH_ABANDON is acknowledged. */
  get forgetDeadline(): number {
    return this.ourAbandon !== undefined && !this.ourAbandon.isAcknowledged ? Number.POSITIVE_INFINITY : this.forgetAt;
  }

  // ------------------------------------------------------------------ liveness

  /** A packet of it opened at `now`. */
  onReceived(now: number, bytes: number): void {
    this.lastHeard = now;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += bytes;
  }

  /** When a packet of it was last received (or when it opened). */
  get lastReceived(): number {
    return this.lastHeard;
  }

  /** When an ack-eliciting packet last left on it (or when it opened, or a keep-alive was owed). */
  get lastAckElicitingSent(): number {
    return this.lastEliciting;
  }

  /** An ack-eliciting packet left on it at `now` (or a keep-alive PING is owed from `now`). */
  onAckElicitingSent(now: number): void {
    this.lastEliciting = now;
  }

  /** Packets and bytes sent (counters). */
  onSent(bytes: number): void {
    this.counters.packetsSent++;
    this.counters.bytesSent += bytes;
  }

  /** Whether it can carry application data now: open, validated and not abandoned. */
  get usable(): boolean {
    return !this.isAbandoned && this.path.validated;
  }
}

/** The loss detector's space for every path id's packets (multipath: 1-RTT only). */
export const PATH_SPACE = PacketSpace.Application;

/** PATH_RESPONSEs kept owed off one path id (to the peer's NAT probes from its other addresses). */
export const MAX_OFF_PATH_RESPONSES = 4;

/** A PATH_RESPONSE owed to an address other than the path's: where, what, and how many bytes at most. */
export interface OffPathResponse {
  readonly to: string;
  readonly data: Uint8Array;
  readonly budget: number;
}
