import { createCipheriv, createSecretKey, type Cipher, type KeyObject } from 'node:crypto';
import type { CipherSuite } from '../../tls/suites.js';

/**
 * Header protection (RFC 9001 §5.4).
 *
 * A mask computed from a 16-byte sample of the packet's ciphertext hides the low bits of the first
 * byte (among them the packet number length) and the packet number bytes. The sample starts 4
 * bytes after the start of the packet number field, as if the packet number were 4 bytes long
 * (RFC 9001 §5.4.2), so every protected packet needs pnLen + payload >= 4 bytes before the tag.
 */
export interface HeaderProtectionKey {
  /**
   * The header protection mask for the 16-byte sample at `buf[sampleOffset, sampleOffset + 16)`.
   * Only the first 5 bytes are used. The returned view may be reused by the next call.
   */
  mask(buf: Uint8Array, sampleOffset: number): Uint8Array;
}

/** Length of the ciphertext sample (RFC 9001 §5.4.2). */
export const HP_SAMPLE_LENGTH = 16;
/** The sample starts this many bytes after the start of the packet number field. */
export const HP_SAMPLE_OFFSET = 4;

/** The header protection key of a cipher suite (AES-ECB for AES-GCM suites, ChaCha20 otherwise). */
export function headerProtectionKey(suite: CipherSuite, hpKey: Uint8Array): HeaderProtectionKey {
  if (hpKey.length !== suite.keyLen) throw new RangeError(`${suite.hp} header protection key must be ${suite.keyLen} bytes`);
  return suite.hp === 'chacha20' ? new ChaChaHeaderProtectionKey(hpKey) : new AesHeaderProtectionKey(suite.hp, hpKey);
}

/**
 * Applies header protection in place to the packet starting at `start` whose packet number field
 * (`pnLen` bytes, still in clear) starts at `pnOffset`. The ciphertext must already be in place and
 * extend at least to `pnOffset + 4 + 16` (RangeError otherwise: a builder bug).
 *
 * RFC 9001 §5.4.1: long headers protect the low 4 bits of the first byte, short headers the low 5.
 */
export function protectHeader(buf: Uint8Array, start: number, pnOffset: number, pnLen: number, hp: HeaderProtectionKey): void {
  const sampleOffset = pnOffset + HP_SAMPLE_OFFSET;
  if (sampleOffset + HP_SAMPLE_LENGTH > buf.length) {
    throw new RangeError(`protectHeader: no room for the sample at ${sampleOffset} in a ${buf.length}-byte buffer`);
  }
  const mask = hp.mask(buf, sampleOffset);
  const first = buf[start]!;
  buf[start] = first ^ (mask[0]! & ((first & 0x80) !== 0 ? 0x0f : 0x1f));
  for (let i = 0; i < pnLen; i++) buf[pnOffset + i] = buf[pnOffset + i]! ^ mask[1 + i]!;
}

/**
 * Removes header protection in place from the packet `buf[start, end)` whose (protected) packet
 * number field starts at `pnOffset`. Returns the packet number length (1-4) read from the
 * unprotected first byte, or 0 when the packet is too short to hold a sample (the packet is then
 * dropped; `buf` is untouched). Afterwards `buf[start]` is the unprotected first byte (key phase,
 * reserved bits) and `buf[pnOffset, pnOffset + pnLen)` the truncated packet number.
 */
export function unprotectHeader(buf: Uint8Array, start: number, pnOffset: number, end: number, hp: HeaderProtectionKey): number {
  const sampleOffset = pnOffset + HP_SAMPLE_OFFSET;
  if (sampleOffset + HP_SAMPLE_LENGTH > end || end > buf.length || start >= pnOffset) return 0;
  const mask = hp.mask(buf, sampleOffset);
  const first = buf[start]!;
  const clear = first ^ (mask[0]! & ((first & 0x80) !== 0 ? 0x0f : 0x1f));
  buf[start] = clear;
  const pnLen = (clear & 0x03) + 1;
  for (let i = 0; i < pnLen; i++) buf[pnOffset + i] = buf[pnOffset + i]! ^ mask[1 + i]!;
  return pnLen;
}

/**
 * RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample). One ECB cipher object per key is reused for
 * every packet: with padding off, update() of one block returns that block's encryption at once
 * and the object never needs final().
 */
export class AesHeaderProtectionKey implements HeaderProtectionKey {
  private readonly ecb: Cipher;

  constructor(algorithm: 'aes-128-ecb' | 'aes-256-ecb', hpKey: Uint8Array) {
    this.ecb = createCipheriv(algorithm, hpKey, null);
    this.ecb.setAutoPadding(false);
  }

  mask(buf: Uint8Array, sampleOffset: number): Uint8Array {
    // Copied into one scratch rather than viewed: a subarray is ~100 bytes of heap per packet on
    // both ends, 16 byte copies cost less; update() reads its input before it returns.
    const s = SAMPLE;
    for (let i = 0; i < HP_SAMPLE_LENGTH; i++) s[i] = buf[sampleOffset + i]!;
    return this.ecb.update(s);
  }
}

/** The sample of the mask under way (AesHeaderProtectionKey.mask): one for every key. */
const SAMPLE = new Uint8Array(HP_SAMPLE_LENGTH);

const FIVE_ZEROS = new Uint8Array(5);

/**
 * RFC 9001 §5.4.4: counter = sample[0..3] (little-endian), nonce = sample[4..15],
 * mask = ChaCha20(hp_key, counter, nonce, {0,0,0,0,0}). Node's 'chacha20' takes exactly that
 * layout as its 16-byte IV (32-bit little-endian counter, then the 96-bit nonce), so the sample
 * is the IV. A new cipher object per packet is unavoidable (the IV changes).
 */
export class ChaChaHeaderProtectionKey implements HeaderProtectionKey {
  private readonly key: KeyObject;

  constructor(hpKey: Uint8Array) {
    this.key = createSecretKey(hpKey);
  }

  mask(buf: Uint8Array, sampleOffset: number): Uint8Array {
    const c = createCipheriv('chacha20', this.key, buf.subarray(sampleOffset, sampleOffset + HP_SAMPLE_LENGTH));
    return c.update(FIVE_ZEROS);
  }
}
