import { protocolViolation } from '../errors.js';
import type { TransportParameters } from '../transport-params.js';

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
