import { RangeSet } from '../range-set.js';
import { DEFAULT_MAX_ACK_DELAY } from './constants.js';
import { PacketSpace } from '../packet/space.js';

/**
 * The RECEIVER side of acknowledgments for one packet number space (RFC 9000 §13.2): which
 * packet numbers arrived, duplicate detection, when an ACK frame is due, and the content of the
 * next ACK frame.
 *
 * Use per received packet, after it was decrypted:
 *   if (tracker.isDuplicate(pn)) drop it;             // RFC 9000 §12.3
 *   ... process its frames ...
 *   tracker.onPacketReceived(pn, ackEliciting, now);  // only once processed (RFC 9000 §13.1)
 * When building a packet: `if (tracker.shouldSendAck(now) || (tracker.ackPending && room))`
 * take `tracker.ackFrame(now, exponent, maxRanges)`, encode it, then call `onAckSent()` and keep
 * `frame.largest` as the packet's recovery token; when that packet is acknowledged call
 * `onAckOfAckReceived(largest)`. Arm the connection's ACK timer at `ackDeadline`.
 */
export interface AckTrackerOptions {
  /** Ranges remembered; the lowest are forgotten beyond this (RFC 9000 §13.2.3). Default 64. */
  readonly maxRanges?: number;
  /** Application space: ack after this many ack-eliciting packets (RFC 9000 §13.2.2). Default 2. */
  readonly ackElicitingThreshold?: number;
  /** OUR max_ack_delay in ms, the transport parameter we advertised (RFC 9000 §18.2). Default 25. */
  readonly maxAckDelay?: number;
}

/**
 * What an ACK frame encoder needs. The object and its `ranges` array are REUSED by the next
 * `ackFrame` call: encode before asking again.
 */
export interface AckFrameData {
  /** Largest Acknowledged (RFC 9000 §19.3) = ranges[0]. */
  largest: number;
  /** The ACK Delay FIELD: microseconds >> exponent (RFC 9000 §19.3, §13.2.5). */
  ackDelay: number;
  /**
   * Flat pairs of absolute packet numbers, largest first, the shape of the frames module's
   * `AckFrame.ranges`: [largest0, smallest0, largest1, smallest1, ...], disjoint, not adjacent.
   */
  ranges: number[];
}

export class AckTracker {
  readonly space: PacketSpace;
  /** Received packet numbers at or above `floor` (unbounded here; the cap is applied below). */
  private readonly received = new RangeSet();
  private readonly maxRanges: number;
  private readonly threshold: number;
  private maxAckDelay: number;
  /** Packet numbers below this are treated as duplicates: forgotten or already acked-of-ack. */
  private floor = 0;
  private largest = -1;
  private largestTime = 0;
  private largestAckEliciting = -1;
  private elicitingSinceAck = 0;
  private deadline = Number.POSITIVE_INFINITY;
  private pending = false;
  /** The reused frame, made by the first `ackFrame`, dropped by `release` (heap per idle connection). */
  private frame: AckFrameData | undefined;

  constructor(space: PacketSpace, options: AckTrackerOptions = {}) {
    this.space = space;
    this.maxRanges = options.maxRanges ?? 64;
    this.threshold = options.ackElicitingThreshold ?? 2;
    this.maxAckDelay = options.maxAckDelay ?? DEFAULT_MAX_ACK_DELAY;
    if (!(this.maxRanges >= 1)) throw new RangeError(`maxRanges must be >= 1, got ${this.maxRanges}`);
    if (!(this.threshold >= 1)) throw new RangeError(`ackElicitingThreshold must be >= 1, got ${this.threshold}`);
  }

  /** Largest packet number received, -1 before any. Kept even when ranges are pruned (§13.2.3). */
  get largestReceived(): number {
    return this.largest;
  }

  /** Time the largest packet number was received (the ACK Delay reference, RFC 9000 §13.2.5). */
  get largestReceivedTime(): number {
    return this.largestTime;
  }

  /** Ack-eliciting packets received since the last ACK frame was sent. */
  get ackElicitingSinceAck(): number {
    return this.elicitingSinceAck;
  }

  /**
   * Time by which an ACK frame must be sent: Infinity when no ack-eliciting packet waits, the
   * receive time itself when the ACK is due immediately. The connection's ACK timer.
   */
  get ackDeadline(): number {
    return this.deadline;
  }

  /** True when a packet (even non-ack-eliciting) arrived that no sent ACK frame reported yet. */
  get ackPending(): boolean {
    return this.pending;
  }

  /** Lowest packet number still tracked; anything below counts as a duplicate. */
  get trackedFloor(): number {
    return this.floor;
  }

  /** Received ranges as [start, end) pairs, ascending (allocates; tests and debugging). */
  receivedRanges(): Array<[number, number]> {
    return this.received.toArray();
  }

  /** Our max_ack_delay changed (it is fixed by our transport parameters, so rarely). */
  setMaxAckDelay(ms: number): void {
    this.maxAckDelay = ms;
  }

  /**
   * RFC 9000 §12.3: a packet number received before is a duplicate. Numbers below the tracked
   * floor (ranges forgotten for the cap or pruned after an ACK of our ACK) count as duplicates
   * too: RFC 9000 §13.2.3 lets a receiver forget a range only if it will not accept it again.
   */
  isDuplicate(pn: number): boolean {
    return pn < this.floor || this.received.has(pn);
  }

  /**
   * Records a processed packet. Returns false (and changes nothing) for a duplicate.
   * `ecnCe`: the datagram carried ECN-CE, which RFC 9000 §13.2.1 also acknowledges immediately.
   */
  onPacketReceived(pn: number, ackEliciting: boolean, now: number, ecnCe = false): boolean {
    if (this.isDuplicate(pn)) return false;
    let immediate = ecnCe || this.space !== PacketSpace.Application;
    if (ackEliciting) {
      // RFC 9000 §13.2.1: ack at once when the packet arrives out of order: below an
      // ack-eliciting packet already received, or above it with a gap in between.
      const lae = this.largestAckEliciting;
      if (lae >= 0) {
        if (pn < lae) immediate = true;
        else if (pn > lae + 1 && !this.received.hasAll(Math.max(lae + 1, this.floor), pn)) immediate = true;
      }
      if (pn > lae) this.largestAckEliciting = pn;
    }
    this.received.add(pn);
    if (this.received.size > this.maxRanges) {
      // RFC 9000 §13.2.3: forget the oldest ranges and everything below them.
      this.raiseFloor(this.received.endAt(this.received.size - this.maxRanges - 1));
    }
    if (pn > this.largest) {
      this.largest = pn;
      this.largestTime = now;
    }
    this.pending = true;
    if (!ackEliciting) return true; // RFC 9000 §13.2.1: recorded, but never triggers an ACK.
    this.elicitingSinceAck++;
    // RFC 9000 §13.2.1: Initial and Handshake at once; 1-RTT within max_ack_delay;
    // §13.2.2: after `threshold` ack-eliciting packets.
    if (immediate || this.elicitingSinceAck >= this.threshold) {
      if (now < this.deadline) this.deadline = now;
    } else if (this.deadline === Number.POSITIVE_INFINITY) {
      this.deadline = now + this.maxAckDelay;
    }
    return true;
  }

  /** True when an ACK frame is due now (the deadline has passed). */
  shouldSendAck(now: number): boolean {
    return now >= this.deadline;
  }

  /**
   * Content of the next ACK frame, or null when nothing is tracked. Reports at most `maxRanges`
   * ranges, the highest ones (RFC 9000 §13.2.3: older ranges are omitted first). The returned
   * object is reused by the next call.
   *
   * @param ackDelayExponent the exponent WE advertised (ack_delay_exponent, default 3)
   */
  ackFrame(now: number, ackDelayExponent: number, maxRanges: number = Number.POSITIVE_INFINITY): AckFrameData | null {
    const n = this.received.size;
    if (n === 0) return null;
    // One range to start with, sized exactly ([perf2]: `length = 2` on an empty array reserves 16
    // slots, held for the connection's life); the length changes only when the count does.
    const f = (this.frame ??= { largest: 0, ackDelay: 0, ranges: [0, 0] });
    const out = f.ranges;
    const count = Math.min(n, Math.max(1, maxRanges));
    if (out.length !== 2 * count) out.length = 2 * count;
    for (let k = 0; k < count; k++) {
      const i = n - 1 - k;
      out[2 * k] = this.received.endAt(i) - 1;
      out[2 * k + 1] = this.received.startAt(i);
    }
    f.largest = out[0]!;
    // RFC 9000 §13.2.5: delay since the largest was received, in microseconds, scaled down by
    // 2^exponent (§19.3). Division, not >>, so large values do not wrap at 32 bits.
    const delayUs = Math.max(0, now - this.largestTime) * 1000;
    f.ackDelay = Math.floor(delayUs / 2 ** ackDelayExponent);
    return f;
  }

  /** An ACK frame built from `ackFrame` was sent: the pending ACK is satisfied. */
  onAckSent(): void {
    this.elicitingSinceAck = 0;
    this.deadline = Number.POSITIVE_INFINITY;
    this.pending = false;
  }

  /**
   * A packet carrying one of our ACK frames was acknowledged: stop reporting packet numbers at or
   * below that frame's Largest Acknowledged (RFC 9000 §13.2.4).
   */
  onAckOfAckReceived(largestAckedInThatFrame: number): void {
    this.raiseFloor(largestAckedInThatFrame + 1);
  }

  /**
   * The space's keys were discarded (RFC 9001 §4.9): no packet of it is received or acknowledged
   * again (the receiver drops its packets before they get here), so the ranges go.
   */
  release(): void {
    this.received.clear();
    this.frame = undefined;
    this.deadline = Number.POSITIVE_INFINITY;
    this.pending = false;
    this.elicitingSinceAck = 0;
  }

  private raiseFloor(v: number): void {
    if (v <= this.floor) return;
    this.floor = v;
    this.received.removeBelow(v);
  }
}
