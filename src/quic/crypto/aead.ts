import { createCipheriv, createDecipheriv, createSecretKey, type CipherGCM, type DecipherGCM, type KeyObject } from 'node:crypto';
import type { AeadName, CipherSuite } from '../../tls/suites.js';

/**
 * AEAD packet protection (RFC 9001 §5.3).
 *
 * A `PacketKey` protects the payload of packets in one direction at one key phase. It works in
 * place on the caller's buffer: the packet header (the AAD) is followed by the payload, which is
 * replaced by its ciphertext, followed by the tag. Real keys (`AeadPacketKey`, below) and null keys
 * (null.ts, for tests and benchmarks) implement the same interface, so the packet pipeline and the
 * connection never know which they hold.
 *
 * Allocation: node:crypto needs a new cipher object per AEAD operation (the nonce changes), and its
 * `update()` returns a fresh Buffer that we copy into place (Node 20 has no output-buffer API);
 * `getAuthTag()` allocates the 16-byte tag. The key object is made once per key; the nonce is
 * written into one module-wide scratch.
 */
export interface PacketKey {
  /** Length of the authentication tag appended by `seal` (16 for every QUIC v1 AEAD). */
  readonly tagLen: number;
  /** Packets that may be sealed with this key before a key update is due (RFC 9001 §6.6). */
  readonly confidentialityLimit: number;
  /** Failed `open`s tolerated with this key before the connection must close (RFC 9001 §6.6). */
  readonly integrityLimit: number;

  /**
   * Seals packet `pn` in place. The AAD is `buf[headerStart, payloadStart)` (the header up to and
   * including the unprotected packet number); the plaintext `buf[payloadStart, payloadEnd)` is
   * replaced by the ciphertext and the tag is written at `payloadEnd`. Returns the end of the
   * packet (`payloadEnd + tagLen`). Throws RangeError if the tag does not fit in `buf` (a builder
   * bug, never a peer's doing). `pathId` is the multipath path id of the packet (0 without
   * multipath, where the nonce is RFC 9001's).
   */
  seal(pn: number, buf: Uint8Array, headerStart: number, payloadStart: number, payloadEnd: number, pathId?: number): number;

  /**
   * Opens packet `pn` in place: the AAD is `buf[headerStart, payloadStart)`, the ciphertext and tag
   * are `buf[payloadStart, packetEnd)`. Returns a view of the plaintext (which has replaced the
   * ciphertext in `buf`) or `null` when authentication fails: a failed open is not an error, the
   * packet is dropped (RFC 9001 §5.3). On failure `buf` is left as it was. `pathId` as `seal`'s.
   */
  open(pn: number, buf: Uint8Array, headerStart: number, payloadStart: number, packetEnd: number, pathId?: number): Uint8Array | null;
}

/** AEAD tag length of every QUIC v1 cipher suite. */
export const AEAD_TAG_LENGTH = 16;

/** Options of every ChaCha20-Poly1305 cipher object (one object, not one per packet). */
const CHACHA_OPTIONS = Object.freeze({ authTagLength: AEAD_TAG_LENGTH });

/** A real AEAD key (AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305) backed by node:crypto. */
export class AeadPacketKey implements PacketKey {
  readonly tagLen = AEAD_TAG_LENGTH;
  readonly aead: AeadName;
  /** The suite's constants (its limits are read through it: a copy of each was a boxed number per key). */
  private readonly suite: CipherSuite;
  private readonly key: KeyObject;
  /**
   * The 12-byte IV as six 16-bit halves, big-endian: small integers in the object itself rather
   * than a typed array (~180 bytes of heap each; a live connection holds three or four of these
   * keys: heap per idle connection, issue [perf2]).
   */
  private readonly iv0: number;
  private readonly iv1: number;
  private readonly iv2: number;
  private readonly iv3: number;
  private readonly iv4: number;
  private readonly iv5: number;

  constructor(suite: CipherSuite, key: Uint8Array, iv: Uint8Array) {
    if (key.length !== suite.keyLen) throw new RangeError(`${suite.aead} key must be ${suite.keyLen} bytes, got ${key.length}`);
    if (iv.length !== suite.ivLen || iv.length !== NONCE_LENGTH) throw new RangeError(`AEAD IV must be ${suite.ivLen} bytes, got ${iv.length}`);
    this.aead = suite.aead;
    this.suite = suite;
    this.key = createSecretKey(key);
    this.iv0 = (iv[0]! << 8) | iv[1]!;
    this.iv1 = (iv[2]! << 8) | iv[3]!;
    this.iv2 = (iv[4]! << 8) | iv[5]!;
    this.iv3 = (iv[6]! << 8) | iv[7]!;
    this.iv4 = (iv[8]! << 8) | iv[9]!;
    this.iv5 = (iv[10]! << 8) | iv[11]!;
  }

  get confidentialityLimit(): number {
    return this.suite.confidentialityLimit;
  }

  get integrityLimit(): number {
    return this.suite.integrityLimit;
  }

  seal(pn: number, buf: Uint8Array, headerStart: number, payloadStart: number, payloadEnd: number, pathId = 0): number {
    const packetEnd = payloadEnd + AEAD_TAG_LENGTH;
    if (packetEnd > buf.length || headerStart > payloadStart || payloadStart > payloadEnd) {
      throw new RangeError(`seal: bad regions [${headerStart}, ${payloadStart}, ${payloadEnd}) in a ${buf.length}-byte buffer`);
    }
    const nonce = this.makeNonce(pn, pathId);
    const aad = buf.subarray(headerStart, payloadStart);
    const plaintext = buf.subarray(payloadStart, payloadEnd);
    const cipher = (this.aead === 'chacha20-poly1305'
      ? createCipheriv(this.aead, this.key, nonce, CHACHA_OPTIONS)
      : createCipheriv(this.aead, this.key, nonce)) as CipherGCM;
    // No options object: plaintextLength matters only for CCM, which QUIC v1 does not use.
    cipher.setAAD(aad);
    const ct = cipher.update(plaintext);
    buf.set(ct, payloadStart);
    // GCM and ChaCha20-Poly1305 are stream modes: update() already returned every byte.
    const rest = cipher.final();
    if (rest.length > 0) buf.set(rest, payloadStart + ct.length);
    buf.set(cipher.getAuthTag(), payloadEnd);
    return packetEnd;
  }

  open(pn: number, buf: Uint8Array, headerStart: number, payloadStart: number, packetEnd: number, pathId = 0): Uint8Array | null {
    const ctEnd = packetEnd - AEAD_TAG_LENGTH;
    if (ctEnd < payloadStart || headerStart > payloadStart || packetEnd > buf.length) return null;
    const nonce = this.makeNonce(pn, pathId);
    const decipher = (this.aead === 'chacha20-poly1305'
      ? createDecipheriv(this.aead, this.key, nonce, CHACHA_OPTIONS)
      : createDecipheriv(this.aead, this.key, nonce)) as DecipherGCM;
    decipher.setAAD(buf.subarray(headerStart, payloadStart));
    decipher.setAuthTag(buf.subarray(ctEnd, packetEnd));
    const pt = decipher.update(buf.subarray(payloadStart, ctEnd));
    try {
      decipher.final();
    } catch {
      // Authentication failed: the plaintext is not written back, the packet is dropped.
      return null;
    }
    buf.set(pt, payloadStart);
    return buf.subarray(payloadStart, ctEnd);
  }

  /**
   * RFC 9001 §5.3: "The 62 bits of the reconstructed QUIC packet number in network byte order are
   * left-padded with zeros to the size of the IV. The exclusive OR of the padded packet number and
   * the IV forms the AEAD nonce."
   *
   * With multipath (draft-ietf-quic-multipath, "Packet Protection"; rustls' `Nonce::for_path`, which
   * noq uses) the 32-bit path id goes in the four bytes before the 64-bit packet number: the nonce is
   * IV XOR (0... ‖ path id ‖ packet number). Path 0 leaves those bytes alone, so its nonce is RFC
   * 9001's.
   */
  private makeNonce(pn: number, pathId: number): Uint8Array {
    const n = NONCE;
    const lo = pn >>> 0;
    const hi = Math.floor(pn / 0x100000000) >>> 0;
    const p0 = this.iv0 ^ ((pathId >>> 16) & 0xffff);
    const p1 = this.iv1 ^ (pathId & 0xffff);
    const p2 = this.iv2 ^ (hi >>> 16);
    const p3 = this.iv3 ^ (hi & 0xffff);
    const p4 = this.iv4 ^ (lo >>> 16);
    const p5 = this.iv5 ^ (lo & 0xffff);
    n[0] = p0 >>> 8; n[1] = p0;
    n[2] = p1 >>> 8; n[3] = p1;
    n[4] = p2 >>> 8; n[5] = p2;
    n[6] = p3 >>> 8; n[7] = p3;
    n[8] = p4 >>> 8; n[9] = p4;
    n[10] = p5 >>> 8; n[11] = p5;
    return n;
  }
}

/** Every QUIC v1 AEAD's nonce (and IV) length (RFC 9001 §5.3). */
const NONCE_LENGTH = 12;
/** The nonce of the operation under way: createCipheriv copies it, so one scratch serves every key. */
const NONCE = new Uint8Array(NONCE_LENGTH);
