import { DecodeError } from '../../codec/errors.js';
import { Reader } from '../../codec/reader.js';
import { sizeVarint } from '../../codec/varint.js';
import type { Writer } from '../../codec/writer.js';
import { writePacketNumber, type PacketNumberLength } from './number.js';
import { VERSION_NEGOTIATION, isSupportedVersion } from './version.js';

/**
 * Packet headers (RFC 9000 §17, invariants in RFC 8999).
 *
 * Parsing stops at the (still protected) packet number: the protection pipeline removes
 * header protection, decodes the packet number and opens the payload. Parsing never throws
 * anything but `DecodeError` (or use `tryParsePacketHeader`, which never throws): a malformed
 * packet is dropped, it cannot hurt the connection (RFC 9000 §12.2, §5.2).
 *
 * Coalesced packets (RFC 9000 §12.2): a long header's Length field covers the packet number,
 * the payload and the tag, so `end` is where the next packet of the datagram starts:
 *
 *   for (let at = 0; at < datagram.length; ) {
 *     const h = parsePacketHeader(datagram, at, localCidLength);
 *     ...; at = h.end;
 *   }
 *
 * Short headers, Retry, Version Negotiation and packets of unknown versions extend to the end of
 * the datagram.
 */

/** Long header packet types of QUIC v1 (RFC 9000 §17.2, Table 5). */
export const LongPacketType = { Initial: 0, ZeroRtt: 1, Handshake: 2, Retry: 3 } as const;
export type LongPacketType = (typeof LongPacketType)[keyof typeof LongPacketType];
/** The long header types that carry a protected payload. */
export type ProtectedLongPacketType = 0 | 1 | 2;

/** Header Form bit: 1 for long headers (RFC 8999 §5). */
export const HEADER_FORM_BIT = 0x80;
/** RFC 9000 §17.2/§17.3: the Fixed Bit; packets without it are not valid QUIC v1 packets. */
export const FIXED_BIT = 0x40;
/** RFC 9000 §17.3.1: the latency Spin Bit of short headers. */
export const SPIN_BIT = 0x20;
/** RFC 9000 §17.3.1: the Key Phase bit of short headers (protected). */
export const KEY_PHASE_BIT = 0x04;
/** Reserved bits (protected): must be 0 once header and packet protection are removed. */
export const LONG_RESERVED_BITS = 0x0c;
export const SHORT_RESERVED_BITS = 0x18;
/** RFC 9000 §17.2: connection IDs of QUIC v1 are at most 20 bytes. */
export const MAX_CID_LENGTH = 20;
/** RFC 8999 §5.1: version-independent connection IDs are at most 255 bytes. */
export const MAX_CID_LENGTH_INVARIANT = 255;

/** An Initial, 0-RTT or Handshake packet of a supported version, parsed up to the packet number. */
export interface LongHeader {
  readonly kind: 'long';
  readonly type: ProtectedLongPacketType;
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** The Token of an Initial packet (RFC 9000 §17.2.2); empty for other types. */
  readonly token: Uint8Array;
  /** Offset of the first byte of the packet in the datagram (start of the AAD). */
  readonly start: number;
  /** Offset of the protected packet number. */
  readonly pnOffset: number;
  /** Offset just past the packet (pnOffset + Length): where a coalesced packet would start. */
  readonly end: number;
}

/** A 1-RTT packet (RFC 9000 §17.3.1). */
export interface ShortHeader {
  readonly kind: 'short';
  readonly dcid: Uint8Array;
  readonly start: number;
  readonly pnOffset: number;
  /** Always the end of the datagram (or of the given range). */
  readonly end: number;
}

/** A Retry packet (RFC 9000 §17.2.5). */
export interface RetryHeader {
  readonly kind: 'retry';
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly token: Uint8Array;
  /** The 16-byte Retry Integrity Tag (RFC 9001 §5.8; `verifyRetry` checks it). */
  readonly integrityTag: Uint8Array;
  readonly start: number;
  readonly end: number;
}

/** A Version Negotiation packet (RFC 9000 §17.2.1, RFC 8999 §6). */
export interface VersionNegotiationHeader {
  readonly kind: 'versionNegotiation';
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly versions: number[];
  readonly start: number;
  readonly end: number;
}

/**
 * A long header packet of a version we do not speak: only the invariant fields (RFC 8999 §5.1)
 * are known. A server answers it with Version Negotiation (RFC 9000 §6.1); a client drops it.
 */
export interface UnsupportedVersionHeader {
  readonly kind: 'unsupportedVersion';
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly start: number;
  readonly end: number;
}

export type PacketHeader = LongHeader | ShortHeader | RetryHeader | VersionNegotiationHeader | UnsupportedVersionHeader;
/** The headers of packets with protected payloads. */
export type ProtectedHeader = LongHeader | ShortHeader;

/** The typed rejection of `tryParsePacketHeader`: drop the packet (or the rest of the datagram). */
export interface InvalidPacket {
  readonly kind: 'invalid';
  readonly reason: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Parses the header of the packet at `buf[start, end)`. `shortDcidLength` is the length of the
 * connection IDs this endpoint issues: a short header does not carry it (RFC 9000 §17.3.1).
 * Throws `DecodeError` for a truncated or malformed header, including a QUIC v1 packet whose
 * Fixed Bit is 0 (RFC 9000 §17.2: "Packets containing a zero value for this bit are not valid
 * packets in this version and MUST be discarded").
 */
export function parsePacketHeader(buf: Uint8Array, start: number, shortDcidLength: number, end: number = buf.length): PacketHeader {
  const r = new Reader(buf, start, end);
  const first = r.u8();
  if ((first & HEADER_FORM_BIT) === 0) {
    if ((first & FIXED_BIT) === 0) throw new DecodeError('short header with the fixed bit 0');
    const dcid = r.bytes(shortDcidLength);
    return { kind: 'short', dcid, start, pnOffset: r.pos, end };
  }

  const version = r.u32();
  if (version === VERSION_NEGOTIATION) {
    // RFC 9000 §17.2.1: the rest of the first byte is unused; CIDs follow the invariants.
    const dcid = r.vec8();
    const scid = r.vec8();
    if (r.remaining % 4 !== 0) throw new DecodeError(`version negotiation list of ${r.remaining} bytes is not a multiple of 4`);
    const versions: number[] = [];
    while (!r.atEnd) versions.push(r.u32());
    return { kind: 'versionNegotiation', dcid, scid, versions, start, end };
  }
  if (!isSupportedVersion(version)) {
    const dcid = r.vec8();
    const scid = r.vec8();
    return { kind: 'unsupportedVersion', version, dcid, scid, start, end };
  }

  if ((first & FIXED_BIT) === 0) throw new DecodeError('long header with the fixed bit 0');
  const dcid = readCid(r, 'destination');
  const scid = readCid(r, 'source');
  const type = ((first >> 4) & 0x03) as LongPacketType;
  if (type === LongPacketType.Retry) {
    // RFC 9000 §17.2.5: Retry Token (..), Retry Integrity Tag (128): no Length field.
    if (r.remaining < 16) throw new DecodeError('retry packet without room for its integrity tag');
    const token = r.bytes(r.remaining - 16);
    const integrityTag = r.bytes(16);
    return { kind: 'retry', version, dcid, scid, token, integrityTag, start, end };
  }
  const token = type === LongPacketType.Initial ? r.bytes(r.varint()) : EMPTY;
  const length = r.varint();
  if (length > r.remaining) throw new DecodeError(`length ${length} runs past the datagram (${r.remaining} bytes left)`);
  const pnOffset = r.pos;
  return { kind: 'long', type, version, dcid, scid, token, start, pnOffset, end: pnOffset + length };
}

/** `parsePacketHeader` that never throws on peer input: a `DecodeError` becomes `{ kind: 'invalid' }`. */
export function tryParsePacketHeader(
  buf: Uint8Array,
  start: number,
  shortDcidLength: number,
  end: number = buf.length,
): PacketHeader | InvalidPacket {
  try {
    return parsePacketHeader(buf, start, shortDcidLength, end);
  } catch (e) {
    if (e instanceof DecodeError) return { kind: 'invalid', reason: e.message };
    throw e;
  }
}

/** True for a long header first byte (RFC 8999 §5.1). */
export function isLongHeader(firstByte: number): boolean {
  return (firstByte & HEADER_FORM_BIT) !== 0;
}

/** The version of the long header packet at `buf[start]`, or null for a short or truncated one. */
export function peekVersion(buf: Uint8Array, start = 0): number | null {
  if (start + 5 > buf.length || (buf[start]! & HEADER_FORM_BIT) === 0) return null;
  return ((buf[start + 1]! << 24) >>> 0) + ((buf[start + 2]! << 16) | (buf[start + 3]! << 8) | buf[start + 4]!);
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Fields of an Initial, 0-RTT or Handshake header. */
export interface LongHeaderFields {
  readonly type: ProtectedLongPacketType;
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** Initial only (RFC 9000 §17.2.2); must be absent or empty for other types. */
  readonly token?: Uint8Array;
}

/** Where the parts of a header being built sit, for sealing (`sealPacket`). */
export interface PacketMarks {
  /** Offset of the first byte. */
  readonly start: number;
  /** Offset of the Length field (-1 for a short header). */
  readonly lengthAt: number;
  /** Width reserved for the Length varint (0 for a short header). */
  readonly lengthWidth: 0 | 1 | 2 | 4 | 8;
  readonly pnOffset: number;
  readonly pnLen: PacketNumberLength;
}

/** `PacketMarks` a caller reuses across packets. */
export type MutablePacketMarks = { -readonly [K in keyof PacketMarks]: PacketMarks[K] };

/**
 * Writes an Initial/0-RTT/Handshake header with the truncated packet number in clear, reserving
 * `lengthWidth` bytes for the Length varint, which `sealPacket` back-patches once the payload is
 * written (Length covers packet number + payload + tag). The Fixed Bit is always set; the reserved
 * bits are 0 (RFC 9000 §17.2). Throws RangeError for a connection ID longer than 20 bytes or a
 * token on a non-Initial packet; `BufferOverflowError` from a full fixed Writer.
 */
export function writeLongHeader(
  w: Writer,
  h: LongHeaderFields,
  pn: number,
  pnLen: PacketNumberLength,
  lengthWidth: 1 | 2 | 4 | 8 = 2,
): PacketMarks {
  checkCid(h.dcid);
  checkCid(h.scid);
  const token = h.token ?? EMPTY;
  if (token.length > 0 && h.type !== LongPacketType.Initial) throw new RangeError('only Initial packets carry a token');
  const start = w.pos;
  w.u8(HEADER_FORM_BIT | FIXED_BIT | (h.type << 4) | (pnLen - 1));
  w.u32(h.version);
  w.vec8(h.dcid);
  w.vec8(h.scid);
  if (h.type === LongPacketType.Initial) {
    w.varint(token.length);
    w.bytesOf(token);
  }
  const lengthAt = w.beginVarint(lengthWidth);
  const pnOffset = w.reserve(pnLen);
  writePacketNumber(w.buf, pnOffset, pn, pnLen);
  return { start, lengthAt, lengthWidth, pnOffset, pnLen };
}

/** Bytes `writeLongHeader` writes. */
export function sizeLongHeader(h: LongHeaderFields, pnLen: PacketNumberLength, lengthWidth: 1 | 2 | 4 | 8 = 2): number {
  const tokenLen = h.token?.length ?? 0;
  const tokenField = h.type === LongPacketType.Initial ? sizeVarint(tokenLen) + tokenLen : 0;
  return 1 + 4 + 1 + h.dcid.length + 1 + h.scid.length + tokenField + lengthWidth + pnLen;
}

/**
 * Writes a 1-RTT header (RFC 9000 §17.3.1): Fixed Bit set, spin bit, reserved bits 0, key phase,
 * packet number length, DCID, truncated packet number in clear.
 */
export function writeShortHeader(
  w: Writer,
  dcid: Uint8Array,
  pn: number,
  pnLen: PacketNumberLength,
  keyPhase: 0 | 1,
  spin = false,
  into?: MutablePacketMarks,
): PacketMarks {
  checkCid(dcid);
  const start = w.pos;
  w.u8(FIXED_BIT | (spin ? SPIN_BIT : 0) | (keyPhase === 1 ? KEY_PHASE_BIT : 0) | (pnLen - 1));
  w.bytesOf(dcid);
  const pnOffset = w.reserve(pnLen);
  writePacketNumber(w.buf, pnOffset, pn, pnLen);
  if (into === undefined) return { start, lengthAt: -1, lengthWidth: 0, pnOffset, pnLen };
  // A sender's reused marks (one per packet builder): no object per packet.
  into.start = start;
  into.lengthAt = -1;
  into.lengthWidth = 0;
  into.pnOffset = pnOffset;
  into.pnLen = pnLen;
  return into;
}

/** Bytes `writeShortHeader` writes. */
export function sizeShortHeader(dcidLength: number, pnLen: PacketNumberLength): number {
  return 1 + dcidLength + pnLen;
}

function readCid(r: Reader, which: string): Uint8Array {
  const len = r.u8();
  // RFC 9000 §17.2: "Endpoints that receive a version 1 long header with a value larger than 20
  // MUST drop the packet."
  if (len > MAX_CID_LENGTH) throw new DecodeError(`${which} connection id of ${len} bytes exceeds ${MAX_CID_LENGTH}`);
  return r.bytes(len);
}

function checkCid(cid: Uint8Array): void {
  if (cid.length > MAX_CID_LENGTH) throw new RangeError(`connection id of ${cid.length} bytes exceeds ${MAX_CID_LENGTH}`);
}
