/**
 * 0-RTT datagrams that arrive before the Initial that creates their connection (reordered, or
 * the Initial lost): RFC 9001 §4.6.1 lets a server buffer them so the early data is not lost.
 * Copies are held per client address and DCID, bounded in count and time (test/LIMITS.md), and
 * handed to the connection its Initial creates; the rest expire unread.
 */

/** 0-RTT datagrams held in all. */
export const EARLY_HELD_MAX = 64;
/** 0-RTT datagrams held for one client (address and DCID). */
export const EARLY_HELD_PER_KEY = 8;
/** How long one client's held datagrams wait for its Initial (ms). */
export const EARLY_HELD_MS = 1000;

/** The held 0-RTT datagrams of an endpoint (see the module comment). */
export class EarlyHold {
  private readonly held = new Map<string, { readonly at: number; readonly datagrams: Uint8Array[] }>();
  private count = 0;

  /** Datagrams held now. */
  get size(): number {
    return this.count;
  }

  /** Holds a copy of `datagram` for `key`; false when a bound refuses it. */
  hold(now: number, key: string, datagram: Uint8Array): boolean {
    if (this.count > 0) this.expire(now);
    const entry = this.held.get(key);
    if (this.count >= EARLY_HELD_MAX || (entry && entry.datagrams.length >= EARLY_HELD_PER_KEY)) return false;
    if (entry) entry.datagrams.push(datagram.slice());
    else this.held.set(key, { at: now, datagrams: [datagram.slice()] });
    this.count++;
    return true;
  }

  /** The datagrams held for `key` (removed), or undefined. */
  take(key: string): Uint8Array[] | undefined {
    if (this.count === 0) return undefined;
    const entry = this.held.get(key);
    if (!entry) return undefined;
    this.held.delete(key);
    this.count -= entry.datagrams.length;
    return entry.datagrams;
  }

  private expire(now: number): void {
    for (const [k, v] of this.held) {
      if (now - v.at < EARLY_HELD_MS) continue;
      this.held.delete(k);
      this.count -= v.datagrams.length;
    }
  }
}
