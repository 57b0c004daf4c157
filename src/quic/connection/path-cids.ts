import { bytesEqual, constantTimeEqual, toHex } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode, protocolViolation } from '../errors.js';
import { FrameType } from '../frames/types.js';
import type { Random } from '../../tls/random.js';
import { LocalCids, type NewCidFrameInfo, type ResetTokenFn } from './cids.js';

/**
 * Connection ids of the path ids other than 0 (draft-ietf-quic-multipath §5.1 / §4.5-§4.6):
 * with multipath each path id has its own connection ids and its own sequence numbers, issued
 * with PATH_NEW_CONNECTION_ID and retired with PATH_RETIRE_CONNECTION_ID. Path 0 keeps the
 * RFC 9000 sets (LocalCids / RemoteCids, which NEW_CONNECTION_ID and RETIRE_CONNECTION_ID also
 * mean); this holds path ids 1..n only, sans-IO, and is made only when multipath was negotiated.
 *
 * We issue connection ids for every path id up to the smaller of the two maxima (our
 * initial_max_path_id or MAX_PATH_ID, and the peer's), as many per path id as the peer's
 * active_connection_id_limit; the peer's ones for a path id are kept up to our own limit. A path
 * id can be opened by either side once both sides gave connection ids for it (`peerCidFor`).
 */
export class PathCids {
  private readonly cidLength: number;
  private readonly random: Random;
  private readonly resetToken: ResetTokenFn;
  /** Our active_connection_id_limit: the most of the peer's connection ids we keep per path id. */
  private readonly ourLimit: number;
  /** The most connection ids we issue for one path id over the connection's life. */
  private readonly maxIssuedPerPath: number;
  /** Ours, by path id (1..issuedUpTo). */
  private readonly local = new Map<number, LocalCids>();
  /** The peer's, by path id. */
  private readonly remote = new Map<number, PeerPathCids>();
  private issuedUpTo = 0;
  private peerLimit = 2;
  /** Path ids the peer told us it lacks connection ids for (PATH_CIDS_BLOCKED), with the next sequence it wants. */
  private readonly blocked = new Map<number, number>();

  constructor(cidLength: number, random: Random, resetToken: ResetTokenFn, ourLimit: number, maxIssuedPerPath = 16) {
    this.cidLength = cidLength;
    this.random = random;
    this.resetToken = resetToken;
    this.ourLimit = ourLimit;
    this.maxIssuedPerPath = maxIssuedPerPath;
  }

  /**
   * Both maxima are known or one was raised (MAX_PATH_ID): issue connection ids for the path ids
   * up to `maxPathId` (the smaller maximum) not yet served, `peerLimit` each (the peer's
   * active_connection_id_limit, RFC 9000 §5.1.1). Path ids once served are never served again.
   */
  issueUpTo(maxPathId: number, peerLimit: number): void {
    this.peerLimit = peerLimit;
    for (let id = this.issuedUpTo + 1; id <= maxPathId; id++) {
      const cids = new LocalCids(this.cidLength, this.random, this.resetToken, this.maxIssuedPerPath);
      cids.setPeerLimit(peerLimit);
      this.local.set(id, cids);
    }
    if (maxPathId > this.issuedUpTo) this.issuedUpTo = maxPathId;
  }

  /** The largest path id we issued connection ids for (0 before any). */
  get issuedMaxPathId(): number {
    return this.issuedUpTo;
  }

  /** Our active connection ids of `pathId` (tests, routing). */
  localCidsOf(pathId: number): Uint8Array[] {
    return this.local.get(pathId)?.activeCids().map((c) => c.cid) ?? [];
  }

  /** The path id of one of our active connection ids, or undefined when it is none of these. */
  pathIdOf(dcid: Uint8Array): number | undefined {
    for (const [id, cids] of this.local) if (cids.isActive(dcid)) return id;
    return undefined;
  }

  /** True when a PATH_NEW_CONNECTION_ID is owed. */
  get hasPendingNewCid(): boolean {
    for (const cids of this.local.values()) if (cids.hasPending) return true;
    return false;
  }

  /** The next PATH_NEW_CONNECTION_ID to send, or undefined; `onNewCidSent` once it is in a packet. */
  peekNewCid(): { readonly pathId: number; readonly info: NewCidFrameInfo } | undefined {
    for (const [pathId, cids] of this.local) {
      const info = cids.peekPending();
      if (info) return { pathId, info };
    }
    return undefined;
  }

  /** PATH_NEW_CONNECTION_ID (`pathId`, `seq`) is in a packet. */
  onNewCidSent(pathId: number, seq: number): void {
    this.local.get(pathId)?.onNewCidSent(seq);
  }

  /** Its packet was lost: re-sent while the connection id is active (RFC 9000 §13.3). */
  onNewCidLost(pathId: number, seq: number): void {
    this.local.get(pathId)?.onNewCidLost(seq);
  }

  /**
   * PATH_RETIRE_CONNECTION_ID from the peer (draft §4.6). A path id we never served retires what
   * was never issued: PROTOCOL_VIOLATION, as is retiring the connection id of its own packet.
   * A replacement is issued (the peer keeps up to its limit).
   */
  onRetire(pathId: number, seq: number, packetDcid: Uint8Array): void {
    const cids = this.local.get(pathId);
    if (!cids) throw protocolViolation(`PATH_RETIRE_CONNECTION_ID for path ${pathId}: no connection id was issued for it`, FrameType.PATH_RETIRE_CONNECTION_ID);
    cids.onRetire(seq, packetDcid, FrameType.PATH_RETIRE_CONNECTION_ID);
  }

  /**
   * PATH_NEW_CONNECTION_ID from the peer for `pathId` (≥ 1; the caller checked it against our
   * maximum). The same rules as NEW_CONNECTION_ID (RFC 9000 §19.15) within the path id, and a
   * connection id given for two path ids is a PROTOCOL_VIOLATION.
   */
  onNewCid(pathId: number, seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    if (cid.length === 0) throw protocolViolation('zero-length connection id with multipath', FrameType.PATH_NEW_CONNECTION_ID);
    for (const [id, set] of this.remote) {
      if (id !== pathId && set.has(cid)) throw protocolViolation(`connection id ${toHex(cid)} given for paths ${id} and ${pathId}`, FrameType.PATH_NEW_CONNECTION_ID);
    }
    let set = this.remote.get(pathId);
    if (!set) this.remote.set(pathId, (set = new PeerPathCids(this.ourLimit)));
    set.onNewCid(seq, retirePriorTo, cid, resetToken);
  }

  /** The peer's lowest active connection id for `pathId`, with its sequence, or undefined. */
  peerCidFor(pathId: number): { readonly seq: number; readonly cid: Uint8Array } | undefined {
    return this.remote.get(pathId)?.lowest();
  }

  /** We stop using the peer's connection id (`pathId`, `seq`): a PATH_RETIRE_CONNECTION_ID is queued. */
  retirePeerCid(pathId: number, seq: number): void {
    this.remote.get(pathId)?.retire(seq);
  }

  /** The next PATH_RETIRE_CONNECTION_ID to send, or undefined; `onRetireSent` once it is in a packet. */
  peekRetire(): { readonly pathId: number; readonly seq: number } | undefined {
    for (const [pathId, set] of this.remote) {
      const seq = set.peekRetire();
      if (seq !== undefined) return { pathId, seq };
    }
    return undefined;
  }

  /** PATH_RETIRE_CONNECTION_ID (`pathId`, `seq`) is in a packet. */
  onRetireSent(pathId: number, seq: number): void {
    this.remote.get(pathId)?.onRetireSent(seq);
  }

  /** Its packet was lost: always re-sent. */
  onRetireLost(pathId: number, seq: number): void {
    this.remote.get(pathId)?.onRetireLost(seq);
  }

  /**
   * PATH_CIDS_BLOCKED from the peer (draft §4.8): it wants sequence `nextSequence` of `pathId`.
   * We keep the peer at its limit already, so this is recorded (stats, tests) and nothing more;
   * a path id we did not serve is served when the maxima allow it (`issueUpTo`).
   */
  onCidsBlocked(pathId: number, nextSequence: number): void {
    this.blocked.set(pathId, nextSequence);
  }

  /** The path ids the peer said it lacks connection ids for (tests). */
  get blockedPathIds(): number[] {
    return [...this.blocked.keys()];
  }

  /** Our connection ids added since the last call, of every path id (the endpoint routes them). */
  takeAdded(into: Uint8Array[]): void {
    for (const cids of this.local.values()) for (const c of cids.takeAdded()) into.push(c);
  }

  /** Our connection ids retired since the last call (the endpoint stops routing them). */
  takeRetired(into: Uint8Array[]): void {
    for (const cids of this.local.values()) for (const c of cids.takeRetired()) into.push(c);
  }

  /** RFC 9000 §10.3.1 over the peer's connection ids of every path id, in constant time each. */
  isStatelessReset(tail: Uint8Array): boolean {
    let match = false;
    for (const set of this.remote.values()) if (set.matchesResetToken(tail)) match = true;
    return match;
  }
}

/** The peer's connection ids of one path id (RFC 9000 §5.1.2 rules within it). */
class PeerPathCids {
  private readonly limit: number;
  private readonly active = new Map<number, { readonly cid: Uint8Array; readonly resetToken: Uint8Array }>();
  private retirePriorTo = 0;
  private readonly pendingRetire = new Set<number>();

  constructor(limit: number) {
    this.limit = limit;
  }

  has(cid: Uint8Array): boolean {
    for (const c of this.active.values()) if (bytesEqual(c.cid, cid)) return true;
    return false;
  }

  onNewCid(seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    const type = FrameType.PATH_NEW_CONNECTION_ID;
    const known = this.active.get(seq);
    if (known) {
      if (!bytesEqual(known.cid, cid) || !bytesEqual(known.resetToken, resetToken)) throw protocolViolation(`sequence ${seq} reused for another connection id`, type);
      return;
    }
    for (const c of this.active.values()) {
      if (bytesEqual(c.cid, cid)) throw protocolViolation(`connection id ${toHex(cid)} repeated with another sequence`, type);
    }
    if (seq < this.retirePriorTo) this.pendingRetire.add(seq);
    else this.active.set(seq, { cid, resetToken });
    if (retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = retirePriorTo;
      for (const s of [...this.active.keys()]) {
        if (s < retirePriorTo) {
          this.active.delete(s);
          this.pendingRetire.add(s);
        }
      }
    }
    if (this.active.size > this.limit) {
      throw new TransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, `${this.active.size} active connection ids of one path exceed our limit of ${this.limit}`, type);
    }
    if (this.pendingRetire.size > 2 * this.limit) {
      throw new TransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, 'too many connection ids to retire', type);
    }
  }

  lowest(): { readonly seq: number; readonly cid: Uint8Array } | undefined {
    let best: number | undefined;
    for (const s of this.active.keys()) if (best === undefined || s < best) best = s;
    return best === undefined ? undefined : { seq: best, cid: this.active.get(best)!.cid };
  }

  retire(seq: number): void {
    if (this.active.delete(seq)) this.pendingRetire.add(seq);
  }

  peekRetire(): number | undefined {
    for (const s of this.pendingRetire) return s;
    return undefined;
  }

  onRetireSent(seq: number): void {
    this.pendingRetire.delete(seq);
  }

  onRetireLost(seq: number): void {
    this.pendingRetire.add(seq);
  }

  matchesResetToken(tail: Uint8Array): boolean {
    let match = false;
    for (const c of this.active.values()) if (constantTimeEqual(c.resetToken, tail)) match = true;
    return match;
  }
}
