import { PacketSpace } from '../packet/space.js';
import { BASE_PLPMTU } from './mtu.js';
import type { PacketBuilder } from './packet-builder.js';
import { currentPto, type ConnectionParts } from './parts.js';
import type { Path, PathRecovery } from './path.js';
import type { PathIdState } from './path-id.js';
import { PacketRecord } from './sent-packet.js';

/**
 * Path MTU probes (RFC 9000 §14.4, DPLPMTUD as RFC 8899 describes it; mtu.ts decides the sizes),
 * for path 0 and for every path id ≥ 1 of a multipath connection (each has its own
 * `PathRecovery`, so its own MTU search: a direct path found by hole punching is not held at
 * 1200 bytes because the relay path was).
 *
 * A probe travels alone in a datagram larger than the current MTU. It needs the room of a
 * base-size packet, as every packet: a jumbo probe (64 KiB on loopback) can be larger than the
 * whole window, and would never find room for itself while data keeps the window full. Its bytes
 * count in flight until it is acknowledged or lost; its loss is no congestion signal (§14.4); at
 * most MAX_PROBES of a size (mtu.ts).
 */

/** The size of the probe `r` wants sent now, if it fits `room` bytes and the window allows one; else undefined. */
export function mtuProbeDue(r: PathRecovery, now: number, room: number): number | undefined {
  let probe = r.mtu.pollProbe(now);
  // Bisect below the buffer at once (each step lowers the bound): one step per call would leave a
  // search that resumes on its timer (the raise timer) on an idle connection one step further.
  while (probe !== undefined && probe > room) {
    r.mtu.onProbeUnsendable(probe);
    probe = r.mtu.pollProbe(now);
  }
  return probe !== undefined && probe <= room && r.canSend(now, Math.min(probe, BASE_PLPMTU)) ? probe : undefined;
}

/**
 * Writes a probe (a PING padded to `size`) into the datagram `b` has open, in path 0's 1-RTT
 * packet number space, or in path id `st`'s (its numbers, nonce and loss detector), and records
 * it (acknowledged: the MTU grows; lost: mtu.ts counts it).
 */
export function writeMtuProbe(p: ConnectionParts, b: PacketBuilder, now: number, path: Path, r: PathRecovery, size: number, st?: PathIdState<PacketRecord>): void {
  const app = PacketSpace.Application;
  const sp = st ?? p.spaces.at(app);
  const loss = st ? st.loss : p.loss;
  if (!b.beginPacket(app, sp.nextPn, loss.largestAcked(app), p.keys.keyPhase, undefined)) return;
  b.writePing();
  b.padTo(size);
  const len = st ? b.finishPacket(p.keys.writeKeys(app), st.id) : b.finishPacket(p.keys.writeKeys(app));
  const pn = sp.takePn();
  if (st) p.keys.onOneRttSent(pn, st.id);
  else p.keys.onOneRttSent(pn);
  r.mtu.onProbeSent(size);
  const record = new PacketRecord(path);
  record.add({ k: 'mtuProbe', size });
  loss.onPacketSent(app, record.sent(pn, now, len, true, true), r.rtt);
  r.onPacketSent(now, len, st ? r.rtt.pto(app, p.loss.maxAckDelay) : currentPto(p));
  p.idle.onAckElicitingSent(now);
  st?.onAckElicitingSent(now);
}
