/**
 * A set of non-negative integers stored as sorted, disjoint, non-adjacent half-open ranges
 * [start, end). Used for received packet numbers (ACK generation, duplicate detection) and for
 * byte ranges (stream reassembly, acknowledged and lost stream data).
 *
 * Ranges are kept in ascending order in two parallel number arrays, so the common case (adding
 * the next value right after the highest range) is O(1) and allocation-free.
 *
 * `maxRanges` bounds memory against a peer that makes us track many gaps: when an insert would
 * exceed it, the LOWEST range is dropped (RFC 9000 §13.2.3: old ranges are the least useful to
 * report). Callers for whom dropping is not acceptable (stream data) leave it unbounded and bound
 * the byte window instead.
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];
  readonly maxRanges: number;

  constructor(maxRanges = Number.POSITIVE_INFINITY) {
    if (!(maxRanges >= 1)) throw new RangeError(`maxRanges must be >= 1, got ${maxRanges}`);
    this.maxRanges = maxRanges;
  }

  /** Number of disjoint ranges. */
  get size(): number {
    return this.starts.length;
  }

  get isEmpty(): boolean {
    return this.starts.length === 0;
  }

  /** Smallest value in the set (undefined when empty). */
  get min(): number | undefined {
    return this.starts[0];
  }

  /** Largest value in the set (undefined when empty). */
  get max(): number | undefined {
    const n = this.ends.length;
    return n === 0 ? undefined : this.ends[n - 1]! - 1;
  }

  /** Start of range `i` (ascending order). */
  startAt(i: number): number {
    return this.starts[i]!;
  }

  /** Exclusive end of range `i` (ascending order). */
  endAt(i: number): number {
    return this.ends[i]!;
  }

  /** Total count of integers in the set. */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.starts.length; i++) n += this.ends[i]! - this.starts[i]!;
    return n;
  }

  has(v: number): boolean {
    const i = this.indexOfRangeAtOrBefore(v);
    return i >= 0 && v < this.ends[i]!;
  }

  /** True when every integer in [start, end) is in the set. */
  hasAll(start: number, end: number): boolean {
    if (start >= end) return true;
    const i = this.indexOfRangeAtOrBefore(start);
    return i >= 0 && end <= this.ends[i]!;
  }

  /**
   * True when inserting [start, end) would merge with an existing range (overlap or adjacency),
   * i.e. would not add a new disjoint range. An empty [start, end) never adds one.
   */
  touches(start: number, end: number): boolean {
    if (start >= end) return true;
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.starts.length && this.starts[lo]! <= end;
  }

  /** Adds one value. Returns false when it was already present. */
  add(v: number): boolean {
    const n = this.starts.length;
    // Fast path: extends or follows the highest range.
    if (n > 0) {
      const lastEnd = this.ends[n - 1]!;
      if (v === lastEnd) {
        this.ends[n - 1] = v + 1;
        return true;
      }
      if (v > lastEnd) {
        this.starts.push(v);
        this.ends.push(v + 1);
        this.trim();
        return true;
      }
    }
    if (this.has(v)) return false;
    this.insert(v, v + 1);
    return true;
  }

  /**
   * Adds [start, end). Returns the number of integers newly added (0 when all were present).
   */
  insert(start: number, end: number): number {
    if (start >= end) return 0;
    const starts = this.starts;
    const ends = this.ends;
    const n = starts.length;
    // Fast paths, allocation-free: after the highest range, or touching only it (in-order data).
    if (n === 0 || start > ends[n - 1]!) {
      starts.push(start);
      ends.push(end);
      this.trim();
      return end - start;
    }
    if (start >= starts[n - 1]!) {
      const lastEnd = ends[n - 1]!;
      if (end <= lastEnd) return 0;
      ends[n - 1] = end;
      return end - lastEnd;
    }
    // First range whose end >= start (may merge), last range whose start <= end (may merge).
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let newStart = start;
    let newEnd = end;
    let covered = 0;
    while (j < n && starts[j]! <= end) {
      if (starts[j]! < newStart) newStart = starts[j]!;
      if (ends[j]! > newEnd) newEnd = ends[j]!;
      covered += ends[j]! - starts[j]!;
      j++;
    }
    if (j - lo === 1) {
      // Merges into one range: rewrite it in place.
      starts[lo] = newStart;
      ends[lo] = newEnd;
    } else {
      starts.splice(lo, j - lo, newStart);
      ends.splice(lo, j - lo, newEnd);
      this.trim();
    }
    return newEnd - newStart - covered;
  }

  /** Removes every value below `v`. */
  removeBelow(v: number): void {
    let k = 0;
    while (k < this.starts.length && this.ends[k]! <= v) k++;
    if (k > 0) {
      this.starts.splice(0, k);
      this.ends.splice(0, k);
    }
    if (this.starts.length > 0 && this.starts[0]! < v) this.starts[0] = v;
  }

  /** Removes [start, end) from the set. */
  remove(start: number, end: number): void {
    if (start >= end) return;
    const starts: number[] = [];
    const ends: number[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (e <= start || s >= end) {
        starts.push(s);
        ends.push(e);
        continue;
      }
      if (s < start) {
        starts.push(s);
        ends.push(start);
      }
      if (e > end) {
        starts.push(end);
        ends.push(e);
      }
    }
    this.starts = starts;
    this.ends = ends;
  }

  /** Removes and returns the lowest range, or undefined. */
  shift(): [number, number] | undefined {
    if (this.starts.length === 0) return undefined;
    return [this.starts.shift()!, this.ends.shift()!];
  }

  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
  }

  /** Ranges as [start, end) pairs, ascending (allocates; for tests and debugging). */
  toArray(): Array<[number, number]> {
    return this.starts.map((s, i) => [s, this.ends[i]!]);
  }

  /** Index of the range with the greatest start <= v, or -1. */
  private indexOfRangeAtOrBefore(v: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= v) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  private trim(): void {
    const excess = this.starts.length - this.maxRanges;
    if (excess > 0) {
      this.starts.splice(0, excess);
      this.ends.splice(0, excess);
    }
  }
}
