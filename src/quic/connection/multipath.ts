import { protocolViolation } from '../errors.js';
import { FrameType } from '../frames/types.js';
import { PacketSpace } from '../packet/space.js';
import { AckTracker, type AckTrackerOptions } from '../recovery/ack-tracker.js';
import type { TransportParameters } from '../transport-params.js';
import type { PathCids } from './path-cids.js';

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
 * The initial_max_path_id we send when multipath is on (TransportConfig.multipath). 0 while this
 * implementation uses path 0 only: the peer may not open another path (it gets no connection id
 * for one), so it never tries; iroh sends 7, which we will once paths can be opened.
 */
export const ADVERTISED_MAX_PATH_ID = 0;

/** The most connection ids we keep issued per path id other than 0 (the peer's limit if lower). */
export const PATH_CID_COUNT = 4;

/**
 * The multipath state of a connection that negotiated it, while only path 0 is used: the largest
 * path id the peer lets us open (MAX_PATH_ID raises it), the peer's status for path 0, and the
 * rules of the frames about paths we never opened (draft-ietf-quic-multipath §4). The frames
 * about path 0 go to the parts that own path 0's state (the frame dispatcher sends them).
 */
export class MultipathState {
  private peerMaxPathId = -1;
  private status: 'available' | 'backup' = 'available';
  private statusSeq = -1;
  /** The connection ids of path ids 1..n; null when multipath is off (TransportConfig.multipath). */
  readonly cids: PathCids | null;

  /** The packet numbers received on path ids 1..n, one tracker per path id that got a packet. */
  private readonly received = new Map<number, AckTracker>();

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
      this.received.set(pathId, t);
    }
    return t;
  }

  /** The receive space of `pathId` if a packet arrived on it (tests, PATH_ACK). */
  receivedOn(pathId: number): AckTracker | undefined {
    return this.received.get(pathId);
  }

  /**
   * Multipath was negotiated or the peer raised its maximum: connection ids for the path ids up
   * to the smaller of both maxima (draft-ietf-quic-multipath §5.1), `peerCidLimit` each.
   */
  issueCids(n: MultipathNegotiation, peerCidLimit: number): void {
    this.cids?.issueUpTo(Math.min(n.localMaxPathId, this.remoteMaxPathId(n)), Math.min(peerCidLimit, PATH_CID_COUNT));
  }

  /** The largest path id the peer lets us open (-1 before the negotiation is known). */
  remoteMaxPathId(n: MultipathNegotiation): number {
    return Math.max(this.peerMaxPathId, n.remoteMaxPathId);
  }

  /** The peer's status for path 0 (draft §3.3; 'available' until it says otherwise). */
  get pathZeroStatus(): 'available' | 'backup' {
    return this.status;
  }

  /** MAX_PATH_ID (draft §4.6): "MUST ignore any MAX_PATH_ID frame that does not increase the limit". */
  onMaxPathId(n: MultipathNegotiation, maximum: number): void {
    if (maximum > this.remoteMaxPathId(n)) this.peerMaxPathId = maximum;
  }

  /** PATH_STATUS_* (draft §4.3): a newer sequence number replaces the status; other paths are not open. */
  onPathStatus(pathId: number, status: 'available' | 'backup', sequence: number): void {
    if (pathId !== 0 || sequence <= this.statusSeq) return;
    this.statusSeq = sequence;
    this.status = status;
  }

  /**
   * A frame naming `pathId` that must be within the path ids WE allowed (draft §4: PATH_*
   * frames for a path id above our maximum are a PROTOCOL_VIOLATION; noq's rule for
   * PATH_NEW_CONNECTION_ID, PATHS_BLOCKED and PATH_CIDS_BLOCKED).
   */
  checkLocalPathId(n: MultipathNegotiation, pathId: number, frameType: number): void {
    if (pathId > n.localMaxPathId) {
      throw protocolViolation(`path id ${pathId} above our maximum ${n.localMaxPathId}`, frameType);
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
