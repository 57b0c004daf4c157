import { WindowController } from './base.js';
import type { RttInfo, SentPacketInfo } from './interface.js';

/** RFC 9438 §5.1: C = 0.4 (segments / s^3). */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.6: multiplicative decrease factor beta_cubic = 0.7. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta), the Reno-friendly AIMD slope. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/**
 * CUBIC (RFC 9438) over the shared QUIC machinery of RFC 9002 (slow start as NewReno, recovery
 * periods, persistent congestion to the minimum window, app-limited). Window arithmetic of the
 * RFC is in segments (cwnd / max_datagram_size) and seconds; the window is stored in bytes.
 *
 * - Congestion event (§4.6, §4.7): W_max = cwnd, or cwnd * (1 + beta) / 2 when cwnd < the previous
 *   W_max (fast convergence); cwnd_prior = cwnd; ssthresh = max(cwnd * beta, min window);
 *   cwnd = ssthresh; a new epoch begins at the next congestion avoidance ACK.
 * - Epoch start (§4.2): t_epoch = now, cwnd_epoch = cwnd, W_est = cwnd_epoch,
 *   K = cbrt((W_max - cwnd_epoch) / C), or K = 0 and W_max = cwnd_epoch when cwnd_epoch >= W_max
 *   (first avoidance after slow start, after persistent congestion: §4.8, or after idle).
 * - Each acknowledged packet in avoidance (§4.2-§4.5): W_est += alpha * acked / cwnd
 *   (alpha = 1 once W_est >= cwnd_prior); if W_cubic(t) < W_est, cwnd = W_est (Reno-friendly);
 *   otherwise target = clamp(W_cubic(t + smoothed_rtt), cwnd, 1.5 * cwnd) and
 *   cwnd += (target - cwnd) / cwnd per acknowledged segment.
 * - App-limited (§5.8): no growth (shared rule), and the epoch is shifted by the time spent
 *   app-limited (measured between ACK batches) so W_cubic does not race ahead meanwhile.
 * - Restart after idle: when a packet is sent with nothing in flight and the previous send is
 *   more than `idleThreshold` (the PTO) old, ssthresh = max(ssthresh, 3/4 cwnd),
 *   cwnd = min(cwnd, initial window), and the epoch ends (see WindowController.restartAfterIdle).
 */
export class Cubic extends WindowController {
  readonly algorithm = 'cubic' as const;
  protected readonly restartsAfterIdle = true;
  /** W_max in segments (0 = none). */
  wMax = 0;
  /** K in seconds for the current epoch. */
  k = 0;
  /** W_est in segments (Reno-friendly estimate). */
  wEst = 0;
  /** cwnd_prior in segments: the window when the last congestion event began. */
  cwndPrior = 0;
  /** t_epoch in ms, NaN when no epoch is running. */
  epochStart = Number.NaN;
  private lastAckTime = Number.NaN;

  /** W_cubic(t) = C * (t - K)^3 + W_max, segments, t in seconds since the epoch (RFC 9438 §4.2). */
  wCubic(tSeconds: number): number {
    const d = tSeconds - this.k;
    return CUBIC_C * d * d * d + this.wMax;
  }

  override onPacketsAcked(now: number, packets: readonly SentPacketInfo[], rtt: RttInfo): void {
    // RFC 9438 §5.8: time spent app-limited does not count in t.
    if (this.appLimited && !Number.isNaN(this.epochStart) && now > this.lastAckTime) {
      this.epochStart += now - this.lastAckTime;
    }
    this.lastAckTime = now;
    super.onPacketsAcked(now, packets, rtt);
  }

  protected reduceWindow(): void {
    const segs = this.cwnd / this.mss;
    // RFC 9438 §4.7 fast convergence.
    this.wMax = segs < this.wMax ? (segs * (1 + CUBIC_BETA)) / 2 : segs;
    this.cwndPrior = segs;
    // RFC 9438 §4.6 (the 2-segment floor is RFC 9002's kMinimumWindow).
    this.ssthresh = Math.max(this.cwnd * CUBIC_BETA, this.minimumWindow);
    this.cwnd = this.ssthresh;
    this.epochStart = Number.NaN;
  }

  protected increaseInAvoidance(now: number, bytes: number, rtt: RttInfo): void {
    const mss = this.mss;
    if (Number.isNaN(this.epochStart)) this.startEpoch(now);
    const cwndSegs = this.cwnd / mss;
    const ackedSegs = bytes / mss;
    // RFC 9438 §4.3: Reno-friendly estimate.
    const alpha = this.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * ackedSegs) / cwndSegs;
    const t = (now - this.epochStart) / 1000;
    if (this.wCubic(t) < this.wEst) {
      // Reno-friendly region.
      if (this.wEst > cwndSegs) this.cwnd = this.wEst * mss;
      return;
    }
    // RFC 9438 §4.4/§4.5 concave and convex regions.
    let target = this.wCubic(t + rtt.smoothed / 1000);
    if (target < cwndSegs) target = cwndSegs;
    else if (target > 1.5 * cwndSegs) target = 1.5 * cwndSegs;
    this.cwnd += ((target - cwndSegs) / cwndSegs) * ackedSegs * mss;
  }

  protected override onCollapse(): void {
    // RFC 9438 §4.8: after a timeout the next epoch starts with K = 0 and W_max = cwnd_epoch.
    this.wMax = 0;
    this.epochStart = Number.NaN;
  }

  protected override onIdleRestart(): void {
    this.epochStart = Number.NaN;
  }

  private startEpoch(now: number): void {
    this.epochStart = now;
    const cwndEpoch = this.cwnd / this.mss;
    this.wEst = cwndEpoch;
    if (cwndEpoch < this.wMax) {
      this.k = Math.cbrt((this.wMax - cwndEpoch) / CUBIC_C);
    } else {
      this.k = 0;
      this.wMax = cwndEpoch;
    }
  }
}
