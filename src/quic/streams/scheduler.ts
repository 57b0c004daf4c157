/**
 * Fair scheduling of the streams that have data to send (RFC 9000 §2.3: "A QUIC implementation
 * SHOULD provide ways in which an application can indicate the relative priority of streams").
 *
 * Streams wait in one FIFO per priority level; the highest non-empty level is served first and,
 * within a level, round-robin: the stream at the front is offered (`front`) and moves to the back
 * only once it actually produced a frame (`rotate`), so a stream offered when the packet had no
 * room keeps its turn. With equal frame sizes, N busy streams at one level get equal shares to
 * within one frame.
 *
 * Membership is lazy: a stream is queued when it may have something to send, and dropped by the
 * owner when it turns out to have nothing (`dropFront`). No allocation on the steady path.
 */

/** What the scheduler needs from a queued item. */
export interface Schedulable {
  /** Priority level (higher first); read when queued. */
  priority: number;
  /** Level the item is queued at, or null when not queued (owned by the scheduler). */
  queuedAt: number | null;
}

interface Level<T> {
  priority: number;
  items: Array<T | undefined>;
  head: number;
}

export class Scheduler<T extends Schedulable> {
  /** Levels sorted by descending priority. */
  private readonly levels: Array<Level<T>> = [];

  /** Queues `item` at its priority unless already queued. */
  push(item: T): void {
    if (item.queuedAt !== null) return;
    this.level(item.priority).items.push(item);
    item.queuedAt = item.priority;
  }

  /** The next item to serve (highest level, FIFO order), or null. */
  front(): T | null {
    const levels = this.levels;
    // Indexed, not for-of: called several times per packet, it must not allocate an iterator.
    for (let l = 0; l < levels.length; l++) {
      const lv = levels[l]!;
      while (lv.head < lv.items.length) {
        const item = lv.items[lv.head];
        if (item !== undefined && item.queuedAt === lv.priority) return item;
        lv.head++; // a hole left by remove()
      }
      this.compact(lv);
    }
    return null;
  }

  /** Removes the front item (it had nothing to send); it is re-queued with push() later. */
  dropFront(item: T): void {
    const lv = this.findLevel(item);
    if (lv === undefined || lv.items[lv.head] !== item) return;
    lv.items[lv.head] = undefined;
    lv.head++;
    item.queuedAt = null;
    this.compact(lv);
  }

  /** The item produced a frame: if it is at the front of its level, it goes to the back. */
  rotate(item: T): void {
    const lv = this.findLevel(item);
    if (lv === undefined || lv.items[lv.head] !== item) return;
    lv.items[lv.head] = undefined;
    lv.head++;
    lv.items.push(item);
    this.compact(lv);
  }

  /** Removes an item wherever it is (priority change, stream removal). O(n), rare. */
  remove(item: T): void {
    const lv = this.findLevel(item);
    item.queuedAt = null;
    if (lv === undefined) return;
    const i = lv.items.indexOf(item, lv.head);
    if (i >= 0) lv.items[i] = undefined;
  }

  /** Number of queued items (for tests). */
  get size(): number {
    let n = 0;
    for (const lv of this.levels) for (let i = lv.head; i < lv.items.length; i++) if (lv.items[i] !== undefined) n++;
    return n;
  }

  private findLevel(item: T): Level<T> | undefined {
    if (item.queuedAt === null) return undefined;
    return this.levels.find((l) => l.priority === item.queuedAt);
  }

  private level(priority: number): Level<T> {
    let i = 0;
    while (i < this.levels.length && this.levels[i]!.priority > priority) i++;
    const found = this.levels[i];
    if (found !== undefined && found.priority === priority) return found;
    const lv: Level<T> = { priority, items: [], head: 0 };
    this.levels.splice(i, 0, lv);
    return lv;
  }

  /** Reclaims the consumed head of a level's array (amortised O(1)). */
  private compact(lv: Level<T>): void {
    if (lv.head === lv.items.length) {
      lv.items.length = 0;
      lv.head = 0;
    } else if (lv.head > 64 && lv.head * 2 > lv.items.length) {
      lv.items.copyWithin(0, lv.head);
      lv.items.length -= lv.head;
      lv.head = 0;
    }
  }
}
