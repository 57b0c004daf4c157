import type { RttEstimator } from '../recovery/rtt.js';
import type { ConnectionParts } from './parts.js';
import type { PathIdCounters } from './path-id.js';
import type { PathInfo } from './path-types.js';
import type { PerPathStats, RttStats } from './stats.js';
import type { ReceiveStats } from './receive.js';
import type { TransmitStats } from './transmit.js';

/**
 * The snapshot of every path: path 0 (whose counters are the connection's minus those of the
 * other path ids, forgotten ones included), then each path id ≥ 1 in the order it opened. `selected`: the scheduler's
 * data path id.
 */
export function pathSnapshots(p: ConnectionParts, selected: number, tx: TransmitStats, rx: ReceiveStats): PathInfo[] {
  const out: PathInfo[] = [];
  let sentPackets = tx.packetsSent;
  let sentBytes = tx.bytesSent;
  let recvPackets = rx.packetsReceived;
  let recvBytes = rx.bytesReceived;
  const others: Readonly<PathIdCounters>[] = [...p.multipath.paths.values()].map((st) => st.counters);
  const forgotten = p.multipath.forgotten;
  if (forgotten !== undefined) others.push(forgotten);
  for (const c of others) {
    sentPackets -= c.packetsSent;
    sentBytes -= c.bytesSent;
    recvPackets -= c.packetsReceived;
    recvBytes -= c.bytesReceived;
  }
  const r0 = p.paths.recovery;
  out.push({
    pathId: 0,
    remoteAddress: p.paths.current.address,
    localStatus: p.multipath.localPathZeroStatus,
    remoteStatus: p.multipath.pathZeroStatus,
    validated: p.paths.current.validated,
    selected: selected === 0 && !p.multipath.isPathZeroAbandoned,
    abandoned: p.multipath.isPathZeroAbandoned,
    rtt: r0.rtt.smoothed,
    cwnd: r0.cc.window,
    packetsSent: sentPackets,
    bytesSent: sentBytes,
    packetsReceived: recvPackets,
    bytesReceived: recvBytes,
    packetsLost: r0.cc.stats.lostPackets,
  });
  for (const st of p.multipath.paths.values()) {
    const c = st.counters;
    const r = st.recovery;
    out.push({
      pathId: st.id,
      remoteAddress: st.path.address,
      localStatus: st.localStatus,
      remoteStatus: st.remoteStatus,
      validated: st.path.validated,
      selected: selected === st.id,
      abandoned: st.isAbandoned,
      rtt: r.rtt.smoothed,
      cwnd: r.cc.window,
      packetsSent: c.packetsSent,
      bytesSent: c.bytesSent,
      packetsReceived: c.packetsReceived,
      bytesReceived: c.bytesReceived,
      packetsLost: c.packetsLost,
    });
  }
  return out;
}

/** `ConnectionStats.paths`: the figures of each path of `pathSnapshots`, with its recovery state. */
export function perPathStats(p: ConnectionParts, infos: readonly PathInfo[]): PerPathStats[] {
  const out: PerPathStats[] = [];
  for (const i of infos) {
    const st = i.pathId === 0 ? undefined : p.multipath.pathAt(i.pathId);
    const r = st === undefined ? p.paths.recovery : st.recovery;
    out.push({
      pathId: i.pathId,
      remoteAddress: i.remoteAddress,
      selected: i.selected,
      abandoned: i.abandoned,
      rtt: rttStats(r.rtt),
      cwnd: r.cc.window,
      bytesInFlight: r.cc.bytesInFlight,
      mtu: r.mtu.current,
      packetsSent: i.packetsSent,
      bytesSent: i.bytesSent,
      packetsReceived: i.packetsReceived,
      bytesReceived: i.bytesReceived,
      packetsLost: i.packetsLost,
      ptoCount: st === undefined ? p.loss.ptoCount : st.loss.ptoCount,
    });
  }
  return out;
}

/** A path's RTT figures as `ConnectionStats` shows them (min 0 before the first sample). */
export function rttStats(rtt: RttEstimator): RttStats {
  return { smoothed: rtt.smoothed, min: rtt.hasSample ? rtt.min : 0, latest: rtt.latest, variance: rtt.rttvar };
}
