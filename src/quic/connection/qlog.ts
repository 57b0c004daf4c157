import { toHex } from '../../codec/bytes.js';
import { FrameIterator } from '../frames/decode.js';
import type { Frame } from '../frames/frame.js';
import { FrameContext } from '../frames/types.js';
import { transportErrorName } from '../errors.js';
import { LongPacketType, type PacketHeader } from '../packet/header.js';
import { PacketSpace } from '../packet/space.js';
import type { SentPacket } from '../recovery/sent-packets.js';
import type { TransportParameters } from '../transport-params.js';
import type { CloseReason } from '../events.js';

/**
 * qlog tracing of a connection (draft-ietf-quic-qlog-quic-events, the "0.3" schema that quinn,
 * quiche and neqo write and qvis reads), sans-IO: the connection hands typed events to a
 * `QlogSink` and knows nothing of files (the session layer writes them as JSON-SEQ).
 *
 * A useful subset of the schema: transport:parameters_set, packet_sent, packet_received,
 * packet_dropped, packet_buffered; recovery:metrics_updated (only the fields that changed; one
 * series per path id with multipath),
 * packet_lost; security:key_updated (never the secrets); connectivity:connection_state_updated,
 * connection_closed, connection_id_updated (the peer CID we send with changed on a migration) and
 * migration_state_updated (path validation and the peer's address changes). Times are the connection's `now` (ms on the driver's clock).
 *
 * The functions here take the data they log, never the connection (as quinn's and neqo's qlog
 * modules do): the connection calls them with packet numbers, sizes, headers and snapshots.
 *
 * Cost: with no sink, every hook is one `if (this.qlog)` on a field that is undefined; no event
 * object is ever built. With a sink, sent and received packets are decoded a second time to list
 * their frames (tracing is for debugging, not for the fast path).
 */

/** Where a connection's events go. */
export interface QlogSink {
  /** One event (the object is the sink's to keep). */
  event(e: QlogEvent): void;
  /** The connection terminated: no event follows. */
  close?(): void;
}

export type QlogPacketType = 'initial' | 'handshake' | '0RTT' | '1RTT' | 'retry' | 'version_negotiation' | 'stateless_reset' | 'unknown';

export interface QlogPacketHeader {
  readonly packet_type: QlogPacketType;
  readonly packet_number?: number;
  /** Connection IDs, hex (long headers carry both, short headers the DCID). */
  readonly scid?: string;
  readonly dcid?: string;
  readonly token?: { readonly length: number };
}

/** Sizes of a packet on the wire: `length` is the whole packet, `payload_length` its frames (plaintext). */
export interface QlogRawInfo {
  readonly length: number;
  readonly payload_length?: number;
}

/** An error code: a number, or its decimal string beyond 2^53 (JSON has no bigint). */
export type QlogCode = number | string;

/** The frames of a packet, each with its key fields (qlog QuicFrame). */
export type QlogFrame =
  | { readonly frame_type: 'padding'; readonly length: number }
  | { readonly frame_type: 'ping' }
  | { readonly frame_type: 'ack'; readonly ack_delay: number; readonly acked_ranges: Array<[number, number]>; readonly ect0?: number; readonly ect1?: number; readonly ce?: number }
  | { readonly frame_type: 'reset_stream'; readonly stream_id: number; readonly error_code: QlogCode; readonly final_size: number }
  | { readonly frame_type: 'stop_sending'; readonly stream_id: number; readonly error_code: QlogCode }
  | { readonly frame_type: 'crypto'; readonly offset: number; readonly length: number }
  | { readonly frame_type: 'new_token'; readonly token: { readonly length: number } }
  | { readonly frame_type: 'stream'; readonly stream_id: number; readonly offset: number; readonly length: number; readonly fin: boolean }
  | { readonly frame_type: 'max_data'; readonly maximum: number }
  | { readonly frame_type: 'max_stream_data'; readonly stream_id: number; readonly maximum: number }
  | { readonly frame_type: 'max_streams'; readonly stream_type: QlogStreamType; readonly maximum: number }
  | { readonly frame_type: 'data_blocked'; readonly limit: number }
  | { readonly frame_type: 'stream_data_blocked'; readonly stream_id: number; readonly limit: number }
  | { readonly frame_type: 'streams_blocked'; readonly stream_type: QlogStreamType; readonly limit: number }
  | { readonly frame_type: 'new_connection_id'; readonly sequence_number: number; readonly retire_prior_to: number; readonly connection_id_length: number; readonly connection_id: string; readonly stateless_reset_token: string }
  | { readonly frame_type: 'retire_connection_id'; readonly sequence_number: number }
  | { readonly frame_type: 'path_challenge' | 'path_response'; readonly data: string }
  | {
      readonly frame_type: 'connection_close';
      readonly error_space: 'transport' | 'application';
      /** Transport: the RFC 9000 §20.1 name in lower case (or CRYPTO_ERROR(0x1xx)); application: the code. */
      readonly error_code: QlogCode;
      readonly raw_error_code: QlogCode;
      readonly reason: string;
      readonly trigger_frame_type?: number;
    }
  | { readonly frame_type: 'handshake_done' }
  | { readonly frame_type: 'datagram'; readonly length: number }
  // draft-ietf-quic-multipath §4 (qlog names: the frame's name in lower case, fields in snake case).
  | { readonly frame_type: 'path_ack'; readonly path_id: number; readonly ack_delay: number; readonly acked_ranges: Array<[number, number]>; readonly ect0?: number; readonly ect1?: number; readonly ce?: number }
  | { readonly frame_type: 'path_abandon'; readonly path_id: number; readonly error_code: QlogCode }
  | { readonly frame_type: 'path_status_backup' | 'path_status_available'; readonly path_id: number; readonly path_status_sequence_number: number }
  | { readonly frame_type: 'path_new_connection_id'; readonly path_id: number; readonly sequence_number: number; readonly retire_prior_to: number; readonly connection_id: string; readonly stateless_reset_token: string }
  | { readonly frame_type: 'path_retire_connection_id'; readonly path_id: number; readonly sequence_number: number }
  | { readonly frame_type: 'max_path_id' | 'paths_blocked'; readonly maximum_path_id: number }
  | { readonly frame_type: 'path_cids_blocked'; readonly path_id: number; readonly next_sequence_number: number }
  // n0 NAT traversal.
  | { readonly frame_type: 'add_address'; readonly sequence_number: number; readonly address: string }
  | { readonly frame_type: 'reach_out'; readonly round: number; readonly address: string }
  | { readonly frame_type: 'remove_address'; readonly sequence_number: number }
  | { readonly frame_type: 'observed_address'; readonly sequence_number: number; readonly address: string }
  /** A frame that did not decode (received packets only; the rest of the packet is not listed). */
  | { readonly frame_type: 'unknown'; readonly raw_frame_type?: number };

export type QlogStreamType = 'bidirectional' | 'unidirectional';

export interface QlogPacketEventData {
  readonly header: QlogPacketHeader;
  readonly frames?: QlogFrame[];
  readonly raw: QlogRawInfo;
  /** Received Retry / Version Negotiation: their content. */
  readonly supported_versions?: string[];
}

export type QlogDropTrigger = 'invalid' | 'unsupported' | 'rejected' | 'key_unavailable' | 'decryption_failure' | 'duplicate';

export type QlogConnectionState =
  | 'attempted'
  | 'handshake_started'
  | 'handshake_complete'
  | 'handshake_confirmed'
  | 'closing'
  | 'draining'
  | 'closed';

export type QlogKeyType =
  | 'client_initial_secret' | 'server_initial_secret'
  | 'client_handshake_secret' | 'server_handshake_secret'
  | 'client_0rtt_secret' | 'client_1rtt_secret' | 'server_1rtt_secret';

/**
 * recovery:metrics_updated: only the fields whose value changed since the previous event. With
 * multipath, the metrics of a path id ≥ 1 come in events of their own that carry its `path_id`
 * (path 0's carry none, as without multipath).
 */
export interface QlogMetrics {
  path_id?: number;
  min_rtt?: number;
  smoothed_rtt?: number;
  latest_rtt?: number;
  rtt_variance?: number;
  pto_count?: number;
  congestion_window?: number;
  bytes_in_flight?: number;
  /** Absent while Infinity (no congestion event yet). */
  ssthresh?: number;
}

/** transport:parameters_set (qlog TransportParameters; CIDs and tokens as hex). */
export interface QlogParameters {
  readonly owner: 'local' | 'remote';
  readonly original_destination_connection_id?: string;
  readonly initial_source_connection_id?: string;
  readonly retry_source_connection_id?: string;
  readonly stateless_reset_token?: string;
  readonly disable_active_migration: boolean;
  readonly max_idle_timeout: number;
  readonly max_udp_payload_size: number;
  readonly ack_delay_exponent: number;
  readonly max_ack_delay: number;
  readonly active_connection_id_limit: number;
  readonly initial_max_data: number;
  readonly initial_max_stream_data_bidi_local: number;
  readonly initial_max_stream_data_bidi_remote: number;
  readonly initial_max_stream_data_uni: number;
  readonly initial_max_streams_bidi: number;
  readonly initial_max_streams_uni: number;
  readonly max_datagram_frame_size: number;
  /** draft-ietf-quic-multipath §2, when sent. */
  readonly initial_max_path_id?: number;
  /** iroh's n0 NAT traversal parameter (addresses kept), when sent. */
  readonly n0_nat_traversal?: number;
  readonly preferred_address?: { readonly ip_v4: string; readonly port_v4: number; readonly ip_v6: string; readonly port_v6: number; readonly connection_id: string };
}

export interface QlogClosed {
  readonly owner: 'local' | 'remote';
  readonly connection_code?: QlogCode;
  readonly application_code?: QlogCode;
  readonly reason: string;
  readonly trigger: 'clean' | 'error' | 'application' | 'idle_timeout' | 'handshake_timeout' | 'stateless_reset' | 'version_mismatch';
}

/** One event: `time` in ms on the connection's clock; `name` category:event; `data` as the schema says. */
export type QlogEvent =
  | { readonly time: number; readonly name: 'transport:parameters_set'; readonly data: QlogParameters }
  | { readonly time: number; readonly name: 'transport:packet_sent'; readonly data: QlogPacketEventData }
  | { readonly time: number; readonly name: 'transport:packet_received'; readonly data: QlogPacketEventData }
  | { readonly time: number; readonly name: 'transport:packet_dropped'; readonly data: { readonly header: QlogPacketHeader; readonly raw: QlogRawInfo; readonly trigger: QlogDropTrigger } }
  | { readonly time: number; readonly name: 'transport:packet_buffered'; readonly data: { readonly header: QlogPacketHeader; readonly raw: QlogRawInfo; readonly trigger: 'keys_unavailable' } }
  | { readonly time: number; readonly name: 'recovery:metrics_updated'; readonly data: QlogMetrics }
  | { readonly time: number; readonly name: 'recovery:packet_lost'; readonly data: { readonly header: QlogPacketHeader; readonly trigger: 'reordering_threshold' | 'time_threshold' } }
  | { readonly time: number; readonly name: 'security:key_updated'; readonly data: { readonly key_type: QlogKeyType; readonly trigger: 'tls' | 'local_update' | 'remote_update'; readonly generation?: number } }
  | { readonly time: number; readonly name: 'connectivity:connection_state_updated'; readonly data: { readonly old?: QlogConnectionState; readonly new: QlogConnectionState } }
  | { readonly time: number; readonly name: 'connectivity:connection_closed'; readonly data: QlogClosed }
  | { readonly time: number; readonly name: 'connectivity:connection_id_updated'; readonly data: { readonly owner: 'local' | 'remote'; readonly old?: string; readonly new?: string } }
  | { readonly time: number; readonly name: 'connectivity:migration_state_updated'; readonly data: QlogMigration }
  | { readonly time: number; readonly name: 'connectivity:path_updated'; readonly data: QlogPathUpdated };

export type QlogEventName = QlogEvent['name'];

/** qlog PathEndpointInfo: one end of a path. */
export interface QlogPathEndpoint {
  readonly ip_v4?: string;
  readonly port_v4?: number;
  readonly ip_v6?: string;
  readonly port_v6?: number;
}

/**
 * migration_state_updated (qlog QUIC events, MigrationState): our view of the peer's address
 * changes and of path validation (RFC 9000 §8.2, §9). `path_remote` is the peer address concerned.
 */
export interface QlogMigration {
  readonly new:
    | 'probing_started' | 'probing_abandoned' | 'probing_successful'
    | 'migration_started' | 'migration_abandoned' | 'migration_complete';
  readonly path_remote: QlogPathEndpoint;
}

/**
 * A multipath path id's life (draft-ietf-quic-multipath; the qlog QUIC events' path_assigned
 * shape with the state added): opened (by us or the peer), validated, status changed,
 * abandoned, forgotten.
 */
export interface QlogPathUpdated {
  readonly path_id: number;
  readonly state: 'opened' | 'validated' | 'available' | 'backup' | 'abandoned' | 'forgotten';
  readonly path_remote: QlogPathEndpoint;
}

/** Where a connection's qlog tracer is, while it traces (`Connection.setQlog` sets it). */
export class Trace {
  tracer: QlogTracer | undefined = undefined;
}

/** A sink that keeps every event in memory (tests; the endpoint holds a server's first events in one until it accepts). */
export class QlogRecorder implements QlogSink {
  readonly events: QlogEvent[] = [];
  closed = false;

  event(e: QlogEvent): void {
    this.events.push(e);
  }

  close(): void {
    this.closed = true;
  }

  /** The events named `name`, typed. */
  named<N extends QlogEventName>(name: N): Array<Extract<QlogEvent, { name: N }>> {
    return this.events.filter((e): e is Extract<QlogEvent, { name: N }> => e.name === name);
  }
}

/**
 * The per-connection tracing state: the sink, the time of the input being processed, and what
 * was last reported (metrics, state, key generation), so only changes become events.
 */
export class QlogTracer {
  sink: QlogSink;
  /** `now` of the input being processed (set by the connection's entry points). */
  now: number;
  private metrics: QlogMetrics = {};
  /** The last metrics reported of each open path id ≥ 1 (made with the first). */
  private pathMetrics: Map<number, QlogMetrics> | undefined;
  private state: QlogConnectionState | undefined;
  private closeLogged = false;
  private generation = 0;
  private readonly frames = new FrameIterator();

  constructor(sink: QlogSink, now: number) {
    this.sink = sink;
    this.now = now;
  }

  /** Events built by the functions below go through here. */
  emit(e: QlogEvent): void {
    this.sink.event(e);
  }

  /**
   * After every input and command: the connection state, its close, a local key update and the
   * recovery metrics, each logged when it changed since the last snapshot.
   */
  afterInput(s: QlogSnapshot): void {
    const now = this.now;
    this.stateChanged(s.state);
    if (s.closeReason && !this.closeLogged) {
      this.closeLogged = true;
      this.emit({ time: now, name: 'connectivity:connection_closed', data: closedData(s.closeReason) });
    }
    if (s.keyGeneration !== this.generation) {
      // A remote update was logged where it was detected (receive path); what is left is ours.
      this.generation = s.keyGeneration;
      this.keyUpdated('client_1rtt_secret', 'local_update', s.keyGeneration);
      this.keyUpdated('server_1rtt_secret', 'local_update', s.keyGeneration);
    }
    this.metricsDiff(this.metrics, s, undefined);
    const paths = s.paths ?? [];
    if (paths.length === 0 && this.pathMetrics === undefined) return;
    const known = (this.pathMetrics ??= new Map());
    for (const p of paths) {
      let m = known.get(p.id);
      if (m === undefined) known.set(p.id, (m = {}));
      this.metricsDiff(m, p, p.id);
    }
    // Forgotten path ids are reported no more.
    if (known.size > paths.length) for (const id of known.keys()) if (!paths.some((p) => p.id === id)) known.delete(id);
  }

  /**
   * Logs the connection state if it changed. Called after every input and also where the
   * handshake progresses, since one datagram can start, complete and confirm it.
   */
  stateChanged(st: QlogConnectionState): void {
    if (st === this.state) return;
    this.emit({ time: this.now, name: 'connectivity:connection_state_updated', data: this.state === undefined ? { new: st } : { old: this.state, new: st } });
    this.state = st;
  }

  /** A key was installed (`generation` for 1-RTT updates). */
  keyUpdated(keyType: QlogKeyType, trigger: 'tls' | 'local_update' | 'remote_update', generation?: number): void {
    this.emit({ time: this.now, name: 'security:key_updated', data: generation === undefined ? { key_type: keyType, trigger } : { key_type: keyType, trigger, generation } });
  }

  /** The peer updated the 1-RTT keys (RFC 9001 §6.2): logged at once, as remote. */
  remoteKeyUpdate(generation: number): void {
    this.generation = generation;
    this.keyUpdated('client_1rtt_secret', 'remote_update', generation);
    this.keyUpdated('server_1rtt_secret', 'remote_update', generation);
  }

  /** The frames of a plaintext payload, listed as qlog frames (never throws). */
  listFrames(payload: Uint8Array, space: PacketSpace, ackDelayExponent: number): QlogFrame[] {
    const out: QlogFrame[] = [];
    const it = this.frames;
    try {
      it.reset(payload, SPACE_CONTEXT[space]);
      for (let f = it.next(); f !== null; f = it.next()) out.push(qlogFrame(f, ackDelayExponent));
    } catch {
      out.push({ frame_type: 'unknown' });
    }
    return out;
  }

  /** Emits what changed of one path's metrics since `m` (then updates `m`). */
  private metricsDiff(m: QlogMetrics, s: QlogPathSnapshot, pathId: number | undefined): void {
    let d: QlogMetrics | undefined;
    const set = <K extends keyof QlogMetrics>(k: K, v: number): void => {
      if (m[k] === v) return;
      m[k] = v;
      (d ??= pathId === undefined ? {} : { path_id: pathId })[k] = v;
    };
    if (s.rtt.hasSample) set('min_rtt', s.rtt.min);
    set('smoothed_rtt', s.rtt.smoothed);
    set('latest_rtt', s.rtt.latest);
    set('rtt_variance', s.rtt.rttvar);
    set('pto_count', s.ptoCount);
    set('congestion_window', s.cc.window);
    set('bytes_in_flight', s.cc.bytesInFlight);
    if (Number.isFinite(s.cc.ssthresh)) set('ssthresh', s.cc.ssthresh);
    if (d) this.emit({ time: this.now, name: 'recovery:metrics_updated', data: d });
  }
}

/** One path's recovery state, as `QlogTracer.afterInput` compares it with the last one reported. */
export interface QlogPathSnapshot {
  readonly rtt: { readonly hasSample: boolean; readonly min: number; readonly smoothed: number; readonly latest: number; readonly rttvar: number };
  readonly ptoCount: number;
  readonly cc: { readonly window: number; readonly bytesInFlight: number; readonly ssthresh: number };
}

/** What `QlogTracer.afterInput` compares with the last snapshot (path 0's recovery state, and each open path id's). */
export interface QlogSnapshot extends QlogPathSnapshot {
  readonly state: QlogConnectionState;
  readonly closeReason: CloseReason | undefined;
  /** 1-RTT key generation (key updates so far). */
  readonly keyGeneration: number;
  /** With multipath: each open path id ≥ 1 (abandoned ones while they linger). */
  readonly paths?: readonly (QlogPathSnapshot & { readonly id: number })[] | undefined;
}

// ------------------------------------------------------------------ hooks the connection calls

/**
 * A new trace begins with the local transport parameters, the Initial keys (when installed) and,
 * when known already, the peer's parameters.
 */
export function startTrace(q: QlogTracer, localParams: TransportParameters, initialKeys: boolean, peerParams: TransportParameters | undefined): void {
  q.emit({ time: q.now, name: 'transport:parameters_set', data: qlogParameters('local', localParams) });
  if (initialKeys) {
    q.keyUpdated('client_initial_secret', 'tls');
    q.keyUpdated('server_initial_secret', 'tls');
  }
  if (peerParams) q.emit({ time: q.now, name: 'transport:parameters_set', data: qlogParameters('remote', peerParams) });
}

/**
 * A packet was sealed: `plaintext` is its frames before encryption; `scid`/`dcid` its connection
 * IDs; `ackDelayExponent` the one of its ACK frames (ours at 1-RTT, 3 before).
 */
export function qlogPacketSent(
  q: QlogTracer,
  space: PacketSpace,
  pn: number,
  plaintext: Uint8Array,
  size: number,
  scid: Uint8Array,
  dcid: Uint8Array,
  ackDelayExponent: number,
): void {
  const header: QlogPacketHeader = space !== PacketSpace.Application
    ? { packet_type: SPACE_TYPE[space], packet_number: pn, scid: toHex(scid), dcid: toHex(dcid) }
    : { packet_type: '1RTT', packet_number: pn, dcid: toHex(dcid) };
  q.emit({
    time: q.now,
    name: 'transport:packet_sent',
    data: { header, frames: q.listFrames(plaintext, space, ackDelayExponent), raw: { length: size, payload_length: plaintext.length } },
  });
}

/** A packet opened: `payload` is its plaintext frames; `ackDelayExponent` the peer's (3 before 1-RTT). */
export function qlogPacketReceived(q: QlogTracer, h: PacketHeader, space: PacketSpace, pn: number, payload: Uint8Array, size: number, ackDelayExponent: number): void {
  const exponent = ackDelayExponent;
  q.emit({
    time: q.now,
    name: 'transport:packet_received',
    data: { header: headerOf(h, pn), frames: q.listFrames(payload, space, exponent), raw: { length: size, payload_length: payload.length } },
  });
}

/** A Retry or Version Negotiation packet arrived (whether or not it was acted on). */
export function qlogStatelessReceived(q: QlogTracer, h: PacketHeader, size: number): void {
  const data: QlogPacketEventData = h.kind === 'versionNegotiation'
    ? { header: headerOf(h, undefined), raw: { length: size }, supported_versions: h.versions.map((v) => v.toString(16).padStart(8, '0')) }
    : { header: headerOf(h, undefined), raw: { length: size } };
  q.emit({ time: q.now, name: 'transport:packet_received', data });
}

/** A packet was dropped on receipt (`h` undefined: the datagram's header did not parse). */
export function qlogPacketDropped(q: QlogTracer, h: PacketHeader | undefined, size: number, trigger: QlogDropTrigger): void {
  q.emit({ time: q.now, name: 'transport:packet_dropped', data: { header: h ? headerOf(h, undefined) : { packet_type: 'unknown' }, raw: { length: size }, trigger } });
}

/** A packet waits for its keys (RFC 9001 §5.7). */
export function qlogPacketBuffered(q: QlogTracer, h: PacketHeader, size: number): void {
  q.emit({ time: q.now, name: 'transport:packet_buffered', data: { header: headerOf(h, undefined), raw: { length: size }, trigger: 'keys_unavailable' } });
}

/** Packets of `space` declared lost (RFC 9002 §6.1): by packet threshold when 3 later ones were acknowledged, else by time. */
export function qlogPacketsLost(q: QlogTracer, space: PacketSpace, lost: readonly SentPacket<unknown>[], largestAcked: number): void {
  for (const p of lost) {
    q.emit({
      time: q.now,
      name: 'recovery:packet_lost',
      data: { header: { packet_type: SPACE_TYPE[space], packet_number: p.pn }, trigger: largestAcked >= p.pn + 3 ? 'reordering_threshold' : 'time_threshold' },
    });
  }
}

/** The peer's transport parameters arrived. */
export function qlogRemoteParameters(q: QlogTracer, p: TransportParameters): void {
  q.emit({ time: q.now, name: 'transport:parameters_set', data: qlogParameters('remote', p) });
}

/** A TLS secret of `writer` (the side that writes with it) installed keys of the Handshake or 1-RTT level. */
export function qlogTlsKey(q: QlogTracer, writer: 'client' | 'server', level: 'handshake' | '1rtt'): void {
  q.keyUpdated(`${writer}_${level}_secret`, 'tls');
}

/** The peer CID we send with changed (a migration: RFC 9000 §9.5). */
export function qlogCidUpdated(q: QlogTracer, before: Uint8Array, after: Uint8Array): void {
  q.emit({ time: q.now, name: 'connectivity:connection_id_updated', data: { owner: 'remote', old: toHex(before), new: toHex(after) } });
}

/** Path validation and the peer's address changes: `address` is the peer address concerned. */
export function qlogMigration(q: QlogTracer, address: string, state: QlogMigration['new']): void {
  q.emit({ time: q.now, name: 'connectivity:migration_state_updated', data: { new: state, path_remote: endpointInfo(address) } });
}

/** A multipath path id changed state (`address`: the peer's address on it). */
export function qlogPathUpdated(q: QlogTracer, pathId: number, address: string, state: QlogPathUpdated['state']): void {
  q.emit({ time: q.now, name: 'connectivity:path_updated', data: { path_id: pathId, state, path_remote: endpointInfo(address) } });
}

/** qlog's PathEndpointInfo of an "ip:port" address. */
function endpointInfo(address: string): QlogPathEndpoint {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (address.startsWith('[')) return { ip_v6: address.slice(1, address.indexOf(']')), port_v6: port };
  return { ip_v4: address.slice(0, i), port_v4: port };
}

/** qlog's connection state from the connection's state and its handshake's progress. */
export function qlogState(
  state: 'handshake' | 'established' | 'closing' | 'draining' | 'terminated',
  handshake: { readonly isConfirmed: boolean; readonly isComplete: boolean; readonly peerAnswered: boolean },
): QlogConnectionState {
  switch (state) {
    case 'closing':
      return 'closing';
    case 'draining':
      return 'draining';
    case 'terminated':
      return 'closed';
    default:
      if (handshake.isConfirmed) return 'handshake_confirmed';
      if (handshake.isComplete) return 'handshake_complete';
      // A client has only attempted until the server answered (its SCID learnt).
      return handshake.peerAnswered ? 'handshake_started' : 'attempted';
  }
}

// ------------------------------------------------------------------ conversions

const SPACE_TYPE: Record<PacketSpace, QlogPacketType> = {
  [PacketSpace.Initial]: 'initial',
  [PacketSpace.Handshake]: 'handshake',
  [PacketSpace.Application]: '1RTT',
};

const SPACE_CONTEXT: Record<PacketSpace, FrameContext> = {
  [PacketSpace.Initial]: FrameContext.Initial,
  [PacketSpace.Handshake]: FrameContext.Handshake,
  [PacketSpace.Application]: FrameContext.OneRtt,
};

function headerOf(h: PacketHeader, pn: number | undefined): QlogPacketHeader {
  switch (h.kind) {
    case 'long': {
      const type: QlogPacketType = h.type === LongPacketType.Initial ? 'initial' : h.type === LongPacketType.Handshake ? 'handshake' : '0RTT';
      const base = { packet_type: type, scid: toHex(h.scid), dcid: toHex(h.dcid) };
      const withPn = pn === undefined ? base : { ...base, packet_number: pn };
      return h.type === LongPacketType.Initial && h.token.length > 0 ? { ...withPn, token: { length: h.token.length } } : withPn;
    }
    case 'short':
      return pn === undefined ? { packet_type: '1RTT', dcid: toHex(h.dcid) } : { packet_type: '1RTT', packet_number: pn, dcid: toHex(h.dcid) };
    case 'retry':
      return { packet_type: 'retry', scid: toHex(h.scid), dcid: toHex(h.dcid), token: { length: h.token.length } };
    case 'versionNegotiation':
      return { packet_type: 'version_negotiation', scid: toHex(h.scid), dcid: toHex(h.dcid) };
    default:
      return { packet_type: 'unknown' };
  }
}

function closedData(r: CloseReason): QlogClosed {
  const owner = r.remote ? 'remote' : 'local';
  switch (r.kind) {
    case 'application':
      return { owner, application_code: code(r.code), reason: r.reason, trigger: 'application' };
    case 'transport':
      return { owner, connection_code: code(r.code), reason: r.reason, trigger: r.code === 0 ? 'clean' : 'error' };
    case 'idle':
      return { owner, reason: r.reason, trigger: 'idle_timeout' };
    case 'handshakeTimeout':
      return { owner, connection_code: code(r.code), reason: r.reason, trigger: 'handshake_timeout' };
    case 'reset':
      return { owner, reason: r.reason, trigger: 'stateless_reset' };
    case 'versionMismatch':
      return { owner, reason: r.reason, trigger: 'version_mismatch' };
  }
}

function code(v: number | bigint): QlogCode {
  if (typeof v === 'number') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** qlog's TransportParameters from ours. */
export function qlogParameters(owner: 'local' | 'remote', p: TransportParameters): QlogParameters {
  return {
    owner,
    ...(p.originalDestinationConnectionId ? { original_destination_connection_id: toHex(p.originalDestinationConnectionId) } : {}),
    ...(p.initialSourceConnectionId ? { initial_source_connection_id: toHex(p.initialSourceConnectionId) } : {}),
    ...(p.retrySourceConnectionId ? { retry_source_connection_id: toHex(p.retrySourceConnectionId) } : {}),
    ...(p.statelessResetToken ? { stateless_reset_token: toHex(p.statelessResetToken) } : {}),
    disable_active_migration: p.disableActiveMigration,
    max_idle_timeout: p.maxIdleTimeout,
    max_udp_payload_size: p.maxUdpPayloadSize,
    ack_delay_exponent: p.ackDelayExponent,
    max_ack_delay: p.maxAckDelay,
    active_connection_id_limit: p.activeConnectionIdLimit,
    initial_max_data: p.initialMaxData,
    initial_max_stream_data_bidi_local: p.initialMaxStreamDataBidiLocal,
    initial_max_stream_data_bidi_remote: p.initialMaxStreamDataBidiRemote,
    initial_max_stream_data_uni: p.initialMaxStreamDataUni,
    initial_max_streams_bidi: p.initialMaxStreamsBidi,
    initial_max_streams_uni: p.initialMaxStreamsUni,
    max_datagram_frame_size: p.maxDatagramFrameSize,
    ...(p.initialMaxPathId !== null ? { initial_max_path_id: p.initialMaxPathId } : {}),
    ...(p.n0NatTraversal !== null ? { n0_nat_traversal: p.n0NatTraversal } : {}),
    ...(p.addressDiscovery !== null ? { address_discovery: p.addressDiscovery } : {}),
    ...(p.preferredAddress
      ? {
          preferred_address: {
            ip_v4: [...p.preferredAddress.ipv4Address].join('.'),
            port_v4: p.preferredAddress.ipv4Port,
            ip_v6: toHex(p.preferredAddress.ipv6Address),
            port_v6: p.preferredAddress.ipv6Port,
            connection_id: toHex(p.preferredAddress.connectionId),
          },
        }
      : {}),
  };
}

/** One decoded frame as qlog lists it. `ackDelayExponent` scales ACK delays to ms (RFC 9000 §19.3). */
export function qlogFrame(f: Frame, ackDelayExponent: number): QlogFrame {
  switch (f.kind) {
    case 'padding':
      return { frame_type: 'padding', length: f.length };
    case 'ping':
      return { frame_type: 'ping' };
    case 'ack': {
      const ranges: Array<[number, number]> = [];
      for (let i = 0; i + 1 < f.ranges.length; i += 2) ranges.push([f.ranges[i + 1]!, f.ranges[i]!]);
      const base = { frame_type: 'ack' as const, ack_delay: (f.ackDelay * 2 ** ackDelayExponent) / 1000, acked_ranges: ranges };
      return f.ecn ? { ...base, ect0: f.ecn.ect0, ect1: f.ecn.ect1, ce: f.ecn.ce } : base;
    }
    case 'resetStream':
      return { frame_type: 'reset_stream', stream_id: f.streamId, error_code: code(f.errorCode), final_size: f.finalSize };
    case 'stopSending':
      return { frame_type: 'stop_sending', stream_id: f.streamId, error_code: code(f.errorCode) };
    case 'crypto':
      return { frame_type: 'crypto', offset: f.offset, length: f.data.length };
    case 'newToken':
      return { frame_type: 'new_token', token: { length: f.token.length } };
    case 'stream':
      return { frame_type: 'stream', stream_id: f.streamId, offset: f.offset, length: f.data.length, fin: f.fin };
    case 'maxData':
      return { frame_type: 'max_data', maximum: f.maximum };
    case 'maxStreamData':
      return { frame_type: 'max_stream_data', stream_id: f.streamId, maximum: f.maximum };
    case 'maxStreams':
      return { frame_type: 'max_streams', stream_type: f.bidi ? 'bidirectional' : 'unidirectional', maximum: f.maximum };
    case 'dataBlocked':
      return { frame_type: 'data_blocked', limit: f.maximum };
    case 'streamDataBlocked':
      return { frame_type: 'stream_data_blocked', stream_id: f.streamId, limit: f.maximum };
    case 'streamsBlocked':
      return { frame_type: 'streams_blocked', stream_type: f.bidi ? 'bidirectional' : 'unidirectional', limit: f.maximum };
    case 'newConnectionId':
      return {
        frame_type: 'new_connection_id', sequence_number: f.sequence, retire_prior_to: f.retirePriorTo,
        connection_id_length: f.connectionId.length, connection_id: toHex(f.connectionId), stateless_reset_token: toHex(f.resetToken),
      };
    case 'retireConnectionId':
      return { frame_type: 'retire_connection_id', sequence_number: f.sequence };
    case 'pathChallenge':
      return { frame_type: 'path_challenge', data: toHex(f.data) };
    case 'pathResponse':
      return { frame_type: 'path_response', data: toHex(f.data) };
    case 'connectionClose': {
      const reason = new TextDecoder('utf-8', { fatal: false }).decode(f.reason);
      if (f.application) return { frame_type: 'connection_close', error_space: 'application', error_code: code(f.errorCode), raw_error_code: code(f.errorCode), reason };
      const name = typeof f.errorCode === 'number' ? transportErrorName(f.errorCode).toLowerCase() : code(f.errorCode);
      return {
        frame_type: 'connection_close', error_space: 'transport', error_code: name, raw_error_code: code(f.errorCode), reason,
        ...(f.frameType !== 0 ? { trigger_frame_type: f.frameType } : {}),
      };
    }
    case 'handshakeDone':
      return { frame_type: 'handshake_done' };
    case 'datagram':
      return { frame_type: 'datagram', length: f.data.length };
    case 'pathAck': {
      const ranges: Array<[number, number]> = [];
      for (let i = 0; i + 1 < f.ranges.length; i += 2) ranges.push([f.ranges[i + 1]!, f.ranges[i]!]);
      const base = { frame_type: 'path_ack' as const, path_id: f.pathId, ack_delay: (f.ackDelay * 2 ** ackDelayExponent) / 1000, acked_ranges: ranges };
      return f.ecn ? { ...base, ect0: f.ecn.ect0, ect1: f.ecn.ect1, ce: f.ecn.ce } : base;
    }
    case 'pathAbandon':
      return { frame_type: 'path_abandon', path_id: f.pathId, error_code: code(f.errorCode) };
    case 'pathStatus':
      return { frame_type: f.status === 'backup' ? 'path_status_backup' : 'path_status_available', path_id: f.pathId, path_status_sequence_number: f.sequence };
    case 'pathNewConnectionId':
      return {
        frame_type: 'path_new_connection_id', path_id: f.pathId, sequence_number: f.sequence, retire_prior_to: f.retirePriorTo,
        connection_id: toHex(f.connectionId), stateless_reset_token: toHex(f.resetToken),
      };
    case 'pathRetireConnectionId':
      return { frame_type: 'path_retire_connection_id', path_id: f.pathId, sequence_number: f.sequence };
    case 'maxPathId':
      return { frame_type: 'max_path_id', maximum_path_id: f.maximum };
    case 'pathsBlocked':
      return { frame_type: 'paths_blocked', maximum_path_id: f.maximum };
    case 'pathCidsBlocked':
      return { frame_type: 'path_cids_blocked', path_id: f.pathId, next_sequence_number: f.nextSequence };
    case 'addAddress':
      return { frame_type: 'add_address', sequence_number: f.sequence, address: ipPort(f.ip, f.port) };
    case 'reachOut':
      return { frame_type: 'reach_out', round: f.round, address: ipPort(f.ip, f.port) };
    case 'removeAddress':
      return { frame_type: 'remove_address', sequence_number: f.sequence };
    case 'observedAddress':
      return { frame_type: 'observed_address', sequence_number: f.sequence, address: ipPort(f.ip, f.port) };
  }
}

/** `a.b.c.d:port` or `[hex:...]:port` (IPv6 groups in hex, uncompressed). */
function ipPort(ip: Uint8Array, port: number): string {
  if (ip.length === 4) return `${ip.join('.')}:${port}`;
  const groups: string[] = [];
  for (let i = 0; i + 1 < ip.length; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return `[${groups.join(':')}]:${port}`;
}
