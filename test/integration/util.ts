/** Helpers shared by the integration tests (real UDP on loopback). */
import { Endpoint, type EndpointOptions } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { createSocket, type Socket } from 'node:dgram';
import type { Connection } from '../../src/quic/connection/connection.js';

/** Rejects with `what` when `p` has not settled within `ms` (so a hang fails with a message). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = r.getReader();
  for (let x = await reader.read(); !x.done; x = await reader.read()) chunks.push(x.value);
  return concatBytes(...chunks);
}

export async function writeAll(w: WritableStream<Uint8Array>, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  const writer = w.getWriter();
  for (let off = 0; off < data.length; off += chunk) await writer.write(data.subarray(off, off + chunk));
  await writer.close();
}

/** The dial string of `ep`'s first bound address. */
export function target(ep: Endpoint): string {
  return `${ep.id.toString()}@${ep.boundAddresses[0]}`;
}

/** A client and a server endpoint on 127.0.0.1, closed by `close()`. */
export class Loopback {
  readonly endpoints: Endpoint[] = [];

  async bind(options: EndpointOptions = {}): Promise<Endpoint> {
    const ep = await Endpoint.bind({ bind: '127.0.0.1:0', ...options });
    this.endpoints.push(ep);
    return ep;
  }

  /** Connects `client` to `server` and returns both ends of the session. */
  async connect(client: Endpoint, server: Endpoint): Promise<{ s: Session; peer: Session }> {
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, target(server)), 5_000, 'connect');
    const peer = await within(accepted, 5_000, 'accept');
    if (!peer) throw new Error('accept resolved null');
    return { s, peer };
  }

  async close(): Promise<void> {
    const t0 = performance.now();
    await Promise.all(this.endpoints.splice(0).map((e) => e.close()));
    if (process.env.QP_VERBOSE) console.log(`      (endpoints closed in ${(performance.now() - t0).toFixed(0)} ms)`);
  }
}

/** Echoes every bidirectional stream the peer opens until the session closes. */
export function echoBidi(peer: Session): void {
  void (async () => {
    for (let st = await peer.nextBidiStream(); st; st = await peer.nextBidiStream()) void st.readable.pipeTo(st.writable).catch(() => {});
  })();
}

/** Polls `cond` every 5 ms until it holds, or fails after `ms` naming `what`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The connection under a session (tests only: `Session.state` is @internal). */
export function connOf(s: Session): Connection {
  return s.state.conn;
}

/** A UDP socket on 127.0.0.1 (any port) handing each datagram to `onMessage` (forwarders, NATs). */
export function boundUdp4(onMessage: (msg: Buffer, from: { address: string; port: number }) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('message', (msg, rinfo) => onMessage(msg, rinfo));
    s.on('error', () => {}); // a datagram to a closed socket's port must not crash the test
    s.once('listening', () => resolve(s));
    s.once('error', reject);
    s.bind(0, '127.0.0.1');
  });
}
