/**
 * A buffered reader over a QUIC stream's web ReadableStream: HTTP/3 reads a stream as a sequence of
 * varints and frames (RFC 9114 §7.1) whose boundaries do not follow the chunks the transport
 * delivers. Reads wait for the bytes they need; `null` means the stream ended cleanly exactly at a
 * boundary, and an end in the middle of a value is an error the caller maps to its RFC code.
 */
import { DecodeError } from '../codec/errors.js';

/** The stream ended in the middle of something (a varint, a frame, a request line). */
export class TruncatedStreamError extends DecodeError {
  constructor(what: string) {
    super(`the stream ended inside ${what}`);
  }
}

export class StreamReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.reader = readable.getReader();
  }

  /** Bytes already received and not yet consumed. */
  get available(): number {
    return this.buffered;
  }

  /** Waits until `n` bytes are buffered or the stream ends; true when they are there. */
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const r = await this.reader.read();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** True when the stream ended and every byte was consumed (waits for either). */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Removes and returns the next `n` bytes (copied only when they span chunks). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Uint8Array;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  /** Exactly `n` bytes; throws TruncatedStreamError naming `what` when the stream ends first. */
  async readExact(n: number, what = `${n} bytes`): Promise<Uint8Array> {
    if (!(await this.fill(n))) throw new TruncatedStreamError(what);
    return this.take(n);
  }

  /**
   * A QUIC variable-length integer (RFC 9000 §16), or null when the stream ended cleanly before
   * its first byte. Values over 2^53 - 1 saturate at Number.MAX_SAFE_INTEGER (every HTTP/3 value
   * that large is a length or an id we refuse anyway).
   */
  async readVarint(what = 'a varint'): Promise<number | null> {
    if (!(await this.fill(1))) return null;
    const first = (this.chunks[0] as Uint8Array)[0] as number;
    const len = 1 << (first >> 6);
    const b = await this.readExact(len, what);
    let v = (b[0] as number) & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + (b[i] as number);
    return Math.min(v, Number.MAX_SAFE_INTEGER);
  }

  /** Up to `max` bytes, whatever is buffered first (at least 1), or null at the end. */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill(1))) return null;
    return this.take(Math.min(max, this.buffered));
  }

  /** Everything up to the end, failing with `onLimit()` once more than `limit` bytes came. */
  async readToEnd(limit: number, onLimit: () => Error): Promise<Uint8Array> {
    while (!this.ended) {
      if (this.buffered > limit) throw onLimit();
      await this.fill(this.buffered + 1);
    }
    if (this.buffered > limit) throw onLimit();
    return this.take(this.buffered);
  }

  /** Stops reading: STOP_SENDING with `code` (RFC 9000 §3.5) unless the stream already ended. */
  cancel(code: number): void {
    this.reader.cancel(code).catch(() => {});
  }
}
