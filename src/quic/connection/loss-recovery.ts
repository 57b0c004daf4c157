import { PacketSpace } from '../packet/space.js';
import type { LossDetector } from '../recovery/loss.js';
import type { SentPacket } from '../recovery/sent-packets.js';
import type { PathRecovery } from './path.js';
import type { PathSet } from './paths.js';
import type { ConnectionParts } from './parts.js';
import { qlogPacketsLost } from './qlog.js';
import { onFramesAcked, onFramesLost, type PacketRecord } from './sent-packet.js';

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
    if (r.lost.length > 0) this.onPacketsLost(now, space, r.lost, r.persistentCongestion);
    this.loss.releaseAckResult();
    current.updatePacer();
  }

  /** The loss detection timer fired (RFC 9002 §6.1.2 time threshold, §6.2 PTO). */
  onLossTimeout(now: number): void {
    const r = this.loss.onLossTimeout(now, this.paths.recovery.rtt);
    if (r.kind === 'loss') this.onPacketsLost(now, r.space, r.lost, r.persistentCongestion);
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
  private onPacketsLost(now: number, space: PacketSpace, lost: readonly SentPacket<PacketRecord>[], persistentCongestion: boolean): void {
    // The loss timer may fire for a space whose packets were acknowledged or discarded meanwhile:
    // nothing was lost (persistent congestion needs lost packets).
    if (lost.length === 0) return;
    const q = this.p.trace.tracer;
    if (q) qlogPacketsLost(q, space, lost, this.loss.largestAcked(space));
    for (const p of lost) onFramesLost(this.p, p.record);
    // Persistent congestion was judged over the space's packets: it is the current path's.
    const current = this.paths.recovery;
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
