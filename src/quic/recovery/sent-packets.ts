import type { RttEstimator } from './rtt.js';

/**
 * Sent packets of one packet number space, RFC 9002 Appendix A.1, kept in packet number order.
 *
 * Storage is a pair of parallel arrays (packet numbers, packets) used as a deque: sends append,
 * acknowledged or lost packets leave a hole (tombstone) and the head skips holes at the front, so
 * removal is O(1) and an ACK range is found by binary search on the packet numbers, never by
 * sorting. Holes are squeezed out only by `compact()`, which the loss detector calls between
 * operations, so indices stay valid during one scan. An index is also the packet's send order
 * (consecutive indices = consecutively sent packets), which persistent congestion uses.
 */

/**
 * One sent packet (RFC 9002 Appendix A.1.1). `T` is whatever the connection needs to react to
 * its fate: usually a record of the frames it carried (loss recovery retransmits information, not
 * packets).
 * The object is stored as given and handed back in `newlyAcked` / `lost`.
 */
export interface SentPacket<T> {
  readonly pn: number;
  /** Time sent, ms. */
  readonly timeSent: number;
  /** sent_bytes: the QUIC packet size, without UDP/IP overhead. */
  readonly size: number;
  readonly ackEliciting: boolean;
  /** Counts toward bytes in flight (ack-eliciting or PADDING; not ACK-only packets). */
  readonly inFlight: boolean;
  readonly record: T;
  /**
   * The RTT estimator of the path the packet left on (RFC 9002 keeps one per path): an RTT sample
   * taken from its acknowledgment goes there. Absent: the estimator the loss detector is given.
   */
  readonly pathRtt?: RttEstimator | undefined;
}

export class SentPacketQueue<T> {
  private pns: number[] = [];
  private slots: Array<SentPacket<T> | undefined> = [];
  private head = 0;
  private live = 0;
  private largest = -1;

  /** Packets neither acknowledged nor lost. */
  get count(): number {
    return this.live;
  }

  /** Largest packet number ever pushed, -1 before any (survives removal). */
  get largestSent(): number {
    return this.largest;
  }

  /** First index that may hold a packet. */
  get start(): number {
    return this.head;
  }

  /** One past the last index. */
  get end(): number {
    return this.slots.length;
  }

  /** Packet number stored at index i (also for a hole). */
  pnAt(i: number): number {
    return this.pns[i]!;
  }

  /** Packet at index i, undefined for a hole. */
  at(i: number): SentPacket<T> | undefined {
    return this.slots[i];
  }

  /** Appends a packet; its number must exceed every number pushed before. */
  push(p: SentPacket<T>): void {
    if (p.pn <= this.largest) throw new RangeError(`packet number ${p.pn} not above ${this.largest}`);
    this.pns.push(p.pn);
    this.slots.push(p);
    this.largest = p.pn;
    this.live++;
  }

  /** Index of the first entry (from `start`) whose packet number is >= pn, or `end`. */
  lowerBound(pn: number): number {
    let lo = this.head;
    let hi = this.pns.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pns[mid]! < pn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Removes the packet at index i (which must hold one) and returns it. */
  remove(i: number): SentPacket<T> {
    const p = this.slots[i]!;
    this.slots[i] = undefined;
    this.live--;
    if (i === this.head) {
      while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    }
    return p;
  }

  /** Drops the holes in front once they are half the storage (amortised O(1) per packet). */
  compact(): void {
    if (this.live === 0) {
      this.pns.length = 0;
      this.slots.length = 0;
      this.head = 0;
      return;
    }
    if (this.head >= 32 && this.head * 2 >= this.slots.length) {
      // copyWithin + length, not splice: splice would allocate an array of the removed entries.
      const n = this.slots.length - this.head;
      this.pns.copyWithin(0, this.head);
      this.slots.copyWithin(0, this.head);
      this.pns.length = n;
      this.slots.length = n;
      this.head = 0;
    }
  }

  /** Removes everything (packet numbers keep increasing from `largestSent`). */
  clear(): void {
    this.pns.length = 0;
    this.slots.length = 0;
    this.head = 0;
    this.live = 0;
  }
}
