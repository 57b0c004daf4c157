import { utf8 } from '../../codec/bytes.js';
import { Writer } from '../../codec/writer.js';
import { initialKeys } from '../crypto/initial.js';
import { sizeFrame, writeFrame } from '../frames/encode.js';
import type { Frame } from '../frames/frame.js';
import { LongPacketType, sizeLongHeader, tryParsePacketHeader, writeLongHeader, type LongHeader, type UnsupportedVersionHeader } from '../packet/header.js';
import { openPayload, removeHeaderProtection, sealPacket } from '../packet/protection.js';
import { encodeRetry } from '../packet/retry.js';
import { SUPPORTED_VERSIONS } from '../packet/version.js';
import { encodeVersionNegotiation } from '../packet/version-negotiation.js';
import type { Random } from '../../tls/random.js';

/**
 * The packets an endpoint sends without a connection (RFC 9000 §5.2.2, §6, §8.1.2): Version
 * Negotiation, Retry, and an Initial carrying only CONNECTION_CLOSE to refuse a connection. Each
 * is built in a fresh buffer (they are rare and rate-limited; the hot path is the connections').
 */

/**
 * A Version Negotiation packet answering `h` (RFC 9000 §6.1, §17.2.1): its DCID is the client's
 * SCID and its SCID the client's DCID; it lists the versions we accept plus one reserved version
 * 0x?a?a?a?a (§6.3: "Endpoints MAY add reserved versions to any field where unknown or
 * unsupported versions are ignored", so clients do not ossify on the list).
 */
export function versionNegotiationFor(h: UnsupportedVersionHeader, random: Random): Uint8Array {
  const r = random.fill(new Uint8Array(5));
  const grease = ((((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) & 0xf0f0f0f0) | 0x0a0a0a0a) >>> 0;
  return encodeVersionNegotiation({ dcid: h.scid, scid: h.dcid, versions: [...SUPPORTED_VERSIONS, grease] }, r[4]!);
}

/**
 * A Retry packet answering the Initial `h` (RFC 9000 §17.2.5.1): DCID = the client's SCID, SCID =
 * `retryScid` (which must differ from the client's DCID), the token, and the integrity tag over
 * the client's original DCID (RFC 9001 §5.8).
 */
export function retryFor(h: LongHeader, retryScid: Uint8Array, token: Uint8Array, random: Random): Uint8Array {
  const unused = random.fill(new Uint8Array(1))[0]!;
  return encodeRetry({ version: h.version, dcid: h.scid, scid: retryScid, token }, h.dcid, unused);
}

/**
 * An Initial packet carrying only CONNECTION_CLOSE (frame type 0x1c) with a transport error code,
 * protected with the Initial keys of the client's DCID: how a server refuses a connection it
 * holds no state for (RFC 9000 §5.2.2 "it SHOULD send an Initial packet containing a
 * CONNECTION_CLOSE frame with error code CONNECTION_REFUSED"; §8.1.2 INVALID_TOKEN). CONNECTION_CLOSE
 * is not ack-eliciting, so no padding to 1200 bytes is due (§14.1); the packet is far smaller than
 * the 1200-byte Initial it answers (no amplification).
 */
export function initialCloseFor(h: LongHeader, scid: Uint8Array, code: number, reason: string): Uint8Array {
  const r = utf8(reason);
  const frame: Frame = { kind: 'connectionClose', application: false, errorCode: code, frameType: 0, reason: r.length > 64 ? r.subarray(0, 64) : r };
  const fields = { type: LongPacketType.Initial, version: h.version, dcid: h.scid, scid } as const;
  // Header + frame + room for the header-protection sample padding (<= 3 bytes) + the tag.
  const out = new Uint8Array(sizeLongHeader(fields, 1, 2) + sizeFrame(frame) + 4 + 16);
  const w = new Writer(out);
  const marks = writeLongHeader(w, fields, 0, 1, 2);
  writeFrame(w, frame);
  const end = sealPacket(w, marks, 0, initialKeys(h.dcid, false, h.version).write);
  return out.subarray(0, end);
}

/**
 * True when the client Initial `h` in `datagram` opens with the Initial keys of its DCID. Works on
 * a copy (opening is in place). Used before answering a bad token with INVALID_TOKEN: RFC 9000
 * §8.1.2 says to close only when the Initial "is otherwise valid", so a packet damaged on the way
 * does not end a handshake that its retransmission would complete.
 */
export function initialAuthenticates(datagram: Uint8Array, h: LongHeader): boolean {
  const copy = datagram.slice(h.start, h.end);
  const c = tryParsePacketHeader(copy, 0, 0);
  if (c.kind !== 'long') return false;
  const keys = initialKeys(h.dcid, false, h.version).read;
  const u = removeHeaderProtection(copy, c, keys.header);
  if (u === null) return false;
  try {
    return openPayload(copy, c, u, -1, keys.packet) !== null;
  } catch {
    return false; // authenticated with reserved bits set: not a valid packet either
  }
}
