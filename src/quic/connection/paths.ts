import type { TransportConfig } from '../transport-config.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import { PacketSpace } from '../packet/space.js';
import type { LossDetector } from '../recovery/loss.js';
import type { Random } from '../../tls/random.js';
import type { RemoteCids } from './cids.js';
import { Path, PathRecovery, samePeerHost } from './path.js';
import { pathMaxUdpPayload } from './mtu.js';
import type { PathStats } from './stats.js';
import { qlogCidUpdated, qlogMigration, type QlogMigration, type Trace } from './qlog.js';

/**
 * The paths of one connection, path validation and the peer's address changes (RFC 9000 §8.2,
 * §9), for the endpoint that sees its peer move: a server whose client was NAT-rebound (new source
 * port, or a new address) or migrated. The connection stays address-agnostic elsewhere: addresses
 * are opaque "ip:port" strings handed in with each datagram.
 *
 * - `current` is where every non-probing packet goes. It moves only on the highest-numbered
 *   non-probing packet from another address, once the handshake is confirmed (§9, §9.3); older
 *   (reordered) packets and probing packets never move it.
 * - On a move to an address not validated before, path validation starts (§8.2.1): a PATH_CHALLENGE
 *   of 8 fresh random bytes in a datagram padded to 1200 bytes (less only when the 3x
 *   anti-amplification limit of the unvalidated address forbids it, §8.2.1, §9.3.1), re-sent with
 *   the same data after each PTO (with backoff), abandoned after 3 x max(PTO, PTO with kInitialRtt)
 *   (§8.2.4). The last validated path is kept as `fallback`: it gets a PATH_CHALLENGE too (§9.3.3,
 *   the off-path forwarding defense: the genuine peer answers from there with a non-probing packet
 *   and brings the connection back; after a real rebinding that challenge goes unanswered), and a
 *   failed validation reverts to it (§9.3.2). With no validated path left the connection ends
 *   silently with NO_VIABLE_PATH (§9.3.2).
 * - Congestion control and RTT (§9.4) are each path's own (path.ts): a new IP address gets a fresh
 *   `PathRecovery`; a port-only change (NAT rebinding, which §9.4 lets us treat so) shares the
 *   old path's, as quinn does. Every packet records its path, so acknowledgments and losses of
 *   packets sent on an old path reach that path's controller.
 * - Connection IDs (§9.5): a move switches to a peer CID never used before when the peer gave us
 *   one; the abandoned path's CID is retired once that path is no longer needed.
 * - PATH_RESPONSE goes back on the path its challenge came from (§8.2.2), padded to 1200 bytes
 *   within the limit; on the current path it carries a PING, so the response is non-probing
 *   (§9.3.3 "SHOULD send a non-probing packet in response"). The transmitter builds these path
 *   datagrams (transmit.ts) from what is owed here.
 *
 * A client never follows the server's address (§9: "a client MUST discard" packets from an
 * unknown server address); the server's preferred address (§9.6) is not supported, and neither is
 * active migration of our own client (we only ever send from one local address).
 */

/** PATH_RESPONSEs queued per path (a flood of challenges gets the first few answered). */
export const MAX_RESPONSES = 4;
/** Addresses we answer probes from without migrating to them. */
const MAX_PROBING_PATHS = 4;
const NO_ADDRESSES: readonly string[] = [];

/** What the path set works with, besides its own state. */
export interface PathDeps {
  readonly role: 'client' | 'server';
  readonly config: TransportConfig;
  readonly random: Random;
  readonly remoteCids: RemoteCids;
  readonly loss: LossDetector<unknown>;
  /** Whether a new path may search its MTU at once: the handshake is confirmed, and the peer's limit. */
  readonly handshake: { readonly isConfirmed: boolean; readonly peerParams: { readonly maxUdpPayloadSize: number } | undefined };
  readonly trace: Trace;
}

/**
 * The `others` of every PathSet that never heard a probing packet: one shared empty map, never
 * written (a PathSet makes its own with its first entry), so an idle connection holds no map.
 */
const NO_OTHERS = new Map<string, Path>();

export class PathSet {
  private cur: Path;
  /** The last validated path while `current` is being validated (revert target, §9.3.2). */
  private back: Path | undefined;
  /** Other addresses a packet opened from (probing packets): we answer their challenges there. */
  private others: Map<string, Path> = NO_OTHERS;
  readonly stats: PathStats = {
    pathChallengesSent: 0, pathChallengesReceived: 0, pathResponsesSent: 0, pathResponsesReceived: 0,
    pathValidations: 0, pathValidationFailures: 0, migrations: 0, migrationsReverted: 0, datagramsFromUnknownAddress: 0,
  };
  /** The path of the datagram being processed, and its address. */
  private rxPath: Path;
  private rxAddr = '';
  private readonly d: PathDeps;
  /**
   * A client's other addresses of its server (a dial with several: direct ones, relays), each sent
   * a copy of every datagram until the server is first heard from one of them; that one becomes
   * the path and the others are dropped (the first to answer wins).
   */
  private alternates: readonly string[] | undefined;
  /**
   * n0 NAT traversal runs (nat.ts): a client hears datagrams from other addresses of its server
   * too (its probes, and the answers to ours: noq's `peer_may_probe`), answers their challenges
   * there, and never moves to them (a direct path is a new path id, not a migration of path 0).
   */
  private probesAllowed = false;

  constructor(address: string, validated: boolean, deps: PathDeps, alternates?: readonly string[]) {
    this.d = deps;
    this.cur = new Path(address, validated, 0, this.newRecovery(address));
    this.rxPath = this.cur;
    const others = deps.role === 'client' ? alternates?.filter((a) => a !== address && a !== '') : undefined;
    if (others && others.length > 0) this.alternates = [...new Set(others)];
  }

  /**
   * Where copies of the datagram to the current path go too: a client's other server addresses
   * until the server answered on one of them (empty then and for a server).
   */
  get copyAddresses(): readonly string[] {
    return this.alternates ?? NO_ADDRESSES;
  }

  /** Where non-probing packets go. */
  get current(): Path {
    return this.cur;
  }

  /** The current path's congestion control, RTT, pacing and MTU (the current path always has them). */
  get recovery(): PathRecovery {
    return this.cur.recovery!;
  }

  /** The last validated path while the current one is validated. */
  get fallback(): Path | undefined {
    return this.back;
  }

  /** The path of the datagram being processed. */
  get rx(): Path {
    return this.rxPath;
  }

  /** The source address of the datagram being processed. */
  get rxAddress(): string {
    return this.rxAddr;
  }

  /** n0 NAT traversal was negotiated: the peer may probe us from its other addresses (see `probesAllowed`). */
  allowPeerProbes(): void {
    this.probesAllowed = true;
  }

  /**
   * Every path. The old path comes first: its one challenge leaves before the new path's, so the
   * first datagram to each new destination carries a PATH_CHALLENGE (what the QUIC interop
   * runner's rebinding tests check).
   */
  *all(): Generator<Path> {
    if (this.back) yield this.back;
    yield this.cur;
    yield* this.others.values();
  }

  /** The earliest path timer (challenge re-send or validation deadline), or Infinity. */
  get timeout(): number {
    // Called after every input: no iterator unless some path besides the current one exists.
    const cur = this.cur;
    let t = Math.min(cur.nextChallengeAt, cur.deadline);
    if (this.back) t = Math.min(t, this.back.nextChallengeAt, this.back.deadline);
    if (this.others.size > 0) for (const p of this.others.values()) t = Math.min(t, p.nextChallengeAt, p.deadline);
    return t;
  }

  /** Whether a path datagram may be owed (cheap: checked on every transmit). */
  get mayHavePathFrames(): boolean {
    return this.cur.hasPathFrames || this.back !== undefined || this.others.size > 0;
  }

  /**
   * The DCID toward `p`: the old path keeps its own CID (§9.5); an address we only answer probes
   * from gets the current one, which §9.5 allows toward an address the peer's network changed under it.
   */
  dcidFor(p: Path): Uint8Array {
    const cids = this.d.remoteCids;
    return p === this.back ? (cids.cidOf(p.cidSeq) ?? cids.current) : cids.current;
  }

  // ------------------------------------------------------------------ receive side

  /**
   * A datagram arrived from `from` (undefined: the current path, for drivers without addresses).
   * Returns false when it must be dropped unread: a client hears only its server's address (§9),
   * and a server that sent disable_active_migration drops other addresses after the handshake
   * (§9: "drop the incoming packets on that path without generating a Stateless Reset").
   */
  onDatagramFrom(from: string | undefined, size: number, handshakeConfirmed: boolean): boolean {
    const cur = this.cur;
    if (this.alternates !== undefined && from !== undefined && from !== cur.address && this.alternates.includes(from)) {
      // Another address of a dial with several: heard, but it becomes the path only once a packet
      // of this datagram opens (`onPacketFrom`), never on an unauthenticated datagram.
      this.rxPath = cur;
      this.rxAddr = from;
      cur.onReceived(size);
      return true;
    }
    if (from === undefined || from === cur.address || cur.address === '') {
      if (from !== undefined && cur.address === '') cur.readdress(from);
      this.rxPath = cur;
      this.rxAddr = cur.address;
      cur.onReceived(size);
      return true;
    }
    const client = this.d.role === 'client';
    if ((client && !(this.probesAllowed && handshakeConfirmed)) || (!client && handshakeConfirmed && this.d.config.disableActiveMigration && !this.probesAllowed)) {
      this.stats.datagramsFromUnknownAddress++;
      return false;
    }
    this.rxAddr = from;
    if (!handshakeConfirmed) {
      // During the handshake the handshake itself validates the client (§8.1) and its budget
      // counts every byte it sent, whatever the source.
      this.rxPath = cur;
      cur.onReceived(size);
      return true;
    }
    // A new address gets a Path only once a packet of it opens (`onPacketFrom`): forged
    // datagrams leave no state.
    const p = this.back?.address === from ? this.back : (this.others.get(from) ?? new Path(from, false, cur.cidSeq, undefined));
    p.onReceived(size);
    this.rxPath = p;
    return true;
  }

  /**
   * A packet of the datagram being processed opened and its frames were handled: follow the peer
   * when it is the highest-numbered non-probing packet from another address (§9.2, §9.3).
   */
  onPacketFrom(now: number, space: PacketSpace, pn: number, largestBefore: number, probingOnly: boolean, handshakeConfirmed: boolean, pto: number): void {
    if (this.alternates !== undefined) {
      // A dial with several addresses: the first packet that opens picks the server's (the first
      // to answer wins); the others get no more copies.
      if (this.rxAddr !== '' && this.rxAddr !== this.cur.address) this.cur.readdress(this.rxAddr);
      this.alternates = undefined;
      return;
    }
    if (this.rxAddr === this.cur.address) return;
    const p = this.rxPath;
    if (!handshakeConfirmed) {
      // Before confirmation a client may not migrate (§9); copies of its first flight can still
      // reach us from several addresses (IROH.md): follow the latest new packet, as the handshake did.
      if (pn > largestBefore) this.cur.readdress(this.rxAddr);
      return;
    }
    if (p !== this.back && !this.others.has(p.address)) {
      if (this.others.size >= MAX_PROBING_PATHS) {
        const oldest = this.others.keys().next().value as string;
        this.others.delete(oldest);
      }
      // §9.4: the same host keeps the congestion state (a NAT rebinding), a new one starts afresh.
      p.adopt(samePeerHost(this.cur.address, p.address) ? this.recovery : this.newRecovery(p.address));
      if (this.others === NO_OTHERS) this.others = new Map();
      this.others.set(p.address, p);
    }
    if (space !== PacketSpace.Application || probingOnly || pn <= largestBefore) return;
    // RFC 9000 §9: a client never follows its server elsewhere (with NAT traversal it only
    // answers the server's probes there).
    if (this.d.role === 'client' || this.d.config.disableActiveMigration) return;
    this.migrate(now, p, pto);
  }

  /** PATH_CHALLENGE received on the datagram's path: answer there (§8.2.2). */
  onPathChallenge(data: Uint8Array): void {
    this.stats.pathChallengesReceived++;
    this.rxPath.queueResponse(data, MAX_RESPONSES);
  }

  /** PATH_RESPONSE received (on any path: §8.2.3, the path it validates is the challenge's). */
  onPathResponse(now: number, data: Uint8Array, pto: number): void {
    this.stats.pathResponsesReceived++;
    for (const p of this.all()) {
      if (!p.answers(data)) continue;
      const { probeOnly, mtuUnverified } = p.endValidation();
      this.stats.pathValidations++;
      if (probeOnly && p.validated) {
        this.log(p, 'probing_successful');
        this.releaseFallback();
        return;
      }
      p.markValidated();
      if (p === this.cur) {
        // §9.3: the new address is the peer's; the old path is no longer needed once its own
        // check (§9.3.3) is over: a challenge already sent there keeps being repeated until it is
        // answered or times out, so none goes unanswered because a loss met a faster validation.
        this.releaseFallback();
        this.onCurrentValidated(now);
        this.log(p, 'migration_complete');
        // §8.2.1: validated with a datagram under 1200 bytes: validate again with a full one.
        if (mtuUnverified) this.startValidation(now, p, pto, true, true);
      } else {
        this.log(p, 'probing_successful');
      }
      return;
    }
  }

  /** RFC 9000 §8.1: the current path's address is validated (a server got a Handshake packet, §8.1). */
  onCurrentValidated(now: number): void {
    this.cur.markValidated();
    this.d.loss.setAmplificationBlocked(false, now, this.recovery.rtt);
    this.d.loss.rearm(now, this.recovery.rtt);
  }

  // ------------------------------------------------------------------ timers

  /**
   * Path timers: re-send challenges, abandon validations (§8.2.4), revert (§9.3.2). Returns a
   * description when no validated path is left: the connection must then end silently (§9.3.2).
   */
  onTimeout(now: number): string | undefined {
    for (const p of [...this.all()]) {
      if (now >= p.deadline) {
        const { probeOnly } = p.endValidation();
        if (probeOnly || p.validated) {
          // The old path's check or an MTU re-check failed: it stays the revert target / in use
          // (unless the current path is validated: then the old one goes); the idle timeout and
          // PTO decide about a path that is really dead.
          this.log(p, 'probing_abandoned');
          this.releaseFallback();
          continue;
        }
        this.stats.pathValidationFailures++;
        if (p === this.cur) {
          const failure = this.revert(now);
          if (failure) return failure;
        } else {
          this.others.delete(p.address);
        }
      } else if (now >= p.nextChallengeAt) {
        p.onChallengeTimer();
      }
    }
    return undefined;
  }

  /**
   * The old path goes (its CID retired) once the current path is validated and the old path's
   * own check is over (§9.3.3: it was kept only as the target to revert to, and for that check).
   */
  private releaseFallback(): void {
    const old = this.back;
    if (!old || !this.cur.validated || old.validating) return;
    this.back = undefined;
    this.d.remoteCids.retire(old.cidSeq);
  }

  /** Starts validation of the current path on request (a liveness check, §8.2). */
  validateCurrent(now: number, pto: number): void {
    const p = this.cur;
    if (p.validating) return;
    this.startValidation(now, p, pto, false, p.validated);
  }

  // ------------------------------------------------------------------ transmit side

  /**
   * The data of the PATH_CHALLENGE to send to `p` now, recorded as sent. `fullSize`: the datagram
   * is 1200 bytes (else the path's MTU is re-checked after validation, §8.2.1).
   */
  takeChallenge(p: Path, now: number, pto: number, fullSize: boolean): Uint8Array {
    this.stats.pathChallengesSent++;
    return p.takeChallenge(now, pto, fullSize, this.d.random);
  }

  /** `n` PATH_RESPONSE frames went out. */
  onResponsesSent(n: number): void {
    this.stats.pathResponsesSent += n;
  }

  // ------------------------------------------------------------------ migration

  /** The peer moved to `p` (§9.3): send there, validate it, probe the old path. */
  private migrate(now: number, p: Path, pto: number): void {
    const old = this.cur;
    const cids = this.d.remoteCids;
    this.others.delete(p.address);
    if (p === this.back) {
      // Back to the last validated path (§9.3.3: its genuine peer spoke again, with a higher packet
      // number): no validation needed; its congestion state never left it.
      this.back = undefined;
      this.stats.migrationsReverted++;
      this.switchTo(now, old, p);
      old.stopValidation();
      cids.use(activeOr(cids, p.cidSeq));
      cids.retire(old.cidSeq);
      this.log(old, 'migration_abandoned');
      return;
    }
    this.stats.migrations++;
    if (old.validated) {
      // §9.3.3: "endpoints MUST validate the previously active path" (off-path forwarding defense).
      this.back?.stopValidation();
      if (this.back) cids.retire(this.back.cidSeq);
      this.back = old;
    } else {
      // The path we were validating is abandoned for a newer one (§9.3).
      old.stopValidation();
      cids.retire(old.cidSeq);
      this.log(old, 'migration_abandoned');
    }
    this.switchTo(now, old, p);
    // §9.5: a fresh peer CID toward the new address when the peer gave us a spare.
    const spare = cids.unusedSequence();
    if (spare !== undefined) {
      const before = cids.current;
      cids.use(spare);
      p.useCid(spare);
      const q = this.d.trace.tracer;
      if (q) qlogCidUpdated(q, before, cids.current);
    } else {
      p.useCid(cids.currentSequence);
    }
    this.log(p, 'migration_started');
    // §9: "MUST perform path validation ... unless it has previously validated that address".
    if (!p.validated) this.startValidation(now, p, pto, false);
    if (this.back) this.startValidation(now, this.back, pto, false, true);
  }

  /** Makes `to` current. Its congestion state is its own (§9.4); the loss timer follows its RTT. */
  private switchTo(now: number, from: Path, to: Path): void {
    from.useCid(this.d.remoteCids.currentSequence);
    this.cur = to;
    const r = this.recovery;
    r.updatePacer();
    // The PTO stays disarmed while the limit blocks us (RFC 9002 §6.2.2.1); the transmitter keeps
    // the flag current from here on.
    this.d.loss.setAmplificationBlocked(!to.validated && to.budget < MIN_DATAGRAM_SIZE, now, r.rtt);
    this.d.loss.rearm(now, r.rtt);
  }

  /** Validation of the current path failed (§9.3.2): back to the last validated one, or no viable path. */
  private revert(now: number): string | undefined {
    const failed = this.cur;
    this.log(failed, 'migration_abandoned');
    const back = this.back;
    if (!back) {
      // "If an endpoint has no state about the last validated peer address, it MUST close the
      // connection silently by discarding all connection state."
      return `path validation of ${failed.address} failed and no validated path remains`;
    }
    this.back = undefined;
    this.stats.migrationsReverted++;
    back.stopValidation();
    this.switchTo(now, failed, back);
    const cids = this.d.remoteCids;
    cids.use(activeOr(cids, back.cidSeq));
    cids.retire(failed.cidSeq);
    return undefined;
  }

  /** Starts (or restarts) validation of `p` (§8.2.1). */
  private startValidation(now: number, p: Path, pto: number, mtuCheck: boolean, probeOnly = false): void {
    p.startValidation(now + this.validationTimeout(pto), probeOnly);
    if (probeOnly || mtuCheck) this.log(p, 'probing_started');
  }

  /**
   * RFC 9000 §8.2.4: "three times the larger of the current PTO or the PTO for the new path (using
   * kInitialRtt)". With the default 333 ms that is 3 x (3 x 333 + max_ack_delay) >= 6 x kInitialRtt.
   */
  validationTimeout(pto: number): number {
    const initialPto = 3 * this.d.config.initialRttMs + this.d.loss.maxAckDelay;
    return 3 * Math.max(pto, initialPto);
  }

  /** A fresh recovery state for a new network path, searching its MTU at once when the handshake allows. */
  private newRecovery(address: string): PathRecovery {
    const c = this.d.config;
    const r = new PathRecovery(c);
    const hs = this.d.handshake;
    const peer = hs.peerParams;
    if (c.mtuDiscovery && peer && hs.isConfirmed) r.mtu.enable(peer.maxUdpPayloadSize, pathMaxUdpPayload(address, c.mtuUpperBound));
    return r;
  }

  private log(p: Path, state: QlogMigration['new']): void {
    const q = this.d.trace.tracer;
    if (q) qlogMigration(q, p.address, state);
  }
}

/** `seq` when still active, else the current sequence (the peer retired it meanwhile). */
function activeOr(cids: RemoteCids, seq: number): number {
  return cids.cidOf(seq) ? seq : cids.currentSequence;
}
