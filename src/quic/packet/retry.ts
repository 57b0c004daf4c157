import { Writer } from '../../codec/writer.js';
import { RETRY_INTEGRITY_TAG_LENGTH, retryIntegrityTag, verifyRetryIntegrity } from '../crypto/retry.js';
import { FIXED_BIT, HEADER_FORM_BIT, LongPacketType, MAX_CID_LENGTH, type RetryHeader } from './header.js';

/**
 * Retry packets (RFC 9000 §17.2.5, integrity tag RFC 9001 §5.8). Decoding is `parsePacketHeader`
 * (kind 'retry'); `verifyRetry` checks the tag.
 *
 * A client MUST discard a Retry whose tag does not verify, or with an empty token (RFC 9000
 * §17.2.5.2); that policy is the connection's.
 */
export interface RetryFields {
  readonly version: number;
  /** The client's SCID. */
  readonly dcid: Uint8Array;
  /** The connection ID the server chose (the client uses it as DCID from now on). */
  readonly scid: Uint8Array;
  readonly token: Uint8Array;
}

/**
 * Writes a Retry packet with its integrity tag, computed over `odcid` (the DCID of the client's
 * Initial) and the bytes written. `unused`: the 4 low bits of the first byte (arbitrary).
 */
export function writeRetry(w: Writer, f: RetryFields, odcid: Uint8Array, unused = 0): void {
  if (f.dcid.length > MAX_CID_LENGTH || f.scid.length > MAX_CID_LENGTH) throw new RangeError('connection id longer than 20 bytes');
  const start = w.pos;
  w.u8(HEADER_FORM_BIT | FIXED_BIT | (LongPacketType.Retry << 4) | (unused & 0x0f));
  w.u32(f.version);
  w.vec8(f.dcid);
  w.vec8(f.scid);
  w.bytesOf(f.token);
  const tag = retryIntegrityTag(odcid, w.buf.subarray(start, w.pos), f.version);
  w.bytesOf(tag);
}

/** Bytes `writeRetry` writes. */
export function sizeRetry(f: RetryFields): number {
  return 1 + 4 + 1 + f.dcid.length + 1 + f.scid.length + f.token.length + RETRY_INTEGRITY_TAG_LENGTH;
}

/** A Retry packet in a fresh buffer. */
export function encodeRetry(f: RetryFields, odcid: Uint8Array, unused = 0): Uint8Array {
  const out = new Uint8Array(sizeRetry(f));
  writeRetry(new Writer(out), f, odcid, unused);
  return out;
}

/** True when the Retry parsed from `buf` carries a valid integrity tag for `odcid`. */
export function verifyRetry(buf: Uint8Array, h: RetryHeader, odcid: Uint8Array): boolean {
  return verifyRetryIntegrity(odcid, buf.subarray(h.start, h.end), h.version);
}
