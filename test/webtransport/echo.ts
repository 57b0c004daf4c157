/**
 * The echo a WebTransport test server runs on each session: every bidirectional stream echoed,
 * every incoming unidirectional stream answered by one of ours with the same bytes, every datagram
 * echoed. What it saw (stream errors and their codes) is recorded for the test.
 */
import { StreamAbortedError } from '../../src/index.js';
import type { WebTransportSession } from '../../src/http/index.js';

export interface EchoLog {
  streamErrors: Array<{ kind: string; code: number | bigint | undefined }>;
  bidi: number;
  uni: number;
  datagrams: number;
}

export function newEchoLog(): EchoLog {
  return { streamErrors: [], bidi: 0, uni: 0, datagrams: 0 };
}

function noteError(log: EchoLog, e: unknown): void {
  if (e instanceof StreamAbortedError) log.streamErrors.push({ kind: e.kind, code: e.code });
}

export function echoSession(s: WebTransportSession, log: EchoLog = newEchoLog()): EchoLog {
  void (async () => {
    for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
      log.bidi++;
      const r = st.readable.getReader();
      const w = st.writable.getWriter();
      void (async () => {
        try {
          for (;;) {
            const { value, done } = await r.read();
            if (done) break;
            await w.write(value);
          }
          await w.close();
        } catch (e) {
          noteError(log, e);
          void w.abort(0).catch(() => {});
        }
      })();
    }
  })().catch(() => {});
  void (async () => {
    for (let rs = await s.nextUniStream(); rs; rs = await s.nextUniStream()) {
      log.uni++;
      const incoming = rs;
      void (async () => {
        try {
          const chunks: Uint8Array[] = [];
          for await (const c of incoming) chunks.push(c);
          const out = (await s.createUnidirectionalStream()).getWriter();
          for (const c of chunks) await out.write(c);
          await out.close();
        } catch (e) {
          noteError(log, e);
        }
      })();
    }
  })().catch(() => {});
  void (async () => {
    for (let d = await s.recvDatagram(); d; d = await s.recvDatagram()) {
      log.datagrams++;
      await s.sendDatagram(d).catch(() => {});
    }
  })().catch(() => {});
  return log;
}
