/**
 * QUIC frames (RFC 9000 §19, RFC 9221 §4): the type table, the decoded frame union, the decoder
 * (with the one mapping of decode errors to FRAME_ENCODING_ERROR) and the encoder with exact size
 * functions and allocation-free helpers for the packet builder.
 */
export * from './types.js';
export type * from './frame.js';
export * from './decode.js';
export * from './encode.js';
