import { writeVarintAt, type Writer } from '../../codec/writer.js';
import type { PacketKey } from '../crypto/aead.js';
import {
  HP_SAMPLE_LENGTH,
  HP_SAMPLE_OFFSET,
  protectHeader,
  unprotectHeader,
  type HeaderProtectionBatch,
  type HeaderProtectionKey,
} from '../crypto/header-protection.js';
import type { DirectionalKeys, KeyPhase } from '../crypto/keys.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { KEY_PHASE_BIT, LONG_RESERVED_BITS, SHORT_RESERVED_BITS, type PacketMarks, type ProtectedHeader } from './header.js';
import { decodePacketNumber, readPacketNumber, type PacketNumberLength } from './number.js';

/**
 * The packet protection pipeline (RFC 9001 §5), in place on the datagram buffer.
 *
 * Sending: `writeLongHeader`/`writeShortHeader` (header with the truncated packet number in clear)
 * -> the caller writes frames -> `sealPacket` (pads to the sampling minimum, back-patches Length,
 * seals the payload in place and appends the tag, applies header protection).
 *
 * Receiving: `parsePacketHeader` -> `removeHeaderProtection` (first byte and packet number in
 * clear: key phase, packet number length) -> the caller picks the key (for 1-RTT by key phase) ->
 * `openPayload` (full packet number from the largest received, AEAD open in place). `openPacket`
 * does both steps. A packet that fails to open is dropped: these return `null`, never throw for it.
 */

/** A packet whose protection has been removed. Views alias the datagram buffer. */
export interface OpenedPacket {
  /** The full (reconstructed) packet number. */
  readonly pn: number;
  readonly pnLen: PacketNumberLength;
  /** The unprotected first byte. */
  readonly firstByte: number;
  /** Key Phase bit of a short header (RFC 9001 §6); 0 for long headers. */
  readonly keyPhase: KeyPhase;
  /** The decrypted frames. */
  readonly payload: Uint8Array;
}

/** The header fields that header protection hid. */
export interface UnprotectedHeader {
  readonly firstByte: number;
  readonly pnLen: PacketNumberLength;
  readonly truncatedPn: number;
  readonly keyPhase: KeyPhase;
}

/**
 * Chooses the read key for a packet from its key phase bit and reconstructed packet number (1-RTT
 * key update, RFC 9001 §6.3, §6.5). Returns null when no key fits (the packet is dropped).
 */
export type KeySelector = (keyPhase: KeyPhase, pn: number) => PacketKey | null;

/**
 * Finishes a packet whose header `marks` describes and whose payload is `w.buf[pnOffset + pnLen,
 * w.pos)`. Returns the end of the packet (`w.pos` afterwards).
 *
 * 1. Pads with PADDING frames (zero bytes) until packet number + payload is at least 4 bytes, so
 *    the header protection sample exists (RFC 9001 §5.4.2).
 * 2. Back-patches the Length field of a long header: packet number + payload + tag (RFC 9000
 *    §17.2). It is part of the AAD, so this comes before sealing.
 * 3. Seals the payload in place and appends the tag (RFC 9001 §5.3).
 * 4. Applies header protection (RFC 9001 §5.4.1).
 *
 * The writer must have room for the padding and the tag (`BufferOverflowError` otherwise).
 * `pathId`: the multipath path id of a 1-RTT packet (it enters the AEAD nonce; 0 otherwise).
 * `deferred`: step 4 goes to that batch instead, whose owner applies it before the datagram leaves.
 */
export function sealPacket(w: Writer, marks: PacketMarks, pn: number, keys: DirectionalKeys, pathId = 0, deferred: HeaderProtectionBatch | null = null): number {
  const tagLen = keys.packet.tagLen;
  const payloadStart = marks.pnOffset + marks.pnLen;
  const minPayloadEnd = marks.pnOffset + HP_SAMPLE_OFFSET + HP_SAMPLE_LENGTH - tagLen;
  if (w.pos < payloadStart) throw new RangeError('sealPacket: writer is behind the packet number');
  if (w.pos < minPayloadEnd) w.zeros(minPayloadEnd - w.pos);
  const payloadEnd = w.pos;
  w.reserve(tagLen);
  if (marks.lengthWidth !== 0) writeVarintAt(w.buf, marks.lengthAt, w.pos - marks.pnOffset, marks.lengthWidth);
  keys.packet.seal(pn, w.buf, marks.start, payloadStart, payloadEnd, pathId);
  if (deferred) deferred.protect(w.buf, marks.start, marks.pnOffset, marks.pnLen, keys.header);
  else protectHeader(w.buf, marks.start, marks.pnOffset, marks.pnLen, keys.header);
  return w.pos;
}

/**
 * Removes header protection in place. Returns null (drop the packet) when it is too short to
 * hold the header protection sample.
 */
export function removeHeaderProtection(buf: Uint8Array, h: ProtectedHeader, hp: HeaderProtectionKey): UnprotectedHeader | null {
  const pnLen = unprotectHeader(buf, h.start, h.pnOffset, h.end, hp) as PacketNumberLength | 0;
  if (pnLen === 0) return null;
  const firstByte = buf[h.start]!;
  return {
    firstByte,
    pnLen,
    truncatedPn: readPacketNumber(buf, h.pnOffset, pnLen),
    keyPhase: h.kind === 'short' && (firstByte & KEY_PHASE_BIT) !== 0 ? 1 : 0,
  };
}

/**
 * Reconstructs the packet number (against `largestPn`, the largest packet number received in this
 * packet number space, -1 if none) and opens the payload in place with `key` (and, with multipath,
 * the packet's `pathId`, which enters the nonce). Returns null when authentication fails.
 *
 * Throws `TransportError(PROTOCOL_VIOLATION)` when the packet authenticates but its reserved bits
 * are not 0 (RFC 9000 §17.2, §17.3.1: checked only after removing both protections, so an
 * attacker cannot provoke it).
 */
export function openPayload(
  buf: Uint8Array,
  h: ProtectedHeader,
  u: UnprotectedHeader,
  largestPn: number,
  key: PacketKey | KeySelector,
  pathId = 0,
): OpenedPacket | null {
  const pn = decodePacketNumber(largestPn, u.truncatedPn, (u.pnLen * 8) as 8 | 16 | 24 | 32);
  const k = typeof key === 'function' ? key(u.keyPhase, pn) : key;
  if (k === null) return null;
  const payload = k.open(pn, buf, h.start, h.pnOffset + u.pnLen, h.end, pathId);
  if (payload === null) return null;
  const reserved = u.firstByte & (h.kind === 'long' ? LONG_RESERVED_BITS : SHORT_RESERVED_BITS);
  if (reserved !== 0) throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'reserved header bits set');
  return { pn, pnLen: u.pnLen, firstByte: u.firstByte, keyPhase: u.keyPhase, payload };
}

/** `removeHeaderProtection` then `openPayload`. */
export function openPacket(
  buf: Uint8Array,
  h: ProtectedHeader,
  hp: HeaderProtectionKey,
  key: PacketKey | KeySelector,
  largestPn: number,
): OpenedPacket | null {
  const u = removeHeaderProtection(buf, h, hp);
  return u === null ? null : openPayload(buf, h, u, largestPn, key);
}
