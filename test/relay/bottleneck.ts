/**
 * One direction of the relay's link: a bottleneck of `bandwidthBps` with a drop-tail queue of
 * `queuePackets`, then a one-way propagation delay, as the simulator's point-to-point link.
 *
 * The bandwidth is a token bucket one packet deep: a packet leaves the bottleneck when the link
 * has finished serializing the previous one (`size * 8 / bandwidth` each, counting the IP and UDP
 * headers the packet would carry on a real link). Packets waiting to be serialized form the queue;
 * when `queuePackets` are already waiting the new one is dropped (drop-tail). After leaving, a
 * packet is delivered `delayMs` later. Delivery order is arrival order.
 *
 * Time is the wall clock (performance.now): this is the part of the relay that lives in real
 * time. One timer per direction is armed for the head of the delivery queue; all packets due by
 * then are delivered together (Node timers have a 1 ms granularity).
 */
import { performance } from 'node:perf_hooks';

export interface BottleneckConfig {
  /** Link rate in bit/s (0 = unlimited: no serialization, no queue). Default 10 Mbit/s. */
  readonly bandwidthBps: number;
  /** One-way delay in ms (default 15). */
  readonly delayMs: number;
  /** Drop-tail queue length in packets (default 25). */
  readonly queuePackets: number;
  /** Bytes of IP + UDP header counted per packet against the bandwidth (28 for IPv4, 48 for IPv6). */
  readonly headerBytes: number;
}

export const DEFAULT_BOTTLENECK: BottleneckConfig = Object.freeze({ bandwidthBps: 10_000_000, delayMs: 15, queuePackets: 25, headerBytes: 28 });

interface InFlight<T> {
  readonly at: number;
  readonly item: T;
}

export class Bottleneck<T extends { readonly bytes: Uint8Array }> {
  /**
   * Diagnostics: ms the link sat idle between packets (nothing to serialize: the sender did not
   * keep the queue filled), and how late the timer delivered packets (a starved event loop).
   */
  readonly stats = { idleMs: 0, lateMsTotal: 0, lateMsMax: 0, delivered: 0 };
  private readonly cfg: BottleneckConfig;
  private readonly deliver: (item: T) => void;
  /** When the link finishes serializing the last accepted packet (ms, performance.now). */
  private busyUntil = 0;
  /** Departure times of the packets still waiting or being serialized (ascending). */
  private readonly departures: number[] = [];
  private departHead = 0;
  private readonly queue: InFlight<T>[] = [];
  private queueHead = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(cfg: Partial<BottleneckConfig>, deliver: (item: T) => void) {
    this.cfg = { ...DEFAULT_BOTTLENECK, ...cfg };
    if (!(this.cfg.bandwidthBps >= 0) || !(this.cfg.delayMs >= 0) || !Number.isSafeInteger(this.cfg.queuePackets) || this.cfg.queuePackets < 1) {
      throw new RangeError(`bad bottleneck config ${JSON.stringify(this.cfg)}`);
    }
    this.deliver = deliver;
  }

  /** Packets waiting for the link right now (the drop-tail queue's occupancy). */
  get backlog(): number {
    this.expire(performance.now());
    return this.departures.length - this.departHead;
  }

  /** Offers a packet; false when the queue is full (the packet is dropped). */
  offer(item: T): boolean {
    if (this.closed) return false;
    const now = performance.now();
    let departAt = now;
    if (this.cfg.bandwidthBps > 0) {
      this.expire(now);
      if (this.departures.length - this.departHead >= this.cfg.queuePackets) return false;
      if (this.busyUntil > 0 && now > this.busyUntil) this.stats.idleMs += now - this.busyUntil;
      const txMs = ((item.bytes.length + this.cfg.headerBytes) * 8 * 1000) / this.cfg.bandwidthBps;
      departAt = Math.max(now, this.busyUntil) + txMs;
      this.busyUntil = departAt;
      this.departures.push(departAt);
    }
    const at = departAt + this.cfg.delayMs;
    if (at <= now && this.queue.length === this.queueHead) {
      this.deliver(item);
      return true;
    }
    this.queue.push({ at, item });
    this.arm(at);
    return true;
  }

  /** Drops everything queued and stops the timer. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queueHead = 0;
  }

  private expire(now: number): void {
    while (this.departHead < this.departures.length && (this.departures[this.departHead] as number) <= now) this.departHead++;
    if (this.departHead > 1024 && this.departHead * 2 > this.departures.length) {
      this.departures.splice(0, this.departHead);
      this.departHead = 0;
    }
  }

  private arm(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    // Half a millisecond of slack: a timer never fires early, so this only merges near neighbours.
    const real = performance.now();
    const now = real + 0.5;
    while (this.queueHead < this.queue.length) {
      const head = this.queue[this.queueHead] as InFlight<T>;
      if (head.at > now) break;
      this.queueHead++;
      const late = Math.max(0, real - head.at);
      this.stats.lateMsTotal += late;
      this.stats.lateMsMax = Math.max(this.stats.lateMsMax, late);
      this.stats.delivered++;
      this.deliver(head.item);
      if (this.closed) return;
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    const next = this.queue[this.queueHead];
    if (next) this.arm(next.at);
  }
}
