/**
 * The web streams of a WebTransport session over the QUIC streams that carry them: what the
 * application writes and reads is the stream's bytes after its signal and session id, and the
 * stream error codes it gives and sees are WebTransport's 32-bit codes, carried in the HTTP/3
 * error space (draft-02 §4.3). Backpressure passes through: a read pulls from QUIC only when the
 * application reads (high-water mark 0), a write resolves when the QUIC writer took the bytes.
 * When the session ends, its streams fail as a QUIC session's do when it closes: with a
 * StreamAbortedError of kind 'closed', at once, even while nothing is read or written.
 */
import { StreamAbortedError } from '../index.js';
import { StreamReader } from './stream-reader.js';
import { httpCodeToWt, wtCodeToHttp } from './wt-protocol.js';

/** The WebTransport code in an abort or cancel reason: a number, or an object with streamErrorCode / code (W3C WebTransportError); else 0. */
export function wtCodeOf(reason: unknown): number {
  const n =
    typeof reason === 'number' || typeof reason === 'bigint'
      ? Number(reason)
      : typeof reason === 'object' && reason !== null
        ? Number((reason as { streamErrorCode?: unknown }).streamErrorCode ?? (reason as { code?: unknown }).code ?? 0)
        : 0;
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : 0;
}

/** A QUIC stream error seen by the application: its code as WebTransport's when it is one of them. */
export function mapStreamError(e: unknown): unknown {
  if (e instanceof StreamAbortedError && e.code !== undefined && e.kind !== 'closed') {
    const wt = httpCodeToWt(e.code);
    if (wt !== undefined) return new StreamAbortedError(e.streamId, e.kind, wt);
  }
  return e;
}

/**
 * What a session does to end one of its streams when it ends: the QUIC stream is reset or stopped
 * with `httpCode` (WEBTRANSPORT_SESSION_GONE) and the application's side fails with
 * `closedError(streamId)`.
 */
export type StreamEnder = (httpCode: number, closedError: (streamId: number) => Error) => void;

/**
 * The rest of a stream after its header, as the application reads it. `streamId`: the QUIC
 * stream's id, -1 when not known (the Session API gives no id to unidirectional streams).
 */
export function wtReadable(r: StreamReader, streamId: number, onEnd: () => void): { readable: ReadableStream<Uint8Array>; end: StreamEnder } {
  let done = false;
  let gone: Error | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const finish = (): void => {
    if (!done) {
      done = true;
      onEnd();
    }
  };
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      async pull(c) {
        let chunk: Uint8Array | null;
        try {
          chunk = await r.readSome(64 * 1024);
        } catch (e) {
          if (gone) return; // the session ended meanwhile: the stream is errored already
          finish();
          throw mapStreamError(e);
        }
        if (gone) return;
        if (chunk === null) {
          c.close();
          finish();
        } else c.enqueue(chunk);
      },
      cancel(reason) {
        r.cancel(wtCodeToHttp(wtCodeOf(reason)));
        finish();
      },
    },
    { highWaterMark: 0 },
  );
  return {
    readable,
    end: (code, closedError) => {
      if (done) return;
      gone = closedError(streamId);
      controller.error(gone);
      r.cancel(code);
      finish();
    },
  };
}

/**
 * The application's side of a stream we send on: `prefix` (the stream header) goes first.
 * `streamId` as for `wtReadable`.
 */
export function wtWritable(
  quic: WritableStream<Uint8Array>,
  prefix: Uint8Array | undefined,
  streamId: number,
  onEnd: () => void,
): { writable: WritableStream<Uint8Array>; end: StreamEnder } {
  const w = quic.getWriter();
  let done = false;
  let gone: Error | undefined;
  let controller!: WritableStreamDefaultController;
  const finish = (): void => {
    if (!done) {
      done = true;
      onEnd();
    }
  };
  if (prefix) void w.write(prefix).catch(() => {});
  const writable = new WritableStream<Uint8Array>({
    start(c) {
      controller = c;
      // A STOP_SENDING errors the QUIC writable at once, even while nothing is written: so does
      // it ours, with the WebTransport code (a no-op once ours is closed or errored already).
      w.closed.then(
        () => {},
        (e: unknown) => {
          if (!gone) controller.error(mapStreamError(e));
        },
      );
    },
    async write(chunk) {
      try {
        await w.write(chunk);
      } catch (e) {
        finish();
        throw gone ?? mapStreamError(e);
      }
    },
    async close() {
      try {
        await w.close();
      } catch (e) {
        throw gone ?? mapStreamError(e);
      } finally {
        finish();
      }
    },
    async abort(reason) {
      finish();
      await w.abort(wtCodeToHttp(wtCodeOf(reason))).catch(() => {});
    },
  });
  return {
    writable,
    end: (code, closedError) => {
      if (done) return;
      gone = closedError(streamId);
      finish();
      controller.error(gone);
      void w.abort(code).catch(() => {});
    },
  };
}
