/**
 * A set of non-negative integers stored as sorted, disjoint, non-adjacent half-open ranges
 * [start, end). Used for received packet numbers (ACK generation, duplicate detection) and for
 * byte ranges (stream reassembly, acknowledged and lost stream data).
 *
 * Ranges are kept in ascending order in one number array of [start, end) pairs (`r[2i]`,
 * `r[2i + 1]`), so the common case (adding the next value right after the highest range) is O(1)
 * and allocation-free. One array, not one of starts and one of ends: a connection holds ~17 of
 * these sets, most of them empty (heap per idle connection, issue [perf2]).
 *
 * `maxRanges` bounds memory against a peer that makes us track many gaps: when an insert would
 * exceed it, the LOWEST range is dropped (RFC 9000 §13.2.3: old ranges are the least useful to
 * report). Callers for whom dropping is not acceptable (stream data) leave it unbounded and bound
 * the byte window instead.
 */
export class RangeSet {
  /** The ranges, flat: start of range i at 2i, its exclusive end at 2i + 1. */
  private r: number[] = [];
  readonly maxRanges: number;

  constructor(maxRanges = Number.POSITIVE_INFINITY) {
    if (!(maxRanges >= 1)) throw new RangeError(`maxRanges must be >= 1, got ${maxRanges}`);
    this.maxRanges = maxRanges;
  }

  /** Number of disjoint ranges. */
  get size(): number {
    return this.r.length >> 1;
  }

  get isEmpty(): boolean {
    return this.r.length === 0;
  }

  /** Smallest value in the set (undefined when empty). */
  get min(): number | undefined {
    return this.r[0];
  }

  /** Largest value in the set (undefined when empty). */
  get max(): number | undefined {
    const n = this.r.length;
    return n === 0 ? undefined : this.r[n - 1]! - 1;
  }

  /** Start of range `i` (ascending order). */
  startAt(i: number): number {
    return this.r[2 * i]!;
  }

  /** Exclusive end of range `i` (ascending order). */
  endAt(i: number): number {
    return this.r[2 * i + 1]!;
  }

  /** Total count of integers in the set. */
  count(): number {
    const r = this.r;
    let n = 0;
    for (let i = 0; i < r.length; i += 2) n += r[i + 1]! - r[i]!;
    return n;
  }

  has(v: number): boolean {
    const i = this.indexOfRangeAtOrBefore(v);
    return i >= 0 && v < this.r[2 * i + 1]!;
  }

  /** True when every integer in [start, end) is in the set. */
  hasAll(start: number, end: number): boolean {
    if (start >= end) return true;
    const i = this.indexOfRangeAtOrBefore(start);
    return i >= 0 && end <= this.r[2 * i + 1]!;
  }

  /**
   * True when inserting [start, end) would merge with an existing range (overlap or adjacency),
   * i.e. would not add a new disjoint range. An empty [start, end) never adds one.
   */
  touches(start: number, end: number): boolean {
    if (start >= end) return true;
    const r = this.r;
    const n = r.length >> 1;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[2 * mid + 1]! < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < n && r[2 * lo]! <= end;
  }

  /** Adds one value. Returns false when it was already present. */
  add(v: number): boolean {
    const r = this.r;
    const n = r.length;
    // Fast path: extends or follows the highest range.
    if (n > 0) {
      const lastEnd = r[n - 1]!;
      if (v === lastEnd) {
        r[n - 1] = v + 1;
        return true;
      }
      if (v > lastEnd) {
        r.push(v, v + 1);
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
    const r = this.r;
    const n = r.length >> 1;
    // The first range: an array of exactly two (a first push reserves 17 slots; most sets, an idle
    // connection's packet numbers received, stay one range: [perf2]).
    if (n === 0) {
      this.r = [start, end];
      this.trim();
      return end - start;
    }
    // Fast paths, allocation-free: after the highest range, or touching only it (in-order data).
    if (start > r[2 * n - 1]!) {
      r.push(start, end);
      this.trim();
      return end - start;
    }
    if (start >= r[2 * n - 2]!) {
      const lastEnd = r[2 * n - 1]!;
      if (end <= lastEnd) return 0;
      r[2 * n - 1] = end;
      return end - lastEnd;
    }
    // First range whose end >= start (may merge), last range whose start <= end (may merge).
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[2 * mid + 1]! < start) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let newStart = start;
    let newEnd = end;
    let covered = 0;
    while (j < n && r[2 * j]! <= end) {
      if (r[2 * j]! < newStart) newStart = r[2 * j]!;
      if (r[2 * j + 1]! > newEnd) newEnd = r[2 * j + 1]!;
      covered += r[2 * j + 1]! - r[2 * j]!;
      j++;
    }
    if (j - lo === 1) {
      // Merges into one range: rewrite it in place.
      r[2 * lo] = newStart;
      r[2 * lo + 1] = newEnd;
    } else {
      r.splice(2 * lo, 2 * (j - lo), newStart, newEnd);
      this.trim();
    }
    return newEnd - newStart - covered;
  }

  /** Removes every value below `v`. */
  removeBelow(v: number): void {
    const r = this.r;
    let k = 0;
    while (k < r.length && r[k + 1]! <= v) k += 2;
    if (k > 0) r.splice(0, k);
    if (r.length > 0 && r[0]! < v) r[0] = v;
  }

  /** Removes [start, end) from the set. */
  remove(start: number, end: number): void {
    if (start >= end) return;
    const out: number[] = [];
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      const s = r[i]!;
      const e = r[i + 1]!;
      if (e <= start || s >= end) {
        out.push(s, e);
        continue;
      }
      if (s < start) out.push(s, start);
      if (e > end) out.push(end, e);
    }
    this.r = out;
  }

  /** Removes and returns the lowest range, or undefined. */
  shift(): [number, number] | undefined {
    if (this.r.length === 0) return undefined;
    const s = this.r.shift()!;
    return [s, this.r.shift()!];
  }

  clear(): void {
    this.r.length = 0;
  }

  /** Ranges as [start, end) pairs, ascending (allocates; for tests and debugging). */
  toArray(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.r.length; i += 2) out.push([this.r[i]!, this.r[i + 1]!]);
    return out;
  }

  /** Index of the range with the greatest start <= v, or -1. */
  private indexOfRangeAtOrBefore(v: number): number {
    const r = this.r;
    let lo = 0;
    let hi = (r.length >> 1) - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (r[2 * mid]! <= v) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  private trim(): void {
    const excess = (this.r.length >> 1) - this.maxRanges;
    if (excess > 0) this.r.splice(0, 2 * excess);
  }
}
