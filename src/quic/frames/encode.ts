import type { Writer } from '../../codec/writer.js';
import { sizeVarint, sizeVarintExact } from '../../codec/varint.js';
import type { EcnCounts, Frame } from './frame.js';
import { FrameType, STREAM_FIN_BIT, STREAM_LEN_BIT, STREAM_OFF_BIT } from './types.js';

/**
 * Frame encoding (RFC 9000 §19, RFC 9221 §4, draft-ietf-quic-multipath §4, n0 NAT traversal), each writer paired with an exact size function
 * (STYLE.md rule 4): `sizeFrame(f)` is exactly the number of bytes `writeFrame(w, f)` writes.
 *
 * The generic `writeFrame` always writes STREAM and DATAGRAM frames with a Length field, so they
 * can go anywhere in a packet. The packet builder's hot path uses the header helpers below
 * instead, which take plain numbers (no frame object), can omit the Length field of the last frame
 * of a packet, and leave the caller to copy the data straight from its send buffer.
 *
 * Encoding our own values is never a peer's doing: invalid values (negative, above 2^62-1,
 * malformed ACK ranges) throw RangeError, and a fixed Writer throws BufferOverflowError when a
 * frame does not fit (size it first).
 */

/** Writes `f` (see the module note for STREAM and DATAGRAM). */
export function writeFrame(w: Writer, f: Frame): void {
  switch (f.kind) {
    case 'padding':
      w.zeros(f.length);
      return;
    case 'ping':
      w.u8(FrameType.PING);
      return;
    case 'ack':
      writeAckFrame(w, f.ranges, f.ackDelay, f.ecn);
      return;
    case 'resetStream':
      w.u8(FrameType.RESET_STREAM);
      w.varint(f.streamId);
      w.varintExact(f.errorCode);
      w.varint(f.finalSize);
      return;
    case 'stopSending':
      w.u8(FrameType.STOP_SENDING);
      w.varint(f.streamId);
      w.varintExact(f.errorCode);
      return;
    case 'crypto':
      writeCryptoFrameHeader(w, f.offset, f.data.length);
      w.bytesOf(f.data);
      return;
    case 'newToken':
      w.u8(FrameType.NEW_TOKEN);
      w.varint(f.token.length);
      w.bytesOf(f.token);
      return;
    case 'stream':
      writeStreamFrameHeader(w, f.streamId, f.offset, f.data.length, f.fin, true);
      w.bytesOf(f.data);
      return;
    case 'maxData':
      w.u8(FrameType.MAX_DATA);
      w.varint(f.maximum);
      return;
    case 'maxStreamData':
      w.u8(FrameType.MAX_STREAM_DATA);
      w.varint(f.streamId);
      w.varint(f.maximum);
      return;
    case 'maxStreams':
      w.u8(f.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI);
      w.varint(f.maximum);
      return;
    case 'dataBlocked':
      w.u8(FrameType.DATA_BLOCKED);
      w.varint(f.maximum);
      return;
    case 'streamDataBlocked':
      w.u8(FrameType.STREAM_DATA_BLOCKED);
      w.varint(f.streamId);
      w.varint(f.maximum);
      return;
    case 'streamsBlocked':
      w.u8(f.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI);
      w.varint(f.maximum);
      return;
    case 'newConnectionId':
      w.u8(FrameType.NEW_CONNECTION_ID);
      w.varint(f.sequence);
      w.varint(f.retirePriorTo);
      w.u8(f.connectionId.length);
      w.bytesOf(f.connectionId);
      w.bytesOf(f.resetToken);
      return;
    case 'retireConnectionId':
      w.u8(FrameType.RETIRE_CONNECTION_ID);
      w.varint(f.sequence);
      return;
    case 'pathChallenge':
      w.u8(FrameType.PATH_CHALLENGE);
      w.bytesOf(f.data);
      return;
    case 'pathResponse':
      w.u8(FrameType.PATH_RESPONSE);
      w.bytesOf(f.data);
      return;
    case 'connectionClose':
      w.u8(f.application ? FrameType.CONNECTION_CLOSE_APP : FrameType.CONNECTION_CLOSE);
      w.varintExact(f.errorCode);
      if (!f.application) w.varint(f.frameType);
      w.varint(f.reason.length);
      w.bytesOf(f.reason);
      return;
    case 'handshakeDone':
      w.u8(FrameType.HANDSHAKE_DONE);
      return;
    case 'datagram':
      writeDatagramFrameHeader(w, f.data.length, true);
      w.bytesOf(f.data);
      return;
    case 'pathAck':
      writePathAckFrame(w, f.pathId, f.ranges, f.ackDelay, f.ecn);
      return;
    default:
      writeExtensionFrame(w, f);
  }
}

/** The frames of more than one byte of type (multipath, n0 NAT traversal). */
function writeExtensionFrame(w: Writer, f: ExtensionFrame): void {
  if ('pathId' in f) checkPathId(f.pathId);
  w.varint(frameTypeOf(f));
  switch (f.kind) {
    case 'pathAbandon':
      w.varint(f.pathId);
      w.varintExact(f.errorCode);
      return;
    case 'pathStatus':
      w.varint(f.pathId);
      w.varint(f.sequence);
      return;
    case 'pathNewConnectionId':
      w.varint(f.pathId);
      w.varint(f.sequence);
      w.varint(f.retirePriorTo);
      w.u8(f.connectionId.length);
      w.bytesOf(f.connectionId);
      w.bytesOf(f.resetToken);
      return;
    case 'pathRetireConnectionId':
      w.varint(f.pathId);
      w.varint(f.sequence);
      return;
    case 'maxPathId':
    case 'pathsBlocked':
      checkPathId(f.maximum);
      w.varint(f.maximum);
      return;
    case 'pathCidsBlocked':
      w.varint(f.pathId);
      w.varint(f.nextSequence);
      return;
    case 'addAddress':
    case 'reachOut':
    case 'observedAddress':
      checkIp(f.ip);
      w.varint(f.kind === 'reachOut' ? f.round : f.sequence);
      w.bytesOf(f.ip);
      w.u16(f.port);
      return;
    case 'removeAddress':
      w.varint(f.sequence);
      return;
  }
}

/** The frames `writeExtensionFrame` writes. */
type ExtensionFrame = Extract<Frame, { kind: ExtensionKind }>;
type ExtensionKind =
  | 'pathAbandon'
  | 'pathStatus'
  | 'pathNewConnectionId'
  | 'pathRetireConnectionId'
  | 'maxPathId'
  | 'pathsBlocked'
  | 'pathCidsBlocked'
  | 'addAddress'
  | 'reachOut'
  | 'removeAddress'
  | 'observedAddress';

function checkPathId(pathId: number): void {
  if (!(pathId >= 0 && pathId <= 0xffffffff)) throw new RangeError(`path id ${pathId} is not a 32-bit value`);
}

function checkIp(ip: Uint8Array): void {
  if (ip.length !== 4 && ip.length !== 16) throw new RangeError(`an IP address is 4 or 16 bytes, not ${ip.length}`);
}

/** Exact number of bytes `writeFrame(w, f)` writes. */
export function sizeFrame(f: Frame): number {
  switch (f.kind) {
    case 'padding':
      return f.length;
    case 'ping':
    case 'handshakeDone':
      return 1;
    case 'ack':
      return sizeAckFrame(f.ranges, f.ackDelay, f.ecn);
    case 'resetStream':
      return 1 + sizeVarint(f.streamId) + sizeVarintExact(f.errorCode) + sizeVarint(f.finalSize);
    case 'stopSending':
      return 1 + sizeVarint(f.streamId) + sizeVarintExact(f.errorCode);
    case 'crypto':
      return sizeCryptoFrameHeader(f.offset, f.data.length) + f.data.length;
    case 'newToken':
      return 1 + sizeVarint(f.token.length) + f.token.length;
    case 'stream':
      return sizeStreamFrameHeader(f.streamId, f.offset, f.data.length, true) + f.data.length;
    case 'maxData':
    case 'dataBlocked':
    case 'maxStreams':
    case 'streamsBlocked':
      return 1 + sizeVarint(f.maximum);
    case 'maxStreamData':
    case 'streamDataBlocked':
      return 1 + sizeVarint(f.streamId) + sizeVarint(f.maximum);
    case 'newConnectionId':
      return 1 + sizeVarint(f.sequence) + sizeVarint(f.retirePriorTo) + 1 + f.connectionId.length + f.resetToken.length;
    case 'retireConnectionId':
      return 1 + sizeVarint(f.sequence);
    case 'pathChallenge':
    case 'pathResponse':
      return 1 + f.data.length;
    case 'connectionClose':
      return (
        1 +
        sizeVarintExact(f.errorCode) +
        (f.application ? 0 : sizeVarint(f.frameType)) +
        sizeVarint(f.reason.length) +
        f.reason.length
      );
    case 'datagram':
      return sizeDatagramFrameHeader(f.data.length, true) + f.data.length;
    case 'pathAck':
      return sizePathAckFrame(f.pathId, f.ranges, f.ackDelay, f.ecn);
    default:
      return sizeVarint(frameTypeOf(f)) + sizeExtensionBody(f);
  }
}

function sizeExtensionBody(f: ExtensionFrame): number {
  switch (f.kind) {
    case 'pathAbandon':
      return sizeVarint(f.pathId) + sizeVarintExact(f.errorCode);
    case 'pathStatus':
      return sizeVarint(f.pathId) + sizeVarint(f.sequence);
    case 'pathNewConnectionId':
      return sizeVarint(f.pathId) + sizeVarint(f.sequence) + sizeVarint(f.retirePriorTo) + 1 + f.connectionId.length + f.resetToken.length;
    case 'pathRetireConnectionId':
      return sizeVarint(f.pathId) + sizeVarint(f.sequence);
    case 'maxPathId':
    case 'pathsBlocked':
      return sizeVarint(f.maximum);
    case 'pathCidsBlocked':
      return sizeVarint(f.pathId) + sizeVarint(f.nextSequence);
    case 'addAddress':
    case 'observedAddress':
      return sizeVarint(f.sequence) + f.ip.length + 2;
    case 'reachOut':
      return sizeVarint(f.round) + f.ip.length + 2;
    case 'removeAddress':
      return sizeVarint(f.sequence);
  }
}

/** The wire type `writeFrame` uses for `f` (0x00 for a PADDING run). */
export function frameTypeOf(f: Frame): number {
  switch (f.kind) {
    case 'padding':
      return FrameType.PADDING;
    case 'ping':
      return FrameType.PING;
    case 'ack':
      return f.ecn === null ? FrameType.ACK : FrameType.ACK_ECN;
    case 'resetStream':
      return FrameType.RESET_STREAM;
    case 'stopSending':
      return FrameType.STOP_SENDING;
    case 'crypto':
      return FrameType.CRYPTO;
    case 'newToken':
      return FrameType.NEW_TOKEN;
    case 'stream':
      return streamFrameType(f.offset, f.fin, true);
    case 'maxData':
      return FrameType.MAX_DATA;
    case 'maxStreamData':
      return FrameType.MAX_STREAM_DATA;
    case 'maxStreams':
      return f.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI;
    case 'dataBlocked':
      return FrameType.DATA_BLOCKED;
    case 'streamDataBlocked':
      return FrameType.STREAM_DATA_BLOCKED;
    case 'streamsBlocked':
      return f.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI;
    case 'newConnectionId':
      return FrameType.NEW_CONNECTION_ID;
    case 'retireConnectionId':
      return FrameType.RETIRE_CONNECTION_ID;
    case 'pathChallenge':
      return FrameType.PATH_CHALLENGE;
    case 'pathResponse':
      return FrameType.PATH_RESPONSE;
    case 'connectionClose':
      return f.application ? FrameType.CONNECTION_CLOSE_APP : FrameType.CONNECTION_CLOSE;
    case 'handshakeDone':
      return FrameType.HANDSHAKE_DONE;
    case 'datagram':
      return FrameType.DATAGRAM_LEN;
    case 'pathAck':
      return f.ecn === null ? FrameType.PATH_ACK : FrameType.PATH_ACK_ECN;
    case 'pathAbandon':
      return FrameType.PATH_ABANDON;
    case 'pathStatus':
      return f.status === 'backup' ? FrameType.PATH_STATUS_BACKUP : FrameType.PATH_STATUS_AVAILABLE;
    case 'pathNewConnectionId':
      return FrameType.PATH_NEW_CONNECTION_ID;
    case 'pathRetireConnectionId':
      return FrameType.PATH_RETIRE_CONNECTION_ID;
    case 'maxPathId':
      return FrameType.MAX_PATH_ID;
    case 'pathsBlocked':
      return FrameType.PATHS_BLOCKED;
    case 'pathCidsBlocked':
      return FrameType.PATH_CIDS_BLOCKED;
    case 'addAddress':
      return f.ip.length === 16 ? FrameType.ADD_ADDRESS_IPV6 : FrameType.ADD_ADDRESS_IPV4;
    case 'reachOut':
      return f.ip.length === 16 ? FrameType.REACH_OUT_IPV6 : FrameType.REACH_OUT_IPV4;
    case 'removeAddress':
      return FrameType.REMOVE_ADDRESS;
    case 'observedAddress':
      return f.ip.length === 16 ? FrameType.OBSERVED_ADDRESS_IPV6 : FrameType.OBSERVED_ADDRESS_IPV4;
  }
}

// ---------------------------------------------------------------------------------------------
// Hot-path helpers for the packet builder: numbers in, no allocation.

/**
 * Wire type of a STREAM frame. RFC 9000 §19.8: OFF is set only when the offset is non-zero
 * ("when the OFF bit is not set, the Offset field is absent and the stream data starts at an
 * offset of 0"); LEN may be clear only for the last frame of a packet.
 */
export function streamFrameType(offset: number, fin: boolean, withLength: boolean): number {
  return (
    FrameType.STREAM |
    (offset > 0 ? STREAM_OFF_BIT : 0) |
    (withLength ? STREAM_LEN_BIT : 0) |
    (fin ? STREAM_FIN_BIT : 0)
  );
}

/** Bytes of a STREAM frame before its data. */
export function sizeStreamFrameHeader(streamId: number, offset: number, length: number, withLength: boolean): number {
  return 1 + sizeVarint(streamId) + (offset > 0 ? sizeVarint(offset) : 0) + (withLength ? sizeVarint(length) : 0);
}

/**
 * Writes a STREAM frame header announcing `length` data bytes; the caller writes the data next.
 * Without a Length field the frame MUST be the last one in the packet (RFC 9000 §19.8).
 */
export function writeStreamFrameHeader(
  w: Writer,
  streamId: number,
  offset: number,
  length: number,
  fin: boolean,
  withLength: boolean,
): void {
  w.u8(streamFrameType(offset, fin, withLength));
  w.varint(streamId);
  if (offset > 0) w.varint(offset);
  if (withLength) w.varint(length);
}

/**
 * The most STREAM data bytes that fit in `space` bytes together with their header, or -1 when not
 * even an empty frame fits. With `withLength` false the frame fills the rest of the packet.
 */
export function maxStreamDataThatFits(space: number, streamId: number, offset: number, withLength: boolean): number {
  const avail = space - 1 - sizeVarint(streamId) - (offset > 0 ? sizeVarint(offset) : 0);
  return withLength ? fitWithLengthPrefix(avail) : avail >= 0 ? avail : -1;
}

/** Bytes of a CRYPTO frame before its data (RFC 9000 §19.6: always with a Length). */
export function sizeCryptoFrameHeader(offset: number, length: number): number {
  return 1 + sizeVarint(offset) + sizeVarint(length);
}

/** Writes a CRYPTO frame header; the caller writes `length` data bytes next. */
export function writeCryptoFrameHeader(w: Writer, offset: number, length: number): void {
  w.u8(FrameType.CRYPTO);
  w.varint(offset);
  w.varint(length);
}

/** The most CRYPTO data bytes that fit in `space` with their header, or -1 when none. */
export function maxCryptoDataThatFits(space: number, offset: number): number {
  return fitWithLengthPrefix(space - 1 - sizeVarint(offset));
}

/** Bytes of a DATAGRAM frame before its data (type 0x31 with a Length, 0x30 without). */
export function sizeDatagramFrameHeader(length: number, withLength: boolean): number {
  return withLength ? 1 + sizeVarint(length) : 1;
}

/**
 * Writes a DATAGRAM frame header; the caller writes `length` data bytes next. Without a Length
 * (type 0x30) the frame MUST be the last one in the packet (RFC 9221 §4).
 */
export function writeDatagramFrameHeader(w: Writer, length: number, withLength: boolean): void {
  if (withLength) {
    w.u8(FrameType.DATAGRAM_LEN);
    w.varint(length);
  } else {
    w.u8(FrameType.DATAGRAM);
  }
}

/** The largest DATAGRAM payload that fits in `space` bytes with its header, or -1 when none. */
export function maxDatagramDataThatFits(space: number, withLength: boolean): number {
  return withLength ? fitWithLengthPrefix(space - 1) : space >= 1 ? space - 1 : -1;
}

/** `length` zero bytes of PADDING (RFC 9000 §19.1: each 0x00 byte is one PADDING frame). */
export function writePadding(w: Writer, length: number): void {
  w.zeros(length);
}

/**
 * Exact size of the ACK frame `writeAckFrame` writes with the same arguments. `ranges` is the flat
 * descending array described on `AckFrame`; only the first `maxRanges` ranges count.
 */
export function sizeAckFrame(
  ranges: ArrayLike<number>,
  ackDelay: number,
  ecn: EcnCounts | null,
  maxRanges = Infinity,
): number {
  return sizeAckBody(ranges, ackDelay, ecn, maxRanges);
}

/** Exact size of the PATH_ACK frame `writePathAckFrame` writes with the same arguments. */
export function sizePathAckFrame(
  pathId: number,
  ranges: ArrayLike<number>,
  ackDelay: number,
  ecn: EcnCounts | null,
  maxRanges = Infinity,
): number {
  return sizeVarint(pathId) + sizeAckBody(ranges, ackDelay, ecn, maxRanges);
}

/** The type byte and the fields of an ACK frame (PATH_ACK's type is one byte too). */
function sizeAckBody(ranges: ArrayLike<number>, ackDelay: number, ecn: EcnCounts | null, maxRanges: number): number {
  const n = rangesToWrite(ranges, maxRanges);
  const largest = ranges[0]!;
  let size =
    1 + sizeVarint(largest) + sizeVarint(ackDelay) + sizeVarint(n - 1) + sizeVarint(largest - ranges[1]!) + sizeEcn(ecn);
  for (let i = 1; i < n; i++) {
    const hi = ranges[2 * i]!;
    const lo = ranges[2 * i + 1]!;
    size += sizeVarint(ranges[2 * i - 1]! - hi - 2) + sizeVarint(hi - lo);
  }
  return size;
}

/**
 * Writes an ACK (or, with `ecn`, ACK_ECN) frame from absolute ranges (RFC 9000 §19.3), the largest
 * first, keeping at most `maxRanges` of them (the newest: RFC 9000 §13.2.4 lets a receiver drop
 * the oldest ranges to fit). `ackDelay` is the raw field, already scaled by the exponent.
 */
export function writeAckFrame(
  w: Writer,
  ranges: ArrayLike<number>,
  ackDelay: number,
  ecn: EcnCounts | null,
  maxRanges = Infinity,
): void {
  w.u8(ecn === null ? FrameType.ACK : FrameType.ACK_ECN);
  writeAckBody(w, ranges, ackDelay, ecn, maxRanges);
}

/**
 * Writes a PATH_ACK (or, with `ecn`, PATH_ACK_ECN) frame (draft-ietf-quic-multipath §4.1): an
 * ACK frame of path `pathId`'s packet number space, the arguments as `writeAckFrame`'s.
 */
export function writePathAckFrame(
  w: Writer,
  pathId: number,
  ranges: ArrayLike<number>,
  ackDelay: number,
  ecn: EcnCounts | null,
  maxRanges = Infinity,
): void {
  checkPathId(pathId);
  w.u8(ecn === null ? FrameType.PATH_ACK : FrameType.PATH_ACK_ECN);
  w.varint(pathId);
  writeAckBody(w, ranges, ackDelay, ecn, maxRanges);
}

/** The fields of an ACK frame after its type. */
function writeAckBody(w: Writer, ranges: ArrayLike<number>, ackDelay: number, ecn: EcnCounts | null, maxRanges: number): void {
  const n = rangesToWrite(ranges, maxRanges);
  const largest = ranges[0]!;
  const first = largest - ranges[1]!;
  if (!(first >= 0)) throw new RangeError(`ACK range [${ranges[1]}, ${largest}] is inverted`);
  w.varint(largest);
  w.varint(ackDelay);
  w.varint(n - 1);
  w.varint(first);
  for (let i = 1; i < n; i++) {
    const hi = ranges[2 * i]!;
    const lo = ranges[2 * i + 1]!;
    // §19.3.1: Gap = previous smallest - this largest - 2; ACK Range Length = largest - smallest.
    const gap = ranges[2 * i - 1]! - hi - 2;
    if (!(gap >= 0) || !(hi >= lo)) throw new RangeError(`ACK ranges not descending and disjoint at range ${i}`);
    w.varint(gap);
    w.varint(hi - lo);
  }
  if (ecn !== null) {
    w.varint(ecn.ect0);
    w.varint(ecn.ect1);
    w.varint(ecn.ce);
  }
}

/**
 * How many of `ranges` (newest first) an ACK frame can carry within `space` bytes: at least 1, or
 * 0 when not even the first range fits. Pass the result as `maxRanges`.
 */
export function ackRangesThatFit(
  ranges: ArrayLike<number>,
  ackDelay: number,
  ecn: EcnCounts | null,
  space: number,
): number {
  const total = ranges.length >> 1;
  if (total === 0) return 0;
  const largest = ranges[0]!;
  const base = 1 + sizeVarint(largest) + sizeVarint(ackDelay) + sizeVarint(largest - ranges[1]!) + sizeEcn(ecn);
  let body = 0;
  let best = 0;
  for (let k = 1; k <= total; k++) {
    if (k > 1) {
      const hi = ranges[2 * k - 2]!;
      body += sizeVarint(ranges[2 * k - 3]! - hi - 2) + sizeVarint(hi - ranges[2 * k - 1]!);
    }
    // The range count and the body only grow with k: stop at the first that does not fit.
    if (base + sizeVarint(k - 1) + body > space) break;
    best = k;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------

function rangesToWrite(ranges: ArrayLike<number>, maxRanges: number): number {
  const n = Math.min(ranges.length >> 1, maxRanges);
  if (!(n >= 1)) throw new RangeError('an ACK frame needs at least one range');
  return n;
}

function sizeEcn(ecn: EcnCounts | null): number {
  return ecn === null ? 0 : sizeVarint(ecn.ect0) + sizeVarint(ecn.ect1) + sizeVarint(ecn.ce);
}

/** Largest n >= 0 with sizeVarint(n) + n <= avail, or -1 when avail < 1. */
function fitWithLengthPrefix(avail: number): number {
  if (avail < 1) return -1;
  if (avail <= 64) return avail - 1; // 1-byte length, n <= 63
  if (avail <= 16385) return Math.max(63, avail - 2);
  if (avail <= 0x40000003) return Math.max(16383, avail - 4);
  return Math.max(0x3fffffff, avail - 8);
}
