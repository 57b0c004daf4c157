import type { SeededRandom } from '../../src/tls/random.js';

/**
 * A one-way simulated network link on virtual time, for the deterministic connection tests
 * (issue #3): delay, jitter (which reorders), random and exact drops, duplication, corruption of
 * one byte in the first 50, an MTU, and a bandwidth limit with a drop-tail queue. Every random
 * choice comes from the injected seeded RNG, so the same seed gives the same run.
 *
 * Time is in milliseconds. `send(now, bytes)` copies the datagram (the sender may reuse its
 * buffer); `nextArrival()` tells the simulator when to step next; `deliver(now)` returns the
 * datagrams that have arrived by `now`, in arrival order.
 */
export interface LinkConfig {
  /** One-way propagation delay. */
  delayMs: number;
  /** Extra delay uniformly drawn in [0, jitterMs); packets may overtake each other. */
  jitterMs: number;
  /** Probability that a datagram is lost. */
  dropRate: number;
  /** Most consecutive random drops (0 = unlimited), like the interop runner's drop-rate burst. */
  maxDropBurst: number;
  /** Exact drops: the 0-based indices of datagrams sent on this link that die. */
  dropIndices: ReadonlySet<number>;
  /** Drop every datagram sent while `blackhole(now, datagram)` is true (by time, or by content). */
  blackhole?: (now: number, datagram: Uint8Array) => boolean;
  /** Probability that a datagram is delivered twice. */
  duplicateRate: number;
  /** Probability that one random byte among the first 50 is flipped. */
  corruptRate: number;
  /** Datagrams larger than this are dropped (a path MTU for the UDP payload). */
  mtu: number;
  /** Bits per second; 0 = unlimited (no serialisation delay, no queue). */
  bandwidthBps: number;
  /** Drop-tail queue length in datagrams when bandwidth-limited. */
  queuePackets: number;
}

export const DEFAULT_LINK: LinkConfig = {
  delayMs: 10,
  jitterMs: 0,
  dropRate: 0,
  maxDropBurst: 0,
  dropIndices: new Set(),
  duplicateRate: 0,
  corruptRate: 0,
  mtu: 65527,
  bandwidthBps: 0,
  queuePackets: 100,
};

export interface LinkStats {
  sent: number;
  sentBytes: number;
  delivered: number;
  deliveredBytes: number;
  droppedRandom: number;
  droppedExact: number;
  droppedQueue: number;
  droppedMtu: number;
  droppedBlackhole: number;
  duplicated: number;
  corrupted: number;
}

interface InFlight {
  at: number;
  seq: number;
  bytes: Uint8Array;
  /** The source address the datagram was sent with (Pair's NAT view), if any. */
  from: string | undefined;
}

export class Link {
  readonly config: LinkConfig;
  readonly stats: LinkStats = {
    sent: 0, sentBytes: 0, delivered: 0, deliveredBytes: 0, droppedRandom: 0, droppedExact: 0,
    droppedQueue: 0, droppedMtu: 0, droppedBlackhole: 0, duplicated: 0, corrupted: 0,
  };
  private readonly rng: SeededRandom;
  /** Arrival-ordered (kept sorted by insertion; small). */
  private inFlight: InFlight[] = [];
  /** Departure times of datagrams still in the bottleneck queue. */
  private departures: number[] = [];
  private lastDeparture = 0;
  private lastArrival = 0;
  private seq = 0;
  private dropBurst = 0;

  constructor(config: Partial<LinkConfig>, rng: SeededRandom) {
    this.config = { ...DEFAULT_LINK, ...config };
    this.rng = rng;
  }

  /** Changes the link's behaviour from now on (a route change, a shrinking MTU, a blackhole). */
  set(changes: Partial<LinkConfig>): void {
    Object.assign(this.config, changes);
  }

  /** Number of datagrams handed to this link so far (the index the next one gets). */
  get sentCount(): number {
    return this.stats.sent;
  }

  /** Puts a datagram on the link; `from` (its source address) comes back with it from `deliverFrom`. */
  send(now: number, datagram: Uint8Array, from?: string): void {
    const c = this.config;
    const index = this.stats.sent++;
    this.stats.sentBytes += datagram.length;
    if (c.dropIndices.has(index)) {
      this.stats.droppedExact++;
      return;
    }
    if (c.blackhole?.(now, datagram)) {
      this.stats.droppedBlackhole++;
      return;
    }
    if (datagram.length > c.mtu) {
      this.stats.droppedMtu++;
      return;
    }
    if (c.dropRate > 0 && this.rng.next() < c.dropRate && (c.maxDropBurst === 0 || this.dropBurst < c.maxDropBurst)) {
      this.dropBurst++;
      this.stats.droppedRandom++;
      return;
    }
    this.dropBurst = 0;

    let departure = now;
    if (c.bandwidthBps > 0) {
      while (this.departures.length > 0 && this.departures[0]! <= now) this.departures.shift();
      if (this.departures.length >= c.queuePackets) {
        this.stats.droppedQueue++;
        return;
      }
      const txMs = (datagram.length * 8 * 1000) / c.bandwidthBps;
      departure = Math.max(now, this.lastDeparture) + txMs;
      this.lastDeparture = departure;
      this.departures.push(departure);
    }

    const bytes = datagram.slice();
    if (c.corruptRate > 0 && this.rng.next() < c.corruptRate) {
      const i = this.rng.int(Math.min(50, bytes.length));
      bytes[i] = bytes[i]! ^ (1 + this.rng.int(255));
      this.stats.corrupted++;
    }
    let arrival = departure + c.delayMs + (c.jitterMs > 0 ? this.rng.next() * c.jitterMs : 0);
    if (c.jitterMs === 0) arrival = Math.max(arrival, this.lastArrival);
    this.lastArrival = Math.max(this.lastArrival, arrival);
    this.enqueue(arrival, bytes, from);
    if (c.duplicateRate > 0 && this.rng.next() < c.duplicateRate) {
      this.stats.duplicated++;
      this.enqueue(arrival + (c.jitterMs > 0 ? this.rng.next() * c.jitterMs : 0), bytes.slice(), from);
    }
  }

  /** When the next datagram arrives, or undefined when none is in flight. */
  nextArrival(): number | undefined {
    return this.inFlight[0]?.at;
  }

  /** Datagrams that have arrived by `now`, in arrival order. */
  deliver(now: number): Uint8Array[] {
    return this.deliverFrom(now).map((d) => d.bytes);
  }

  /** `deliver`, with the source address each datagram was sent with. */
  deliverFrom(now: number): Array<{ bytes: Uint8Array; from: string | undefined }> {
    const out: Array<{ bytes: Uint8Array; from: string | undefined }> = [];
    while (this.inFlight.length > 0 && this.inFlight[0]!.at <= now) {
      const d = this.inFlight.shift()!;
      this.stats.delivered++;
      this.stats.deliveredBytes += d.bytes.length;
      out.push({ bytes: d.bytes, from: d.from });
    }
    return out;
  }

  private enqueue(at: number, bytes: Uint8Array, from: string | undefined): void {
    const item = { at, seq: this.seq++, bytes, from };
    let i = this.inFlight.length;
    while (i > 0 && this.inFlight[i - 1]!.at > at) i--;
    this.inFlight.splice(i, 0, item);
  }
}
