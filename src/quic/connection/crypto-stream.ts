import { RangeSet } from '../range-set.js';
import { TransportError, TransportErrorCode } from '../errors.js';

/**
 * The CRYPTO stream of one encryption level (RFC 9000 §19.6, RFC 9001 §4.1.3): the handshake
 * bytes TLS writes (sent in CRYPTO frames, retransmitted by range on loss) and the bytes the peer
 * sends (reassembled in order for TLS).
 *
 * There is no flow control on CRYPTO data; instead the bytes buffered beyond what TLS has
 * consumed are bounded (RFC 9000 §7.5: "an endpoint MAY ... CRYPTO_BUFFER_EXCEEDED"). Handshake
 * flights are a few kilobytes, so 64 KiB is generous.
 */
export const DEFAULT_CRYPTO_BUFFER = 64 * 1024;
/**
 * Most separate out-of-order ranges kept (bytes are stored once, in a window bounded by the
 * buffer limit; this bounds the bookkeeping). A handshake flight arrives in a handful of packet-sized CRYPTO
 * frames (a few dozen with retransmissions re-split differently); thousands of tiny frames are an
 * attack on the reassembly (RFC 9000 §21.7) and are refused with CRYPTO_BUFFER_EXCEEDED.
 */
export const MAX_CRYPTO_CHUNKS = 256;

const EMPTY = new Uint8Array(0);

export class CryptoStream {
  // ---- send side ----
  /**
   * Unacknowledged and unsent bytes: offsets [sendBase, sendLen). Allocated on the first write
   * and sized to need; dropped once everything is acknowledged, so an idle connection keeps no
   * handshake bytes (issue #6, heap per idle connection).
   */
  private sendBuf: Uint8Array = EMPTY;
  /** Stream offset of sendBuf[0]. */
  private sendBase = 0;
  /** Bytes TLS has written so far. */
  private sendLen = 0;
  /** Next never-sent offset. */
  private sendNext = 0;
  /** Ranges sent and declared lost, to send again (unless acknowledged meanwhile). */
  private readonly lost = new RangeSet();
  private readonly acked = new RangeSet();

  // ---- receive side ----
  /** Offset up to which data was handed to TLS. */
  private recvOffset = 0;
  /**
   * Out-of-order bytes, addressed by offset - recvOffset (so at most `maxBuffer` long), and the
   * absolute ranges of them received. Overlapping and repeated frames land on the same bytes:
   * memory is bounded by the window, not by what the peer sends (each byte stored once).
   */
  private recvBuf: Uint8Array = EMPTY;
  private readonly recvRanges = new RangeSet();
  private pendingBytes = 0;
  private readonly maxBuffer: number;

  constructor(maxBuffer = DEFAULT_CRYPTO_BUFFER) {
    this.maxBuffer = maxBuffer;
  }

  // ---------------------------------------------------------------- send

  /** Appends handshake bytes from TLS. */
  write(data: Uint8Array): void {
    const used = this.sendLen - this.sendBase;
    if (used + data.length > this.sendBuf.length) {
      let cap = Math.max(256, this.sendBuf.length * 2);
      while (cap < used + data.length) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.sendBuf.subarray(0, used));
      this.sendBuf = next;
    }
    this.sendBuf.set(data, used);
    this.sendLen += data.length;
  }

  /** True when there are bytes to send (lost ones or new ones). */
  get hasDataToSend(): boolean {
    return !this.lost.isEmpty || this.sendNext < this.sendLen;
  }

  /** True when some bytes written were never sent (lost ones are not counted). */
  get hasUnsent(): boolean {
    return this.sendNext < this.sendLen;
  }

  /** True when everything written has been acknowledged. */
  get allAcked(): boolean {
    return this.acked.hasAll(0, this.sendLen);
  }

  /**
   * The next chunk to send, at most `maxLen` bytes: lost data first, then new data. Returns the
   * offset and a view of the bytes (valid until the next `write`), or undefined. The caller puts
   * it in a CRYPTO frame and records (offset, length) in the packet's record of sent frames.
   */
  nextChunk(maxLen: number): { offset: number; data: Uint8Array } | undefined {
    if (maxLen <= 0) return undefined;
    while (!this.lost.isEmpty) {
      const start = this.lost.startAt(0);
      const end = Math.min(this.lost.endAt(0), start + maxLen);
      this.lost.remove(start, end);
      // Skip the parts acknowledged since they were declared lost.
      if (this.acked.hasAll(start, end)) continue;
      return { offset: start, data: this.sendBuf.subarray(start - this.sendBase, end - this.sendBase) };
    }
    if (this.sendNext < this.sendLen) {
      const start = this.sendNext;
      const end = Math.min(this.sendLen, start + maxLen);
      this.sendNext = end;
      return { offset: start, data: this.sendBuf.subarray(start - this.sendBase, end - this.sendBase) };
    }
    return undefined;
  }

  onAcked(offset: number, length: number): void {
    this.acked.insert(offset, offset + length);
    this.lost.remove(offset, offset + length);
    // Everything written is acknowledged: nothing can be lost or resent below sendLen any more.
    if (this.sendNext === this.sendLen && this.sendLen > this.sendBase && this.acked.hasAll(0, this.sendLen)) {
      this.sendBuf = EMPTY;
      this.sendBase = this.sendLen;
    }
  }

  onLost(offset: number, length: number): void {
    // Re-send only the gaps between acknowledged ranges (a later copy may have been acked).
    const end = offset + length;
    let at = offset;
    for (let i = 0; i < this.acked.size && at < end; i++) {
      const s = this.acked.startAt(i);
      const e = this.acked.endAt(i);
      if (e <= at) continue;
      if (s >= end) break;
      if (s > at) this.lost.insert(at, s);
      at = Math.max(at, e);
    }
    if (at < end) this.lost.insert(at, end);
  }

  /**
   * Makes every unacknowledged byte sent so far eligible again (PTO probes before the handshake
   * completes retransmit the whole unacknowledged flight, RFC 9002 §6.2.4).
   */
  requeueUnacked(): void {
    this.onLost(0, this.sendNext);
  }

  // ---------------------------------------------------------------- receive

  /**
   * A CRYPTO frame arrived. Returns the bytes now contiguous from the delivery offset, in order
   * (copies, safe to keep), possibly none. Duplicates and overlaps are trimmed.
   */
  onCryptoFrame(offset: number, data: Uint8Array, frameType = 0x06): Uint8Array[] {
    const end = offset + data.length;
    if (end <= this.recvOffset) return []; // entirely old: a retransmission
    if (end - this.recvOffset > this.maxBuffer) {
      throw new TransportError(
        TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
        `CRYPTO data ${end - this.recvOffset} bytes ahead of the handshake exceeds ${this.maxBuffer}`,
        frameType,
      );
    }
    if (offset < this.recvOffset) {
      data = data.subarray(this.recvOffset - offset);
      offset = this.recvOffset;
    }
    if (offset === this.recvOffset && this.recvRanges.isEmpty) {
      // In order with nothing waiting: the common case, one copy.
      this.recvOffset = end;
      return [data.slice()];
    }
    // Bytes are stored once, but many tiny holes still cost work per frame: bound the ranges too.
    if (this.recvRanges.size >= MAX_CRYPTO_CHUNKS && !this.recvRanges.touches(offset, end)) {
      throw new TransportError(
        TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
        `CRYPTO data out of order in more than ${MAX_CRYPTO_CHUNKS} separate ranges`,
        frameType,
      );
    }
    // Store the bytes at their place in the window (a copy: `data` views the packet).
    const rel = offset - this.recvOffset;
    if (end - this.recvOffset > this.recvBuf.length) {
      let cap = Math.max(1024, this.recvBuf.length);
      while (cap < end - this.recvOffset) cap *= 2;
      const next = new Uint8Array(Math.min(cap, this.maxBuffer));
      next.set(this.recvBuf);
      this.recvBuf = next;
    }
    this.recvBuf.set(data, rel);
    this.pendingBytes += this.recvRanges.insert(offset, end);
    if (this.recvRanges.startAt(0) !== this.recvOffset) return [];
    // The gap at the delivery offset is filled: hand out the first range, slide the window.
    const upTo = this.recvRanges.endAt(0);
    const n = upTo - this.recvOffset;
    const out = this.recvBuf.slice(0, n);
    this.recvBuf.copyWithin(0, n);
    this.recvRanges.shift();
    this.pendingBytes -= n;
    this.recvOffset = upTo;
    return [out];
  }

  /**
   * Its level's keys were discarded (RFC 9001 §4.9): nothing is sent or received here again, so
   * the buffers and range bookkeeping go (an idle connection keeps none of its handshake).
   */
  release(): void {
    this.sendBuf = EMPTY;
    this.sendBase = this.sendNext = this.sendLen;
    this.recvBuf = EMPTY;
    this.pendingBytes = 0;
    this.lost.clear();
    this.acked.clear();
    this.recvRanges.clear();
  }

  /** Bytes buffered out of order (tests, limits): never more than the buffer limit. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }
}
