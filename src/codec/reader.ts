import { DecodeError } from './errors.js';
import { VARINT_SATURATED } from './varint.js';

/**
 * A cursor over a byte view. Every read checks bounds and throws `DecodeError` on truncation, so
 * decoders are written top-down without length checks of their own ("parse, don't validate").
 *
 * Views returned by `bytes()`/`vec*()` alias the underlying buffer: they are valid only while that
 * buffer lives (a pooled datagram buffer is reused after its packet is processed). Whatever must
 * outlive it is copied once, by the module that keeps it (STYLE.md rule 5).
 *
 * This cursor is the one codec shared by both layers of the core: QUIC (varints, frames, packets)
 * and TLS (u8/u16/u24-prefixed vectors). It knows nothing of either protocol.
 */
export class Reader {
  /** The whole underlying view; reads happen in [pos, end). */
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`Reader bounds [${start}, ${end}) outside a view of ${buf.length} bytes`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** Points the cursor at another view (a reader reused per packet, no allocation). */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`Reader bounds [${start}, ${end}) outside a view of ${buf.length} bytes`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** Throws unless at least `n` bytes remain. */
  need(n: number): void {
    if (this.end - this.pos < n) {
      throw new DecodeError(`truncated: need ${n} byte(s) at offset ${this.pos}, have ${this.end - this.pos}`);
    }
  }

  u8(): number {
    if (this.pos >= this.end) throw new DecodeError(`truncated: need 1 byte at offset ${this.pos}`);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u24(): number {
    this.need(3);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 3;
    return (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /** Big-endian unsigned integer of `n` bytes (1..6), as a number. */
  uint(n: number): number {
    this.need(n);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++]!;
    return v;
  }

  /** A view of the next `n` bytes (aliases the buffer). */
  bytes(n: number): Uint8Array {
    if (n < 0) throw new DecodeError(`negative length ${n}`);
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A view of everything left. */
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A sub-reader over the next `n` bytes; this reader moves past them. */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** TLS vector with a 1-byte length prefix (RFC 9846 §3.4). */
  vec8(): Uint8Array {
    return this.bytes(this.u8());
  }

  /** TLS vector with a 2-byte length prefix. */
  vec16(): Uint8Array {
    return this.bytes(this.u16());
  }

  /** TLS vector with a 3-byte length prefix. */
  vec24(): Uint8Array {
    return this.bytes(this.u24());
  }

  /** Sub-reader over a TLS vector with a 2-byte length prefix. */
  sub16(): Reader {
    return this.sub(this.u16());
  }

  /** Sub-reader over a TLS vector with a 3-byte length prefix. */
  sub24(): Reader {
    return this.sub(this.u24());
  }

  /** Throws unless every byte has been read (trailing garbage is malformed). */
  expectEnd(what = 'value'): void {
    if (this.pos !== this.end) {
      throw new DecodeError(`${this.end - this.pos} trailing byte(s) after ${what}`);
    }
  }

  /**
   * RFC 9000 §16 varint as a number. Values above 2^53-1 saturate to `VARINT_SATURATED`
   * (see the precision policy in varint.ts).
   */
  varint(): number {
    if (this.pos >= this.end) throw new DecodeError(`truncated varint at offset ${this.pos}`);
    const b = this.buf;
    const p = this.pos;
    const first = b[p]!;
    switch (first >> 6) {
      case 0:
        this.pos = p + 1;
        return first;
      case 1:
        if (this.end - p < 2) throw new DecodeError(`truncated varint at offset ${p}`);
        this.pos = p + 2;
        return ((first & 0x3f) << 8) | b[p + 1]!;
      case 2:
        if (this.end - p < 4) throw new DecodeError(`truncated varint at offset ${p}`);
        this.pos = p + 4;
        return ((first & 0x3f) * 0x1000000) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
      default: {
        if (this.end - p < 8) throw new DecodeError(`truncated varint at offset ${p}`);
        this.pos = p + 8;
        const hi = ((first & 0x3f) * 0x1000000) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
        if (hi >= 0x200000) return VARINT_SATURATED; // >= 2^53
        const lo = ((b[p + 4]! << 24) >>> 0) + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!);
        return hi * 0x100000000 + lo;
      }
    }
  }

  /** RFC 9000 §16 varint, exact: a number when <= 2^53-1, else a bigint. */
  varintExact(): number | bigint {
    const p = this.pos;
    const v = this.varint();
    if (v !== VARINT_SATURATED) return v;
    this.pos = p;
    const big = this.varintBig();
    // Exactly 2^53-1 is still a safe number: keep the "number when <= 2^53-1" promise.
    return big === BigInt(VARINT_SATURATED) ? VARINT_SATURATED : big;
  }

  /** RFC 9000 §16 varint as a bigint (vectors, exact paths). */
  varintBig(): bigint {
    if (this.pos >= this.end) throw new DecodeError(`truncated varint at offset ${this.pos}`);
    const first = this.buf[this.pos]!;
    const len = 1 << (first >> 6);
    this.need(len);
    let v = BigInt(first & 0x3f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(this.buf[this.pos + i]!);
    this.pos += len;
    return v;
  }
}
