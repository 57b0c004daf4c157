import type { ConnectionParts } from './parts.js';
import { perPathStats, rttStats } from './path-info.js';
import type { PathInfo } from './path-types.js';
import type { ReceiveStats } from './receive.js';
import type { ConnectionStats } from './stats.js';
import type { TransmitStats } from './transmit.js';

/**
 * `Connection.getStats()`: the connection's figures gathered from the parts that own them (the
 * current path's recovery, the transmitter's and receiver's counters, datagrams, NAT traversal,
 * address discovery, each path's own figures).
 */
export function connectionStats(p: ConnectionParts, tx: TransmitStats, rx: ReceiveStats, paths: PathInfo[]): ConnectionStats {
  const r = p.paths.recovery;
  const ccs = r.cc.stats;
  return {
    rtt: rttStats(r.rtt),
    cwnd: r.cc.window,
    bytesInFlight: r.cc.bytesInFlight,
    congestionEvents: ccs.congestionEvents,
    packetsSent: tx.packetsSent,
    bytesSent: tx.bytesSent,
    packetsReceived: rx.packetsReceived,
    bytesReceived: rx.bytesReceived,
    packetsLost: ccs.lostPackets,
    bytesLost: ccs.lostBytes,
    packetsRetransmitted: tx.packetsRetransmitted,
    packetsDropped: rx.packetsDropped,
    mtu: r.mtu.current,
    keyUpdates: p.keys.updates,
    ptoCount: p.loss.ptoCount,
    datagrams: { ...p.datagrams.stats },
    natTraversal: p.nat?.machine ? { ...p.nat.stats } : null,
    addressDiscovery: p.qad?.negotiated ? { ...p.qad.stats, observed: p.qad.observed } : null,
    paths: perPathStats(p, paths),
    ...p.paths.stats,
  };
}
