import { sha256, sha384 } from '@noble/hashes/sha2.js';
import type { HashName } from './suites.js';
import { hmacDigest } from './crypto.js';
import { hmacSha256, hmacSha256Prefix } from './hmac-sha256.js';

/**
 * HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label / Derive-Secret (RFC 9846 §7.1).
 *
 * Built on the adapter's HMAC (crypto.ts: node:crypto's createHmac, faster here than both
 * hkdfSync and @noble/hashes for the 16-48 byte outputs a key schedule derives; a handshake
 * derives ~30 of them per end). The transcript stays on @noble/hashes: for its small messages
 * and repeated digests of a running hash it measured faster (6 updates + digests: 9 us) than
 * node:crypto's hash copy + digest (15 us). QUIC packet protection derives its keys
 * with the same function and the "quic key" / "quic iv" / "quic hp" / "quic ku" labels
 * (RFC 9001 §5.1), which is why QUIC imports it from here.
 */

const HASHES = { sha256, sha384 } as const;

/** What the transcript needs of a @noble/hashes instance. */
interface RunningHash {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
  clone(): RunningHash;
}

export function hashLength(hash: HashName): 32 | 48 {
  return hash === 'sha256' ? 32 : 48;
}

/** One-shot hash of `data`. */
export function hashBytes(hash: HashName, data: Uint8Array): Uint8Array {
  return HASHES[hash](data);
}

/** A running hash (the TLS transcript). `digest()` does not finalise: it hashes a clone. */
export class TranscriptHash {
  readonly hash: HashName;
  private readonly h: RunningHash;

  constructor(hash: HashName, running?: RunningHash) {
    this.hash = hash;
    this.h = running ?? HASHES[hash].create();
  }

  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }

  /** An independent copy that can grow apart. */
  fork(): TranscriptHash {
    return new TranscriptHash(this.hash, this.h.clone());
  }

  /** The hash of everything so far; the transcript can keep growing. */
  digest(): Uint8Array {
    return this.h.clone().digest();
  }
}

/** HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) (RFC 5869 §2.2; an empty salt is HashLen zeros). */
export function hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmacDigest(hash, salt.length === 0 ? new Uint8Array(hashLength(hash)) : salt, ikm);
}

const COUNTER_ONE = new Uint8Array([1]);

/** HKDF-Expand(PRK, info, L): T(i) = HMAC-Hash(PRK, T(i-1) | info | i), L <= 255 * HashLen (RFC 5869 §2.3). */
export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hl = hashLength(hash);
  if (!Number.isInteger(length) || length < 0 || length > 255 * hl) throw new RangeError(`HKDF-Expand length ${length} out of range`);
  // Every key schedule output (keys, IVs, secrets) fits in T(1): one HMAC, no buffers to join.
  if (length <= hl) {
    if (hash === 'sha256') return hmacSha256(prk, [info, COUNTER_ONE], length);
    const t1 = hmacDigest(hash, prk, info, COUNTER_ONE);
    return length === hl ? t1 : t1.slice(0, length);
  }
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  const counter = new Uint8Array(1);
  for (let i = 0, at = 0; at < length; i++) {
    counter[0] = i + 1;
    prev = hmacDigest(hash, prk, prev, info, counter);
    out.set(prev.subarray(0, Math.min(hl, length - at)), at);
    at += hl;
  }
  return out;
}

const LABEL_PREFIX = new TextEncoder().encode('tls13 ');
const ENCODER = new TextEncoder();
/** Encoded labels: a key schedule uses a fixed dozen ("c hs traffic", "quic key"...), ~30 per handshake. */
const LABELS = new Map<string, Uint8Array>();

function labelBytes(label: string): Uint8Array {
  let b = LABELS.get(label);
  if (b === undefined) {
    b = ENCODER.encode(label);
    if (LABELS.size < 256) LABELS.set(label, b);
  }
  return b;
}

/** Room for the largest HkdfLabel (uint16, label<7..255>, context<0..255>) and HKDF's counter byte. */
const INFO_SCRATCH = new Uint8Array(2 + 1 + 255 + 1 + 255 + 1);

/**
 * HKDF-Expand-Label(Secret, Label, Context, Length) = HKDF-Expand(Secret, HkdfLabel, Length)
 * with HkdfLabel = uint16 length ‖ opaque label<7..255> = "tls13 " + Label ‖ opaque context<0..255>
 * (RFC 9846 §7.1).
 */
export function hkdfExpandLabel(
  hash: HashName,
  secret: Uint8Array,
  label: string | Uint8Array,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const l = typeof label === 'string' ? labelBytes(label) : label;
  const fullLen = LABEL_PREFIX.length + l.length;
  if (fullLen > 255 || context.length > 255) throw new RangeError('HKDF label or context too long');
  // Written into one scratch buffer: HKDF-Expand reads `info` and keeps none of it.
  const s = INFO_SCRATCH;
  const infoLen = 2 + 1 + fullLen + 1 + context.length;
  s[0] = length >>> 8;
  s[1] = length & 0xff;
  s[2] = fullLen;
  s.set(LABEL_PREFIX, 3);
  s.set(l, 3 + LABEL_PREFIX.length);
  s[3 + fullLen] = context.length;
  s.set(context, 4 + fullLen);
  // Every key schedule output with SHA-256 is T(1) = HMAC(secret, info | 0x01): the counter goes
  // after `info` in the scratch, and the HMAC reads its prefix (no view, no parts array).
  if (hash === 'sha256' && length >= 1 && length <= 32) {
    s[infoLen] = 1;
    return hmacSha256Prefix(secret, s, infoLen + 1, length);
  }
  return hkdfExpand(hash, secret, s.subarray(0, infoLen), length);
}

/** Derive-Secret(Secret, Label, Messages) with the transcript hash already computed. */
export function deriveSecret(hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}
