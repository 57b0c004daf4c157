/** Helpers shared by the handles tests. */
import assert from 'node:assert/strict';
import type { BodyReader } from '../../../src/handles/body-channel.js';
import { ChannelClosedError, InvalidHandleError } from '../../../src/handles/errors.js';
import type { ChannelClosedHow, InvalidHandleReason } from '../../../src/handles/errors.js';

/** Lets every pending promise callback and stream step run (no clock involved). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A predicate for assert.rejects/throws: ChannelClosedError with this `how` and code. */
export function closedWith(how: ChannelClosedHow, code: number | bigint | undefined): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ChannelClosedError, `expected ChannelClosedError, got ${String(e)}`);
    assert.equal(e.how, how);
    assert.equal(e.streamErrorCode, code);
    assert.equal(e.code, 'CHANNEL_CLOSED');
    return true;
  };
}

/** A predicate for assert.rejects/throws: InvalidHandleError with this reason. */
export function invalidHandle(reason: InvalidHandleReason): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof InvalidHandleError, `expected InvalidHandleError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    assert.equal(e.code, 'INVALID_HANDLE');
    return true;
  };
}

export async function readAll(reader: BodyReader): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (;;) {
    const c = await reader.next();
    if (c === null) return out;
    out.push(c);
  }
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Shaped like the Session's StreamAbortedError: the application code in a numeric `code`. */
export class PeerStreamError extends Error {
  constructor(
    readonly kind: 'reset' | 'stopped',
    readonly code: number,
  ) {
    super(`stream ${kind} by the peer (code ${code})`);
  }
}

/** An in-memory receive stream: the test plays the peer through `push`, `finish`, `reset`. */
export function peerReadable() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelReason: undefined as unknown, cancelled: false, pulls: 0 };
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      state.pulls++;
    },
    cancel(reason) {
      state.cancelled = true;
      state.cancelReason = reason;
    },
  });
  return {
    readable,
    state,
    push: (b: Uint8Array) => controller.enqueue(b),
    finish: () => controller.close(),
    fail: (e: unknown) => controller.error(e),
    reset: (code: number) => controller.error(new PeerStreamError('reset', code)),
    /** Errors the stream the WebTransport way (`streamErrorCode`). */
    resetWebTransport: (code: number) => controller.error({ streamErrorCode: code, message: 'reset by peer' }),
  };
}

/** An in-memory send stream: records what arrives; `stop` errors it as STOP_SENDING would. */
export function peerWritable(options: { slow?: boolean } = {}) {
  let controller!: WritableStreamDefaultController;
  const state = { chunks: [] as Uint8Array[], closed: false, abortReason: undefined as unknown, aborted: false };
  const gates: (() => void)[] = [];
  const writable = new WritableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      write(chunk) {
        state.chunks.push(chunk);
        if (options.slow) return new Promise<void>((resolve) => gates.push(resolve));
        return undefined;
      },
      close() {
        state.closed = true;
      },
      abort(reason) {
        state.aborted = true;
        state.abortReason = reason;
      },
    },
    { highWaterMark: 2 },
  );
  return {
    writable,
    state,
    stop: (code: number) => controller.error(new PeerStreamError('stopped', code)),
    release: () => gates.shift()?.(),
  };
}
