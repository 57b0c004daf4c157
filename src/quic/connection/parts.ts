import { PacketSpace } from '../packet/space.js';
import type { LossDetector } from '../recovery/loss.js';
import type { StreamMap } from '../streams/stream-map.js';
import type { TransportConfig } from '../transport-config.js';
import type { Random } from '../../tls/random.js';
import type { LocalCids, RemoteCids } from './cids.js';
import type { Datagrams } from './datagrams.js';
import type { EventQueue } from './event-queue.js';
import type { Handshake } from './handshake.js';
import type { IdleTimer } from './idle.js';
import type { ConnectionKeys } from './keys.js';
import type { Lifecycle } from './lifecycle.js';
import type { MultipathState } from './multipath.js';
import type { NatLink } from './nat.js';
import type { AddressDiscovery } from './address-discovery.js';
import type { PathSet } from './paths.js';
import type { Trace } from './qlog.js';
import type { PacketRecord } from './sent-packet.js';
import type { PacketSpaces } from './spaces.js';

/**
 * The parts of one connection, each the owner of its state (docs/ARCHITECTURE.md has the table).
 * The modules that move packets and react to them (receive, transmit, dispatch, loss recovery,
 * handshake progress) are given this one object instead of a closure per thing they need: a
 * connection holds no function objects of its own (an idle connection's heap is a benchmark key).
 * Nothing here is state: every field is a part, which changes only through its own methods.
 */
export interface ConnectionParts {
  readonly role: 'client' | 'server';
  readonly config: TransportConfig;
  readonly random: Random;
  readonly events: EventQueue;
  readonly lifecycle: Lifecycle;
  readonly handshake: Handshake;
  readonly keys: ConnectionKeys;
  readonly spaces: PacketSpaces;
  readonly loss: LossDetector<PacketRecord>;
  readonly streams: StreamMap;
  readonly datagrams: Datagrams;
  readonly localCids: LocalCids;
  readonly remoteCids: RemoteCids;
  readonly paths: PathSet;
  readonly multipath: MultipathState<PacketRecord>;
  /** iroh's n0 NAT traversal; null unless TransportConfig.multipath and natTraversal are on. */
  readonly nat: NatLink | null;
  /** QUIC Address Discovery; null unless we offered it (TransportConfig.addressDiscovery). */
  readonly qad: AddressDiscovery | null;
  readonly idle: IdleTimer;
  readonly trace: Trace;
}


/** The current PTO period without backoff (RFC 9002 §6.2.1): the current path's RTT, the peer's max_ack_delay. */
export function currentPto(p: { readonly paths: PathSet; readonly loss: LossDetector<PacketRecord> }): number {
  return p.paths.recovery.rtt.pto(PacketSpace.Application, p.loss.maxAckDelay);
}

/** The ack_delay_exponent of the peer's ACK frames in `space` (RFC 9000 §18.2; 3 outside 1-RTT, §19.3). */
export function peerAckDelayExponent(handshake: Handshake, space: PacketSpace): number {
  return space === PacketSpace.Application ? (handshake.peerParams?.ackDelayExponent ?? 3) : 3;
}
