import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { DecodeError } from '../codec/errors.js';
import { VARINT_SATURATED, isVarint, sizeVarint } from '../codec/varint.js';
import { TransportError, transportParameterError } from './errors.js';
import { MIN_DATAGRAM_SIZE } from './packet/size.js';

/**
 * QUIC transport parameters (RFC 9000 §18) plus max_datagram_frame_size (RFC 9221 §3),
 * initial_max_path_id (draft-ietf-quic-multipath §2) and iroh's n0 NAT traversal parameter: the
 * TransportParameters structure carried opaquely in the TLS quic_transport_parameters extension.
 *
 * Every decoding failure is a TransportError(TRANSPORT_PARAMETER_ERROR) (RFC 9000 §7.4, §18.2).
 * Numbers follow the saturating varint policy: iroh's initial_max_data of 2^62-1
 * decodes as 2^53-1, which means "unlimited" to flow control.
 *
 * Not checked here, because they need the handshake's context, and left to the connection
 * (RFC 9000 §7.3): that initial_source_connection_id is present and matches the peer's Source
 * Connection ID, that a server sent original_destination_connection_id matching what the client
 * sent, and retry_source_connection_id exactly when a Retry happened. Absent parameters decode as
 * null, so that comparison covers absence too.
 */

export type Role = 'client' | 'server';

/** The value of preferred_address (RFC 9000 §18.2). Byte fields are copies. */
export interface PreferredAddress {
  /** 4 bytes (all zero: no IPv4 address). */
  ipv4Address: Uint8Array;
  ipv4Port: number;
  /** 16 bytes (all zero: no IPv6 address). */
  ipv6Address: Uint8Array;
  ipv6Port: number;
  /** 1..20 bytes. */
  connectionId: Uint8Array;
  /** 16 bytes. */
  statelessResetToken: Uint8Array;
}

/**
 * Transport parameters with the RFC 9000 §18.2 defaults for absent ones. Connection ids and the
 * reset token are `null` when absent (presence matters for them); byte fields are copies (they
 * outlive the handshake buffers).
 */
export interface TransportParameters {
  /** 0x00, server only. */
  originalDestinationConnectionId: Uint8Array | null;
  /** 0x01, milliseconds; 0 = no idle timeout. */
  maxIdleTimeout: number;
  /** 0x02, 16 bytes, server only. */
  statelessResetToken: Uint8Array | null;
  /** 0x03, default 65527, values below 1200 invalid. */
  maxUdpPayloadSize: number;
  /** 0x04 */
  initialMaxData: number;
  /** 0x05 */
  initialMaxStreamDataBidiLocal: number;
  /** 0x06 */
  initialMaxStreamDataBidiRemote: number;
  /** 0x07 */
  initialMaxStreamDataUni: number;
  /** 0x08, <= 2^60 */
  initialMaxStreamsBidi: number;
  /** 0x09, <= 2^60 */
  initialMaxStreamsUni: number;
  /** 0x0a, default 3, <= 20. */
  ackDelayExponent: number;
  /** 0x0b, milliseconds, default 25, < 2^14. */
  maxAckDelay: number;
  /** 0x0c, a zero-length value when true. */
  disableActiveMigration: boolean;
  /** 0x0d, server only. */
  preferredAddress: PreferredAddress | null;
  /** 0x0e, default 2, >= 2. */
  activeConnectionIdLimit: number;
  /** 0x0f, present (possibly empty) from every endpoint. */
  initialSourceConnectionId: Uint8Array | null;
  /** 0x10, server only, after a Retry. */
  retrySourceConnectionId: Uint8Array | null;
  /** 0x20 (RFC 9221 §3): 0 = DATAGRAM not supported. */
  maxDatagramFrameSize: number;
  /**
   * 0x3e initial_max_path_id (draft-ietf-quic-multipath §2): the largest path id the sender lets
   * its peer open at first, 0..2^32-1; null when absent (multipath not offered).
   */
  initialMaxPathId: number | null;
  /**
   * 0x3d7f91120401, iroh's n0 NAT traversal: how many remote addresses the sender keeps for its
   * peer (a u8, 1..255); null when absent.
   */
  n0NatTraversal: number | null;
  /**
   * 0x9f81a176, QUIC Address Discovery (draft-seemann-quic-address-discovery, noq): the sender's
   * role: 0 it reports the addresses it observes (send only), 1 it wants reports (receive only),
   * 2 both; null when absent.
   */
  addressDiscovery: 0 | 1 | 2 | null;
}

/** Transport parameter ids (RFC 9000 §18.2, RFC 9221 §3). */
export const TransportParameterId = {
  ORIGINAL_DESTINATION_CONNECTION_ID: 0x00,
  MAX_IDLE_TIMEOUT: 0x01,
  STATELESS_RESET_TOKEN: 0x02,
  MAX_UDP_PAYLOAD_SIZE: 0x03,
  INITIAL_MAX_DATA: 0x04,
  INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: 0x05,
  INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: 0x06,
  INITIAL_MAX_STREAM_DATA_UNI: 0x07,
  INITIAL_MAX_STREAMS_BIDI: 0x08,
  INITIAL_MAX_STREAMS_UNI: 0x09,
  ACK_DELAY_EXPONENT: 0x0a,
  MAX_ACK_DELAY: 0x0b,
  DISABLE_ACTIVE_MIGRATION: 0x0c,
  PREFERRED_ADDRESS: 0x0d,
  ACTIVE_CONNECTION_ID_LIMIT: 0x0e,
  INITIAL_SOURCE_CONNECTION_ID: 0x0f,
  RETRY_SOURCE_CONNECTION_ID: 0x10,
  MAX_DATAGRAM_FRAME_SIZE: 0x20,
  /** draft-ietf-quic-multipath §2. */
  INITIAL_MAX_PATH_ID: 0x3e,
  /** n0 NAT traversal (noq's N0NatTraversal). */
  N0_NAT_TRAVERSAL: 0x3d7f91120401,
  /** QUIC Address Discovery (noq's ObservedAddr). */
  ADDRESS_DISCOVERY: 0x9f81a176,
} as const;

/** The RFC 9000 §18.2 defaults (and RFC 9221's 0 for max_datagram_frame_size). */
export function defaultTransportParameters(): TransportParameters {
  return {
    originalDestinationConnectionId: null,
    maxIdleTimeout: 0,
    statelessResetToken: null,
    maxUdpPayloadSize: 65527,
    initialMaxData: 0,
    initialMaxStreamDataBidiLocal: 0,
    initialMaxStreamDataBidiRemote: 0,
    initialMaxStreamDataUni: 0,
    initialMaxStreamsBidi: 0,
    initialMaxStreamsUni: 0,
    ackDelayExponent: 3,
    maxAckDelay: 25,
    disableActiveMigration: false,
    preferredAddress: null,
    activeConnectionIdLimit: 2,
    initialSourceConnectionId: null,
    retrySourceConnectionId: null,
    maxDatagramFrameSize: 0,
    initialMaxPathId: null,
    n0NatTraversal: null,
    addressDiscovery: null,
  };
}

/**
 * Encodes `p` as sent by `role`, in ascending id order, omitting parameters equal to their
 * default and never emitting an extension we do not implement.
 *
 * @throws RangeError for values RFC 9000 §18.2 forbids (our bug, never the peer's), including a
 *   client carrying a server-only parameter.
 */
export function encodeTransportParameters(p: TransportParameters, role: Role): Uint8Array {
  const out = new Uint8Array(sizeTransportParameters(p, role));
  writeTransportParameters(new Writer(out), p, role);
  return out;
}

/** Exact size of `encodeTransportParameters(p, role)`. */
export function sizeTransportParameters(p: TransportParameters, role: Role): number {
  checkParameters(p, role, rangeError);
  let n = 0;
  forEachEncoded(p, (id, len) => {
    n += sizeVarint(id) + sizeVarint(len) + len;
  });
  return n;
}

/** Writes the encoding of `p` (see `encodeTransportParameters`). */
export function writeTransportParameters(w: Writer, p: TransportParameters, role: Role): void {
  checkParameters(p, role, rangeError);
  forEachEncoded(p, (id, len, write) => {
    w.varint(id);
    w.varint(len);
    write(w);
  });
}

/**
 * Decodes the transport parameters a peer in `senderRole` sent. Unknown parameters (extensions,
 * GREASE ids 31*N+27) are skipped.
 *
 * @throws TransportError TRANSPORT_PARAMETER_ERROR on any malformed, duplicate, out-of-range or
 *   role-forbidden parameter (RFC 9000 §7.4, §18.2).
 */
export function decodeTransportParameters(bytes: Uint8Array, senderRole: Role): TransportParameters {
  try {
    return decodeAll(bytes, senderRole);
  } catch (e) {
    if (e instanceof TransportError) throw e;
    if (e instanceof DecodeError) throw transportParameterError(`malformed transport parameters: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------

const Id = TransportParameterId;
const MAX_STREAMS_LIMIT = 2 ** 60;
const MAX_CID_LENGTH = 20;

/** RFC 9000 §18.2: "A client MUST NOT include any server-only transport parameter". */
const SERVER_ONLY: ReadonlySet<number> = new Set([
  Id.ORIGINAL_DESTINATION_CONNECTION_ID,
  Id.STATELESS_RESET_TOKEN,
  Id.PREFERRED_ADDRESS,
  Id.RETRY_SOURCE_CONNECTION_ID,
]);

const KNOWN: ReadonlySet<number> = new Set(Object.values(TransportParameterId));

type Fail = (reason: string) => Error;
const rangeError: Fail = (reason) => new RangeError(`invalid transport parameters: ${reason}`);

/** Calls `emit(id, valueLength, writeValue)` for every parameter the encoding carries. */
function forEachEncoded(
  p: TransportParameters,
  emit: (id: number, len: number, write: (w: Writer) => void) => void,
): void {
  const bytes = (id: number, v: Uint8Array | null): void => {
    if (v !== null) emit(id, v.length, (w) => w.bytesOf(v));
  };
  const int = (id: number, v: number, dflt: number): void => {
    if (!isVarint(v)) throw rangeError(`transport parameter 0x${id.toString(16)} = ${v} is not a varint`);
    if (v !== dflt) emit(id, sizeVarint(v), (w) => w.varint(v));
  };
  bytes(Id.ORIGINAL_DESTINATION_CONNECTION_ID, p.originalDestinationConnectionId);
  int(Id.MAX_IDLE_TIMEOUT, p.maxIdleTimeout, 0);
  bytes(Id.STATELESS_RESET_TOKEN, p.statelessResetToken);
  int(Id.MAX_UDP_PAYLOAD_SIZE, p.maxUdpPayloadSize, 65527);
  int(Id.INITIAL_MAX_DATA, p.initialMaxData, 0);
  int(Id.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL, p.initialMaxStreamDataBidiLocal, 0);
  int(Id.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE, p.initialMaxStreamDataBidiRemote, 0);
  int(Id.INITIAL_MAX_STREAM_DATA_UNI, p.initialMaxStreamDataUni, 0);
  int(Id.INITIAL_MAX_STREAMS_BIDI, p.initialMaxStreamsBidi, 0);
  int(Id.INITIAL_MAX_STREAMS_UNI, p.initialMaxStreamsUni, 0);
  int(Id.ACK_DELAY_EXPONENT, p.ackDelayExponent, 3);
  int(Id.MAX_ACK_DELAY, p.maxAckDelay, 25);
  if (p.disableActiveMigration) emit(Id.DISABLE_ACTIVE_MIGRATION, 0, () => {});
  const pa = p.preferredAddress;
  if (pa !== null) {
    emit(Id.PREFERRED_ADDRESS, 4 + 2 + 16 + 2 + 1 + pa.connectionId.length + 16, (w) => {
      w.bytesOf(pa.ipv4Address);
      w.u16(pa.ipv4Port);
      w.bytesOf(pa.ipv6Address);
      w.u16(pa.ipv6Port);
      w.u8(pa.connectionId.length);
      w.bytesOf(pa.connectionId);
      w.bytesOf(pa.statelessResetToken);
    });
  }
  int(Id.ACTIVE_CONNECTION_ID_LIMIT, p.activeConnectionIdLimit, 2);
  bytes(Id.INITIAL_SOURCE_CONNECTION_ID, p.initialSourceConnectionId);
  bytes(Id.RETRY_SOURCE_CONNECTION_ID, p.retrySourceConnectionId);
  int(Id.MAX_DATAGRAM_FRAME_SIZE, p.maxDatagramFrameSize, 0);
  const maxPathId = p.initialMaxPathId;
  if (maxPathId !== null) emit(Id.INITIAL_MAX_PATH_ID, sizeVarint(maxPathId), (w) => w.varint(maxPathId));
  const nat = p.n0NatTraversal;
  if (nat !== null) emit(Id.N0_NAT_TRAVERSAL, 1, (w) => w.u8(nat));
  const qad = p.addressDiscovery;
  if (qad !== null) emit(Id.ADDRESS_DISCOVERY, 1, (w) => w.varint(qad));
}

function decodeAll(bytes: Uint8Array, senderRole: Role): TransportParameters {
  const p = defaultTransportParameters();
  const r = new Reader(bytes);
  const seen = new Set<number | bigint>();
  while (!r.atEnd) {
    // Ids are compared exactly: two distinct huge extension ids must not look like a duplicate.
    const id = r.varintExact();
    const value = r.sub(r.varint());
    // RFC 9000 §7.4: "An endpoint MUST NOT send a parameter more than once in a given transport
    // parameters extension. An endpoint SHOULD treat receipt of duplicate transport parameters as
    // a connection error of type TRANSPORT_PARAMETER_ERROR."
    if (seen.has(id)) throw transportParameterError(`duplicate transport parameter 0x${id.toString(16)}`);
    seen.add(id);
    if (typeof id !== 'number' || !KNOWN.has(id)) continue; // RFC 9000 §7.4.2: ignore unknown ones
    if (senderRole === 'client' && SERVER_ONLY.has(id)) {
      // RFC 9000 §18.2: "A server MUST treat receipt of any of these transport parameters as a
      // connection error of type TRANSPORT_PARAMETER_ERROR."
      throw transportParameterError(`client sent server-only transport parameter 0x${id.toString(16)}`);
    }
    decodeOne(p, id, value);
    // The value must be exactly the parameter's encoding (no trailing bytes).
    if (!value.atEnd) throw transportParameterError(`transport parameter 0x${id.toString(16)} has trailing bytes`);
  }
  checkParameters(p, senderRole, transportParameterError);
  return p;
}

function decodeOne(p: TransportParameters, id: number, v: Reader): void {
  switch (id) {
    case Id.ORIGINAL_DESTINATION_CONNECTION_ID:
      p.originalDestinationConnectionId = v.rest().slice();
      return;
    case Id.MAX_IDLE_TIMEOUT:
      p.maxIdleTimeout = v.varint();
      return;
    case Id.STATELESS_RESET_TOKEN:
      p.statelessResetToken = v.rest().slice();
      return;
    case Id.MAX_UDP_PAYLOAD_SIZE:
      p.maxUdpPayloadSize = v.varint();
      return;
    case Id.INITIAL_MAX_DATA:
      p.initialMaxData = v.varint();
      return;
    case Id.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
      p.initialMaxStreamDataBidiLocal = v.varint();
      return;
    case Id.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
      p.initialMaxStreamDataBidiRemote = v.varint();
      return;
    case Id.INITIAL_MAX_STREAM_DATA_UNI:
      p.initialMaxStreamDataUni = v.varint();
      return;
    case Id.INITIAL_MAX_STREAMS_BIDI:
      p.initialMaxStreamsBidi = readStreamCount(v, 'initial_max_streams_bidi');
      return;
    case Id.INITIAL_MAX_STREAMS_UNI:
      p.initialMaxStreamsUni = readStreamCount(v, 'initial_max_streams_uni');
      return;
    case Id.ACK_DELAY_EXPONENT:
      p.ackDelayExponent = v.varint();
      return;
    case Id.MAX_ACK_DELAY:
      p.maxAckDelay = v.varint();
      return;
    case Id.DISABLE_ACTIVE_MIGRATION:
      p.disableActiveMigration = true; // a zero-length value; trailing bytes are rejected above
      return;
    case Id.PREFERRED_ADDRESS: {
      const ipv4Address = v.bytes(4).slice();
      const ipv4Port = v.u16();
      const ipv6Address = v.bytes(16).slice();
      const ipv6Port = v.u16();
      const connectionId = v.vec8().slice();
      const statelessResetToken = v.bytes(16).slice();
      p.preferredAddress = { ipv4Address, ipv4Port, ipv6Address, ipv6Port, connectionId, statelessResetToken };
      return;
    }
    case Id.ACTIVE_CONNECTION_ID_LIMIT:
      p.activeConnectionIdLimit = v.varint();
      return;
    case Id.INITIAL_SOURCE_CONNECTION_ID:
      p.initialSourceConnectionId = v.rest().slice();
      return;
    case Id.RETRY_SOURCE_CONNECTION_ID:
      p.retrySourceConnectionId = v.rest().slice();
      return;
    case Id.MAX_DATAGRAM_FRAME_SIZE:
      p.maxDatagramFrameSize = v.varint();
      return;
    case Id.INITIAL_MAX_PATH_ID:
      // A varint; checkParameters bounds it to 2^32-1 (a saturated read is past that too).
      p.initialMaxPathId = v.varint();
      return;
    case Id.N0_NAT_TRAVERSAL:
      // noq: exactly one byte, non-zero (checked in checkParameters); trailing bytes fail above.
      p.n0NatTraversal = v.u8();
      return;
    case Id.ADDRESS_DISCOVERY:
      // A varint role; checkParameters allows 0..2 (noq: anything else is an illegal value).
      p.addressDiscovery = v.varint() as 0 | 1 | 2;
      return;
  }
}

/**
 * initial_max_streams_*: RFC 9000 §18.2: "If a max_streams transport parameter ... is received with
 * a value greater than 2^60, ... the connection MUST be closed immediately with a connection error
 * of type TRANSPORT_PARAMETER_ERROR". A saturated read is re-checked exactly.
 */
function readStreamCount(v: Reader, name: string): number {
  const start = v.pos;
  const n = v.varint();
  if (n === VARINT_SATURATED) {
    v.pos = start;
    if (v.varintBig() > BigInt(MAX_STREAMS_LIMIT)) throw transportParameterError(`${name} > 2^60`);
  }
  return n;
}

/** The value rules of RFC 9000 §18.2 shared by the decoder (peer's values) and the encoder (ours). */
function checkParameters(p: TransportParameters, role: Role, fail: Fail): void {
  if (role === 'client') {
    if (p.originalDestinationConnectionId !== null) throw fail('client sent original_destination_connection_id');
    if (p.statelessResetToken !== null) throw fail('client sent stateless_reset_token');
    if (p.preferredAddress !== null) throw fail('client sent preferred_address');
    if (p.retrySourceConnectionId !== null) throw fail('client sent retry_source_connection_id');
  }
  // RFC 9000 §17.2 / §18.2: connection ids are at most 20 bytes in QUIC v1.
  for (const [name, cid] of [
    ['original_destination_connection_id', p.originalDestinationConnectionId],
    ['initial_source_connection_id', p.initialSourceConnectionId],
    ['retry_source_connection_id', p.retrySourceConnectionId],
  ] as const) {
    if (cid !== null && cid.length > MAX_CID_LENGTH) throw fail(`${name} longer than 20 bytes`);
  }
  if (p.statelessResetToken !== null && p.statelessResetToken.length !== 16) {
    throw fail('stateless_reset_token is not 16 bytes');
  }
  // "Values below 1200 are invalid."
  if (p.maxUdpPayloadSize < MIN_DATAGRAM_SIZE) throw fail(`max_udp_payload_size < ${MIN_DATAGRAM_SIZE}`);
  // "Values above 20 are invalid."
  if (p.ackDelayExponent > 20) throw fail('ack_delay_exponent > 20');
  // "Values of 2^14 or greater are invalid."
  if (p.maxAckDelay >= 2 ** 14) throw fail('max_ack_delay >= 2^14');
  // "The value of the active_connection_id_limit parameter MUST be at least 2."
  if (p.activeConnectionIdLimit < 2) throw fail('active_connection_id_limit < 2');
  if (p.initialMaxStreamsBidi > MAX_STREAMS_LIMIT || p.initialMaxStreamsUni > MAX_STREAMS_LIMIT) {
    throw fail('initial_max_streams > 2^60');
  }
  // draft-ietf-quic-multipath §2: a path id is at most 2^32-1.
  if (p.initialMaxPathId !== null && !(p.initialMaxPathId >= 0 && p.initialMaxPathId <= 0xffffffff)) {
    throw fail('initial_max_path_id > 2^32-1');
  }
  // noq: a NonZeroU8; zero is an illegal value.
  if (p.n0NatTraversal !== null && !(Number.isInteger(p.n0NatTraversal) && p.n0NatTraversal >= 1 && p.n0NatTraversal <= 255)) {
    throw fail('n0 NAT traversal address count is not 1..255');
  }
  const qad = p.addressDiscovery;
  if (qad !== null && qad !== 0 && qad !== 1 && qad !== 2) throw fail(`address discovery role ${String(qad)} is not 0, 1 or 2`);
  const pa = p.preferredAddress;
  if (pa !== null) {
    // RFC 9000 §18.2: "a server MUST NOT include a zero-length connection ID in this transport
    // parameter. A client MUST treat a violation of these requirements as a connection error of
    // type TRANSPORT_PARAMETER_ERROR."
    if (pa.connectionId.length === 0) throw fail('preferred_address with a zero-length connection id');
    if (pa.connectionId.length > MAX_CID_LENGTH) throw fail('preferred_address connection id longer than 20 bytes');
    if (!(pa.ipv4Port >= 0 && pa.ipv4Port <= 0xffff && pa.ipv6Port >= 0 && pa.ipv6Port <= 0xffff)) {
      throw fail('preferred_address port out of range');
    }
    if (pa.ipv4Address.length !== 4 || pa.ipv6Address.length !== 16 || pa.statelessResetToken.length !== 16) {
      throw fail('preferred_address field of the wrong length');
    }
  }
}
