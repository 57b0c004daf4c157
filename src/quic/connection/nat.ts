import { parseIpPort } from '../../codec/ip.js';
import type { AddAddressFrame, ReachOutFrame, RemoveAddressFrame } from '../frames/frame.js';
import { NatTraversal, type NatFamilies } from './nat-traversal.js';
import type { NatTraversalStats } from './stats.js';

// What iroh 1.0.2 (@number0/iroh 1.1.0) does, read from our qlog against a real iroh node reached
// through our relay by a relay-only ticket, in a loopback-only namespace, with both sides
// offering multipath and NAT traversal (test/interop/scenarios/nat-iroh.ts; times from the start
// of our trace, which begins with the handshake):
//
// - iroh as the server (we dial it): ~40 ms in, right after the handshake, one ADD_ADDRESS per
//   socket it bound (seq 0 127.0.0.1:P, seq 1 [::1]:P'), on path 0 (the relay). Our REACH_OUT
//   (round 1) and our probe to 127.0.0.1:P left at once; iroh's PATH_RESPONSE came back from
//   that address ~3 ms later, and iroh probed our REACH_OUT address with an unpadded
//   PATH_CHALLENGE of its own (noq's server probes the round's addresses); our PATH_RESPONSE to
//   it carried a PATH_CHALLENGE (as noq's client does), answered too. Our next round, 5 s later,
//   went the same way. iroh opens no path as the server: `conn.paths()` shows only the relay
//   path 0 until the client opens one.
// - iroh as the client (it dials us): our ADD_ADDRESS (127.0.0.1:Q) left right after the
//   handshake; iroh sent REACH_OUT round 1 (its two sockets) and, 1 ms later, round 2 (our
//   candidate had arrived: new candidates start a new round); it probed 127.0.0.1:Q (one
//   PATH_CHALLENGE per round, unpadded, path 0's connection id, from its socket) and we answered
//   from there; our probe to its IPv4 REACH_OUT address was answered. It then opens path id 1
//   toward us, which needs an initial_max_path_id above 0 from us: without it `conn.paths()`
//   stays on the relay path 0, and iroh started no new round within 6 s.
// - With initial_max_path_id 7 on our side (iroh's value) a path id 1 opens on the answered
//   address in both directions (we open it as the client, iroh as the client) and both sides
//   select it ~50-170 ms after the connection is up (iroh's `conn.paths()`: path 1, isIp,
//   selected; the relay path 0 kept, not selected); a 20 MB transfer started on the relay then
//   leaves ~25 KB on the relay.

/**
 * iroh's n0 NAT traversal, wired into a connection (TransportConfig.natTraversal, with
 * multipath): the part that owns a connection's hole punching. `NatTraversal` is the protocol's
 * state machine; this adds what a connection needs around it:
 *
 * - our candidate addresses as the session layer gives them (`setLocalCandidates`), kept until
 *   the negotiation is known and then handed to the state machine (a server announces each with
 *   ADD_ADDRESS, withdraws it with REMOVE_ADDRESS);
 * - the frames owed (ADD_ADDRESS, REMOVE_ADDRESS, REACH_OUT), sent by the transmitter and sent
 *   again when lost while still true (an address still ours with that sequence number, a
 *   REACH_OUT of the round in progress);
 * - the client's rounds, as iroh schedules them (socket/remote_map/remote_state.rs,
 *   `trigger_holepunching`): one as soon as the handshake is confirmed and we have candidates,
 *   one whenever a candidate appears on either side, whatever paths the connection has (so a
 *   connection that reached its server through some UDP forwarder still learns the server's own
 *   addresses), but only when a server candidate has no live path yet; and otherwise one every
 *   HOLEPUNCH_INTERVAL_MS while the connection still runs over a relay and no direct path has
 *   been opened;
 * - the paths to open: an address that answered a probe (client), for the connection to open a
 *   path id on (`Connection.openPath`); while none can open, it stays queued.
 */
export class NatLink {
  // Collections are made by their first entry and dropped when empty ([perf2]: an idle
  // connection holds the state machine with its candidates and nothing else here).
  /**
   * Our candidates as the session layer gave them (IP address and port, text form), until the
   * state machine has them (`apply`): then it holds them, and this goes back to the shared empty list.
   */
  private wanted: readonly string[] = NO_CANDIDATES;
  private families: NatFamilies = BOTH_FAMILIES;
  /** The state machine, once the negotiation said both sides run NAT traversal. */
  private m: NatTraversal | null = null;
  /** Frames owed, oldest first (bounded: see `queue`). */
  private owed: NatFrame[] | undefined;
  /** Client: when the next round starts (Infinity: none scheduled). */
  private nextRoundAt = Number.POSITIVE_INFINITY;
  /** Client: the handshake is confirmed, so rounds may start. */
  private confirmed = false;
  /** Client: the addresses paths were opened to (timed rounds stop once one is; a later answer from one opens nothing). */
  private opened: Set<string> | undefined;
  /**
   * Client: the round due at `nextRoundAt` was asked for by an event (the handshake's
   * confirmation, a new candidate), not by the clock: it starts even over a direct path.
   */
  private eager = false;
  /** Counters (Connection stats), made by the first count. */
  private counters: NatTraversalStats | undefined;

  /** Counters (Connection stats). */
  get stats(): Readonly<NatTraversalStats> {
    return this.counters ?? NO_COUNTS;
  }

  private get count(): NatTraversalStats {
    return (this.counters ??= { rounds: 0, probesSent: 0, probesAnswered: 0, pathsOpened: 0, framesSent: 0 });
  }

  /** The state machine, or null before (or without) the negotiation of NAT traversal. */
  get machine(): NatTraversal | null {
    return this.m;
  }

  /**
   * The negotiation is known (the handshake completed and both sides sent both parameters):
   * the state machine starts with the candidates given so far; a client schedules its first
   * round for when the handshake is confirmed (`onConfirmed`).
   */
  start(role: 'client' | 'server', maxRemoteAddresses: number, maxLocalAddresses: number, initialRttMs: number): void {
    if (this.m !== null) return;
    this.m = new NatTraversal({ role, maxRemoteAddresses, maxLocalAddresses, families: this.families, initialRttMs });
    this.apply();
  }

  /** Client: the handshake is confirmed: a first round as soon as we have candidates. */
  onConfirmed(now: number): void {
    if (this.m?.role !== 'client' || this.confirmed) return;
    this.confirmed = true;
    this.roundSoon(now);
  }

  /**
   * Our candidate addresses (every one: those missing are withdrawn). Entries that are not an IP
   * address and port are ignored; at most the peer's limit are announced, in the order given.
   * `families`: the address families our sockets can send to (candidates of the peer in another
   * family are not probed); taken only before the negotiation.
   */
  setLocalCandidates(now: number, addresses: readonly string[], families?: NatFamilies): void {
    this.wanted = addresses.every((a) => parseIpPort(a) !== undefined) ? addresses : addresses.filter((a) => parseIpPort(a) !== undefined);
    if (families && this.m === null) this.families = sharedFamilies(families);
    if (this.apply()) this.roundSoon(now);
  }

  /** Client: a round now (the handshake is confirmed, or a candidate appeared), once confirmed. */
  private roundSoon(now: number): void {
    if (this.m?.role !== 'client' || !this.confirmed) return;
    this.nextRoundAt = now;
    this.eager = true;
  }

  /** Brings the state machine's candidates in line with `wanted`; returns whether one was added. */
  private apply(): boolean {
    const m = this.m;
    if (m === null) return false;
    const list = this.wanted;
    this.wanted = NO_CANDIDATES; // the state machine holds them from now on
    const wanted = new Set(list);
    for (const a of m.localAddresses()) {
      if (wanted.has(a)) continue;
      const f = m.removeLocalAddress(a);
      if (f) this.queue(f);
    }
    let added = false;
    const known = new Set(m.localAddresses());
    for (const a of list) {
      if (known.has(a)) continue;
      const before = m.localAddresses().length;
      const f = m.addLocalAddress(a);
      if (f) this.queue(f);
      if (m.localAddresses().length > before) added = true;
    }
    return added;
  }

  // ------------------------------------------------------------------ the peer's frames

  /** ADD_ADDRESS (client): a new candidate of the server starts a round soon (as iroh). */
  onAddAddress(now: number, f: AddAddressFrame): void {
    const m = this.m!;
    if (m.onAddAddress(f) !== null) this.roundSoon(now);
  }

  /** REMOVE_ADDRESS (client). */
  onRemoveAddress(f: RemoveAddressFrame): void {
    this.m!.onRemoveAddress(f);
  }

  /** REACH_OUT (server): probes to the client's addresses. */
  onReachOut(now: number, f: ReachOutFrame): void {
    this.m!.onReachOut(now, f);
  }

  /**
   * A PATH_RESPONSE from `from`: true when it answered one of our probes (then, on a client, the
   * address waits in `pathToOpen`).
   */
  onPathResponse(from: string, data: Uint8Array): boolean {
    if (this.m === null || !this.m.onPathResponse(from, data)) return false;
    this.count.probesAnswered++;
    return true;
  }

  // ------------------------------------------------------------------ what goes out

  /** The next frame owed, or undefined. Call `onFrameSent` once it is written. */
  peekFrame(): NatFrame | undefined {
    return this.owed?.[0];
  }

  /** The frame `peekFrame` gave went out. */
  onFrameSent(): void {
    this.owed?.shift();
    if (this.owed?.length === 0) this.owed = undefined;
    this.count.framesSent++;
  }

  /** A packet carrying `f` was lost: it is owed again if still true. */
  onFrameLost(f: NatFrame): void {
    const m = this.m;
    if (m === null) return;
    switch (f.kind) {
      case 'addAddress':
        if (m.localSequence(f.ip, f.port) === f.sequence) this.queue(f);
        return;
      case 'removeAddress':
        // A sequence number is never reused, so the withdrawal stays true.
        this.queue(f);
        return;
      case 'reachOut':
        if (f.round === m.round && m.localSequence(f.ip, f.port) !== undefined) this.queue(f);
        return;
    }
  }

  /** The next address to probe now (send it an unpadded PATH_CHALLENGE, then `onProbeSent`). */
  nextProbe(): string | undefined {
    return this.m?.nextProbe();
  }

  /** A probe left for `address` with this challenge `data`. */
  onProbeSent(address: string, data: Uint8Array): void {
    this.m?.onProbeSent(address, data);
    this.count.probesSent++;
  }

  /** Client: an address that answered a probe and waits for a path (peek; `onPathOpened` takes it). */
  get pathToOpen(): string | undefined {
    const m = this.m;
    if (m === null) return undefined;
    let a = m.peekPathToOpen();
    // Both probes of an address may be answered (ours, and the one riding our PATH_RESPONSE).
    while (a !== undefined && this.opened?.has(a) === true) {
      m.takePathToOpen();
      a = m.peekPathToOpen();
    }
    return a;
  }

  /**
   * The path to `pathToOpen` was opened (`opened` false: it needs none, a path to it lives): it
   * leaves the queue; timed rounds wait while a direct path lives.
   */
  onPathOpened(now: number, opened = true): void {
    const a = this.m?.takePathToOpen();
    if (a === undefined || !opened) return;
    // Bounded: one per remote candidate (maxRemoteAddresses) plus the few the peer probed us from.
    const set = (this.opened ??= new Set());
    if (set.size < MAX_OWED_FRAMES) set.add(a);
    this.count.pathsOpened++;
    if (!this.eager) this.nextRoundAt = now + HOLEPUNCH_INTERVAL_MS;
  }

  // ------------------------------------------------------------------ timers

  /** The next deadline (probe retries, the client's next round), or Infinity. */
  get deadline(): number {
    const m = this.m;
    return m === null ? Number.POSITIVE_INFINITY : Math.min(m.deadline, this.nextRoundAt);
  }

  /**
   * Timers. `punch`: the connection has no direct path (path 0 is a relay, and no path id on an
   * IP address is open: `wantsHolePunch`); `live`: the addresses that have a live path (path 0's
   * unless abandoned, every open path id's). A round asked for by an event (`eager`) starts
   * whenever a server candidate has no live path, as iroh punches on a new connection and on new
   * candidates whatever its paths, and probes only those candidates; a timed round (every
   * HOLEPUNCH_INTERVAL_MS) starts only when `punch`. While a path opened on an answered probe
   * lives, the client checks again every HOLEPUNCH_INTERVAL_MS, and punches again once that path
   * is gone (abandoned for not answering, say).
   */
  onTimeout(now: number, punch: boolean, live: ReadonlySet<string> = NO_ADDRESSES): void {
    const m = this.m;
    if (m === null) return;
    if (now >= m.deadline) m.onTimeout(now);
    if (now < this.nextRoundAt) return;
    this.nextRoundAt = Number.POSITIVE_INFINITY;
    const eager = this.eager;
    this.eager = false;
    const fresh = m.remoteAddresses().some((a) => !live.has(a));
    if (!punch && !(eager && fresh)) {
      if (this.opened !== undefined) this.nextRoundAt = now + HOLEPUNCH_INTERVAL_MS;
      return;
    }
    // Over a relay only: the paths opened before are gone, their addresses may be opened again.
    if (punch) this.opened = undefined;
    const frames = m.startRound(now, live);
    if (frames.length === 0) return; // no candidate of ours yet: `setLocalCandidates` schedules one
    this.count.rounds++;
    // The REACH_OUTs of an older round are no longer owed.
    const owed = this.owed;
    if (owed !== undefined) for (let i = owed.length - 1; i >= 0; i--) if (owed[i]!.kind === 'reachOut') owed.splice(i, 1);
    for (const f of frames) this.queue(f);
    this.nextRoundAt = now + HOLEPUNCH_INTERVAL_MS;
  }

  private queue(f: NatFrame): void {
    // Bounded: at most one frame per candidate and round (2 x 255) plus withdrawals; a lost frame
    // re-queued twice is dropped rather than let the queue grow.
    const owed = (this.owed ??= []);
    if (owed.length >= MAX_OWED_FRAMES) return;
    owed.push(f);
  }
}

/** A NAT traversal frame we send. */
export type NatFrame = AddAddressFrame | ReachOutFrame | RemoveAddressFrame;

/**
 * Whether a connection has no direct path to the peer: path 0 is a relay (an address that is no
 * `ip:port`) and no open path id (multipath) is on an IP address. A client punches holes only then.
 */
export function wantsHolePunch(p: HolePunchView): boolean {
  if (parseIpPort(p.paths.current.address) !== undefined) return false;
  for (const st of p.multipath.paths.values()) if (!st.isAbandoned && parseIpPort(st.path.address) !== undefined) return false;
  return true;
}

/**
 * The addresses a connection has a live path to: path 0's unless abandoned, and every open path
 * id's (NAT traversal neither probes nor opens a path to them).
 */
export function liveAddresses(p: HolePunchView & { readonly multipath: { readonly isPathZeroAbandoned: boolean } }): Set<string> {
  const live = new Set<string>();
  if (!p.multipath.isPathZeroAbandoned) live.add(p.paths.current.address);
  for (const st of p.multipath.paths.values()) if (!st.isAbandoned) live.add(st.path.address);
  return live;
}

/** What `wantsHolePunch` reads of a connection's parts (PathSet, MultipathState). */
export interface HolePunchView {
  readonly paths: { readonly current: { readonly address: string } };
  readonly multipath: { readonly paths: ReadonlyMap<number, { readonly isAbandoned: boolean; readonly path: { readonly address: string } }> };
}

/** iroh's HOLEPUNCH_ATTEMPTS_INTERVAL: a new round this long after the last one, when nothing changed. */
export const HOLEPUNCH_INTERVAL_MS = 5000;

/** The candidates of a connection the session layer gave none (shared, never written). */
const NO_CANDIDATES: readonly string[] = Object.freeze([]);

/** No live address (shared, never written). */
const NO_ADDRESSES: ReadonlySet<string> = new Set();

/** The counters of a connection that counted nothing yet (shared, read only). */
const NO_COUNTS: Readonly<NatTraversalStats> = Object.freeze({ rounds: 0, probesSent: 0, probesAnswered: 0, pathsOpened: 0, framesSent: 0 });

/** Both families, the default (shared). */
const BOTH_FAMILIES: NatFamilies = Object.freeze({ ipv4: true, ipv6: true });
const FAMILIES: readonly NatFamilies[] = [Object.freeze({ ipv4: false, ipv6: false }), Object.freeze({ ipv4: true, ipv6: false }), Object.freeze({ ipv4: false, ipv6: true }), BOTH_FAMILIES];

/** One shared object per combination (the session layer makes one per connection). */
function sharedFamilies(f: NatFamilies): NatFamilies {
  return FAMILIES[(f.ipv4 ? 1 : 0) + (f.ipv6 ? 2 : 0)]!;
}

/** Frames owed at most (ADD/REMOVE_ADDRESS and REACH_OUT for up to 255 candidates each). */
const MAX_OWED_FRAMES = 1024;
