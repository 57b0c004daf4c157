import { Writer } from '../../codec/writer.js';
import { FIXED_BIT, HEADER_FORM_BIT, MAX_CID_LENGTH_INVARIANT } from './header.js';
import { SUPPORTED_VERSIONS, VERSION_NEGOTIATION } from './version.js';

/**
 * Version Negotiation packets (RFC 9000 §17.2.1, RFC 8999 §6). Decoding is `parsePacketHeader`
 * (kind 'versionNegotiation').
 *
 * A server answers a long header of an unsupported version (`kind: 'unsupportedVersion'`) with a
 * Version Negotiation packet whose DCID is the client's SCID and whose SCID is the client's DCID
 * (RFC 9000 §6.1, §17.2.1): pass them swapped. Connection IDs here follow the invariants (up to 255
 * bytes), since the client may speak a version with longer ones.
 */
export interface VersionNegotiationFields {
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** Supported versions, in preference order (default: SUPPORTED_VERSIONS). */
  readonly versions?: readonly number[];
}

/**
 * Writes a Version Negotiation packet. `unused` supplies the 6 arbitrary low bits of the first byte
 * (random, from the caller's `Random`). RFC 9000 §17.2.1: the server "SHOULD set the most
 * significant bit of this field (0x40) to 1 so that Version Negotiation packets appear to have the
 * Fixed Bit field" — we always set it.
 */
export function writeVersionNegotiation(w: Writer, f: VersionNegotiationFields, unused = 0): void {
  if (f.dcid.length > MAX_CID_LENGTH_INVARIANT || f.scid.length > MAX_CID_LENGTH_INVARIANT) {
    throw new RangeError('connection id longer than 255 bytes');
  }
  w.u8(HEADER_FORM_BIT | FIXED_BIT | (unused & 0x3f));
  w.u32(VERSION_NEGOTIATION);
  w.vec8(f.dcid);
  w.vec8(f.scid);
  for (const v of f.versions ?? SUPPORTED_VERSIONS) w.u32(v);
}

/** Bytes `writeVersionNegotiation` writes. */
export function sizeVersionNegotiation(f: VersionNegotiationFields): number {
  return 1 + 4 + 1 + f.dcid.length + 1 + f.scid.length + 4 * (f.versions ?? SUPPORTED_VERSIONS).length;
}

/** A Version Negotiation packet in a fresh buffer. */
export function encodeVersionNegotiation(f: VersionNegotiationFields, unused = 0): Uint8Array {
  const out = new Uint8Array(sizeVersionNegotiation(f));
  writeVersionNegotiation(new Writer(out), f, unused);
  return out;
}
