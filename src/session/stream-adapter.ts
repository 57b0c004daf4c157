import type { Connection } from '../quic/connection/connection.js';
import type { ConnectionEvent } from '../quic/events.js';
import { StreamResetError } from '../quic/streams/stream-error.js';

/**
 * QUIC streams as WHATWG streams (the WebTransport shape), with backpressure tied to flow
 * control:
 *
 * - a `ReadableStream<Uint8Array>` pulls from the connection's receive buffer only when its
 *   reader asks (highWaterMark 0): a reader that stops reading stops draining the receive
 *   buffer, so the stream's flow-control window is not extended and the sender stops;
 * - a `WritableStream<Uint8Array>`'s `write()` resolves once the chunk is in the connection's send
 *   buffer (bounded, `streams.sendBufferSize`), so a writer is paced by what the peer grants;
 *   its `close()` resolves once the peer acknowledged every byte and the FIN (see `writableFor`).
 *
 * Reset and stop map to the web streams' error paths: a peer's RESET_STREAM errors the readable
 * with a `StreamAbortedError` carrying the code; a peer's STOP_SENDING errors the writable the
 * same way; `readable.cancel(code)` sends STOP_SENDING and `writable.abort(code)` RESET_STREAM.
 */

/** @internal What the adapters need from the driver that owns a connection. */
export interface ConnectionPort {
  readonly conn: Connection;
  /** Commands were issued: run the connection's transmit loop soon. */
  flush(): void;
}

/** A stream ended abnormally: reset by the peer, stopped by the peer, or the connection closed. */
export class StreamAbortedError extends Error {
  /** Always `'StreamAbortedError'`. */
  override readonly name = 'StreamAbortedError';
  /** 'reset': RESET_STREAM received; 'stopped': STOP_SENDING received; 'closed': connection gone. */
  readonly kind: 'reset' | 'stopped' | 'closed';
  /** The application error code (undefined for 'closed'). */
  readonly code: number | bigint | undefined;
  /** The QUIC stream id (RFC 9000 §2.1: its low two bits say who opened it and in which direction). */
  readonly streamId: number;

  constructor(streamId: number, kind: 'reset' | 'stopped' | 'closed', code: number | bigint | undefined, detail = '') {
    const what = kind === 'reset' ? `reset by the peer (code ${code})` : kind === 'stopped' ? `stopped by the peer (code ${code})` : `connection closed${detail ? `: ${detail}` : ''}`;
    super(`stream ${streamId} ${what}`);
    this.kind = kind;
    this.code = code;
    this.streamId = streamId;
  }
}

/** @internal The code an `abort(reason)` / `cancel(reason)` sends: a number/bigint reason, else 0. */
export function errorCodeOf(reason: unknown): number | bigint {
  if (typeof reason === 'bigint' && reason >= 0n && reason < 1n << 62n) return reason;
  if (typeof reason === 'number' && Number.isSafeInteger(reason) && reason >= 0) return reason;
  if (reason instanceof StreamAbortedError && reason.code !== undefined) return reason.code;
  if (typeof reason === 'object' && reason !== null && 'code' in reason) return errorCodeOf((reason as { code: unknown }).code);
  return 0;
}

/**
 * Routes a connection's stream events to the web streams waiting on them. One per connection;
 * the driver calls `dispatch` for every event and `closeAll` when the connection closes.
 * @internal
 */
export class StreamWaiters {
  // The maps are made on first use: a connection that never opens a stream keeps none (an empty
  // Map is ~180 bytes of heap; issue [perf2], heap per idle connection).
  private readersMap: Map<number, () => void> | undefined;
  private writersMap: Map<number, () => void> | undefined;
  private sendWatchersMap: Map<number, (e: StreamAbortedError) => void> | undefined;
  private closedError: ((id: number) => StreamAbortedError) | undefined;

  private get readers(): Map<number, () => void> {
    return (this.readersMap ??= new Map());
  }

  private get writers(): Map<number, () => void> {
    return (this.writersMap ??= new Map());
  }

  /** Writables to error as soon as their stream is stopped or the connection closes, even idle. */
  private get sendWatchers(): Map<number, (e: StreamAbortedError) => void> {
    return (this.sendWatchersMap ??= new Map());
  }

  dispatch(e: ConnectionEvent): void {
    switch (e.type) {
      case 'readable':
      case 'streamClosed':
        this.wake(this.readers, e.id);
        if (e.type === 'streamClosed') {
          this.sendWatchers.delete(e.id);
          this.wake(this.writers, e.id);
        }
        break;
      case 'stopped': {
        // RFC 9000 §3.5: the peer no longer reads; error the writable at once, even when no
        // write is pending (WebTransport errors the stream on STOP_SENDING, it does not wait).
        const watcher = this.sendWatchers.get(e.id);
        this.sendWatchers.delete(e.id);
        watcher?.(new StreamAbortedError(e.id, 'stopped', e.code));
        this.wake(this.writers, e.id);
        break;
      }
      case 'sendDone':
        this.sendWatchers.delete(e.id);
        this.wake(this.writers, e.id);
        break;
      case 'writable':
        this.wake(this.writers, e.id);
        break;
      default:
        break;
    }
  }

  /** The connection closed: every waiting stream fails with `error(id)`. */
  closeAll(error: (id: number) => StreamAbortedError): void {
    this.closedError = error;
    const readers = this.readersMap;
    const writers = this.writersMap;
    const watchers = this.sendWatchersMap;
    this.readersMap = this.writersMap = this.sendWatchersMap = undefined;
    if (readers) for (const f of readers.values()) f();
    if (writers) for (const f of writers.values()) f();
    if (watchers) for (const [id, f] of watchers) f(error(id));
  }

  /**
   * Calls `onError` once if stream `id`'s sending part is stopped by the peer or the connection
   * closes before the part is done (then at once if it already closed).
   */
  watchSend(id: number, onError: (e: StreamAbortedError) => void): void {
    if (this.closedError) onError(this.closedError(id));
    else this.sendWatchers.set(id, onError);
  }

  /** The error for stream `id` once the connection closed, or undefined while it is open. */
  closedFor(id: number): StreamAbortedError | undefined {
    return this.closedError?.(id);
  }

  waitReadable(id: number): Promise<void> {
    return new Promise((resolve) => this.readers.set(id, resolve));
  }

  /**
   * Resolves when stream `id` may take more data (or changed state); `signal` (the writable's
   * abort) ends the wait with its reason and removes it.
   */
  waitWritable(id: number, signal?: AbortSignal): Promise<void> {
    if (!signal) return new Promise((resolve) => this.writers.set(id, resolve));
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        if (this.writers.get(id) === wake) this.writers.delete(id);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.writers.set(id, wake);
    });
  }

  private wake(map: Map<number, () => void>, id: number): void {
    const f = map.get(id);
    if (f) {
      map.delete(id);
      f();
    }
  }
}

/**
 * Most bytes one read hands a default reader: what arrived since the last read, up to this. A BYOB
 * reader's view sets its own bound.
 */
const READ_CHUNK = 64 * 1024;

/**
 * @internal A ReadableStream over the receiving part of stream `id`: a readable byte stream, as
 * the W3C WebTransport API's receive streams are. `getReader()` reads chunks of what arrived (a
 * fresh array each, at most 64 KiB); `getReader({ mode: 'byob' })` reads into the caller's own
 * buffer, so a receiver that reuses one buffer allocates nothing per read (a fresh ArrayBuffer per
 * read is what can keep V8 in back-to-back mark-compacts at high rates: bench/README.md, "The bulk
 * ratio").
 */
export function readableFor(port: ConnectionPort, waiters: StreamWaiters, id: number): ReadableStream<Uint8Array> {
  return new ReadableStream(
    {
      type: 'bytes',
      async pull(controller) {
        for (;;) {
          const closed = waiters.closedFor(id);
          const recv = port.conn.recvStream(id);
          if (recv.isGone) {
            // Removed from the map: every byte up to the FIN (or the reset) was read, whether or
            // not the connection closed since. A close that arrived before this read must not
            // turn a complete stream into an error (the CLI pair's race: the dialer closes once it
            // has all it wanted, the listener's read that reports the end comes after).
            endStream(controller);
            return;
          }
          const request = controller.byobRequest;
          const view = request?.view ?? null;
          let n = 0;
          let data: Uint8Array | null = null;
          try {
            // A byte stream's request view is a Uint8Array (Streams standard): read into it as it is.
            if (view !== null) n = recv.readInto(view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
            else data = recv.read(READ_CHUNK);
          } catch (e) {
            // The read reached the peer's RESET_STREAM.
            if (!(e instanceof StreamResetError)) throw e;
            controller.error(new StreamAbortedError(id, 'reset', e.code));
            return;
          }
          if (n > 0 || data !== null) {
            if (data !== null) controller.enqueue(data);
            else request!.respond(n);
            port.flush(); // reading may have opened the flow-control window
            return;
          }
          if (recv.ended) {
            endStream(controller);
            return;
          }
          if (closed) {
            controller.error(closed);
            return;
          }
          await waiters.waitReadable(id);
        }
      },
      cancel(reason) {
        if (port.conn.isClosed) return;
        const recv = port.conn.recvStream(id);
        if (!recv.isGone && !recv.ended) {
          recv.stop(errorCodeOf(reason));
          port.flush();
        }
      },
    },
    { highWaterMark: 0 },
  );
}

/** Closes a byte stream's controller; a BYOB read waiting on it then resolves done (the Streams standard answers a pending BYOB request with respond(0) once closed). */
function endStream(controller: ReadableByteStreamController): void {
  controller.close();
  controller.byobRequest?.respond(0);
}

/**
 * Bytes a writable may buffer in one run of JavaScript before its `write` waits for the event loop.
 * A pipelined writer (`void writer.write(chunk)` while `desiredSize > 0`) runs entirely in
 * microtasks while the send buffer has room: each write resolves at once and the next one starts
 * without the event loop turning. The driver sends only in its own turn (a setImmediate), so
 * small writes could fill the whole send buffer (1 MiB = 16 384 writes of 64 B, ~40 ms of CPU)
 * before the first packet leaves or any ACK is read, leaving the peer idle meanwhile. After this
 * many bytes, the sink resolves its write one event-loop turn later instead: the driver's flush
 * (queued first) sends what was written and received packets are handled.
 * @internal
 */
export const WRITE_YIELD_BYTES = 64 * 1024;

/** Resolves in the check phase of the next event-loop turn, after the driver's pending flush. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * @internal A WritableStream over the sending part of stream `id`.
 *
 * Its `close()` queues the FIN after the bytes written and resolves once the peer's QUIC stack
 * acknowledged every byte and the FIN (RFC 9000 §3.1, "Data Recvd"): receipt by the peer's
 * stack, not a read by its application. The peer acknowledges what its flow-control windows hold
 * (by default 1,250,000 bytes per stream and 5,000,000 per connection, more as its application
 * reads) whether or not its application has accepted the stream, so a message within them
 * completes at once; a larger one completes only as the peer's application reads. It rejects
 * with a StreamAbortedError when the peer stops the stream (STOP_SENDING) or the connection
 * closes first.
 */
export function writableFor(port: ConnectionPort, waiters: StreamWaiters, id: number): WritableStream<Uint8Array> {
  const failure = (): Error | undefined => {
    const closed = waiters.closedFor(id);
    if (closed) return closed;
    const code = port.conn.sendStream(id).resetCode;
    if (code !== undefined) return new StreamAbortedError(id, 'stopped', code);
    return undefined;
  };
  /** Bytes buffered since the last wait for the event loop (WRITE_YIELD_BYTES). */
  let sinceTurn = 0;
  /**
   * Fires when the application aborts the writable: a write or close waiting for the peer (flow
   * control, acknowledgments) stops waiting, so the abort's RESET_STREAM goes out at once (a
   * WritableStream runs its sink's abort only after the operation in flight settles).
   */
  let aborting: AbortSignal | undefined;
  /** The part of a write the send buffer did not take: wait for room, then buffer the rest. */
  const writeRest = async (chunk: Uint8Array, from: number): Promise<void> => {
    let off = from;
    while (off < chunk.length) {
      await waiters.waitWritable(id, aborting);
      const err = failure();
      if (err) throw err;
      const n = port.conn.writeStream(id, chunk.subarray(off));
      if (n > 0) {
        off += n;
        port.flush();
      }
    }
    sinceTurn = 0; // waiting for room let the event loop turn
  };
  return new WritableStream<Uint8Array>(
    {
      start(controller) {
        // WHATWG's controller.signal (Node >= 16.5); @types/node 20 does not declare it yet.
        aborting = (controller as WritableStreamDefaultController & { readonly signal?: AbortSignal }).signal;
        // A stop or a connection close errors the writable even while nothing is written, so
        // `writer.closed` (and a pump waiting on it) learns the code at once.
        waiters.watchSend(id, (e) => controller.error(e));
      },
      // Not async: the common case (the chunk fits in the send buffer) returns undefined without
      // allocating a promise of its own; a throw here rejects the write like a rejected promise.
      write(chunk): Promise<void> | undefined {
        if (!(chunk instanceof Uint8Array)) throw new TypeError('stream chunks must be Uint8Array');
        const err = failure();
        if (err) throw err;
        // The send part copies the bytes (send-stream.ts): once this write resolves, the caller
        // may reuse `chunk`.
        const n = chunk.length === 0 ? 0 : port.conn.writeStream(id, chunk);
        if (n > 0) port.flush();
        if (n < chunk.length) return writeRest(chunk, n);
        sinceTurn += n;
        if (sinceTurn < WRITE_YIELD_BYTES) return undefined;
        sinceTurn = 0;
        return nextTurn();
      },
      async close() {
        const err = failure();
        if (err) throw err;
        port.conn.finishStream(id);
        port.flush();
        // Resolve once the peer acknowledged every byte and the FIN, so closing the session
        // right after cannot lose data still in flight.
        const send = port.conn.sendStream(id);
        for (;;) {
          if (send.isDone) return;
          const e = failure();
          if (e) throw e;
          await waiters.waitWritable(id, aborting);
        }
      },
      abort(reason) {
        if (port.conn.isClosed) return;
        const send = port.conn.sendStream(id);
        if (!send.isDone && send.resetCode === undefined) {
          send.reset(errorCodeOf(reason));
          port.flush();
        }
      },
    },
    { highWaterMark: 1 },
  );
}
