import { K_LOSS_REDUCTION_FACTOR, WindowController } from './base.js';
import type { RttInfo } from './interface.js';

/**
 * NewReno as specified by RFC 9002 §7 and Appendix B: slow start (+acked bytes), a recovery
 * period per congestion event (ssthresh = cwnd / 2, cwnd = max(ssthresh, kMinimumWindow)),
 * congestion avoidance of one max_datagram_size per window acknowledged, persistent congestion
 * to kMinimumWindow. The window is reduced at once on entering recovery (§7.3.2 allows it).
 * No restart after idle (RFC 9002 does not ask for one).
 */
export class NewReno extends WindowController {
  readonly algorithm = 'newreno' as const;
  protected readonly restartsAfterIdle = false;
  /** Bytes acknowledged in congestion avoidance not yet turned into window (RFC 3465 §2.1). */
  private avoidanceCredit = 0;

  protected reduceWindow(): void {
    this.ssthresh = Math.floor(this.cwnd * K_LOSS_REDUCTION_FACTOR);
    this.cwnd = Math.max(this.ssthresh, this.minimumWindow);
    this.avoidanceCredit = 0;
  }

  /**
   * RFC 9002 Appendix B.5: cwnd += max_datagram_size * acked / cwnd, done with integer byte
   * counting (RFC 3465 §2.1, suggested there): one max_datagram_size each time a full window of
   * bytes has been acknowledged.
   */
  protected increaseInAvoidance(_now: number, bytes: number, _rtt: RttInfo): void {
    this.avoidanceCredit += bytes;
    if (this.avoidanceCredit >= this.cwnd) {
      this.avoidanceCredit -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  protected override onCollapse(): void {
    this.avoidanceCredit = 0;
  }
}
