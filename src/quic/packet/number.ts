/**
 * Packet numbers (RFC 9000 §12.3, §17.1, Appendix A.2 and A.3).
 *
 * A packet number is an integer in 0..2^62-1, sent truncated to its 1-4 least significant bytes.
 * The sender picks the length from how far the packet is ahead of the largest packet the peer
 * has acknowledged; the receiver rebuilds the full number from the truncated bits and the largest
 * packet number it has processed.
 *
 * Numbers are JavaScript `number`s, exact up to 2^53-1: a connection would need about 100 days at
 * a billion packets per second to get there. Full packet numbers exceed 2^32, so the arithmetic
 * below never applies 32-bit bitwise operators to them.
 */

/** Length in bytes of an encoded packet number. */
export type PacketNumberLength = 1 | 2 | 3 | 4;

/** The largest packet number (RFC 9000 §12.3: 2^62-1); past it the connection must close. */
export const MAX_PACKET_NUMBER = 2 ** 62 - 1;

/** `largestAcked` / `largestPn` value meaning "none yet". */
export const NO_PACKET_NUMBER = -1;

/**
 * Number of bytes to encode `fullPn` with, given the largest packet number the peer has
 * acknowledged in this space (`NO_PACKET_NUMBER` when none).
 *
 * RFC 9000 §17.1: "the sender MUST use a packet number size able to represent more than twice as
 * large a range as the difference between the largest acknowledged packet number and the packet
 * number that is being sent". Appendix A.2: min_bits = log2(num_unacked) + 1, i.e. the smallest
 * width with 2^bits >= 2 * num_unacked.
 *
 * Throws RangeError when even 4 bytes cannot represent the range (a sender bug: more than 2^31
 * packets in flight) or when `fullPn <= largestAcked`.
 */
export function packetNumberLength(fullPn: number, largestAcked: number): PacketNumberLength {
  const numUnacked = largestAcked < 0 ? fullPn + 1 : fullPn - largestAcked;
  if (!(numUnacked >= 1)) {
    throw new RangeError(`packet number ${fullPn} is not above the largest acknowledged ${largestAcked}`);
  }
  const range = 2 * numUnacked;
  if (range <= 0x100) return 1;
  if (range <= 0x10000) return 2;
  if (range <= 0x1000000) return 3;
  if (range <= 0x100000000) return 4;
  throw new RangeError(`${numUnacked} unacknowledged packet numbers do not fit a 4-byte encoding`);
}

/** The `len` least significant bytes of `fullPn`, as a number. */
export function truncatePacketNumber(fullPn: number, len: PacketNumberLength): number {
  return fullPn % PN_WINDOW[len];
}

/** Writes the truncated packet number big-endian in `len` bytes at `at`. */
export function writePacketNumber(buf: Uint8Array, at: number, fullPn: number, len: PacketNumberLength): void {
  let v = fullPn % PN_WINDOW[len];
  for (let i = len - 1; i >= 0; i--) {
    buf[at + i] = v & 0xff;
    v = (v - (v & 0xff)) / 256;
  }
}

/** Reads a truncated packet number of `len` bytes at `at` (no bounds check: callers checked). */
export function readPacketNumber(buf: Uint8Array, at: number, len: PacketNumberLength): number {
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + buf[at + i]!;
  return v;
}

/**
 * Reconstructs the full packet number (RFC 9000 Appendix A.3) from the truncated value of
 * `pnBits` bits (8, 16, 24 or 32) and the largest packet number successfully processed in this
 * space (`NO_PACKET_NUMBER` when none: the expected packet number is then 0).
 *
 * The result is the value closest to largestPn + 1 whose low bits equal `truncated`.
 */
export function decodePacketNumber(largestPn: number, truncated: number, pnBits: 8 | 16 | 24 | 32): number {
  const expected = largestPn + 1;
  const win = 2 ** pnBits;
  const hwin = win / 2;
  // (expected & ~mask) | truncated, without 32-bit bitwise operators.
  const candidate = expected - (expected % win) + truncated;
  // RFC 9000 Appendix A.3: the checks against 2^62 and pn_win prevent overflow and underflow.
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

const PN_WINDOW: Readonly<Record<PacketNumberLength, number>> = { 1: 0x100, 2: 0x10000, 3: 0x1000000, 4: 0x100000000 };
