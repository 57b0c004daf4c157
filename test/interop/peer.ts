/**
 * Inside a scenario: quic-peer's side (Endpoint + Session, in the scenario process) and small
 * helpers shared by the scenarios: pairing a quic-peer session with an iroh connection in either
 * direction, reading and writing web streams, timing out.
 */
import { Endpoint, type EndpointOptions } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import type { IrohConn, IrohRpc } from './iroh-rpc.js';

export type Direction = 'dial' | 'accept';

/** Our endpoint on 127.0.0.1 only (iroh is dialled and dials us on IPv4 loopback). */
export function bindOurs(options: EndpointOptions = {}): Promise<Endpoint> {
  return Endpoint.bind({ bind: '127.0.0.1:0', ...options });
}

/** Our endpoint's `id@127.0.0.1:port`-style parts for iroh's `connect`. */
export function ourAddr(ep: Endpoint): string {
  const a = ep.boundAddresses.find((x) => x.startsWith('127.0.0.1:'));
  if (a === undefined) throw new Error(`our endpoint has no 127.0.0.1 socket: ${ep.boundAddresses.join(', ')}`);
  return a;
}

/**
 * One connection between `ours` and `iroh` with `alpn`: 'dial' = quic-peer dials iroh (by its
 * ticket, or by id at `via` when given, e.g. a relay), 'accept' = iroh dials quic-peer (at `via`
 * or our address). Pair one connection at a time: iroh's `accept` and our `Session.accept` hand
 * out whichever handshake completes first, so two concurrent pairings can swap connections.
 */
export async function pair(
  direction: Direction,
  ours: Endpoint,
  iroh: IrohRpc,
  alpn: string,
  via?: string,
): Promise<{ session: Session; conn: IrohConn; ms: number }> {
  const t0 = performance.now();
  if (direction === 'dial') {
    const accepted = iroh.accept();
    accepted.catch(() => {});
    const remote = via === undefined ? iroh.ticket : `${iroh.id}@${via}`;
    const session = await Session.connect(ours, remote, { alpn });
    const conn = await accepted;
    return { session, conn, ms: performance.now() - t0 };
  }
  const accepted = Session.accept(ours);
  const conn = await iroh.connect(ours.id.toString(), [via ?? ourAddr(ours)], alpn);
  const session = await withTimeout(accepted, 5000, 'Session.accept');
  if (session === null) throw new Error('our endpoint closed before accepting');
  return { session, conn, ms: performance.now() - t0 };
}

export async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of r as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

export async function writeAll(w: WritableStream<Uint8Array>, data: Uint8Array, close = true, chunk = 64 * 1024): Promise<void> {
  const writer = w.getWriter();
  for (let off = 0; off < data.length; off += chunk) await writer.write(data.subarray(off, off + chunk));
  if (close) await writer.close();
  else writer.releaseLock();
}

/** Rejects with `what timed out` after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An error as plain data for the scenario's JSON result. */
export function errorInfo(e: unknown): { name: string; message: string; kind?: string; code?: string } {
  if (!(e instanceof Error)) return { name: 'non-error', message: String(e) };
  const o = e as Error & { kind?: unknown; code?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof o.kind === 'string' ? { kind: o.kind } : {}),
    ...(o.code !== undefined ? { code: String(o.code) } : {}),
  };
}

/** Runs `f` and returns its result or the error, as data. */
export async function attempt<T>(f: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: ReturnType<typeof errorInfo> }> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: errorInfo(e) };
  }
}
