/**
 * The receiving part of a stream, RFC 9000 §3.2.
 *
 *   Recv --STREAM+FIN--> Size Known --all data--> Data Recvd --app read all--> Data Read
 *   Recv | Size Known --RESET_STREAM--> Reset Recvd --app told--> Reset Read
 *
 * Data arrives in any order, overlapping or duplicated; each frame's bytes are copied once into a
 * ring addressed by stream offset (`ByteRing`) and the covered ranges recorded in a `RangeSet`.
 * The ring only spans [read offset, highest offset received), which flow control bounds by the
 * window we advertised: every frame is checked against the final size (RFC 9000 §4.5) and the
 * stream and connection limits (RFC 9000 §4.1) BEFORE anything is stored, so a peer that
 * overshoots gets FLOW_CONTROL_ERROR and costs us no memory.
 *
 * Choices the RFC leaves open (RFC 9000 §3.2):
 * - RESET_STREAM in Data Recvd is suppressed: all data is here, the application reads it all.
 * - Data arriving in Reset Recvd is validated (final size) and dropped.
 * - After `stopSending` (the application will not read), received bytes are discarded and their
 *   credit is returned to the connection at once; the part then moves to a terminal state by
 *   itself when the peer's RESET_STREAM or the last byte arrives.
 */
import { TransportError, TransportErrorCode } from '../errors.js';
import { RangeSet } from '../range-set.js';
import { ByteRing } from './byte-ring.js';
import { ReceiveWindow } from './flow-control.js';

export const RecvState = {
  Recv: 'Recv',
  SizeKnown: 'SizeKnown',
  DataRecvd: 'DataRecvd',
  DataRead: 'DataRead',
  ResetRecvd: 'ResetRecvd',
  ResetRead: 'ResetRead',
} as const;
export type RecvState = (typeof RecvState)[keyof typeof RecvState];

const FRAME_RESET_STREAM = 0x04;
const FRAME_STREAM = 0x08;

/**
 * Most disjoint received ranges (the data already readable plus the islands beyond holes) one
 * stream part tracks. Flow control bounds the BYTES a peer can make us buffer, not the number of
 * holes: 1-byte frames at every other offset of a 256 KiB window would make 128 Ki ranges, and
 * inserting them in descending order costs O(n) each (O(n^2) in all). RFC 9000 §21.7 ("limiting
 * the size of tracking data structures") and §21.9 (a connection error for excessive
 * non-productive frames): a frame that would open hole number 1025 closes the connection with
 * PROTOCOL_VIOLATION. A well-behaved sender sends full packets of stream data; 1024 holes means
 * 1024 lost packets in one stream's window at once.
 */
export const MAX_RECV_RANGES = 1025;

/** Notifications to the owner (the stream map). */
export interface RecvStreamOwner {
  /** New contiguous data, the end of the stream, or a reset is ready for the application. */
  onReadable(id: number): void;
  /** A control frame (MAX_STREAM_DATA or STOP_SENDING) is due for this stream. */
  onRecvControl(id: number): void;
  /** The part reached a terminal state (Data Read or Reset Read). */
  onRecvTerminal(id: number): void;
}

export class RecvStream {
  readonly id: number;
  /** Stream-level credit we grant (initial_max_stream_data_* / MAX_STREAM_DATA). */
  readonly window: ReceiveWindow;
  private readonly conn: ReceiveWindow | null;
  private readonly owner: RecvStreamOwner | null;
  private readonly maxRanges: number;

  private _state: RecvState = RecvState.Recv;
  private readonly ring = new ByteRing();
  private readonly received = new RangeSet();
  private _readOffset = 0;
  private _highest = 0;
  private _finalSize = -1;
  private _resetCode: number | bigint | undefined;
  private stopped = false;
  private _stopCode: number | bigint = 0;
  private stopPending = false;
  private maxDataPending = false;

  constructor(
    id: number,
    window: ReceiveWindow,
    opts: { conn?: ReceiveWindow | null; owner?: RecvStreamOwner | null; maxRanges?: number } = {},
  ) {
    this.id = id;
    this.window = window;
    this.conn = opts.conn ?? null;
    this.owner = opts.owner ?? null;
    this.maxRanges = opts.maxRanges ?? MAX_RECV_RANGES;
  }

  get state(): RecvState {
    return this._state;
  }

  /** Bytes delivered to the application (or discarded after stopSending). */
  get readOffset(): number {
    return this._readOffset;
  }

  /** Highest offset received (end of the furthest byte), the flow-control credit consumed. */
  get highestOffset(): number {
    return this._highest;
  }

  /** Final size once known (FIN or RESET_STREAM), else -1. */
  get finalSize(): number {
    return this._finalSize;
  }

  /** Contiguous bytes ready to read now. */
  get available(): number {
    if (this.stopped || this.isResetState) return 0;
    return this.contiguousEnd() - this._readOffset;
  }

  /** True once every byte up to the FIN was read (Data Read). */
  get ended(): boolean {
    return this._state === RecvState.DataRead && !this.stopped;
  }

  /** The peer's reset code once the stream was reset (Reset Recvd / Reset Read), else undefined. */
  get resetCode(): number | bigint | undefined {
    return this._resetCode;
  }

  /** True in Data Read or Reset Read. */
  get isTerminal(): boolean {
    return this._state === RecvState.DataRead || this._state === RecvState.ResetRead;
  }

  /** Bytes of buffer memory held (for tests and stats). */
  get bufferCapacity(): number {
    return this.ring.capacity;
  }

  /**
   * A STREAM frame: `data` at `offset`, with FIN or not. `data` is only read during the call (its
   * bytes are copied), so it may be a view into the datagram. Throws TransportError
   * FINAL_SIZE_ERROR / FLOW_CONTROL_ERROR without changing any state.
   */
  onStreamFrame(offset: number, data: Uint8Array, fin: boolean): void {
    const len = data.length;
    const end = offset + len;
    this.checkFinalSize(end, fin, FRAME_STREAM);
    // RFC 9000 §4.1: data beyond the largest limit we advertised is a FLOW_CONTROL_ERROR. This also
    // covers offsets past 2^62-1 (RFC 9000 §19.8), which exceed any limit.
    const delta = end > this._highest ? end - this._highest : 0;
    this.window.check(delta, FRAME_STREAM);
    this.conn?.check(delta, FRAME_STREAM);
    this.checkRanges(offset, end);
    // Committed from here on.
    const prevHighest = this._highest;
    if (delta > 0) {
      this._highest = end;
      this.window.onReceived(delta);
      this.conn?.onReceived(delta);
    }
    if (fin && this._finalSize < 0) {
      this._finalSize = end;
      if (this._state === RecvState.Recv) this._state = RecvState.SizeKnown;
    }
    if (this._state !== RecvState.Recv && this._state !== RecvState.SizeKnown) return; // late data: drop
    if (this.stopped) {
      // Discarding: keep tracking coverage (to know when everything arrived), return credit at once.
      if (len > 0) this.received.insert(offset, end);
      this.discardUpTo(this._highest);
      this.maybeAllReceived();
      return;
    }
    const from = Math.max(offset, this._readOffset);
    const readableBefore = this.contiguousEnd();
    if (from < end) {
      this.ring.reserve(this._readOffset, prevHighest, end, this.window.window);
      this.ring.write(from, data, from - offset, end - from);
      this.received.insert(from, end);
    }
    const allIn = this.maybeAllReceived();
    if (this.contiguousEnd() > readableBefore || allIn) this.owner?.onReadable(this.id);
  }

  /**
   * RESET_STREAM from the peer (RFC 9000 §3.2, §4.5). Enters Reset Recvd from Recv / Size Known;
   * suppressed in Data Recvd; validates the final size in every state.
   */
  onResetStream(code: number | bigint, finalSize: number): void {
    this.checkFinalSize(finalSize, true, FRAME_RESET_STREAM);
    const delta = finalSize > this._highest ? finalSize - this._highest : 0;
    this.window.check(delta, FRAME_RESET_STREAM);
    this.conn?.check(delta, FRAME_RESET_STREAM);
    if (delta > 0) {
      this._highest = finalSize;
      this.window.onReceived(delta);
      this.conn?.onReceived(delta);
    }
    this._finalSize = finalSize;
    if (this._state !== RecvState.Recv && this._state !== RecvState.SizeKnown) return;
    this._resetCode = code;
    this.stopPending = false;
    this.maxDataPending = false;
    // The unread bytes will never be read: give their connection credit back (RFC 9000 §4.5,
    // the final size counts in full toward connection flow control).
    this.discardUpTo(finalSize);
    if (this.stopped) {
      this._state = RecvState.ResetRead; // the application is not listening any more
      this.owner?.onRecvTerminal(this.id);
    } else {
      this._state = RecvState.ResetRecvd;
      this.owner?.onReadable(this.id);
    }
  }

  /**
   * Copies up to `maxBytes` contiguous bytes into a new array, or returns null when none are ready.
   * After the last byte, `ended` is true. In Reset Recvd, the call delivers the reset: it returns
   * null, `resetCode` holds the code and the part enters Reset Read.
   */
  read(maxBytes = Number.POSITIVE_INFINITY): Uint8Array | null {
    const n = Math.min(maxBytes, this.available);
    if (n <= 0) {
      this.noDataRead();
      return null;
    }
    const out = new Uint8Array(n);
    this.consume(out, 0, n);
    return out;
  }

  /** Like `read`, into the caller's buffer. Returns the number of bytes copied (0 when none). */
  readInto(dest: Uint8Array, destOffset = 0, maxBytes = dest.length - destOffset): number {
    const n = Math.min(maxBytes, dest.length - destOffset, this.available);
    if (n <= 0) {
      this.noDataRead();
      return 0;
    }
    this.consume(dest, destOffset, n);
    return n;
  }

  /**
   * The application will not read any more (RFC 9000 §3.5): buffered and future data is discarded,
   * and a STOP_SENDING with `code` is requested once if the peer may still be sending (Recv or
   * Size Known). In Data Recvd / Reset Recvd the part ends at once.
   */
  stopSending(code: number | bigint): void {
    if (this.stopped || this.isTerminal) return;
    this.stopped = true;
    this._stopCode = code;
    this.maxDataPending = false;
    if (this._state === RecvState.DataRecvd) {
      this.discardUpTo(this._highest);
      this.enterTerminal(RecvState.DataRead);
      return;
    }
    if (this._state === RecvState.ResetRecvd) {
      this.enterTerminal(RecvState.ResetRead);
      return;
    }
    this.discardUpTo(this._highest);
    this.stopPending = true;
    this.owner?.onRecvControl(this.id);
  }

  // ---- control frames (MAX_STREAM_DATA, STOP_SENDING), drained by the stream map ----

  /** True when a MAX_STREAM_DATA is due (only in Recv, RFC 9000 §3.2). */
  get maxStreamDataDue(): boolean {
    return this.maxDataPending && this._state === RecvState.Recv && !this.stopped;
  }

  /**
   * Takes the due MAX_STREAM_DATA: the new limit (auto-tuned, see ReceiveWindow), or -1 when no
   * longer useful. A grown stream window also grows the connection window to 1.5x it.
   */
  takeMaxStreamData(now: number, smoothedRtt: number): number {
    const due = this.maxStreamDataDue;
    this.maxDataPending = false;
    if (!due) return -1;
    const before = this.window.window;
    const limit = this.window.advertise(now, smoothedRtt);
    if (this.window.window > before) this.conn?.ensureWindow(Math.floor(this.window.window * 1.5));
    return limit;
  }

  /** MAX_STREAM_DATA carrying `limit` acked. */
  onMaxStreamDataAcked(limit: number): void {
    this.window.onAdvertisedAcked(limit);
  }

  /** MAX_STREAM_DATA carrying `limit` lost: re-sent (with the current limit) if still needed. */
  onMaxStreamDataLost(limit: number): void {
    if (this._state !== RecvState.Recv || this.stopped || this.maxDataPending) return;
    if (this.window.onAdvertisedLost(limit)) {
      this.maxDataPending = true;
      this.owner?.onRecvControl(this.id);
    }
  }

  /** True when a STOP_SENDING is due. */
  get stopSendingDue(): boolean {
    return this.stopPending;
  }

  /** Takes the due STOP_SENDING code, or undefined. */
  takeStopSending(): number | bigint | undefined {
    if (!this.stopPending) return undefined;
    this.stopPending = false;
    return this._stopCode;
  }

  /**
   * STOP_SENDING lost: RFC 9000 §3.5, re-send while in Recv / Size Known (after all data or a
   * RESET_STREAM arrived, it is unnecessary).
   */
  onStopSendingLost(): void {
    if (!this.stopped || this.stopPending) return;
    if (this._state !== RecvState.Recv && this._state !== RecvState.SizeKnown) return;
    this.stopPending = true;
    this.owner?.onRecvControl(this.id);
  }

  // ---- internals ----

  private get isResetState(): boolean {
    return this._state === RecvState.ResetRecvd || this._state === RecvState.ResetRead;
  }

  /** End of the contiguous received data starting at offset 0. */
  private contiguousEnd(): number {
    return this.received.size > 0 && this.received.startAt(0) === 0 ? this.received.endAt(0) : 0;
  }

  /**
   * RFC 9000 §4.5: "Once a final size for a stream is known, it cannot change"; data at or beyond
   * the final size and a final size below data already received are FINAL_SIZE_ERROR.
   */
  private checkFinalSize(end: number, fin: boolean, frameType: number): void {
    // No closure for the error: this runs for every STREAM frame.
    const FSE = TransportErrorCode.FINAL_SIZE_ERROR;
    if (this._finalSize >= 0) {
      if (fin && end !== this._finalSize) throw new TransportError(FSE, `final size changed from ${this._finalSize} to ${end}`, frameType);
      if (end > this._finalSize) throw new TransportError(FSE, `data up to ${end} beyond final size ${this._finalSize}`, frameType);
    } else if (fin && end < this._highest) {
      throw new TransportError(FSE, `final size ${end} below data already received up to ${this._highest}`, frameType);
    }
  }

  /** Throws PROTOCOL_VIOLATION when storing [offset, end) would exceed `maxRanges` (see MAX_RECV_RANGES). */
  private checkRanges(offset: number, end: number): void {
    if (this._state !== RecvState.Recv && this._state !== RecvState.SizeKnown) return; // dropped anyway
    if (this.received.size < this.maxRanges) return;
    const from = this.stopped ? offset : Math.max(offset, this._readOffset);
    if (from >= end || this.received.touches(from, end)) return;
    throw new TransportError(
      TransportErrorCode.PROTOCOL_VIOLATION,
      `stream ${this.id}: more than ${this.maxRanges - 1} holes in the received data (RFC 9000 §21.7)`,
      FRAME_STREAM,
    );
  }

  private consume(dest: Uint8Array, destOffset: number, n: number): void {
    this.ring.read(this._readOffset, dest, destOffset, n);
    this._readOffset += n;
    if (this.window.onConsumed(n) && this._state === RecvState.Recv) {
      this.maxDataPending = true;
      this.owner?.onRecvControl(this.id);
    }
    this.conn?.onConsumed(n);
    if (this._state === RecvState.DataRecvd && this._readOffset === this._finalSize) {
      this.enterTerminal(RecvState.DataRead);
    }
  }

  /** A read found no data: deliver the end of stream or the reset. */
  private noDataRead(): void {
    if (this._state === RecvState.ResetRecvd) this.enterTerminal(RecvState.ResetRead);
    else if (this._state === RecvState.DataRecvd && this._readOffset === this._finalSize) this.enterTerminal(RecvState.DataRead);
  }

  /** Drops the unread bytes below `offset` and returns their credit to the connection. */
  private discardUpTo(offset: number): void {
    if (offset > this._readOffset) {
      const n = offset - this._readOffset;
      this._readOffset = offset;
      this.conn?.onConsumed(n);
    }
    this.ring.release();
  }

  /**
   * Size Known and every byte received: Data Recvd (or Data Read at once when discarding).
   * Returns true when the state changed.
   */
  private maybeAllReceived(): boolean {
    if (this._state !== RecvState.SizeKnown) return false;
    const all = this._finalSize === 0 || (this.received.size === 1 && this.received.startAt(0) === 0 && this.received.endAt(0) === this._finalSize);
    if (!all) return false;
    this.stopPending = false;
    if (this.stopped) this.enterTerminal(RecvState.DataRead);
    else this._state = RecvState.DataRecvd;
    return true;
  }

  private enterTerminal(state: RecvState): void {
    this._state = state;
    this.ring.release();
    this.owner?.onRecvTerminal(this.id);
  }
}
