/**
 * The client side of bench/child.ts's 'B' protocol, shared by the benchmark entry points: one new
 * bidirectional stream, the byte 'B' (or 'b'), `bytes` of payload in writes of `writeSize`, FIN; the
 * server answers the count it received (8 bytes, big-endian) and finishes.
 */
import type { Session } from '../src/session/session.js';

export async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  return Buffer.concat(parts);
}

/**
 * Uploads `bytes` and returns the ms until the server confirmed the count (throws when it
 * differs). `pipelined`: keep writing while the writable has room (`writer.ready`), as an
 * application streaming messages would, instead of awaiting each write. The server reads with a
 * BYOB reader into one buffer ('B'), or with `defaultReader` a default reader, a fresh chunk per
 * read ('b').
 */
export async function streamUpload(session: Session, bytes: number, writeSize = 64 * 1024, pipelined = false, defaultReader = false): Promise<number> {
  const chunk = new Uint8Array(writeSize).fill(0x61);
  const t0 = performance.now();
  const s = await session.createBidirectionalStream();
  const w = s.writable.getWriter();
  await w.write(Uint8Array.of(defaultReader ? 0x62 : 0x42));
  for (let sent = 0; sent < bytes; sent += writeSize) {
    const part = sent + writeSize <= bytes ? chunk : chunk.subarray(0, bytes - sent);
    if (!pipelined) {
      await w.write(part);
      continue;
    }
    if (w.desiredSize !== null && w.desiredSize <= 0) await w.ready;
    void w.write(part).catch(() => {}); // a failed write also fails close() below
  }
  await w.close();
  const answer = await readAll(s.readable.getReader());
  const ms = performance.now() - t0;
  const counted = Number(Buffer.from(answer).readBigUInt64BE(0));
  if (counted !== bytes) throw new Error(`server counted ${counted} bytes, sent ${bytes} (writes of ${writeSize})`);
  return ms;
}
