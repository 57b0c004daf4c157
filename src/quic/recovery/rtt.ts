import { K_GRANULARITY, K_INITIAL_RTT, K_PERSISTENT_CONGESTION_THRESHOLD, K_TIME_THRESHOLD } from './constants.js';
import { PacketSpace } from '../packet/space.js';

/**
 * RTT estimation, RFC 9002 §5 (variables of Appendix A.3). One estimator per path.
 *
 * Times are milliseconds. Before the first sample `smoothed = initialRtt` and `rttvar = initialRtt / 2`
 * (§5.3), `min = 0` and `latest = 0` (Appendix A.4).
 */
export class RttEstimator {
  /** latest_rtt: the most recent raw sample (0 before the first). */
  latest = 0;
  /** smoothed_rtt (§5.3). */
  smoothed: number;
  /** rttvar (§5.3). */
  rttvar: number;
  /** min_rtt (§5.2), 0 before the first sample. */
  min = 0;
  /**
   * The lowest sample less the acknowledgment delay the peer reported for it (capped at
   * max_ack_delay once confirmed), ms; Infinity before the first sample. Not RFC 9002's: min_rtt
   * keeps the delay, which is fine on one path but not to compare paths, whose samples carry
   * different delays (a path's handshake samples none, a later path's delayed ACKs up to 25 ms).
   * The multipath scheduler compares paths by it: each path's propagation delay.
   */
  minAdjusted = Number.POSITIVE_INFINITY;
  /** True once a sample has been taken (Appendix A's first_rtt_sample != 0). */
  hasSample = false;
  private readonly initialRtt: number;

  constructor(initialRtt: number = K_INITIAL_RTT) {
    if (!(initialRtt > 0)) throw new RangeError(`initialRtt must be > 0, got ${initialRtt}`);
    this.initialRtt = initialRtt;
    this.smoothed = initialRtt;
    this.rttvar = initialRtt / 2;
  }

  /**
   * Takes one RTT sample (the caller checked the §5.1 conditions: largest acked newly acked and
   * at least one newly acked packet ack-eliciting).
   *
   * @param latestRtt   ack_time - send_time_of_largest_acked
   * @param ackDelay    decoded ACK Delay in ms (pass 0 for Initial: §5.3 allows ignoring it)
   * @param handshakeConfirmed  caps the ack delay at maxAckDelay only once confirmed (§5.3)
   * @param maxAckDelay the peer's max_ack_delay in ms
   */
  update(latestRtt: number, ackDelay: number, handshakeConfirmed: boolean, maxAckDelay: number): void {
    this.latest = latestRtt;
    const net = latestRtt - (handshakeConfirmed ? Math.min(ackDelay, maxAckDelay) : ackDelay);
    if (net < this.minAdjusted) this.minAdjusted = Math.max(0, net);
    if (!this.hasSample) {
      // RFC 9002 §5.3: the first sample resets the estimator.
      this.hasSample = true;
      this.min = latestRtt;
      this.smoothed = latestRtt;
      this.rttvar = latestRtt / 2;
      return;
    }
    // RFC 9002 §5.2: min_rtt ignores acknowledgment delay.
    if (latestRtt < this.min) this.min = latestRtt;
    // RFC 9002 §5.3: ignore max_ack_delay until the handshake is confirmed.
    if (handshakeConfirmed && ackDelay > maxAckDelay) ackDelay = maxAckDelay;
    // RFC 9002 §5.3: never subtract the ack delay below min_rtt.
    const adjusted = latestRtt >= this.min + ackDelay ? latestRtt - ackDelay : latestRtt;
    // Appendix A.7 order (as RFC 6298): rttvar uses the previous smoothed_rtt. (The prose of §5.3
    // updates smoothed_rtt first; the pseudocode and RFC 6298 do not, and we follow them.)
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /**
   * The PTO period of RFC 9002 §6.2.1 without backoff:
   * smoothed_rtt + max(4*rttvar, kGranularity), plus max_ack_delay for Application Data only
   * (Initial and Handshake acknowledgments are not delayed, RFC 9000 §13.2.1).
   */
  pto(space: PacketSpace, maxAckDelay: number): number {
    const base = this.smoothed + Math.max(4 * this.rttvar, K_GRANULARITY);
    return space === PacketSpace.Application ? base + maxAckDelay : base;
  }

  /**
   * RFC 9002 §7.6.1: (smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) *
   * kPersistentCongestionThreshold, max_ack_delay included whatever the space.
   */
  persistentCongestionDuration(maxAckDelay: number): number {
    return (this.smoothed + Math.max(4 * this.rttvar, K_GRANULARITY) + maxAckDelay) * K_PERSISTENT_CONGESTION_THRESHOLD;
  }

  /** RFC 9002 §6.1.2: max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity). */
  lossDelay(): number {
    return Math.max(K_TIME_THRESHOLD * Math.max(this.smoothed, this.latest), K_GRANULARITY);
  }

  /** RFC 9002 §5.2: after persistent congestion, min_rtt restarts from the newest sample. */
  onPersistentCongestion(): void {
    if (this.hasSample) this.min = this.latest;
  }

  /** RFC 9002 §5.3: back to the initial state (new path, RFC 9000 §9.4; Retry, §6.3). */
  reset(initialRtt: number = this.initialRtt): void {
    this.latest = 0;
    this.min = 0;
    this.hasSample = false;
    this.smoothed = initialRtt;
    this.rttvar = initialRtt / 2;
  }
}
