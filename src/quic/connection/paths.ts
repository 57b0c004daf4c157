import { toHex } from '../../codec/bytes.js';
import { createController, type CongestionController } from '../congestion/controller.js';
import type { ConnectionCore } from './connection-core.js';
import type { QlogMigration, QlogPathEndpoint } from './qlog.js';
import { PacketSpace } from '../packet/space.js';
import type { SentPacket } from '../recovery/sent-packets.js';
import { onPacketsLost, PacketTokens } from './recovery-tokens.js';

/**
 * Paths, path validation and the peer's address changes (RFC 9000 §8.2, §9), for the endpoint
 * that sees its peer move: a server whose client was NAT-rebound (new source port, or a new
 * address) or migrated. The connection stays address-agnostic elsewhere: addresses are opaque
 * "ip:port" strings handed in with each datagram, and the destination of each datagram it writes
 * is `paths.txAddress`.
 *
 * - `current` is where every non-probing packet goes. It moves only on the highest-numbered
 *   non-probing packet from another address, once the handshake is confirmed (§9, §9.3); older
 *   (reordered) packets and probing packets never move it.
 * - On a move to an address not validated before, path validation starts (§8.2.1): a PATH_CHALLENGE
 *   of 8 fresh random bytes in a datagram padded to 1200 bytes (less only when the 3x
 *   anti-amplification limit of the unvalidated address forbids it, §8.2.1, §9.3.1), re-sent with
 *   the same data after each PTO (with backoff), abandoned after 3 x max(PTO, PTO with kInitialRtt)
 *   (§8.2.4). The last validated path is kept as `fallback`: it gets a PATH_CHALLENGE too
 *   (§9.3.3, the off-path forwarding defense: the genuine peer answers from there with a
 *   non-probing packet and brings the connection back; after a real rebinding that challenge goes
 *   unanswered), and a failed validation reverts to it (§9.3.2), restoring its congestion state.
 *   With no validated path left the connection ends silently (§9.3.2).
 * - Congestion control and RTT (§9.4): a new IP address gets a fresh controller and RTT estimator;
 *   a port-only change (NAT rebinding, which §9.4 lets us treat so) keeps both, as quinn does.
 *   Every packet's acknowledgment or loss goes to the controller of the path it was sent on
 *   ("packets sent on the old path MUST NOT contribute to congestion control or RTT estimation
 *   for the new path"), tracked by packet-number ranges (`ccHistory`).
 * - Connection IDs (§9.5): a move switches to a peer CID never used before when the peer gave us
 *   one; the abandoned path's CID is retired once that path is no longer needed.
 * - PATH_RESPONSE goes back on the path its challenge came from (§8.2.2), padded to 1200 bytes
 *   within the limit; on the current path it carries a PING, so the response is non-probing
 *   (§9.3.3 "SHOULD send a non-probing packet in response").
 *
 * Path datagrams (challenges and responses) are built here, one per path and call, and are
 * registered with loss detection as ack-eliciting but not in flight: they are exempt from the
 * congestion window (their number is bounded: one challenge per PTO per path, one response per
 * challenge received, at most MAX_RESPONSES queued) and their loss is handled by the challenge
 * timer, as §9.4 allows ("a sender can make exceptions for probe packets so that their loss
 * detection is independent").
 *
 * A client never follows the server's address (§9: "a client MUST discard" packets from an
 * unknown server address); the server's preferred address (§9.6) is not supported, and neither is
 * active migration of our own client (we only ever send from one local address).
 */

/** RFC 9000 §8.2.1, §14.1: datagrams with PATH_CHALLENGE/PATH_RESPONSE are expanded to this. */
export const PATH_DATAGRAM_SIZE = 1200;
/** PATH_RESPONSEs queued per path (a flood of challenges gets the first few answered). */
export const MAX_RESPONSES = 4;
/** Addresses we answer probes from without migrating to them. */
const MAX_PROBING_PATHS = 4;
/** Old congestion controllers kept for the packets still in flight on their path. */
const MAX_CC_HISTORY = 8;

/** What a test or the interop runner checks: "the server validated the new path with PATH_CHALLENGE". */
export interface PathStats {
  pathChallengesSent: number;
  pathChallengesReceived: number;
  pathResponsesSent: number;
  pathResponsesReceived: number;
  /** Path validations that succeeded (a PATH_RESPONSE echoed one of our challenges, §8.2.3). */
  pathValidations: number;
  /** Path validations abandoned on their timer (§8.2.4). */
  pathValidationFailures: number;
  /** Moves of the send address to a new peer address (§9.3). */
  migrations: number;
  /** Moves back to the last validated address: validation failed, or the old path spoke again (§9.3.2, §9.3.3). */
  migrationsReverted: number;
  /** Datagrams dropped for their source address (client: not the server's; disable_active_migration). */
  datagramsFromUnknownAddress: number;
}

/** What of the RTT estimator a path keeps while it is not current. */
interface RttState {
  readonly latest: number;
  readonly smoothed: number;
  readonly rttvar: number;
  readonly min: number;
  readonly hasSample: boolean;
}

/** One peer address we send to or have heard from (our local address never changes). */
export class Path {
  address: string;
  validated: boolean;
  /** Anti-amplification (RFC 9000 §8.1, §9.3.1): bytes received from / sent to it while unvalidated. */
  received = 0;
  sent = 0;
  /** Sequence of the peer CID used toward it (the current path always uses `remoteCids.current`). */
  cidSeq: number;
  /** Congestion controller and RTT estimate saved while another path is current (restored on return). */
  cc: CongestionController | undefined;
  rtt: RttState | undefined;
  /** Data of every PATH_CHALLENGE of the running validation (a response to any of them validates). */
  challenges: Uint8Array[] = [];
  /** A PATH_CHALLENGE is to be sent at the next `pollTransmit`. */
  challengePending = false;
  /** When the next PATH_CHALLENGE is due, and when validation is abandoned (Infinity: none running). */
  nextChallengeAt = Number.POSITIVE_INFINITY;
  deadline = Number.POSITIVE_INFINITY;
  attempts = 0;
  /** The running validation only checks reachability (the fallback probe of §9.3.3). */
  probeOnly = false;
  /** A challenge went out under 1200 bytes: after validation, one more in a full datagram (§8.2.1). */
  mtuUnverified = false;
  /** PATH_RESPONSE data owed on this path (§8.2.2). */
  responses: Uint8Array[] = [];

  constructor(address: string, validated: boolean, cidSeq: number) {
    this.address = address;
    this.validated = validated;
    this.cidSeq = cidSeq;
  }

  get validating(): boolean {
    return this.deadline !== Number.POSITIVE_INFINITY;
  }

  /** Bytes that may still be sent to it (Infinity once validated). */
  get budget(): number {
    return this.validated ? Number.POSITIVE_INFINITY : 3 * this.received - this.sent;
  }

  stopValidation(): void {
    this.challenges.length = 0;
    this.challengePending = false;
    this.nextChallengeAt = Number.POSITIVE_INFINITY;
    this.deadline = Number.POSITIVE_INFINITY;
    this.attempts = 0;
    this.probeOnly = false;
  }
}

/** The path state of one connection. */
export class Paths {
  current: Path;
  /** The last validated path while `current` is being validated (revert target, §9.3.2). */
  fallback: Path | undefined;
  /** Other addresses a packet opened from (probing packets): we answer their challenges there. */
  readonly others = new Map<string, Path>();
  readonly stats: PathStats = {
    pathChallengesSent: 0, pathChallengesReceived: 0, pathResponsesSent: 0, pathResponsesReceived: 0,
    pathValidations: 0, pathValidationFailures: 0, migrations: 0, migrationsReverted: 0, datagramsFromUnknownAddress: 0,
  };
  /**
   * Controllers of earlier paths, oldest first: entry i owns the Application packets numbered
   * below `until` (and at or above entry i-1's `until`); `c.cc` owns the rest.
   */
  readonly ccHistory: Array<{ readonly cc: CongestionController; readonly until: number }> = [];
  /** RTT samples from packets numbered below this were taken on another path: ignored. */
  rttFrom = 0;
  /** The path of the datagram being processed, and whether it is not the current one. */
  rx: Path;
  rxAddress = '';
  /** Destination of the datagram `pollTransmit` wrote last. */
  txAddress = '';

  constructor(address: string, validated: boolean) {
    this.current = new Path(address, validated, 0);
    this.rx = this.current;
  }

  /**
   * Every path. The old path comes first: its one challenge leaves before the new path's, so the
   * first datagram to each new destination carries a PATH_CHALLENGE (what the QUIC interop
   * runner's rebinding tests check).
   */
  *all(): Generator<Path> {
    if (this.fallback) yield this.fallback;
    yield this.current;
    yield* this.others.values();
  }

  /** The earliest path timer (challenge re-send or validation deadline), or Infinity. */
  get timeout(): number {
    // Called after every input: no iterator unless some path besides the current one exists.
    const cur = this.current;
    let t = Math.min(cur.nextChallengeAt, cur.deadline);
    if (this.fallback) t = Math.min(t, this.fallback.nextChallengeAt, this.fallback.deadline);
    if (this.others.size > 0) for (const p of this.others.values()) t = Math.min(t, p.nextChallengeAt, p.deadline);
    return t;
  }

  /** Whether a path datagram may be owed (cheap: checked on every `pollTransmit`). */
  get mayHaveWork(): boolean {
    const cur = this.current;
    return cur.challengePending || cur.responses.length > 0 || this.fallback !== undefined || this.others.size > 0;
  }

  /** The controller that owns Application packet `pn` (see `ccHistory`). */
  ccFor(c: ConnectionCore, pn: number): CongestionController {
    const h = this.ccHistory;
    for (let i = 0; i < h.length; i++) if (pn < h[i]!.until) return h[i]!.cc;
    return c.cc;
  }
}

// ------------------------------------------------------------------ receive side

/**
 * A datagram arrived from `from` (undefined: the current path, for drivers without addresses).
 * Returns false when it must be dropped unread: a client hears only its server's address (§9),
 * and a server that sent disable_active_migration drops other addresses after the handshake
 * (§9: "drop the incoming packets on that path without generating a Stateless Reset").
 */
export function onDatagramFrom(c: ConnectionCore, from: string | undefined, size: number): boolean {
  const ps = c.paths;
  const cur = ps.current;
  if (from === undefined || from === cur.address || cur.address === '') {
    if (from !== undefined && cur.address === '') cur.address = from;
    ps.rx = cur;
    ps.rxAddress = cur.address;
    if (!cur.validated) cur.received += size;
    return true;
  }
  if (c.role === 'client' || (c.handshakeConfirmed && c.config.disableActiveMigration)) {
    ps.stats.datagramsFromUnknownAddress++;
    return false;
  }
  ps.rxAddress = from;
  if (!c.handshakeConfirmed) {
    // During the handshake the handshake itself validates the client (§8.1) and its budget
    // counts every byte it sent, whatever the source.
    ps.rx = cur;
    if (!cur.validated) cur.received += size;
    return true;
  }
  let p = ps.fallback?.address === from ? ps.fallback : ps.others.get(from);
  // Not stored until a packet of it opens (`onPacketFrom`): forged datagrams leave no state.
  p ??= new Path(from, false, cur.cidSeq);
  if (!p.validated) p.received += size;
  ps.rx = p;
  return true;
}

/**
 * A packet of the datagram being processed opened and its frames were handled: follow the peer
 * when it is the highest-numbered non-probing packet from another address (§9.2, §9.3).
 */
export function onPacketFrom(c: ConnectionCore, now: number, space: PacketSpace, pn: number, largestBefore: number, probingOnly: boolean): void {
  const ps = c.paths;
  const p = ps.rx;
  if (ps.rxAddress === ps.current.address) return;
  if (!c.handshakeConfirmed) {
    // Before confirmation a client may not migrate (§9); copies of its first flight can still
    // reach us from several addresses (IROH.md): follow the latest new packet, as the handshake did.
    if (pn > largestBefore) ps.current.address = ps.rxAddress;
    return;
  }
  if (p !== ps.fallback && !ps.others.has(p.address)) {
    if (ps.others.size >= MAX_PROBING_PATHS) {
      const oldest = ps.others.keys().next().value as string;
      ps.others.delete(oldest);
    }
    ps.others.set(p.address, p);
  }
  if (space !== PacketSpace.Application || probingOnly || pn <= largestBefore) return;
  migrate(c, now, p);
}

/** PATH_CHALLENGE received on the datagram's path: answer there (§8.2.2). */
export function onPathChallenge(c: ConnectionCore, data: Uint8Array): void {
  const ps = c.paths;
  ps.stats.pathChallengesReceived++;
  const p = ps.rx;
  if (p.responses.length < MAX_RESPONSES) p.responses.push(data.slice());
}

/** PATH_RESPONSE received (on any path: §8.2.3, the path it validates is the challenge's). */
export function onPathResponse(c: ConnectionCore, now: number, data: Uint8Array): void {
  const ps = c.paths;
  ps.stats.pathResponsesReceived++;
  for (const p of ps.all()) {
    if (!p.challenges.some((d) => bytesEqual8(d, data))) continue;
    const mtuUnverified = p.mtuUnverified;
    const probeOnly = p.probeOnly;
    p.stopValidation();
    p.mtuUnverified = false;
    ps.stats.pathValidations++;
    if (probeOnly && p.validated) {
      if (c.qlog) qlogMigration(c, p, 'probing_successful');
      return;
    }
    p.validated = true;
    if (p === ps.current) {
      // §9.3: the new address is the peer's; the old path is no longer needed.
      const old = ps.fallback;
      ps.fallback = undefined;
      if (old) {
        old.stopValidation();
        c.remoteCids.retire(old.cidSeq);
      }
      c.loss.amplificationBlocked = false;
      c.loss.rearm(now);
      if (c.qlog) qlogMigration(c, p, 'migration_complete');
      // §8.2.1: validated with a datagram under 1200 bytes: validate again with a full one.
      if (mtuUnverified) startValidation(c, now, p, true, true);
    } else if (c.qlog) {
      qlogMigration(c, p, 'probing_successful');
    }
    return;
  }
}

// ------------------------------------------------------------------ migration

/** The peer moved to `p` (§9.3): send there, validate it, probe the old path. */
function migrate(c: ConnectionCore, now: number, p: Path): void {
  const ps = c.paths;
  const old = ps.current;
  ps.others.delete(p.address);
  if (p === ps.fallback) {
    // Back to the last validated path (§9.3.3: its genuine peer spoke again, with a higher packet
    // number): no validation needed, its congestion state comes back.
    ps.fallback = undefined;
    ps.stats.migrationsReverted++;
    switchTo(c, now, old, p);
    old.stopValidation();
    c.remoteCids.use(activeOr(c, p.cidSeq));
    c.remoteCids.retire(old.cidSeq);
    if (c.qlog) qlogMigration(c, old, 'migration_abandoned');
    return;
  }
  ps.stats.migrations++;
  if (old.validated) {
    // §9.3.3: "endpoints MUST validate the previously active path" (off-path forwarding defense).
    ps.fallback?.stopValidation();
    if (ps.fallback) c.remoteCids.retire(ps.fallback.cidSeq);
    ps.fallback = old;
  } else {
    // The path we were validating is abandoned for a newer one (§9.3).
    old.stopValidation();
    c.remoteCids.retire(old.cidSeq);
    if (c.qlog) qlogMigration(c, old, 'migration_abandoned');
  }
  switchTo(c, now, old, p);
  // §9.5: a fresh peer CID toward the new address when the peer gave us a spare.
  const spare = c.remoteCids.unusedSequence();
  if (spare !== undefined) {
    const before = c.remoteCids.current;
    c.remoteCids.use(spare);
    p.cidSeq = spare;
    if (c.qlog) c.qlog.emit({ time: now, name: 'connectivity:connection_id_updated', data: { owner: 'remote', old: toHex(before), new: toHex(c.remoteCids.current) } });
  } else {
    p.cidSeq = c.remoteCids.currentSequence;
  }
  if (c.qlog) qlogMigration(c, p, 'migration_started');
  // §9: "MUST perform path validation ... unless it has previously validated that address".
  if (!p.validated) startValidation(c, now, p, false);
  if (ps.fallback) startValidation(c, now, ps.fallback, false, true);
}

/** Makes `to` current: anti-amplification state moves with it, congestion state per §9.4. */
function switchTo(c: ConnectionCore, now: number, from: Path, to: Path): void {
  const ps = c.paths;
  from.cidSeq = c.remoteCids.currentSequence;
  ps.current = to;
  if (to.cc) {
    // Returning to a path whose state we kept (§9.3.2 "restoring loss detection and congestion
    // state can reduce the performance impact of the attack").
    swapController(c, to.cc);
    restoreRtt(c, to.rtt!);
    to.cc = undefined;
    to.rtt = undefined;
    ps.rttFrom = c.spaces[PacketSpace.Application]!.nextPn;
  } else if (!samePeerHost(from.address, to.address)) {
    // §9.4: a new IP address gets the initial congestion window and RTT estimate; the old state is
    // kept with the old path in case we return to it. A port-only change keeps both (NAT rebinding).
    from.cc = c.cc;
    from.rtt = saveRtt(c);
    swapController(c, createController(c.config.congestionControl, c.mtu.current));
    c.loss.rtt.reset(c.config.initialRttMs);
    ps.rttFrom = c.spaces[PacketSpace.Application]!.nextPn;
  }
  // The PTO stays disarmed while the limit blocks us (RFC 9002 §6.2.2.1); transmit.ts keeps the
  // flag current from here on.
  c.loss.amplificationBlocked = !to.validated && to.budget < PATH_DATAGRAM_SIZE;
  c.loss.rearm(now);
  c.updatePacer();
}

/** `cc` becomes the controller; the outgoing one keeps the packets it owns (`ccHistory`). */
function swapController(c: ConnectionCore, cc: CongestionController): void {
  const h = c.paths.ccHistory;
  h.push({ cc: c.cc, until: c.spaces[PacketSpace.Application]!.nextPn });
  if (h.length > MAX_CC_HISTORY) h.shift();
  c.cc = cc;
  pruneHistory(c);
}

/** Old controllers with nothing in flight own no packet that matters any more. */
function pruneHistory(c: ConnectionCore): void {
  const h = c.paths.ccHistory;
  while (h.length > 0 && h[0]!.cc.bytesInFlight === 0 && h[0]!.cc !== c.cc) h.shift();
}

/** Starts (or restarts) validation of `p` (§8.2.1). */
function startValidation(c: ConnectionCore, now: number, p: Path, mtuCheck: boolean, probeOnly = false): void {
  p.stopValidation();
  p.probeOnly = probeOnly;
  p.challengePending = true;
  p.deadline = now + validationTimeout(c);
  if (c.qlog && (probeOnly || mtuCheck)) qlogMigration(c, p, 'probing_started');
}

/**
 * RFC 9000 §8.2.4: "three times the larger of the current PTO or the PTO for the new path (using
 * kInitialRtt)". With the default 333 ms that is 3 x (3 x 333 + max_ack_delay) >= 6 x kInitialRtt.
 */
export function validationTimeout(c: ConnectionCore): number {
  const initialPto = 3 * c.config.initialRttMs + c.loss.maxAckDelay;
  return 3 * Math.max(c.currentPto(), initialPto);
}

/** Path timers: re-send challenges, abandon validations (§8.2.4), revert (§9.3.2). */
export function onPathTimeout(c: ConnectionCore, now: number): void {
  const ps = c.paths;
  for (const p of [...ps.all()]) {
    if (now >= p.deadline) {
      const probeOnly = p.probeOnly;
      p.stopValidation();
      p.mtuUnverified = false;
      if (probeOnly || p.validated) {
        // The old path's check or an MTU re-check failed: it stays the revert target / in use;
        // the idle timeout and PTO decide about a path that is really dead.
        if (c.qlog) qlogMigration(c, p, 'probing_abandoned');
        continue;
      }
      ps.stats.pathValidationFailures++;
      if (p === ps.current) revert(c, now);
      else ps.others.delete(p.address);
    } else if (now >= p.nextChallengeAt) {
      p.challengePending = true;
      p.nextChallengeAt = Number.POSITIVE_INFINITY;
    }
  }
}

/** Validation of the current path failed (§9.3.2): back to the last validated one, or end. */
function revert(c: ConnectionCore, now: number): void {
  const ps = c.paths;
  const failed = ps.current;
  if (c.qlog) qlogMigration(c, failed, 'migration_abandoned');
  const back = ps.fallback;
  if (!back) {
    // "If an endpoint has no state about the last validated peer address, it MUST close the
    // connection silently by discarding all connection state."
    c.closeReason = { kind: 'idle', code: 0, reason: `path validation of ${failed.address} failed and no validated path remains`, remote: false };
    c.events.push({ type: 'closed', reason: c.closeReason });
    c.terminate();
    return;
  }
  ps.fallback = undefined;
  ps.stats.migrationsReverted++;
  back.stopValidation();
  switchTo(c, now, failed, back);
  c.remoteCids.use(activeOr(c, back.cidSeq));
  c.remoteCids.retire(failed.cidSeq);
}

/** `seq` when still active, else the current sequence (the peer retired it meanwhile). */
function activeOr(c: ConnectionCore, seq: number): number {
  return c.remoteCids.cidOf(seq) ? seq : c.remoteCids.currentSequence;
}

/** Starts validation of the current path on request (a liveness check, §8.2). */
export function validateCurrentPath(c: ConnectionCore, now: number): void {
  const p = c.paths.current;
  if (p.validating) return;
  startValidation(c, now, p, false, p.validated);
}

// ------------------------------------------------------------------ acknowledgments and losses

/**
 * Newly acknowledged packets go to the controller of the path each was sent on; RTT samples of
 * packets from another path are discarded (§9.4). `rttBefore` is the estimator state saved
 * before the ACK was processed when the sample might be such (see `rttSnapshotNeeded`).
 */
export function onPacketsAckedOnPaths(c: ConnectionCore, now: number, acked: readonly SentPacket<PacketTokens>[], space: PacketSpace): void {
  const ps = c.paths;
  if (ps.ccHistory.length === 0 || space !== PacketSpace.Application) {
    c.cc.onPacketsAcked(now, acked, c.loss.rtt);
    return;
  }
  const mine: SentPacket<PacketTokens>[] = [];
  for (const p of acked) {
    const cc = ps.ccFor(c, p.pn);
    if (cc === c.cc) mine.push(p);
    else cc.onPacketsAcked(now, [p], c.loss.rtt);
  }
  if (mine.length > 0) c.cc.onPacketsAcked(now, mine, c.loss.rtt);
  pruneHistory(c);
}

/** Lost packets likewise: each loss is a congestion signal for its own path only. */
export function onPacketsLostOnPaths(c: ConnectionCore, now: number, lost: readonly SentPacket<PacketTokens>[], persistentCongestion: boolean, space: PacketSpace): void {
  const ps = c.paths;
  if (ps.ccHistory.length === 0 || space !== PacketSpace.Application) {
    onPacketsLost(c, now, lost, persistentCongestion);
    return;
  }
  const mine: SentPacket<PacketTokens>[] = [];
  const byCc = new Map<CongestionController, SentPacket<PacketTokens>[]>();
  for (const p of lost) {
    const cc = ps.ccFor(c, p.pn);
    if (cc === c.cc) mine.push(p);
    else byCc.set(cc, [...(byCc.get(cc) ?? []), p]);
  }
  const current = c.cc;
  for (const [cc, packets] of byCc) {
    // The tokens are re-queued as for any loss; the controller is the old path's.
    c.cc = cc;
    try {
      onPacketsLost(c, now, packets, false);
    } finally {
      c.cc = current;
    }
  }
  if (mine.length > 0) onPacketsLost(c, now, mine, persistentCongestion);
  if (byCc.size > 0) c.updatePacer(); // an MTU change above may have paced by an old window
  pruneHistory(c);
}

/** Whether an ACK with largest `largest` might yield an RTT sample of another path. */
export function rttSnapshotNeeded(c: ConnectionCore, space: PacketSpace, largest: number): boolean {
  return space === PacketSpace.Application && largest < c.paths.rttFrom;
}

export function saveRtt(c: ConnectionCore): RttState {
  const r = c.loss.rtt;
  return { latest: r.latest, smoothed: r.smoothed, rttvar: r.rttvar, min: r.min, hasSample: r.hasSample };
}

export function restoreRtt(c: ConnectionCore, s: RttState): void {
  const r = c.loss.rtt;
  r.latest = s.latest;
  r.smoothed = s.smoothed;
  r.rttvar = s.rttvar;
  r.min = s.min;
  r.hasSample = s.hasSample;
}

// ------------------------------------------------------------------ transmit side

/**
 * Writes the next path datagram (PATH_CHALLENGE and/or PATH_RESPONSE, padded, to one path) into
 * `out`; returns its length, or 0 when no path has anything to send now. The destination is left
 * in `paths.txAddress`.
 */
export function transmitPath(c: ConnectionCore, now: number, out: Uint8Array): number {
  const ps = c.paths;
  if (!ps.mayHaveWork || !c.handshakeComplete || !c.keys.canWrite(PacketSpace.Application)) return 0;
  for (const p of ps.all()) {
    if (!p.challengePending && p.responses.length === 0) continue;
    const len = buildPathDatagram(c, now, out, p);
    if (len > 0) {
      ps.txAddress = p.address;
      return len;
    }
  }
  return 0;
}

function buildPathDatagram(c: ConnectionCore, now: number, out: Uint8Array, p: Path): number {
  const ps = c.paths;
  const budget = p.budget;
  // The smallest useful packet: header, PATH_* frame(s), the header-protection sample, the tag.
  if (budget < 64) return 0;
  const target = Math.min(PATH_DATAGRAM_SIZE, budget, out.length);
  const sp = c.spaces[PacketSpace.Application]!;
  const b = c.builder;
  // The old path keeps its own CID (§9.5); an address we only answer probes from gets the current
  // one, which §9.5 allows toward an address the peer's network changed under it.
  const dcid = p === ps.fallback ? (c.remoteCids.cidOf(p.cidSeq) ?? c.remoteCids.current) : c.remoteCids.current;
  b.beginDatagram(out, target, dcid);
  if (!b.beginPacket(PacketSpace.Application, sp.nextPn, c.loss.largestAcked(PacketSpace.Application), c.keys.keyPhase, undefined)) return 0;
  const record = new PacketTokens();
  let responses = 0;
  while (p.responses.length > 0 && b.room(9)) {
    b.writePathResponse(p.responses.shift()!);
    responses++;
  }
  if (p.challengePending && b.room(9)) {
    // §8.2.1: unpredictable data, drawn once per validation; a retransmission (after a PTO)
    // repeats it, so a challenge lost on the way is answered once its copy arrives (the interop
    // runner's rebind check wants every challenge value answered; quinn repeats it the same way).
    const last = p.challenges[p.challenges.length - 1];
    const data = last ?? c.random.fill(new Uint8Array(8));
    b.writePathChallenge(data);
    if (last === undefined) p.challenges.push(data);
    p.challengePending = false;
    // §8.2.1 "no more frequently than it would send an Initial": again after a PTO, backed off,
    // until the validation's deadline. That holds for the old path's check (§9.3.3) too: one
    // lost probe would otherwise leave it unanswered (the interop runner's rebind check fails on
    // that); after a real NAT rebinding nobody answers there, and the deadline bounds the cost to
    // a few datagrams.
    p.nextChallengeAt = now + c.currentPto() * 2 ** p.attempts;
    p.attempts++;
    p.mtuUnverified = target < PATH_DATAGRAM_SIZE;
    record.add({ k: 'pathChallenge' });
    ps.stats.pathChallengesSent++;
  }
  // §9.3.3: the response on the active path is non-probing, so a genuine peer's answer reaches
  // us on the path it wants, ahead of an attacker's copies.
  if (responses > 0 && p === ps.current) b.writePing();
  b.padTo(target);
  const size = b.finishPacket(c.keys.writeKeys(PacketSpace.Application));
  const pn = sp.nextPn++;
  c.keys.onOneRttSent(pn);
  c.loss.onPacketSent(PacketSpace.Application, record.sent(pn, now, size, true, false));
  const len = b.finishDatagram();
  ps.stats.pathResponsesSent += responses;
  c.packetsSent++;
  c.bytesSent += len;
  if (!p.validated) p.sent += len;
  return len;
}

// ------------------------------------------------------------------ helpers

/** True when both addresses have the same IP (only the port differs). */
export function samePeerHost(a: string, b: string): boolean {
  return hostOf(a) === hostOf(b);
}

function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.slice(0, i);
}

function bytesEqual8(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** qlog's PathEndpointInfo of an "ip:port" address. */
function endpointInfo(address: string): QlogPathEndpoint {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (address.startsWith('[')) return { ip_v6: address.slice(1, address.indexOf(']')), port_v6: port };
  return { ip_v4: address.slice(0, i), port_v4: port };
}

function qlogMigration(c: ConnectionCore, p: Path, state: QlogMigration['new']): void {
  const q = c.qlog!;
  q.emit({ time: q.now, name: 'connectivity:migration_state_updated', data: { new: state, path_remote: endpointInfo(p.address) } });
}
