/**
 * WebTransport over HTTP/3 on the wire (draft-ietf-webtrans-http3-02 and -07, as Chromium speaks
 * them): settings, stream signals, capsules (RFC 9297 §3.2), HTTP datagrams with the quarter stream
 * id (RFC 9297 §2.1), and the mapping of WebTransport's 32-bit application error codes into the
 * HTTP/3 error space (draft-02 §4.3, draft-07 §4.4). Pure functions: no streams, no session.
 */
import { DecodeError } from '../codec/errors.js';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';

/** SETTINGS_ENABLE_WEBTRANSPORT (draft-02 §3.1): Chromium needs it, = 1, before its CONNECT. */
export const SETTINGS_ENABLE_WEBTRANSPORT = 0x2b603742;
/** SETTINGS_WEBTRANSPORT_MAX_SESSIONS of draft-07 §3.1; a peer that sends it negotiates draft-07. */
export const SETTINGS_WEBTRANSPORT_MAX_SESSIONS = 0xc671706a;
/** SETTINGS_H3_DATAGRAM (RFC 9297 §2.1.1) and its draft-04 code point, still read by Chromium. */
export const SETTINGS_H3_DATAGRAM = 0x33;
export const SETTINGS_H3_DATAGRAM_DRAFT04 = 0xffd277;
/** SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3): extended CONNECT; draft-07 requires it. */
export const SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x08;

/** WEBTRANSPORT_STREAM: the signal that opens a bidirectional WebTransport stream (draft-02 §4.2). */
export const WT_BIDI_SIGNAL = 0x41;
/** The unidirectional stream type of a WebTransport stream (draft-02 §4.1). */
export const WT_UNI_STREAM_TYPE = 0x54;

/** Capsule types (draft-02 §5, draft-07 §5.4, §5.5). */
export const CAPSULE_CLOSE_WEBTRANSPORT_SESSION = 0x2843;
export const CAPSULE_DRAIN_WEBTRANSPORT_SESSION = 0x78ae;
/** The longest close reason (draft-02 §5: 1024 bytes of UTF-8). */
export const MAX_CLOSE_REASON_BYTES = 1024;

/** Error codes of the draft (draft-07 §9.5). */
export const WEBTRANSPORT_BUFFERED_STREAM_REJECTED = 0x3994bd84;
export const WEBTRANSPORT_SESSION_GONE = 0x170d7b68;

/** The WebTransport versions we speak; the wire format is the same for both. */
export type WebTransportDraft = 'draft-02' | 'draft-07';

/** First and last HTTP/3 code of the WebTransport application error range (draft-02 §4.3). */
const FIRST = 0x52e4a40fa8db;
const LAST = 0x52e5ac983162;

/** The HTTP/3 error code carrying WebTransport application error `n` (0 <= n < 2^32). */
export function wtCodeToHttp(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`WebTransport error code must be a 32-bit unsigned integer, got ${n}`);
  return FIRST + n + Math.floor(n / 0x1e);
}

/**
 * The WebTransport error code an HTTP/3 code carries, or undefined when it is outside the range or
 * one of its reserved (GREASE) points, 0x1f * N + 0x21 (RFC 9114 §8.1).
 */
export function httpCodeToWt(h: number | bigint): number | undefined {
  const v = typeof h === 'bigint' ? (h > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(h)) : h;
  if (!Number.isSafeInteger(v) || v < FIRST || v > LAST) return undefined;
  const shifted = v - FIRST;
  if (shifted % 0x1f === 0x1e) return undefined;
  return shifted - Math.floor(shifted / 0x1f);
}

/** A capsule (RFC 9297 §3.2): type, length, value. */
export interface Capsule {
  readonly type: number;
  readonly value: Uint8Array;
}

export function encodeCapsule(type: number, value: Uint8Array): Uint8Array {
  const w = new Writer(new Uint8Array(value.length + 16), 0, value.length + 16);
  w.varint(type);
  w.varint(value.length);
  w.bytesOf(value);
  return w.bytes();
}

/** CLOSE_WEBTRANSPORT_SESSION: a 32-bit code and a UTF-8 reason (cut to 1024 bytes at a character). */
export function encodeCloseCapsule(code: number, reason: string): Uint8Array {
  const r = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
  const v = new Uint8Array(4 + r.length);
  new DataView(v.buffer).setUint32(0, code >>> 0);
  v.set(r, 4);
  return encodeCapsule(CAPSULE_CLOSE_WEBTRANSPORT_SESSION, v);
}

/** The reason a CLOSE_WEBTRANSPORT_SESSION carries for `reason`: cut to 1024 bytes of UTF-8 at a character (as browsers cut it). */
export function cutCloseReason(reason: string): string {
  const b = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
  return b.length === reason.length ? reason : new TextDecoder().decode(b);
}

/** A CLOSE_WEBTRANSPORT_SESSION value; a short value or a long or invalid reason is a DecodeError. */
export function decodeCloseCapsule(value: Uint8Array): { code: number; reason: string } {
  if (value.length < 4) throw new DecodeError(`CLOSE_WEBTRANSPORT_SESSION of ${value.length} bytes (needs 4 for the code)`);
  if (value.length - 4 > MAX_CLOSE_REASON_BYTES) throw new DecodeError(`CLOSE_WEBTRANSPORT_SESSION reason of ${value.length - 4} bytes (at most ${MAX_CLOSE_REASON_BYTES})`);
  const code = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
  let reason: string;
  try {
    reason = new TextDecoder('utf-8', { fatal: true }).decode(value.subarray(4));
  } catch {
    throw new DecodeError('CLOSE_WEBTRANSPORT_SESSION reason is not UTF-8');
  }
  return { code, reason };
}

/**
 * Splits a capsule byte stream (the payloads of the CONNECT stream's DATA frames, concatenated):
 * complete capsules out, the incomplete tail kept for the next call.
 */
export class CapsuleParser {
  private pending: Uint8Array = new Uint8Array(0);
  /** A capsule larger than this is refused (the ones we act on are small). */
  constructor(private readonly maxCapsule = 64 * 1024) {}

  push(bytes: Uint8Array): Capsule[] {
    const buf = this.pending.length === 0 ? bytes : concatBytes(this.pending, bytes);
    const out: Capsule[] = [];
    let off = 0;
    for (;;) {
      const r = new Reader(buf.subarray(off));
      let type: number;
      let len: number;
      try {
        type = r.varint();
        len = r.varint();
      } catch {
        break; // a header not yet whole
      }
      if (len > this.maxCapsule) throw new DecodeError(`capsule 0x${type.toString(16)} of ${len} bytes (at most ${this.maxCapsule})`);
      if (r.remaining < len) break;
      const start = off + r.pos;
      out.push({ type, value: buf.slice(start, start + len) });
      off = start + len;
    }
    this.pending = buf.slice(off);
    return out;
  }

  /** Bytes of an unfinished capsule (non-zero at the end of the stream: truncated). */
  get buffered(): number {
    return this.pending.length;
  }
}

/** An HTTP datagram of session `sessionId` (RFC 9297 §2.1: the quarter stream id, then the payload). */
export function encodeDatagram(sessionId: number, payload: Uint8Array): Uint8Array {
  const w = new Writer(new Uint8Array(payload.length + 8), 0, payload.length + 8);
  w.varint(sessionId / 4);
  w.bytesOf(payload);
  return w.bytes();
}

/** The bytes before a datagram's payload for session `sessionId`. */
export function datagramOverhead(sessionId: number): number {
  const q = sessionId / 4;
  return q < 64 ? 1 : q < 16384 ? 2 : q < 2 ** 30 ? 4 : 8;
}

/** A received HTTP datagram: its session (stream id) and payload; a DecodeError when truncated. */
export function decodeDatagram(d: Uint8Array): { sessionId: number; payload: Uint8Array } {
  const r = new Reader(d);
  const q = r.varint();
  return { sessionId: q * 4, payload: d.subarray(r.pos) };
}

/** A stream's prefix: a varint signal or type (as Chromium writes it: 0x41 and 0x54 on 2 bytes), then the session id. */
export function encodeStreamPrefix(signal: number, sessionId: number): Uint8Array {
  const w = new Writer(new Uint8Array(16), 0, 16);
  w.uint(0x4000 | signal, 2);
  w.varint(sessionId);
  return w.bytes();
}

function truncateUtf8(s: string, max: number): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && ((b[end] as number) & 0xc0) === 0x80) end--; // not inside a character
  return b.slice(0, end);
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
