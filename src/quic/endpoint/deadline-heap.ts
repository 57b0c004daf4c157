/**
 * The endpoint's connection deadlines as an indexed binary min-heap, so `EndpointCore.pollTimeout`
 * and `handleTimeout` cost O(log connections) per changed connection instead of asking every
 * connection (an endpoint may hold thousands of idle connections; RFC 9000 §10.1 idle timers,
 * RFC 9002 §6 loss/PTO timers all live in the connections).
 *
 * Items carry their own position (`heapIndex`, -1 when absent) so an update or a removal finds
 * them without a search. Ties are broken by nothing: callers must not depend on the order of
 * equal deadlines.
 */
export interface HeapItem {
  /** The deadline the item is filed under (ms), meaningful while `heapIndex >= 0`. */
  deadline: number;
  /** Position in the heap array, -1 when not in the heap. */
  heapIndex: number;
}

export class DeadlineHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest deadline, or Infinity when empty. */
  earliest(): number {
    return this.items.length > 0 ? this.items[0]!.deadline : Number.POSITIVE_INFINITY;
  }

  /**
   * Files `item` under `deadline` (inserting, moving or, for Infinity, removing it: an item with
   * no deadline needs no place in the heap).
   */
  set(item: T, deadline: number): void {
    if (deadline === Number.POSITIVE_INFINITY) {
      this.remove(item);
      return;
    }
    if (item.heapIndex < 0) {
      item.deadline = deadline;
      item.heapIndex = this.items.length;
      this.items.push(item);
      this.up(item.heapIndex);
      return;
    }
    const old = item.deadline;
    if (old === deadline) return;
    item.deadline = deadline;
    if (deadline < old) this.up(item.heapIndex);
    else this.down(item.heapIndex);
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    item.heapIndex = -1;
    const last = this.items.pop()!;
    if (i === this.items.length) return;
    this.items[i] = last;
    last.heapIndex = i;
    this.up(i);
    this.down(last.heapIndex);
  }

  /** Removes and returns every item whose deadline is <= `now` (earliest first). */
  takeDue(now: number): T[] {
    const out: T[] = [];
    while (this.items.length > 0 && this.items[0]!.deadline <= now) {
      const top = this.items[0]!;
      this.remove(top);
      out.push(top);
    }
    return out;
  }

  private up(i: number): void {
    const a = this.items;
    const x = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (parent.deadline <= x.deadline) break;
      a[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    a[i] = x;
    x.heapIndex = i;
  }

  private down(i: number): void {
    const a = this.items;
    const n = a.length;
    const x = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.deadline < a[l]!.deadline ? r : l;
      const child = a[c]!;
      if (child.deadline >= x.deadline) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = x;
    x.heapIndex = i;
  }
}
