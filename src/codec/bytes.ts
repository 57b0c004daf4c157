/** Small byte helpers shared across the core (no allocation on the hot path unless named). */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of a byte view. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** Bytes of a hex string (whitespace allowed, case-insensitive). Throws on odd length or bad digits. */
export function fromHex(hex: string): Uint8Array {
  const s = hex.replace(/\s+/g, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new TypeError(`not a hex string: ${hex.slice(0, 40)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Byte-wise equality (not constant-time: use `constantTimeEqual` for secrets and tags). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality whose time does not depend on where the inputs differ (same-length inputs). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** A fresh copy of the concatenation (allocates: not for the per-packet path). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

export const utf8 = (s: string): Uint8Array => utf8Encoder.encode(s);
/** Decodes UTF-8, replacing invalid sequences (reason phrases come from peers). */
export const fromUtf8 = (b: Uint8Array): string => utf8Decoder.decode(b);

/**
 * The bytes of `b` as a string of char codes 0..255, one per byte (a "binary string"): a flat
 * one-byte string, ~20-40 bytes of heap for a connection ID or a reset token where a small
 * `Uint8Array` costs ~180 (its object and its ArrayBuffer). For ids kept long and read rarely,
 * and for map keys.
 */
export function toBinaryString(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

/** The bytes of a binary string (`toBinaryString`); a fresh array. */
export function fromBinaryString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Whether binary string `s` holds the bytes `b[at, at + s.length)` with `b.length - at === s.length` (not constant-time). */
export function binaryStringEquals(s: string, b: Uint8Array, at = 0): boolean {
  if (b.length - at !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[at + i]) return false;
  return true;
}

/** `binaryStringEquals` in time independent of where they differ (reset tokens). */
export function binaryStringEqualsConstantTime(s: string, b: Uint8Array, at = 0): boolean {
  if (b.length - at !== s.length) return false;
  let d = 0;
  for (let i = 0; i < s.length; i++) d |= s.charCodeAt(i) ^ b[at + i]!;
  return d === 0;
}
