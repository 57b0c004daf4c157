import { RttEstimator } from '../../../src/quic/recovery/rtt.js';
import assert from 'node:assert/strict';
import { createController } from '../../../src/quic/congestion/controller.js';
import type { CongestionAlgorithm } from '../../../src/quic/congestion/controller.js';
import { AckTracker } from '../../../src/quic/recovery/ack-tracker.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { LossDetector } from '../../../src/quic/recovery/loss.js';
import { Pacer } from '../../../src/quic/recovery/pacer.js';
import { SeededRandom } from '../../../src/tls/random.js';

/**
 * The modules wired the way the connection will wire them, over a seeded lossy link with a
 * 50 ms RTT: a sender moves N chunks, lost chunks are re-queued from the recovery tokens, the
 * receiver acknowledges by the RFC 9000 §13.2 policy. Checks that everything is delivered and
 * that the detector's and the controller's bytes in flight always agree.
 */
function run(seed: number, algorithm: CongestionAlgorithm, lossRate: number, chunks: number) {
  const rnd = new SeededRandom(seed);
  const MSS = 1200;
  const ONE_WAY = 25;
  const loss = new LossDetector<number>({ isServer: true, maxAckDelay: 25 });
  const rtt = new RttEstimator();
  loss.onHandshakeConfirmed(0, rtt);
  const cc = createController(algorithm, MSS);
  const pacer = new Pacer(cc.window, rtt.smoothed, MSS, cc.inSlowStart);
  const rx = new AckTracker(PacketSpace.Application, { maxAckDelay: 25 });
  const toSend: number[] = [];
  for (let c = chunks - 1; c >= 0; c--) toSend.push(c);
  const delivered = new Set<number>();
  const acked = new Set<number>();
  const toRx: Array<{ at: number; pn: number; chunk: number }> = [];
  const toTx: Array<{ at: number; ranges: number[]; delay: number }> = [];
  let pn = 0;
  let now = 0;
  let lostCount = 0;
  let ptos = 0;
  while (acked.size < chunks && now < 600_000) {
    // Sender: send while the window and the pacer allow (probes bypass the window).
    while (toSend.length > 0 && cc.canSend(MSS) && pacer.delayUntil(now, MSS) === 0) {
      const chunk = toSend.pop()!;
      loss.onPacketSent(PacketSpace.Application, { pn, timeSent: now, size: MSS, ackEliciting: true, inFlight: true, record: chunk }, rtt);
      cc.onPacketSent(now, MSS, rtt.pto(PacketSpace.Application, 25));
      pacer.onPacketSent(now, MSS);
      if (rnd.next() >= lossRate) toRx.push({ at: now + ONE_WAY, pn, chunk });
      pn++;
    }
    cc.setAppLimited(toSend.length === 0);
    // Next event.
    let next = Math.min(loss.timeout, rx.ackDeadline, toRx[0]?.at ?? Infinity, toTx[0]?.at ?? Infinity);
    if (toSend.length > 0 && cc.canSend(MSS)) next = Math.min(next, pacer.delayUntil(now, MSS) || now);
    assert.ok(next < Infinity, `seed ${seed}: deadlock at ${now}`);
    // A coarse 1 ms timer: events fire on the next whole millisecond.
    now = Math.max(now, Math.ceil(next));
    while (toRx.length > 0 && toRx[0]!.at <= now) {
      const d = toRx.shift()!;
      if (!rx.isDuplicate(d.pn)) {
        delivered.add(d.chunk);
        rx.onPacketReceived(d.pn, true, d.at);
      }
    }
    if (rx.shouldSendAck(now)) {
      const f = rx.ackFrame(now, 3)!;
      if (rnd.next() >= lossRate) toTx.push({ at: now + ONE_WAY, ranges: [...f.ranges], delay: (f.ackDelay * 8) / 1000 });
      rx.onAckSent();
    }
    while (toTx.length > 0 && toTx[0]!.at <= now) {
      const a = toTx.shift()!;
      const r = loss.onAckReceived(PacketSpace.Application, a.ranges, a.delay, now, rtt);
      cc.onPacketsLost(now, r.lost);
      if (r.persistentCongestion) cc.onPersistentCongestion(now);
      cc.onPacketsAcked(now, r.newlyAcked, rtt);
      for (const p of r.newlyAcked) acked.add(p.record);
      for (const p of r.lost) if (!acked.has(p.record)) toSend.push(p.record);
      lostCount += r.lost.length;
    }
    if (loss.timeout <= now) {
      const t = loss.onLossTimeout(now, rtt);
      if (t.kind === 'loss') {
        cc.onPacketsLost(now, t.lost);
        if (t.persistentCongestion) cc.onPersistentCongestion(now);
        for (const p of t.lost) if (!acked.has(p.record)) toSend.push(p.record);
        lostCount += t.lost.length;
      } else if (t.kind === 'pto') {
        ptos++;
        // Probe: one packet past the window, with the oldest unacked data or a PING-like chunk.
        const chunk = toSend.pop() ?? -1;
        loss.onPacketSent(PacketSpace.Application, { pn, timeSent: now, size: MSS, ackEliciting: true, inFlight: true, record: chunk }, rtt);
        cc.onPacketSent(now, MSS);
        if (rnd.next() >= lossRate) toRx.push({ at: now + ONE_WAY, pn, chunk });
        pn++;
      }
    }
    pacer.update(cc.window, rtt.smoothed, MSS, cc.inSlowStart);
    assert.equal(cc.bytesInFlight, loss.bytesInFlight, `seed ${seed}: bytes in flight disagree at ${now}`);
  }
  acked.delete(-1);
  return { acked: acked.size, delivered, now, lostCount, ptos, cc, loss, rtt };
}

describe('recovery + congestion + pacing over a simulated lossy link', () => {
  for (const algorithm of ['cubic', 'newreno'] as const) {
    it(`${algorithm}: 2000 chunks over 2% loss all arrive; counts agree`, () => {
      for (const seed of [1, 2, 3]) {
        const r = run(seed, algorithm, 0.02, 2000);
        assert.equal(r.acked, 2000, `seed ${seed}`);
        for (let c = 0; c < 2000; c++) assert.ok(r.delivered.has(c), `seed ${seed}: chunk ${c} never delivered`);
        assert.ok(r.lostCount > 0, `seed ${seed}: the link lost something`);
        assert.ok(r.cc.stats.congestionEvents > 0);
        assert.ok(r.now < 60_000, `seed ${seed}: took ${r.now} ms`);
        assert.ok(Math.abs(r.rtt.min - 50) <= 1, `seed ${seed}: min_rtt ${r.rtt.min}`);
      }
    });
  }

  it('a lossless link needs no retransmission and leaves slow start never', () => {
    const r = run(9, 'cubic', 0, 3000);
    assert.equal(r.acked, 3000);
    assert.equal(r.lostCount, 0);
    assert.equal(r.ptos, 0);
    assert.equal(r.cc.stats.congestionEvents, 0);
    assert.equal(r.cc.inSlowStart, true);
  });
});
