import { formatIpPort, parseIpPort } from '../../codec/ip.js';
import { toHex } from '../../codec/bytes.js';
import { protocolViolation } from '../errors.js';
import type { AddAddressFrame, ReachOutFrame, RemoveAddressFrame } from '../frames/frame.js';
import { FrameType } from '../frames/types.js';

/**
 * iroh's n0 NAT traversal (noq's `n0_nat_traversal`, negotiated with its transport parameter and
 * multipath): the state of one connection's hole punching, sans-IO, on the caller's clock.
 *
 * - The server announces its candidate addresses with ADD_ADDRESS (and withdraws them with
 *   REMOVE_ADDRESS); the client keeps up to `maxRemoteAddresses` of them.
 * - The client starts a round: a REACH_OUT per address of its own (at most `maxLocalAddresses`,
 *   the server's limit), and probes every server candidate.
 * - On a REACH_OUT of a newer round the server drops the old round and probes the client's
 *   addresses too.
 * - A probe is a PATH_CHALLENGE, unpadded, to the candidate address (the caller sends it on a
 *   validated path's packet number space and connection id: noq sends it on the path it has).
 *   Each candidate is probed up to MAX_NAT_PROBE_ATTEMPTS times per round, all candidates at
 *   once, at the intervals of `natProbeRetryDelay`.
 * - A PATH_RESPONSE from the address of a probe with the same data ends that candidate's probing;
 *   on the client it is a path to open (`takePathToOpen`): the multipath layer opens a path id on
 *   it, which validates it fully (the probe was not padded, so only the address is known good).
 *
 * Addresses are the endpoint's text form (`1.2.3.4:5`, `[2001:db8::1]:5`; IPv4-mapped IPv6 as
 * IPv4), so a PATH_RESPONSE's source compares as text. A peer's frame of the wrong side, or a
 * round with more REACH_OUT addresses than we keep, is a PROTOCOL_VIOLATION (as noq).
 */
export class NatTraversal {
  /** Which side of the QUIC connection we are: the server announces, the client reaches out. */
  readonly role: 'client' | 'server';
  /** How many of the peer's addresses we keep (our transport parameter). */
  readonly maxRemoteAddresses: number;
  /** How many of our addresses the peer keeps, so how many we announce (its parameter). */
  readonly maxLocalAddresses: number;
  private readonly families: NatFamilies;
  private readonly initialRttMs: number;
  // Every collection below is made by its first entry ([perf2]: an idle connection with NAT
  // traversal negotiated holds its one or two candidates and nothing else).
  /**
   * Our candidates, flat: address, ADD_ADDRESS sequence number (-1 on a client, which numbers
   * none), address, sequence... (at most `maxLocalAddresses` pairs: a scan is cheap, a Map ~250 B).
   */
  private local: Array<string | number> | undefined;
  private nextLocalSeq = 0;
  /** Client: the server's candidates by ADD_ADDRESS sequence number. */
  private remote: Map<number, Candidate> | undefined;
  /** Server: the client's REACH_OUT addresses of the current round. */
  private reachOuts: Map<string, Candidate> | undefined;
  private currentRound = 0;
  private attempt = 0;
  /** Addresses to probe now (the caller sends one PATH_CHALLENGE to each). */
  private pending: Set<string> | undefined;
  /** The data of every probe sent this round (hex) -> the address it went to. */
  private challenges: Map<string, string> | undefined;
  /** Client: addresses that answered a probe, to open paths on. */
  private toOpen: string[] | undefined;
  private retryAt = Number.POSITIVE_INFINITY;

  constructor(options: NatTraversalOptions) {
    this.role = options.role;
    this.maxRemoteAddresses = options.maxRemoteAddresses;
    this.maxLocalAddresses = options.maxLocalAddresses;
    this.families = options.families;
    this.initialRttMs = options.initialRttMs;
  }

  /** The round in progress (0: none yet). */
  get round(): number {
    return this.currentRound;
  }

  /** When `onTimeout` next has probes to re-queue, or Infinity. */
  get deadline(): number {
    return this.retryAt;
  }

  /** Our candidate addresses. */
  localAddresses(): string[] {
    const out: string[] = [];
    if (this.local !== undefined) for (let i = 0; i < this.local.length; i += 2) out.push(this.local[i] as string);
    return out;
  }

  /** The peer's candidate addresses (client: its ADD_ADDRESSes; server: this round's REACH_OUTs). */
  remoteAddresses(): string[] {
    if (this.role === 'client') return this.remote === undefined ? [] : [...this.remote.values()].map((c) => c.address);
    return this.reachOuts === undefined ? [] : [...this.reachOuts.keys()];
  }

  // ------------------------------------------------------------------ our candidates

  /**
   * Adds one of our candidate addresses. A server gets the ADD_ADDRESS to send; a client gets null
   * (its addresses go in the REACH_OUTs of its next round). Null too when the address is not an
   * IP address and port, is known already, or the peer keeps no more of ours.
   */
  addLocalAddress(address: string): AddAddressFrame | null {
    const a = parseIpPort(address);
    if (!a) return null;
    // The caller's string when it is the canonical form already (one string less per connection).
    const formatted = formatIpPort(a.ip, a.port);
    const key = formatted === address ? address : formatted;
    if (this.localIndex(key) >= 0 || (this.local?.length ?? 0) / 2 >= this.maxLocalAddresses) return null;
    const sequence = this.role === 'server' ? this.nextLocalSeq++ : -1;
    if (this.local === undefined) this.local = [key, sequence]; // sized exactly: a first push would make 17 slots
    else this.local.push(key, sequence);
    return this.role === 'server' ? { kind: 'addAddress', sequence, ip: a.ip, port: a.port } : null;
  }

  /** Withdraws one of our candidates: a server gets the REMOVE_ADDRESS to send, a client null. */
  removeLocalAddress(address: string): RemoveAddressFrame | null {
    const a = parseIpPort(address);
    if (!a) return null;
    const i = this.localIndex(formatIpPort(a.ip, a.port));
    if (i < 0) return null;
    const sequence = this.local![i + 1] as number;
    this.local!.splice(i, 2);
    return this.role === 'server' ? { kind: 'removeAddress', sequence } : null;
  }

  // ------------------------------------------------------------------ the peer's frames

  /**
   * Client: the server's ADD_ADDRESS. Returns the address when it is new (or replaces the one of
   * its sequence number), null when ignored: known, of a family we cannot reach, or beyond
   * `maxRemoteAddresses` (noq ignores those too).
   *
   * @throws TransportError PROTOCOL_VIOLATION when we are the server.
   */
  onAddAddress(f: AddAddressFrame): string | null {
    if (this.role === 'server') throw protocolViolation('ADD_ADDRESS sent to a server', frameTypeOfAddress(f));
    const address = formatIpPort(f.ip, f.port);
    const known = this.remote?.get(f.sequence);
    if (known) {
      if (known.address === address) return null;
      known.address = address;
      known.remaining = MAX_NAT_PROBE_ATTEMPTS;
      known.succeeded = false;
      return address;
    }
    if ((this.remote?.size ?? 0) >= this.maxRemoteAddresses) return null;
    (this.remote ??= new Map()).set(f.sequence, { address, remaining: MAX_NAT_PROBE_ATTEMPTS, succeeded: false });
    return address;
  }

  /**
   * Client: the server's REMOVE_ADDRESS. Returns the address removed, or null for an unknown
   * sequence number.
   *
   * @throws TransportError PROTOCOL_VIOLATION when we are the server.
   */
  onRemoveAddress(f: RemoveAddressFrame): string | null {
    if (this.role === 'server') throw protocolViolation('REMOVE_ADDRESS sent to a server', FrameType.REMOVE_ADDRESS);
    const c = this.remote?.get(f.sequence);
    if (!c) return null;
    this.remote!.delete(f.sequence);
    this.pending?.delete(c.address);
    return c.address;
  }

  /**
   * Server: the client's REACH_OUT. An older round is ignored; a newer one replaces the round in
   * progress (its probes and challenges are forgotten) and arms the retry timer; the address is
   * probed unless already part of the round.
   *
   * @throws TransportError PROTOCOL_VIOLATION when we are the client, or when the round holds
   *   more addresses than `maxRemoteAddresses` (as noq).
   */
  onReachOut(now: number, f: ReachOutFrame): void {
    const type = f.ip.length === 16 ? FrameType.REACH_OUT_IPV6 : FrameType.REACH_OUT_IPV4;
    if (this.role === 'client') throw protocolViolation('REACH_OUT sent to a client', type);
    if (f.round < this.currentRound) return;
    const address = formatIpPort(f.ip, f.port);
    if (!this.reachable(address)) return;
    if (f.round > this.currentRound) {
      this.newRound(f.round);
      this.retryAt = now + natProbeRetryDelay(0, this.initialRttMs);
    } else if (this.reachOuts?.has(address) === true) {
      return; // a retransmission
    } else if ((this.reachOuts?.size ?? 0) >= this.maxRemoteAddresses) {
      throw protocolViolation(`more than ${this.maxRemoteAddresses} REACH_OUT addresses in round ${f.round}`, type);
    }
    (this.reachOuts ??= new Map()).set(address, { address, remaining: MAX_NAT_PROBE_ATTEMPTS - 1, succeeded: false });
    (this.pending ??= new Set()).add(address);
  }

  // ------------------------------------------------------------------ rounds and probes

  /**
   * Client: starts a round. Returns the REACH_OUT frames to send (one per candidate of ours), and
   * queues a probe to every server candidate we can reach, except those in `skip` (addresses
   * that have a path already); empty (and no round) when we have no candidate to announce.
   */
  startRound(now: number, skip: ReadonlySet<string> = NO_SKIP): ReachOutFrame[] {
    if (this.role !== 'client' || this.local === undefined || this.local.length === 0) return [];
    this.newRound(this.currentRound + 1);
    if (this.remote !== undefined) {
      for (const c of this.remote.values()) {
        c.succeeded = false;
        if (this.reachable(c.address) && !skip.has(c.address)) {
          c.remaining = MAX_NAT_PROBE_ATTEMPTS - 1;
          (this.pending ??= new Set()).add(c.address);
        } else {
          c.remaining = 0;
        }
      }
    }
    if ((this.pending?.size ?? 0) > 0) this.retryAt = now + natProbeRetryDelay(0, this.initialRttMs);
    const frames: ReachOutFrame[] = [];
    for (const address of this.localAddresses()) {
      const a = parseIpPort(address)!;
      frames.push({ kind: 'reachOut', round: this.currentRound, ip: a.ip, port: a.port });
    }
    return frames;
  }

  /** The next address to probe now, or undefined. Send it a PATH_CHALLENGE, then call `onProbeSent`. */
  nextProbe(): string | undefined {
    if (this.pending !== undefined) for (const address of this.pending) return address;
    return undefined;
  }

  /** A probe left for `address` with this PATH_CHALLENGE `data` (8 bytes). */
  onProbeSent(address: string, data: Uint8Array): void {
    this.pending?.delete(address);
    if (this.pending?.size === 0) this.pending = undefined;
    const challenges = (this.challenges ??= new Map());
    // A round's own probes are at most its candidates x MAX_NAT_PROBE_ATTEMPTS; a client also
    // probes back every address the server probes it from (as noq), which the peer drives: past
    // the bound the oldest challenge is forgotten (its late answer then opens nothing).
    if (challenges.size >= this.maxChallenges) challenges.delete(challenges.keys().next().value as string);
    challenges.set(toHex(data), address);
  }

  /** How many probe challenges are remembered at most (this round's, and a client's probes back). */
  get maxChallenges(): number {
    return (this.maxRemoteAddresses + MAX_PROBED_BACK) * MAX_NAT_PROBE_ATTEMPTS;
  }

  /** Probe challenges remembered now (tests: the bound above). */
  get challengeCount(): number {
    return this.challenges?.size ?? 0;
  }

  /**
   * A PATH_RESPONSE arrived from `from`. Returns true when it answers one of this round's probes
   * from the address probed: that candidate is done, and (client) a path to open on it is queued.
   */
  onPathResponse(from: string, data: Uint8Array): boolean {
    const key = toHex(data);
    const address = this.challenges?.get(key);
    if (address === undefined || address !== from) return false;
    this.challenges!.delete(key);
    if (this.role === 'client') {
      if (this.remote !== undefined) for (const c of this.remote.values()) if (c.address === address) c.succeeded = true;
      // Bounded: each candidate answers at most once per round, and the caller drains the queue.
      const toOpen = (this.toOpen ??= []);
      if (!toOpen.includes(address) && toOpen.length < this.maxRemoteAddresses) toOpen.push(address);
    } else {
      const c = this.reachOuts?.get(address);
      if (c) c.succeeded = true;
    }
    this.pending?.delete(address);
    return true;
  }

  /** Client: an address that answered a probe and needs a path, or undefined. */
  takePathToOpen(): string | undefined {
    const a = this.toOpen?.shift();
    if (this.toOpen?.length === 0) this.toOpen = undefined;
    return a;
  }

  /** Client: the address `takePathToOpen` would give, left in the queue. */
  peekPathToOpen(): string | undefined {
    return this.toOpen?.[0];
  }

  /**
   * Whether `ip`:`port` is still one of our candidates, and its ADD_ADDRESS sequence number
   * (-1 on a client, which numbers none); undefined when it is not (a lost frame about it is
   * then no longer owed).
   */
  localSequence(ip: Uint8Array, port: number): number | undefined {
    const i = this.localIndex(formatIpPort(ip, port));
    return i < 0 ? undefined : (this.local![i + 1] as number);
  }

  /**
   * The retry timer: every candidate of the round that has not answered and has attempts left is
   * probed again, and the timer re-armed while some have attempts left.
   */
  onTimeout(now: number): void {
    if (now < this.retryAt) return;
    this.attempt++;
    let left = false;
    const candidates = this.role === 'client' ? this.remote : this.reachOuts;
    for (const c of candidates?.values() ?? []) {
      if (c.succeeded || c.remaining <= 0) continue;
      c.remaining--;
      (this.pending ??= new Set()).add(c.address);
      if (c.remaining > 0) left = true;
    }
    this.retryAt = left ? now + natProbeRetryDelay(this.attempt, this.initialRttMs) : Number.POSITIVE_INFINITY;
  }

  private newRound(round: number): void {
    this.currentRound = round;
    this.attempt = 0;
    this.pending = undefined;
    this.challenges = undefined;
    if (this.role === 'server') this.reachOuts = undefined;
  }

  /** The index of `address` in `local`, or -1. */
  private localIndex(address: string): number {
    const local = this.local;
    if (local !== undefined) for (let i = 0; i < local.length; i += 2) if (local[i] === address) return i;
    return -1;
  }

  private reachable(address: string): boolean {
    return address.startsWith('[') ? this.families.ipv6 : this.families.ipv4;
  }
}

/** No address to skip (shared, never written). */
const NO_SKIP: ReadonlySet<string> = new Set();

/** How a `NatTraversal` is made (from the outcome of `negotiateMultipath`). */
export interface NatTraversalOptions {
  readonly role: 'client' | 'server';
  /** How many of the peer's addresses we keep: our transport parameter (1..255; iroh 32). */
  readonly maxRemoteAddresses: number;
  /** How many of our addresses the peer keeps: its transport parameter. */
  readonly maxLocalAddresses: number;
  /** The address families our sockets can send to (a candidate of another family is not probed). */
  readonly families: NatFamilies;
  /** kInitialRtt (TransportConfig.initialRttMs): the probe intervals scale with it. */
  readonly initialRttMs: number;
}

/** The address families an endpoint's sockets reach. */
export interface NatFamilies {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}

/**
 * Probes per candidate and round (noq's MAX_NAT_PROBE_ATTEMPTS): enough for a lost probe or two
 * and for the probe that opens the NAT on the way, few enough not to pester a bystander.
 */
export const MAX_NAT_PROBE_ATTEMPTS = 9;

/** Addresses of the peer's own probes a client's probes back are remembered for, besides the round's candidates. */
const MAX_PROBED_BACK = 8;

/**
 * The interval before retry number `attempt` (0: the first one after the round's probes), as noq:
 * a tenth of kInitialRtt doubling from the second retry on (attempts capped at 8), at most 2 s.
 * With the default 333 ms the nine probes of a round are 33, 33, 67, 133, 266, 533, 1066 and
 * 2000 ms apart: about 4 s of probing.
 */
export function natProbeRetryDelay(attempt: number, initialRttMs: number): number {
  const base = initialRttMs / 10;
  const a = Math.min(attempt, MAX_BACKOFF_EXPONENT);
  return Math.min(a === 0 ? base : base * 2 ** (a - 1), MAX_RETRY_INTERVAL_MS);
}

const MAX_BACKOFF_EXPONENT = 8;
const MAX_RETRY_INTERVAL_MS = 2000;

/** A candidate address being probed. */
interface Candidate {
  address: string;
  /** Probes left in this round after those queued. */
  remaining: number;
  succeeded: boolean;
}

function frameTypeOfAddress(f: AddAddressFrame): number {
  return f.ip.length === 16 ? FrameType.ADD_ADDRESS_IPV6 : FrameType.ADD_ADDRESS_IPV4;
}
