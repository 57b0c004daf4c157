/**
 * ALPN "echo", the shared recipes' raw protocol: every bidirectional stream is echoed back to FIN,
 * a unidirectional stream is echoed on a new unidirectional stream, every DATAGRAM is echoed.
 * quic-peer's side of it, as a server and as a client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readAll, writeAll, type Session } from '../../src/index.js';
import { concatBytes } from '../../src/codec/bytes.js';

/** Echoes everything the peer sends on `s` until the session closes. */
export function serveEcho(s: Session): void {
  void (async () => {
    for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
      const { readable, writable } = st;
      void (async () => writeAll(writable, await readAll(readable, 256 << 20)))().catch(() => {});
    }
  })().catch(() => {});
  void (async () => {
    for (let rs = await s.nextUniStream(); rs; rs = await s.nextUniStream()) {
      const r = rs;
      void (async () => {
        const data = await readAll(r, 64 << 20);
        await writeAll(await s.createUnidirectionalStream(), data);
      })().catch(() => {});
    }
  })().catch(() => {});
  void (async () => {
    for (let d = await s.recvDatagram(); d; d = await s.recvDatagram()) void s.sendDatagram(d).catch(() => {});
  })().catch(() => {});
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * What a timed-out echo leaves behind: a stream whose every byte came back but whose FIN never
 * did. `@matrixai/quic` (quiche's JS wrapper) does this now and then with concurrent streams: the
 * qlog of such a run shows the last STREAM frame of the stream without FIN and nothing after it,
 * every packet acknowledged, so the peer never finished the stream (test/peers/README.md).
 */
export const PEER_NO_FIN = 'all bytes echoed but the peer never sent the FIN';

/** Sends `streams` bidirectional streams of `size` random bytes each and checks each echo (SHA-256). */
export async function echoStreams(s: Session, streams: number, size: number, progress: string[] = []): Promise<string> {
  const results = await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const data = new Uint8Array(randomBytes(size));
      const st = await s.createBidirectionalStream();
      // Read by hand rather than readAll, so that a timeout can tell how far each echo got.
      const entry = progress.length;
      progress.push(`stream ${i}: 0 B back`);
      const read = async (): Promise<Uint8Array> => {
        const chunks: Uint8Array[] = [];
        let n = 0;
        const reader = st.readable.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          chunks.push(r.value);
          n += r.value.length;
          progress[entry] = `stream ${i}: ${n} B back${n === size ? ` (${PEER_NO_FIN}?)` : ''}`;
        }
        return concatBytes(...chunks);
      };
      const [, got] = await Promise.all([writeAll(st.writable, data), read()]);
      progress[entry] = `stream ${i} echoed`;
      if (sha(got) !== sha(data)) throw new Error(`stream ${i}: echo of ${size} bytes came back as ${got.length} different bytes`);
      return got.length;
    }),
  );
  return `${results.length} stream(s) x ${size} B echoed, SHA-256 equal`;
}

/** Sends `count` datagrams and waits for each echo (resending a lost one, up to 5 times). */
export async function echoDatagrams(s: Session, count: number): Promise<string> {
  if ((s.maxDatagramSize() ?? 0) === 0) throw new Error('the peer accepts no datagrams (max_datagram_frame_size absent)');
  for (let i = 0; i < count; i++) {
    const msg = new TextEncoder().encode(`datagram-${i}`);
    let ok = false;
    for (let attempt = 0; attempt < 5 && !ok; attempt++) {
      await s.sendDatagram(msg);
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(new Error('timeout')), 1000);
      try {
        const got = await s.recvDatagram({ signal: ac.signal });
        ok = got !== null && sha(got) === sha(msg);
      } catch {
        // lost: send again
      } finally {
        clearTimeout(t);
      }
    }
    if (!ok) throw new Error(`datagram ${i} was not echoed`);
  }
  return `${count} datagram(s) echoed`;
}
