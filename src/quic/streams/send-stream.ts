/**
 * The sending part of a stream, RFC 9000 §3.1.
 *
 *   Ready --STREAM/STREAM_DATA_BLOCKED sent--> Send --STREAM+FIN sent--> Data Sent --all acked--> Data Recvd
 *   Ready | Send | Data Sent --RESET_STREAM sent--> Reset Sent --RESET_STREAM acked--> Reset Recvd
 *
 * Buffer ownership: `write` COPIES the caller's bytes once into a per-stream ring (`ByteRing`).
 * Keeping references to the caller's chunks would save that copy, but nothing proves the caller
 * will not reuse or mutate its buffer before the data is acknowledged (a WritableStream sink, a
 * pooled buffer...), and a retransmission must resend identical bytes (RFC 9000 §2.2). The packet
 * builder then copies straight from the ring into the packet (`writeData`): two copies in total,
 * no allocation per frame.
 *
 * Retransmission (RFC 9000 §13.3, STYLE rule 7): recovery reports lost frames as
 * (offset, length, fin); only the parts not acknowledged since are re-queued (`lost`), and they
 * are sent before new data. The bytes stay in the ring until acknowledged: the acked PREFIX is
 * released (buffer space for new writes); acked ranges above a gap are remembered in `acked`.
 */
import { RangeSet } from '../range-set.js';
import { ByteRing } from './byte-ring.js';
import type { SendCredit } from './flow-control.js';
import { StreamError, StreamResetError } from './stream-error.js';

export const SendState = {
  Ready: 'Ready',
  Send: 'Send',
  DataSent: 'DataSent',
  DataRecvd: 'DataRecvd',
  ResetSent: 'ResetSent',
  ResetRecvd: 'ResetRecvd',
} as const;
export type SendState = (typeof SendState)[keyof typeof SendState];

/** Default send buffer per stream: bytes written and not yet acknowledged (1 MiB). */
export const DEFAULT_SEND_BUFFER = 1 << 20;

/** One STREAM frame's worth of data chosen by `nextFrame`. */
export interface StreamChunk {
  offset: number;
  length: number;
  fin: boolean;
  /** True for data sent for the first time (it consumed flow-control credit). */
  isNew: boolean;
}

/** Notifications to the owner (the stream map); every method is optional in tests. */
export interface SendStreamOwner {
  /** The stream may have something to send now (data written, credit raised, data lost). */
  onSendable(id: number): void;
  /** A control frame (RESET_STREAM or STREAM_DATA_BLOCKED) is due for this stream. */
  onSendControl(id: number): void;
  /** `nextFrame` produced a frame (round-robin rotation point). */
  onFrameTaken(id: number): void;
  /** Buffer space became available after a `write` accepted less than offered. */
  onWritable(id: number): void;
  /** The part reached a terminal state (Data Recvd or Reset Recvd). */
  onSendTerminal(id: number): void;
}

export class SendStream {
  readonly id: number;
  /** Stream-level credit from the peer (initial_max_stream_data_* / MAX_STREAM_DATA). */
  readonly credit: SendCredit;
  /** Connection-level credit shared by all streams (null: unlimited, for isolated use). */
  private readonly conn: SendCredit | null;
  private readonly owner: SendStreamOwner | null;
  /** Send buffer capacity: bytes written and not yet acknowledged. */
  readonly bufferSize: number;

  private _state: SendState = SendState.Ready;
  private readonly ring = new ByteRing();
  private readonly acked = new RangeSet();
  private readonly lost = new RangeSet();
  private _writeOffset = 0;
  private _ackedPrefix = 0;
  private _finOffset = -1;
  private finQueued = false;
  private finAcked = false;
  private writeBlocked = false;
  private _resetCode: number | bigint | undefined;
  private _resetByPeer = false;
  private _resetFinalSize = -1;
  private resetPending = false;
  private blockedPending = false;
  private readonly chunk: StreamChunk = { offset: 0, length: 0, fin: false, isNew: false };

  constructor(
    id: number,
    credit: SendCredit,
    opts: { conn?: SendCredit | null; owner?: SendStreamOwner | null; bufferSize?: number } = {},
  ) {
    this.id = id;
    this.credit = credit;
    this.conn = opts.conn ?? null;
    this.owner = opts.owner ?? null;
    this.bufferSize = opts.bufferSize ?? DEFAULT_SEND_BUFFER;
  }

  get state(): SendState {
    return this._state;
  }

  /** End of the data written by the application. */
  get writeOffset(): number {
    return this._writeOffset;
  }

  /** Next offset never sent before (= the highest offset sent, the flow-control credit used). */
  get sentOffset(): number {
    return this.credit.used;
  }

  /** Every byte below this offset is acknowledged (and released from the buffer). */
  get ackedOffset(): number {
    return this._ackedPrefix;
  }

  /** Bytes held in the buffer (written, not yet acknowledged). */
  get buffered(): number {
    return this._writeOffset - this._ackedPrefix;
  }

  /** Bytes `write` would accept now. */
  get writableBytes(): number {
    return this.canWrite ? this.bufferSize - this.buffered : 0;
  }

  /** Final size once `finish()` was called, else -1. */
  get finOffset(): number {
    return this._finOffset;
  }

  /** Code of the reset (ours, or the one copied from the peer's STOP_SENDING), else undefined. */
  get resetCode(): number | bigint | undefined {
    return this._resetCode;
  }

  /** True when the part is in Data Recvd or Reset Recvd. */
  get isTerminal(): boolean {
    return this._state === SendState.DataRecvd || this._state === SendState.ResetRecvd;
  }

  /**
   * Buffers as much of `data` as fits and returns the number of bytes accepted (0 when the buffer
   * is full: the caller waits for the owner's onWritable). Throws StreamResetError after a reset or
   * STOP_SENDING, StreamError after finish().
   */
  write(data: Uint8Array): number {
    this.assertWritable();
    const n = Math.min(data.length, this.bufferSize - this.buffered);
    if (n < data.length) this.writeBlocked = true;
    if (n <= 0) return 0;
    const start = this._writeOffset;
    this.ring.reserve(this._ackedPrefix, start, start + n, this.bufferSize);
    this.ring.write(start, data, 0, n);
    this._writeOffset = start + n;
    this.checkBlocked();
    this.owner?.onSendable(this.id);
    return n;
  }

  /** Ends the stream after the data written so far (a STREAM frame with FIN will be sent). */
  finish(): void {
    this.assertWritable();
    this._finOffset = this._writeOffset;
    this.finQueued = true;
    this.owner?.onSendable(this.id);
  }

  /**
   * Abandons the stream (RFC 9000 §3.1): RESET_STREAM with `code` and the final size = the
   * highest offset sent (RFC 9000 §4.5: the flow-control credit consumed; unsent data written by
   * the application is not counted). No effect in a terminal state or after an earlier reset.
   */
  reset(code: number | bigint): void {
    this.doReset(code, false);
  }

  /**
   * The peer sent STOP_SENDING (RFC 9000 §3.5): "An endpoint that receives a STOP_SENDING frame
   * MUST send a RESET_STREAM frame if the stream is in the Ready or Send state" and SHOULD copy its
   * code. In Data Sent we reset too (allowed, and it ends retransmissions at once).
   */
  onStopSending(code: number | bigint): void {
    this.doReset(code, true);
  }

  /** MAX_STREAM_DATA from the peer; decreases are ignored (RFC 9000 §4.1). */
  onMaxStreamData(limit: number): void {
    if (this.credit.raise(limit) && this._writeOffset > this.credit.used && this.isSending) {
      this.owner?.onSendable(this.id);
    }
  }

  /**
   * True when `nextFrame` would produce a frame: lost data or FIN to resend, or new data within
   * both stream and connection credit, or a pending FIN.
   */
  get hasDataToSend(): boolean {
    if (!this.isSending) return false;
    if (!this.lost.isEmpty || this.finOnlyReady) return true;
    return this.hasNewData && this.credit.available > 0 && (this.conn === null || this.conn.available > 0);
  }

  /** True when new data waits only for connection-level credit. */
  get blockedByConnection(): boolean {
    return (
      this.isSending &&
      this.lost.isEmpty &&
      !this.finOnlyReady &&
      this.hasNewData &&
      this.credit.available > 0 &&
      this.conn !== null &&
      this.conn.available === 0
    );
  }

  /** Offset of the frame `nextFrame` would produce, or -1 (for sizing the frame header). */
  peekNextOffset(): number {
    if (!this.isSending) return -1;
    if (!this.lost.isEmpty) return this.lost.startAt(0);
    if (this.hasNewData || this.finOnlyReady) return this.credit.used;
    return -1;
  }

  /**
   * Chooses the next STREAM frame of at most `maxDataBytes` data bytes: lost ranges first, then
   * new data within the stream and connection credit, with FIN when the frame reaches the final
   * size. Marks it in flight (recovery later calls onAcked / onLost with the same values) and
   * consumes credit for new data. Copy the bytes with `writeData`. Returns null when nothing can be
   * sent. The returned object is REUSED by the next call: copy its fields, do not keep it.
   */
  nextFrame(maxDataBytes: number): Readonly<StreamChunk> | null {
    if (!this.isSending) return null;
    const c = this.chunk;
    if (!this.lost.isEmpty) {
      const start = this.lost.startAt(0);
      const len = Math.min(this.lost.endAt(0) - start, maxDataBytes);
      if (len <= 0) return null;
      this.lost.removeBelow(start + len);
      c.offset = start;
      c.length = len;
      c.isNew = false;
      c.fin = this.takeFin(start + len);
    } else if (this.hasNewData) {
      const start = this.credit.used;
      let len = Math.min(this._writeOffset - start, maxDataBytes, this.credit.available);
      if (this.conn !== null) len = Math.min(len, this.conn.available);
      if (len <= 0) {
        this.checkBlocked();
        return null;
      }
      this.credit.consume(len);
      this.conn?.consume(len);
      c.offset = start;
      c.length = len;
      c.isNew = true;
      c.fin = this.takeFin(start + len);
      this.checkBlocked();
    } else if (this.finOnlyReady) {
      // Every byte is sent; only the FIN is missing (finish() after the last write, or FIN lost).
      c.offset = this._finOffset;
      c.length = 0;
      c.isNew = false;
      c.fin = this.takeFin(this._finOffset);
    } else {
      return null;
    }
    // RFC 9000 §3.1: sending the first STREAM frame enters Send; one with FIN enters Data Sent.
    if (this._state === SendState.Ready) this._state = SendState.Send;
    if (c.fin) this._state = SendState.DataSent;
    this.owner?.onFrameTaken(this.id);
    return c;
  }

  /**
   * Copies stream bytes [offset, offset+length) (a range returned by nextFrame, not yet acked)
   * into `dest` at `destOffset`: straight into the packet buffer, no intermediate copy.
   */
  writeData(dest: Uint8Array, destOffset: number, offset: number, length: number): void {
    if (offset < this._ackedPrefix || offset + length > this._writeOffset) {
      throw new StreamError(this.id, `writeData [${offset}, ${offset + length}) outside the buffer`);
    }
    this.ring.read(offset, dest, destOffset, length);
  }

  /**
   * A frame carrying [offset, offset+length) (+ FIN) was acknowledged. Frees the acked prefix;
   * enters Data Recvd when every byte and the FIN are acknowledged (RFC 9000 §3.1).
   */
  onAcked(offset: number, length: number, fin: boolean): void {
    if (!this.isSending) return;
    if (length > 0) {
      this.acked.insert(offset, offset + length);
      if (!this.lost.isEmpty) this.lost.remove(offset, offset + length); // spurious loss
      const prefix = this.acked.startAt(0) === 0 ? this.acked.endAt(0) : 0;
      if (prefix > this._ackedPrefix) {
        this._ackedPrefix = prefix;
        if (this.writeBlocked && this.canWrite) {
          this.writeBlocked = false;
          this.owner?.onWritable(this.id);
        }
      }
    }
    if (fin) {
      this.finAcked = true;
      this.finQueued = false;
    }
    if (this.finAcked && this._ackedPrefix === this._finOffset) {
      this._state = SendState.DataRecvd;
      this.releaseBuffers();
      this.owner?.onSendTerminal(this.id);
    }
  }

  /** A frame carrying [offset, offset+length) (+ FIN) was lost: re-queue what is not acked since. */
  onLost(offset: number, length: number, fin: boolean): void {
    if (!this.isSending) return;
    const end = offset + length;
    let cur = Math.max(offset, this._ackedPrefix);
    // Walk the acked ranges overlapping [cur, end) and queue the gaps between them.
    for (let i = 0; i < this.acked.size && cur < end; i++) {
      const s = this.acked.startAt(i);
      const e = this.acked.endAt(i);
      if (e <= cur) continue;
      if (s >= end) break;
      if (s > cur) this.lost.insert(cur, s);
      cur = Math.max(cur, e);
    }
    if (cur < end) this.lost.insert(cur, end);
    if (fin && !this.finAcked) this.finQueued = true;
    if (this.hasDataToSend) this.owner?.onSendable(this.id);
  }

  /**
   * 0-RTT was rejected (RFC 9001 §4.6.2): the peer saw nothing of this stream, so everything is
   * unsent again (nothing can have been acknowledged: the peer never opened a 0-RTT packet);
   * stream credit starts over at `limit` (the new transport parameters raise it). A FIN is due
   * again; a reset stream sends its RESET_STREAM again, with final size 0.
   */
  rewind(limit: number): void {
    this.credit.restart(limit);
    this.lost.clear();
    this.acked.clear();
    this.blockedPending = false;
    if (this._state === SendState.ResetSent) {
      this._resetFinalSize = 0;
      this.resetPending = true;
      this.owner?.onSendControl(this.id);
      return;
    }
    if (this._state === SendState.Send || this._state === SendState.DataSent) this._state = SendState.Ready;
    if (this._finOffset >= 0) this.finQueued = true;
    if (this._writeOffset > 0 || this.finQueued) this.owner?.onSendable(this.id);
  }

  // ---- control frames (RESET_STREAM, STREAM_DATA_BLOCKED), drained by the stream map ----

  /** True when a RESET_STREAM frame is due. */
  get resetDue(): boolean {
    return this.resetPending;
  }

  /** Takes the due RESET_STREAM: its code and final size. */
  takeReset(): { code: number | bigint; finalSize: number } | null {
    if (!this.resetPending || this._resetCode === undefined) return null;
    this.resetPending = false;
    return { code: this._resetCode, finalSize: this._resetFinalSize };
  }

  /** RESET_STREAM acknowledged: Reset Sent -> Reset Recvd (RFC 9000 §3.1), terminal. */
  onResetAcked(): void {
    if (this._state !== SendState.ResetSent) return;
    this._state = SendState.ResetRecvd;
    this.owner?.onSendTerminal(this.id);
  }

  /** RESET_STREAM lost: due again while we are still in Reset Sent. */
  onResetLost(): void {
    if (this._state !== SendState.ResetSent || this.resetPending) return;
    this.resetPending = true;
    this.owner?.onSendControl(this.id);
  }

  /** True when a STREAM_DATA_BLOCKED frame is due. */
  get blockedDue(): boolean {
    return this.blockedPending;
  }

  /**
   * Takes the due STREAM_DATA_BLOCKED: the stream limit at which we are blocked, or -1 when no
   * longer relevant (credit arrived meanwhile).
   */
  takeBlocked(): number {
    if (!this.blockedPending) return -1;
    this.blockedPending = false;
    if (!this.isSending || !this.credit.isBlocked) return -1;
    // RFC 9000 §3.1: sending STREAM_DATA_BLOCKED also moves Ready to Send.
    if (this._state === SendState.Ready) this._state = SendState.Send;
    return this.credit.limit;
  }

  /** STREAM_DATA_BLOCKED carrying `limit` lost: re-send only if still blocked at that limit. */
  onBlockedLost(limit: number): void {
    if (!this.isSending || this.blockedPending || !this.credit.blockedStillValid(limit)) return;
    this.blockedPending = true;
    this.owner?.onSendControl(this.id);
  }

  // ---- internals ----

  /** States in which STREAM frames may be sent (RFC 9000 §3.5: none after RESET_STREAM). */
  private get isSending(): boolean {
    return this._state === SendState.Ready || this._state === SendState.Send || this._state === SendState.DataSent;
  }

  private get canWrite(): boolean {
    return (this._state === SendState.Ready || this._state === SendState.Send) && this._finOffset < 0;
  }

  private get hasNewData(): boolean {
    return this._writeOffset > this.credit.used;
  }

  /** FIN can go out alone: it is due and every byte before it was sent and is not lost. */
  private get finOnlyReady(): boolean {
    return this.finQueued && this.credit.used === this._finOffset && this.lost.isEmpty;
  }

  /** FIN rides on a frame ending at `end` when due and `end` is the final size. */
  private takeFin(end: number): boolean {
    if (this.finQueued && end === this._finOffset) {
      this.finQueued = false;
      return true;
    }
    return false;
  }

  private assertWritable(): void {
    if (this._resetCode !== undefined) throw new StreamResetError(this.id, this._resetCode, this._resetByPeer);
    if (!this.canWrite) throw new StreamError(this.id, `cannot write in state ${this._state}${this._finOffset >= 0 ? ' (finished)' : ''}`);
  }

  /** Flags STREAM_DATA_BLOCKED (once per limit) when written data waits for stream credit. */
  private checkBlocked(): void {
    if (this.hasNewData && this.credit.markBlocked()) {
      this.blockedPending = true;
      this.owner?.onSendControl(this.id);
    }
  }

  private doReset(code: number | bigint, byPeer: boolean): void {
    if (!this.isSending) return;
    this._state = SendState.ResetSent;
    this._resetCode = code;
    this._resetByPeer = byPeer;
    this._resetFinalSize = this.credit.used;
    this.resetPending = true;
    this.blockedPending = false;
    this.finQueued = false;
    this.releaseBuffers();
    this.owner?.onSendControl(this.id);
  }

  private releaseBuffers(): void {
    this.ring.release();
    this.lost.clear();
    this.acked.clear();
  }
}
