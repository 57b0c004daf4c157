/**
 * An impairing UDP relay between QUIC clients and one server, on loopback only: the network of the
 * QUIC interop runner's simulator (quic-network-simulator) rebuilt over node:dgram, so that the
 * runner's cases can run quic-peer against itself over real sockets (test/cases).
 *
 *   client --> [front socket] relay [back socket per client] --> server
 *
 * Clients send to `relay.addr`. Each client address gets its own server-facing ("back") socket,
 * as behind a NAT; the server sees the back socket's address. Per direction, in order:
 * 1. the packet's fate is drawn (impair.ts: droplist, drop-rate with a burst limit, corrupt-rate),
 *    seeded, one PRNG per direction, in packet order: the same seed gives the same decisions;
 * 2. blackhole: during an "off" period every packet is dropped (both directions);
 * 3. the bottleneck (bottleneck.ts): bandwidth, drop-tail queue, one-way delay;
 * 4. reordering (`reorder`): a seeded share of the packets leaving the bottleneck is held
 *    `delayMs` longer, so the packets behind it overtake it (the simulator's jitter does this).
 *
 * NAT rebinding (`rebind`): every `everyMs` (first after `firstMs`), each client's back socket is
 * replaced by a new one, on a new port ('port') or on a new address of 127.0.0.0/8 and a new port
 * ('addr'): the server sees the client come from a new address. Packets already in the relay
 * leave through the new socket. The old mapping still carries server -> client packets for
 * `graceMs` (default 5000), then its socket is closed: a NAT keeps a replaced mapping until it
 * times out. The interop runner's check needs this: every PATH_CHALLENGE the server sends must
 * be answered, including the one RFC 9000 §9.3.3 sends on the old path.
 *
 * Loopback only: the relay refuses a server address outside 127.0.0.0/8 and ::1.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Bottleneck, type BottleneckConfig } from './bottleneck.js';
import { Impairer, type Direction, type DirectionImpairment } from './impair.js';
import { SeededRandom } from '../../src/tls/random.js';

export type { Direction, DirectionImpairment } from './impair.js';

export interface RelayOptions {
  /** The server, ip:port or [::1]:port (loopback only). */
  readonly server: string;
  /** Seed of the drop/corrupt decisions (default 1). */
  readonly seed?: number;
  /** Bandwidth, queue and delay of both directions (defaults 10 Mbit/s, 25 packets, 15 ms). */
  readonly link?: Partial<Omit<BottleneckConfig, 'headerBytes'>>;
  readonly toServer?: Partial<DirectionImpairment>;
  readonly toClient?: Partial<DirectionImpairment>;
  /** Alternate `onMs` of normal service and `offMs` of total loss, starting with "on". */
  readonly blackhole?: { readonly onMs: number; readonly offMs: number };
  /**
   * Reordering, both directions: each delivered packet is held `delayMs` more with probability
   * `rate` (its own seeded PRNG per direction, so the drop decisions of a seed do not change).
   */
  readonly reorder?: { readonly rate: number; readonly delayMs: number };
  /** NAT rebinding of every client: a new port, or a new 127.0.0.X address and port. */
  readonly rebind?: { readonly mode: 'port' | 'addr'; readonly firstMs: number; readonly everyMs: number; readonly graceMs?: number };
  /** Sees every packet: on arrival ('in'), when dropped ('drop') and when delivered ('out'). */
  readonly tap?: (e: TapEvent) => void;
}

export type DropReason = 'droplist' | 'rate' | 'blackhole' | 'queue';

export interface TapEvent {
  readonly dir: Direction;
  readonly stage: 'in' | 'drop' | 'out';
  readonly reason?: DropReason;
  /** The payload (after corruption for 'out'); valid during the call only. */
  readonly bytes: Uint8Array;
  /** ms since the relay started. */
  readonly ms: number;
  /** Which client (0, 1, ... in order of first packet). */
  readonly flow: number;
  /** The client's address as the server sees it (the back socket), ip:port. */
  readonly path: string;
}

export interface DirectionCounters {
  /** Packets that reached the relay. */
  received: number;
  /** Packets delivered to the other side. */
  forwarded: number;
  /** Bytes delivered. */
  bytes: number;
  corrupted: number;
  /** Packets held back by `reorder` (delivered after packets that arrived later). */
  reordered: number;
  dropped: Record<DropReason, number>;
}

interface Flow {
  readonly index: number;
  readonly client: { readonly address: string; readonly port: number };
  back: dgram.Socket;
  path: string;
}

interface Item {
  readonly bytes: Uint8Array;
  readonly flow: Flow;
}

export class ImpairingRelay {
  readonly counters: Record<Direction, DirectionCounters> = { toServer: newCounters(), toClient: newCounters() };
  /** Every back address a client was seen from by the server, per flow, in order. */
  readonly paths: string[][] = [];
  /** How many rebinds happened. */
  rebinds = 0;
  private readonly opts: RelayOptions;
  private readonly server: { host: string; port: number; family: 4 | 6 };
  private readonly front: dgram.Socket;
  private readonly flows = new Map<string, Flow>();
  private readonly impairers: Record<Direction, Impairer>;
  private readonly links: Record<Direction, Bottleneck<Item>>;
  private readonly reorderRng: Record<Direction, SeededRandom> | undefined;
  /** Packets held back by `reorder`, still to deliver. */
  private readonly held = new Set<NodeJS.Timeout>();
  private readonly t0 = performance.now();
  private rebindTimer: NodeJS.Timeout | undefined;
  private nextHost = 2;
  /** Replaced back sockets still in their grace period (server -> client only). */
  private readonly retiring = new Set<dgram.Socket>();
  private closed = false;

  private constructor(opts: RelayOptions, server: { host: string; port: number; family: 4 | 6 }, front: dgram.Socket) {
    this.opts = opts;
    this.server = server;
    this.front = front;
    const seed = opts.seed ?? 1;
    this.impairers = { toServer: new Impairer(seed, 'toServer', opts.toServer), toClient: new Impairer(seed, 'toClient', opts.toClient) };
    const link = { ...opts.link, headerBytes: server.family === 4 ? 28 : 48 };
    this.links = {
      toServer: new Bottleneck<Item>(link, (it) => this.leave('toServer', it)),
      toClient: new Bottleneck<Item>(link, (it) => this.leave('toClient', it)),
    };
    front.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    if (opts.reorder) {
      const { rate, delayMs } = opts.reorder;
      if (!(rate >= 0 && rate <= 1 && delayMs >= 0)) throw new RangeError('reorder: rate in [0, 1] and delayMs >= 0');
      this.reorderRng = { toServer: new SeededRandom((seed * 4 + 2) >>> 0), toClient: new SeededRandom((seed * 4 + 3) >>> 0) };
    }
    if (opts.rebind) {
      const { firstMs, everyMs } = opts.rebind;
      if (!(firstMs >= 0 && everyMs > 0)) throw new RangeError('rebind: firstMs >= 0 and everyMs > 0');
      const tick = (delay: number): void => {
        this.rebindTimer = setTimeout(() => {
          this.rebindAll();
          tick(everyMs);
        }, delay);
      };
      tick(firstMs);
    }
  }

  /** Starts a relay in front of `opts.server`. */
  static async start(opts: RelayOptions): Promise<ImpairingRelay> {
    const server = parseLoopback(opts.server);
    if (opts.rebind?.mode === 'addr' && server.family === 6) throw new RangeError('rebind mode addr needs IPv4 (127.0.0.0/8); ::1 is the only IPv6 loopback');
    const front = dgram.createSocket(server.family === 4 ? 'udp4' : 'udp6');
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.bind(0, server.family === 4 ? '127.0.0.1' : '::1', () => {
        front.off('error', reject);
        resolve();
      });
    });
    front.on('error', () => {});
    return new ImpairingRelay(opts, server, front);
  }

  /** Where clients send: ip:port ([::1]:port for IPv6). */
  get addr(): string {
    const a = this.front.address();
    return this.server.family === 4 ? `${a.address}:${a.port}` : `[${a.address}]:${a.port}`;
  }

  /** ms since the relay started. */
  get ms(): number {
    return performance.now() - this.t0;
  }

  /** Whether the blackhole is in an "off" period now. */
  get blackedOut(): boolean {
    const b = this.opts.blackhole;
    if (!b) return false;
    return this.ms % (b.onMs + b.offMs) >= b.onMs;
  }

  /** Replaces every client's server-facing socket now (what the rebind timer does). */
  rebindAll(): void {
    if (this.closed || !this.opts.rebind) return;
    const grace = this.opts.rebind.graceMs ?? 5000;
    for (const f of this.flows.values()) {
      const old = f.back;
      this.bindBack(f, this.opts.rebind.mode === 'addr' ? this.freshHost() : '127.0.0.1');
      this.retiring.add(old);
      const t = setTimeout(() => {
        if (this.retiring.delete(old)) old.close(); // (close() of the relay may have come first)
      }, grace);
      t.unref();
    }
    this.rebinds++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rebindTimer) clearTimeout(this.rebindTimer);
    this.links.toServer.close();
    this.links.toClient.close();
    for (const f of this.flows.values()) f.back.close();
    for (const s of this.retiring) s.close();
    this.retiring.clear();
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
    this.front.close();
  }

  /** Link diagnostics of a direction: idle time of the bottleneck, lateness of deliveries. */
  linkStats(dir: Direction): Bottleneck<Item>['stats'] {
    return this.links[dir].stats;
  }

  /** Counters as a one-line summary (for logs). */
  describe(): string {
    const d = (c: DirectionCounters): string =>
      `${c.forwarded}/${c.received} fwd, ${c.bytes} B, corrupt ${c.corrupted}, reordered ${c.reordered}, drop ${Object.entries(c.dropped)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(' ') || '0'}`;
    return `to server: ${d(this.counters.toServer)}; to client: ${d(this.counters.toClient)}; rebinds ${this.rebinds}`;
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let f = this.flows.get(key);
    if (!f) {
      const index = this.paths.length;
      this.paths.push([]);
      const flow = { index, client: { address: rinfo.address, port: rinfo.port } } as Flow;
      this.bindBack(flow, this.server.family === 4 ? '127.0.0.1' : '::1');
      this.flows.set(key, flow);
      f = flow;
    }
    this.arrive('toServer', new Uint8Array(msg), f);
  }

  private bindBack(f: Flow, host: string): void {
    const s = dgram.createSocket(this.server.family === 4 ? 'udp4' : 'udp6');
    s.on('error', () => {});
    s.on('message', (msg) => {
      // Only the server talks to a back socket. A replaced one still forwards during its grace
      // period; after that it is closed and what the server sends there is lost.
      if (f.back === s || this.retiring.has(s)) this.arrive('toClient', new Uint8Array(msg), f);
    });
    // Sends issued before the bind completes are queued by node:dgram and leave from this socket.
    s.bind(0, host, () => {
      const a = s.address();
      f.path = this.server.family === 4 ? `${a.address}:${a.port}` : `[${a.address}]:${a.port}`;
      this.paths[f.index]?.push(f.path);
    });
    f.back = s;
    f.path = `${host}:?`;
  }

  private freshHost(): string {
    // 127.0.0.2 .. 127.0.0.254 in turn (127.0.0.1 is the first binding).
    const h = `127.0.0.${this.nextHost}`;
    this.nextHost = this.nextHost >= 254 ? 2 : this.nextHost + 1;
    return h;
  }

  private arrive(dir: Direction, bytes: Uint8Array, flow: Flow): void {
    const c = this.counters[dir];
    c.received++;
    this.tap(dir, 'in', bytes, flow);
    const d = this.impairers[dir].next(bytes);
    if (d.fate === 'drop') return this.drop(dir, d.reason, bytes, flow);
    if (this.blackedOut) return this.drop(dir, 'blackhole', bytes, flow);
    if (d.fate === 'corrupt') {
      bytes[d.offset] = (bytes[d.offset] as number) ^ d.xor;
      c.corrupted++;
    }
    if (!this.links[dir].offer({ bytes, flow })) this.drop(dir, 'queue', bytes, flow);
  }

  private drop(dir: Direction, reason: DropReason, bytes: Uint8Array, flow: Flow): void {
    this.counters[dir].dropped[reason]++;
    this.tap(dir, 'drop', bytes, flow, reason);
  }

  /** A packet leaves the bottleneck: delivered now, or held back by `reorder`. */
  private leave(dir: Direction, it: Item): void {
    const r = this.opts.reorder;
    if (r === undefined || this.reorderRng === undefined || !(this.reorderRng[dir].next() < r.rate)) {
      this.deliver(dir, it);
      return;
    }
    this.counters[dir].reordered++;
    const t = setTimeout(() => {
      this.held.delete(t);
      this.deliver(dir, it);
    }, r.delayMs);
    this.held.add(t);
  }

  private deliver(dir: Direction, it: Item): void {
    if (this.closed) return;
    const c = this.counters[dir];
    c.forwarded++;
    c.bytes += it.bytes.length;
    this.tap(dir, 'out', it.bytes, it.flow);
    if (dir === 'toServer') it.flow.back.send(it.bytes, this.server.port, this.server.host);
    else this.front.send(it.bytes, it.flow.client.port, it.flow.client.address);
  }

  private tap(dir: Direction, stage: TapEvent['stage'], bytes: Uint8Array, flow: Flow, reason?: DropReason): void {
    const t = this.opts.tap;
    if (!t) return;
    t(reason === undefined ? { dir, stage, bytes, ms: this.ms, flow: flow.index, path: flow.path } : { dir, stage, reason, bytes, ms: this.ms, flow: flow.index, path: flow.path });
  }
}

function newCounters(): DirectionCounters {
  return { received: 0, forwarded: 0, bytes: 0, corrupted: 0, reordered: 0, dropped: { droplist: 0, rate: 0, blackhole: 0, queue: 0 } };
}

/** ip:port or [v6]:port, which must be loopback. */
export function parseLoopback(addr: string): { host: string; port: number; family: 4 | 6 } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
  if (!m) throw new RangeError(`not an ip:port address: ${addr}`);
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (m[1] !== undefined) {
    if (host !== '::1') throw new RangeError(`the relay is loopback only: ${addr}`);
    return { host, port, family: 6 };
  }
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new RangeError(`the relay is loopback only: ${addr}`);
  return { host, port, family: 4 };
}
