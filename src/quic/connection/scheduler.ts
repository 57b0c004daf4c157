/**
 * Which path carries new application data (draft-ietf-quic-multipath §5.5 leaves the scheduler to
 * the implementation; this follows noq's and iroh's policy, the fastest path): the validated,
 * working path with the lowest minimum RTT (less the peer's acknowledgment delay) among those both sides call 'available'; a 'backup'
 * path only when no available one works; path 0 when nothing else does (it is where the
 * connection started, and the only path of a connection without multipath). ACKs, PATH_ACKs and
 * path-specific frames (PATH_CHALLENGE / PATH_RESPONSE, PTO probes) go on their own paths
 * whatever this says.
 *
 * Why min_rtt (RFC 9002 §5.2) and not smoothed_rtt: new data goes on one path, so only that
 * path's smoothed RTT carries the queueing its own data causes (the sender's queue, the socket
 * buffers, a bottleneck's queue); the others' RTT is what their few packets saw. Compared by
 * smoothed RTT, a loaded direct path on loopback (60 ms of queueing under load) lost to an idle
 * relay path (20 ms), the data moved, and the direct path, carrying nothing, never showed its
 * real RTT again. The minimum is each path's propagation delay, measured the same way on all;
 * less the acknowledgment delay the peer reported, since path 0's minimum comes from handshake
 * ACKs, sent at once, and a later path's from delayed ones (up to max_ack_delay, 25 ms: against
 * real iroh the direct path lost to the relay by raw min_rtt).
 * A path that stops answering is left by its PTOs (FAILED_PATH_PTOS), not by its RTT.
 */

/** What the scheduler reads of one path. */
export interface PathCandidate {
  /** Its path id (0: the connection's first path). */
  readonly id: number;
  /** Validated, not abandoned. */
  readonly usable: boolean;
  /** Either side marked it backup (PATH_STATUS_BACKUP). */
  readonly backup: boolean;
  /** PTOs expired on it without an acknowledgment (a path that stopped answering). */
  readonly ptoCount: number;
  /** Its smoothed RTT, ms (breaks a tie of `minRtt`). */
  readonly srtt: number;
  /** Its minimum RTT less the peer's acknowledgment delay, ms (`RttEstimator.minAdjusted`; the smoothed RTT before its first sample). */
  readonly minRtt: number;
}

/** A path with this many consecutive PTOs is treated as failed until it answers again. */
export const FAILED_PATH_PTOS = 2;

/**
 * The path id new data goes on. `candidates` holds path 0 first; the lowest `minRtt` wins, then
 * the lowest `srtt`, then the lower path id (the older path), so the choice does not flap
 * between equal paths.
 */
export function selectDataPath(candidates: readonly PathCandidate[]): number {
  let best: PathCandidate | undefined;
  let bestBackup: PathCandidate | undefined;
  for (const c of candidates) {
    if (!c.usable || c.ptoCount >= FAILED_PATH_PTOS) continue;
    if (c.backup) {
      if (bestBackup === undefined || faster(c, bestBackup)) bestBackup = c;
    } else if (best === undefined || faster(c, best)) {
      best = c;
    }
  }
  return (best ?? bestBackup)?.id ?? 0;
}

function faster(a: PathCandidate, b: PathCandidate): boolean {
  return a.minRtt < b.minRtt || (a.minRtt === b.minRtt && a.srtt < b.srtt);
}
