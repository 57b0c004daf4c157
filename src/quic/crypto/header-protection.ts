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
  const sampleOffset = sampleAt(buf, pnOffset);
  applyMask(buf, start, pnOffset, pnLen, hp.mask(buf, sampleOffset), 0);
}

/** Where the sample of a packet whose number starts at `pnOffset` is; a RangeError (a builder bug) when `buf` ends before it does. */
function sampleAt(buf: Uint8Array, pnOffset: number): number {
  const sampleOffset = pnOffset + HP_SAMPLE_OFFSET;
  if (sampleOffset + HP_SAMPLE_LENGTH > buf.length) {
    throw new RangeError(`protectHeader: no room for the sample at ${sampleOffset} in a ${buf.length}-byte buffer`);
  }
  return sampleOffset;
}

/** XORs the mask at `mask[at, at + 5)` into the first byte and the packet number (RFC 9001 §5.4.1). */
function applyMask(buf: Uint8Array, start: number, pnOffset: number, pnLen: number, mask: Uint8Array, at: number): void {
  const first = buf[start]!;
  buf[start] = first ^ (mask[at]! & ((first & 0x80) !== 0 ? 0x0f : 0x1f));
  for (let i = 0; i < pnLen; i++) buf[pnOffset + i] = buf[pnOffset + i]! ^ mask[at + 1 + i]!;
}

/**
 * Header protection deferred over a burst of packets ([perf2]): `protect` records a sealed packet
 * and copies its sample; `apply` computes the masks of every recorded packet of one AES key with
 * ONE AES-ECB call and applies them. Per packet, node:crypto's `update` costs a call into C++ and
 * a new ArrayBuffer, which V8 sweeps at the next scavenge: in the bare pipeline of the benchmark,
 * masks by the burst took the sender from ~11.3 to ~10.0 us of CPU per 1452-byte packet.
 *
 * The owner of the datagrams (the UDP driver) must call `apply` before any of their bytes leave
 * or are read: until then the recorded packets' headers are in clear. Packets of a ChaCha20 key
 * are protected at once (a cipher object per packet whatever happens), and a full batch applies
 * itself before taking more, so `protect` never fails for want of room.
 */
export class HeaderProtectionBatch {
  private readonly capacity: number;
  private readonly samples: Uint8Array;
  private readonly bufs: Uint8Array[];
  private readonly starts: number[];
  private readonly pnOffsets: number[];
  private readonly pnLens: number[];
  private readonly keys: (AesHeaderProtectionKey | null)[];
  private n = 0;

  constructor(capacity = 64) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.samples = new Uint8Array(capacity * HP_SAMPLE_LENGTH);
    this.bufs = new Array<Uint8Array>(capacity).fill(NO_BYTES);
    this.starts = new Array<number>(capacity).fill(0);
    this.pnOffsets = new Array<number>(capacity).fill(0);
    this.pnLens = new Array<number>(capacity).fill(0);
    this.keys = new Array<AesHeaderProtectionKey | null>(capacity).fill(null);
  }

  /** Packets recorded and not yet protected. */
  get pending(): number {
    return this.n;
  }

  /** `protectHeader`, deferred to the next `apply` for an AES key (same arguments, same checks). */
  protect(buf: Uint8Array, start: number, pnOffset: number, pnLen: number, hp: HeaderProtectionKey): void {
    if (!(hp instanceof AesHeaderProtectionKey)) {
      protectHeader(buf, start, pnOffset, pnLen, hp);
      return;
    }
    const sampleOffset = sampleAt(buf, pnOffset);
    if (this.n === this.capacity) this.apply();
    const k = this.n++;
    copySample(this.samples, k * HP_SAMPLE_LENGTH, buf, sampleOffset);
    this.bufs[k] = buf;
    this.starts[k] = start;
    this.pnOffsets[k] = pnOffset;
    this.pnLens[k] = pnLen;
    this.keys[k] = hp;
  }

  /** Protects every recorded packet: one AES-ECB call per run of packets of the same key. */
  apply(): void {
    const n = this.n;
    this.n = 0;
    for (let i = 0; i < n; ) {
      const j = keyRunEnd(this.keys, i, n);
      const masks = this.keys[i]!.masks(this.samples.subarray(i * HP_SAMPLE_LENGTH, j * HP_SAMPLE_LENGTH));
      for (let k = i; k < j; k++) {
        applyMask(this.bufs[k]!, this.starts[k]!, this.pnOffsets[k]!, this.pnLens[k]!, masks, (k - i) * HP_SAMPLE_LENGTH);
        // Dropped, so the batch keeps no datagram (or retired key) alive between bursts.
        this.bufs[k] = NO_BYTES;
        this.keys[k] = null;
      }
      i = j;
    }
  }
}

const NO_BYTES = new Uint8Array(0);

/** Copies the 16-byte sample at `buf[offset]` to `dst[at]` (a copy costs less than a view's heap). */
function copySample(dst: Uint8Array, at: number, buf: Uint8Array, offset: number): void {
  for (let i = 0; i < HP_SAMPLE_LENGTH; i++) dst[at + i] = buf[offset + i]!;
}

/** The end (exclusive) of the run of entries from `i` (below `n`) that share `keys[i]`: one ECB call's worth. */
function keyRunEnd(keys: readonly (AesHeaderProtectionKey | null)[], i: number, n: number): number {
  let j = i + 1;
  while (j < n && keys[j] === keys[i]) j++;
  return j;
}

/**
 * Header protection removal by the burst ([perf2]), the receiving twin of HeaderProtectionBatch:
 * the driver `add`s the samples of the datagrams it is about to hand the endpoint (their short
 * header's key found by routing), `compute`s their masks with one AES-ECB call per key, and the
 * keys then answer `mask` for those samples from here until `clear`. A mask is a function of the
 * key and the sample alone, so an answer from here is the answer `update` would give, and a
 * sample not found here (a packet that was not primed, or one primed but never opened) is
 * computed as before: priming can only save work, never change a result.
 */
export class HeaderProtectionPrimer {
  private readonly capacity: number;
  private readonly samples: Uint8Array;
  private readonly masks: Uint8Array;
  private readonly keys: (AesHeaderProtectionKey | null)[];
  /** The mask handed out (5 bytes used; `mask`'s result may be reused by the next call). */
  private readonly out = new Uint8Array(HP_SAMPLE_LENGTH);
  private n = 0;
  /** Where `take` looks first: packets are opened in the order they were primed. */
  private cursor = 0;
  private computed = false;

  constructor(capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.samples = new Uint8Array(capacity * HP_SAMPLE_LENGTH);
    this.masks = new Uint8Array(capacity * HP_SAMPLE_LENGTH);
    this.keys = new Array<AesHeaderProtectionKey | null>(capacity).fill(null);
  }

  /** Samples waiting for (or holding) their masks. */
  get size(): number {
    return this.n;
  }

  /** Masks handed out from here since the primer was made (tests, profiling). */
  hits = 0;

  /**
   * Records the sample at `buf[sampleOffset, +16)` for `hp` (ignored for a ChaCha20 key, past the
   * capacity, or once computed: those are computed when opened, as without a primer).
   */
  add(hp: HeaderProtectionKey, buf: Uint8Array, sampleOffset: number): void {
    if (this.computed || this.n === this.capacity || !(hp instanceof AesHeaderProtectionKey)) return;
    if (sampleOffset < 0 || sampleOffset + HP_SAMPLE_LENGTH > buf.length) return;
    copySample(this.samples, this.n * HP_SAMPLE_LENGTH, buf, sampleOffset);
    this.keys[this.n++] = hp;
  }

  /** Computes every recorded sample's mask (one AES-ECB call per run of one key) and lends them to their keys. */
  compute(): void {
    if (this.computed) return;
    this.computed = true;
    const n = this.n;
    for (let i = 0; i < n; ) {
      const j = keyRunEnd(this.keys, i, n);
      const key = this.keys[i]!;
      this.masks.set(key.masks(this.samples.subarray(i * HP_SAMPLE_LENGTH, j * HP_SAMPLE_LENGTH)), i * HP_SAMPLE_LENGTH);
      key.primed = this;
      i = j;
    }
  }

  /** Forgets every sample and takes the masks back from the keys. */
  clear(): void {
    for (let i = 0; i < this.n; i++) {
      this.keys[i]!.primed = null;
      this.keys[i] = null;
    }
    this.n = 0;
    this.cursor = 0;
    this.computed = false;
  }

  /** `key`'s mask of the sample at `buf[sampleOffset, +16)` if it was primed, else null. */
  take(key: AesHeaderProtectionKey, buf: Uint8Array, sampleOffset: number): Uint8Array | null {
    const s = this.samples;
    for (let k = this.cursor; k < this.n; k++) {
      if (this.keys[k] !== key) continue;
      const at = k * HP_SAMPLE_LENGTH;
      let i = 0;
      while (i < HP_SAMPLE_LENGTH && s[at + i] === buf[sampleOffset + i]) i++;
      if (i < HP_SAMPLE_LENGTH) continue;
      this.cursor = k + 1;
      this.hits++;
      for (let b = 0; b < 5; b++) this.out[b] = this.masks[at + b]!;
      return this.out;
    }
    return null;
  }
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
  /** Masks computed ahead for samples about to be opened (HeaderProtectionPrimer), while lent. */
  primed: HeaderProtectionPrimer | null = null;

  constructor(algorithm: 'aes-128-ecb' | 'aes-256-ecb', hpKey: Uint8Array) {
    this.ecb = createCipheriv(algorithm, hpKey, null);
    this.ecb.setAutoPadding(false);
  }

  mask(buf: Uint8Array, sampleOffset: number): Uint8Array {
    if (this.primed !== null) {
      const m = this.primed.take(this, buf, sampleOffset);
      if (m !== null) return m;
    }
    // Copied into one scratch rather than viewed: a subarray is ~100 bytes of heap per packet on
    // both ends, 16 byte copies cost less; update() reads its input before it returns.
    copySample(SAMPLE, 0, buf, sampleOffset);
    return this.ecb.update(SAMPLE);
  }

  /**
   * The masks of several samples at once (`samples.length` a multiple of 16): mask k is
   * `result[16k, 16k + 16)`. ECB encrypts each block on its own, so this equals `mask` per sample.
   */
  masks(samples: Uint8Array): Uint8Array {
    return this.ecb.update(samples);
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
