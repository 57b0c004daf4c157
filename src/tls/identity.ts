import { DecodeError } from '../codec/errors.js';
import { bytesEqual, fromHex, toHex } from '../codec/bytes.js';
import { ed25519PublicKey } from './crypto.js';
import { isEd25519Point } from './ed25519-point.js';
import type { Random } from './random.js';

/**
 * Endpoint identities (as iroh has them): an endpoint's secret key is an Ed25519 seed
 * (RFC 8032 §5.1.5, 32 bytes); its `EndpointId` is the 32-byte Ed25519 public key, printed as 64
 * lowercase hex chars and parsed from hex or RFC 4648 base32 without padding (52 chars, any case),
 * exactly as iroh does. Parsing validates that the id is an Ed25519 point, as iroh refuses ids
 * that are not ("data is not a valid public key").
 *
 * Secret key file format (`formatSecretKeyFile` / `parseSecretKeyFile`): UTF-8 text holding the
 * 32-byte seed as 64 hex digits, optionally followed by a newline; surrounding whitespace is
 * ignored and any case is accepted. A PKCS #8 PEM file (`-----BEGIN PRIVATE KEY-----`, as written
 * by `openssl genpkey -algorithm ed25519`) is accepted too. The file layer (permissions, paths)
 * belongs to the session.
 *
 * The base32 codec (RFC 4648 §6, no padding) is exported for the ticket code.
 */

export const SECRET_KEY_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 32;

/** Why an endpoint id was refused. */
export type InvalidEndpointIdReason = 'length' | 'characters' | 'point';

/** An endpoint id that cannot be: wrong length, bad characters, or not an Ed25519 point. */
export class InvalidEndpointIdError extends Error {
  /** Always `'InvalidEndpointIdError'`. */
  override readonly name = 'InvalidEndpointIdError';
  /** What was wrong with it. */
  readonly reason: InvalidEndpointIdReason;

  constructor(reason: InvalidEndpointIdReason, message: string) {
    super(`invalid endpoint id: ${message}`);
    this.reason = reason;
  }
}

/** A secret key that cannot be: wrong length or unparseable text. */
export class InvalidSecretKeyError extends Error {
  /** Always `'InvalidSecretKeyError'`. */
  override readonly name = 'InvalidSecretKeyError';
  constructor(message: string) {
    super(`invalid secret key: ${message}`);
  }
}

/** A fresh Ed25519 secret key (the 32-byte seed) from the injected randomness. */
export function generateSecretKey(random: Random): Uint8Array {
  return random.fill(new Uint8Array(SECRET_KEY_LENGTH));
}

/**
 * A secret key from its 32 bytes (a copy). Every 32-byte string is a valid Ed25519 seed
 * (RFC 8032 §5.1.5 hashes it), so only the length is checked.
 */
export function secretKeyFromBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== SECRET_KEY_LENGTH) {
    throw new InvalidSecretKeyError(`expected ${SECRET_KEY_LENGTH} bytes, got ${bytes.length}`);
  }
  return bytes.slice();
}

/** A secret key from 64 hex digits (any case; surrounding whitespace ignored). */
export function secretKeyFromHex(hex: string): Uint8Array {
  const s = hex.trim();
  if (s.length !== 2 * SECRET_KEY_LENGTH) {
    throw new InvalidSecretKeyError(`expected ${2 * SECRET_KEY_LENGTH} hex digits, got ${s.length} characters`);
  }
  if (!HEX_RE.test(s)) throw new InvalidSecretKeyError('not a hex string');
  return fromHex(s);
}

/** The text of a secret key file: 64 lowercase hex digits and a newline. */
export function formatSecretKeyFile(secretKey: Uint8Array): string {
  return `${toHex(secretKeyFromBytes(secretKey))}\n`;
}

/** A secret key from the text of a key file: hex (the format written here) or PKCS #8 PEM. */
export function parseSecretKeyFile(text: string): Uint8Array {
  const s = text.trim();
  if (!s.startsWith('-----BEGIN')) return secretKeyFromHex(s);
  const m = /^-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]*)-----END PRIVATE KEY-----$/.exec(s);
  if (!m) throw new InvalidSecretKeyError('PEM file is not a single "PRIVATE KEY" (PKCS #8) block');
  const der = new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  // RFC 8410 §7: an Ed25519 PKCS #8 v1 key is the fixed 16-byte prefix and the 32-byte seed
  // (the OneAsymmetricKey variant with an embedded public key is not accepted).
  if (der.length !== PKCS8_PREFIX.length + SECRET_KEY_LENGTH || !bytesEqual(der.subarray(0, PKCS8_PREFIX.length), PKCS8_PREFIX)) {
    throw new InvalidSecretKeyError('PEM file is not an Ed25519 PKCS #8 private key');
  }
  return der.slice(PKCS8_PREFIX.length);
}

/**
 * The Ed25519 public key (32 bytes) of a secret key, through the TLS layer's node:crypto adapter
 * (an order of magnitude faster than the pure-JS curve).
 */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return ed25519PublicKey(secretKeyFromBytes(secretKey));
}

/** The PKCS #8 DER of an Ed25519 private key, up to its 32 key bytes (RFC 8410 §7). */
export const PKCS8_PREFIX: Uint8Array = fromHex('302e020100300506032b657004220420');

/** An endpoint's identity: its 32-byte Ed25519 public key, always a valid curve point. */
export class EndpointId {
  private readonly key: Uint8Array;

  private constructor(key: Uint8Array) {
    this.key = key;
  }

  /** The id of a secret key (no point check needed: a derived key is always valid). */
  static fromSecretKey(secretKey: Uint8Array): EndpointId {
    return new EndpointId(publicKeyOf(secretKey));
  }

  /** The id of 32 public key bytes (copied). Throws `InvalidEndpointIdError`. */
  static fromBytes(bytes: Uint8Array): EndpointId {
    if (bytes.length !== PUBLIC_KEY_LENGTH) {
      throw new InvalidEndpointIdError('length', `expected ${PUBLIC_KEY_LENGTH} bytes, got ${bytes.length}`);
    }
    assertEd25519Point(bytes);
    return new EndpointId(bytes.slice());
  }

  /**
   * Parses 64 hex digits or 52 RFC 4648 base32 characters without padding, in any case
   * (surrounding whitespace ignored). Throws `InvalidEndpointIdError`.
   */
  static parse(text: string): EndpointId {
    if (typeof text !== 'string') throw new InvalidEndpointIdError('characters', `an endpoint id is a string, got ${text === null ? 'null' : typeof text}`);
    const s = text.trim();
    let bytes: Uint8Array;
    if (s.length === 2 * PUBLIC_KEY_LENGTH) {
      if (!HEX_RE.test(s)) throw new InvalidEndpointIdError('characters', `"${clip(s)}" is not 64 hex digits`);
      bytes = fromHex(s);
    } else if (s.length === base32Length(PUBLIC_KEY_LENGTH)) {
      try {
        bytes = base32Decode(s);
      } catch (e) {
        const why = e instanceof DecodeError ? e.message : String(e);
        throw new InvalidEndpointIdError('characters', `"${clip(s)}" is not base32: ${why}`);
      }
    } else {
      throw new InvalidEndpointIdError(
        'length',
        `expected 64 hex digits or 52 base32 characters, got ${s.length} characters`,
      );
    }
    return EndpointId.fromBytes(bytes);
  }

  /** The 32 public key bytes (a view: do not modify). */
  get bytes(): Uint8Array {
    return this.key;
  }

  /** True when `other` is the same public key. */
  equals(other: EndpointId): boolean {
    return bytesEqual(this.key, other.key);
  }

  /** 64 lowercase hex digits, as iroh prints an id. */
  toString(): string {
    return toHex(this.key);
  }

  /** 52 lowercase RFC 4648 base32 characters, no padding. */
  toBase32(): string {
    return base32Encode(this.key);
  }

  /** A short form for logs: the first 10 hex digits (as iroh's `fmt_short`). */
  toShortString(): string {
    return toHex(this.key.subarray(0, 5));
  }

  /** `JSON.stringify` writes the id as its hex string. */
  toJSON(): string {
    return this.toString();
  }
}

// ---------------------------------------------------------------------------------------------
// Base32 (RFC 4648 §6), no padding.

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const B32_VALUES: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 32; i++) {
    t[B32.charCodeAt(i)] = i;
    t[B32.toUpperCase().charCodeAt(i)] = i;
  }
  return t;
})();

/** Characters of the unpadded base32 encoding of `n` bytes: ceil(8n / 5). */
export function base32Length(n: number): number {
  return Math.ceil((n * 8) / 5);
}

/** Lowercase RFC 4648 base32 of `bytes`, without padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * Bytes of an unpadded RFC 4648 base32 string, any case. Strict, as iroh's decoder
 * (data-encoding BASE32_NOPAD): no padding, no whitespace, a length that some byte count encodes
 * to (not 1, 3 or 6 mod 8), and zero trailing bits (RFC 4648 §3.5: one encoding per value).
 * Throws `DecodeError`.
 */
export function base32Decode(text: string): Uint8Array {
  const rem = text.length % 8;
  if (rem === 1 || rem === 3 || rem === 6) {
    throw new DecodeError(`base32 length ${text.length} encodes no whole number of bytes`);
  }
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B32_VALUES[c]! : -1;
    if (v < 0) throw new DecodeError(`invalid base32 character ${JSON.stringify(text[i])} at ${i}`);
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new DecodeError('base32 trailing bits are not zero');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const HEX_RE = /^[0-9a-fA-F]*$/;

const VALID_POINTS_KEPT = 1024;
const validPoints = new Set<string>();

/**
 * RFC 8032 §5.1.3 point decoding: y < p (canonical encoding) and x recoverable from y. Strict
 * (not ZIP-215), like node:crypto's verification; no key derived from a seed fails it.
 */
function assertEd25519Point(bytes: Uint8Array): void {
  // The decoding costs a field square root (ed25519-point.ts) and the same few ids are
  // parsed again and again (a ticket per dial, the peer's key per accepted session): remember
  // the last valid ones. Only valid points are kept, so the cache never hides a failure.
  const id = toHex(bytes);
  if (validPoints.has(id)) return;
  if (!isEd25519Point(bytes)) {
    throw new InvalidEndpointIdError('point', `${toHex(bytes)} is not an Ed25519 public key (no point of the curve has this encoding, RFC 8032 §5.1.3)`);
  }
  if (validPoints.size >= VALID_POINTS_KEPT) validPoints.clear();
  validPoints.add(id);
}

function clip(s: string): string {
  return s.length > 70 ? `${s.slice(0, 67)}...` : s;
}
