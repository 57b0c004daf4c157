/**
 * HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6) and the typed errors of the HTTP layer.
 *
 * An `H3Error` carries the code that goes on the wire: a connection error closes the QUIC
 * connection with it (CONNECTION_CLOSE of type 0x1d), a stream error resets the stream with it.
 * A peer's malformed input always becomes one of these, never an uncaught exception.
 */

/** RFC 9114 §8.1 and RFC 9204 §6: application error codes of HTTP/3 and QPACK. */
export const H3_NO_ERROR = 0x100;
export const H3_GENERAL_PROTOCOL_ERROR = 0x101;
export const H3_INTERNAL_ERROR = 0x102;
export const H3_STREAM_CREATION_ERROR = 0x103;
export const H3_CLOSED_CRITICAL_STREAM = 0x104;
export const H3_FRAME_UNEXPECTED = 0x105;
export const H3_FRAME_ERROR = 0x106;
export const H3_EXCESSIVE_LOAD = 0x107;
export const H3_ID_ERROR = 0x108;
export const H3_SETTINGS_ERROR = 0x109;
export const H3_MISSING_SETTINGS = 0x10a;
export const H3_REQUEST_REJECTED = 0x10b;
export const H3_REQUEST_CANCELLED = 0x10c;
export const H3_REQUEST_INCOMPLETE = 0x10d;
export const H3_MESSAGE_ERROR = 0x10e;
export const H3_CONNECT_ERROR = 0x10f;
export const H3_VERSION_FALLBACK = 0x110;
export const QPACK_DECOMPRESSION_FAILED = 0x200;
export const QPACK_ENCODER_STREAM_ERROR = 0x201;
export const QPACK_DECODER_STREAM_ERROR = 0x202;

const NAMES: Record<number, string> = {
  [H3_NO_ERROR]: 'H3_NO_ERROR',
  [H3_GENERAL_PROTOCOL_ERROR]: 'H3_GENERAL_PROTOCOL_ERROR',
  [H3_INTERNAL_ERROR]: 'H3_INTERNAL_ERROR',
  [H3_STREAM_CREATION_ERROR]: 'H3_STREAM_CREATION_ERROR',
  [H3_CLOSED_CRITICAL_STREAM]: 'H3_CLOSED_CRITICAL_STREAM',
  [H3_FRAME_UNEXPECTED]: 'H3_FRAME_UNEXPECTED',
  [H3_FRAME_ERROR]: 'H3_FRAME_ERROR',
  [H3_EXCESSIVE_LOAD]: 'H3_EXCESSIVE_LOAD',
  [H3_ID_ERROR]: 'H3_ID_ERROR',
  [H3_SETTINGS_ERROR]: 'H3_SETTINGS_ERROR',
  [H3_MISSING_SETTINGS]: 'H3_MISSING_SETTINGS',
  [H3_REQUEST_REJECTED]: 'H3_REQUEST_REJECTED',
  [H3_REQUEST_CANCELLED]: 'H3_REQUEST_CANCELLED',
  [H3_REQUEST_INCOMPLETE]: 'H3_REQUEST_INCOMPLETE',
  [H3_MESSAGE_ERROR]: 'H3_MESSAGE_ERROR',
  [H3_CONNECT_ERROR]: 'H3_CONNECT_ERROR',
  [H3_VERSION_FALLBACK]: 'H3_VERSION_FALLBACK',
  [QPACK_DECOMPRESSION_FAILED]: 'QPACK_DECOMPRESSION_FAILED',
  [QPACK_ENCODER_STREAM_ERROR]: 'QPACK_ENCODER_STREAM_ERROR',
  [QPACK_DECODER_STREAM_ERROR]: 'QPACK_DECODER_STREAM_ERROR',
};

/** The RFC name of an HTTP/3 or QPACK error code, or its hex value. */
export function h3ErrorName(code: number | bigint): string {
  return NAMES[Number(code)] ?? `0x${code.toString(16)}`;
}

/** A protocol error of HTTP/3 or QPACK, with the code that goes on the wire. */
export class H3Error extends Error {
  override readonly name = 'H3Error';
  /** The RFC 9114 / RFC 9204 error code. */
  readonly code: number;
  /** 'connection': the whole connection is closed with `code`; 'stream': only one request fails. */
  readonly scope: 'connection' | 'stream';

  constructor(code: number, message: string, scope: 'connection' | 'stream' = 'connection') {
    super(`${h3ErrorName(code)}: ${message}`);
    this.code = code;
    this.scope = scope;
  }
}

/**
 * A request that did not produce a file: a status other than 200, a reset stream, a closed
 * connection, a malformed response. `status` is the HTTP status when the server sent one.
 */
export class HttpRequestError extends Error {
  override readonly name = 'HttpRequestError';
  readonly path: string;
  readonly status: number | undefined;

  constructor(path: string, message: string, status?: number) {
    super(`${path}: ${message}`);
    this.path = path;
    this.status = status;
  }
}
