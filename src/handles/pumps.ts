/**
 * Pumps: move bytes between WHATWG streams (what the Session exposes for QUIC streams) and body
 * channels (what handles name), keeping backpressure and mapping errors both ways.
 *
 * The contract with the Session's streams (src/session/stream-adapter.ts):
 * - a ReadableStream of a receive stream that the peer reset (RESET_STREAM, RFC 9000 §19.4) errors
 *   with a reason carrying the application code (`code`, as the Session's StreamAbortedError, or
 *   `streamErrorCode`, as WebTransport's WebTransportError); the pump aborts the body with it;
 * - when the body's reader cancels, the pump calls `readable.cancel(code)` with the cancel code
 *   (0 when none): the Session sends STOP_SENDING (§19.5) with it;
 * - a WritableStream whose send stream the peer stopped (STOP_SENDING) errors with a reason
 *   carrying the code; the pump cancels the body with it, so `sendChunk` rejects with that code;
 * - when the body's writer aborts, the pump calls `writable.abort(code)`: the Session sends
 *   RESET_STREAM with it.
 * A stream error without a valid code (the connection closed) aborts/cancels the body without one.
 *
 * Both pumps return a promise that never rejects: it resolves with how the transfer ended, so a
 * caller can start a pump and forget it.
 */
import { ChannelClosedError, checkAppErrorCode } from './errors.js';
import type { AppErrorCode } from './errors.js';
import type { BodyOutcome, BodyReader, BodyWriter } from './body-channel.js';

/** Options of the pumps between web streams and body channels. */
export interface PumpOptions {
  /**
   * Hand the stream's chunks to the body channel without copying (default true: a chunk read from
   * a ReadableStream belongs to the reader). Set false if the source reuses its buffers.
   */
  transfer?: boolean;
}

/**
 * Copies `readable` into `writer` until the end (then finishes the body), an error of the stream
 * (then aborts the body with the stream's code) or a cancel of the body (then cancels the stream
 * with the body's code). Resolves with the outcome seen by the body.
 */
export async function pumpReadableToBody(
  readable: ReadableStream<Uint8Array>,
  writer: BodyWriter,
  options: PumpOptions = {},
): Promise<BodyOutcome> {
  const transfer = options.transfer ?? true;
  const source = readable.getReader();
  // React to a cancel at once, even while a read is pending (an idle stream must still be stopped).
  void writer.closed.then((o) => {
    if (o.how !== 'finished') source.cancel(wireCode(o.streamErrorCode)).catch(ignore);
  });
  try {
    for (;;) {
      const r = await source.read();
      if (r.done) {
        // Done because we cancelled the stream after the body was closed: report that instead.
        if (writer.outcome !== null && writer.outcome.how !== 'finished') return writer.outcome;
        writer.finish();
        return { how: 'finished', streamErrorCode: undefined };
      }
      if (!(r.value instanceof Uint8Array)) {
        // Not a byte stream: a programming error of the source, treated as a reset without code.
        writer.abort(undefined, 'stream yielded a chunk that is not a Uint8Array');
        await source.cancel(0).catch(ignore);
        return { how: 'aborted', streamErrorCode: undefined };
      }
      await writer.send(r.value, { transfer });
    }
  } catch (e) {
    if (e instanceof ChannelClosedError) {
      // The body was cancelled (by its reader) or aborted (by a sweep or rollback): stop the stream.
      await source.cancel(wireCode(e.streamErrorCode)).catch(ignore);
      return { how: e.how === 'aborted' ? 'aborted' : 'cancelled', streamErrorCode: e.streamErrorCode };
    }
    // The stream errored: the peer reset it, or the connection died.
    const code = streamErrorCodeOf(e);
    writer.abort(code, messageOf(e));
    return { how: 'aborted', streamErrorCode: code };
  }
}

/**
 * Copies `reader` into `writable` until the end of the body (then closes the stream), an abort of
 * the body (then aborts the stream with its code) or an error of the stream (then cancels the body
 * with the stream's code). Waits for `writable` to have room before pulling the next chunk, so a
 * slow stream leaves the backpressure in the body channel. Resolves with the body's outcome.
 */
export async function pumpBodyToWritable(reader: BodyReader, writable: WritableStream<Uint8Array>): Promise<BodyOutcome> {
  const sink = writable.getWriter();
  let abortedByUs = false;
  const abortSink = (code: AppErrorCode | undefined): Promise<void> => {
    abortedByUs = true;
    return sink.abort(wireCode(code)).catch(ignore);
  };
  // A stopped stream must cancel the body at once, even while the body is idle.
  sink.closed.catch((e: unknown) => {
    if (!abortedByUs) reader.cancel(streamErrorCodeOf(e), messageOf(e));
  });
  // An aborted body must reset the stream at once, even while waiting for room.
  void reader.closed.then((o) => {
    if (o.how === 'aborted') void abortSink(o.streamErrorCode);
  });
  try {
    for (;;) {
      await sink.ready;
      const chunk = await reader.next();
      if (chunk === null) {
        await sink.close();
        return { how: 'finished', streamErrorCode: undefined };
      }
      // Not awaited: errors surface through `ready`/`closed`, and `ready` paces the loop.
      sink.write(chunk).catch(ignore);
    }
  } catch (e) {
    if (e instanceof ChannelClosedError) {
      // Aborted by the body's writer, or cancelled (by the stream's failure, seen in `closed`, or
      // by whoever owns the reader): either way the stream is reset with the code.
      await abortSink(e.streamErrorCode);
      return { how: e.how === 'aborted' ? 'aborted' : 'cancelled', streamErrorCode: e.streamErrorCode };
    }
    // The stream errored (STOP_SENDING, connection lost) or refused the close.
    const code = streamErrorCodeOf(e);
    reader.cancel(code, messageOf(e));
    return { how: 'cancelled', streamErrorCode: code };
  }
}

/**
 * The application code carried by a stream error reason, or undefined when there is none or it
 * is not an integer in [0, 2^62-1]. Accepted: the code itself (a number or bigint), an object's
 * `streamErrorCode` (WebTransport), or an object's numeric `code` (the Session's
 * StreamAbortedError; a string `code` such as Node's 'ERR_...' is ignored).
 */
export function streamErrorCodeOf(reason: unknown): AppErrorCode | undefined {
  if (typeof reason === 'number' || typeof reason === 'bigint') return validCode(reason);
  if (typeof reason !== 'object' || reason === null) return undefined;
  if ('streamErrorCode' in reason) {
    const code = validCode(reason.streamErrorCode);
    if (code !== undefined) return code;
  }
  return 'code' in reason ? validCode(reason.code) : undefined;
}

function validCode(code: unknown): AppErrorCode | undefined {
  if (typeof code !== 'number' && typeof code !== 'bigint') return undefined;
  try {
    return checkAppErrorCode(code);
  } catch {
    return undefined;
  }
}

/** The reason given to `cancel`/`abort` of a Session stream: the code itself (0 when none). */
function wireCode(code: AppErrorCode | undefined): AppErrorCode {
  return code ?? 0;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ignore(): void {}
