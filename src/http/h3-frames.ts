/**
 * HTTP/3 framing (RFC 9114 §7): frame and stream types, settings, and the codecs of the frames a
 * GET needs: DATA, HEADERS, SETTINGS, GOAWAY (others are recognised to be refused or skipped).
 */
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { DecodeError } from '../codec/errors.js';
import { H3Error, H3_FRAME_ERROR, H3_SETTINGS_ERROR } from './errors.js';
import type { StreamReader } from './stream-reader.js';

/** RFC 9114 §7.2 frame types. */
export const FRAME_DATA = 0x00;
export const FRAME_HEADERS = 0x01;
export const FRAME_CANCEL_PUSH = 0x03;
export const FRAME_SETTINGS = 0x04;
export const FRAME_PUSH_PROMISE = 0x05;
export const FRAME_GOAWAY = 0x07;
export const FRAME_MAX_PUSH_ID = 0x0d;

/** RFC 9114 §7.2.8: frame types of HTTP/2 with no HTTP/3 meaning; receiving one is H3_FRAME_UNEXPECTED. */
export const HTTP2_ONLY_FRAMES: ReadonlySet<number> = new Set([0x02, 0x06, 0x08, 0x09]);

/** RFC 9114 §6.2 and RFC 9204 §4.2 unidirectional stream types. */
export const STREAM_CONTROL = 0x00;
export const STREAM_PUSH = 0x01;
export const STREAM_QPACK_ENCODER = 0x02;
export const STREAM_QPACK_DECODER = 0x03;

/** RFC 9204 §5 and RFC 9114 §7.2.4.1 settings. */
export const SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0x01;
export const SETTINGS_MAX_FIELD_SECTION_SIZE = 0x06;
export const SETTINGS_QPACK_BLOCKED_STREAMS = 0x07;
/** RFC 9114 §7.2.4.1: HTTP/2 settings that must not appear (H3_SETTINGS_ERROR). */
const HTTP2_ONLY_SETTINGS: ReadonlySet<number> = new Set([0x00, 0x02, 0x03, 0x04, 0x05]);

/** True for the reserved frame and stream types 0x1f * N + 0x21 (RFC 9114 §7.2.8, §6.2.3). */
export function isReservedType(t: number): boolean {
  return t >= 0x21 && (t - 0x21) % 0x1f === 0;
}

/** A frame's type and payload length, read before its payload. */
export interface FrameHeader {
  readonly type: number;
  readonly length: number;
}

/**
 * Reads the next frame header, or null when the stream ended cleanly between frames. A stream that
 * ends inside a frame header is H3_FRAME_ERROR (RFC 9114 §7.1).
 */
export async function readFrameHeader(r: StreamReader): Promise<FrameHeader | null> {
  try {
    const type = await r.readVarint('a frame type');
    if (type === null) return null;
    const length = await r.readVarint('a frame length');
    if (length === null) throw new H3Error(H3_FRAME_ERROR, 'stream ended after a frame type');
    return { type, length };
  } catch (e) {
    if (e instanceof DecodeError) throw new H3Error(H3_FRAME_ERROR, e.message);
    throw e;
  }
}

/** Reads a whole frame payload of `length` bytes; ending early is H3_FRAME_ERROR. */
export async function readFramePayload(r: StreamReader, length: number): Promise<Uint8Array> {
  try {
    return await r.readExact(length, 'a frame payload');
  } catch (e) {
    if (e instanceof DecodeError) throw new H3Error(H3_FRAME_ERROR, e.message);
    throw e;
  }
}

/** A frame: type varint, length varint, payload (RFC 9114 §7.1). */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const w = new Writer(new Uint8Array(payload.length + 16), 0, payload.length + 16);
  w.varint(type);
  w.varint(payload.length);
  w.bytesOf(payload);
  return w.bytes();
}

/** Only the header of a DATA frame, for a body written in pieces after it. */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const w = new Writer(new Uint8Array(16), 0, 16);
  w.varint(type);
  w.varint(length);
  return w.bytes();
}

/** A SETTINGS frame (RFC 9114 §7.2.4): identifier/value pairs, in the order given. */
export function encodeSettings(settings: ReadonlyMap<number, number>): Uint8Array {
  const w = new Writer(new Uint8Array(16 * settings.size + 1), 0, 16 * settings.size + 1);
  for (const [id, v] of settings) {
    w.varint(id);
    w.varint(v);
  }
  return encodeFrame(FRAME_SETTINGS, w.bytes());
}

/**
 * A SETTINGS payload. Errors (RFC 9114 §7.2.4): a truncated pair is H3_FRAME_ERROR; a duplicate
 * identifier or an HTTP/2 setting is H3_SETTINGS_ERROR. Unknown identifiers are kept (and ignored
 * by the caller, §7.2.4.1).
 */
export function decodeSettings(payload: Uint8Array): Map<number, number> {
  const r = new Reader(payload);
  const out = new Map<number, number>();
  try {
    while (!r.atEnd) {
      const id = r.varint();
      const v = r.varint();
      if (out.has(id)) throw new H3Error(H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} appears twice`);
      if (HTTP2_ONLY_SETTINGS.has(id)) throw new H3Error(H3_SETTINGS_ERROR, `HTTP/2 setting 0x${id.toString(16)} in HTTP/3`);
      out.set(id, v);
    }
  } catch (e) {
    if (e instanceof DecodeError) throw new H3Error(H3_FRAME_ERROR, `SETTINGS: ${e.message}`);
    throw e;
  }
  return out;
}

/** A GOAWAY frame carrying a stream id (from a server) or push id (from a client), §7.2.6. */
export function encodeGoaway(id: number): Uint8Array {
  const w = new Writer(new Uint8Array(8), 0, 8);
  w.varint(id);
  return encodeFrame(FRAME_GOAWAY, w.bytes());
}

/** A GOAWAY payload: exactly one varint, else H3_FRAME_ERROR. */
export function decodeGoaway(payload: Uint8Array): number {
  const r = new Reader(payload);
  try {
    const id = r.varint();
    r.expectEnd('GOAWAY');
    return id;
  } catch (e) {
    if (e instanceof DecodeError) throw new H3Error(H3_FRAME_ERROR, `GOAWAY: ${e.message}`);
    throw e;
  }
}

/** A unidirectional stream's type prefix (RFC 9114 §6.2). */
export function encodeStreamType(type: number): Uint8Array {
  const w = new Writer(new Uint8Array(8), 0, 8);
  w.varint(type);
  return w.bytes();
}
