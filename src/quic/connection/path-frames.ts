import { PacketSpace } from '../packet/space.js';
import type { AckTracker } from '../recovery/ack-tracker.js';
import type { TransportConfig } from '../transport-config.js';
import type { MultipathNegotiation, MultipathState } from './multipath.js';
import type { PathCids } from './path-cids.js';
import type { OurPathAbandon } from './path-id.js';
import type { PacketBuilder } from './packet-builder.js';
import type { PacketRecord } from './sent-packet.js';

/**
 * The multipath frames the transmitter writes besides path datagrams (draft-ietf-quic-multipath
 * §4): PATH_ACKs, and the control frames about paths (PATH_ABANDON, PATH_STATUS_*, MAX_PATH_ID,
 * PATHS_BLOCKED, PATH_CIDS_BLOCKED). Each writes what `MultipathState` and its path ids owe into
 * the open packet and records it in the packet's record (acknowledged: done; lost: re-queued
 * by its owner, sent-packet.ts).
 */

/**
 * PATH_ACKs owed for path ids ≥ 1 (§4.1: any path may carry them). An open path's go on that
 * path (`onPath`), so a path that dies takes only its own acknowledgments with it; those of an
 * abandoned path, and of one we cannot send on yet (the peer opened it before we held one of its
 * connection ids for it), go on path 0's packets (`onPath` -1).
 */
export function writePathAcks(
  b: PacketBuilder,
  mp: MultipathState<PacketRecord>,
  now: number,
  config: Pick<TransportConfig, 'ackDelayExponent' | 'maxAckRanges'>,
  record: PacketRecord,
  onPath: number,
): void {
  for (const [id, t] of mp.receiveSpaces) {
    if (!t.ackPending || ackPathOf(mp, id) !== onPath) continue;
    const f = t.ackFrame(now, config.ackDelayExponent, config.maxAckRanges);
    if (f && b.writePathAck(id, f)) {
      t.onAckSent();
      record.add({ k: 'pathAck', pathId: id, largest: f.largest });
    }
  }
}

/**
 * The acknowledgments of every path id ≥ 1 (and, with `zero`, of path 0's late packets as a PATH_ACK
 * of path id 0) in a packet that carries a CONNECTION_CLOSE, whatever path each would go on (§4.1:
 * any path may carry a PATH_ACK), those owed first, each with at most `maxRanges` ranges and only
 * while `reserve` bytes stay free for the close. As the ACK of path 0 in the same packet (RFC 9000
 * §10.2.1 lets a close carry one): a FIN that arrived on another path just before the close is
 * acknowledged, or the peer's wait for that acknowledgment fails with the close. The packet is not
 * tracked (nothing follows a close), so nothing is recorded.
 */
export function writeCloseAcks(
  b: PacketBuilder,
  mp: MultipathState<PacketRecord>,
  zero: AckTracker | undefined,
  now: number,
  ackDelayExponent: number,
  maxRanges: number,
  reserve: number,
): void {
  const write = (id: number, t: AckTracker): void => {
    if (b.remaining <= reserve) return;
    const f = t.ackFrame(now, ackDelayExponent, maxRanges);
    if (f && b.writePathAck(id, f, b.remaining - reserve)) t.onAckSent();
  };
  if (zero !== undefined && !mp.isPathZeroForgotten) write(0, zero);
  for (const owed of [true, false]) for (const [id, t] of mp.receiveSpaces) if (t.ackPending === owed) write(id, t);
}

/** Whether a PATH_ACK that path 0's packets carry (an abandoned path's) is due now. */
export function pathZeroOwesPathAck(mp: MultipathState<PacketRecord>, now: number): boolean {
  for (const [id, t] of mp.receiveSpaces) if (t.ackPending && t.shouldSendAck(now) && ackPathOf(mp, id) === -1) return true;
  return false;
}

/**
 * With path 0 abandoned (draft §3.4), what path 0's packets carried goes in the data path's: the
 * PATH_ACKs of abandoned path ids, and the acknowledgment of path 0's own late packets (`zero`,
 * the Application space's tracker) as a PATH_ACK of path id 0, until path 0 is forgotten.
 */
export function writeOrphanAcks(
  b: PacketBuilder,
  mp: MultipathState<PacketRecord>,
  zero: AckTracker,
  now: number,
  config: Pick<TransportConfig, 'ackDelayExponent' | 'maxAckRanges'>,
  record: PacketRecord,
): void {
  if (mp.ackPending) writePathAcks(b, mp, now, config, record, -1);
  if (mp.isPathZeroForgotten || !zero.ackPending) return;
  const f = zero.ackFrame(now, config.ackDelayExponent, config.maxAckRanges);
  if (f && b.writePathAck(0, f)) {
    zero.onAckSent();
    record.addAck(PacketSpace.Application, f.largest);
  }
}

/** Whether `writeOrphanAcks` has an acknowledgment due now (an ACK-only packet may go). */
export function orphanAckDue(mp: MultipathState<PacketRecord>, zero: AckTracker, now: number): boolean {
  if (!mp.isPathZeroForgotten && zero.ackPending && zero.shouldSendAck(now)) return true;
  return pathZeroOwesPathAck(mp, now);
}

/**
 * PATH_ABANDON, PATH_STATUS_*, MAX_PATH_ID, PATHS_BLOCKED and PATH_CIDS_BLOCKED owed (§4.2-§4.8;
 * any path may carry them). Returns whether any was written.
 */
export function fillPathControl(b: PacketBuilder, record: PacketRecord, mp: MultipathState<PacketRecord>, n: MultipathNegotiation | null): boolean {
  if (n === null) return false;
  let written = false;
  for (const st of mp.paths.values()) {
    if (writeAbandon(b, record, st.id, st.abandonFrame)) written = true;
    const status = st.pendingStatus;
    if (status !== undefined && b.room(4 + 8 + 8)) {
      b.writeMultipathFrame({ kind: 'pathStatus', pathId: st.id, status: status.status, sequence: status.sequence });
      st.onStatusSent();
      record.add({ k: 'pathStatus', pathId: st.id, seq: status.sequence });
      written = true;
    }
  }
  if (writeAbandon(b, record, 0, mp.pathZeroAbandonFrame)) written = true;
  const zero = mp.pendingPathZeroStatus;
  if (zero !== undefined && b.room(4 + 8 + 8)) {
    b.writeMultipathFrame({ kind: 'pathStatus', pathId: 0, status: zero.status, sequence: zero.sequence });
    mp.onPathZeroStatusSent();
    record.add({ k: 'pathStatus', pathId: 0, seq: zero.sequence });
    written = true;
  }
  const max = mp.pendingMaxPathId(n);
  if (max !== undefined && b.room(4 + 8)) {
    b.writeMultipathFrame({ kind: 'maxPathId', maximum: max });
    mp.onMaxPathIdSent();
    record.add({ k: 'maxPathId' });
    written = true;
  }
  if (mp.blockedPending && b.room(4 + 8 + 8)) {
    // Informational (§4.7): not re-sent when lost; the next blocked open says it again.
    const blocked = mp.takeBlocked();
    if (blocked.paths >= 0) b.writeMultipathFrame({ kind: 'pathsBlocked', maximum: blocked.paths });
    if (blocked.cids >= 0) b.writeMultipathFrame({ kind: 'pathCidsBlocked', pathId: blocked.cids, nextSequence: 0 });
    written = true;
  }
  return written;
}

/** Our PATH_ABANDON of `pathId` when one is owed and fits. Returns whether it was written. */
function writeAbandon(b: PacketBuilder, record: PacketRecord, pathId: number, a: OurPathAbandon | undefined): boolean {
  if (a === undefined || !a.isOwed || !b.room(4 + 8 + 8)) return false;
  b.writeMultipathFrame({ kind: 'pathAbandon', pathId, errorCode: a.code });
  a.onSent();
  record.add({ k: 'pathAbandon', pathId, code: a.code });
  return true;
}

/** Whether a multipath control frame is owed (PATH_ABANDON, PATH_STATUS_*, MAX_PATH_ID, *_BLOCKED). */
export function hasPathControl(mp: MultipathState<PacketRecord>, n: MultipathNegotiation | null): boolean {
  if (n === null) return false;
  if (mp.blockedPending || mp.pendingMaxPathId(n) !== undefined || mp.pendingPathZeroStatus !== undefined || mp.pathZeroAbandonFrame?.isOwed === true) return true;
  for (const st of mp.paths.values()) if (st.abandonFrame?.isOwed === true || st.pendingStatus !== undefined) return true;
  return false;
}

/**
 * The path whose packets carry path id `id`'s PATH_ACKs: its own while open and we hold a
 * connection id of the peer for it (transmit.ts sends nothing on it otherwise), else path 0 (-1).
 */
function ackPathOf(mp: MultipathState<PacketRecord>, id: number): number {
  const st = mp.pathAt(id);
  return st !== undefined && !st.isAbandoned && mp.cids?.hasPeerCid(id) === true ? id : -1;
}

/** PATH_NEW_CONNECTION_ID and PATH_RETIRE_CONNECTION_ID owed (multipath, path ids 1..n). Returns whether any was written. */
export function fillPathCids(b: PacketBuilder, record: PacketRecord, pathCids: PathCids): boolean {
  let written = false;
  for (let n = pathCids.peekNewCid(); n && b.room(4 + 1 + 8 + 8 + 1 + n.info.cid.length + 16); n = pathCids.peekNewCid()) {
    const i = n.info;
    b.writeMultipathFrame({ kind: 'pathNewConnectionId', pathId: n.pathId, sequence: i.seq, retirePriorTo: i.retirePriorTo, connectionId: i.cid, resetToken: i.resetToken });
    pathCids.onNewCidSent(n.pathId, i.seq);
    record.add({ k: 'pathNewCid', pathId: n.pathId, seq: i.seq });
    written = true;
  }
  for (let r = pathCids.peekRetire(); r !== undefined && b.room(4 + 8 + 8); r = pathCids.peekRetire()) {
    b.writeMultipathFrame({ kind: 'pathRetireConnectionId', pathId: r.pathId, sequence: r.seq });
    pathCids.onRetireSent(r.pathId, r.seq);
    record.add({ k: 'pathRetireCid', pathId: r.pathId, seq: r.seq });
    written = true;
  }
  return written;
}
