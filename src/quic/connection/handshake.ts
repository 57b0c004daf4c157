import { negotiateMultipath, type MultipathNegotiation } from './multipath.js';
import { bytesEqual } from '../../codec/bytes.js';
import type { PeerStreamParams } from '../streams/stream-types.js';
import { transportParameterError } from '../errors.js';
import type { RetryHeader } from '../packet/header.js';
import { verifyRetry } from '../packet/retry.js';
import { QUIC_VERSION_1 } from '../packet/version.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../transport-params.js';
import { offersAddressDiscovery, type TransportConfig } from '../transport-config.js';
import type { TlsConfig, TlsEngine } from '../../tls/engine.js';
import type { TicketState } from '../../tls/resumption.js';
import { TlsClient } from '../../tls/client.js';
import { TlsServer } from '../../tls/server.js';
import type { Random } from '../../tls/random.js';

/** What the TLS layer needs besides what the connection supplies (transport parameters, randomness). */
export type ConnectionTlsOptions = Omit<TlsConfig, 'transportParameters' | 'random' | 'cipherSuites'>;

/** The handshake-time facts a connection is created with (see ConnectionOptions). */
export type HandshakeStart =
  | {
      readonly role: 'client';
      /** Length of the random first Destination Connection ID (8..20). */
      readonly initialDcidLength: number;
      /** A NEW_TOKEN token from an earlier connection to this server (RFC 9000 §8.1.3). */
      readonly token: Uint8Array | undefined;
    }
  | {
      readonly role: 'server';
      /** The Destination Connection ID of the client's Initial we are answering. */
      readonly initialDcid: Uint8Array;
      /** The client's Source Connection ID. */
      readonly clientScid: Uint8Array;
      /** After a Retry: the client's very first DCID and our Retry SCID. */
      readonly retry: { readonly originalDcid: Uint8Array; readonly retryScid: Uint8Array } | undefined;
      /** The stateless reset token of our first CID (the stateless_reset_token parameter). */
      readonly resetToken: Uint8Array;
    };

/** The empty token, shared (a zero-length array per connection is ~200 bytes of heap). */
const NO_TOKEN = new Uint8Array(0);

/**
 * The handshake of one connection (RFC 9000 §7, RFC 9001 §4): the TLS engine, the connection IDs
 * the handshake authenticates (§7.3), the Retry and Version Negotiation rules (§17.2.5, §6.2),
 * the transport parameters both ways (§7.4, §18), and the handshake's progress: complete (the
 * peer is authenticated), confirmed (RFC 9001 §4.1.2), HANDSHAKE_DONE owed (server).
 */
export class Handshake {
  readonly role: 'client' | 'server';
  readonly tls: TlsEngine;
  /** The transport parameters we sent. */
  readonly localParams: TransportParameters;
  private secretDcid: Uint8Array;
  /** The peer's CID of sequence 0: the DCID of our first packets (the server's SCID replaces it, client). */
  readonly peerInitialCid: Uint8Array;
  /** The handshake gives up at this time (ms). */
  readonly deadline: number;
  private odcid: Uint8Array;
  private retrySource: Uint8Array | undefined;
  private initialToken: Uint8Array;
  private serverScidKnown: boolean;
  /** The peer's initial_source_connection_id must equal this (RFC 9000 §7.3). */
  private expectedPeerScid: Uint8Array;
  private peer: TransportParameters | undefined;
  private multipathOutcome: MultipathNegotiation | null = null;
  private complete = false;
  private confirmed = false;
  private donePending = false;
  /** Server: a NEW_TOKEN token to send (RFC 9000 §8.1.3), until a packet carries it. */
  private tokenPending: Uint8Array | undefined;
  /**
   * Client offering 0-RTT: the server's transport parameters remembered with the ticket (RFC 9000
   * §7.4.1), which 0-RTT packets obey until the server's new ones arrive.
   */
  readonly rememberedParams: TransportParameters | undefined;

  constructor(
    start: HandshakeStart,
    tls: ConnectionTlsOptions,
    config: TransportConfig,
    random: Random,
    ourScid: Uint8Array,
    streams: PeerStreamParams,
    now: number,
  ) {
    this.role = start.role;
    this.deadline = now + config.handshakeTimeoutMs;
    const params = localTransportParameters(config, streams, ourScid);
    if (start.role === 'client') {
      const len = start.initialDcidLength;
      if (!Number.isInteger(len) || len < 8 || len > 20) throw new RangeError(`initialDcidLength must be 8..20, got ${len}`);
      const dcid = random.fill(new Uint8Array(len));
      this.odcid = dcid;
      this.secretDcid = dcid;
      this.peerInitialCid = dcid;
      this.initialToken = start.token ?? NO_TOKEN;
      this.serverScidKnown = false;
      this.expectedPeerScid = dcid; // replaced by the server's SCID from its first Initial
    } else {
      this.odcid = start.retry?.originalDcid ?? start.initialDcid;
      this.retrySource = start.retry?.retryScid;
      this.secretDcid = start.initialDcid;
      this.peerInitialCid = start.clientScid;
      this.initialToken = NO_TOKEN;
      this.serverScidKnown = true;
      this.expectedPeerScid = start.clientScid;
      params.originalDestinationConnectionId = this.odcid;
      params.statelessResetToken = start.resetToken;
      if (this.retrySource) params.retrySourceConnectionId = this.retrySource;
    }
    this.localParams = params;
    // 0-RTT needs the server's remembered transport parameters (RFC 9000 §7.4.1): without them
    // (or unreadable ones) the ticket still resumes, without early data.
    const remembered = start.role === 'client' && tls.earlyData === true ? rememberedParameters(tls.resumption?.transportParameters) : undefined;
    this.rememberedParams = remembered;
    const tlsConfig: TlsConfig = {
      ...tls,
      transportParameters: encodeTransportParameters(params, start.role),
      random,
      cipherSuites: config.cipherSuites,
      // A server without tickets (every full handshake of an endpoint with tickets off) gets no closure.
      ...(start.role === 'client' ? { earlyData: remembered !== undefined } : tls.tickets?.maxEarlyData ? { acceptEarlyData: (t: TicketState) => earlyDataCompatible(t.transportParameters, params) } : {}),
    };
    this.tls = start.role === 'client' ? new TlsClient(tlsConfig) : new TlsServer(tlsConfig);
  }

  /** The DCID the Initial keys derive from (RFC 9001 §5.2): a Retry replaces it (client). */
  get initialSecretDcid(): Uint8Array {
    return this.secretDcid;
  }

  /** The client's first DCID (original_destination_connection_id). */
  get originalDcid(): Uint8Array {
    return this.odcid;
  }

  /** Client: the SCID of the Retry we followed (RFC 9000 §17.2.5); server: the one we sent. */
  get retryScid(): Uint8Array | undefined {
    return this.retrySource;
  }

  /** Client: the token our Initial packets carry (from a Retry or NEW_TOKEN; empty: none). */
  get token(): Uint8Array {
    return this.initialToken;
  }

  /** Client: the server answered (its SCID is known). Always true for a server. */
  get peerAnswered(): boolean {
    return this.serverScidKnown;
  }

  /** The peer's transport parameters, once received. */
  get peerParams(): TransportParameters | undefined {
    return this.peer;
  }

  /** The peer is authenticated and the handshake done on our side. */
  get isComplete(): boolean {
    return this.complete;
  }

  /** RFC 9001 §4.1.2. */
  get isConfirmed(): boolean {
    return this.confirmed;
  }

  /** Server: a HANDSHAKE_DONE frame is owed (RFC 9000 §19.20). */
  get handshakeDonePending(): boolean {
    return this.donePending;
  }

  /**
   * Client: the server's first Initial carries its SCID, which we use from now on (RFC 9000 §7.2).
   * Returns true the first time.
   */
  onServerScid(scid: Uint8Array): boolean {
    if (this.role !== 'client' || this.serverScidKnown) return false;
    this.serverScidKnown = true;
    this.expectedPeerScid = scid;
    return true;
  }

  /**
   * A Retry packet (RFC 9000 §17.2.5.2): a client accepts at most one, before any server Initial,
   * with a valid integrity tag and a non-empty token. Returns the Retry's SCID (our new DCID and
   * the new Initial secret) when it is accepted, else undefined (the packet is discarded).
   */
  onRetry(datagram: Uint8Array, h: RetryHeader): Uint8Array | undefined {
    if (this.role !== 'client' || this.retrySource || this.serverScidKnown || h.token.length === 0) return undefined;
    if (!verifyRetry(datagram, h, this.odcid)) return undefined;
    const scid = h.scid.slice();
    this.retrySource = scid;
    this.initialToken = h.token.slice();
    this.expectedPeerScid = scid;
    this.secretDcid = scid;
    return scid;
  }

  /**
   * A Version Negotiation packet (RFC 9000 §6.2): only a client that has received nothing else
   * acts on it, and only when its version is not listed (a listed one means the packet is forged
   * or stale). Returns why the connection must end, or undefined to ignore the packet.
   */
  onVersionNegotiation(versions: readonly number[]): string | undefined {
    if (this.role !== 'client' || this.serverScidKnown || versions.includes(QUIC_VERSION_1)) return undefined;
    return `the server supports none of our versions (it offers ${versions.map((v) => `0x${v.toString(16)}`).join(', ')})`;
  }

  /**
   * The peer's transport parameters arrived from TLS: decoded, and the connection IDs of the
   * handshake authenticated (RFC 9000 §7.3). Throws TRANSPORT_PARAMETER_ERROR.
   */
  onPeerParams(data: Uint8Array): TransportParameters {
    const p = decodeTransportParameters(data, this.role === 'client' ? 'server' : 'client');
    if (!p.initialSourceConnectionId || !bytesEqual(p.initialSourceConnectionId, this.expectedPeerScid)) {
      throw transportParameterError('initial_source_connection_id does not match the Source Connection ID used');
    }
    // Equal bytes: keep one array, not a decoded copy for the connection's life ([perf2], ~200 B).
    p.initialSourceConnectionId = this.expectedPeerScid;
    if (this.role === 'client') {
      if (!p.originalDestinationConnectionId || !bytesEqual(p.originalDestinationConnectionId, this.odcid)) {
        throw transportParameterError('original_destination_connection_id does not match our first Destination Connection ID');
      }
      p.originalDestinationConnectionId = this.odcid;
      if (this.retrySource) {
        if (!p.retrySourceConnectionId || !bytesEqual(p.retrySourceConnectionId, this.retrySource)) {
          throw transportParameterError('retry_source_connection_id missing or wrong after a Retry');
        }
      } else if (p.retrySourceConnectionId) {
        throw transportParameterError('retry_source_connection_id without a Retry');
      }
    }
    // draft-ietf-quic-multipath §2 (PROTOCOL_VIOLATION with zero-length connection ids).
    this.multipathOutcome = negotiateMultipath(this.localParams, p, this.localParams.initialSourceConnectionId!.length, p.initialSourceConnectionId.length);
    this.peer = p;
    return p;
  }

  /**
   * Multipath and n0 NAT traversal as negotiated (`negotiateMultipath`), or null when not used; null too
   * until the handshake is complete (draft-ietf-quic-multipath §2: "the multipath extension is
   * used only after the handshake is complete").
   */
  get multipath(): MultipathNegotiation | null {
    return this.complete ? this.multipathOutcome : null;
  }

  /** TLS completed: the peer is authenticated. A server's handshake is then confirmed too (RFC 9001 §4.1.2). */
  onComplete(): void {
    this.complete = true;
    if (this.role === 'server') this.donePending = true;
  }

  /** Marks the handshake confirmed; returns false when it already was. */
  onConfirmed(): boolean {
    if (this.confirmed) return false;
    this.confirmed = true;
    return true;
  }

  /** Server: the HANDSHAKE_DONE frame went into a packet. */
  onHandshakeDoneSent(): void {
    this.donePending = false;
  }

  /** Server: the NEW_TOKEN token waiting for a packet. */
  get newTokenPending(): Uint8Array | undefined {
    return this.tokenPending;
  }

  /** Server: a NEW_TOKEN to send (replaces one not yet sent); again after a loss. */
  queueNewToken(token: Uint8Array): void {
    if (this.role === 'server' && token.length > 0) this.tokenPending = token;
  }

  /** Server: the pending NEW_TOKEN went into a packet. */
  onNewTokenSent(): void {
    this.tokenPending = undefined;
  }

  /** Server: the packet with HANDSHAKE_DONE was lost: send it again. */
  onHandshakeDoneLost(): void {
    this.donePending = true;
  }
}

/** A ticket's remembered server parameters, or undefined when absent or unreadable. */
function rememberedParameters(data: Uint8Array | undefined): TransportParameters | undefined {
  if (data === undefined) return undefined;
  try {
    return decodeTransportParameters(data, 'server');
  } catch {
    return undefined;
  }
}

/**
 * RFC 9000 §7.4.1: limits the client may use in 0-RTT, which a server accepting it must not
 * reduce ("MUST NOT set values ... smaller than the remembered values"), and RFC 9221 §3's
 * max_datagram_frame_size. Our parameters now against those sealed in the ticket: 0-RTT is
 * accepted only when none is smaller (RFC 9001 §4.6.2: otherwise it is rejected).
 */
export const ZERO_RTT_LIMITS = [
  'activeConnectionIdLimit',
  'initialMaxData',
  'initialMaxStreamDataBidiLocal',
  'initialMaxStreamDataBidiRemote',
  'initialMaxStreamDataUni',
  'initialMaxStreamsBidi',
  'initialMaxStreamsUni',
  'maxDatagramFrameSize',
] as const;

/** Whether `now` keeps every 0-RTT limit of the remembered parameters (server side, and the client's check). */
export function zeroRttLimitsKept(remembered: TransportParameters, now: TransportParameters): boolean {
  for (const k of ZERO_RTT_LIMITS) if (now[k] < remembered[k]) return false;
  return true;
}

/** Server: whether early data under a ticket that remembered `sealed` can be accepted with our parameters `ours`. */
function earlyDataCompatible(sealed: Uint8Array | undefined, ours: TransportParameters): boolean {
  if (sealed === undefined) return false;
  let remembered: TransportParameters;
  try {
    remembered = decodeTransportParameters(sealed, 'server');
  } catch {
    return false;
  }
  return zeroRttLimitsKept(remembered, ours);
}

function localTransportParameters(c: TransportConfig, s: PeerStreamParams, scid: Uint8Array): TransportParameters {
  const p = defaultTransportParameters();
  p.maxIdleTimeout = c.maxIdleTimeoutMs;
  // RFC 9000 §18.2: what we accept (the receive path takes any UDP datagram; this bounds the peer's search).
  p.maxUdpPayloadSize = c.maxUdpPayloadSize;
  p.initialMaxData = s.initialMaxData;
  p.initialMaxStreamDataBidiLocal = s.initialMaxStreamDataBidiLocal;
  p.initialMaxStreamDataBidiRemote = s.initialMaxStreamDataBidiRemote;
  p.initialMaxStreamDataUni = s.initialMaxStreamDataUni;
  p.initialMaxStreamsBidi = s.initialMaxStreamsBidi;
  p.initialMaxStreamsUni = s.initialMaxStreamsUni;
  p.ackDelayExponent = c.ackDelayExponent;
  p.maxAckDelay = c.maxAckDelayMs;
  p.activeConnectionIdLimit = c.activeConnectionIdLimit;
  p.initialSourceConnectionId = scid;
  p.maxDatagramFrameSize = c.maxDatagramFrameSize;
  p.disableActiveMigration = c.disableActiveMigration;
  if (c.multipath) p.initialMaxPathId = c.multipathMaxPathId;
  // iroh's n0 NAT traversal: only with multipath (noq ignores it otherwise, and so do we).
  if (c.multipath && c.natTraversal) p.n0NatTraversal = c.natTraversalMaxAddresses;
  // Both roles: we report what we see and take what the peer sees (address-discovery.ts).
  if (offersAddressDiscovery(c)) p.addressDiscovery = 2;
  return p;
}
