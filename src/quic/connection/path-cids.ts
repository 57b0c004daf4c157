import { binaryStringEquals, binaryStringEqualsConstantTime, fromBinaryString, toBinaryString, toHex } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode, protocolViolation } from '../errors.js';
import { FrameType } from '../frames/types.js';
import type { Random } from '../../tls/random.js';
import { LocalCids, type NewCidFrameInfo, type ResetTokenFn } from './cids.js';

/**
 * Connection ids of the path ids other than 0 (draft-ietf-quic-multipath §5.1 / §4.5-§4.6):
 * with multipath each path id has its own connection ids and its own sequence numbers, issued
 * with PATH_NEW_CONNECTION_ID and retired with PATH_RETIRE_CONNECTION_ID. Path 0 keeps the
 * RFC 9000 sets (LocalCids / RemoteCids, which NEW_CONNECTION_ID and RETIRE_CONNECTION_ID also
 * mean); this holds path ids 1..n only, sans-IO, and is made only when multipath is offered.
 *
 * Ours are issued on demand, path id by path id (`serve`: `MultipathState.issueCids` says which
 * and how many), not for every path id the maxima allow: an idle connection would otherwise hold
 * (and route) maximum x limit connection ids it never uses ([perf2]: ~25 KB per connection with
 * 7 path ids). The peer's ones for a path id are kept up to our own limit. A path id can be
 * opened by either side once both sides gave connection ids for it (`peerCidFor`). A path id
 * forgotten (`forgetPath`) leaves nothing behind.
 */
export class PathCids {
  private readonly cidLength: number;
  private readonly random: Random;
  private readonly resetToken: ResetTokenFn;
  /** Our active_connection_id_limit: the most of the peer's connection ids we keep per path id. */
  private readonly ourLimit: number;
  /** The most connection ids we issue for one path id over the connection's life. */
  private readonly maxIssuedPerPath: number;
  /**
   * Ours, flat: a path id served, its LocalCids, ... (made with the first; a few path ids, so a
   * scan is cheap where a Map costs ~250 B).
   */
  private local: Array<number | LocalCids> | undefined;
  /** The peer's, one set per path id (made with the first). */
  private remote: PeerPathCids[] | undefined;
  /** The largest path id served. */
  private servedUpTo = 0;
  /** Ours of path ids forgotten, until the endpoint stops routing them (`takeRetired`). */
  private dropped: Uint8Array[] | undefined;
  /**
   * The last connection id `pathIdOf` found in no path id >= 1 (a binary string; '' none yet):
   * nearly every packet of a connection goes to the same path 0 id, whose next lookup is then one
   * comparison instead of a scan of every path id's ids (twice per datagram on the receive path).
   * The answer cannot change: we never issue an id twice, so an id outside every path id >= 1 now
   * never joins one.
   */
  private notOnPaths = '';

  constructor(cidLength: number, random: Random, resetToken: ResetTokenFn, ourLimit: number, maxIssuedPerPath = 16) {
    this.cidLength = cidLength;
    this.random = random;
    this.resetToken = resetToken;
    this.ourLimit = ourLimit;
    this.maxIssuedPerPath = maxIssuedPerPath;
  }

  /**
   * Keeps `count` of our connection ids issued for path id `pathId` ≥ 1 (at least as many as
   * before: a path id served one gets more once it opens; RFC 9000 §5.1.1, the peer's limit is
   * the caller's bound). The first call for a path id makes its set; retired ones are replaced up
   * to `count` (within `maxIssuedPerPath` over the connection's life).
   */
  serve(pathId: number, count: number): void {
    let cids = this.localOf(pathId);
    if (cids === undefined) {
      cids = new LocalCids(this.cidLength, this.random, this.resetToken, this.maxIssuedPerPath);
      if (this.local === undefined) this.local = [pathId, cids]; // sized exactly: a first push would make 17 slots
      else this.local.push(pathId, cids);
      if (pathId > this.servedUpTo) this.servedUpTo = pathId;
    } else if (cids.issueLimit >= count) {
      return;
    }
    cids.setPeerLimit(count);
  }

  /** How many connection ids we keep issued for `pathId` (0: not served, or closed). */
  servedCount(pathId: number): number {
    return this.localOf(pathId)?.issueLimit ?? 0;
  }

  /** The largest path id we issued connection ids for (0 before any). */
  get issuedMaxPathId(): number {
    return this.servedUpTo;
  }

  /** Our active connection ids of `pathId` (tests, routing). */
  localCidsOf(pathId: number): Uint8Array[] {
    return this.localOf(pathId)?.activeCids().map((c) => c.cid) ?? [];
  }

  /** The path id of one of our active connection ids, or undefined when it is none of these. */
  pathIdOf(dcid: Uint8Array): number | undefined {
    const l = this.local;
    if (l === undefined || (dcid.length > 0 && binaryStringEquals(this.notOnPaths, dcid))) return undefined;
    for (let i = 0; i < l.length; i += 2) if ((l[i + 1] as LocalCids).isActive(dcid)) return l[i] as number;
    this.notOnPaths = toBinaryString(dcid);
    return undefined;
  }

  /** True when a PATH_NEW_CONNECTION_ID is owed. */
  get hasPendingNewCid(): boolean {
    const l = this.local;
    if (l !== undefined) for (let i = 1; i < l.length; i += 2) if ((l[i] as LocalCids).hasPending) return true;
    return false;
  }

  /** The next PATH_NEW_CONNECTION_ID to send, or undefined; `onNewCidSent` once it is in a packet. */
  peekNewCid(): { readonly pathId: number; readonly info: NewCidFrameInfo } | undefined {
    const l = this.local;
    if (l === undefined) return undefined;
    for (let i = 0; i < l.length; i += 2) {
      const info = (l[i + 1] as LocalCids).peekPending();
      if (info) return { pathId: l[i] as number, info };
    }
    return undefined;
  }

  /** PATH_NEW_CONNECTION_ID (`pathId`, `seq`) is in a packet. */
  onNewCidSent(pathId: number, seq: number): void {
    this.localOf(pathId)?.onNewCidSent(seq);
  }

  /** Its packet was lost: re-sent while the connection id is active (RFC 9000 §13.3). */
  onNewCidLost(pathId: number, seq: number): void {
    this.localOf(pathId)?.onNewCidLost(seq);
  }

  /**
   * PATH_RETIRE_CONNECTION_ID from the peer (draft §4.6). A path id we never served retires what
   * was never issued: PROTOCOL_VIOLATION, as is retiring the connection id of its own packet.
   * A replacement is issued (the peer keeps up to its limit). The caller ignores the frame for a
   * path id forgotten (`forgetPath`: ours of it are retired already).
   */
  onRetire(pathId: number, seq: number, packetDcid: Uint8Array): void {
    const cids = this.localOf(pathId);
    if (!cids) throw protocolViolation(`PATH_RETIRE_CONNECTION_ID for path ${pathId}: no connection id was issued for it`, FrameType.PATH_RETIRE_CONNECTION_ID);
    cids.onRetire(seq, packetDcid, FrameType.PATH_RETIRE_CONNECTION_ID);
  }

  /**
   * PATH_NEW_CONNECTION_ID from the peer for `pathId` (≥ 1; the caller checked it against our
   * maximum, and ignores it for a path id abandoned). The same rules as NEW_CONNECTION_ID
   * (RFC 9000 §19.15) within the path id, and a connection id given for two path ids is a
   * PROTOCOL_VIOLATION.
   */
  onNewCid(pathId: number, seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    if (cid.length === 0) throw protocolViolation('zero-length connection id with multipath', FrameType.PATH_NEW_CONNECTION_ID);
    const remote = this.remote ?? [];
    for (const set of remote) {
      if (set.pathId !== pathId && set.has(cid)) throw protocolViolation(`connection id ${toHex(cid)} given for paths ${set.pathId} and ${pathId}`, FrameType.PATH_NEW_CONNECTION_ID);
    }
    let set = this.remoteOf(pathId);
    if (!set) {
      set = new PeerPathCids(pathId, this.ourLimit);
      if (this.remote === undefined) this.remote = [set];
      else this.remote.push(set);
    }
    set.onNewCid(seq, retirePriorTo, cid, resetToken);
  }

  /** The peer's lowest active connection id for `pathId`, with its sequence, or undefined. */
  peerCidFor(pathId: number): { readonly seq: number; readonly cid: Uint8Array } | undefined {
    return this.remoteOf(pathId)?.lowest();
  }

  /** Whether the peer gave us an active connection id for `pathId` (without making its bytes). */
  hasPeerCid(pathId: number): boolean {
    return this.remoteOf(pathId)?.isEmpty === false;
  }

  /** We stop using the peer's connection id (`pathId`, `seq`): a PATH_RETIRE_CONNECTION_ID is queued. */
  retirePeerCid(pathId: number, seq: number): void {
    this.remoteOf(pathId)?.retire(seq);
  }

  /**
   * Path id `pathId` was abandoned (draft §3.4): the peer's connection ids of it are retired
   * (PATH_RETIRE_CONNECTION_ID), and ours get no replacement when the peer retires them.
   */
  closePath(pathId: number): void {
    const set = this.remoteOf(pathId);
    if (set) for (let c = set.lowest(); c !== undefined; c = set.lowest()) set.retire(c.seq);
    this.localOf(pathId)?.setPeerLimit(0);
  }

  /**
   * Path id `pathId` is forgotten (its abandoned state lingered 3 PTOs): nothing of it is kept.
   * Ours of it stop being routed (draft §3.4: abandoning a path retires its connection ids; noq
   * retires its own the same way when the path drains), the peer's and the retirements still
   * owed go (the PATH_ABANDON retired them).
   */
  forgetPath(pathId: number): void {
    const l = this.local;
    const i = l === undefined ? -1 : l.indexOf(pathId);
    if (i >= 0) {
      const cids = l![i + 1] as LocalCids;
      const out = (this.dropped ??= []);
      cids.takeAdded(); // not routed yet (if still active, removed below: a no-op for the endpoint)
      for (const c of cids.takeRetired()) out.push(c);
      for (const c of cids.activeCids()) out.push(c.cid);
      l!.splice(i, 2);
    }
    const r = this.remote;
    const j = r === undefined ? -1 : r.findIndex((set) => set.pathId === pathId);
    if (j >= 0) r!.splice(j, 1);
  }

  /** The next PATH_RETIRE_CONNECTION_ID to send, or undefined; `onRetireSent` once it is in a packet. */
  peekRetire(): { readonly pathId: number; readonly seq: number } | undefined {
    if (this.remote === undefined) return undefined;
    for (const set of this.remote) {
      const seq = set.peekRetire();
      if (seq !== undefined) return { pathId: set.pathId, seq };
    }
    return undefined;
  }

  /** PATH_RETIRE_CONNECTION_ID (`pathId`, `seq`) is in a packet. */
  onRetireSent(pathId: number, seq: number): void {
    this.remoteOf(pathId)?.onRetireSent(seq);
  }

  /** Its packet was lost: re-sent while the path id is remembered. */
  onRetireLost(pathId: number, seq: number): void {
    this.remoteOf(pathId)?.onRetireLost(seq);
  }

  /** Our active connection ids of every path id, appended to `into` (the endpoint's routes). */
  activeCids(into: Uint8Array[]): void {
    const l = this.local;
    if (l !== undefined) for (let i = 1; i < l.length; i += 2) for (const c of (l[i] as LocalCids).activeCids()) into.push(c.cid);
  }

  /** Whether `takeAdded` or `takeRetired` has anything, for any path id (allocates nothing). */
  get hasChanges(): boolean {
    if (this.dropped !== undefined) return true;
    const l = this.local;
    if (l !== undefined) for (let i = 1; i < l.length; i += 2) if ((l[i] as LocalCids).hasChanges) return true;
    return false;
  }

  /** Our connection ids added since the last call, of every path id (the endpoint routes them). */
  takeAdded(into: Uint8Array[]): void {
    const l = this.local;
    if (l !== undefined) for (let i = 1; i < l.length; i += 2) for (const c of (l[i] as LocalCids).takeAdded()) into.push(c);
  }

  /** Our connection ids retired since the last call (the endpoint stops routing them). */
  takeRetired(into: Uint8Array[]): void {
    const l = this.local;
    if (l !== undefined) for (let i = 1; i < l.length; i += 2) for (const c of (l[i] as LocalCids).takeRetired()) into.push(c);
    if (this.dropped !== undefined) {
      for (const c of this.dropped) into.push(c);
      this.dropped = undefined;
    }
  }

  /** RFC 9000 §10.3.1 over the peer's connection ids of every path id, in constant time each. */
  isStatelessReset(tail: Uint8Array): boolean {
    let match = false;
    if (this.remote !== undefined) for (const set of this.remote) if (set.matchesResetToken(tail)) match = true;
    return match;
  }

  private localOf(pathId: number): LocalCids | undefined {
    const l = this.local;
    if (l !== undefined) for (let i = 0; i < l.length; i += 2) if (l[i] === pathId) return l[i + 1] as LocalCids;
    return undefined;
  }

  private remoteOf(pathId: number): PeerPathCids | undefined {
    if (this.remote !== undefined) for (const set of this.remote) if (set.pathId === pathId) return set;
    return undefined;
  }
}

/**
 * The peer's connection ids of one path id (RFC 9000 §5.1.2 rules within it), kept as binary
 * strings in one flat array ([perf2]: a Map of objects holding arrays cost ~650 B for one).
 */
class PeerPathCids {
  readonly pathId: number;
  private readonly limit: number;
  /** Active, flat: sequence, connection id, reset token (binary strings), sequence, ... */
  private active: Array<number | string> = NO_CIDS;
  private retirePriorTo = 0;
  /** Sequences whose PATH_RETIRE_CONNECTION_ID is owed (made by the first). */
  private pendingRetire: number[] | undefined;
  /** The lowest active one with its bytes, made when asked (every packet on the path carries them). */
  private lowestCid: { readonly seq: number; readonly cid: Uint8Array } | undefined;

  constructor(pathId: number, limit: number) {
    this.pathId = pathId;
    this.limit = limit;
  }

  has(cid: Uint8Array): boolean {
    for (let i = 0; i < this.active.length; i += 3) if (binaryStringEquals(this.active[i + 1] as string, cid)) return true;
    return false;
  }

  get isEmpty(): boolean {
    return this.active.length === 0;
  }

  onNewCid(seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    const type = FrameType.PATH_NEW_CONNECTION_ID;
    const at = this.indexOf(seq);
    if (at >= 0) {
      if (!binaryStringEquals(this.active[at + 1] as string, cid) || !binaryStringEquals(this.active[at + 2] as string, resetToken)) {
        throw protocolViolation(`sequence ${seq} reused for another connection id`, type);
      }
      return;
    }
    if (this.has(cid)) throw protocolViolation(`connection id ${toHex(cid)} repeated with another sequence`, type);
    if (seq < this.retirePriorTo) this.addRetire(seq);
    else if (this.active === NO_CIDS) this.active = [seq, toBinaryString(cid), toBinaryString(resetToken)]; // sized exactly
    else this.active.push(seq, toBinaryString(cid), toBinaryString(resetToken));
    if (retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = retirePriorTo;
      for (let i = this.active.length - 3; i >= 0; i -= 3) {
        const s = this.active[i] as number;
        if (s < retirePriorTo) {
          this.active.splice(i, 3);
          this.addRetire(s);
        }
      }
      this.lowestCid = undefined;
    }
    if (this.active.length / 3 > this.limit) {
      throw new TransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, `${this.active.length / 3} active connection ids of one path exceed our limit of ${this.limit}`, type);
    }
    if ((this.pendingRetire?.length ?? 0) > 2 * this.limit) {
      throw new TransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, 'too many connection ids to retire', type);
    }
  }

  lowest(): { readonly seq: number; readonly cid: Uint8Array } | undefined {
    let best = -1;
    for (let i = 0; i < this.active.length; i += 3) if (best < 0 || (this.active[i] as number) < (this.active[best] as number)) best = i;
    if (best < 0) return undefined;
    const seq = this.active[best] as number;
    if (this.lowestCid?.seq !== seq) this.lowestCid = { seq, cid: fromBinaryString(this.active[best + 1] as string) };
    return this.lowestCid;
  }

  retire(seq: number): void {
    const at = this.indexOf(seq);
    if (at < 0) return;
    this.active.splice(at, 3);
    if (this.lowestCid?.seq === seq) this.lowestCid = undefined;
    this.addRetire(seq);
  }

  peekRetire(): number | undefined {
    return this.pendingRetire?.[0];
  }

  onRetireSent(seq: number): void {
    const p = this.pendingRetire;
    if (p === undefined) return;
    const i = p.indexOf(seq);
    if (i >= 0) p.splice(i, 1);
    if (p.length === 0) this.pendingRetire = undefined;
  }

  onRetireLost(seq: number): void {
    this.addRetire(seq);
  }

  matchesResetToken(tail: Uint8Array): boolean {
    let match = false;
    for (let i = 0; i < this.active.length; i += 3) if (binaryStringEqualsConstantTime(this.active[i + 2] as string, tail)) match = true;
    return match;
  }

  private indexOf(seq: number): number {
    for (let i = 0; i < this.active.length; i += 3) if (this.active[i] === seq) return i;
    return -1;
  }

  private addRetire(seq: number): void {
    const p = this.pendingRetire;
    if (p === undefined) this.pendingRetire = [seq];
    else if (!p.includes(seq)) p.push(seq);
  }
}

/** The active connection ids of a set that has none yet (shared, never written: `onNewCid` replaces it). */
const NO_CIDS: Array<number | string> = [];
