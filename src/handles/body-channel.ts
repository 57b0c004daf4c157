/**
 * Body channels: a bounded, backpressured queue of byte chunks between one writer and one reader.
 *
 * The shape follows iroh-http's body channel (32 chunks of at most 64 KiB): a `BodyWriter` that
 * `send`s chunks and `finish`es or `abort`s, and a `BodyReader` that pulls chunks with `next()`
 * (null at the end) or `cancel`s. It is what a handle of kind reader/writer stands for: a pump
 * feeds a QUIC stream into a channel, the caller drains it with `nextChunk`, or the other way round.
 *
 * Bounds. At most `capacity` chunks are queued, each at most `maxChunkSize` bytes, so a channel
 * never holds more than capacity * maxChunkSize bytes (2 MiB by default). A larger write is split
 * into maxChunkSize pieces, not rejected. `send` copies the bytes it queues (the caller may reuse
 * its buffer as soon as the promise settles) unless `{ transfer: true }` hands the buffer over.
 *
 * Backpressure. `send` resolves once its last piece is in the queue; while the queue is full the
 * promise waits, so a writer that awaits each `send` stops when the reader is slow. Concurrent
 * sends are served in call order and never interleave. Pieces of a pending send still live in the
 * caller's buffer, not in the channel.
 *
 * Errors go both ways, each carrying an application code (RFC 9000 §20.2):
 * - `reader.cancel(code)` (like STOP_SENDING, RFC 9000 §3.5): the queue is dropped, pending and
 *   later sends reject with ChannelClosedError('cancelled', code);
 * - `writer.abort(code)` (like RESET_STREAM, RFC 9000 §3.2): the queue is dropped, pending and later
 *   `next()` calls reject with ChannelClosedError('aborted', code);
 * - `writer.finish()`: the reader gets the queued chunks, then null; a later send rejects
 *   with ChannelClosedError('finished').
 * Both ends expose `closed`, a promise that always resolves (never rejects) with the outcome, so a
 * pump can react to the other side without polling.
 */
import { ChannelClosedError, InvalidInputError, checkAppErrorCode } from './errors.js';
import type { AppErrorCode } from './errors.js';

/** Chunks a channel queues before `send` waits (iroh-http's channel capacity). */
export const BODY_CHANNEL_CAPACITY = 32;
/** Largest chunk a channel queues; larger writes are split (iroh-http's 64 KiB). */
export const MAX_CHUNK_SIZE = 64 * 1024;

/** Bounds of a body channel (see {@link makeBodyChannel}). */
export interface BodyChannelOptions {
  /** Maximum queued chunks (default 32). */
  capacity?: number;
  /** Maximum bytes per queued chunk (default 64 KiB). */
  maxChunkSize?: number;
}

/** How a channel ended: read to the end, cancelled by the reader, or aborted by the writer. */
export interface BodyOutcome {
  /** `finished` (read to the end), `cancelled` (by the reader) or `aborted` (by the writer). */
  how: 'finished' | 'cancelled' | 'aborted';
  /** The code given to cancel/abort (undefined for `finished` or when none was given). */
  streamErrorCode: AppErrorCode | undefined;
}

/** Options of {@link BodyWriter.send}. */
export interface SendOptions {
  /** Hand the buffer over instead of copying it: the caller must not touch it afterwards. */
  transfer?: boolean;
}

/** Creates a connected writer/reader pair. */
export function makeBodyChannel(options: BodyChannelOptions = {}): {
  /** The sending end. */
  writer: BodyWriter;
  /** The receiving end. */
  reader: BodyReader;
} {
  const channel = new Channel(options.capacity ?? BODY_CHANNEL_CAPACITY, options.maxChunkSize ?? MAX_CHUNK_SIZE);
  return { writer: new BodyWriter(channel), reader: new BodyReader(channel) };
}

/** The sending end of a body channel. */
export class BodyWriter {
  /** @internal */
  constructor(private readonly channel: Channel) {}

  /**
   * Queues `chunk` (split into pieces of at most maxChunkSize); resolves when the last piece is
   * queued. Rejects with ChannelClosedError if the reader cancelled, the writer aborted or
   * finished, and with InvalidInputError if `chunk` is not a Uint8Array.
   */
  send(chunk: Uint8Array, options?: SendOptions): Promise<void> {
    return this.channel.send(chunk, options?.transfer === true);
  }

  /** Ends the body after the chunks already sent (including pending sends). Idempotent. */
  finish(): void {
    this.channel.finish();
  }

  /**
   * Aborts the body: queued data is dropped and the reader's `next()` rejects with
   * ChannelClosedError('aborted', code). No-op once the channel is closed. Throws
   * InvalidInputError for a code that is not an integer in [0, 2^62-1].
   */
  abort(code?: AppErrorCode, message?: string): void {
    this.channel.close('aborted', code === undefined ? undefined : checkAppErrorCode(code, 'abort code'), message);
  }

  /** Resolves with the outcome once the channel is closed (read to the end, cancelled, aborted). */
  get closed(): Promise<BodyOutcome> {
    return this.channel.closed;
  }

  /** How the channel ended, or null while it is open (or finished but not yet read to the end). */
  get outcome(): BodyOutcome | null {
    return this.channel.outcome;
  }

  /** True once finish() was called or the channel is closed. */
  get isDone(): boolean {
    return this.channel.writerDone || this.channel.outcome !== null;
  }

  /** Chunks waiting in the queue (never above the capacity). */
  get queuedChunks(): number {
    return this.channel.count;
  }

  /** Sends not yet fully queued. */
  get pendingSends(): number {
    return this.channel.pending.length;
  }
}

/** The receiving end of a body channel. */
export class BodyReader {
  /** @internal */
  constructor(private readonly channel: Channel) {}

  /**
   * The next chunk, or null at the end of the body (and on every later call). Rejects with
   * ChannelClosedError('aborted', code) when the writer aborted, ('cancelled', code) after cancel.
   */
  next(): Promise<Uint8Array | null> {
    return this.channel.next();
  }

  /**
   * Cancels the body: queued data is dropped, the writer's sends reject with
   * ChannelClosedError('cancelled', code). No-op once the channel is closed. Throws
   * InvalidInputError for a code that is not an integer in [0, 2^62-1].
   */
  cancel(code?: AppErrorCode, message?: string): void {
    this.channel.close('cancelled', code === undefined ? undefined : checkAppErrorCode(code, 'cancel code'), message);
  }

  /** Resolves with the outcome once the channel is closed. */
  get closed(): Promise<BodyOutcome> {
    return this.channel.closed;
  }

  /** How the channel ended, or null while it is open. */
  get outcome(): BodyOutcome | null {
    return this.channel.outcome;
  }

  /** True once the end was read or the channel was cancelled or aborted. */
  get isDone(): boolean {
    return this.channel.outcome !== null;
  }

  /** Chunks waiting in the queue. */
  get queuedChunks(): number {
    return this.channel.count;
  }
}

// ── the shared state ─────────────────────────────────────────────────────────────────────────

interface PendingSend {
  chunk: Uint8Array;
  offset: number;
  transfer: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Waiter {
  resolve: (chunk: Uint8Array | null) => void;
  reject: (e: unknown) => void;
}

/** @internal Shared by one BodyWriter and one BodyReader. */
class Channel {
  /** Ring buffer of queued chunks. */
  private readonly ring: (Uint8Array | undefined)[];
  private head = 0;
  count = 0;
  /** Sends whose bytes are not all queued yet, in call order. */
  readonly pending: PendingSend[] = [];
  /** `next()` calls waiting for data (only when the queue is empty). */
  private readonly waiters: Waiter[] = [];
  writerDone = false;
  outcome: BodyOutcome | null = null;
  private closeMessage: string | undefined;
  readonly closed: Promise<BodyOutcome>;
  private resolveClosed!: (o: BodyOutcome) => void;

  constructor(
    readonly capacity: number,
    readonly maxChunkSize: number,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('body channel capacity must be a positive integer');
    if (!Number.isSafeInteger(maxChunkSize) || maxChunkSize < 1) throw new RangeError('maxChunkSize must be a positive integer');
    this.ring = new Array<Uint8Array | undefined>(capacity);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  send(chunk: Uint8Array, transfer: boolean): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(new InvalidInputError('a body chunk must be a Uint8Array'));
    }
    if (this.outcome !== null) return Promise.reject(this.errorFor(this.outcome.how === 'finished' ? 'finished' : this.outcome.how));
    if (this.writerDone) return Promise.reject(new ChannelClosedError('finished', undefined, 'send after finish'));
    if (chunk.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ chunk, offset: 0, transfer, resolve, reject });
      this.moveSends();
    });
  }

  finish(): void {
    if (this.writerDone || this.outcome !== null) return;
    this.writerDone = true;
    this.deliverEnd();
  }

  next(): Promise<Uint8Array | null> {
    if (this.count > 0) {
      const chunk = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      // Room was made: pending sends move in, and the end may now be reachable.
      this.moveSends();
      this.deliverEnd();
      return Promise.resolve(chunk);
    }
    if (this.outcome !== null) {
      if (this.outcome.how === 'finished') return Promise.resolve(null);
      return Promise.reject(this.errorFor(this.outcome.how));
    }
    if (this.writerDone && this.pending.length === 0) {
      this.settle({ how: 'finished', streamErrorCode: undefined });
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Aborts (writer) or cancels (reader); the first close wins. */
  close(how: 'aborted' | 'cancelled', code: AppErrorCode | undefined, message: string | undefined): void {
    if (this.outcome !== null) return;
    this.closeMessage = message;
    this.settle({ how, streamErrorCode: code });
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    const error = this.errorFor(how);
    for (const p of this.pending.splice(0)) p.reject(error);
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  /** Moves bytes of pending sends into free queue slots, in order, resolving completed sends. */
  private moveSends(): void {
    while (this.pending.length > 0 && (this.count < this.capacity || this.waiters.length > 0)) {
      const p = this.pending[0]!;
      const end = Math.min(p.offset + this.maxChunkSize, p.chunk.length);
      // A transferred chunk is queued as is (or as views when split); otherwise copied once, here.
      const whole = p.offset === 0 && end === p.chunk.length;
      const view = whole ? p.chunk : p.chunk.subarray(p.offset, end);
      this.enqueue(p.transfer ? view : view.slice());
      p.offset = end;
      if (p.offset >= p.chunk.length) {
        this.pending.shift();
        p.resolve();
      }
    }
  }

  private enqueue(piece: Uint8Array): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      // The queue is empty whenever a reader waits: hand the piece over directly.
      waiter.resolve(piece);
      return;
    }
    this.ring[(this.head + this.count) % this.capacity] = piece;
    this.count++;
  }

  /** After finish: once everything was read, waiting readers get null and the channel settles. */
  private deliverEnd(): void {
    if (!this.writerDone || this.outcome !== null || this.count > 0 || this.pending.length > 0) return;
    if (this.waiters.length === 0) return; // the end is delivered by the next call to next()
    this.settle({ how: 'finished', streamErrorCode: undefined });
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  private settle(outcome: BodyOutcome): void {
    this.outcome = outcome;
    this.resolveClosed(outcome);
  }

  private errorFor(how: 'finished' | 'aborted' | 'cancelled'): ChannelClosedError {
    const code = this.outcome?.streamErrorCode;
    const who = how === 'aborted' ? 'the writer aborted' : how === 'cancelled' ? 'the reader cancelled' : 'the body is finished';
    return new ChannelClosedError(how, code, this.closeMessage ? `${who}: ${this.closeMessage}` : who);
  }
}
