import { extract as hkdfExtractNoble, expand as hkdfExpandNoble } from '@noble/hashes/hkdf.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import type { HashName } from './suites.js';

/**
 * HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label / Derive-Secret (RFC 9846 §7.1).
 *
 * @noble/hashes serves here: it is faster than node:crypto's hkdfSync for the 16-48 byte outputs
 * a key schedule derives (DESIGN.md, crypto choices). QUIC packet protection derives its keys
 * with the same function and the "quic key" / "quic iv" / "quic hp" / "quic ku" labels
 * (RFC 9001 §5.1), which is why QUIC imports it from here.
 */

const HASHES = { sha256, sha384 } as const;

/** What the transcript needs of a @noble/hashes instance. */
interface RunningHash {
  update(data: Uint8Array): unknown;
  clone(): { digest(): Uint8Array };
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

  constructor(hash: HashName) {
    this.hash = hash;
    this.h = HASHES[hash].create();
  }

  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }

  /** The hash of everything so far; the transcript can keep growing. */
  digest(): Uint8Array {
    return this.h.clone().digest();
  }
}

export function hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hkdfExtractNoble(HASHES[hash], ikm, salt);
}

export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdfExpandNoble(HASHES[hash], prk, info, length);
}

const LABEL_PREFIX = new TextEncoder().encode('tls13 ');

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
  const l = typeof label === 'string' ? new TextEncoder().encode(label) : label;
  const fullLen = LABEL_PREFIX.length + l.length;
  if (fullLen > 255 || context.length > 255) throw new RangeError('HKDF label or context too long');
  const info = new Uint8Array(2 + 1 + fullLen + 1 + context.length);
  info[0] = length >>> 8;
  info[1] = length & 0xff;
  info[2] = fullLen;
  info.set(LABEL_PREFIX, 3);
  info.set(l, 3 + LABEL_PREFIX.length);
  info[3 + fullLen] = context.length;
  info.set(context, 4 + fullLen);
  return hkdfExpand(hash, secret, info, length);
}

/** Derive-Secret(Secret, Label, Messages) with the transcript hash already computed. */
export function deriveSecret(hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}
