import { PacketSpace } from '../packet/space.js';
import type { LossDetector } from '../recovery/loss.js';
import type { SentPacket } from '../recovery/sent-packets.js';
import type { PathRecovery } from './path.js';
import { PATH_SPACE, type PathIdState } from './path-id.js';
import type { PathSet } from './paths.js';
import type { ConnectionParts } from './parts.js';
import { qlogPacketsLost } from './qlog.js';
import { onFramesAcked, onFramesAckedLate, onFramesLost, PacketRecord } from './sent-packet.js';

/**
 * Loss recovery as the connection applies it (RFC 9002): an ACK frame or the loss detection timer
 * goes through the LossDetector, and what it finds reaches the owners of the packets' frames
 * (acknowledged: done; lost: re-queued, STYLE.md rule 7) and the recovery state of the path each
 * packet left on (congestion, RTT and MTU are per path: RFC 9000 §9.4); a PTO asks the packet
 * number spaces for probes. It owns no state of its own.
 */
export class LossRecovery {
  private readonly p: ConnectionParts;
  private readonly loss: LossDetector<PacketRecord>;
  private readonly paths: PathSet;

  constructor(parts: ConnectionParts) {
    this.p = parts;
    this.loss = parts.loss;
    this.paths = parts.paths;
  }

  /** An ACK frame of `space` (`ranges` as the frame decoder gives them; `ackDelayMs` decoded). */
  onAck(now: number, space: PacketSpace, ranges: readonly number[], ackDelayMs: number): void {
    const current = this.paths.recovery;
    const r = this.loss.onAckReceived(space, ranges, ackDelayMs, now, current.rtt);
    if (space === PacketSpace.Application && ranges.length > 0) this.p.keys.onOneRttAcked(ranges[0]!);
    if (r.newlyAcked.length > 0) {
      for (const p of r.newlyAcked) onFramesAcked(this.p, p.record);
      this.creditAcked(now, r.newlyAcked);
    }
    for (const p of r.lateAcked) onFramesAckedLate(this.p, p.record);
    if (r.lost.length > 0) this.onPacketsLost(now, space, r.lost, r.persistentCongestion, this.loss.largestAcked(space), current);
    recycleAcked(r.newlyAcked);
    this.loss.releaseAckResult();
    current.updatePacer();
  }

  /**
   * A PATH_ACK of path id `st` ≥ 1 (draft-ietf-quic-multipath §4.1): it acknowledges packets of
   * that path id only, through its own loss detector (RFC 9002 per path id; a packet number
   * never sent on it is a PROTOCOL_VIOLATION, as RFC 9000 §13.1 has it for ACK). Congestion and
   * RTT are credited to the path each packet left on.
   */
  onPathAck(now: number, st: PathIdState<PacketRecord>, ranges: readonly number[], ackDelayMs: number): void {
    const rec = st.recovery;
    const r = st.loss.onAckReceived(PATH_SPACE, ranges, ackDelayMs, now, rec.rtt);
    if (ranges.length > 0) this.p.keys.onOneRttAckedOn(st.id, ranges[0]!);
    if (r.newlyAcked.length > 0) {
      for (const p of r.newlyAcked) onFramesAcked(this.p, p.record);
      this.creditAcked(now, r.newlyAcked);
    }
    for (const p of r.lateAcked) onFramesAckedLate(this.p, p.record);
    if (r.lost.length > 0) {
      st.counters.packetsLost += r.lost.length;
      this.onPacketsLost(now, PATH_SPACE, r.lost, r.persistentCongestion, st.loss.largestAcked(PATH_SPACE), rec);
    }
    recycleAcked(r.newlyAcked);
    st.loss.releaseAckResult();
    rec.updatePacer();
  }

  /** The loss detection timer of path id `st` fired: its losses, or PTO probes owed on it. */
  onPathLossTimeout(now: number, st: PathIdState<PacketRecord>): void {
    const r = st.loss.onLossTimeout(now, st.rtt);
    if (r.kind === 'loss') {
      st.counters.packetsLost += r.lost.length;
      this.onPacketsLost(now, PATH_SPACE, r.lost, r.persistentCongestion, st.loss.largestAcked(PATH_SPACE), st.recovery);
    } else if (r.kind === 'pto') {
      st.oweProbes(r.probes);
    }
  }

  /**
   * Path id `st` was abandoned or failed: whatever is in flight on it is declared lost now, so
   * its frames are re-queued by their owners and go out on another path (stream data may travel
   * on any path); its congestion controller lets go of the bytes.
   */
  onPathGone(now: number, st: PathIdState<PacketRecord>): void {
    const lost = st.loss.declareAllLost(PATH_SPACE, now, st.rtt);
    if (lost.length === 0) return;
    st.counters.packetsLost += lost.length;
    for (const p of lost) onFramesLost(this.p, p.record);
    let bytes = 0;
    for (const p of lost) if (p.inFlight) bytes += p.size;
    st.recovery.cc.onPacketsDiscarded(bytes);
  }

  /**
   * Path 0 stopped answering while another path works (multipath): its Application packets in
   * flight are declared lost now, as `onPathGone` does for other path ids, so their data leaves
   * on the path the scheduler picked.
   */
  onPathZeroFailed(now: number): void {
    const r = this.paths.recovery;
    const lost = this.loss.declareAllLost(PacketSpace.Application, now, r.rtt);
    if (lost.length === 0) return;
    let bytes = 0;
    for (const p of lost) {
      onFramesLost(this.p, p.record);
      if (p.inFlight) bytes += p.size;
    }
    r.cc.onPacketsDiscarded(bytes);
  }

  /** The loss detection timer fired (RFC 9002 §6.1.2 time threshold, §6.2 PTO). */
  onLossTimeout(now: number): void {
    const r = this.loss.onLossTimeout(now, this.paths.recovery.rtt);
    if (r.kind === 'loss') this.onPacketsLost(now, r.space, r.lost, r.persistentCongestion, this.loss.largestAcked(r.space), this.paths.recovery);
    else if (r.kind === 'pto') this.onPto(r.space, r.probes);
  }

  /**
   * A client followed a Retry. RFC 9002 §6.3: loss recovery and congestion control restart
   * (nothing was acknowledged yet, so removing the Initial bytes from flight leaves the controller
   * in its initial state); the ClientHello is sent again, with the token, in packets whose numbers
   * continue (RFC 9000 §17.2.5.3).
   */
  onRetry(now: number): void {
    const r = this.paths.recovery;
    r.rtt.reset();
    r.cc.onPacketsDiscarded(this.loss.resetForRetry(now, r.rtt));
    this.p.spaces.at(PacketSpace.Initial).crypto.requeueUnacked();
    // RFC 9000 §17.2.5.3: the 0-RTT packets sent before the Retry were most likely discarded; the
    // client "SHOULD attempt to resend data in 0-RTT packets after it sends a new Initial", in
    // packets with new numbers. Their stream data is rewound (sent again from the start, within
    // the remembered limits: identical bytes at identical offsets, harmless if some did arrive).
    const remembered = this.p.handshake.rememberedParams;
    if (this.p.keys.hasZeroRtt && remembered) {
      r.cc.onPacketsDiscarded(this.loss.forgetSpace(PacketSpace.Application, now, r.rtt));
      this.p.streams.rewindForRejectedEarlyData();
      this.p.streams.setPeerParams(remembered);
    }
  }

  /** Each newly acknowledged packet counts for the path it left on (RFC 9000 §9.4). */
  private creditAcked(now: number, acked: readonly SentPacket<PacketRecord>[]): void {
    const first = acked[0]!.record.path.recovery;
    if (onOnePath(acked, first)) {
      first?.onPacketsAcked(now, acked as readonly PacketRecord[]);
      return;
    }
    for (const [r, packets] of byRecovery(acked)) r.onPacketsAcked(now, packets);
  }

  /** Lost packets: their frames are re-queued, and each loss is a congestion signal for its own path. */
  private onPacketsLost(now: number, space: PacketSpace, lost: readonly SentPacket<PacketRecord>[], persistentCongestion: boolean, largestAcked: number, current: PathRecovery): void {
    // The loss timer may fire for a space whose packets were acknowledged or discarded meanwhile:
    // nothing was lost (persistent congestion needs lost packets).
    if (lost.length === 0) return;
    const q = this.p.trace.tracer;
    if (q) qlogPacketsLost(q, space, lost, largestAcked);
    for (const p of lost) onFramesLost(this.p, p.record);
    // Persistent congestion was judged over the space's packets: it is the path's whose packet
    // number space it is (the current path for path 0).
    const first = lost[0]!.record.path.recovery;
    if (onOnePath(lost, first)) {
      first?.onPacketsLost(now, lost as readonly PacketRecord[], persistentCongestion && first === current);
      return;
    }
    for (const [r, packets] of byRecovery(lost)) r.onPacketsLost(now, packets, persistentCongestion && r === current);
  }

  /**
   * RFC 9002 §6.2.4: the PTO of `space` expired. Probes (ack-eliciting, exempt from the congestion
   * window) go in that space, carrying its unacknowledged CRYPTO data when it has some; and "the
   * sender SHOULD send ack-eliciting packets from other packet number spaces with in-flight data,
   * coalescing packets if possible": a server whose first flight was lost probes Initial AND
   * Handshake in one datagram, since the client may only be able to read one of them.
   */
  private onPto(space: PacketSpace, probes: number): void {
    for (const sp of this.p.spaces.all) {
      if (sp.discarded) continue;
      if (sp.space === space) sp.oweProbes(probes);
      else if (this.loss.hasAckElicitingInFlight(sp.space)) sp.oweProbes(1);
      else continue;
      if (sp.space !== PacketSpace.Application) sp.crypto.requeueUnacked();
    }
  }
}

/**
 * The records of newly acknowledged packets go back to PacketRecord's free list once their frames'
 * owners and their paths' recovery state have seen them: the loss detector let go of them (it
 * remembers only lost packets, for a late ACK), and the owners keep what a record says, never the
 * record.
 */
function recycleAcked(acked: readonly SentPacket<PacketRecord>[]): void {
  for (let i = 0; i < acked.length; i++) PacketRecord.recycle(acked[i]!.record);
}

/** Whether every packet left on the path whose recovery state is `first` (the usual case). */
function onOnePath(packets: readonly SentPacket<PacketRecord>[], first: PathRecovery | undefined): boolean {
  for (let i = 1; i < packets.length; i++) if (packets[i]!.record.path.recovery !== first) return false;
  return true;
}

/** Packets grouped by the recovery state of the path each left on (rare: a migration in flight). */
function byRecovery(packets: readonly SentPacket<PacketRecord>[]): Map<PathRecovery, PacketRecord[]> {
  const m = new Map<PathRecovery, PacketRecord[]>();
  for (const p of packets) {
    const r = p.record.path.recovery;
    if (!r) continue;
    const list = m.get(r);
    if (list) list.push(p.record);
    else m.set(r, [p.record]);
  }
  return m;
}
