/**
 * The decoded shape of every QUIC frame (RFC 9000 §19, RFC 9221 §4, draft-ietf-quic-multipath §4,
 * iroh's n0 NAT traversal), as a discriminated union on `kind`.
 *
 * Conventions:
 * - A frame family whose wire type carries flag bits (ACK/ACK_ECN, the eight STREAM types,
 *   MAX_STREAMS and STREAMS_BLOCKED bidi/uni, CONNECTION_CLOSE transport/application, DATAGRAM
 *   with/without length) is one kind with the flags as fields; `frameTypeOf(f)` gives the wire
 *   type the encoder writes, and `FrameIterator.frameType` the wire type that was read.
 * - Offsets, lengths, limits, stream ids and sequence numbers are `number`s read with the
 *   saturating varint policy: a value above 2^53-1 reads as 2^53-1, which is past every
 *   limit we grant, so it fails flow control or stream-limit checks as the true value would.
 *   Rules whose bounds lie above 2^53 (offset + length <= 2^62-1, stream counts <= 2^60) are
 *   checked exactly by the decoder before saturating.
 * - Error codes (RESET_STREAM, STOP_SENDING, CONNECTION_CLOSE, PATH_ABANDON) are
 *   `number | bigint` so codes up to 2^62-1 reach the application exactly.
 * - Path ids (multipath) are at most 2^32-1 (draft-ietf-quic-multipath §2: a path id is a 32-bit
 *   value carried in a varint); a larger one is FRAME_ENCODING_ERROR.
 * - BYTE FIELDS ARE VIEWS into the packet buffer (no copy). They are valid only while the datagram
 *   buffer lives: whoever keeps them past the processing of the packet (stream reassembly, tokens,
 *   connection ids, reason phrases) must copy them once.
 */

export type Frame =
  | PaddingFrame
  | PingFrame
  | AckFrame
  | ResetStreamFrame
  | StopSendingFrame
  | CryptoFrame
  | NewTokenFrame
  | StreamFrame
  | MaxDataFrame
  | MaxStreamDataFrame
  | MaxStreamsFrame
  | DataBlockedFrame
  | StreamDataBlockedFrame
  | StreamsBlockedFrame
  | NewConnectionIdFrame
  | RetireConnectionIdFrame
  | PathChallengeFrame
  | PathResponseFrame
  | ConnectionCloseFrame
  | HandshakeDoneFrame
  | DatagramFrame
  | PathAckFrame
  | PathAbandonFrame
  | PathStatusFrame
  | PathNewConnectionIdFrame
  | PathRetireConnectionIdFrame
  | MaxPathIdFrame
  | PathsBlockedFrame
  | PathCidsBlockedFrame
  | AddAddressFrame
  | ReachOutFrame
  | RemoveAddressFrame
  | ObservedAddressFrame;

export type FrameKind = Frame['kind'];

/** A run of PADDING bytes (type 0x00), decoded as one frame however long the run is. */
export interface PaddingFrame {
  readonly kind: 'padding';
  /** Number of 0x00 bytes in the run (>= 1). */
  readonly length: number;
}

/** RFC 9000 §19.2. */
export interface PingFrame {
  readonly kind: 'ping';
}

/** ECN counts of an ACK frame of type 0x03 (RFC 9000 §19.3.2). */
export interface EcnCounts {
  readonly ect0: number;
  readonly ect1: number;
  readonly ce: number;
}

/**
 * RFC 9000 §19.3: ACK (0x02) or, with `ecn`, ACK_ECN (0x03).
 *
 * `ranges` is a flat array of absolute packet numbers, largest first:
 * `[largest0, smallest0, largest1, smallest1, ...]` with `largest_i >= smallest_i` and
 * `smallest_i >= largest_{i+1} + 2` (ranges are disjoint and not adjacent). `largest` is always
 * `ranges[0]`.
 */
export interface AckFrame {
  readonly kind: 'ack';
  readonly largest: number;
  /** The raw Ack Delay field: multiply by 2^ack_delay_exponent microseconds (§19.3). */
  readonly ackDelay: number;
  readonly ranges: number[];
  readonly ecn: EcnCounts | null;
}

/** RFC 9000 §19.4. */
export interface ResetStreamFrame {
  readonly kind: 'resetStream';
  readonly streamId: number;
  readonly errorCode: number | bigint;
  readonly finalSize: number;
}

/** RFC 9000 §19.5. */
export interface StopSendingFrame {
  readonly kind: 'stopSending';
  readonly streamId: number;
  readonly errorCode: number | bigint;
}

/** RFC 9000 §19.6. `data` is a view into the packet. */
export interface CryptoFrame {
  readonly kind: 'crypto';
  readonly offset: number;
  readonly data: Uint8Array;
}

/** RFC 9000 §19.7. `token` is a view into the packet (never empty). */
export interface NewTokenFrame {
  readonly kind: 'newToken';
  readonly token: Uint8Array;
}

/** RFC 9000 §19.8 (types 0x08-0x0f). `data` is a view into the packet. */
export interface StreamFrame {
  readonly kind: 'stream';
  readonly streamId: number;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly fin: boolean;
}

/** RFC 9000 §19.9. */
export interface MaxDataFrame {
  readonly kind: 'maxData';
  readonly maximum: number;
}

/** RFC 9000 §19.10. */
export interface MaxStreamDataFrame {
  readonly kind: 'maxStreamData';
  readonly streamId: number;
  readonly maximum: number;
}

/** RFC 9000 §19.11: 0x12 (bidi) or 0x13 (uni). `maximum` <= 2^60, saturated above 2^53-1. */
export interface MaxStreamsFrame {
  readonly kind: 'maxStreams';
  readonly bidi: boolean;
  readonly maximum: number;
}

/** RFC 9000 §19.12. */
export interface DataBlockedFrame {
  readonly kind: 'dataBlocked';
  readonly maximum: number;
}

/** RFC 9000 §19.13. */
export interface StreamDataBlockedFrame {
  readonly kind: 'streamDataBlocked';
  readonly streamId: number;
  readonly maximum: number;
}

/** RFC 9000 §19.14: 0x16 (bidi) or 0x17 (uni). `maximum` <= 2^60, saturated above 2^53-1. */
export interface StreamsBlockedFrame {
  readonly kind: 'streamsBlocked';
  readonly bidi: boolean;
  readonly maximum: number;
}

/** RFC 9000 §19.15. `connectionId` (1..20 bytes) and `resetToken` (16 bytes) are views. */
export interface NewConnectionIdFrame {
  readonly kind: 'newConnectionId';
  readonly sequence: number;
  readonly retirePriorTo: number;
  readonly connectionId: Uint8Array;
  readonly resetToken: Uint8Array;
}

/** RFC 9000 §19.16. */
export interface RetireConnectionIdFrame {
  readonly kind: 'retireConnectionId';
  readonly sequence: number;
}

/** RFC 9000 §19.17. `data`: 8 bytes, a view. */
export interface PathChallengeFrame {
  readonly kind: 'pathChallenge';
  readonly data: Uint8Array;
}

/** RFC 9000 §19.18. `data`: 8 bytes, a view. */
export interface PathResponseFrame {
  readonly kind: 'pathResponse';
  readonly data: Uint8Array;
}

/**
 * RFC 9000 §19.19: transport (0x1c, `application` false, with the offending `frameType`) or
 * application (0x1d, `application` true, `frameType` 0 and not encoded). `reason` is a view of
 * the (supposedly UTF-8) reason phrase.
 */
export interface ConnectionCloseFrame {
  readonly kind: 'connectionClose';
  readonly application: boolean;
  readonly errorCode: number | bigint;
  readonly frameType: number;
  readonly reason: Uint8Array;
}

/** RFC 9000 §19.20. */
export interface HandshakeDoneFrame {
  readonly kind: 'handshakeDone';
}

/** RFC 9221 §4: DATAGRAM (0x30 to the end of the packet, 0x31 with a length). `data` is a view. */
export interface DatagramFrame {
  readonly kind: 'datagram';
  readonly data: Uint8Array;
}

/**
 * draft-ietf-quic-multipath §4.1: PATH_ACK (0x3e) or, with `ecn`, PATH_ACK_ECN (0x3f): an ACK of
 * the packet number space of path `pathId`. The other fields are those of `AckFrame`.
 */
export interface PathAckFrame {
  readonly kind: 'pathAck';
  readonly pathId: number;
  readonly largest: number;
  /** The raw Ack Delay field, scaled as ACK's (§19.3 of RFC 9000). */
  readonly ackDelay: number;
  /** Flat absolute ranges, largest first, as in `AckFrame`. */
  readonly ranges: number[];
  readonly ecn: EcnCounts | null;
}

/** draft-ietf-quic-multipath §4.2: the sender abandons path `pathId`, for `errorCode`. */
export interface PathAbandonFrame {
  readonly kind: 'pathAbandon';
  readonly pathId: number;
  readonly errorCode: number | bigint;
}

/**
 * draft-ietf-quic-multipath §4.3: PATH_STATUS_BACKUP (0x3e76, `status` 'backup') or
 * PATH_STATUS_AVAILABLE (0x3e77, 'available'): the sender's preference for path `pathId`; a
 * higher `sequence` replaces a lower one.
 */
export interface PathStatusFrame {
  readonly kind: 'pathStatus';
  readonly pathId: number;
  readonly status: 'backup' | 'available';
  readonly sequence: number;
}

/**
 * draft-ietf-quic-multipath §4.4: NEW_CONNECTION_ID for path `pathId`; the fields and their rules
 * are those of RFC 9000 §19.15. `connectionId` and `resetToken` are views.
 */
export interface PathNewConnectionIdFrame {
  readonly kind: 'pathNewConnectionId';
  readonly pathId: number;
  readonly sequence: number;
  readonly retirePriorTo: number;
  readonly connectionId: Uint8Array;
  readonly resetToken: Uint8Array;
}

/** draft-ietf-quic-multipath §4.5: RETIRE_CONNECTION_ID for path `pathId`. */
export interface PathRetireConnectionIdFrame {
  readonly kind: 'pathRetireConnectionId';
  readonly pathId: number;
  readonly sequence: number;
}

/** draft-ietf-quic-multipath §4.6: the peer may open paths up to id `maximum`. */
export interface MaxPathIdFrame {
  readonly kind: 'maxPathId';
  readonly maximum: number;
}

/** draft-ietf-quic-multipath §4.7: the sender would open a path but `maximum` stops it. */
export interface PathsBlockedFrame {
  readonly kind: 'pathsBlocked';
  readonly maximum: number;
}

/**
 * draft-ietf-quic-multipath §4.7: the sender has no connection id of ours for path `pathId`;
 * `nextSequence` is the next sequence number it expects.
 */
export interface PathCidsBlockedFrame {
  readonly kind: 'pathCidsBlocked';
  readonly pathId: number;
  readonly nextSequence: number;
}

/**
 * n0 NAT traversal ADD_ADDRESS (0x3d7f90 IPv4, 0x3d7f91 IPv6): the server offers `ip`:`port` as a
 * candidate, numbered `sequence`. `ip` is 4 or 16 bytes (the family is its length), a view.
 */
export interface AddAddressFrame {
  readonly kind: 'addAddress';
  readonly sequence: number;
  readonly ip: Uint8Array;
  readonly port: number;
}

/**
 * n0 NAT traversal REACH_OUT (0x3d7f92 IPv4, 0x3d7f93 IPv6): the client probes from `ip`:`port`
 * in round `round`; the server answers with probes to it. `ip` is 4 or 16 bytes, a view.
 */
export interface ReachOutFrame {
  readonly kind: 'reachOut';
  readonly round: number;
  readonly ip: Uint8Array;
  readonly port: number;
}

/** n0 NAT traversal REMOVE_ADDRESS (0x3d7f94): withdraws the ADD_ADDRESS numbered `sequence`. */
export interface RemoveAddressFrame {
  readonly kind: 'removeAddress';
  readonly sequence: number;
}

/**
 * QUIC Address Discovery OBSERVED_ADDRESS (0x9f81a6 IPv4, 0x9f81a7 IPv6; draft-seemann-quic-
 * address-discovery as noq speaks it): the address and port the sender saw the receiver's packets
 * come from on the path it arrives on, numbered `sequence` (increasing per connection: an older or
 * equal number is ignored). `ip` is 4 or 16 bytes, a view.
 */
export interface ObservedAddressFrame {
  readonly kind: 'observedAddress';
  readonly sequence: number;
  readonly ip: Uint8Array;
  readonly port: number;
}
