import { AEAD_TAG_LENGTH, type PacketKey } from './aead.js';
import type { HeaderProtectionKey } from './header-protection.js';
import type { DirectionalKeys, KeyFactory, KeySet } from './keys.js';

/**
 * Null keys, for tests and benchmarks that want the packet pipeline without the cost (or the
 * opacity) of real cryptography. They implement the same interfaces as the real keys:
 * - `seal` leaves the plaintext as it is and writes a tag of 16 zero bytes;
 * - `open` accepts a packet only if its tag is 16 zero bytes (so a test can still exercise the
 *   "authentication failed" path by corrupting the tag);
 * - the header protection mask is all zeros, so headers travel in clear.
 *
 * Never negotiate these with a real peer: they provide no protection at all.
 */
export class NullPacketKey implements PacketKey {
  readonly tagLen = AEAD_TAG_LENGTH;
  readonly confidentialityLimit = Number.MAX_SAFE_INTEGER;
  readonly integrityLimit = Number.MAX_SAFE_INTEGER;

  seal(_pn: number, buf: Uint8Array, headerStart: number, payloadStart: number, payloadEnd: number): number {
    const packetEnd = payloadEnd + AEAD_TAG_LENGTH;
    if (packetEnd > buf.length || headerStart > payloadStart || payloadStart > payloadEnd) {
      throw new RangeError(`seal: bad regions [${headerStart}, ${payloadStart}, ${payloadEnd}) in a ${buf.length}-byte buffer`);
    }
    buf.fill(0, payloadEnd, packetEnd);
    return packetEnd;
  }

  open(_pn: number, buf: Uint8Array, headerStart: number, payloadStart: number, packetEnd: number): Uint8Array | null {
    const ctEnd = packetEnd - AEAD_TAG_LENGTH;
    if (ctEnd < payloadStart || headerStart > payloadStart || packetEnd > buf.length) return null;
    for (let i = ctEnd; i < packetEnd; i++) if (buf[i] !== 0) return null;
    return buf.subarray(payloadStart, ctEnd);
  }
}

const ZERO_MASK = new Uint8Array(5);

export class NullHeaderProtectionKey implements HeaderProtectionKey {
  mask(_buf: Uint8Array, _sampleOffset: number): Uint8Array {
    return ZERO_MASK;
  }
}

/** One direction's null keys. */
export function nullDirectionalKeys(): DirectionalKeys {
  return { packet: new NullPacketKey(), header: new NullHeaderProtectionKey() };
}

/** A null key set for one encryption level. */
export function nullKeySet(): KeySet {
  return { read: nullDirectionalKeys(), write: nullDirectionalKeys() };
}

/** Makes null keys from any secret (OneRttKeys with this factory still runs key updates). */
export const NULL_KEYS: KeyFactory = {
  packetKey: () => new NullPacketKey(),
  headerKey: () => new NullHeaderProtectionKey(),
};
