import { Connection, type ConnectionTlsOptions } from '../../src/quic/connection.js';
import type { TransportConfig } from '../../src/quic/config.js';
import type { StreamLimits } from '../../src/quic/streams/stream-types.js';
import type { ConnectionEvent } from '../../src/quic/events.js';
import { tryParsePacketHeader } from '../../src/quic/packet/header.js';
import { SeededRandom } from '../../src/tls/random.js';
import { publicKeyOf } from '../../src/tls/identity.js';
import { Link, type LinkConfig } from './link.js';

/**
 * A client and a server connection joined by two simulated links on a virtual clock (issue #3's
 * deterministic harness). `step()` advances to the next thing that happens (a datagram arriving or
 * a timer firing) and lets both sides transmit; `drive(until)` steps until a condition holds.
 *
 * The server connection is created from the first client Initial, as an endpoint would.
 */
export type TransportOptions = Partial<Omit<TransportConfig, 'streams'>> & { streams?: Partial<StreamLimits> };

export interface PairOptions {
  seed?: number;
  /** Both directions, unless overridden per direction. */
  link?: Partial<LinkConfig>;
  clientToServer?: Partial<LinkConfig>;
  serverToClient?: Partial<LinkConfig>;
  clientTransport?: TransportOptions;
  serverTransport?: TransportOptions;
  alpn?: string;
  serverAlpns?: string[];
  clientTls?: Partial<ConnectionTlsOptions>;
  serverTls?: Partial<ConnectionTlsOptions>;
  /** Datagram buffer size each side transmits into. */
  bufferSize?: number;
}

export class Pair {
  now = 0;
  readonly rng: SeededRandom;
  readonly client: Connection;
  server: Connection | undefined;
  readonly c2s: Link;
  readonly s2c: Link;
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  readonly clientKey: Uint8Array;
  readonly serverKey: Uint8Array;
  private readonly opts: PairOptions;
  private readonly buf: Uint8Array;
  /** Datagram sizes each side sent, in order (for exact-size assertions). */
  readonly clientSent: number[] = [];
  readonly serverSent: number[] = [];

  constructor(opts: PairOptions = {}) {
    this.opts = opts;
    this.rng = new SeededRandom(opts.seed ?? 1);
    this.c2s = new Link({ ...opts.link, ...opts.clientToServer }, new SeededRandom((opts.seed ?? 1) * 7 + 1));
    this.s2c = new Link({ ...opts.link, ...opts.serverToClient }, new SeededRandom((opts.seed ?? 1) * 7 + 2));
    this.buf = new Uint8Array(opts.bufferSize ?? 1500);
    this.clientKey = this.rng.fill(new Uint8Array(32));
    this.serverKey = this.rng.fill(new Uint8Array(32));
    this.client = new Connection(
      {
        role: 'client',
        random: new SeededRandom(this.rng.nextU32()),
        resetToken: resetTokenOf(1),
        tls: {
          secretKey: this.clientKey,
          certificateType: 'rawPublicKey',
          alpnProtocols: [opts.alpn ?? 'test/1'],
          expectedPeerKey: publicKeyOf(this.serverKey),
          ...opts.clientTls,
        },
        ...(opts.clientTransport ? { transport: opts.clientTransport } : {}),
      },
      this.now,
    );
  }

  /** Creates the server connection from the client's first Initial (what the endpoint core does). */
  private acceptFirst(datagram: Uint8Array): void {
    const h = tryParsePacketHeader(datagram, 0, 0);
    if (h.kind !== 'long') return;
    this.server = new Connection(
      {
        role: 'server',
        random: new SeededRandom(this.rng.nextU32()),
        resetToken: resetTokenOf(2),
        initialDcid: h.dcid.slice(),
        clientScid: h.scid.slice(),
        tls: {
          secretKey: this.serverKey,
          certificateType: 'rawPublicKey',
          alpnProtocols: this.opts.serverAlpns ?? [this.opts.alpn ?? 'test/1'],
          ...this.opts.serverTls,
        },
        ...(this.opts.serverTransport ? { transport: this.opts.serverTransport } : {}),
      },
      this.now,
    );
  }

  /** Both sides send everything they can now. */
  flush(): void {
    for (let n = this.client.pollTransmit(this.now, this.buf); n > 0; n = this.client.pollTransmit(this.now, this.buf)) {
      this.clientSent.push(n);
      this.c2s.send(this.now, this.buf.subarray(0, n));
    }
    if (this.server) {
      for (let n = this.server.pollTransmit(this.now, this.buf); n > 0; n = this.server.pollTransmit(this.now, this.buf)) {
        this.serverSent.push(n);
        this.s2c.send(this.now, this.buf.subarray(0, n));
      }
    }
    this.drainEvents();
  }

  /** Advances to the next arrival or timer; returns false when nothing is left to happen. */
  step(): boolean {
    this.flush();
    const next = Math.min(
      this.client.pollTimeout(),
      this.server?.pollTimeout() ?? Infinity,
      this.c2s.nextArrival() ?? Infinity,
      this.s2c.nextArrival() ?? Infinity,
    );
    if (next === Infinity) return false;
    this.now = Math.max(this.now, next);
    for (const d of this.c2s.deliver(this.now)) {
      if (!this.server) this.acceptFirst(d);
      this.server?.handleDatagram(this.now, d);
    }
    for (const d of this.s2c.deliver(this.now)) this.client.handleDatagram(this.now, d);
    if (this.client.pollTimeout() <= this.now) this.client.handleTimeout(this.now);
    if (this.server && this.server.pollTimeout() <= this.now) this.server.handleTimeout(this.now);
    this.flush();
    return true;
  }

  /** Steps until `until()` holds; throws if it does not within `maxMs` of virtual time. */
  drive(until: () => boolean, maxMs = 60_000): void {
    const end = this.now + maxMs;
    while (!until()) {
      if (this.now > end) throw new Error(`condition not reached within ${maxMs} ms of virtual time (now ${this.now.toFixed(1)})`);
      if (!this.step()) throw new Error(`nothing left to happen at ${this.now.toFixed(1)} ms and the condition does not hold`);
    }
  }

  /** Runs both sides until the handshake completed on both. */
  handshake(maxMs = 30_000): void {
    this.drive(() => this.client.isConnected && (this.server?.isConnected ?? false), maxMs);
  }

  private drainEvents(): void {
    for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) this.clientEvents.push(e);
    if (this.server) for (let e = this.server.pollEvent(); e; e = this.server.pollEvent()) this.serverEvents.push(e);
  }
}

/** A deterministic reset-token function (the endpoint's keyed hash, simplified for tests). */
function resetTokenOf(salt: number): (cid: Uint8Array) => Uint8Array {
  return (cid) => {
    const t = new Uint8Array(16);
    for (let i = 0; i < 16; i++) t[i] = (cid[i % Math.max(1, cid.length)] ?? 0) ^ (salt * 31 + i);
    return t;
  };
}
