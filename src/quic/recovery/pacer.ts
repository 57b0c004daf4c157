import { K_GRANULARITY } from './constants.js';

/**
 * A leaky-bucket pacer (RFC 9002 §7.7: "a leaky bucket algorithm, where the capacity of the
 * bucket is limited to the maximum burst size and the rate the bucket fills is determined by"
 * rate = N * congestion_window / smoothed_rtt).
 *
 * - N = 2 in slow start (the window doubles per RTT, pacing at 1.25 would hold it back) and
 *   1.25 otherwise (the RFC's example), both configurable.
 * - Capacity = max(burstPackets * max_datagram_size, the bytes the rate earns in
 *   2 * timerGranularity), but never above the congestion window. The second term keeps the rate
 *   reachable when the driver's timer only ticks every ~1 ms: a late tick finds the credit it
 *   missed (up to the capacity) and may send them as one small burst.
 * - The bucket holds bytes of credit; it starts full; a send takes its size (never below zero, so packets
 *   sent without asking, such as probes, are not paid back later).
 *
 * Only ack-eliciting/in-flight packets should be paced; ACK-only packets go at once (§7.7). The
 * connection calls `update` whenever cwnd, smoothed_rtt, max_datagram_size or slow start change
 * (once per ACK is fine), `delayUntil` before sending, and `onPacketSent` after.
 */
export interface PacerOptions {
  /** Packets the bucket holds at least. Default 10. */
  readonly burstPackets?: number;
  /** Rate multiplier N in congestion avoidance. Default 1.25. */
  readonly gainAvoidance?: number;
  /** Rate multiplier N in slow start. Default 2. */
  readonly gainSlowStart?: number;
  /** Timer granularity of the driver in ms. Default kGranularity (1 ms). */
  readonly timerGranularity?: number;
}

export class Pacer {
  /** Current bucket capacity in bytes. */
  capacity = 0;
  /** Current fill rate in bytes per ms (Infinity = no pacing). */
  rate = Number.POSITIVE_INFINITY;
  /** Bytes that may be sent now. */
  private credit = 0;
  private last = Number.NaN;
  private readonly burstPackets: number;
  private readonly gainAvoidance: number;
  private readonly gainSlowStart: number;
  private readonly granularity: number;

  constructor(cwnd: number, smoothedRtt: number, maxDatagramSize: number, inSlowStart: boolean, options: PacerOptions = {}) {
    this.burstPackets = options.burstPackets ?? 10;
    this.gainAvoidance = options.gainAvoidance ?? 1.25;
    this.gainSlowStart = options.gainSlowStart ?? 2;
    this.granularity = options.timerGranularity ?? K_GRANULARITY;
    this.update(cwnd, smoothedRtt, maxDatagramSize, inSlowStart);
    this.credit = this.capacity;
  }

  /** Credit available at `now` (bytes). */
  available(now: number): number {
    this.refill(now);
    return this.credit;
  }

  /**
   * 0 when a packet of `bytes` may be sent at `now`; otherwise the time (ms, > now) when enough
   * credit will have accumulated: arm the timer there. A packet larger than the capacity waits
   * for a full bucket.
   */
  delayUntil(now: number, bytes: number): number {
    this.refill(now);
    const need = Math.min(bytes, this.capacity);
    // Within a byte counts as enough: floating-point refills must not leave a timer that fires at
    // `now` forever (the wake time would round back to now).
    if (this.credit >= need - 1 || this.rate === Number.POSITIVE_INFINITY) return 0;
    return now + (need - this.credit) / this.rate;
  }

  /** A paced packet of `bytes` left at `now`. */
  onPacketSent(now: number, bytes: number): void {
    this.refill(now);
    this.credit = Math.max(0, this.credit - bytes);
  }

  /** New congestion window / smoothed RTT / datagram size / slow start state. */
  update(cwnd: number, smoothedRtt: number, maxDatagramSize: number, inSlowStart: boolean): void {
    const gain = inSlowStart ? this.gainSlowStart : this.gainAvoidance;
    this.rate = smoothedRtt > 0 ? (gain * cwnd) / smoothedRtt : Number.POSITIVE_INFINITY;
    const burst = this.burstPackets * maxDatagramSize;
    const earned = Number.isFinite(this.rate) ? this.rate * 2 * this.granularity : burst;
    this.capacity = Math.max(maxDatagramSize, Math.min(cwnd, Math.max(burst, earned)));
    if (this.credit > this.capacity) this.credit = this.capacity;
  }

  private refill(now: number): void {
    if (!Number.isNaN(this.last) && now > this.last) {
      this.credit = Math.min(this.capacity, this.credit + (now - this.last) * this.rate);
    }
    if (Number.isNaN(this.last) || now > this.last) this.last = now;
  }
}
