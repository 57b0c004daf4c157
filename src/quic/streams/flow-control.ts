/**
 * Flow control, RFC 9000 §4: the two building blocks used at both levels.
 *
 * - `SendCredit`: the credit the PEER gave us (initial_max_data / MAX_DATA for the connection,
 *   initial_max_stream_data_* / MAX_STREAM_DATA for a stream) and how much of it we used. It also
 *   decides when to signal DATA_BLOCKED / STREAM_DATA_BLOCKED: once per limit.
 * - `ReceiveWindow`: the credit WE give the peer: checks every received offset against the largest
 *   limit advertised (FLOW_CONTROL_ERROR beyond it), extends the limit as the application consumes
 *   data, and auto-tunes the window size from the consumption rate and the RTT.
 *
 * The connection uses one of each (`received` then counts the sum of the highest offsets of all
 * streams, RFC 9000 §4.1); each stream uses a `SendCredit` for its sending part and a
 * `ReceiveWindow` for its receiving part, so the rules are written once.
 *
 * Numbers, not bigints: a limit of 2^62-1 (iroh sends initial_max_data = 2^62-1) reaches us
 * saturated to Number.MAX_SAFE_INTEGER (2^53-1), which simply means "unlimited" here; all the
 * arithmetic below stays exact in that range because used/received amounts are real byte counts.
 */
import { TransportError, TransportErrorCode } from '../errors.js';

/** Credit granted by the peer for sending (one per connection, one per sending stream part). */
export class SendCredit {
  private _limit: number;
  private _used = 0;
  /** Limit at which a BLOCKED frame was last requested (-1: none). */
  private blockedAt = -1;

  constructor(initialLimit: number) {
    this._limit = initialLimit;
  }

  /** Largest limit received from the peer (absolute byte count / offset). */
  get limit(): number {
    return this._limit;
  }

  /** Bytes counted against the limit so far (for a stream: the highest offset sent). */
  get used(): number {
    return this._used;
  }

  /** Bytes that may still be sent. */
  get available(): number {
    return this._limit - this._used;
  }

  /**
   * A new limit from the peer (MAX_DATA, MAX_STREAM_DATA or transport parameters). RFC 9000 §4.1:
   * "A sender MUST ignore any MAX_STREAM_DATA or MAX_DATA frames that do not increase flow control
   * limits." Returns true when the limit increased.
   */
  raise(limit: number): boolean {
    if (!(limit > this._limit)) return false;
    this._limit = limit;
    return true;
  }

  /**
   * Starts over at `limit` with nothing used (0-RTT rejected: what was sent under the remembered
   * limits never counted at the peer, RFC 9001 §4.6.2).
   */
  restart(limit: number): void {
    this._limit = limit;
    this._used = 0;
    this.blockedAt = -1;
  }

  /** Counts `n` newly sent bytes. Sending beyond the limit is a bug of ours, never the peer's. */
  consume(n: number): void {
    if (n > this._limit - this._used) throw new Error(`flow control: consuming ${n} bytes with only ${this.available} of credit`);
    this._used += n;
  }

  /** True when all the credit is used. */
  get isBlocked(): boolean {
    return this._used >= this._limit;
  }

  /**
   * To be called when the sender has data it cannot send for lack of credit. Returns true the first
   * time for a given limit: that is when a DATA_BLOCKED / STREAM_DATA_BLOCKED carrying `limit` is
   * due (RFC 9000 §4.1: "SHOULD send"; once per limit avoids a stream of identical frames).
   */
  markBlocked(): boolean {
    if (!this.isBlocked || this.blockedAt === this._limit) return false;
    this.blockedAt = this._limit;
    return true;
  }

  /**
   * A BLOCKED frame carrying `limit` was lost: true when it is still worth re-sending, i.e. we are
   * still blocked at that very limit (a raised limit makes the old signal moot).
   */
  blockedStillValid(limit: number): boolean {
    return this.isBlocked && this._limit === limit;
  }
}

/**
 * Auto-tuning rule (our own; quinn and quic-go use related heuristics):
 *
 * An "epoch" runs from one credit update to the next. When an update is produced, we look at how
 * fast the application consumed data during the epoch that ends. At that rate, consuming a whole
 * window takes `window * elapsed / consumedInEpoch` ms. If that is less than
 * `AUTOTUNE_RTT_FACTOR` (2) smoothed RTTs, the window, not the application, is what limits the
 * transfer: the peer cannot keep a bandwidth-delay product in flight, so the window doubles (up to
 * its maximum). A slow reader never triggers growth, so a slow application keeps its small buffer.
 * A sender limited only by flow control delivers at most a window per RTT, so the window keeps
 * growing until it exceeds about twice the path's bandwidth-delay product, where growth stops.
 * The first epoch starts at the first update (no clock is read here), so the first
 * half-window of a connection never grows the window.
 */
export const AUTOTUNE_RTT_FACTOR = 2;

/** Credit we grant to the peer (one per connection, one per receiving stream part). */
export class ReceiveWindow {
  private _window: number;
  readonly maxWindow: number;
  private _limit: number;
  private _received = 0;
  private _consumed = 0;
  private ackedLimit = 0;
  private due = false;
  private epochStart = -1;
  private epochConsumed = 0;

  /**
   * `initialWindow` is also the initial limit, the value advertised in the transport parameters
   * (initial_max_data or initial_max_stream_data_*). The window never exceeds `maxWindow`.
   */
  constructor(initialWindow: number, maxWindow: number = initialWindow) {
    if (!(initialWindow >= 0) || !(maxWindow >= initialWindow)) {
      throw new RangeError(`bad receive window ${initialWindow} / max ${maxWindow}`);
    }
    this._window = initialWindow;
    this.maxWindow = maxWindow;
    this._limit = initialWindow;
  }

  /** Largest limit advertised to the peer: the peer may send up to (excluding) this total. */
  get limit(): number {
    return this._limit;
  }

  /** Current window size: how far beyond the consumed bytes the limit is extended. */
  get window(): number {
    return this._window;
  }

  /** Highest offset received (stream) or sum of the highest offsets of all streams (connection). */
  get received(): number {
    return this._received;
  }

  /** Bytes the application consumed (read or discarded). */
  get consumed(): number {
    return this._consumed;
  }

  /** True when a MAX_DATA / MAX_STREAM_DATA update should be sent. */
  get updateDue(): boolean {
    return this.due;
  }

  /**
   * Throws FLOW_CONTROL_ERROR when `received` would grow by `delta` beyond the advertised limit
   * (RFC 9000 §4.1). Does not change anything, so the caller can check every level before
   * committing any state.
   */
  check(delta: number, frameType: number): void {
    if (delta > 0 && this._received + delta > this._limit) {
      throw new TransportError(
        TransportErrorCode.FLOW_CONTROL_ERROR,
        `received ${this._received + delta} bytes, limit ${this._limit}`,
        frameType,
      );
    }
  }

  /** Counts `delta` more received bytes (after `check`). */
  onReceived(delta: number): void {
    this._received += delta;
  }

  /**
   * The application consumed `n` bytes (read, or discarded after a reset / STOP_SENDING). Returns
   * true when a credit update became due: when the remaining credit falls below half the window,
   * i.e. the consumed data crossed half a window since the last update (RFC 9000 §4.2 leaves the
   * choice to us; half a window leaves the peer a half-window of slack for the update's RTT).
   */
  onConsumed(n: number): boolean {
    this._consumed += n;
    return this.refreshDue();
  }

  /**
   * Produces the limit to advertise now (in a MAX_DATA / MAX_STREAM_DATA frame), applying the
   * auto-tuning rule above with the current time and smoothed RTT (ms; 0 = unknown, no tuning).
   * Never lowers the limit (RFC 9000 §4.1: a smaller limit has no effect anyway).
   */
  advertise(now: number, smoothedRtt: number): number {
    if (this.epochStart >= 0 && smoothedRtt > 0) {
      const elapsed = Math.max(0, now - this.epochStart);
      const consumedInEpoch = this._consumed - this.epochConsumed;
      if (consumedInEpoch > 0 && this._window * elapsed < AUTOTUNE_RTT_FACTOR * smoothedRtt * consumedInEpoch) {
        this._window = Math.min(this.maxWindow, this._window * 2);
      }
    }
    this.epochStart = now;
    this.epochConsumed = this._consumed;
    const next = this._consumed + this._window;
    if (next > this._limit) this._limit = next;
    this.due = false;
    return this._limit;
  }

  /** The frame advertising `limit` was acknowledged. */
  onAdvertisedAcked(limit: number): void {
    if (limit > this.ackedLimit) this.ackedLimit = limit;
  }

  /**
   * The frame advertising `limit` was lost. Returns true (and marks an update due) when it must be
   * re-sent: it was the latest limit and no frame with it was acknowledged. An older limit is
   * covered by the newer frame already in flight. The re-sent frame carries the CURRENT limit.
   */
  onAdvertisedLost(limit: number): boolean {
    if (limit < this._limit || limit <= this.ackedLimit) return false;
    this.due = true;
    return true;
  }

  /**
   * Grows the window to at least `minWindow` (capped at maxWindow): the connection window follows
   * the stream windows, so one fast stream is not throttled by a small connection window.
   * Returns true when an update became due as a result.
   */
  ensureWindow(minWindow: number): boolean {
    const w = Math.min(this.maxWindow, minWindow);
    if (w <= this._window) return false;
    this._window = w;
    return this.refreshDue();
  }

  private refreshDue(): boolean {
    if (this.due) return false;
    // Remaining credit below half a window: time to extend it.
    if (this._limit - this._consumed < this._window / 2) {
      this.due = true;
      return true;
    }
    return false;
  }
}
