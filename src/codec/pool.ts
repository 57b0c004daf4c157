/**
 * A pool of fixed-size datagram buffers (STYLE.md rule 5: buffer ownership is explicit).
 *
 * The driver acquires a buffer, the connection writes one UDP datagram into it
 * (`pollTransmit(now, buf.bytes)`), the socket sends it, and the send callback releases it: no
 * allocation per packet. Misuse fails loudly: releasing a buffer twice, releasing one that came
 * from another pool, or touching a released buffer's `bytes` through the handle all throw
 * `BufferPoolError`, because a buffer released too early is a buffer two packets share.
 *
 * Buffers are carved from slabs (one ArrayBuffer per `slabBuffers` buffers) so that a pool of a
 * few thousand buffers is a handful of allocations.
 */

export class BufferPoolError extends Error {
  override readonly name = 'BufferPoolError';
  constructor(message: string) {
    super(message);
  }
}

/** A buffer on loan from a pool. Keep the handle, not just `bytes`, so it can be released. */
export class PooledBuffer {
  /** Set by the pool; a view of exactly `pool.bufferSize` bytes. */
  private view: Uint8Array;
  /** Whether the buffer is currently on loan. */
  inUse = false;
  /** The number of bytes the user wrote, for convenience (the pool does not read it). */
  length = 0;
  /**
   * A completion callback its user binds once per buffer (a socket send's), so that lending the
   * buffer again allocates no closure; the pool never calls nor clears it.
   */
  done: ((err: Error | null) => void) | undefined = undefined;
  /** A string its user attaches to the loan (the destination address); the pool does not read it. */
  note = '';
  /**
   * A view of the buffer's first bytes its user keeps across loans (a socket send's: the last
   * datagram sent from it, reused while the next ones have its length, as full-size packets do);
   * the pool never reads nor clears it.
   */
  head: Uint8Array | undefined = undefined;
  readonly pool: BufferPool;

  constructor(pool: BufferPool, view: Uint8Array) {
    this.pool = pool;
    this.view = view;
  }

  /** The buffer's bytes; throws after release (a use-after-release is a bug). */
  get bytes(): Uint8Array {
    if (!this.inUse) throw new BufferPoolError('use of a pooled buffer after release');
    return this.view;
  }

  /** The written part, `bytes.subarray(0, length)`. */
  get filled(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Returns the buffer to its pool. */
  release(): void {
    this.pool.release(this);
  }

  /** @internal the pool's access to the view without the in-use check. */
  rawView(): Uint8Array {
    return this.view;
  }
}

export interface BufferPoolOptions {
  /** Size of every buffer in bytes (a datagram: the maximum UDP payload we send). Default 1500. */
  bufferSize?: number;
  /** Most buffers the pool will ever create; `acquire()` returns undefined beyond. Default 4096. */
  maxBuffers?: number;
  /** Buffers carved from one slab allocation. Default 64. */
  slabBuffers?: number;
}

export class BufferPool {
  readonly bufferSize: number;
  readonly maxBuffers: number;
  private readonly slabBuffers: number;
  private readonly free: PooledBuffer[] = [];
  private created = 0;
  private loaned = 0;

  constructor(opts: BufferPoolOptions = {}) {
    const size = opts.bufferSize ?? 1500;
    const max = opts.maxBuffers ?? 4096;
    const slab = opts.slabBuffers ?? 64;
    for (const [name, v] of [['bufferSize', size], ['maxBuffers', max], ['slabBuffers', slab]] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`BufferPool ${name} must be a positive integer, got ${v}`);
    }
    this.bufferSize = size;
    this.maxBuffers = max;
    this.slabBuffers = slab;
  }

  /** Buffers currently on loan. */
  get inUse(): number {
    return this.loaned;
  }

  /** Buffers created so far (on loan + free). */
  get allocated(): number {
    return this.created;
  }

  /** A buffer, or undefined when `maxBuffers` are all on loan (the caller must wait: backpressure). */
  acquire(): PooledBuffer | undefined {
    let b = this.free.pop();
    if (!b) {
      if (this.created >= this.maxBuffers) return undefined;
      this.grow();
      b = this.free.pop()!;
    }
    b.inUse = true;
    b.length = 0;
    this.loaned++;
    return b;
  }

  /** Returns `b` to the pool. Throws on a double release or a buffer of another pool. */
  release(b: PooledBuffer): void {
    if (b.pool !== this) throw new BufferPoolError('buffer released to a pool it does not belong to');
    if (!b.inUse) throw new BufferPoolError('double release of a pooled buffer');
    b.inUse = false;
    this.loaned--;
    this.free.push(b);
  }

  private grow(): void {
    const n = Math.min(this.slabBuffers, this.maxBuffers - this.created);
    const slab = new ArrayBuffer(n * this.bufferSize);
    // Push in reverse so buffers are handed out in address order (friendlier to caches).
    for (let i = n - 1; i >= 0; i--) {
      this.free.push(new PooledBuffer(this, new Uint8Array(slab, i * this.bufferSize, this.bufferSize)));
    }
    this.created += n;
  }
}
