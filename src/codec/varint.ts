/**
 * Variable-length integers, RFC 9000 §16.
 *
 * The two most significant bits of the first byte give the length (1, 2, 4 or 8 bytes); the rest
 * is the value in network byte order, so the largest value is 2^62-1.
 *
 * Precision policy (STYLE.md rule 6): the hot path uses `number`, which is exact up to
 * 2^53-1 (`MAX_SAFE_INTEGER`).
 * - `Reader.varint()` SATURATES: a value above 2^53-1 is returned as `VARINT_SATURATED`
 *   (= 2^53-1). Use it where a huge value means "unlimited" or is anyway past every limit we
 *   enforce (flow-control limits, stream offsets, initial_max_data = 2^62-1 from iroh,
 *   max_idle_timeout): a saturated offset fails flow control exactly as the true one would.
 * - `Reader.varintExact()` returns a `number` when it is safe and a `bigint` otherwise. Use it
 *   where the exact value must survive (application and transport error codes surfaced to the
 *   user, which may be anything up to 2^62-1).
 * - `Reader.varintBig()` always returns a `bigint` (RFC 9000 Appendix A.1 vectors, tests).
 */

/** 2^62 - 1: the largest value a varint can carry. */
export const VARINT_MAX_BIG = (1n << 62n) - 1n;
/** The value `Reader.varint()` returns for anything it cannot represent exactly. */
export const VARINT_SATURATED = Number.MAX_SAFE_INTEGER;

/** Number of bytes the shortest encoding of `v` takes (v: integer, 0 <= v <= 2^53-1). */
export function sizeVarint(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x40000000) return 4;
  return 8;
}

/** `sizeVarint` for values that may exceed 2^53-1. Throws RangeError above 2^62-1. */
export function sizeVarintExact(v: number | bigint): 1 | 2 | 4 | 8 {
  if (typeof v === 'number') return sizeVarint(v);
  if (v < 0n || v > VARINT_MAX_BIG) throw new RangeError(`varint out of range: ${v}`);
  return v < 0x40000000n ? sizeVarint(Number(v)) : 8;
}

/** True when `v` is an integer a varint can carry exactly as a number (0..2^53-1). */
export function isVarint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** True when `v` (number or bigint) is within 0..2^62-1. */
export function isVarintExact(v: unknown): v is number | bigint {
  if (typeof v === 'bigint') return v >= 0n && v <= VARINT_MAX_BIG;
  return isVarint(v);
}
