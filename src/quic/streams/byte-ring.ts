/**
 * A byte store addressed by absolute stream offset, used by both stream halves: the send buffer
 * (bytes written by the application and not yet acknowledged) and the receive buffer (bytes
 * received and not yet read, possibly with gaps).
 *
 * Byte at stream offset `o` lives at `o % capacity`. The owner guarantees that the live span
 * (lowest byte still needed to highest byte stored) never exceeds the capacity; `reserve` grows
 * the ring (allocated lazily, doubling) to make room before a write. So an idle stream holds no
 * memory, a busy one holds at most its window, and writes and reads are plain copies (no per-
 * frame allocation).
 */
const MIN_CAPACITY = 4096;
const EMPTY = new Uint8Array(0);

export class ByteRing {
  private buf: Uint8Array = EMPTY;

  /** Bytes of storage currently allocated. */
  get capacity(): number {
    return this.buf.length;
  }

  /**
   * Makes sure the span [liveStart, needEnd) fits, keeping the bytes of [liveStart, liveEnd).
   * `hardMax` caps the doubling (the owner's window or buffer size); the result is always at least
   * `needEnd - liveStart`.
   */
  reserve(liveStart: number, liveEnd: number, needEnd: number, hardMax: number): void {
    const need = needEnd - liveStart;
    const cap = this.buf.length;
    if (need <= cap) return;
    let newCap = Math.max(MIN_CAPACITY, cap * 2);
    while (newCap < need) newCap *= 2;
    newCap = Math.max(need, Math.min(newCap, hardMax));
    const next = new Uint8Array(newCap);
    if (cap > 0 && liveEnd > liveStart) this.copyFromRing(this.buf, liveStart, next, liveStart, liveEnd - liveStart);
    this.buf = next;
  }

  /** Copies src[srcOffset, srcOffset+len) to stream offsets [offset, offset+len). */
  write(offset: number, src: Uint8Array, srcOffset: number, len: number): void {
    const buf = this.buf;
    const cap = buf.length;
    let pos = offset % cap;
    if (srcOffset === 0 && len === src.length && pos + len <= cap) {
      buf.set(src, pos); // common case: a whole frame, no wrap, no view allocated
      return;
    }
    let done = 0;
    while (done < len) {
      const n = Math.min(len - done, cap - pos);
      buf.set(src.subarray(srcOffset + done, srcOffset + done + n), pos);
      done += n;
      pos = 0;
    }
  }

  /** Copies stream offsets [offset, offset+len) into dest at destOffset. */
  read(offset: number, dest: Uint8Array, destOffset: number, len: number): void {
    const buf = this.buf;
    const cap = buf.length;
    let pos = offset % cap;
    let done = 0;
    while (done < len) {
      const n = Math.min(len - done, cap - pos);
      dest.set(buf.subarray(pos, pos + n), destOffset + done);
      done += n;
      pos = 0;
    }
  }

  /** Frees the storage (the next reserve allocates again). */
  release(): void {
    this.buf = EMPTY;
  }

  /** Moves [offset, offset+len) of an old ring into a new ring of a different capacity. */
  private copyFromRing(old: Uint8Array, offset: number, next: Uint8Array, nextOffset: number, len: number): void {
    const oldCap = old.length;
    const newCap = next.length;
    let done = 0;
    while (done < len) {
      const from = (offset + done) % oldCap;
      const to = (nextOffset + done) % newCap;
      const n = Math.min(len - done, oldCap - from, newCap - to);
      next.set(old.subarray(from, from + n), to);
      done += n;
    }
  }
}
