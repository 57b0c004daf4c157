/**
 * Whether 32 bytes are the encoding of an Ed25519 point: RFC 8032 §5.1.3 decoding, strict (the
 * y coordinate must be canonical, below p; not ZIP-215), as node:crypto's verification decodes a
 * public key. An endpoint id is such a point; a string that is not one names no endpoint.
 *
 * Our own field arithmetic on BigInt instead of a curve library: the check is all quic-peer needs
 * of one (signatures and key agreement are node:crypto's), and @noble/curves cost every process
 * ~8 ms of its import (98 -> 90 ms for the whole library here) and every install 1.7 MB. One
 * decoding is one exponentiation in the field by an addition chain (~70 us; @noble/curves' ~80 us);
 * endpoint ids remember the keys that passed. Its tests check it against @noble/curves (a dev
 * dependency now).
 */

/** The field prime p = 2^255 - 19 (RFC 8032 §5.1). */
const P = (1n << 255n) - 19n;
/** d = -121665 / 121666 mod p (RFC 8032 §5.1). */
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
/** sqrt(-1) = 2^((p-1)/4) mod p (RFC 8032 §5.1.3 step 3). */
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;
const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

/** x^(2^n) mod p: n squarings. */
function pow2(x: bigint, n: number): bigint {
  let r = x;
  for (let i = 0; i < n; i++) r = (r * r) % P;
  return r;
}

/**
 * x^((p-5)/8) = x^(2^252 - 3) mod p by the usual addition chain (254 squarings, 11 multiplications;
 * square-and-multiply over this all-ones exponent would multiply ~250 times).
 */
function powP58(x: bigint): bigint {
  const b2 = (((x * x) % P) * x) % P; // x^(2^2 - 1)
  const b4 = (pow2(b2, 2) * b2) % P; // 2^4 - 1
  const b5 = (pow2(b4, 1) * x) % P; // 2^5 - 1
  const b10 = (pow2(b5, 5) * b5) % P;
  const b20 = (pow2(b10, 10) * b10) % P;
  const b40 = (pow2(b20, 20) * b20) % P;
  const b80 = (pow2(b40, 40) * b40) % P;
  const b160 = (pow2(b80, 80) * b80) % P;
  const b240 = (pow2(b160, 80) * b80) % P;
  const b250 = (pow2(b240, 10) * b10) % P; // 2^250 - 1
  return (pow2(b250, 2) * x) % P; // 2^252 - 3
}

/**
 * RFC 8032 §5.1.3: true when `bytes` (32) decode to a point of edwards25519. Never throws for
 * 32 bytes; any other length is not a point.
 */
export function isEd25519Point(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  // Step 1: y is the little-endian number without bit 255, which is the sign of x.
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i]! & 0x7f : bytes[i]!);
  const xSign = (bytes[31]! >> 7) & 1;
  if (y >= P) return false;
  // Step 2: x^2 = (y^2 - 1) / (d y^2 + 1) = u / v; the candidate x = u v^3 (u v^7)^((p-5)/8).
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = (((v * v) % P) * v) % P;
  const v7 = (((v3 * v3) % P) * v) % P;
  let x = (((u * v3) % P) * powP58((u * v7) % P)) % P;
  // Step 3: v x^2 = u: x is a root; v x^2 = -u: x sqrt(-1) is; otherwise there is none.
  const vx2 = (v * ((x * x) % P)) % P;
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return false;
    x = (x * SQRT_M1) % P;
  }
  // Step 4: x = 0 has no negative: the sign bit must then be 0.
  return !(x === 0n && xSign === 1);
}
