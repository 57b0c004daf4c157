/**
 * Inside a scenario: a real iroh endpoint remote-controlled over its stdin/stdout
 * (`iroh-node.cjs rpc`), so a scenario script can drive both sides of a connection step by step:
 * quic-peer in-process, iroh in a child process of the same loopback-only namespace.
 *
 *     const iroh = await IrohRpc.start(['--alpn', 'x/1']);
 *     const c = await iroh.connect(ourId, ['127.0.0.1:PORT'], 'x/1');   // or iroh.accept()
 *     const s = await iroh.openBi(c.conn); await iroh.write(s, data); await iroh.finish(s);
 *     const echo = await iroh.read(s);                                   // { len, sha256, b64 }
 *
 * Every call is one JSON request line; answers are matched by id, so calls may overlap. A failed
 * op rejects with iroh's error text (its anyhow chain, e.g. `Read(Reset(VarInt(7)))`).
 */
import { createHash } from 'node:crypto';
import type { IrohEvent, IrohNodeProcess, IrohReady } from './iroh.js';
import { startIrohNode } from './iroh.js';

/** An established iroh connection, as the rpc node reports it. */
export interface IrohConn {
  conn: number;
  /** The peer's endpoint id (64 hex chars) as iroh verified it. */
  remoteId: string;
  alpn: string;
  from?: string | null;
  connectMs?: number;
}

/** What a `read` (to the end of a stream) returned. */
export interface IrohRead {
  len: number;
  sha256: string;
  /** The bytes (absent above 1 MiB). */
  b64?: string;
}

/** One path of an iroh connection (noq's PathStats, flattened by the binding). */
export interface IrohPath {
  id: string;
  isSelected: boolean;
  remoteAddr: string;
  isIp: boolean;
  rttMs: number;
  stats: { rttMs: number; currentMtu: number; udpTxDatagrams: number; udpRxDatagrams: number; lostPackets: number; cwnd: number };
}

export interface IrohInfo {
  maxDatagramSize: number | null;
  stats: { udpTxDatagrams: number; udpTxBytes: number; udpRxDatagrams: number; udpRxBytes: number; lostPackets: number; lostBytes: number };
  paths: IrohPath[];
  rtt: number | null;
  closeReason: string | null;
}

/** The error of a failed op: iroh's message. */
export class IrohRpcError extends Error {
  override readonly name = 'IrohRpcError';
  readonly op: string;
  constructor(op: string, message: string) {
    super(`iroh ${op}: ${message}`);
    this.op = op;
  }
}

export class IrohRpc {
  readonly node: IrohNodeProcess;
  readonly ready: IrohReady;
  private nextId = 1;

  private constructor(node: IrohNodeProcess, ready: IrohReady) {
    this.node = node;
    this.ready = ready;
  }

  /** Starts `iroh-node.cjs rpc ARGS` (e.g. ['--alpn', 'x/1']) and waits for its ready line. */
  static async start(args: readonly string[] = []): Promise<IrohRpc> {
    const node = startIrohNode(['rpc', '--bind', '127.0.0.1:0', '--timeout-ms', '120000', ...args]);
    return new IrohRpc(node, await node.ready);
  }

  /** iroh's id (64 hex chars). */
  get id(): string {
    return this.ready.id;
  }

  /** iroh's IPv4 loopback address (ip:port). */
  get addr(): string {
    const a = this.ready.addrs.find((x) => x.startsWith('127.0.0.1:'));
    if (a === undefined) throw new Error(`iroh has no 127.0.0.1 address: ${this.ready.addrs.join(', ')}`);
    return a;
  }

  get ticket(): string {
    return this.ready.ticket;
  }

  /** Every non-answer line the node printed ('ready', 'bi', 'error', 'closed'...). */
  get events(): IrohEvent[] {
    return this.node.events.filter((e) => e['re'] === undefined);
  }

  /** Sends one request and resolves with its answer (rejects with IrohRpcError on failure). */
  async call<T = Record<string, unknown>>(op: string, params: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    const id = this.nextId++;
    const answer = this.node.waitFor((e) => e['re'] === id, timeoutMs);
    this.node.child.stdin.write(`${JSON.stringify({ id, op, ...params })}\n`);
    const a = await answer.catch((e: Error) => {
      throw new IrohRpcError(op, e.message);
    });
    if (a['ok'] !== true) throw new IrohRpcError(op, String(a['error']));
    return a as unknown as T;
  }

  connect(nodeId: string, addrs: readonly string[], alpn: string): Promise<IrohConn> {
    return this.call<IrohConn>('connect', { nodeId, addrs, alpn });
  }

  /** The next incoming connection (rejects with iroh's handshake error, e.g. `crypto(78)`). */
  accept(timeoutMs = 15_000): Promise<IrohConn> {
    return this.call<IrohConn>('accept', {}, timeoutMs);
  }

  /**
   * Serve `conn` as an echo node: bidi streams, uni streams (back on a new one), and datagrams
   * unless `datagrams` is false (then `readDatagram` gets them).
   */
  async echo(conn: number, datagrams = true): Promise<void> {
    await this.call('echo', { conn, datagrams });
  }

  async openBi(conn: number): Promise<number> {
    return (await this.call<{ stream: number }>('openBi', { conn })).stream;
  }

  async acceptBi(conn: number): Promise<number> {
    return (await this.call<{ stream: number }>('acceptBi', { conn })).stream;
  }

  async openUni(conn: number): Promise<number> {
    return (await this.call<{ stream: number }>('openUni', { conn })).stream;
  }

  async acceptUni(conn: number): Promise<number> {
    return (await this.call<{ stream: number }>('acceptUni', { conn })).stream;
  }

  async write(stream: number, data: Uint8Array): Promise<void> {
    await this.call('write', { stream, b64: Buffer.from(data).toString('base64') }, 60_000);
  }

  async finish(stream: number): Promise<void> {
    await this.call('finish', { stream });
  }

  async reset(stream: number, code: number): Promise<void> {
    await this.call('reset', { stream, code });
  }

  /** Stops the receive side (STOP_SENDING with `code`). */
  async stop(stream: number, code: number): Promise<void> {
    await this.call('stop', { stream, code });
  }

  /** Resolves with the peer's STOP_SENDING code once it arrives (null: the stream finished). */
  async stopped(stream: number): Promise<number | null> {
    return (await this.call<{ code: number | null }>('stopped', { stream })).code;
  }

  /** Resolves with the peer's RESET_STREAM code (null: the stream finished normally). */
  async receivedReset(stream: number): Promise<number | null> {
    return (await this.call<{ code: number | null }>('receivedReset', { stream })).code;
  }

  /** Reads the stream to its end. */
  read(stream: number, timeoutMs = 60_000): Promise<IrohRead> {
    return this.call<IrohRead>('read', { stream, max: 16 << 20 }, timeoutMs);
  }

  async sendDatagram(conn: number, data: Uint8Array): Promise<void> {
    await this.call('sendDatagram', { conn, b64: Buffer.from(data).toString('base64') });
  }

  async readDatagram(conn: number, timeoutMs = 5_000): Promise<Uint8Array> {
    const r = await this.call<{ b64: string }>('readDatagram', { conn }, timeoutMs);
    return new Uint8Array(Buffer.from(r.b64, 'base64'));
  }

  info(conn: number): Promise<IrohInfo> {
    return this.call<IrohInfo>('info', { conn });
  }

  async close(conn: number, code: number, reason: string): Promise<void> {
    await this.call('close', { conn, code, reason });
  }

  /** Resolves with iroh's close reason, e.g. `closed by peer: bye (code 42)`, `closed`, `timed out`. */
  async closed(conn: number, timeoutMs = 15_000): Promise<string> {
    return (await this.call<{ reason: string }>('closed', { conn }, timeoutMs)).reason;
  }

  /** Closes the endpoint and waits for the process to exit (SIGKILL after `graceMs`). */
  async shutdown(graceMs = 3000): Promise<void> {
    this.node.child.stdin.write(`${JSON.stringify({ id: this.nextId++, op: 'exit' })}\n`);
    await this.node.stop(graceMs);
  }

  /** Kills the process at once (SIGKILL): the peer vanishes without a word. */
  async kill(): Promise<void> {
    this.node.child.kill('SIGKILL');
    await this.node.exited;
  }
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
