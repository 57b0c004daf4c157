import { Reader } from '../../codec/reader.js';
import { DecodeError } from '../../codec/errors.js';
import { VARINT_MAX_BIG, VARINT_SATURATED, sizeVarint } from '../../codec/varint.js';
import {
  TransportError,
  TransportErrorCode,
  frameEncodingError,
  protocolViolation,
} from '../errors.js';
import type { EcnCounts, Frame } from './frame.js';
import {
  FrameType,
  frameTypeInfo,
  STREAM_FIN_BIT,
  STREAM_LEN_BIT,
  STREAM_OFF_BIT,
  frameContextName,
  type FrameContext,
} from './types.js';

/**
 * Frame decoding (RFC 9000 §12.4, §19; RFC 9221 §4).
 *
 * Every failure is a `TransportError`: this module is the ONE place where a `DecodeError` from the
 * cursor (truncation, a length past the end) becomes FRAME_ENCODING_ERROR with the frame's type.
 * Decoded byte fields are views into the payload (see frame.ts).
 */

/**
 * Decodes one frame at the reader's position, checking that its type may appear in a packet of
 * `context`. Consecutive PADDING bytes decode as one PADDING frame.
 *
 * @throws TransportError FRAME_ENCODING_ERROR (malformed or unknown type), PROTOCOL_VIOLATION (type
 *   not allowed in this packet type, or not minimally encoded), CRYPTO_BUFFER_EXCEEDED.
 */
export function decodeFrame(r: Reader, context: FrameContext): Frame {
  const type = readFrameType(r);
  checkAllowed(type, context);
  return decodeFrameBody(r, type);
}

/**
 * Walks the frames of one packet payload without allocating anything but the frames:
 *
 * ```ts
 * const it = new FrameIterator();        // reusable across packets
 * it.reset(payload, FrameContext.OneRtt);
 * for (let f = it.next(); f !== null; f = it.next()) handle(f, it.frameType);
 * if (it.ackEliciting) ...
 * ```
 *
 * Besides the frames it tracks what the connection needs about the packet: whether it is
 * ack-eliciting (RFC 9000 §13.2) and whether it held only probing frames (§9.1).
 */
export class FrameIterator {
  /** Wire type of the frame last returned by `next()` (for errors the caller raises about it). */
  frameType = 0;
  /** Number of frames returned so far (a PADDING run counts once). */
  count = 0;
  /** True once a frame other than ACK, PADDING or CONNECTION_CLOSE was returned. */
  ackEliciting = false;
  /** True while every frame returned was a probing frame (PATH_*, NEW_CONNECTION_ID, PADDING). */
  probingOnly = true;
  private readonly r: Reader = new Reader(EMPTY);
  private context: FrameContext = 3;

  /**
   * Starts on a new payload (`payload[start, end)`).
   *
   * @throws TransportError PROTOCOL_VIOLATION when the payload is empty: RFC 9000 §12.4, "the
   *   payload of a packet that contains frames MUST contain at least one frame".
   */
  reset(payload: Uint8Array, context: FrameContext, start = 0, end = payload.length): this {
    if (end <= start) throw protocolViolation('packet payload has no frames');
    this.r.reset(payload, start, end);
    this.context = context;
    this.frameType = 0;
    this.count = 0;
    this.ackEliciting = false;
    this.probingOnly = true;
    return this;
  }

  /**
   * Done with the payload: the iterator lets go of it (a view of the datagram would otherwise keep
   * the connection's last received datagram alive while it idles).
   */
  release(): void {
    this.r.reset(EMPTY, 0, 0);
  }

  /** The next frame, or null at the end of the payload. Throws `TransportError` like `decodeFrame`. */
  next(): Frame | null {
    const r = this.r;
    if (r.pos >= r.end) return null;
    const type = readFrameType(r);
    checkAllowed(type, this.context);
    const f = decodeFrameBody(r, type);
    const info = frameTypeInfo(type)!;
    this.frameType = type;
    this.count++;
    if (info.ackEliciting) this.ackEliciting = true;
    if (!info.probing) this.probingOnly = false;
    return f;
  }
}

/** Decodes a whole packet payload into an array (convenient off the hot path and in tests). */
export function decodeFrames(payload: Uint8Array, context: FrameContext): Frame[] {
  const it = new FrameIterator().reset(payload, context);
  const out: Frame[] = [];
  for (let f = it.next(); f !== null; f = it.next()) out.push(f);
  return out;
}

const EMPTY = new Uint8Array(0);
const MAX_STREAMS_LIMIT = 1n << 60n;

/**
 * Reads the Frame Type varint. RFC 9000 §12.4: it MUST use the shortest encoding; an endpoint
 * MAY treat a longer one as PROTOCOL_VIOLATION, which we do. Unknown types are
 * FRAME_ENCODING_ERROR (§12.4: "an endpoint MUST treat the receipt of a frame of unknown type as
 * a connection error of type FRAME_ENCODING_ERROR").
 */
function readFrameType(r: Reader): number {
  if (r.pos >= r.end) throw frameEncodingError('missing frame type');
  const first = r.buf[r.pos]!;
  let type: number;
  if (first < 0x40) {
    r.pos++;
    type = first;
  } else {
    const start = r.pos;
    try {
      type = r.varint();
    } catch (e) {
      throw mapDecodeError(e, 0);
    }
    if (sizeVarint(type) !== r.pos - start) {
      throw protocolViolation(`frame type 0x${type.toString(16)} not in its shortest encoding`, type);
    }
  }
  if (frameTypeInfo(type) === undefined) {
    throw frameEncodingError(`unknown frame type 0x${type.toString(16)}`, type);
  }
  return type;
}

/** RFC 9000 §12.4: a frame in a packet type not permitted for it is a PROTOCOL_VIOLATION. */
function checkAllowed(type: number, context: FrameContext): void {
  const info = frameTypeInfo(type)!;
  if ((info.allowed & (1 << context)) === 0) {
    throw protocolViolation(`${info.name} frame not allowed in a ${frameContextName(context)} packet`, type);
  }
}

/** The one place where a cursor failure becomes a wire error (STYLE.md rule 3). */
function mapDecodeError(e: unknown, type: number): TransportError {
  if (e instanceof TransportError) return e;
  if (e instanceof DecodeError) return frameEncodingError(e.message, type);
  throw e; // a bug in this module, not a peer's doing: let it surface
}

function decodeFrameBody(r: Reader, type: number): Frame {
  try {
    return decodeBody(r, type);
  } catch (e) {
    throw mapDecodeError(e, type);
  }
}

function decodeBody(r: Reader, type: number): Frame {
  switch (type) {
    case FrameType.PADDING: {
      // Fast path: swallow the whole run of zero bytes as one frame.
      const buf = r.buf;
      const start = r.pos - 1;
      let p = r.pos;
      const end = r.end;
      while (p < end && buf[p] === 0) p++;
      r.pos = p;
      return { kind: 'padding', length: p - start };
    }
    case FrameType.PING:
      return PING;
    case FrameType.ACK:
    case FrameType.ACK_ECN: {
      const largest = r.varint();
      const ackDelay = r.varint();
      const ranges = readAckRanges(r, type, largest);
      return { kind: 'ack', largest, ackDelay, ranges, ecn: type === FrameType.ACK_ECN ? readEcn(r) : null };
    }
    case FrameType.RESET_STREAM: {
      const streamId = r.varint();
      const errorCode = r.varintExact();
      const finalSize = r.varint();
      return { kind: 'resetStream', streamId, errorCode, finalSize };
    }
    case FrameType.STOP_SENDING: {
      const streamId = r.varint();
      const errorCode = r.varintExact();
      return { kind: 'stopSending', streamId, errorCode };
    }
    case FrameType.CRYPTO: {
      const offPos = r.pos;
      const offset = r.varint();
      const length = r.varint();
      // RFC 9000 §19.6: "The largest offset delivered on a stream -- the sum of the offset and
      // data length -- cannot exceed 2^62-1. Receipt of a frame that exceeds this limit MUST be
      // treated as a connection error of type FRAME_ENCODING_ERROR or CRYPTO_BUFFER_EXCEEDED."
      if (offset === VARINT_SATURATED && exceedsVarintMax(r, offPos, length)) {
        throw new TransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, 'CRYPTO offset + length > 2^62-1', type);
      }
      const data = r.bytes(length);
      return { kind: 'crypto', offset, data };
    }
    case FrameType.NEW_TOKEN: {
      const length = r.varint();
      // RFC 9000 §19.7: "A client MUST treat receipt of a NEW_TOKEN frame with an empty Token
      // field as a connection error of type FRAME_ENCODING_ERROR."
      if (length === 0) throw frameEncodingError('empty NEW_TOKEN token', type);
      return { kind: 'newToken', token: r.bytes(length) };
    }
    case FrameType.MAX_DATA:
      return { kind: 'maxData', maximum: r.varint() };
    case FrameType.MAX_STREAM_DATA: {
      const streamId = r.varint();
      return { kind: 'maxStreamData', streamId, maximum: r.varint() };
    }
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI:
      return { kind: 'maxStreams', bidi: type === FrameType.MAX_STREAMS_BIDI, maximum: readStreamCount(r, type) };
    case FrameType.DATA_BLOCKED:
      return { kind: 'dataBlocked', maximum: r.varint() };
    case FrameType.STREAM_DATA_BLOCKED: {
      const streamId = r.varint();
      return { kind: 'streamDataBlocked', streamId, maximum: r.varint() };
    }
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI:
      return {
        kind: 'streamsBlocked',
        bidi: type === FrameType.STREAMS_BLOCKED_BIDI,
        maximum: readStreamCount(r, type),
      };
    case FrameType.NEW_CONNECTION_ID:
      return decodeNewConnectionId(r, type);
    case FrameType.RETIRE_CONNECTION_ID:
      return { kind: 'retireConnectionId', sequence: r.varint() };
    case FrameType.PATH_CHALLENGE:
      return { kind: 'pathChallenge', data: r.bytes(8) };
    case FrameType.PATH_RESPONSE:
      return { kind: 'pathResponse', data: r.bytes(8) };
    case FrameType.CONNECTION_CLOSE:
    case FrameType.CONNECTION_CLOSE_APP: {
      const application = type === FrameType.CONNECTION_CLOSE_APP;
      const errorCode = r.varintExact();
      const frameType = application ? 0 : r.varint();
      const reason = r.bytes(r.varint());
      return { kind: 'connectionClose', application, errorCode, frameType, reason };
    }
    case FrameType.HANDSHAKE_DONE:
      return HANDSHAKE_DONE;
    case FrameType.DATAGRAM:
      // RFC 9221 §4: without a Length field the datagram extends to the end of the packet.
      return { kind: 'datagram', data: r.rest() };
    case FrameType.DATAGRAM_LEN:
      return { kind: 'datagram', data: r.bytes(r.varint()) };
    case FrameType.PATH_ACK:
    case FrameType.PATH_ACK_ECN: {
      // draft-ietf-quic-multipath §4.1: Path Identifier, then the fields of an ACK frame.
      const pathId = readPathId(r, type);
      const largest = r.varint();
      const ackDelay = r.varint();
      const ranges = readAckRanges(r, type, largest);
      const ecn = type === FrameType.PATH_ACK_ECN ? readEcn(r) : null;
      return { kind: 'pathAck', pathId, largest, ackDelay, ranges, ecn };
    }
    default:
      if (type >= 0x08 && type <= 0x0f) return decodeStream(r, type);
      return decodeExtension(r, type);
  }
}

/** The frames of more than one byte of type: multipath (draft §4) and n0 NAT traversal. */
function decodeExtension(r: Reader, type: number): Frame {
  switch (type) {
    case FrameType.PATH_ABANDON: {
      const pathId = readPathId(r, type);
      return { kind: 'pathAbandon', pathId, errorCode: r.varintExact() };
    }
    case FrameType.PATH_STATUS_BACKUP:
    case FrameType.PATH_STATUS_AVAILABLE: {
      const pathId = readPathId(r, type);
      const status = type === FrameType.PATH_STATUS_BACKUP ? 'backup' : 'available';
      return { kind: 'pathStatus', pathId, status, sequence: r.varint() };
    }
    case FrameType.PATH_NEW_CONNECTION_ID: {
      const pathId = readPathId(r, type);
      const f = readNewConnectionId(r, type);
      return { kind: 'pathNewConnectionId', pathId, ...f };
    }
    case FrameType.PATH_RETIRE_CONNECTION_ID: {
      const pathId = readPathId(r, type);
      return { kind: 'pathRetireConnectionId', pathId, sequence: r.varint() };
    }
    case FrameType.MAX_PATH_ID:
      return { kind: 'maxPathId', maximum: readPathId(r, type) };
    case FrameType.PATHS_BLOCKED:
      return { kind: 'pathsBlocked', maximum: readPathId(r, type) };
    case FrameType.PATH_CIDS_BLOCKED: {
      const pathId = readPathId(r, type);
      return { kind: 'pathCidsBlocked', pathId, nextSequence: r.varint() };
    }
    case FrameType.ADD_ADDRESS_IPV4:
    case FrameType.ADD_ADDRESS_IPV6: {
      // n0 NAT traversal: sequence varint, the IP address (4 or 16 bytes), a u16 port.
      const sequence = r.varint();
      const ip = r.bytes(type === FrameType.ADD_ADDRESS_IPV6 ? 16 : 4);
      return { kind: 'addAddress', sequence, ip, port: r.u16() };
    }
    case FrameType.REACH_OUT_IPV4:
    case FrameType.REACH_OUT_IPV6: {
      const round = r.varint();
      const ip = r.bytes(type === FrameType.REACH_OUT_IPV6 ? 16 : 4);
      return { kind: 'reachOut', round, ip, port: r.u16() };
    }
    case FrameType.REMOVE_ADDRESS:
      return { kind: 'removeAddress', sequence: r.varint() };
    case FrameType.OBSERVED_ADDRESS_IPV4:
    case FrameType.OBSERVED_ADDRESS_IPV6: {
      // Sequence number varint, the IP address (4 or 16 bytes), a u16 port (noq's ObservedAddr).
      const sequence = r.varint();
      const ip = r.bytes(type === FrameType.OBSERVED_ADDRESS_IPV6 ? 16 : 4);
      return { kind: 'observedAddress', sequence, ip, port: r.u16() };
    }
    default:
      // readFrameType let through only types of the table, and every one has a case above.
      throw new Error(`no decoder for frame type 0x${type.toString(16)}`);
  }
}

const PING: Frame = Object.freeze({ kind: 'ping' });
const HANDSHAKE_DONE: Frame = Object.freeze({ kind: 'handshakeDone' });

/** RFC 9000 §19.8: STREAM with the OFF/LEN/FIN bits of the type. */
function decodeStream(r: Reader, type: number): Frame {
  const streamId = r.varint();
  let offset = 0;
  const offPos = r.pos;
  if ((type & STREAM_OFF_BIT) !== 0) offset = r.varint();
  const length = (type & STREAM_LEN_BIT) !== 0 ? r.varint() : r.end - r.pos;
  // RFC 9000 §19.8: "The largest offset delivered on a stream -- the sum of the offset and data
  // length -- cannot exceed 2^62-1, as it is not possible to provide flow control credit for that
  // data. Receipt of a frame that exceeds this limit MUST be treated as a connection error of
  // type FRAME_ENCODING_ERROR or FLOW_CONTROL_ERROR."
  if (offset === VARINT_SATURATED && exceedsVarintMax(r, offPos, length)) {
    throw frameEncodingError('STREAM offset + length > 2^62-1', type);
  }
  const data = r.bytes(length);
  return { kind: 'stream', streamId, offset, data, fin: (type & STREAM_FIN_BIT) !== 0 };
}

/**
 * RFC 9000 §19.3: converts the ACK Range Count, First ACK Range and the (Gap, ACK Range Length)
 * pairs into absolute packet numbers below `largest`. §19.3.1: "If any computed packet number is
 * negative, an endpoint MUST generate a connection error of type FRAME_ENCODING_ERROR."
 *
 * Packet numbers above 2^53-1 saturate; the connection rejects an ACK of a packet number it never
 * sent (RFC 9000 §13.1), which covers them.
 */
function readAckRanges(r: Reader, type: number, largest: number): number[] {
  const count = r.varint();
  const first = r.varint();
  if (first > largest) throw frameEncodingError('ACK first range below packet number 0', type);
  let smallest = largest - first;
  const ranges = [largest, smallest];
  // Each range takes at least two bytes, so a huge count ends in a truncation error.
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    const len = r.varint();
    // §19.3.1: largest = previous smallest - gap - 2; smallest = largest - range length.
    const hi = smallest - gap - 2;
    if (hi < 0 || len > hi) throw frameEncodingError('ACK range below packet number 0', type);
    smallest = hi - len;
    ranges.push(hi, smallest);
  }
  return ranges;
}

/** RFC 9000 §19.3.2: the three ECN counts of ACK_ECN (and PATH_ACK_ECN). */
function readEcn(r: Reader): EcnCounts {
  const ect0 = r.varint();
  const ect1 = r.varint();
  const ce = r.varint();
  return { ect0, ect1, ce };
}

/**
 * A Path Identifier (draft-ietf-quic-multipath §2: "a path identifier is an integer between 0 and
 * 2^32-1"), carried in a varint. A larger value cannot name a path: FRAME_ENCODING_ERROR, as noq
 * treats it.
 */
function readPathId(r: Reader, type: number): number {
  const id = r.varint();
  if (id > MAX_PATH_ID) throw frameEncodingError(`path id ${id} > 2^32-1`, type);
  return id;
}

const MAX_PATH_ID = 0xffffffff;

/** RFC 9000 §19.15. */
function decodeNewConnectionId(r: Reader, type: number): Frame {
  return { kind: 'newConnectionId', ...readNewConnectionId(r, type) };
}

/** The fields of NEW_CONNECTION_ID (RFC 9000 §19.15), shared with PATH_NEW_CONNECTION_ID. */
function readNewConnectionId(
  r: Reader,
  type: number,
): { sequence: number; retirePriorTo: number; connectionId: Uint8Array; resetToken: Uint8Array } {
  const seqPos = r.pos;
  const sequence = r.varint();
  const retirePos = r.pos;
  const retirePriorTo = r.varint();
  // "The value in the Retire Prior To field MUST be less than or equal to the value in the
  // Sequence Number field. Receiving a value in the Retire Prior To field that is greater than
  // that in the Sequence Number field MUST be treated as a connection error of type
  // FRAME_ENCODING_ERROR." Compared exactly even when both saturate.
  const greater =
    retirePriorTo === VARINT_SATURATED
      ? new Reader(r.buf, retirePos, r.end).varintBig() > new Reader(r.buf, seqPos, r.end).varintBig()
      : retirePriorTo > sequence;
  if (greater) throw frameEncodingError(`${frameTypeInfo(type)!.name} retire_prior_to > sequence`, type);
  const cidLength = r.u8();
  // "Values less than 1 and greater than 20 are invalid and MUST be treated as a connection
  // error of type FRAME_ENCODING_ERROR."
  if (cidLength < 1 || cidLength > 20) {
    throw frameEncodingError(`${frameTypeInfo(type)!.name} connection id length ${cidLength}`, type);
  }
  const connectionId = r.bytes(cidLength);
  const resetToken = r.bytes(16);
  return { sequence, retirePriorTo, connectionId, resetToken };
}

/**
 * Maximum Streams of MAX_STREAMS / STREAMS_BLOCKED. RFC 9000 §19.11: "This value cannot exceed
 * 2^60 ... Receipt of a frame that permits opening of a stream larger than this limit MUST be
 * treated as a connection error of type FRAME_ENCODING_ERROR" (likewise §19.14). The saturating
 * read cannot tell 2^53 from 2^61, so a saturated value is re-read exactly.
 */
function readStreamCount(r: Reader, type: number): number {
  const start = r.pos;
  const v = r.varint();
  if (v === VARINT_SATURATED && new Reader(r.buf, start, r.end).varintBig() > MAX_STREAMS_LIMIT) {
    throw frameEncodingError('stream count > 2^60', type);
  }
  return v;
}

/** True when the varint at `at` plus `length` exceeds 2^62-1 (only called for saturated values). */
function exceedsVarintMax(r: Reader, at: number, length: number): boolean {
  return new Reader(r.buf, at, r.end).varintBig() + BigInt(length) > VARINT_MAX_BIG;
}
