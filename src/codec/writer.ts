import { BufferOverflowError } from './errors.js';
import { VARINT_MAX_BIG, sizeVarint } from './varint.js';

/**
 * A cursor that writes into a byte view, with length back-patching.
 *
 * Two modes:
 * - fixed (`new Writer(buf)`): writes into the caller's buffer (a pooled datagram buffer on the
 *   hot path) and throws `BufferOverflowError` past its end: callers size frames first with the
 *   exact size functions, so an overflow is a bug, never a peer's doing;
 * - growable (`Writer.growable()`): for TLS messages and tests, doubles its buffer as needed.
 *
 * Length back-patching: `const at = w.beginU16(); ...body...; w.endU16(at)` writes the body's
 * length into the two bytes reserved at `at`. The same for u8/u24 (TLS vectors) and for
 * fixed-width varints (`beginVarint(2)` / `endVarint(at, 2)`: a long header's Length field).
 */
export class Writer {
  buf: Uint8Array;
  pos: number;
  /** Exclusive limit of writes in fixed mode. */
  end: number;
  private readonly grow: boolean;

  constructor(buf: Uint8Array, start = 0, end = buf.length, growable = false) {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`Writer bounds [${start}, ${end}) outside a view of ${buf.length} bytes`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.grow = growable;
  }

  /** Points a fixed writer at another buffer (a writer reused per datagram, no allocation). */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`Writer bounds [${start}, ${end}) outside a view of ${buf.length} bytes`);
    }
    if (this.grow) throw new RangeError('reset() is for fixed writers');
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  /** A writer over its own buffer that grows as needed. */
  static growable(initial = 256): Writer {
    return new Writer(new Uint8Array(initial), 0, initial, true);
  }

  /** Room left before `end` (fixed mode). */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** The bytes written since `start` (a view; copy it if the buffer is reused). */
  bytes(start = 0): Uint8Array {
    return this.buf.subarray(start, this.pos);
  }

  /** Makes room for `n` more bytes, or throws in fixed mode. */
  ensure(n: number): void {
    if (this.pos + n <= this.end) return;
    if (!this.grow) {
      throw new BufferOverflowError(`write of ${n} byte(s) at ${this.pos} overflows a buffer ending at ${this.end}`);
    }
    let cap = this.buf.length * 2 || 64;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.end = cap;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    b[this.pos++] = v >>> 8;
    b[this.pos++] = v;
  }

  u24(v: number): void {
    this.ensure(3);
    const b = this.buf;
    b[this.pos++] = v >>> 16;
    b[this.pos++] = v >>> 8;
    b[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    b[this.pos++] = v >>> 24;
    b[this.pos++] = v >>> 16;
    b[this.pos++] = v >>> 8;
    b[this.pos++] = v;
  }

  /** Big-endian unsigned integer of `n` bytes (1..6). */
  uint(v: number, n: number): void {
    this.ensure(n);
    for (let i = n - 1; i >= 0; i--) {
      this.buf[this.pos + i] = v & 0xff;
      v = Math.floor(v / 256);
    }
    this.pos += n;
  }

  bytesOf(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** `n` zero bytes (PADDING frames are zero bytes). */
  zeros(n: number): void {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  /** Moves the cursor forward `n` bytes without writing (the caller fills them later). */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** TLS vectors: write a 1/2/3-byte length prefix followed by `src`. */
  vec8(src: Uint8Array): void {
    this.u8(src.length);
    this.bytesOf(src);
  }

  vec16(src: Uint8Array): void {
    this.u16(src.length);
    this.bytesOf(src);
  }

  vec24(src: Uint8Array): void {
    this.u24(src.length);
    this.bytesOf(src);
  }

  beginU8(): number {
    return this.reserve(1);
  }

  endU8(at: number): void {
    const len = this.pos - at - 1;
    if (len > 0xff) throw new RangeError(`length ${len} does not fit a u8 prefix`);
    this.buf[at] = len;
  }

  beginU16(): number {
    return this.reserve(2);
  }

  endU16(at: number): void {
    const len = this.pos - at - 2;
    if (len > 0xffff) throw new RangeError(`length ${len} does not fit a u16 prefix`);
    this.buf[at] = len >>> 8;
    this.buf[at + 1] = len;
  }

  beginU24(): number {
    return this.reserve(3);
  }

  endU24(at: number): void {
    const len = this.pos - at - 3;
    if (len > 0xffffff) throw new RangeError(`length ${len} does not fit a u24 prefix`);
    this.buf[at] = len >>> 16;
    this.buf[at + 1] = len >>> 8;
    this.buf[at + 2] = len;
  }

  /** Reserves a varint length field of fixed width `width` (1, 2, 4 or 8 bytes). */
  beginVarint(width: 1 | 2 | 4 | 8): number {
    return this.reserve(width);
  }

  /** Back-patches the bytes written after the reserved field as its value. */
  endVarint(at: number, width: 1 | 2 | 4 | 8): void {
    writeVarintAt(this.buf, at, this.pos - at - width, width);
  }

  /** RFC 9000 §16 varint, shortest encoding. `v`: integer 0..2^53-1. */
  varint(v: number): void {
    if (v < 0x40) {
      this.ensure(1);
      this.buf[this.pos++] = v;
    } else if (v < 0x4000) {
      this.ensure(2);
      this.buf[this.pos++] = 0x40 | (v >>> 8);
      this.buf[this.pos++] = v;
    } else if (v < 0x40000000) {
      this.ensure(4);
      const b = this.buf;
      b[this.pos++] = 0x80 | (v >>> 24);
      b[this.pos++] = v >>> 16;
      b[this.pos++] = v >>> 8;
      b[this.pos++] = v;
    } else {
      this.ensure(8);
      writeVarintAt(this.buf, this.pos, v, 8);
      this.pos += 8;
    }
  }

  /** Varint with a forced width (must be able to hold `v`). */
  varintWidth(v: number, width: 1 | 2 | 4 | 8): void {
    this.ensure(width);
    writeVarintAt(this.buf, this.pos, v, width);
    this.pos += width;
  }

  /** Varint from a number or a bigint, shortest encoding; RangeError above 2^62-1. */
  varintExact(v: number | bigint): void {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
      this.varint(v);
      return;
    }
    this.varintBig(v);
  }

  varintBig(v: bigint): void {
    if (v < 0n || v > VARINT_MAX_BIG) throw new RangeError(`varint out of range: ${v}`);
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.varint(Number(v));
      return;
    }
    this.ensure(8);
    for (let i = 7; i >= 0; i--) {
      this.buf[this.pos + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.buf[this.pos] = this.buf[this.pos]! | 0xc0;
    this.pos += 8;
  }
}

/** Writes `v` as a varint of exactly `width` bytes at `at`. RangeError when it does not fit. */
export function writeVarintAt(buf: Uint8Array, at: number, v: number, width: 1 | 2 | 4 | 8): void {
  if (!(v >= 0) || sizeVarint(v) > width || !Number.isSafeInteger(v)) {
    throw new RangeError(`value ${v} does not fit a ${width}-byte varint`);
  }
  switch (width) {
    case 1:
      buf[at] = v;
      return;
    case 2:
      buf[at] = 0x40 | (v >>> 8);
      buf[at + 1] = v;
      return;
    case 4:
      buf[at] = 0x80 | (v >>> 24);
      buf[at + 1] = v >>> 16;
      buf[at + 2] = v >>> 8;
      buf[at + 3] = v;
      return;
    default: {
      const hi = Math.floor(v / 0x100000000);
      const lo = v >>> 0;
      buf[at] = 0xc0 | (hi >>> 24);
      buf[at + 1] = hi >>> 16;
      buf[at + 2] = hi >>> 8;
      buf[at + 3] = hi;
      buf[at + 4] = lo >>> 24;
      buf[at + 5] = lo >>> 16;
      buf[at + 6] = lo >>> 8;
      buf[at + 7] = lo;
    }
  }
}
