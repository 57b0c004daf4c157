import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import { PacketSpace } from '../packet/space.js';
import type { PacketBuilder } from './packet-builder.js';
import type { ConnectionParts } from './parts.js';
import { Path } from './path.js';
import type { PathIdState } from './path-id.js';
import { PATH_CHALLENGE_FRAME, PacketRecord } from './sent-packet.js';

/**
 * Off-path datagrams of n0 NAT traversal: packets sealed in the packet number space of a path we
 * have (path 0, or a path id ≥ 1 once path 0 is abandoned) with that path's connection id, but sent
 * to another address (noq's `poll_transmit_off_path`):
 *
 * - our probes (`buildNatProbe`): a PATH_CHALLENGE alone, unpadded (noq: "only the address is
 *   validated, not the entire path"), to a candidate address of the peer;
 * - our answers to the peer's probes that came on a path id ≥ 1 (`buildOffPathResponse`): the
 *   PATH_RESPONSE goes where the challenge came from (RFC 9000 §8.2.2), not to the path's address.
 *   (The peer's probes on path 0 are answered by path 0's path set, paths.ts, which keeps a
 *   probe-only Path per address.)
 *
 * noq probes on the first validated path it has, in path id order: path 0 while it lives; when
 * path 0 is abandoned, a path id ≥ 1, which is why both sides need the path id variants.
 * These packets are recorded as neither in flight nor ack-eliciting (they are ack-eliciting on the
 * wire): their acknowledgments come back on the carrier path, whose RTT a sample taken from them
 * would distort, and a lost probe is the NAT traversal retry timer's business, a lost response the
 * peer's (it probes again), not the PTO's. Their number is bounded (MAX_NAT_PROBE_ATTEMPTS per
 * candidate and round; MAX_RESPONSES per path id), so they are outside congestion control.
 */

/** A datagram written into the caller's buffer: its length, and where it goes. */
export interface OffPathDatagram {
  readonly length: number;
  readonly to: Path;
}

/**
 * The path id that carries our NAT probes when path 0 is abandoned: the first one open, validated
 * and not abandoned that we hold a connection id of the peer for (noq: the first validated path).
 */
export function probeCarrier(d: ConnectionParts): PathIdState<PacketRecord> | undefined {
  const mp = d.multipath;
  for (const st of mp.paths.values()) {
    if (!st.isAbandoned && st.path.validated && mp.cids?.peerCidFor(st.id) !== undefined) return st;
  }
  return undefined;
}

/**
 * Our next NAT probe, on path 0 (`carrier` undefined) or on the path id `carrier`; null when none is
 * due or it cannot be written now (no carrier validated, the handshake not confirmed).
 */
export function buildNatProbe(d: ConnectionParts, b: PacketBuilder, now: number, out: Uint8Array, carrier: PathIdState<PacketRecord> | undefined): OffPathDatagram | null {
  const nat = d.nat;
  if (nat === null || !d.handshake.isConfirmed) return null;
  if (carrier === undefined && !d.paths.current.validated) return null;
  const dcid = carrier === undefined ? d.remoteCids.current : d.multipath.cids?.peerCidFor(carrier.id)?.cid;
  if (dcid === undefined) return null;
  const address = nat.nextProbe();
  if (address === undefined) return null;
  const data = d.random.fill(new Uint8Array(8));
  // A Path of its own: no recovery state (the probe counts for no path's congestion window).
  const to = new Path(address, false, d.remoteCids.currentSequence, undefined);
  const length = buildChallengeOrResponse(d, b, now, out, carrier, dcid, to, MIN_DATAGRAM_SIZE, undefined, data);
  if (length === 0) return null;
  nat.onProbeSent(address, data);
  return { length, to };
}

/**
 * The next PATH_RESPONSE owed off the path id `st` (to the address a peer's probe came from), or
 * null. Expanded toward 1200 bytes (RFC 9000 §8.2.2) within three times what that address sent
 * (§8.1: the address is not validated). A client doing NAT traversal probes the address back in
 * the same datagram (noq does; the answer is a path to open, as for our own probes).
 */
export function buildOffPathResponse(d: ConnectionParts, b: PacketBuilder, now: number, out: Uint8Array, st: PathIdState<PacketRecord>): OffPathDatagram | null {
  const dcid = d.multipath.cids?.peerCidFor(st.id)?.cid;
  if (dcid === undefined) return null;
  const owed = st.takeOffPathResponse();
  if (owed === undefined) return null;
  const to = new Path(owed.to, false, d.remoteCids.currentSequence, undefined);
  const nat = d.nat;
  const probeBack = nat !== null && nat.machine?.role === 'client' ? d.random.fill(new Uint8Array(8)) : undefined;
  const length = buildChallengeOrResponse(d, b, now, out, st, dcid, to, Math.min(MIN_DATAGRAM_SIZE, owed.budget), owed.data, probeBack);
  if (length === 0) return null;
  d.paths.onResponsesSent(1);
  if (probeBack !== undefined) nat?.onProbeSent(owed.to, probeBack);
  return { length, to };
}

/** One packet of PATH_RESPONSE `response` and/or PATH_CHALLENGE `challenge`, padded to `target` when it is a response. */
function buildChallengeOrResponse(
  d: ConnectionParts,
  b: PacketBuilder,
  now: number,
  out: Uint8Array,
  carrier: PathIdState<PacketRecord> | undefined,
  dcid: Uint8Array,
  to: Path,
  target: number,
  response: Uint8Array | undefined,
  challenge: Uint8Array | undefined,
): number {
  const space = PacketSpace.Application;
  const sp = d.spaces.at(space);
  const limit = Math.min(out.length, target);
  b.beginDatagram(out, limit, dcid);
  const pn = carrier === undefined ? sp.nextPn : carrier.nextPn;
  const largestAcked = carrier === undefined ? d.loss.largestAcked(space) : carrier.loss.largestAcked(space);
  if (!b.beginPacket(space, pn, largestAcked, d.keys.keyPhase, undefined)) return 0;
  const record = new PacketRecord(to);
  if (response !== undefined) b.writePathResponse(response);
  if (challenge !== undefined && b.room(9)) {
    b.writePathChallenge(challenge);
    record.add(PATH_CHALLENGE_FRAME);
  }
  if (response !== undefined) b.padTo(limit);
  const size = b.finishPacket(d.keys.writeKeys(space), carrier?.id ?? 0);
  if (carrier === undefined) {
    const taken = sp.takePn();
    d.keys.onOneRttSent(taken);
    d.loss.onPacketSent(space, record.sent(taken, now, size, false, false), d.paths.recovery.rtt);
  } else {
    const taken = carrier.takePn();
    d.keys.onOneRttSent(taken, carrier.id);
    carrier.loss.onPacketSent(space, record.sent(taken, now, size, false, false), carrier.rtt);
  }
  return b.finishDatagram();
}
