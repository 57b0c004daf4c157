/**
 * QUIC transport error codes (RFC 9000 §20.1) and the typed errors of the core.
 *
 * Every failure caused by a peer becomes a `TransportError`: the connection closes with its code,
 * frame type and reason, and nothing else is affected. TLS alerts become CRYPTO_ERROR codes
 * 0x100 + alert (RFC 9001 §4.8).
 */

export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** 0x0100-0x01ff: CRYPTO_ERROR, the low byte is the TLS alert. */
  CRYPTO_ERROR: 0x100,
} as const;
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

const NAMES = new Map<number, string>(Object.entries(TransportErrorCode).map(([k, v]) => [v, k]));

/** RFC name of a transport error code (`CRYPTO_ERROR(0x178)` for the crypto range). */
export function transportErrorName(code: number): string {
  if (code >= 0x100 && code <= 0x1ff) return `CRYPTO_ERROR(0x${code.toString(16)})`;
  return NAMES.get(code) ?? `UNKNOWN(0x${code.toString(16)})`;
}

/** A connection error to be signalled with a transport CONNECTION_CLOSE (frame type 0x1c). */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  /** RFC 9000 §20.1 code (0x100 + alert for TLS failures). */
  readonly code: number;
  /** Type of the frame that triggered the error, 0 when unknown or not frame-related. */
  readonly frameType: number;
  /** Reason phrase sent to the peer (keep it short: it goes in a CONNECTION_CLOSE). */
  readonly reason: string;

  constructor(code: number, reason: string, frameType = 0) {
    super(`${transportErrorName(code)}: ${reason}${frameType ? ` (frame 0x${frameType.toString(16)})` : ''}`);
    this.code = code;
    this.reason = reason;
    this.frameType = frameType;
  }
}

/** Shorthand constructors, named as in the RFC. */
export const frameEncodingError = (reason: string, frameType = 0): TransportError =>
  new TransportError(TransportErrorCode.FRAME_ENCODING_ERROR, reason, frameType);
export const protocolViolation = (reason: string, frameType = 0): TransportError =>
  new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, reason, frameType);
export const transportParameterError = (reason: string): TransportError =>
  new TransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, reason);
