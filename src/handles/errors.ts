/**
 * Typed errors of the handle registry, shaped to cross an FFI or worker boundary.
 *
 * Every error carries a stable string `code` (iroh-http's `CoreError` kinds, upper-case) and
 * `toFfi()` turns it into a plain object of strings and numbers, so a caller on the other side
 * of a `postMessage` or a native bridge can switch on `code` without `instanceof`.
 *
 * Application error codes (QUIC stream and connection codes, RFC 9000 §20.2) live here too:
 * they are varints, at most 2^62-1 (RFC 9000 §16), accepted as `number | bigint` and normalized
 * to a `number` when they are safe integers, to a `bigint` otherwise.
 */

/** Stable codes, one per error class. */
export const HandleErrorCode = {
  /** {@link InvalidHandleError}: a malformed, stale, wrong-kind or never-issued handle. */
  INVALID_HANDLE: 'INVALID_HANDLE',
  /** {@link HandleLimitError}: the store holds its maximum number of handles. */
  HANDLE_LIMIT: 'HANDLE_LIMIT',
  /** {@link ChannelClosedError}: the body channel was cancelled, aborted or already finished. */
  CHANNEL_CLOSED: 'CHANNEL_CLOSED',
  /** {@link BodyTooLargeError}: a payload over its limit (a datagram above the session's maximum). */
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  /** {@link InvalidInputError}: an argument of the wrong type or out of range. */
  INVALID_INPUT: 'INVALID_INPUT',
  /** {@link ConnectionFailedError}: the session or endpoint failed the operation. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** Anything thrown that is not a {@link HandleError} (see {@link toFfiError}). */
  INTERNAL: 'INTERNAL',
} as const;
export type HandleErrorCode = (typeof HandleErrorCode)[keyof typeof HandleErrorCode];

/** A QUIC application error code: an integer in [0, 2^62-1]. */
export type AppErrorCode = number | bigint;

/** The plain-object form of an error, safe to structured-clone or serialize. */
export interface FfiError {
  /** What went wrong, stable across versions: switch on this. */
  code: HandleErrorCode;
  /** The error's class name (`InvalidHandleError`...), or the thrown error's name for `INTERNAL`. */
  name: string;
  /** A human-readable description, for logs. */
  message: string;
  /** Application error code of a closed channel: a number, or a decimal string above 2^53-1. */
  streamErrorCode?: number | string;
  /** InvalidHandleError only: why the handle was rejected. */
  reason?: InvalidHandleReason;
}

/** Base class: every error the handle registry throws is one of these. */
export class HandleError extends Error {
  /** The stable code of this error's class. */
  readonly code: HandleErrorCode;

  constructor(code: HandleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** A plain object with `code`, `name` and `message` (plus class-specific fields). */
  toFfi(): FfiError {
    return { code: this.code, name: this.name, message: this.message };
  }
}

/**
 * Why a handle was rejected:
 * - `malformed`: not a safe non-negative integer, or its kind bits name no kind;
 * - `wrong-kind`: a well-formed handle of another map (a session handle given to `nextChunk`);
 * - `stale`: issued once by this map, since removed;
 * - `never-issued`: of the right kind but never handed out (index or generation not reached).
 */
export type InvalidHandleReason = 'malformed' | 'wrong-kind' | 'stale' | 'never-issued';

/** A handle that names no live entry of the expected kind: never another object. */
export class InvalidHandleError extends HandleError {
  /** Always `'InvalidHandleError'`, so the class shows in logs and survives structured cloning. */
  override readonly name = 'InvalidHandleError';
  /** The value given as a handle, whatever its type. */
  readonly handle: unknown;
  /** Why it was rejected. */
  readonly reason: InvalidHandleReason;
  /** The kind of handle that was expected (`session`, `reader`, `writer`). */
  readonly expected: string;

  constructor(handle: unknown, reason: InvalidHandleReason, expected: string, detail?: string) {
    super(
      HandleErrorCode.INVALID_HANDLE,
      `invalid ${expected} handle ${describeValue(handle)}: ${reasonText(reason)}${detail ? ` (${detail})` : ''}`,
    );
    this.handle = handle;
    this.reason = reason;
    this.expected = expected;
  }

  override toFfi(): FfiError {
    return { ...super.toFfi(), reason: this.reason };
  }
}

/** The store holds its maximum number of handles (or a slot map ran out of indices). */
export class HandleLimitError extends HandleError {
  /** Always `'HandleLimitError'`. */
  override readonly name = 'HandleLimitError';
  /** The limit that was reached. */
  readonly limit: number;

  constructor(limit: number, detail = 'handle limit reached') {
    super(HandleErrorCode.HANDLE_LIMIT, `${detail}: ${limit} handles`);
    this.limit = limit;
  }
}

/**
 * How a body channel ended, seen from the side that hit the error:
 * - `cancelled`: the reader cancelled (STOP_SENDING-like); the writer's sends reject;
 * - `aborted`: the writer aborted (RESET_STREAM-like); the reader's `next()` rejects;
 * - `finished`: the writer already finished; a later send rejects.
 */
export type ChannelClosedHow = 'cancelled' | 'aborted' | 'finished';

/**
 * A body channel is closed. `streamErrorCode` is the application code given to `cancel` or
 * `abort` (the same field name as WebTransport's `WebTransportError`, so a Session can read it
 * straight off an abort/cancel reason and put it in RESET_STREAM / STOP_SENDING).
 */
export class ChannelClosedError extends HandleError {
  /** Always `'ChannelClosedError'`. */
  override readonly name = 'ChannelClosedError';
  /** How the channel ended. */
  readonly how: ChannelClosedHow;
  /** The application error code given to `cancel` or `abort`, if any. */
  readonly streamErrorCode: AppErrorCode | undefined;

  constructor(how: ChannelClosedHow, streamErrorCode: AppErrorCode | undefined, detail?: string) {
    const codeText = streamErrorCode === undefined ? '' : ` with code ${streamErrorCode}`;
    super(HandleErrorCode.CHANNEL_CLOSED, `body channel ${how}${codeText}${detail ? `: ${detail}` : ''}`);
    this.how = how;
    this.streamErrorCode = streamErrorCode;
  }

  override toFfi(): FfiError {
    const out = super.toFfi();
    if (this.streamErrorCode !== undefined) out.streamErrorCode = codeToFfi(this.streamErrorCode);
    return out;
  }
}

/** A datagram (or other bounded payload) is over its limit. */
export class BodyTooLargeError extends HandleError {
  /** Always `'BodyTooLargeError'`. */
  override readonly name = 'BodyTooLargeError';
  /** The payload's size in bytes. */
  readonly size: number;
  /** The limit in bytes, or null when the session accepts no such payload at all (no datagrams). */
  readonly limit: number | null;

  constructor(size: number, limit: number | null, what = 'payload') {
    super(
      HandleErrorCode.BODY_TOO_LARGE,
      limit === null ? `${what} of ${size} bytes: not supported on this session` : `${what} of ${size} bytes exceeds the limit of ${limit}`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** An argument of the wrong type or out of range (a close code above 2^62-1, a non-integer...). */
export class InvalidInputError extends HandleError {
  /** Always `'InvalidInputError'`. */
  override readonly name = 'InvalidInputError';

  constructor(message: string) {
    super(HandleErrorCode.INVALID_INPUT, message);
  }
}

/** The session or endpoint failed an operation (connect, open a stream...); `cause` has details. */
export class ConnectionFailedError extends HandleError {
  /** Always `'ConnectionFailedError'`. */
  override readonly name = 'ConnectionFailedError';

  constructor(message: string, cause?: unknown) {
    super(HandleErrorCode.CONNECTION_FAILED, cause === undefined ? message : `${message}: ${messageOf(cause)}`, { cause });
  }
}

/** Converts anything thrown into an FfiError: HandleErrors keep their code, others are INTERNAL. */
export function toFfiError(e: unknown): FfiError {
  if (e instanceof HandleError) return e.toFfi();
  return { code: HandleErrorCode.INTERNAL, name: e instanceof Error ? e.name : 'Error', message: messageOf(e) };
}

// RFC 9000 §16: a varint holds at most 2^62-1; application error codes are varints (§19.4, §19.5, §19.19).
const MAX_APP_ERROR_CODE = (1n << 62n) - 1n;

/**
 * Validates a QUIC application error code: an integer in [0, 2^62-1] given as a safe-integer
 * `number` or a `bigint`. A number above 2^53-1 is rejected (it cannot be exact: pass a bigint).
 * Returns a `number` when the value is a safe integer, a `bigint` otherwise.
 */
export function checkAppErrorCode(value: unknown, what = 'error code'): AppErrorCode {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new InvalidInputError(`${what} ${describeValue(value)} is not an integer`);
    if (value < 0) throw new InvalidInputError(`${what} ${value} is negative`);
    if (value >= 2 ** 62) throw new InvalidInputError(`${what} ${value} exceeds the QUIC varint maximum (2^62-1)`);
    if (!Number.isSafeInteger(value)) throw new InvalidInputError(`${what} ${value} is above 2^53-1 and not exact: pass a bigint`);
    return value;
  }
  if (typeof value === 'bigint') {
    if (value < 0n) throw new InvalidInputError(`${what} ${value} is negative`);
    if (value > MAX_APP_ERROR_CODE) throw new InvalidInputError(`${what} ${value} exceeds the QUIC varint maximum (2^62-1)`);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  throw new InvalidInputError(`${what} must be a number or a bigint, got ${describeValue(value)}`);
}

/** The FFI form of a code: a number, or a decimal string above 2^53-1. */
export function codeToFfi(code: AppErrorCode): number | string {
  return typeof code === 'number' ? code : code.toString();
}

/** A short, bounded description of a value for error messages (never dumps a large object). */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  return typeof v;
}

function reasonText(reason: InvalidHandleReason): string {
  switch (reason) {
    case 'malformed':
      return 'not a handle (expected a non-negative safe integer with a known kind)';
    case 'wrong-kind':
      return 'a handle of another kind';
    case 'stale':
      return 'stale (its entry was removed)';
    case 'never-issued':
      return 'never issued';
  }
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'string' ? e : describeValue(e);
}
