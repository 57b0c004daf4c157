/**
 * A rate limit on the driver's clock (ms): at most `burst` sends at once, refilled at
 * `ratePerSecond`. The endpoint bounds with it what it sends in answer to packets it cannot
 * attribute to a connection: Stateless Resets (RFC 9000 §10.3.3: "An endpoint can remember the
 * number of Stateless Resets that it has sent and stop generating new Stateless Resets once a
 * limit is reached"), and Version Negotiation, Retry and refusals, whose number a flood of
 * (possibly spoofed) packets would otherwise set.
 *
 * Named for what it does rather than its algorithm (a token bucket): in QUIC "token" means an
 * address token or a stateless reset token (STYLE.md rule 16).
 */
export class RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Sends allowed now; fractional between refills. */
  private credit: number;
  private last: number | undefined;

  constructor(ratePerSecond: number, burst: number) {
    if (!(ratePerSecond >= 0) || !(burst >= 0)) throw new RangeError('rate limit rate and burst must be >= 0');
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.credit = burst;
  }

  /** Spends one send at `now`; false when the limit is reached. */
  take(now: number): boolean {
    if (this.last !== undefined && now > this.last) {
      this.credit = Math.min(this.burst, this.credit + ((now - this.last) * this.ratePerSecond) / 1000);
    }
    // A clock going backwards refills nothing and does not move the reference point back.
    if (this.last === undefined || now > this.last) this.last = now;
    if (this.credit < 1) return false;
    this.credit -= 1;
    return true;
  }
}
