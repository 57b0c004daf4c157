import { toHex } from '../codec/bytes.js';
import { hashBytes } from './hkdf.js';

/**
 * Anti-replay for 0-RTT (RFC 9846 §8.1, "single-use tickets"): a bounded strike register of the
 * tickets whose early data a server accepted. A ClientHello replayed with the same ticket (an
 * attacker copying a client's first flight) finds its ticket here and gets its early data
 * rejected; the handshake itself may still resume, and what the client sent in 0-RTT is then
 * sent again in 1-RTT, which a replayer cannot do.
 *
 * An entry is kept until its ticket expires (`until`), after which the ticket cannot be used at
 * all. The register is bounded: when full (after dropping the expired entries) it refuses, so
 * that a flood of tickets turns early data off rather than memory growth or a forgotten entry.
 *
 * The caveat (README, "Resumption"): the register lives in one endpoint's memory. Servers that
 * share ticket keys (none do here: keys are per endpoint) or a restarted server (its old tickets
 * no longer open) do not share it; and a replay that reaches the server before the genuine
 * ClientHello wins the ticket's single use, its early data then delivered once (the genuine
 * client's is re-sent in 1-RTT). Early data must still be safe to replay once at the application
 * level (idempotent requests), as RFC 9846 §8 and §E.5 say.
 */
export class StrikeRegister {
  /** The most entries kept (each about 100 bytes). */
  readonly capacity: number;
  /** id (hash of the ticket, hex) -> expiry (ms). */
  private readonly seen = new Map<string, number>();
  /** The earliest expiry among the entries (a sweep before then finds nothing to drop). */
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(capacity = 100_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  /** Entries held. */
  get size(): number {
    return this.seen.size;
  }

  /**
   * Claims the single use of `ticket`, valid until `until` (ms): true the first time, false when
   * it was claimed before (a replay) or the register is full.
   */
  claim(ticket: Uint8Array, until: number, now: number): boolean {
    if (now >= this.nextExpiry) this.sweep(now);
    const id = toHex(hashBytes('sha256', ticket).subarray(0, 16));
    const known = this.seen.get(id);
    if (known !== undefined && known > now) return false;
    if (this.seen.size >= this.capacity) return false;
    this.seen.set(id, until);
    if (until < this.nextExpiry) this.nextExpiry = until;
    return true;
  }

  private sweep(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const [id, until] of this.seen) {
      if (until <= now) this.seen.delete(id);
      else if (until < next) next = until;
    }
    this.nextExpiry = next;
  }
}
