import { Connection, type ConnectionTlsOptions } from '../../src/quic/connection/connection.js';
import type { TransportConfig } from '../../src/quic/transport-config.js';
import type { StreamLimits } from '../../src/quic/streams/stream-types.js';
import type { ConnectionEvent } from '../../src/quic/events.js';
import type { QlogSink } from '../../src/quic/connection/qlog.js';
import { HeaderProtectionBatch } from '../../src/quic/crypto/header-protection.js';
import { tryParsePacketHeader } from '../../src/quic/packet/header.js';
import { encodeRetry } from '../../src/quic/packet/retry.js';
import { QUIC_VERSION_1 } from '../../src/quic/packet/version.js';
import { bytesEqual } from '../../src/codec/bytes.js';
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
  /**
   * Answer the client's first Initial with a Retry (what an endpoint validating addresses does,
   * RFC 9000 §8.1.2) and create the server from the Initial that carries the token.
   */
  retry?: boolean;
  /** Keep a copy of every datagram sent (`trace`), for tests that inspect the wire. */
  trace?: boolean;
  /** qlog sinks attached to each connection from its creation. */
  clientQlog?: QlogSink;
  serverQlog?: QlogSink;
  /**
   * Each side's header protection goes to a HeaderProtectionBatch applied after each datagram
   * (what the UDP driver does per burst), instead of at each packet's sealing.
   */
  batchHeaderProtection?: boolean;
}

export type Side = 'client' | 'server';

/** One datagram as a side handed it to its link (a copy, when `trace` is on). */
export interface TracedDatagram {
  readonly from: Side;
  readonly at: number;
  readonly bytes: Uint8Array;
  /** The client's end of it: the client's source address, or the server's destination. */
  readonly clientAddress: string;
}

/** The server's address (the client only hears this one, RFC 9000 §9). */
export const SERVER_ADDRESS = '192.0.2.1:443';

/**
 * Steps in a row at the same virtual time in which nothing was sent or delivered before the Pair
 * declares a livelock (a timer that keeps firing at `now` without effect).
 */
const MAX_STALLED_STEPS = 64;

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
  /** Every datagram sent, in order, when `trace` is on. */
  readonly trace: TracedDatagram[] = [];
  /** Bytes each side's connection was handed by its link (what its anti-amplification counts). */
  bytesDeliveredToClient = 0;
  bytesDeliveredToServer = 0;
  /** Called for every datagram a side sends, before the link sees it (assertions per datagram). */
  onSend: ((from: Side, bytes: Uint8Array, now: number) => void) | undefined;
  /** Called for every datagram delivered to a side, before its connection sees it. */
  onDeliver: ((to: Side, bytes: Uint8Array, now: number) => void) | undefined;
  /** With `retry`: the Retry sent (its SCID and token) and the client's first DCID. */
  retrySent: { readonly odcid: Uint8Array; readonly scid: Uint8Array; readonly token: Uint8Array } | undefined;
  private stalledSteps = 0;
  private activity = 0;
  /**
   * The client's address as the server sees it. A NAT rebinding changes it (`rebindClient`): the
   * client's datagrams are sent from the new one (those in flight keep the old one).
   */
  clientAddress = '192.0.2.2:5000';
  /** Client addresses at which server datagrams still reach the client (live NAT mappings). */
  readonly clientReachable = new Set<string>([this.clientAddress]);
  /** Server datagrams to a client address that no longer reaches it. */
  serverDatagramsUnreachable = 0;

  /** `batchHeaderProtection`'s batch. */
  private readonly hp: HeaderProtectionBatch | null;

  constructor(opts: PairOptions = {}) {
    this.opts = opts;
    this.hp = opts.batchHeaderProtection ? new HeaderProtectionBatch() : null;
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
        ...(opts.clientQlog ? { qlog: opts.clientQlog } : {}),
      },
      this.now,
    );
  }

  /** Creates the server connection from the client's first Initial (what the endpoint core does). */
  private acceptFirst(datagram: Uint8Array): void {
    const h = tryParsePacketHeader(datagram, 0, 0);
    if (h.kind !== 'long') return;
    let retry: { originalDcid: Uint8Array; retryScid: Uint8Array } | undefined;
    if (this.opts.retry) {
      if (!this.retrySent) {
        const scid = this.rng.fill(new Uint8Array(8));
        const token = this.rng.fill(new Uint8Array(24));
        this.retrySent = { odcid: h.dcid.slice(), scid, token };
        this.emit('server', encodeRetry({ version: QUIC_VERSION_1, dcid: h.scid, scid, token }, h.dcid));
        return;
      }
      // Only an Initial echoing our token, sent to the Retry's SCID, creates the connection.
      if (!bytesEqual(h.token, this.retrySent.token) || !bytesEqual(h.dcid, this.retrySent.scid)) return;
      retry = { originalDcid: this.retrySent.odcid, retryScid: this.retrySent.scid };
    }
    this.server = new Connection(
      {
        role: 'server',
        random: new SeededRandom(this.rng.nextU32()),
        resetToken: resetTokenOf(2),
        initialDcid: h.dcid.slice(),
        clientScid: h.scid.slice(),
        ...(retry ? { retry, addressValidated: true } : {}),
        tls: {
          secretKey: this.serverKey,
          certificateType: 'rawPublicKey',
          alpnProtocols: this.opts.serverAlpns ?? [this.opts.alpn ?? 'test/1'],
          ...this.opts.serverTls,
        },
        ...(this.opts.serverTransport ? { transport: this.opts.serverTransport } : {}),
        ...(this.opts.serverQlog ? { qlog: this.opts.serverQlog } : {}),
      },
      this.now,
    );
  }

  /**
   * NAT rebinding of the client (RFC 9000 §9): its next datagrams come from `address`; with
   * `keepOld` false, the old mapping dies and server datagrams sent to it are lost.
   */
  rebindClient(address: string, keepOld = true): void {
    if (!keepOld) this.clientReachable.delete(this.clientAddress);
    this.clientAddress = address;
    this.clientReachable.add(address);
  }

  /** The connection of `side` (the server once created). */
  conn(side: Side): Connection | undefined {
    return side === 'client' ? this.client : this.server;
  }

  /** The link `side` sends on. */
  linkFrom(side: Side): Link {
    return side === 'client' ? this.c2s : this.s2c;
  }

  /** Both sides send everything they can now. */
  flush(): void {
    const hp = this.hp;
    const poll = (c: Connection): number => {
      const n = c.pollTransmit(this.now, this.buf, hp);
      hp?.apply();
      return n;
    };
    for (let n = poll(this.client); n > 0; n = poll(this.client)) {
      this.clientSent.push(n);
      this.emit('client', this.buf.subarray(0, n));
    }
    if (this.server) {
      for (let n = poll(this.server); n > 0; n = poll(this.server)) {
        this.serverSent.push(n);
        this.emit('server', this.buf.subarray(0, n), this.server.transmitAddress);
      }
    }
    this.drainEvents();
  }

  /**
   * Hands a datagram of `from` to its link (also used by tests that inject packets). A server
   * datagram goes to `to` (default the client's current address) and is lost when no mapping
   * reaches the client there.
   */
  emit(from: Side, bytes: Uint8Array, to?: string): void {
    this.activity++;
    this.onSend?.(from, bytes, this.now);
    const clientAddress = from === 'client' ? this.clientAddress : (to ?? this.clientAddress);
    if (this.opts.trace) this.trace.push({ from, at: this.now, bytes: bytes.slice(), clientAddress });
    if (from === 'server' && !this.clientReachable.has(clientAddress)) {
      this.serverDatagramsUnreachable++;
      return;
    }
    this.linkFrom(from).send(this.now, bytes, from === 'client' ? clientAddress : SERVER_ADDRESS);
  }

  /**
   * Advances to the next arrival or timer, but not past `limit`; returns false when nothing is
   * left to happen before it.
   */
  step(limit = Infinity): boolean {
    this.flush();
    const next = Math.min(
      this.client.pollTimeout(),
      this.server?.pollTimeout() ?? Infinity,
      this.c2s.nextArrival() ?? Infinity,
      this.s2c.nextArrival() ?? Infinity,
    );
    if (next > limit) {
      this.now = Math.max(this.now, limit);
      return false;
    }
    if (next === Infinity) return false;
    const before = this.activity;
    const advanced = next > this.now;
    this.now = Math.max(this.now, next);
    for (const { bytes: d, from } of this.c2s.deliverFrom(this.now)) {
      this.activity++;
      this.bytesDeliveredToServer += d.length;
      this.onDeliver?.('server', d, this.now);
      if (!this.server) this.acceptFirst(d);
      this.server?.handleDatagram(this.now, d, from);
    }
    for (const { bytes: d, from } of this.s2c.deliverFrom(this.now)) {
      this.activity++;
      this.bytesDeliveredToClient += d.length;
      this.onDeliver?.('client', d, this.now);
      this.client.handleDatagram(this.now, d, from);
    }
    if (this.client.pollTimeout() <= this.now) this.client.handleTimeout(this.now);
    if (this.server && this.server.pollTimeout() <= this.now) this.server.handleTimeout(this.now);
    this.flush();
    // A sans-IO connection must make progress: a timer at or before `now` that neither sends nor
    // changes the next deadline would spin a driver forever. Fail the test instead of hanging it.
    if (advanced || this.activity !== before) {
      this.stalledSteps = 0;
    } else if (++this.stalledSteps > MAX_STALLED_STEPS) {
      throw new Error(
        `livelock at ${this.now} ms: ${MAX_STALLED_STEPS} steps without time advancing or a datagram moving ` +
          `(client timeout ${this.client.pollTimeout()}, server timeout ${this.server?.pollTimeout()})`,
      );
    }
    return true;
  }

  /** Lets `ms` of virtual time pass, handling everything that happens meanwhile. */
  runFor(ms: number): void {
    const end = this.now + ms;
    while (this.step(end));
  }

  /** Runs until both sides are terminated (or `maxMs` of virtual time passed: throws). */
  driveToTermination(maxMs = 60_000): void {
    this.drive(() => this.client.isTerminated && (this.server?.isTerminated ?? true), maxMs);
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
