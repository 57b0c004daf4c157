import dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { EndpointCore, EndpointEvent } from '../quic/endpoint/endpoint-core.js';
import { BufferPool, type PooledBuffer } from '../codec/pool.js';
import { parseSocketAddr } from './addressing.js';
import { isRelayAddress } from './relay-paths.js';
import { HeaderProtectionBatch, HeaderProtectionPrimer } from '../quic/crypto/header-protection.js';
import { HEADER_FORM_BIT } from '../quic/packet/header.js';

/**
 * The UDP driver: the ONLY code that touches node:dgram, timers and the clock (the QUIC and TLS
 * layers below it are sans-IO). It feeds the sans-IO EndpointCore with datagrams and time and
 * carries out what it asks:
 *
 * - every received datagram goes to `core.handleDatagram` (the core copies what it keeps, so the
 *   socket's buffer is not retained), at the turn's flush with the others of its wake-up (or once
 *   32 wait), the masks of their header protection computed first in one AES-ECB call; the
 *   datagrams sent are built in bursts of 32 whose header protection is applied the same way;
 * - output is batched per event-loop turn: inputs only mark the driver dirty, and one `flush` in
 *   the check phase (setImmediate) sends everything, so a burst of received packets is handled
 *   before anything is sent (and ACKs are coalesced); except that when a burst has kept the
 *   driver busy for `flushBudgetMs`, it flushes in the middle of it, so the first answers (say to
 *   32 ClientHellos, each a key agreement and a signature) do not wait for the last one. A flush
 *   costs what it sends (the core polls only connections that were touched);
 * - datagrams are written into pooled buffers, released in the send callback;
 * - one timer, re-armed from `core.pollTimeout()` after every flush;
 * - work that prepares the next handshake (`afterSend`: a key share made ahead) runs after a
 *   flush's datagrams have gone to the kernel, never before them;
 * - a bug surfacing from the core never escapes into Node's event loop: it is counted and
 *   logged once per kind.
 */
export interface DriverOptions {
  /**
   * Socket receive/send buffer sizes requested (the OS may cap them; not asked for under Deno,
   * see socketBufferSizeIsAllocation). Default 4 MiB.
   */
  socketBufferBytes?: number;
  /**
   * Processing time (ms) of received datagrams after which the driver flushes within a burst
   * rather than at the end of the event-loop turn. Default 1; Infinity: only at the end.
   */
  flushBudgetMs?: number;
  /**
   * Size of the pooled datagram buffers: the largest UDP payload the core may write (the
   * endpoint's `maxUdpPayloadSize`). Default and minimum 1500.
   */
  datagramBufferSize?: number;
  /** Called with every endpoint event, in order. */
  onEvent(e: EndpointEvent): void;
  /** Called when a socket or the core fails in a way the driver cannot absorb. */
  onError?(e: Error): void;
  /**
   * Called when the OS refuses a datagram to `address` (EINVAL, ENETUNREACH...): the error comes
   * in the send callback, or is thrown by `send` itself (a port Node rejects).
   */
  onSendError?(address: string, e: Error): void;
  /**
   * Sends a datagram on a relay path (an address `isRelayAddress` recognises): copies `datagram`
   * before returning (its buffer is reused at once). Without it such datagrams are dropped.
   */
  sendRelay?(address: string, datagram: Uint8Array): void;
}

export interface BoundSocket {
  readonly socket: dgram.Socket;
  readonly family: 4 | 6;
  /** The local address, ip:port. */
  readonly address: string;
}

/**
 * The longest timer Node arms (2^31-1 ms; a longer one fires after 1 ms with a warning). A later
 * deadline (a long dial or idle timeout) is reached by re-arming: an early handleTimeout does
 * nothing that is not due.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Smallest datagram buffer: covers the default maximum UDP payload (1452) and every Initial. */
const MIN_BUFFER_SIZE = 1500;
/**
 * Bytes of datagram buffers the pool may hold: 2048 buffers of 1500 bytes. Jumbo buffers (up to
 * 64 KiB on loopback) are fewer within the same memory, but never fewer than `MIN_BUFFERS`.
 */
const POOL_BYTES = 2048 * MIN_BUFFER_SIZE;
/** At least this many buffers: 64 jumbo datagrams fill a 4 MiB socket buffer. */
const MIN_BUFFERS = 64;
/**
 * Datagrams built before they are sent (`transmit`): their header protection costs one AES-ECB
 * call per burst. A flush of a bulk transfer sends ~30-60; interactive traffic one or two.
 */
const BURST = 32;
/** Datagrams received before the core gets them together (`receive`): libuv's reads per wake-up. */
const RECV_BURST = 32;

export class UdpDriver {
  readonly core: EndpointCore;
  readonly sockets: readonly BoundSocket[];
  private readonly opts: DriverOptions;
  private readonly pool: BufferPool;
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private scheduled = false;
  /** When the datagrams since the last flush began to be processed (NaN: none since). */
  private busySince = Number.NaN;
  private readonly flushBudgetMs: number;
  private closed = false;
  /**
   * With several sockets of one family (say 127.0.0.1 and 127.0.0.2): the socket each remote
   * address was last heard on, so what we send it leaves from the address it talks to (a peer
   * hears its answers, a NAT traversal probe's PATH_RESPONSE included, from the address it sent
   * to). Bounded like `addrCache`. A remote that talks to two of our sockets at once is answered
   * from the last one: the connection knows paths by the peer's address only, not by ours.
   */
  private readonly heardOn = new Map<string, BoundSocket>();
  /** Whether some family has more than one socket (else `heardOn` stays empty). */
  private readonly manySockets: boolean;
  /** Parsed remote addresses, so the send path does not re-parse a string per packet. */
  private readonly addrCache = new Map<string, { host: string; port: number; family: 4 | 6 }>();
  /** Counters for stats and tests. */
  readonly counters = { received: 0, sent: 0, sendErrors: 0, poolExhausted: 0, coreErrors: 0, burstFlushes: 0 };
  private readonly onSent = (buf: PooledBuffer, err: Error | null, address: string): void => {
    buf.release();
    if (err) {
      this.counters.sendErrors++;
      this.opts.onSendError?.(address, err);
    }
    if (this.poolWaiting) {
      this.poolWaiting = false;
      this.schedule();
    }
  };
  private poolWaiting = false;
  /** Work for after the next send (`afterSend`). */
  private afterSendQueue: (() => void)[] = [];
  /** Datagrams received and not yet handed to the core (`receive`), with their sources. */
  private inData: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(RECV_BURST).fill(undefined);
  private inFrom: string[] = new Array<string>(RECV_BURST).fill('');
  private inCount = 0;
  /** The queue `handleReceived` works through while `inData` takes new arrivals. */
  private spareData: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(RECV_BURST).fill(undefined);
  private spareFrom: string[] = new Array<string>(RECV_BURST).fill('');
  private handling = false;
  private readonly primer = new HeaderProtectionPrimer(RECV_BURST);
  /** The burst being built (`transmit`): its datagrams, their header protection. */
  private readonly burst: (PooledBuffer | undefined)[] = new Array<PooledBuffer | undefined>(BURST).fill(undefined);
  private burstLength = 0;
  private readonly headerProtection = new HeaderProtectionBatch(BURST);
  /**
   * The source of the last datagram received, as node:dgram gave it and as "ip:port": a busy
   * connection's datagrams come from one address, which then costs no string per datagram, and the
   * core's comparisons with the path's address meet the same string.
   */
  private lastFrom = '';
  private lastFromHost = '';
  private lastFromPort = -1;
  /** The first socket of each family (what a datagram to that family leaves from). */
  private readonly socket4: BoundSocket | undefined;
  private readonly socket6: BoundSocket | undefined;

  constructor(core: EndpointCore, sockets: BoundSocket[], opts: DriverOptions) {
    this.core = core;
    this.sockets = sockets;
    this.socket4 = sockets.find((s) => s.family === 4);
    this.socket6 = sockets.find((s) => s.family === 6);
    this.opts = opts;
    this.flushBudgetMs = opts.flushBudgetMs ?? 1;
    this.manySockets = sockets.some((s, i) => sockets.findIndex((o) => o.family === s.family) !== i);
    // One buffer per datagram in flight to the kernel, of the largest size the core may write:
    // jumbo datagrams take no allocation per packet either (a 64 KiB slab holds one).
    const bufferSize = Math.max(MIN_BUFFER_SIZE, opts.datagramBufferSize ?? 0);
    const maxBuffers = Math.max(MIN_BUFFERS, Math.floor(POOL_BYTES / bufferSize));
    this.pool = new BufferPool({ bufferSize, maxBuffers, slabBuffers: Math.max(1, Math.floor((64 * MIN_BUFFER_SIZE) / bufferSize)) });
    for (const s of sockets) {
      const size = opts.socketBufferBytes ?? 4 * 1024 * 1024;
      try {
        if (!socketBufferSizeIsAllocation()) {
          s.socket.setRecvBufferSize(size);
          s.socket.setSendBufferSize(size);
        }
      } catch {
        // Some platforms refuse large buffers; the defaults still work, only bursts may drop.
      }
      s.socket.on('message', (msg, rinfo) => this.onMessage(s, msg, rinfo));
      s.socket.on('error', (err) => this.opts.onError?.(err));
    }
  }

  /** Milliseconds since the driver started: the clock handed to the core. */
  now(): number {
    return performance.now() - this.t0;
  }

  /** Something changed (a command was issued): flush at the end of this event-loop turn. */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Stops timers and closes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // Datagrams still waiting for the turn's flush arrived after the end, as far as the core knows.
    this.inData.fill(undefined, 0, this.inCount);
    this.inCount = 0;
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve()))));
  }

  private onMessage(socket: BoundSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let address = this.lastFrom;
    if (rinfo.port !== this.lastFromPort || rinfo.address !== this.lastFromHost) {
      address = rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`;
      this.lastFrom = address;
      this.lastFromHost = rinfo.address;
      this.lastFromPort = rinfo.port;
    }
    if (this.manySockets && this.heardOn.get(address) !== socket) {
      if (this.heardOn.size > 4096) this.heardOn.clear();
      this.heardOn.set(address, socket);
    }
    this.receive(address, new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
  }

  /**
   * A datagram arrived from `address`: a socket's, or one a relay path carried. A short header
   * (1-RTT) waits for the turn's flush with the others of its wake-up (libuv reads up to 32 per
   * wake-up, node:dgram calls here for each), or until `RECV_BURST` wait: then the core gets them
   * together (`handleReceived`). A long header (a handshake) goes to the core at once, after those
   * waiting: while a handshake flight is processed, the rest of it arrives and is read in the same
   * wake-up, so the answer covers it all (deferred to the flush, each datagram of a flight was
   * answered on its own: ~0.2 more datagrams and ~0.1 ms more per handshake on loopback).
   */
  receive(address: string, datagram: Uint8Array): void {
    if (this.closed) return;
    this.counters.received++;
    const k = this.inCount++;
    this.inFrom[k] = address;
    this.inData[k] = datagram;
    if (this.inCount >= RECV_BURST || (datagram.length > 0 && (datagram[0]! & HEADER_FORM_BIT) !== 0)) this.handleReceived();
    this.schedule();
  }

  /**
   * Hands the waiting datagrams to the core, the masks of their short headers computed first with
   * one AES-ECB call per burst (HeaderProtectionPrimer: one call into node:crypto and one
   * ArrayBuffer per burst instead of per packet). A burst that keeps the driver busy for
   * `flushBudgetMs` flushes in its middle (`send`). Not reentrant: what arrives meanwhile (an
   * event handler's doing) waits in the other queue and is handled in the same call.
   */
  private handleReceived(): void {
    if (this.handling) return;
    this.handling = true;
    const primer = this.primer;
    try {
      while (this.inCount > 0) {
        const n = this.inCount;
        const data = this.inData;
        const from = this.inFrom;
        this.inData = this.spareData;
        this.inFrom = this.spareFrom;
        this.spareData = data;
        this.spareFrom = from;
        this.inCount = 0;
        if (Number.isNaN(this.busySince)) this.busySince = this.now();
        try {
          try {
            for (let i = 0; i < n; i++) this.core.primeHeaderProtection(primer, data[i]!);
            primer.compute();
          } catch (e) {
            // Priming only saves work: the datagrams are handled all the same.
            this.coreError(e);
          }
          for (let i = 0; i < n; i++) {
            // An event handler of a mid-burst flush may have closed the driver.
            if (this.closed) break;
            const datagram = data[i]!;
            data[i] = undefined;
            try {
              this.core.handleDatagram(this.now(), from[i]!, datagram);
            } catch (e) {
              this.coreError(e);
            }
            if (this.now() - this.busySince >= this.flushBudgetMs) {
              // A long burst: send what is ready now (the flush scheduled for the turn's end still runs).
              this.counters.burstFlushes++;
              this.send();
              this.busySince = this.now();
            }
          }
        } finally {
          primer.clear();
          data.fill(undefined, 0, n);
        }
      }
    } finally {
      this.handling = false;
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.flushNow();
  };

  private flushNow(): void {
    if (this.closed) return;
    this.handleReceived();
    this.send();
  }

  /**
   * Sends what is ready, hands the core's events to the owner, re-arms the timer, and runs the
   * work queued for after a send (`afterSend`).
   */
  private send(): void {
    this.busySince = Number.NaN;
    if (this.closed) return;
    const now = this.now();
    try {
      this.transmit(now);
      for (let e = this.core.pollEvent(); e; e = this.core.pollEvent()) this.opts.onEvent(e);
      // Event handlers may have issued commands: send what they produced in this same turn.
      this.transmit(now);
    } catch (e) {
      this.coreError(e);
    }
    this.arm(now);
    this.runAfterSend();
  }

  /**
   * Runs `work` once, after the datagrams of the next flush have gone to the kernel: work that
   * prepares the next handshake (a key pair made ahead) without delaying the current one's answer.
   */
  afterSend(work: () => void): void {
    this.afterSendQueue.push(work);
    this.schedule();
  }

  private runAfterSend(): void {
    const q = this.afterSendQueue;
    if (q.length === 0) return;
    this.afterSendQueue = [];
    for (const work of q) {
      try {
        work();
      } catch (e) {
        this.coreError(e);
      }
    }
  }

  /**
   * Sends what the core has, in bursts of up to `BURST` datagrams: a burst's datagrams are built
   * first with their header protection recorded in one batch, the batch applied (one AES-ECB call
   * for the burst instead of one per packet: `HeaderProtectionBatch`), then the burst is sent.
   */
  private transmit(now: number): void {
    for (;;) {
      let full = false;
      try {
        full = this.build(now);
      } finally {
        // After a throw too: what was built leaves protected (the error goes on to the caller).
        this.headerProtection.apply();
        this.sendBurst();
      }
      if (!full) return;
    }
  }

  /** Fills the burst from the core; true when it stopped only because the burst is full. */
  private build(now: number): boolean {
    while (this.burstLength < BURST) {
      const buf = this.pool.acquire();
      if (!buf) {
        // Every buffer is in the kernel's hands: resume when a send callback returns one.
        this.counters.poolExhausted++;
        this.poolWaiting = true;
        return false;
      }
      const t = this.core.pollTransmit(now, buf.bytes, this.headerProtection);
      if (t === null) {
        buf.release();
        return false;
      }
      buf.length = t.length;
      buf.note = t.address;
      this.burst[this.burstLength++] = buf;
    }
    return true;
  }

  private sendBurst(): void {
    const n = this.burstLength;
    this.burstLength = 0;
    for (let i = 0; i < n; i++) {
      const buf = this.burst[i]!;
      this.burst[i] = undefined;
      this.sendDatagram(buf);
    }
  }

  /** Sends the datagram `buf` holds (`buf.length` bytes to `buf.note`); the buffer goes back when done. */
  private sendDatagram(buf: PooledBuffer): void {
    const address = buf.note;
    this.counters.sent++;
    if (isRelayAddress(address)) {
      this.opts.sendRelay?.(address, buf.bytes.subarray(0, buf.length));
      buf.release();
      return;
    }
    const to = this.resolve(address);
    const sock = (this.manySockets ? this.heardOn.get(address) : undefined) ?? (to.family === 4 ? this.socket4 : this.socket6) ?? this.sockets[0]!;
    try {
      // The completion is bound once per pooled buffer: a send allocates no closure. The datagram
      // goes as a view of exactly its length, kept with the buffer while the lengths repeat (a
      // transfer's full packets): with an offset and length node:dgram makes a Buffer per send.
      let head = buf.head;
      if (head === undefined || head.length !== buf.length) head = buf.head = buf.bytes.subarray(0, buf.length);
      sock.socket.send(head, to.port, to.host, buf.done ?? this.bindDone(buf));
    } catch (e) {
      // Thrown before anything was queued (Node validates the port itself): no callback comes.
      this.onSent(buf, e instanceof Error ? e : new Error(String(e)), address);
    }
  }

  /** The send completion of `buf`, made on its first send and kept with it. */
  private bindDone(buf: PooledBuffer): (err: Error | null) => void {
    const done = (err: Error | null): void => this.onSent(buf, err, buf.note);
    buf.done = done;
    return done;
  }

  private arm(now: number): void {
    const at = this.core.pollTimeout();
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      if (this.closed) return;
      // What arrived before the deadline counts first (an ACK that makes a PTO moot).
      this.handleReceived();
      try {
        this.core.handleTimeout(this.now());
      } catch (e) {
        this.coreError(e);
      }
      this.flush();
    }, Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - now))));
  }

  private resolve(address: string): { host: string; port: number; family: 4 | 6 } {
    let a = this.addrCache.get(address);
    if (!a) {
      a = parseSocketAddr(address);
      if (this.addrCache.size > 4096) this.addrCache.clear();
      this.addrCache.set(address, a);
    }
    return a;
  }

  private coreError(e: unknown): void {
    this.counters.coreErrors++;
    this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
  }
}

/**
 * Whether `setRecvBufferSize` means something other than SO_RCVBUF here: under Deno (2.x), whose
 * node:dgram keeps the number without passing it to the kernel and allocates a receive buffer
 * of that size (twice it on Linux) for every datagram it reads. 4 MiB there meant 8 MiB zeroed
 * per datagram: ~2,000 datagrams/s at full CPU, and the demo at 6 Mbit/s with 1-2% loss. Without
 * the call Deno reads into 64 KiB buffers and the socket keeps the kernel's default buffer
 * (net.core.rmem_default), which Deno offers no way to raise. Bun and Node set the real option.
 */
function socketBufferSizeIsAllocation(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno === 'object';
}

/**
 * The sockets' name lookup: node:dgram resolves the destination of every `send` through it, and
 * the default (`dns.lookup`) answers even an IP literal in a `process.nextTick` after checking it:
 * one tick per datagram sent on the bulk path (the driver only ever sends to IP literals, parsed
 * once per address in `resolve`). An IP literal is answered synchronously here, which node:dgram
 * supports (a connected socket's send takes the same path); anything else goes to `dns.lookup`.
 */
function ipLiteralLookup(hostname: string, options: number | LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}

/** Binds a UDP socket on `address` (ip:port; port 0 = any). */
export async function bindSocket(address: string): Promise<BoundSocket> {
  const a = parseSocketAddr(address);
  const socket = dgram.createSocket(a.family === 6 ? { type: 'udp6', ipv6Only: true, lookup: ipLiteralLookup } : { type: 'udp4', lookup: ipLiteralLookup });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(a.port, a.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const local = socket.address();
  return { socket, family: a.family, address: a.family === 6 ? `[${local.address}]:${local.port}` : `${local.address}:${local.port}` };
}
