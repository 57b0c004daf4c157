import { protocolViolation } from '../errors.js';
import { FrameType } from '../frames/types.js';
import { PacketSpace } from '../packet/space.js';
import { RangeSet } from '../range-set.js';
import { AckTracker, type AckTrackerOptions } from '../recovery/ack-tracker.js';
import { DEFAULT_TRANSPORT_CONFIG } from '../transport-config.js';
import type { TransportParameters } from '../transport-params.js';
import type { PathCids } from './path-cids.js';
import { OurPathAbandon, type PathIdCounters, type PathIdState } from './path-id.js';

/**
 * What multipath (draft-ietf-quic-multipath, as noq speaks it) and iroh's n0 NAT traversal come
 * to once both sides' transport parameters are known.
 *
 * draft-ietf-quic-multipath §2: multipath is used when both endpoints sent initial_max_path_id,
 * and only once the handshake is complete; each endpoint may open path ids up to the maximum its
 * PEER allowed (raised later by MAX_PATH_ID). n0 NAT traversal (noq's `set_peer_params`) needs
 * multipath and its own parameter from both sides: each side keeps at most as many of its peer's
 * addresses as its own parameter says, and sends at most as many of its own as the peer's says.
 */
export interface MultipathNegotiation {
  /** The largest path id WE let the peer open (our initial_max_path_id). */
  readonly localMaxPathId: number;
  /** The largest path id the peer lets US open (its initial_max_path_id). */
  readonly remoteMaxPathId: number;
  /** n0 NAT traversal, or null when either side did not send its parameter. */
  readonly natTraversal: {
    /** How many of the peer's addresses we keep (our parameter). */
    readonly maxRemoteAddresses: number;
    /** How many of our addresses the peer keeps, so how many we may announce (its parameter). */
    readonly maxLocalAddresses: number;
  } | null;
}

/**
 * Negotiates multipath and n0 NAT traversal from our parameters and the peer's. Returns null when
 * multipath is not used (either side did not offer it: the peer's initial_max_path_id is then an
 * extension we ignore, RFC 9000 §7.4.2).
 *
 * `localCidLength` is the length of the connection ids we issue; `peerCidLength` that of the
 * peer's (its initial_source_connection_id).
 *
 * @throws TransportError PROTOCOL_VIOLATION when both offered multipath and either side uses
 *   zero-length connection ids (draft-ietf-quic-multipath §2: multipath needs a connection id per
 *   path; noq closes with PROTOCOL_VIOLATION "multipath must not use zero-length CIDs").
 */
export function negotiateMultipath(
  local: TransportParameters,
  peer: TransportParameters,
  localCidLength: number,
  peerCidLength: number,
): MultipathNegotiation | null {
  if (local.initialMaxPathId === null || peer.initialMaxPathId === null) return null;
  if (localCidLength === 0 || peerCidLength === 0) {
    throw protocolViolation('multipath must not use zero-length connection ids');
  }
  const natTraversal =
    local.n0NatTraversal !== null && peer.n0NatTraversal !== null
      ? { maxRemoteAddresses: local.n0NatTraversal, maxLocalAddresses: peer.n0NatTraversal }
      : null;
  return { localMaxPathId: local.initialMaxPathId, remoteMaxPathId: peer.initialMaxPathId, natTraversal };
}

/**
 * The initial_max_path_id we send by default when multipath is on (TransportConfig.multipath,
 * `multipathMaxPathId`): 7, as iroh sends.
 */
export const ADVERTISED_MAX_PATH_ID = DEFAULT_TRANSPORT_CONFIG.multipathMaxPathId;

/** The open path ids of a connection that has none. */
const NO_PATHS: ReadonlyMap<number, never> = new Map<number, never>();

const COUNTER_KEYS = ['packetsSent', 'bytesSent', 'packetsReceived', 'bytesReceived', 'packetsLost'] as const;

/** The most connection ids we keep issued per path id other than 0 (the peer's limit if lower). */
export const PATH_CID_COUNT = 4;

/**
 * The receive spaces of every connection that got no packet on a path id >= 1: one shared empty
 * map, never written (a MultipathState makes its own with its first entry).
 */
const NO_SPACES = new Map<number, AckTracker>();

/**
 * The multipath state of a connection that negotiated it, while only path 0 is used: the largest
 * path id the peer lets us open (MAX_PATH_ID raises it), the peer's status for path 0, and the
 * rules of the frames about paths we never opened (draft-ietf-quic-multipath §4). The frames
 * about path 0 go to the parts that own path 0's state (the frame dispatcher sends them).
 */
export class MultipathState<T = unknown> {
  private peerMaxPathId = -1;
  private status: 'available' | 'backup' = 'available';
  private statusSeq = -1;
  /** The connection ids of path ids 1..n; null when multipath is off (TransportConfig.multipath). */
  readonly cids: PathCids | null;

  /** The packet numbers received on path ids 1..n, one tracker per path id that got a packet. */
  private received: Map<number, AckTracker> = NO_SPACES;
  /** The open (or lingering abandoned) path ids ≥ 1, by id. */
  /** Made with the first path id opened: a connection without multipath allocates none. */
  private open: Map<number, PathIdState<T>> | undefined;
  /** Path ids ever opened (never reused, draft §3.1): the largest. */
  private largestOpened = 0;
  /** Our maximum as raised by MAX_PATH_ID after abandons (-1: the initial one). */
  private localMaxRaised = -1;
  private maxPathIdOwed = false;
  /** PATHS_BLOCKED owed (the peer's maximum that blocks us), or -1. */
  private pathsBlockedOwed = -1;
  /** PATH_CIDS_BLOCKED owed: the path id lacking a peer connection id, or -1. */
  private cidsBlockedOwed = -1;
  /** The path id of the packet being processed (0: path 0; set by the receive path). */
  private rx = 0;
  /** What the forgotten path ids sent and received (made with the first forgotten). */
  private forgottenCounters: PathIdCounters | undefined;

  /** `cids`: made by the connection when it offers multipath (no allocation otherwise). */
  constructor(cids: PathCids | null = null) {
    this.cids = cids;
  }

  /**
   * The receive space of path id `pathId` (≥ 1): its own packet numbers, duplicates and what
   * PATH_ACK will say (draft-ietf-quic-multipath: each path id has its own Application packet
   * number space). Made when its first packet arrives; only path ids we issued connection ids
   * for get one (`pathIdOf` names no other), so there are at most our maximum path id of them.
   */
  receiveSpace(pathId: number, options: AckTrackerOptions): AckTracker {
    let t = this.received.get(pathId);
    if (t === undefined) {
      const most = this.cids?.issuedMaxPathId ?? 0;
      if (!(pathId >= 1 && pathId <= most)) throw new RangeError(`path id ${pathId} outside 1..${most}`);
      t = new AckTracker(PacketSpace.Application, options);
      if (this.received === NO_SPACES) this.received = new Map();
      this.received.set(pathId, t);
    }
    return t;
  }

  /** The receive space of `pathId` if a packet arrived on it (tests, PATH_ACK). */
  receivedOn(pathId: number): AckTracker | undefined {
    return this.received.get(pathId);
  }

  /** The receive spaces of path ids ≥ 1, by id (PATH_ACK). */
  get receiveSpaces(): ReadonlyMap<number, AckTracker> {
    return this.received;
  }

  /** Whether a PATH_ACK is owed for some path id ≥ 1 (piggybacked on the next 1-RTT packet). */
  get ackPending(): boolean {
    for (const t of this.received.values()) if (t.ackPending) return true;
    return false;
  }

  /** Whether a PATH_ACK is due now (RFC 9000 §13.2.1 per path id: an ACK-only packet may go). */
  ackDue(now: number): boolean {
    for (const t of this.received.values()) if (t.ackPending && t.shouldSendAck(now)) return true;
    return false;
  }

  /** The earliest ACK delay deadline over path ids ≥ 1 (Infinity: none). */
  get ackDeadline(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const a of this.received.values()) if (a.ackDeadline < t) t = a.ackDeadline;
    return t;
  }

  /** The path id of the packet being processed (0: path 0). */
  get rxPathId(): number {
    return this.rx;
  }

  /** The receive path names the path id of the packet whose frames follow. */
  setRxPathId(pathId: number): void {
    this.rx = pathId;
  }

  /** The source and size of the datagram being processed, when it is for a path id ≥ 1. */
  setRxDatagram(from: string | undefined, size: number): void {
    this.rxFrom = from;
    this.rxSize = size;
  }

  /** The datagram `setRxDatagram` named. */
  get rxDatagram(): { readonly from: string | undefined; readonly size: number } {
    return { from: this.rxFrom, size: this.rxSize };
  }

  private rxFrom: string | undefined;
  private rxSize = 0;

  // ------------------------------------------------------------------ open path ids

  /** The open path id `pathId` ≥ 1, or undefined. */
  pathAt(pathId: number): PathIdState<T> | undefined {
    return this.open?.get(pathId);
  }

  /** The open (and lingering abandoned) path ids ≥ 1, in the order they opened. */
  get paths(): ReadonlyMap<number, PathIdState<T>> {
    return this.open ?? NO_PATHS;
  }

  /** Whether `pathId` was ever opened (a path id is never used twice, draft §3.1). */
  wasOpened(pathId: number): boolean {
    return (this.open?.has(pathId) ?? false) || (this.closed?.has(pathId) ?? false);
  }

  /**
   * The path ids forgotten, as ranges: a peer may open and abandon paths for the life of the
   * connection (each forgotten one raises our maximum by one), so a set of every id would grow
   * without bound; they close mostly in order, and the ids never opened below the largest are
   * bounded by the maximum's headroom, so the ranges stay few.
   */
  private closed: RangeSet | undefined;

  /** How many ranges the forgotten path ids take (tests: the bound above). */
  get closedRanges(): number {
    return this.closed?.size ?? 0;
  }

  /**
   * The path id a new path of ours gets: the smallest never opened within both maxima, or a
   * reason it cannot be opened now (the peer's maximum: PATHS_BLOCKED is owed; no connection id
   * of the peer for it: PATH_CIDS_BLOCKED is owed; draft §4.7, §4.8).
   */
  nextPathId(n: MultipathNegotiation): number | 'pathIds' | 'cids' {
    const max = Math.min(this.localMaxPathId(n), this.remoteMaxPathId(n));
    let id = this.largestOpened + 1;
    while (this.wasOpened(id)) id++;
    if (id > this.remoteMaxPathId(n)) {
      this.pathsBlockedOwed = this.remoteMaxPathId(n);
      return 'pathIds';
    }
    if (id > max || this.cids?.hasPeerCid(id) !== true) {
      this.cidsBlockedOwed = id;
      return 'cids';
    }
    return id;
  }

  /** The peer opened `pathId` before giving us a connection id for it: PATH_CIDS_BLOCKED is owed. */
  askPeerCids(pathId: number): void {
    this.cidsBlockedOwed = pathId;
  }

  /** A path id opened (by us or by the peer). */
  add(p: PathIdState<T>): void {
    (this.open ??= new Map()).set(p.id, p);
    if (p.id > this.largestOpened) this.largestOpened = p.id;
  }

  /**
   * An abandoned path id's lingering ended: its state goes, its connection ids both ways too
   * (`PathCids.forgetPath`). noq's rule: each closed path id lets the peer open one more
   * (MAX_PATH_ID raised by one; the caller calls `issueCids`).
   */
  forget(n: MultipathNegotiation, pathId: number): void {
    const st = this.open?.get(pathId);
    if (st === undefined) return;
    this.open!.delete(pathId);
    const f = (this.forgottenCounters ??= { packetsSent: 0, bytesSent: 0, packetsReceived: 0, bytesReceived: 0, packetsLost: 0 });
    for (const k of COUNTER_KEYS) f[k] += st.counters[k];
    (this.closed ??= new RangeSet()).add(pathId);
    this.cids?.forgetPath(pathId);
    this.received.get(pathId)?.release();
    this.received.delete(pathId);
    this.localMaxRaised = this.localMaxPathId(n) + 1;
    this.maxPathIdOwed = true;
  }

  /**
   * What the forgotten path ids sent and received, summed (so path 0's figures, the connection's
   * minus the other path ids', do not take them over).
   */
  get forgotten(): Readonly<PathIdCounters> | undefined {
    return this.forgottenCounters;
  }

  /** The largest path id we let the peer open, raised as paths close. */
  localMaxPathId(n: MultipathNegotiation): number {
    return Math.max(this.localMaxRaised, n.localMaxPathId);
  }

  /** The MAX_PATH_ID owed (our raised maximum), or undefined. */
  pendingMaxPathId(n: MultipathNegotiation): number | undefined {
    return this.maxPathIdOwed ? this.localMaxPathId(n) : undefined;
  }

  onMaxPathIdSent(): void {
    this.maxPathIdOwed = false;
  }

  /** MAX_PATH_ID was lost: sent again (with the current value). */
  onMaxPathIdLost(): void {
    this.maxPathIdOwed = true;
  }

  /** PATHS_BLOCKED owed (the maximum), PATH_CIDS_BLOCKED owed (the path id); -1: none. Taken once. */
  takeBlocked(): { readonly paths: number; readonly cids: number } {
    const r = { paths: this.pathsBlockedOwed, cids: this.cidsBlockedOwed };
    this.pathsBlockedOwed = -1;
    this.cidsBlockedOwed = -1;
    return r;
  }

  /** Whether PATHS_BLOCKED or PATH_CIDS_BLOCKED is owed. */
  get blockedPending(): boolean {
    return this.pathsBlockedOwed >= 0 || this.cidsBlockedOwed >= 0;
  }

  /**
   * Our connection ids for the path ids ≥ 1 (draft-ietf-quic-multipath §5.1), issued on demand
   * ([perf2]: an idle connection holds no connection ids for paths it never opens):
   *
   * - each open path id (opened by either side, not abandoned): `PATH_CID_COUNT`, or the peer's
   *   limit if lower (RFC 9000 §5.1.1: "MUST NOT provide more connection IDs than the peer's
   *   limit"), so the peer can change connection id on it;
   * - the next path id (one above the largest opened), within both maxima: one, so that either
   *   side can open it at once (the peer sends its first packet to it; we need it for the peer's
   *   answers), topped up when it opens;
   * - a path id the peer asks for with PATH_CIDS_BLOCKED (`onPeerCidsBlocked`).
   *
   * Called when multipath is negotiated, when either maximum is raised, when a path id opens and
   * when one is forgotten. noq issues for every allowed path id up front; it opens a path id
   * only once it holds one of our connection ids for it, and tries again when one arrives.
   */
  issueCids(n: MultipathNegotiation, peerCidLimit: number): void {
    const cids = this.cids;
    if (cids === null) return;
    const full = Math.min(peerCidLimit, PATH_CID_COUNT);
    for (const st of this.paths.values()) if (!st.isAbandoned) cids.serve(st.id, full);
    const next = this.largestOpened + 1;
    if (next <= Math.min(this.localMaxPathId(n), this.remoteMaxPathId(n))) cids.serve(next, 1);
  }

  /**
   * PATH_CIDS_BLOCKED from the peer (draft §4.8; the caller checked `pathId` against our
   * maximum): it wants connection ids of `pathId`. A path id open or never opened within both
   * maxima gets the full count (`issueCids`); one abandoned or forgotten gets nothing; one above
   * the peer's maximum cannot be served (the peer would refuse them).
   */
  onPeerCidsBlocked(n: MultipathNegotiation, pathId: number, peerCidLimit: number): void {
    const cids = this.cids;
    if (cids === null || pathId === 0 || pathId > Math.min(this.localMaxPathId(n), this.remoteMaxPathId(n)) || this.isClosedPathId(pathId)) return;
    cids.serve(pathId, Math.min(peerCidLimit, PATH_CID_COUNT));
  }

  /** Whether `pathId` ≥ 1 was forgotten (abandoned, and its lingering over). */
  isForgotten(pathId: number): boolean {
    return this.closed?.has(pathId) ?? false;
  }

  /** Whether `pathId` ≥ 1 was abandoned (lingering or forgotten): its connection ids are over. */
  isClosedPathId(pathId: number): boolean {
    return this.open?.get(pathId)?.isAbandoned ?? this.closed?.has(pathId) ?? false;
  }

  /** The largest path id the peer lets us open (-1 before the negotiation is known). */
  remoteMaxPathId(n: MultipathNegotiation): number {
    return Math.max(this.peerMaxPathId, n.remoteMaxPathId);
  }

  /** The peer's status for path 0 (draft §3.3; 'available' until it says otherwise). */
  get pathZeroStatus(): 'available' | 'backup' {
    return this.status;
  }

  /** Our status for path 0. */
  get localPathZeroStatus(): 'available' | 'backup' {
    return this.localZero;
  }

  /** We change our status for path 0: a PATH_STATUS_* with the next sequence number is owed. */
  setLocalPathZeroStatus(status: 'available' | 'backup'): void {
    if (status === this.localZero && this.localZeroSeq > 0) return;
    this.localZero = status;
    this.localZeroSeq++;
    this.localZeroOwed = true;
  }

  /** The PATH_STATUS_* for path 0 owed, or undefined. */
  get pendingPathZeroStatus(): { readonly status: 'available' | 'backup'; readonly sequence: number } | undefined {
    return this.localZeroOwed ? { status: this.localZero, sequence: this.localZeroSeq } : undefined;
  }

  onPathZeroStatusSent(): void {
    this.localZeroOwed = false;
  }

  /** Its packet was lost: sent again unless a newer one replaced it. */
  onPathZeroStatusLost(seq: number): void {
    if (seq === this.localZeroSeq) this.localZeroOwed = true;
  }

  private localZero: 'available' | 'backup' = 'available';
  private localZeroSeq = 0;
  private localZeroOwed = false;

  // ------------------------------------------------------------------ path 0 abandoned (draft §3.4)

  /**
   * Path 0 was abandoned (by either side, while another path was open): nothing but PATH_ACKs
   * of its late packets, on another path, is sent for it any more. Its state (`PathSet`, the
   * Application space) stays; only the sending stops.
   */
  get isPathZeroAbandoned(): boolean {
    return this.zeroAbandonedAt !== Number.POSITIVE_INFINITY;
  }

  /**
   * Path 0 is abandoned at `now`: a PATH_ABANDON with `code` is owed (we answer the peer's with
   * our own, as for other path ids); its late packets are acknowledged for `linger` ms (3 PTOs).
   */
  abandonPathZero(now: number, code: number, linger: number): void {
    if (this.isPathZeroAbandoned) return;
    this.zeroAbandonedAt = now;
    this.zeroForgetAt = now + linger;
    this.zeroAbandon = new OurPathAbandon(code);
    this.localZeroOwed = false;
  }

  /** Our PATH_ABANDON of path 0, once abandoned (we answer the peer's with our own). */
  get pathZeroAbandonFrame(): OurPathAbandon | undefined {
    return this.zeroAbandon;
  }

  /**
   * When path 0's late packets stop being acknowledged (Infinity: open, already past, or our
   * PATH_ABANDON not acknowledged yet: as for other path ids, `PathIdState.forgetDeadline`).
   */
  get pathZeroForgetDeadline(): number {
    return this.zeroForgotten || (this.zeroAbandon !== undefined && !this.zeroAbandon.isAcknowledged) ? Number.POSITIVE_INFINITY : this.zeroForgetAt;
  }

  /** Path 0's lingering ended: its packets are no longer acknowledged. */
  forgetPathZero(): void {
    if (this.isPathZeroAbandoned) this.zeroForgotten = true;
  }

  /** Whether path 0's lingering ended (its late packets are no longer acknowledged). */
  get isPathZeroForgotten(): boolean {
    return this.zeroForgotten;
  }

  private zeroAbandonedAt = Number.POSITIVE_INFINITY;
  private zeroForgetAt = Number.POSITIVE_INFINITY;
  private zeroAbandon: OurPathAbandon | undefined;
  private zeroForgotten = false;

  /** MAX_PATH_ID (draft §4.6): "MUST ignore any MAX_PATH_ID frame that does not increase the limit". */
  onMaxPathId(n: MultipathNegotiation, maximum: number): void {
    if (maximum > this.remoteMaxPathId(n)) this.peerMaxPathId = maximum;
  }

  /** PATH_STATUS_* (draft §4.3): a newer sequence number replaces the status; other paths are not open. */
  onPathStatus(pathId: number, status: 'available' | 'backup', sequence: number): void {
    if (pathId !== 0) {
      this.open?.get(pathId)?.onRemoteStatus(status, sequence);
      return;
    }
    if (sequence <= this.statusSeq) return;
    this.statusSeq = sequence;
    this.status = status;
  }

  /**
   * A frame naming `pathId` that must be within the path ids WE allowed (draft §4: PATH_*
   * frames for a path id above our maximum are a PROTOCOL_VIOLATION; noq's rule for
   * PATH_NEW_CONNECTION_ID, PATHS_BLOCKED and PATH_CIDS_BLOCKED).
   */
  checkLocalPathId(n: MultipathNegotiation, pathId: number, frameType: number): void {
    if (pathId > this.localMaxPathId(n)) {
      throw protocolViolation(`path id ${pathId} above our maximum ${this.localMaxPathId(n)}`, frameType);
    }
  }

  /**
   * PATH_RETIRE_CONNECTION_ID or PATH_ACK for a path id other than 0: we never opened one, issued
   * no connection id and sent no packet on it, so it retires or acknowledges what never existed.
   */
  static neverOpened(pathId: number, frameType: number): never {
    const what = frameType === FrameType.PATH_RETIRE_CONNECTION_ID ? 'retires a connection id never issued' : 'acknowledges packets never sent';
    throw protocolViolation(`path ${pathId} was never opened: the frame ${what}`, frameType);
  }
}
