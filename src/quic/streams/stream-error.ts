/**
 * Errors raised by the stream modules for misuse by the local application (never for peer
 * behaviour: a peer's violation is a `TransportError` with its RFC 9000 §20 code).
 */

/** API misuse: writing after finish() or reset(), reading a stream that has no receiving part... */
export class StreamError extends Error {
  override readonly name: string = 'StreamError';
  /** Stream id concerned, -1 when not stream-specific. */
  readonly streamId: number;

  constructor(streamId: number, message: string) {
    super(streamId >= 0 ? `stream ${streamId}: ${message}` : message);
    this.streamId = streamId;
  }
}

/**
 * The peer asked us to stop sending (STOP_SENDING, RFC 9000 §3.5) or the application reset the
 * sending part: further writes fail with this error, carrying the application error code.
 */
export class StreamResetError extends StreamError {
  override readonly name: string = 'StreamResetError';
  /** Application protocol error code (up to 2^62-1, hence number | bigint). */
  readonly code: number | bigint;
  /** True when the reset was caused by the peer's STOP_SENDING, false when the application reset. */
  readonly byPeer: boolean;

  constructor(streamId: number, code: number | bigint, byPeer: boolean) {
    super(streamId, byPeer ? `peer sent STOP_SENDING (code ${code})` : `stream was reset (code ${code})`);
    this.code = code;
    this.byPeer = byPeer;
  }
}

/**
 * A stream id that names no sending (or receiving) part here: never opened, already finished and
 * removed, or a stream of the other direction (a receive-only stream has no sending part).
 */
export class UnknownStreamError extends StreamError {
  override readonly name: string = 'UnknownStreamError';
  /** The part asked for. */
  readonly part: 'send' | 'recv';

  constructor(streamId: number, part: 'send' | 'recv') {
    super(streamId, `has no ${part === 'send' ? 'sending' : 'receiving'} part here (unknown, closed or ${part === 'send' ? 'receive' : 'send'}-only)`);
    this.part = part;
  }
}
