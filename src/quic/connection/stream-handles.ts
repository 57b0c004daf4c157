import { StreamResetError, UnknownStreamError } from '../streams/stream-error.js';
import type { StreamMap } from '../streams/stream-map.js';
import type { RecvStream } from '../streams/recv-stream.js';
import type { SendStream } from '../streams/send-stream.js';
import { ConnectionClosedError, type Lifecycle } from './lifecycle.js';

/**
 * The application's handles on one stream of a connection (the shape of quinn's SendStream and
 * RecvStream): every operation goes through the connection's streams and tells the connection
 * it needs service (`touched`), so its owner polls it for packets to send, a widened flow-control
 * window or a reset. Cheap to create: a handle holds the stream id and, once it found it, the part
 * it names. A stream is removed from the connection once both its parts are done; a handle that
 * saw its part keeps answering for it (reads return null, `ended` and `isDone` are true), and a
 * handle on an id that names no part here throws `UnknownStreamError`.
 */

/** What the handles need of their connection: one per connection, shared by its handles. */
export class StreamHost {
  readonly streams: StreamMap;
  private readonly lifecycle: Lifecycle;
  private readonly owner: { readonly onCommand: (() => void) | undefined };

  /** `owner`: the connection, whose `onCommand` hook is told of every change. */
  constructor(streams: StreamMap, lifecycle: Lifecycle, owner: { readonly onCommand: (() => void) | undefined }) {
    this.streams = streams;
    this.lifecycle = lifecycle;
    this.owner = owner;
  }

  /** The application changed a stream: the connection needs service. */
  touched(): void {
    this.owner.onCommand?.();
  }

  /** Throws ConnectionClosedError when the connection no longer accepts commands. */
  assertUsable(): void {
    if (this.lifecycle.isClosed) throw new ConnectionClosedError(this.lifecycle.closeReason);
  }

  /** Whether the connection is closed (resets and stops are then moot). */
  get isClosed(): boolean {
    return this.lifecycle.isClosed;
  }
}

/** The sending part of stream `id`. */
export class SendStreamHandle {
  readonly id: number;
  private readonly host: StreamHost;
  private seen: SendStream | undefined;

  constructor(host: StreamHost, id: number) {
    this.host = host;
    this.id = id;
  }

  /**
   * Every byte and the FIN were acknowledged, or the reset was (or the part is gone: the stream
   * was removed once done, or the connection closed under it).
   */
  get isDone(): boolean {
    const s = this.part();
    return s === undefined || s.isTerminal;
  }

  /** The code the part was reset with (by us, or because the peer sent STOP_SENDING), if it was. */
  get resetCode(): number | bigint | undefined {
    return this.part()?.resetCode;
  }

  /** Bytes written and not yet acknowledged. */
  get buffered(): number {
    return this.part()?.buffered ?? 0;
  }

  /**
   * Buffers what fits of `data` (the send buffer is bounded, RFC 9000 §4.1 flow control lets it
   * drain) and returns the bytes accepted. Throws StreamResetError after a reset or STOP_SENDING,
   * UnknownStreamError when the part does not exist, ConnectionClosedError once closed.
   */
  write(data: Uint8Array): number {
    this.host.touched();
    this.host.assertUsable();
    return this.existing().write(data);
  }

  /** Ends the stream after the bytes written (FIN). */
  finish(): void {
    this.host.touched();
    this.host.assertUsable();
    this.existing().finish();
  }

  /** Abandons the stream with RESET_STREAM and an application error code (RFC 9000 §19.4). */
  reset(code: number | bigint): void {
    this.host.touched();
    if (this.host.isClosed) return;
    this.existing().reset(code);
  }

  private part(): SendStream | undefined {
    return (this.seen ??= this.host.streams.get(this.id)?.send ?? undefined);
  }

  private existing(): SendStream {
    const s = this.part();
    if (!s) throw new UnknownStreamError(this.id, 'send');
    return s;
  }
}

/** The receiving part of stream `id`. */
export class RecvStreamHandle {
  readonly id: number;
  private readonly host: StreamHost;
  private seen: RecvStream | undefined;

  constructor(host: StreamHost, id: number) {
    this.host = host;
    this.id = id;
  }

  /** The part is gone: everything was delivered (and the stream removed), or it never existed. */
  get isGone(): boolean {
    return this.host.streams.get(this.id)?.recv == null;
  }

  /** Every byte up to the FIN was read. */
  get ended(): boolean {
    return this.part()?.ended ?? true;
  }

  /** The peer's RESET_STREAM code, once it arrived (RFC 9000 §19.4). */
  get resetCode(): number | bigint | undefined {
    return this.part()?.resetCode;
  }

  /** Bytes readable now, in order. */
  get available(): number {
    return this.part()?.available ?? 0;
  }

  /**
   * Reads up to `max` in-order bytes, or null when none are available. When the peer reset the
   * stream, the read that reaches the reset throws a StreamResetError carrying its code (byPeer
   * true). Reading may widen the flow-control window: the connection is told it needs service.
   */
  read(max = Number.POSITIVE_INFINITY): Uint8Array | null {
    this.host.touched();
    const r = this.part();
    if (!r) throw new UnknownStreamError(this.id, 'recv');
    const data = r.read(max);
    if (data === null && r.resetCode !== undefined) throw new StreamResetError(this.id, r.resetCode, true);
    return data;
  }

  /**
   * Like `read`, into the caller's `dest` (as much as fits and is available): returns the bytes
   * copied, 0 when none are available; throws as `read` does at the reset.
   */
  readInto(dest: Uint8Array): number {
    this.host.touched();
    const r = this.part();
    if (!r) throw new UnknownStreamError(this.id, 'recv');
    const n = r.readInto(dest, 0, dest.length);
    if (n === 0 && r.resetCode !== undefined) throw new StreamResetError(this.id, r.resetCode, true);
    return n;
  }

  /** Asks the peer to stop sending (STOP_SENDING with an application error code, RFC 9000 §19.5). */
  stop(code: number | bigint): void {
    this.host.touched();
    if (this.host.isClosed) return;
    const r = this.part();
    if (!r) throw new UnknownStreamError(this.id, 'recv');
    r.stopSending(code);
  }

  private part(): RecvStream | undefined {
    return (this.seen ??= this.host.streams.get(this.id)?.recv ?? undefined);
  }
}
