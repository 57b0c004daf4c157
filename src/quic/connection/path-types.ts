/**
 * The plain data of multipath's public API (draft-ietf-quic-multipath): what `Connection.paths()`,
 * `openPath` and `setPathStatus` take and give. No machinery here, so the published declarations
 * stay small.
 */

/** A path's status as draft-ietf-quic-multipath §3.3 names it (PATH_STATUS_AVAILABLE / _BACKUP). */
export type PathStatus = 'available' | 'backup';

/** Why `Connection.openPath` could not open a path now. */
export type OpenPathBlocked =
  /** Multipath was not negotiated, the handshake is not confirmed, or the connection is closing. */
  | 'unavailable'
  /** Every path id the peer allows is used (PATHS_BLOCKED is sent; retry after its MAX_PATH_ID). */
  | 'pathIds'
  /** The peer gave no connection id for the next path id yet (PATH_CIDS_BLOCKED is sent). */
  | 'cids';

/** The outcome of `Connection.openPath`. */
export type OpenPathResult = { readonly kind: 'opened'; readonly pathId: number } | { readonly kind: 'blocked'; readonly reason: OpenPathBlocked };

/**
 * One open path of a connection as `Connection.paths()` shows it (plain data, a snapshot). The
 * shape is stable: the session layer's `session.paths()` builds on it.
 */
export interface PathInfo {
  /** Its path id (0: the connection's first path; ≥ 1 only with multipath). */
  readonly pathId: number;
  /** The peer's address on it, as the driver names addresses ("ip:port", or a relay path). */
  readonly remoteAddress: string;
  /** Our status for it (draft-ietf-quic-multipath §3.3). */
  readonly localStatus: PathStatus;
  /** The peer's status for it. */
  readonly remoteStatus: PathStatus;
  /** Its address is validated (RFC 9000 §8.2): data may go there without limit. */
  readonly validated: boolean;
  /** New application data goes on it now (the scheduler's choice). */
  readonly selected: boolean;
  /** It was abandoned (by either side) and its state lingers to acknowledge late packets. */
  readonly abandoned: boolean;
  /** Smoothed RTT, ms (the initial RTT until a sample). */
  readonly rtt: number;
  /** Congestion window, bytes. */
  readonly cwnd: number;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsReceived: number;
  readonly bytesReceived: number;
  readonly packetsLost: number;
}

