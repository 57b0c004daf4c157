import { concatBytes } from '../codec/bytes.js';
import { raceAbort } from './abort.js';
import { waitSignal, type WaitOptions } from './arguments.js';
import { InvalidArgumentError } from './errors.js';

/**
 * Whole-message helpers for the stream halves a Session hands out (WHATWG streams of Uint8Array,
 * so they work on any such stream): `readAll` reads to the end under a size limit (quinn's
 * `read_to_end`), `writeAll` writes a message and ends the stream. Functions rather than methods:
 * the halves are the platform's own ReadableStream and WritableStream objects.
 */

/** More bytes arrived on a stream than `readAll`'s limit allowed; the stream was cancelled. */
export class ReadLimitError extends Error {
  /** Always `'ReadLimitError'`. */
  override readonly name = 'ReadLimitError';
  /** The limit that was passed. */
  readonly limit: number;
  constructor(limit: number) {
    super(`the stream carries more than ${limit} bytes (the readAll limit); reading stopped and the stream was cancelled`);
    this.limit = limit;
  }
}

/**
 * Reads `readable` to its end and returns every byte in one array. `limit` (bytes, an integer, or
 * Infinity) bounds what it will hold: once more arrive it cancels the stream (a Session's stream
 * then sends STOP_SENDING with code 0, so the peer stops) and rejects with a ReadLimitError.
 * Rejects with the stream's own error (a StreamAbortedError when the peer resets it or the session
 * closes), or with the signal's reason when `signal` aborts first (the stream is cancelled with
 * that reason). The reader's lock is released in every case.
 *
 * @example
 * const request = await readAll(stream.readable, 64 * 1024);
 */
export async function readAll(readable: ReadableStream<Uint8Array>, limit: number, options?: WaitOptions): Promise<Uint8Array> {
  if (!(readable instanceof ReadableStream)) throw new InvalidArgumentError('readAll: readable must be a ReadableStream');
  if (typeof limit !== 'number' || !(limit >= 0) || (!Number.isSafeInteger(limit) && limit !== Number.POSITIVE_INFINITY)) {
    throw new InvalidArgumentError(`readAll: limit must be a non-negative integer number of bytes (or Infinity), got ${String(limit)}`);
  }
  const signal = waitSignal('readAll', options);
  signal?.throwIfAborted();
  const reader = readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const r = await raceAbort(reader.read(), signal, () => void reader.cancel(signal?.reason).catch(() => {}));
      if (r.done) break;
      if (!(r.value instanceof Uint8Array)) throw new InvalidArgumentError('readAll: the stream yielded a chunk that is not a Uint8Array');
      total += r.value.length;
      if (total > limit) {
        const e = new ReadLimitError(limit);
        await reader.cancel(e).catch(() => {});
        throw e;
      }
      chunks.push(r.value);
    }
  } finally {
    reader.releaseLock();
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}

/**
 * Writes `data` to `writable` and closes it (a Session's stream sends the FIN), resolving when
 * `close()` does: once the peer's stack acknowledged every byte and the FIN. Rejects with the
 * stream's own error (a StreamAbortedError when the peer stops the stream or the session closes),
 * or with the signal's reason when `signal` aborts first (the stream is aborted with that reason:
 * RESET_STREAM, code 0 unless the reason carries one). The writer's lock is released in every
 * case.
 *
 * @example
 * await writeAll(stream.writable, new TextEncoder().encode('hello'));
 */
export async function writeAll(writable: WritableStream<Uint8Array>, data: Uint8Array, options?: WaitOptions): Promise<void> {
  if (!(writable instanceof WritableStream)) throw new InvalidArgumentError('writeAll: writable must be a WritableStream');
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('writeAll: data must be a Uint8Array');
  const signal = waitSignal('writeAll', options);
  signal?.throwIfAborted();
  const writer = writable.getWriter();
  try {
    const done = (async () => {
      await writer.write(data);
      await writer.close();
    })();
    await raceAbort(done, signal, () => void writer.abort(signal?.reason).catch(() => {}));
  } finally {
    writer.releaseLock();
  }
}
