/**
 * The bulk transfer, run under each runtime (Node, Bun, Deno) from a temporary project where
 * `quic-peer` resolves to this repository's built dist: two quic-peer endpoints in one process
 * over loopback UDP (as `quic-peer demo` runs), N bytes one way on a bidirectional stream, the
 * listener hashing what arrives and answering with its SHA-256, which must equal the sender's.
 *
 * The runner copies this file into the project as bulk-lib.mjs beside an entry script that
 * imports the package statically and calls `runBulk` (checks.ts): a static import needs no
 * permission under Deno beyond --allow-net, where a dynamic one would need --allow-read, and
 * TypeScript could not resolve 'quic-peer' here (dist is not built when the tests are). So this
 * file imports only node: modules and takes the package as an argument.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** What the runner reads from the RESULT line. */
export interface BulkResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly mbps: number;
  readonly match: boolean;
  readonly sent: string;
  readonly received: string;
  readonly packetsSent: number;
  readonly packetsLost: number;
  readonly mtu: number;
}

type QuicPeer = typeof import('../../src/index.js');

/** Deterministic bytes (xorshift32), so a reordering or a wrong byte changes the digest. */
function payload(bytes: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, bytes);
}

export async function runBulk(quicPeer: QuicPeer, bytes: number): Promise<BulkResult> {
  const { Endpoint, Session } = quicPeer;
  const data = payload(bytes);
  const sent = createHash('sha256').update(data).digest('hex');

  const server = await Endpoint.bind({ bind: '127.0.0.1:0' });
  const client = await Endpoint.bind({ acceptIncoming: false, bind: '127.0.0.1:0' });
  try {
    const serving = (async () => {
      const s = await Session.accept(server);
      if (!s) throw new Error('the listener closed before a session arrived');
      const st = await s.nextBidiStream();
      if (!st) throw new Error('the session closed before a stream arrived');
      const hash = createHash('sha256');
      for await (const chunk of st.readable as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
      const w = st.writable.getWriter();
      await w.write(new TextEncoder().encode(hash.digest('hex')));
      await w.close();
    })();

    const session = await Session.connect(client, server.ticket());
    const { readable, writable } = await session.createBidirectionalStream();
    const start = performance.now();
    const w = writable.getWriter();
    for (let off = 0; off < bytes; off += 64 * 1024) await w.write(data.subarray(off, Math.min(bytes, off + 64 * 1024)));
    await w.close();
    let received = '';
    const decoder = new TextDecoder();
    for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) received += decoder.decode(chunk, { stream: true });
    const seconds = (performance.now() - start) / 1000;
    await serving;
    const st = session.getStats();
    const result: BulkResult = {
      bytes,
      seconds,
      mbps: (bytes * 8) / seconds / 1e6,
      match: received === sent,
      sent,
      received,
      packetsSent: st.packetsSent,
      packetsLost: st.packetsLost,
      mtu: st.mtu,
    };
    session.close({ closeCode: 0, reason: 'done' });
    await session.closed;
    return result;
  } finally {
    await Promise.all([client.close(), server.close()]);
  }
}
