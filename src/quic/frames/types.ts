/**
 * The one table of QUIC frame types (STYLE.md rule 3): for every wire type, its RFC name, the
 * packet types it may appear in (RFC 9000 §12.4 Table 3), whether it is ack-eliciting (§13.2)
 * and whether it is a probing frame (§9.1). The decoder, the packet builder and recovery all ask
 * this table; nothing else encodes these rules.
 */

/**
 * Wire frame types: RFC 9000 §19, RFC 9221 §4, draft-ietf-quic-multipath §4 (as noq, iroh 1.0,
 * speaks it) and iroh's n0 NAT traversal. Families with flag bits list their base.
 */
export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  ACK_ECN: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  /** 0x08-0x0f: the low three bits are OFF (0x04), LEN (0x02) and FIN (0x01). */
  STREAM: 0x08,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  /** Transport CONNECTION_CLOSE (carries a frame type). */
  CONNECTION_CLOSE: 0x1c,
  /** Application CONNECTION_CLOSE. */
  CONNECTION_CLOSE_APP: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  /** RFC 9221 §4: DATAGRAM without a Length field (extends to the end of the packet). */
  DATAGRAM: 0x30,
  /** RFC 9221 §4: DATAGRAM with a Length field. */
  DATAGRAM_LEN: 0x31,
  /** draft-ietf-quic-multipath §4.1: PATH_ACK, an ACK of one path id's packet number space. */
  PATH_ACK: 0x3e,
  /** draft-ietf-quic-multipath §4.1: PATH_ACK with ECN counts. */
  PATH_ACK_ECN: 0x3f,
  /** draft-ietf-quic-multipath §4.2. */
  PATH_ABANDON: 0x3e75,
  /** draft-ietf-quic-multipath §4.3. */
  PATH_STATUS_BACKUP: 0x3e76,
  /** draft-ietf-quic-multipath §4.3. */
  PATH_STATUS_AVAILABLE: 0x3e77,
  /** draft-ietf-quic-multipath §4.4: NEW_CONNECTION_ID for one path id. */
  PATH_NEW_CONNECTION_ID: 0x3e78,
  /** draft-ietf-quic-multipath §4.5: RETIRE_CONNECTION_ID for one path id. */
  PATH_RETIRE_CONNECTION_ID: 0x3e79,
  /** draft-ietf-quic-multipath §4.6. */
  MAX_PATH_ID: 0x3e7a,
  /** draft-ietf-quic-multipath §4.7. */
  PATHS_BLOCKED: 0x3e7b,
  /** draft-ietf-quic-multipath §4.7. */
  PATH_CIDS_BLOCKED: 0x3e7c,
  /** n0 NAT traversal (iroh, noq's n0_nat_traversal): a server's candidate address, IPv4. */
  ADD_ADDRESS_IPV4: 0x3d7f90,
  /** n0 NAT traversal: a server's candidate address, IPv6. */
  ADD_ADDRESS_IPV6: 0x3d7f91,
  /** n0 NAT traversal: a client's address for one round of probes, IPv4. */
  REACH_OUT_IPV4: 0x3d7f92,
  /** n0 NAT traversal: a client's address for one round of probes, IPv6. */
  REACH_OUT_IPV6: 0x3d7f93,
  /** n0 NAT traversal: withdraws the ADD_ADDRESS of a sequence number. */
  REMOVE_ADDRESS: 0x3d7f94,
  /** QUIC Address Discovery (draft-seemann-quic-address-discovery, noq): the sender's view of the receiver's IPv4 address. */
  OBSERVED_ADDRESS_IPV4: 0x9f81a6,
  /** QUIC Address Discovery: the sender's view of the receiver's IPv6 address. */
  OBSERVED_ADDRESS_IPV6: 0x9f81a7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** STREAM frame type bits (RFC 9000 §19.8). */
export const STREAM_FIN_BIT = 0x01;
export const STREAM_LEN_BIT = 0x02;
export const STREAM_OFF_BIT = 0x04;

/**
 * The packet type a payload was carried in: the four columns "IH01" of RFC 9000 Table 3.
 * (Not the long-header type bits of §17.2, where Retry is 3: these are frame contexts.)
 */
export const FrameContext = {
  Initial: 0,
  ZeroRtt: 1,
  Handshake: 2,
  OneRtt: 3,
} as const;
export type FrameContext = (typeof FrameContext)[keyof typeof FrameContext];

const I = 1 << FrameContext.Initial;
const Z = 1 << FrameContext.ZeroRtt;
const H = 1 << FrameContext.Handshake;
const O = 1 << FrameContext.OneRtt;

/** What the table knows about one wire frame type. */
export interface FrameTypeInfo {
  /** Wire type. */
  readonly type: number;
  /** RFC name (ACK_ECN, MAX_STREAMS_UNI, ... name the flag variants). */
  readonly name: string;
  /** Bit `1 << FrameContext.X` set when the frame may appear in that packet type. */
  readonly allowed: number;
  /** RFC 9000 §13.2: every frame but ACK, PADDING and CONNECTION_CLOSE elicits an ACK. */
  readonly ackEliciting: boolean;
  /** RFC 9000 §9.1: PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING probe. */
  readonly probing: boolean;
}

/**
 * The table of one-byte wire types, indexed by type (0x00..0x3f; holes are unknown types). The
 * longer extension types (multipath's 0x3e75.., n0 NAT traversal's 0x3d7f90..) are in
 * `EXTENSION_FRAME_TYPES`; `frameTypeInfo` answers for both, `ALL_FRAME_TYPES` lists both.
 *
 * RFC 9000 §12.4 Table 3, "Pkts" column:
 *   PADDING, PING IH01; ACK, CRYPTO IH_1; NEW_TOKEN, PATH_RESPONSE, HANDSHAKE_DONE ___1;
 *   CONNECTION_CLOSE 0x1c ih01 and 0x1d __01 ("only a CONNECTION_CLOSE frame of type 0x1c can
 *   appear in Initial or Handshake packets"); every other RFC 9000 frame __01.
 * RFC 9221 §4: DATAGRAM frames are allowed in 0-RTT and 1-RTT packets only.
 * draft-ietf-quic-multipath §4: "All frames defined in this document MUST only be sent in 1-RTT
 * packets. If an endpoint receives a multipath-specific frame in a different packet type, it MUST
 * close the connection with an error of type PROTOCOL_VIOLATION"; PATH_ACK, like ACK, elicits no
 * ACK; PATH_NEW_CONNECTION_ID probes as NEW_CONNECTION_ID does (noq counts it so).
 * n0 NAT traversal frames: 1-RTT only too (they follow multipath, which starts after the
 * handshake), ack-eliciting, not probing. OBSERVED_ADDRESS (QUIC Address Discovery): 1-RTT only
 * (noq: "OBSERVED_ADDRESS frame outside data space" is a PROTOCOL_VIOLATION), ack-eliciting,
 * probing.
 */
export const FRAME_TYPES: ReadonlyArray<FrameTypeInfo | undefined> = buildTable();

/** The frame types above 0x3f (multipath and n0 NAT traversal), by wire type. */
export const EXTENSION_FRAME_TYPES: ReadonlyMap<number, FrameTypeInfo> = buildExtensionTable();

/** Every known frame type, one-byte types first, each list ascending. */
export const ALL_FRAME_TYPES: readonly FrameTypeInfo[] = [
  ...FRAME_TYPES.filter((i): i is FrameTypeInfo => i !== undefined),
  ...[...EXTENSION_FRAME_TYPES.values()].sort((a, b) => a.type - b.type),
];

/** Info for a wire type, or undefined when the type is unknown. */
export function frameTypeInfo(type: number): FrameTypeInfo | undefined {
  if (type >= 0 && type < FRAME_TYPES.length) return FRAME_TYPES[type];
  return EXTENSION_FRAME_TYPES.get(type);
}

/** True for the frames only a connection that negotiated multipath may receive (draft §4). */
export function isMultipathFrame(type: number): boolean {
  return type === FrameType.PATH_ACK || type === FrameType.PATH_ACK_ECN || (type >= FrameType.PATH_ABANDON && type <= FrameType.PATH_CIDS_BLOCKED);
}

/** True for the frames of n0 NAT traversal (ADD_ADDRESS, REACH_OUT, REMOVE_ADDRESS). */
export function isNatTraversalFrame(type: number): boolean {
  return type >= FrameType.ADD_ADDRESS_IPV4 && type <= FrameType.REMOVE_ADDRESS;
}

/** RFC name of a wire type (`UNKNOWN(0x..)` for types not in the table). */
export function frameTypeName(type: number): string {
  return frameTypeInfo(type)?.name ?? `UNKNOWN(0x${type.toString(16)})`;
}

/** True when a frame of wire type `type` may appear in a packet of `context` (RFC 9000 §12.4). */
export function isFrameAllowed(type: number, context: FrameContext): boolean {
  const info = frameTypeInfo(type);
  return info !== undefined && (info.allowed & (1 << context)) !== 0;
}

/** RFC 9000 §13.2: true for every known type but ACK, PADDING and CONNECTION_CLOSE. */
export function isAckEliciting(type: number): boolean {
  return frameTypeInfo(type)?.ackEliciting ?? false;
}

/** RFC 9000 §9.1: true for PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING. */
export function isProbing(type: number): boolean {
  return frameTypeInfo(type)?.probing ?? false;
}

/** Name of a frame context, for messages. */
export function frameContextName(context: FrameContext): string {
  return CONTEXT_NAMES[context];
}

const CONTEXT_NAMES = ['Initial', '0-RTT', 'Handshake', '1-RTT'] as const;

function buildTable(): Array<FrameTypeInfo | undefined> {
  const t: Array<FrameTypeInfo | undefined> = new Array<FrameTypeInfo | undefined>(0x40).fill(undefined);
  const add = (type: number, name: string, allowed: number, ackEliciting = true, probing = false): void => {
    t[type] = Object.freeze({ type, name, allowed, ackEliciting, probing });
  };
  add(FrameType.PADDING, 'PADDING', I | Z | H | O, false, true);
  add(FrameType.PING, 'PING', I | Z | H | O);
  add(FrameType.ACK, 'ACK', I | H | O, false);
  add(FrameType.ACK_ECN, 'ACK_ECN', I | H | O, false);
  add(FrameType.RESET_STREAM, 'RESET_STREAM', Z | O);
  add(FrameType.STOP_SENDING, 'STOP_SENDING', Z | O);
  add(FrameType.CRYPTO, 'CRYPTO', I | H | O);
  add(FrameType.NEW_TOKEN, 'NEW_TOKEN', O);
  for (let ty = 0x08; ty <= 0x0f; ty++) add(ty, 'STREAM', Z | O);
  add(FrameType.MAX_DATA, 'MAX_DATA', Z | O);
  add(FrameType.MAX_STREAM_DATA, 'MAX_STREAM_DATA', Z | O);
  add(FrameType.MAX_STREAMS_BIDI, 'MAX_STREAMS_BIDI', Z | O);
  add(FrameType.MAX_STREAMS_UNI, 'MAX_STREAMS_UNI', Z | O);
  add(FrameType.DATA_BLOCKED, 'DATA_BLOCKED', Z | O);
  add(FrameType.STREAM_DATA_BLOCKED, 'STREAM_DATA_BLOCKED', Z | O);
  add(FrameType.STREAMS_BLOCKED_BIDI, 'STREAMS_BLOCKED_BIDI', Z | O);
  add(FrameType.STREAMS_BLOCKED_UNI, 'STREAMS_BLOCKED_UNI', Z | O);
  add(FrameType.NEW_CONNECTION_ID, 'NEW_CONNECTION_ID', Z | O, true, true);
  add(FrameType.RETIRE_CONNECTION_ID, 'RETIRE_CONNECTION_ID', Z | O);
  add(FrameType.PATH_CHALLENGE, 'PATH_CHALLENGE', Z | O, true, true);
  add(FrameType.PATH_RESPONSE, 'PATH_RESPONSE', O, true, true);
  add(FrameType.CONNECTION_CLOSE, 'CONNECTION_CLOSE', I | Z | H | O, false);
  add(FrameType.CONNECTION_CLOSE_APP, 'CONNECTION_CLOSE_APP', Z | O, false);
  add(FrameType.HANDSHAKE_DONE, 'HANDSHAKE_DONE', O);
  add(FrameType.DATAGRAM, 'DATAGRAM', Z | O);
  add(FrameType.DATAGRAM_LEN, 'DATAGRAM_LEN', Z | O);
  add(FrameType.PATH_ACK, 'PATH_ACK', O, false);
  add(FrameType.PATH_ACK_ECN, 'PATH_ACK_ECN', O, false);
  return t;
}

function buildExtensionTable(): Map<number, FrameTypeInfo> {
  const t = new Map<number, FrameTypeInfo>();
  const add = (type: number, name: string, probing = false): void => {
    t.set(type, Object.freeze({ type, name, allowed: O, ackEliciting: true, probing }));
  };
  add(FrameType.PATH_ABANDON, 'PATH_ABANDON');
  add(FrameType.PATH_STATUS_BACKUP, 'PATH_STATUS_BACKUP');
  add(FrameType.PATH_STATUS_AVAILABLE, 'PATH_STATUS_AVAILABLE');
  add(FrameType.PATH_NEW_CONNECTION_ID, 'PATH_NEW_CONNECTION_ID', true);
  add(FrameType.PATH_RETIRE_CONNECTION_ID, 'PATH_RETIRE_CONNECTION_ID');
  add(FrameType.MAX_PATH_ID, 'MAX_PATH_ID');
  add(FrameType.PATHS_BLOCKED, 'PATHS_BLOCKED');
  add(FrameType.PATH_CIDS_BLOCKED, 'PATH_CIDS_BLOCKED');
  add(FrameType.ADD_ADDRESS_IPV4, 'ADD_ADDRESS_IPV4');
  add(FrameType.ADD_ADDRESS_IPV6, 'ADD_ADDRESS_IPV6');
  add(FrameType.REACH_OUT_IPV4, 'REACH_OUT_IPV4');
  add(FrameType.REACH_OUT_IPV6, 'REACH_OUT_IPV6');
  add(FrameType.REMOVE_ADDRESS, 'REMOVE_ADDRESS');
  // noq counts OBSERVED_ADDRESS among the probing frames (it rides with a PATH_CHALLENGE).
  add(FrameType.OBSERVED_ADDRESS_IPV4, 'OBSERVED_ADDRESS_IPV4', true);
  add(FrameType.OBSERVED_ADDRESS_IPV6, 'OBSERVED_ADDRESS_IPV6', true);
  return t;
}
