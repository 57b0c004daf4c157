/**
 * HMAC-SHA-256 (RFC 2104 over FIPS 180-4 SHA-256) in plain JavaScript, for the short inputs of a
 * key schedule.
 *
 * Why not node:crypto: `createHmac` builds a native object per call, ~4.8 us here for a 32-byte
 * key and a 30-byte message, and a handshake does ~40 of them per end (HKDF-Extract/Expand-Label
 * for the TLS and QUIC secrets and keys, Finished). The work itself is 4 SHA-256 block
 * compressions (inner pad, message, outer pad, inner hash), ~1 us in JS, and the pads' states are
 * kept: per `HmacSha256` object (an endpoint's stateless reset and token keys) and for the last
 * key of `hmacSha256` (HKDF-Expand-Label derives key, iv and hp from one secret in a row), so a
 * known key costs 2 compressions. @noble/hashes' hmac measured ~11 us (5.6 us with a cloned
 * keyed instance): its per-call objects dominate. Checked against node:crypto in
 * test/unit/tls/hmac-sha256.test.ts and by the RFC 8448 key schedule vectors.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** FIPS 180-4 §5.3.3: the initial hash value. */
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const BLOCK = 64;
const W = new Int32Array(64);

/** FIPS 180-4 §6.2.2: one compression of the 64-byte block at `block[at..]` into `state`. */
function compress(state: Int32Array, block: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) {
    W[i] = (block[at]! << 24) | (block[at + 1]! << 16) | (block[at + 2]! << 8) | block[at + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0; state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0; state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0; state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0; state[7] = (state[7]! + h) | 0;
}

/** Scratch: the block being filled and the running state (one thread, no re-entry). */
const buf = new Uint8Array(BLOCK);
const state = new Int32Array(8);

/**
 * Feeds `parts` into `state`, after `done` bytes already compressed into it, and finishes the hash
 * (FIPS 180-4 §5.1.1 padding). Writes the 32-byte digest to `out`.
 */
function finish(parts: readonly Uint8Array[], done: number, out: Uint8Array): void {
  let fill = 0;
  let total = done;
  for (const p of parts) {
    total += p.length;
    fill = feed(p, p.length, fill);
  }
  pad(fill, total, out);
}

/** Copies `p[0, len)` into the block after `fill` bytes, compressing each full block; returns the new fill. */
function feed(p: Uint8Array, len: number, fill: number): number {
  let at = 0;
  while (at < len) {
    const n = Math.min(BLOCK - fill, len - at);
    for (let i = 0; i < n; i++) buf[fill + i] = p[at + i]!;
    fill += n;
    at += n;
    if (fill === BLOCK) {
      compress(state, buf, 0);
      fill = 0;
    }
  }
  return fill;
}

/** FIPS 180-4 §5.1.1: the padding and length after `total` bytes, `fill` of them in the block; the digest to `out`. */
function pad(fill: number, total: number, out: Uint8Array): void {
  buf[fill++] = 0x80;
  if (fill > BLOCK - 8) {
    buf.fill(0, fill);
    compress(state, buf, 0);
    fill = 0;
  }
  buf.fill(0, fill, BLOCK - 8);
  const bits = total * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  buf[56] = hi >>> 24; buf[57] = hi >>> 16; buf[58] = hi >>> 8; buf[59] = hi;
  buf[60] = lo >>> 24; buf[61] = lo >>> 16; buf[62] = lo >>> 8; buf[63] = lo;
  compress(state, buf, 0);
  for (let i = 0; i < 8; i++) {
    const v = state[i]!;
    out[i * 4] = v >>> 24; out[i * 4 + 1] = v >>> 16; out[i * 4 + 2] = v >>> 8; out[i * 4 + 3] = v;
  }
}

/** SHA-256 of the concatenation of `parts` (FIPS 180-4 §6.2). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(32);
  state.set(IV);
  finish(parts, 0, out);
  return out;
}

/** HMAC-SHA-256 with one key (RFC 2104 §2): the states after its inner and outer pads are kept. */
export class HmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly key: Uint8Array;

  constructor(key: Uint8Array) {
    this.key = key.slice();
    keyPads(key, this.inner, this.outer);
  }

  /** Whether this is the HMAC of `key` (same bytes). */
  hasKey(key: Uint8Array): boolean {
    const a = this.key;
    if (a.length !== key.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== key[i]) return false;
    return true;
  }

  /** HMAC(key, concatenation of `parts`): a new 32-byte array. */
  digest(parts: readonly Uint8Array[]): Uint8Array {
    const out = new Uint8Array(32);
    state.set(this.inner);
    finish(parts, BLOCK, out);
    state.set(this.outer);
    finish([out], BLOCK, out);
    return out;
  }
}

/** RFC 2104 §2: the SHA-256 states after the inner and outer pads of `key`. */
function keyPads(key: Uint8Array, inner: Int32Array, outer: Int32Array): void {
  // A key longer than the block is hashed first; then zero-padded to B bytes.
  const k = key.length > BLOCK ? sha256(key) : key;
  buf.fill(0);
  buf.set(k);
  for (let i = 0; i < BLOCK; i++) buf[i] = buf[i]! ^ 0x36;
  inner.set(IV);
  compress(inner, buf, 0);
  for (let i = 0; i < BLOCK; i++) buf[i] = buf[i]! ^ (0x36 ^ 0x5c);
  outer.set(IV);
  compress(outer, buf, 0);
}

/**
 * The one-shot function's last key and its pads, re-keyed in place: a new key costs its two
 * compressions and no allocation (a handshake derives ~40 secrets per end under ~20 keys; an
 * `HmacSha256` per new key was ~0.7 KB of garbage each, issue [perf2]).
 */
const lastInner = new Int32Array(8);
const lastOuter = new Int32Array(8);
const lastKey = new Uint8Array(BLOCK);
/** Length of the key in `lastKey`; -1: none (or one longer than a block, never cached). */
let lastKeyLen = -1;

function isLastKey(key: Uint8Array): boolean {
  if (key.length !== lastKeyLen) return false;
  for (let i = 0; i < key.length; i++) if (lastKey[i] !== key[i]) return false;
  return true;
}

/** Scratch for an HMAC truncated to fewer than 32 bytes. */
const full = new Uint8Array(32);

/**
 * HMAC-SHA-256(key, concatenation of `data`), truncated to `length` bytes (1..32; HKDF-Expand's
 * T(1) for a key or an IV): a new array (the last key's pads are reused).
 */
export function hmacSha256(key: Uint8Array, data: readonly Uint8Array[], length = 32): Uint8Array {
  useKey(key);
  const out = length === 32 ? new Uint8Array(32) : full;
  state.set(lastInner);
  finish(data, BLOCK, out);
  state.set(lastOuter);
  finish([out], BLOCK, out);
  return out === full ? full.slice(0, length) : out;
}

/**
 * HMAC-SHA-256(key, data[0, dataLength)) truncated to `length` bytes (1..32): `hmacSha256` of one
 * message in a caller's scratch buffer, without a view or a parts array (HKDF-Expand-Label, ~30
 * per handshake and end).
 */
export function hmacSha256Prefix(key: Uint8Array, data: Uint8Array, dataLength: number, length = 32): Uint8Array {
  useKey(key);
  const out = length === 32 ? new Uint8Array(32) : full;
  state.set(lastInner);
  pad(feed(data, dataLength, 0), BLOCK + dataLength, out);
  state.set(lastOuter);
  pad(feed(out, 32, 0), BLOCK + 32, out);
  return out === full ? full.slice(0, length) : out;
}

/** Makes `key` the one-shot functions' key (its pads computed unless it already is). */
function useKey(key: Uint8Array): void {
  if (!isLastKey(key)) {
    keyPads(key, lastInner, lastOuter);
    if (key.length <= BLOCK) {
      lastKey.set(key);
      lastKeyLen = key.length;
    } else {
      lastKeyLen = -1;
    }
  }
}
