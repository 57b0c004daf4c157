/** QUIC packets: numbers, headers, Version Negotiation, Retry, protection pipeline (RFC 9000 §17, RFC 9001 §5). */
export {
  MAX_PACKET_NUMBER,
  NO_PACKET_NUMBER,
  decodePacketNumber,
  packetNumberLength,
  readPacketNumber,
  truncatePacketNumber,
  writePacketNumber,
  type PacketNumberLength,
} from './number.js';
export {
  FIXED_BIT,
  HEADER_FORM_BIT,
  KEY_PHASE_BIT,
  LONG_RESERVED_BITS,
  LongPacketType,
  MAX_CID_LENGTH,
  MAX_CID_LENGTH_INVARIANT,
  SHORT_RESERVED_BITS,
  SPIN_BIT,
  isLongHeader,
  parsePacketHeader,
  peekVersion,
  sizeLongHeader,
  sizeShortHeader,
  tryParsePacketHeader,
  writeLongHeader,
  writeShortHeader,
  type InvalidPacket,
  type LongHeader,
  type LongHeaderFields,
  type PacketHeader,
  type PacketMarks,
  type ProtectedHeader,
  type ProtectedLongPacketType,
  type RetryHeader,
  type ShortHeader,
  type UnsupportedVersionHeader,
  type VersionNegotiationHeader,
} from './header.js';
export {
  QUIC_VERSION_1,
  SUPPORTED_VERSIONS,
  VERSION_NEGOTIATION,
  isReservedVersion,
  isSupportedVersion,
} from './version.js';
export {
  encodeVersionNegotiation,
  sizeVersionNegotiation,
  writeVersionNegotiation,
  type VersionNegotiationFields,
} from './version-negotiation.js';
export { encodeRetry, sizeRetry, verifyRetry, writeRetry, type RetryFields } from './retry.js';
export {
  openPacket,
  openPayload,
  removeHeaderProtection,
  sealPacket,
  type KeySelector,
  type OpenedPacket,
  type UnprotectedHeader,
} from './protection.js';
