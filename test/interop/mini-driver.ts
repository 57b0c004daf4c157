import dgram from 'node:dgram';
import { Connection, type ConnectionOptions } from '../../src/quic/connection.js';
import type { ConnectionEvent } from '../../src/quic/events.js';
import { tryParsePacketHeader } from '../../src/quic/packet/header.js';

async function bindSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

/**
 * A deliberately small UDP driver for ONE connection, for the early interop probes against iroh
 * (before the real Endpoint/driver of src/session exists): a socket, one re-armed timer, and the
 * sans-IO loop (handle -> pollTransmit until 0 -> pollTimeout -> pollEvent). As a server it
 * creates its connection from the first Initial it receives, as an endpoint would.
 */
export class MiniPeer {
  private connection: Connection | undefined;
  readonly events: ConnectionEvent[] = [];
  private readonly socket: dgram.Socket;
  private remotePort = 0;
  private remoteHost = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();
  private readonly buf = new Uint8Array(1500);
  private waiters: Array<() => void> = [];
  /** Application code run at the start of every loop turn (writes, reads). */
  onTurn: (() => void) | undefined;

  /** A client connection to `remote` (ip:port). */
  static async connect(options: ConnectionOptions, remote: string): Promise<MiniPeer> {
    const peer = new MiniPeer(await bindSocket());
    const i = remote.lastIndexOf(':');
    peer.remoteHost = remote.slice(0, i);
    peer.remotePort = Number(remote.slice(i + 1));
    peer.connection = new Connection(options, peer.now());
    peer.service();
    return peer;
  }

  /** A server that accepts the first client; `options` builds its connection from that Initial. */
  static async listen(options: (initialDcid: Uint8Array, clientScid: Uint8Array) => ConnectionOptions): Promise<MiniPeer> {
    const peer = new MiniPeer(await bindSocket());
    peer.accept = options;
    return peer;
  }

  private accept: ((initialDcid: Uint8Array, clientScid: Uint8Array) => ConnectionOptions) | undefined;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
      if (!this.connection) {
        const h = tryParsePacketHeader(bytes, 0, 0);
        if (h.kind !== 'long' || !this.accept) return;
        this.remoteHost = rinfo.address;
        this.remotePort = rinfo.port;
        this.connection = new Connection(this.accept(h.dcid.slice(), h.scid.slice()), this.now());
      }
      this.connection.handleDatagram(this.now(), bytes);
      this.service();
    });
  }

  /** The local address, ip:port. */
  get address(): string {
    const a = this.socket.address();
    return `${a.address}:${a.port}`;
  }

  get hasConnection(): boolean {
    return this.connection !== undefined;
  }

  get conn(): Connection {
    if (!this.connection) throw new Error('no connection yet');
    return this.connection;
  }

  now(): number {
    return performance.now() - this.t0;
  }

  /** Runs the sans-IO loop after any input. */
  service(): void {
    if (!this.connection) return;
    this.onTurn?.();
    const now = this.now();
    for (let n = this.conn.pollTransmit(now, this.buf); n > 0; n = this.conn.pollTransmit(now, this.buf)) {
      this.socket.send(Buffer.from(this.buf.subarray(0, n)), this.remotePort, this.remoteHost);
    }
    for (let e = this.conn.pollEvent(); e; e = this.conn.pollEvent()) this.events.push(e);
    if (this.timer) clearTimeout(this.timer);
    const at = this.conn.pollTimeout();
    if (Number.isFinite(at)) {
      this.timer = setTimeout(() => {
        this.conn.handleTimeout(this.now());
        this.service();
      }, Math.max(0, at - now));
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `cond()` holds (checked after every loop turn), or rejects after `ms`. */
  until(cond: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; events: ${JSON.stringify(this.events.map((e) => e.type))}`)), ms);
      const check = (): void => {
        if (cond()) {
          clearTimeout(deadline);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.socket.close();
  }
}
