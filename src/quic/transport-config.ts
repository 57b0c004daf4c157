import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './streams/stream-types.js';
import type { CongestionAlgorithm } from './congestion/controller.js';
import { DEFAULT_CIPHER_SUITES } from '../tls/suites.js';
import { MIN_DATAGRAM_SIZE } from './packet/size.js';

/**
 * Transport configuration of a connection, with the defaults a demanding user would expect and
 * the values iroh uses where it matters for interop. Every field is validated by
 * `resolveTransportConfig`, which throws a `ConfigError` naming the field and what was wrong.
 */
export interface TransportConfig {
  /** Our max_idle_timeout in ms (0 = none). The effective one is the smaller of both sides'. Default 30000 (iroh). */
  maxIdleTimeoutMs: number;
  /** Send an ack-eliciting PING when nothing was sent for this long (0 = off). Default 0; the session layer sets 5000 like iroh. */
  keepAliveIntervalMs: number;
  /**
   * Largest UDP payload we send once path MTU discovery allows and accept, advertised as
   * max_udp_payload_size (RFC 9000 §18.2). Default 1452 (as iroh); up to 65527. Above 1452 the
   * search goes that high only where the path is known to carry it: on loopback (127.0.0.0/8,
   * ::1: a 64 KiB MTU), elsewhere up to `mtuUpperBound`.
   */
  maxUdpPayloadSize: number;
  /**
   * Largest UDP payload path MTU discovery probes for on a path whose MTU is not known (every
   * path but loopback). Default 1452. node:dgram cannot set the don't-fragment bit: on a real
   * network a probe above the path MTU may be fragmented by the sending host and still arrive,
   * and is then taken as fitting; raise it only for a path whose MTU you know (a LAN with 9000-byte
   * jumbo frames: 8952 under IPv6).
   */
  mtuUpperBound: number;
  /** Path MTU discovery (DPLPMTUD probes); when false we stay at 1200. Default true. */
  mtuDiscovery: boolean;
  /** Stream and connection windows and stream limits. */
  streams: StreamLimits;
  /** Our max_ack_delay in ms (default 25). */
  maxAckDelayMs: number;
  /** Our ack_delay_exponent (default 3). */
  ackDelayExponent: number;
  /** Our active_connection_id_limit: how many of the peer's CIDs we keep. Default 5 (as iroh). */
  activeConnectionIdLimit: number;
  /** Length of the connection IDs we issue (default 8, as iroh; 0..20). */
  localCidLength: number;
  /** Our max_datagram_frame_size (0 = refuse datagrams). Default 65535 (RFC 9221 §3 recommendation). */
  maxDatagramFrameSize: number;
  /** Datagrams queued to send before the oldest is dropped. */
  datagramSendQueue: number;
  /** Datagrams received and not yet read kept before the oldest is dropped. */
  datagramRecvQueue: number;
  /** Congestion controller: 'cubic' (default, as iroh) or 'newreno'. */
  congestionControl: CongestionAlgorithm;
  /** Pace sends (a leaky bucket of bytes, RFC 9002 §7.7). Default true. */
  pacing: boolean;
  /** kInitialRtt (RFC 9002 §6.2.2), ms. Default 333. */
  initialRttMs: number;
  /** Initiate a 1-RTT key update after this many packets sent in one key phase (0 = only at the AEAD limit). */
  keyUpdateIntervalPackets: number;
  /** TLS cipher suites (client: offer order; server: accepted set). */
  cipherSuites: readonly number[];
  /** Most ACK ranges tracked per packet number space (bounds memory against gaps). Default 64. */
  maxAckRanges: number;
  /** CRYPTO bytes buffered ahead of the handshake per level (CRYPTO_BUFFER_EXCEEDED beyond). */
  maxCryptoBuffer: number;
  /** Give up a handshake that has not completed after this long (ms). Default 10000. */
  handshakeTimeoutMs: number;
  /**
   * INSECURE: null packet protection (no encryption, zero tags, headers in clear) while the TLS
   * handshake still authenticates the peer. Both ends must set it. For benchmarks that measure
   * the protocol logic alone (bulk_inmem_nullkeys_mbps) and for tests; never on a network.
   */
  insecureNullKeys: boolean;
  /**
   * Send disable_active_migration (RFC 9000 §18.2) and, as a server, drop every packet from
   * another client address once the handshake is confirmed (§9 lets us drop them, without a
   * Stateless Reset, rather than validate the new path). A NAT rebinding of the client then ends
   * the connection by idle timeout. Default false: the peer's address changes are followed with
   * path validation (RFC 9000 §8.2).
   */
  disableActiveMigration: boolean;
  /**
   * Offer multipath (draft-ietf-quic-multipath, as iroh's noq speaks it) with the
   * initial_max_path_id transport parameter. Default true, as iroh 1.0 (which always offers it,
   * and moves a connection from its relay to a direct path with it). When both sides offer it,
   * `Connection.openPath` opens more paths (each path id with its own packet numbers, loss
   * recovery and congestion control), the peer may open up to `multipathMaxPathId`, and new data
   * goes on the best path; a peer that does not offer it (every QUIC stack but iroh's) gets a
   * plain RFC 9000 connection, the parameter ignored. iroh's n0 NAT traversal comes with it
   * (`natTraversal`), and QUIC Address Discovery with that (`addressDiscovery` 'auto'). False
   * turns them all off: none of their parameters is sent.
   */
  multipath: boolean;
  /**
   * With `multipath` only: the initial_max_path_id we send (the largest path id
   * the peer may open; default 7, as iroh sends; 0: path 0 only). Both sides issue connection
   * ids for the path ids up to the smaller maximum (PATH_NEW_CONNECTION_ID); each path abandoned
   * raises it by one (MAX_PATH_ID), so at most this many paths besides path 0 are open at once.
   */
  multipathMaxPathId: number;
  /**
   * With `multipath` only (default true: on whenever multipath is): offer iroh's n0
   * NAT traversal (its 0x3d7f91120401 transport parameter) and, once both sides offered it and
   * multipath, run it: a server announces its candidate addresses (ADD_ADDRESS), a client
   * reaches out (REACH_OUT), both probe each other's candidates with unpadded PATH_CHALLENGEs,
   * and the client opens a path id on an address that answered (the peer must allow one:
   * `multipathMaxPathId` on its side). False turns it off (the parameter is not sent). The
   * candidates come from the session layer (`Connection.setLocalCandidates`).
   */
  natTraversal: boolean;
  /**
   * How many of the peer's candidate addresses we keep: the value of the NAT traversal
   * parameter, 1..255 (default 32, as iroh).
   */
  natTraversalMaxAddresses: number;
  /**
   * QUIC Address Discovery (draft-seemann-quic-address-discovery, its 0x9f81a176 transport
   * parameter, as noq and iroh's relays speak it): each side tells the other the address it sees
   * it at (OBSERVED_ADDRESS), and the addresses reported to us become NAT traversal candidates.
   * `'auto'` (default): offered (as both reporter and receiver) when NAT traversal is; `true`:
   * always offered; `false`: never.
   */
  addressDiscovery: boolean | 'auto';
}

export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({
  maxIdleTimeoutMs: 30_000,
  keepAliveIntervalMs: 0,
  maxUdpPayloadSize: 1452,
  mtuUpperBound: 1452,
  mtuDiscovery: true,
  streams: DEFAULT_STREAM_LIMITS,
  maxAckDelayMs: 25,
  ackDelayExponent: 3,
  activeConnectionIdLimit: 5,
  localCidLength: 8,
  maxDatagramFrameSize: 65535,
  datagramSendQueue: 1024,
  datagramRecvQueue: 1024,
  congestionControl: 'cubic',
  pacing: true,
  initialRttMs: 333,
  keyUpdateIntervalPackets: 0,
  cipherSuites: DEFAULT_CIPHER_SUITES,
  maxAckRanges: 64,
  maxCryptoBuffer: 64 * 1024,
  handshakeTimeoutMs: 10_000,
  insecureNullKeys: false,
  disableActiveMigration: false,
  multipath: true,
  multipathMaxPathId: 7,
  natTraversal: true,
  natTraversalMaxAddresses: 32,
  addressDiscovery: 'auto',
});

/** A bad configuration value: names the field and says what was wrong. */
export class ConfigError extends TypeError {
  /** Always `'ConfigError'`. */
  override readonly name = 'ConfigError';
  /** The option that was wrong (`initialRttMs`, `streams.maxStreamWindow`...). */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** Transport options: any subset of TransportConfig (and of its stream limits); the rest are defaults. */
export type TransportOptions = Partial<Omit<TransportConfig, 'streams'>> & {
  /** Any subset of the stream limits (windows, concurrent streams); the rest are defaults. */
  streams?: Partial<StreamLimits>;
};

/**
 * Merges `options` over the defaults and validates every field. An unknown field is an error
 * too (a misspelt option would otherwise be silently ignored).
 */
export function resolveTransportConfig(options: TransportOptions = {}): TransportConfig {
  // A configuration this function made is frozen and final: given again (an endpoint hands its
  // own to each connection it creates), it is returned as it is, so connections share it.
  if (RESOLVED.has(options)) return options as TransportConfig;
  knownFields('', options, DEFAULT_TRANSPORT_CONFIG);
  knownFields('streams.', options.streams, DEFAULT_STREAM_LIMITS);
  const c: TransportConfig = {
    ...DEFAULT_TRANSPORT_CONFIG,
    ...stripUndefined(options),
    streams: { ...DEFAULT_STREAM_LIMITS, ...stripUndefined(options.streams ?? {}) },
  };
  int('maxIdleTimeoutMs', c.maxIdleTimeoutMs, 0, 2 ** 40);
  int('keepAliveIntervalMs', c.keepAliveIntervalMs, 0, 2 ** 40);
  int('maxUdpPayloadSize', c.maxUdpPayloadSize, MIN_DATAGRAM_SIZE, 65527);
  int('mtuUpperBound', c.mtuUpperBound, MIN_DATAGRAM_SIZE, 65527);
  int('maxAckDelayMs', c.maxAckDelayMs, 0, 2 ** 14 - 1);
  int('ackDelayExponent', c.ackDelayExponent, 0, 20);
  int('activeConnectionIdLimit', c.activeConnectionIdLimit, 2, 64);
  int('localCidLength', c.localCidLength, 0, 20);
  int('maxDatagramFrameSize', c.maxDatagramFrameSize, 0, 2 ** 32);
  int('datagramSendQueue', c.datagramSendQueue, 1, 2 ** 20);
  int('datagramRecvQueue', c.datagramRecvQueue, 1, 2 ** 20);
  int('initialRttMs', c.initialRttMs, 1, 60_000);
  int('keyUpdateIntervalPackets', c.keyUpdateIntervalPackets, 0, 2 ** 40);
  int('maxAckRanges', c.maxAckRanges, 1, 4096);
  int('maxCryptoBuffer', c.maxCryptoBuffer, 4096, 2 ** 24);
  int('handshakeTimeoutMs', c.handshakeTimeoutMs, 1, 2 ** 40);
  int('multipathMaxPathId', c.multipathMaxPathId, 0, 64);
  int('natTraversalMaxAddresses', c.natTraversalMaxAddresses, 1, 255);
  if (typeof c.disableActiveMigration !== 'boolean') {
    throw new ConfigError('disableActiveMigration', `must be a boolean, got ${String(c.disableActiveMigration)}`);
  }
  for (const field of ['insecureNullKeys', 'mtuDiscovery', 'pacing', 'multipath', 'natTraversal'] as const) {
    if (typeof c[field] !== 'boolean') throw new ConfigError(field, `must be a boolean, got ${String(c[field])}`);
  }
  if (typeof c.addressDiscovery !== 'boolean' && c.addressDiscovery !== 'auto') {
    throw new ConfigError('addressDiscovery', `must be a boolean or 'auto', got ${String(c.addressDiscovery)}`);
  }
  if (c.congestionControl !== 'cubic' && c.congestionControl !== 'newreno') {
    throw new ConfigError('congestionControl', `must be 'cubic' or 'newreno', got ${String(c.congestionControl)}`);
  }
  if (!Array.isArray(c.cipherSuites) || c.cipherSuites.length === 0 || c.cipherSuites.some((x) => typeof x !== 'number')) {
    throw new ConfigError('cipherSuites', 'must list at least one TLS 1.3 cipher suite (by code point)');
  }
  const s = c.streams;
  int('streams.sendBufferSize', s.sendBufferSize, 1, 2 ** 32);
  int('streams.initialStreamWindow', s.initialStreamWindow, 1, 2 ** 40);
  int('streams.maxStreamWindow', s.maxStreamWindow, s.initialStreamWindow, 2 ** 40);
  int('streams.initialConnectionWindow', s.initialConnectionWindow, 1, 2 ** 40);
  int('streams.maxConnectionWindow', s.maxConnectionWindow, s.initialConnectionWindow, 2 ** 40);
  int('streams.maxConcurrentBidiStreams', s.maxConcurrentBidiStreams, 0, 2 ** 32);
  int('streams.maxConcurrentUniStreams', s.maxConcurrentUniStreams, 0, 2 ** 32);
  Object.freeze(s);
  RESOLVED.add(Object.freeze(c));
  return c;
}

/**
 * The configurations `resolveTransportConfig` made (frozen). One per connection was ~0.5 KB of an
 * idle connection's heap (issue [perf2]); an endpoint's connections now share one.
 */
const RESOLVED = new WeakSet<object>();

function int(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
}

/** Throws a ConfigError naming the first field of `o` that `defaults` does not have. */
function knownFields(prefix: string, o: unknown, defaults: object): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new ConfigError(prefix ? prefix.slice(0, -1) : 'transport', `must be an object, got ${o === null ? 'null' : typeof o}`);
  }
  for (const k of Object.keys(o)) {
    if (!Object.hasOwn(defaults, k)) throw new ConfigError(`${prefix}${k}`, `unknown option (known: ${Object.keys(defaults).join(', ')})`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Whether a connection with configuration `c` offers QUIC Address Discovery (`addressDiscovery`). */
export function offersAddressDiscovery(c: TransportConfig): boolean {
  return c.addressDiscovery === 'auto' ? c.multipath && c.natTraversal : c.addressDiscovery;
}
