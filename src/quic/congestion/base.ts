import type { CongestionAlgorithm, CongestionController, CongestionStats, RttInfo, SentPacketInfo } from './interface.js';

/** RFC 9002 §7.2: min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)). */
export function initialWindowFor(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize));
}

/** RFC 9002 §7.2: kMinimumWindow = 2 * max_datagram_size. */
export function minimumWindowFor(maxDatagramSize: number): number {
  return 2 * maxDatagramSize;
}

/** RFC 9002 Appendix B.1 kLossReductionFactor (NewReno). */
export const K_LOSS_REDUCTION_FACTOR = 0.5;

/**
 * What NewReno and CUBIC share (RFC 9002 §7 and Appendix B): bytes in flight, slow start,
 * recovery periods, app-limited, MTU changes, restart after idle. Subclasses supply the window
 * reduction on a congestion event and the congestion avoidance increase.
 */
export abstract class WindowController implements CongestionController {
  abstract readonly algorithm: CongestionAlgorithm;
  /** Whether `onPacketSent`'s idleThreshold triggers a restart after idle (see restartAfterIdle). */
  protected abstract readonly restartsAfterIdle: boolean;
  bytesInFlight = 0;
  ssthresh = Number.POSITIVE_INFINITY;
  appLimited = false;
  readonly stats: CongestionStats = {
    congestionEvents: 0,
    persistentCongestionEvents: 0,
    lostPackets: 0,
    lostBytes: 0,
    idleRestarts: 0,
  };
  /** congestion_window, bytes; may be fractional inside (CUBIC), `window` floors it. */
  protected cwnd: number;
  protected mss: number;
  /** congestion_recovery_start_time; -Infinity = none (a real time may be 0). */
  protected recoveryStart = Number.NEGATIVE_INFINITY;
  private recovering = false;
  private lastSent = Number.NaN;
  private pristine = true;

  constructor(maxDatagramSize: number) {
    if (!(maxDatagramSize > 0)) throw new RangeError(`maxDatagramSize must be > 0, got ${maxDatagramSize}`);
    this.mss = maxDatagramSize;
    this.cwnd = initialWindowFor(maxDatagramSize);
  }

  get window(): number {
    return Math.floor(this.cwnd);
  }

  /** The window with its fractional part (CUBIC grows by fractions of a byte per ACK). */
  get exactWindow(): number {
    return this.cwnd;
  }

  get maxDatagramSize(): number {
    return this.mss;
  }

  get initialWindow(): number {
    return initialWindowFor(this.mss);
  }

  get minimumWindow(): number {
    return minimumWindowFor(this.mss);
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  get isInRecovery(): boolean {
    return this.recovering;
  }

  canSend(bytes: number): boolean {
    return this.bytesInFlight + bytes <= this.cwnd;
  }

  available(): number {
    return Math.max(0, Math.floor(this.cwnd - this.bytesInFlight));
  }

  onPacketSent(now: number, bytes: number, idleThreshold = Number.POSITIVE_INFINITY): void {
    if (this.restartsAfterIdle && this.bytesInFlight === 0 && now - this.lastSent > idleThreshold) this.restartAfterIdle();
    this.lastSent = now;
    this.bytesInFlight += bytes;
  }

  onPacketsAcked(now: number, packets: readonly SentPacketInfo[], rtt: RttInfo): void {
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (!p.inFlight) continue;
      this.bytesInFlight = Math.max(0, this.bytesInFlight - p.size);
      // RFC 9002 §7.3.2: no growth for packets sent in the recovery period; the first packet
      // sent after its start that is acknowledged ends it.
      if (p.timeSent <= this.recoveryStart) continue;
      this.recovering = false;
      this.pristine = false;
      // RFC 9002 §7.8: no growth when the window is not the limit.
      if (this.appLimited) continue;
      if (this.cwnd < this.ssthresh) {
        this.cwnd += p.size; // RFC 9002 §7.3.1 slow start
      } else {
        this.increaseInAvoidance(now, p.size, rtt);
      }
    }
  }

  onPacketsLost(now: number, packets: readonly SentPacketInfo[]): void {
    let newestLost = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (!p.inFlight) continue;
      this.bytesInFlight = Math.max(0, this.bytesInFlight - p.size);
      this.stats.lostPackets++;
      this.stats.lostBytes += p.size;
      if (p.timeSent > newestLost) newestLost = p.timeSent;
    }
    if (newestLost !== Number.NEGATIVE_INFINITY) this.onCongestionEvent(now, newestLost);
  }

  onCongestionEvent(now: number, sentTime: number): void {
    // RFC 9002 §7.3.2: one reduction per recovery period.
    if (sentTime <= this.recoveryStart) return;
    this.recoveryStart = now;
    this.recovering = true;
    this.pristine = false;
    this.stats.congestionEvents++;
    this.reduceWindow(now);
  }

  onPersistentCongestion(now: number): void {
    // RFC 9002 §7.6.2 and Appendix B.8: collapse to the minimum window, leave recovery.
    this.cwnd = this.minimumWindow;
    this.recoveryStart = Number.NEGATIVE_INFINITY;
    this.recovering = false;
    this.pristine = false;
    this.stats.persistentCongestionEvents++;
    this.onCollapse(now);
  }

  onPacketsDiscarded(bytes: number): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
  }

  setAppLimited(limited: boolean): void {
    this.appLimited = limited;
  }

  /**
   * RFC 9002 §7.2. Rule chosen: the initial and minimum windows follow the new size; a window
   * still at its untouched initial value (nothing acked, no congestion yet) becomes the new
   * initial window (this covers a decrease to complete the handshake); otherwise the window is
   * kept, raised to the new minimum if needed.
   */
  setMaxDatagramSize(size: number): void {
    if (!(size > 0)) throw new RangeError(`maxDatagramSize must be > 0, got ${size}`);
    this.mss = size;
    if (this.pristine) this.cwnd = this.initialWindow;
    else if (this.cwnd < this.minimumWindow) this.cwnd = this.minimumWindow;
  }

  /** Entering a recovery period: set ssthresh and cwnd (RFC 9002 Appendix B.6 / RFC 9438 §4.6). */
  protected abstract reduceWindow(now: number): void;
  /** Congestion avoidance growth for one acknowledged in-flight packet of `bytes`. */
  protected abstract increaseInAvoidance(now: number, bytes: number, rtt: RttInfo): void;
  /** After persistent congestion collapsed the window. */
  protected onCollapse(_now: number): void {}
  /** After a restart from idle (subclass state such as CUBIC's epoch). */
  protected onIdleRestart(): void {}

  /**
   * Restart after idle (RFC 5681 §4.1 restart window, RFC 2861 §3 ssthresh rule; RFC 9438 §5.8
   * and RFC 7661 discuss the same situation): when a packet is sent with nothing in flight and
   * the previous send was more than `idleThreshold` ago, ssthresh = max(ssthresh, 3/4 cwnd) and
   * cwnd = min(cwnd, initial window), so the flow slow-starts back towards where it was.
   */
  private restartAfterIdle(): void {
    const iw = this.initialWindow;
    if (this.cwnd <= iw) return;
    this.ssthresh = Math.max(this.ssthresh, 0.75 * this.cwnd);
    this.cwnd = iw;
    this.stats.idleRestarts++;
    this.onIdleRestart();
  }
}
