import type { Connection } from '../quic/connection/connection.js';
import { isRelayAddress } from './relay-paths.js';

/**
 * One network path of a session, as `Session.paths()` shows it (iroh's `conn.paths()` shape):
 * with multipath (TransportConfig.multipath) a session may run over several at once, e.g. the
 * relay it started on and a direct path found by iroh's NAT traversal.
 */
export interface SessionPath {
  /** The path id (draft-ietf-quic-multipath; 0 is the path the handshake ran on). */
  readonly id: number;
  /** `'relay'` through a relay server (`relay:<peer id>@<url>`), `'direct'` over UDP to `ip:port`. */
  readonly kind: 'relay' | 'direct';
  /** Where its packets go: `ip:port`, or `relay:<peer id>@<relay URL>`. */
  readonly remoteAddress: string;
  /** Whether the session's new data goes on it now. */
  readonly selected: boolean;
  /** Its smoothed round-trip time, ms (RFC 9002 §5.3; the initial estimate before a sample). */
  readonly rttMs: number;
  /**
   * `'available'` (usable), `'backup'` (kept, used only when no available path works: our status
   * for it, draft-ietf-quic-multipath §3.3), `'validating'` (its address is being checked, RFC
   * 9000 §8.2).
   */
  readonly status: 'available' | 'backup' | 'validating';
}

/** The kind of path an address names. */
export function pathKind(address: string): SessionPath['kind'] {
  return isRelayAddress(address) ? 'relay' : 'direct';
}

/** The open paths of an endpoint's connection (`Connection.paths()`, abandoned ones left out); none once it is closed. */
export function connectionPaths(conn: Connection): SessionPath[] {
  if (conn.isClosed) return [];
  const out: SessionPath[] = [];
  for (const p of conn.paths()) {
    if (p.abandoned || p.remoteAddress === '') continue;
    const status = p.validated ? p.localStatus : 'validating';
    out.push({ id: p.pathId, kind: pathKind(p.remoteAddress), remoteAddress: p.remoteAddress, selected: p.selected, rttMs: p.rtt, status });
  }
  return out;
}
