/**
 * The one error every decoder throws on malformed or truncated input.
 *
 * A `DecodeError` never reaches the application: the frame, packet and transport-parameter
 * decoders turn it into a `TransportError` with the RFC 9000 §20 code that fits where it
 * happened (FRAME_ENCODING_ERROR, TRANSPORT_PARAMETER_ERROR, ...), and the TLS engine turns it
 * into a `decode_error` alert. Keeping one error type here is what lets that mapping live in one
 * place per layer.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(message: string) {
    super(message);
  }
}

/** Thrown by a fixed-capacity `Writer` asked to write past its end: a bug in a size function. */
export class BufferOverflowError extends Error {
  override readonly name = 'BufferOverflowError';
  constructor(message: string) {
    super(message);
  }
}
