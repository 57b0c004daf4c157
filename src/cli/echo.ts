/** The echo of `quic-peer listen --echo`, for QUIC sessions and WebTransport sessions alike. */
import type { BidirectionalStream } from '../index.js';

/** What one session moved: application bytes (stream data and datagrams), each way. */
export interface Traffic {
  received: number;
  sent: number;
}

/** What the echo needs of a session (a `Session`, QUIC or WebTransport). */
export interface Echoable {
  nextBidiStream(): Promise<BidirectionalStream | null>;
  nextUniStream(): Promise<ReadableStream<Uint8Array> | null>;
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>>;
  recvDatagram(): Promise<Uint8Array | null>;
  sendDatagram(d: Uint8Array): Promise<void>;
}

/** Echoes every stream and datagram of `s`, counting into `t`. */
export async function echoSession(s: Echoable, t: Traffic = { received: 0, sent: 0 }): Promise<void> {
  const counted = (r: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> =>
    r.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          t.received += chunk.length;
          t.sent += chunk.length;
          c.enqueue(chunk);
        },
      }),
    );
  const bidi = (async () => {
    for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
      void counted(st.readable).pipeTo(st.writable).catch(() => {});
    }
  })();
  const uni = (async () => {
    for (let r = await s.nextUniStream(); r; r = await s.nextUniStream()) {
      const incoming = r;
      void s.createUnidirectionalStream().then((w) => counted(incoming).pipeTo(w)).catch(() => {});
    }
  })();
  const datagrams = (async () => {
    for (let d = await s.recvDatagram(); d; d = await s.recvDatagram()) {
      t.received += d.length;
      const n = d.length;
      await s.sendDatagram(d).then(() => (t.sent += n), () => {});
    }
  })();
  await Promise.all([bidi, uni, datagrams]).catch(() => {});
}

