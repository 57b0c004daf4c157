import assert from 'node:assert/strict';
import type { SentPacketInfo } from '../../../src/quic/congestion/controller.js';
import { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, Cubic } from '../../../src/quic/congestion/cubic.js';

const MSS = 1200;
const RTT = { smoothed: 100, min: 100, latest: 100 };

function send(cc: Cubic, n: number, t: number): SentPacketInfo[] {
  const out: SentPacketInfo[] = [];
  for (let i = 0; i < n; i++) {
    cc.onPacketSent(t, MSS);
    out.push({ size: MSS, timeSent: t, inFlight: true });
  }
  return out;
}

function near(actual: number, expected: number, what: string, eps = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

/** RFC 9438 §4.2 Figure 1 and Eq. 2, written out independently of the implementation. */
const refK = (wMax: number, cwndEpoch: number): number => Math.cbrt((wMax - cwndEpoch) / 0.4);
const refW = (t: number, k: number, wMax: number): number => 0.4 * (t - k) ** 3 + wMax;

/**
 * Slow start to exactly 100 segments, then a loss detected at t = 1000:
 * W_max = 100, cwnd = ssthresh = 70 segments.
 */
function afterFirstLoss(): Cubic {
  const cc = new Cubic(MSS);
  const a = send(cc, 90, 0);
  cc.onPacketsAcked(100, a, RTT);
  assert.equal(cc.window, 120_000);
  const lost = send(cc, 1, 50);
  cc.onPacketsLost(1000, lost);
  return cc;
}

describe('CUBIC (RFC 9438)', () => {
  it('constants: C = 0.4, beta = 0.7, alpha = 3(1-beta)/(1+beta)', () => {
    assert.equal(CUBIC_C, 0.4);
    assert.equal(CUBIC_BETA, 0.7);
    near(CUBIC_ALPHA, 0.9 / 1.7, 'alpha');
  });

  it('slow start as NewReno: +acked bytes', () => {
    const cc = new Cubic(MSS);
    assert.equal(cc.algorithm, 'cubic');
    const a = send(cc, 10, 0);
    cc.onPacketsAcked(100, a, RTT);
    assert.equal(cc.window, 24_000);
    assert.equal(cc.inSlowStart, true);
  });

  it('multiplicative decrease to beta = 0.7, W_max = cwnd before the loss (§4.6)', () => {
    const cc = afterFirstLoss();
    near(cc.window, 84_000, 'cwnd');
    near(cc.ssthresh, 84_000, 'ssthresh');
    assert.equal(cc.wMax, 100);
    assert.equal(cc.cwndPrior, 100);
    assert.equal(cc.isInRecovery, true);
    assert.equal(cc.stats.congestionEvents, 1);
  });

  it('K and W_cubic(t) match the RFC formula (W_max 100, cwnd_epoch 70)', () => {
    const cc = afterFirstLoss();
    const p = send(cc, 1, 1001);
    cc.onPacketsAcked(2000, p, RTT); // first avoidance ACK: the epoch begins
    assert.equal(cc.epochStart, 2000);
    near(cc.k, Math.cbrt(75), 'K');
    near(cc.k, 4.217163326508746, 'K numeric');
    near(cc.k, refK(100, 70), 'K = cbrt(W_max (1 - beta) / C)');
    near(cc.wCubic(0), 70, 'W_cubic(0) = cwnd_epoch');
    near(cc.wCubic(cc.k), 100, 'W_cubic(K) = W_max');
    near(cc.wCubic(2 * cc.k), 130, 'convex side');
    for (const t of [0.5, 1, 2.5, 4, 6, 10]) near(cc.wCubic(t), refW(t, Math.cbrt(75), 100), `W_cubic(${t})`);
  });

  it('cwnd grows by (target - cwnd) / cwnd per segment, target = W_cubic(t + RTT) (§4.2, §4.4)', () => {
    const cc = afterFirstLoss();
    cc.onPacketsAcked(2000, send(cc, 1, 1001), RTT);
    const before = cc.window / MSS;
    const beforeExact = cc.wEst; // the first ACK set cwnd = W_est (Reno-friendly at t = 0)
    near(cc.window / MSS, Math.floor(beforeExact * MSS) / MSS, 'cwnd = W_est at t = 0');
    assert.ok(before > 70);
    // One second into the epoch.
    cc.onPacketsAcked(3000, send(cc, 1, 1002), RTT);
    const k = Math.cbrt(75);
    const target = refW(1 + 0.1, k, 100);
    assert.ok(target > beforeExact && target < 1.5 * beforeExact, 'target inside the clamp');
    const expected = beforeExact + (target - beforeExact) / beforeExact;
    near(cc.window, Math.floor(expected * MSS), 'cwnd after one ACK', 1e-12);
  });

  it('the target is clamped to 1.5 * cwnd', () => {
    const cc = afterFirstLoss();
    cc.onPacketsAcked(2000, send(cc, 1, 1001), RTT);
    const w0 = cc.wEst;
    cc.onPacketsAcked(2000 + 30_000, send(cc, 1, 1002), RTT); // t = 30 s: W_cubic far above
    near(cc.window, Math.floor((w0 + 0.5) * MSS), '+0.5 segment per acked segment');
  });

  it('Reno-friendly region: cwnd = W_est, W_est += alpha * acked / cwnd (§4.3)', () => {
    const cc = afterFirstLoss();
    let w = 70;
    for (let i = 0; i < 70; i++) {
      const now = 2000 + i * 0.1; // ACKs 0.1 ms apart: W_cubic barely moves
      cc.onPacketsAcked(now, send(cc, 1, 1001 + i * 0.01), RTT);
      w += CUBIC_ALPHA / w;
      near(cc.wEst, w, `W_est after ${i + 1} ACKs`);
      assert.ok(cc.wCubic((now - 2000) / 1000) < w, 'still Reno-friendly');
      assert.equal(cc.window, Math.floor(w * MSS));
    }
  });

  it('alpha becomes 1 once W_est reaches cwnd_prior (§4.3)', () => {
    const cc = afterFirstLoss();
    cc.onPacketsAcked(2000, send(cc, 1, 1001), RTT);
    cc.wEst = 100; // as if the estimate had grown back to cwnd_prior = 100
    const cwndSegs = cc.window / MSS;
    const exact = cc.exactWindow / MSS;
    cc.onPacketsAcked(2000.1, send(cc, 1, 1002), RTT);
    near(cc.wEst, 100 + 1 / exact, 'W_est with alpha 1');
    assert.ok(cwndSegs > 0);
  });

  it('fast convergence: a loss below W_max sets W_max = cwnd * (1 + beta) / 2 (§4.7)', () => {
    const cc = afterFirstLoss();
    cc.onPacketsAcked(2000, send(cc, 1, 1001), RTT);
    const segs = cc.exactWindow / MSS;
    assert.ok(segs < 100);
    cc.onPacketsLost(2100, send(cc, 1, 2050));
    near(cc.wMax, (segs * 1.7) / 2, 'W_max');
    near(cc.window, Math.floor(segs * 0.7 * MSS), 'cwnd = beta * cwnd');
    near(cc.cwndPrior, segs, 'cwnd_prior');
    // The next epoch: K = cbrt((W_max - cwnd_epoch) / C).
    cc.onPacketsAcked(2200, send(cc, 1, 2150), RTT);
    near(cc.k, refK(segs * 0.85, segs * 0.7), 'K after fast convergence');
  });

  it('a loss above W_max sets W_max = cwnd (no fast convergence)', () => {
    const cc = afterFirstLoss();
    cc.wMax = 50;
    const segs = cc.exactWindow / MSS;
    cc.onPacketsLost(1100, send(cc, 1, 1050));
    near(cc.wMax, segs, 'W_max');
  });

  it('persistent congestion: minimum window, next epoch with K = 0 and W_max = cwnd_epoch (§4.8)', () => {
    const cc = afterFirstLoss();
    cc.onPersistentCongestion(1000);
    assert.equal(cc.window, 2400);
    assert.equal(cc.inSlowStart, true);
    // Slow start back up to ssthresh (84000): 68 packets.
    cc.onPacketsAcked(1100, send(cc, 68, 1001), RTT);
    assert.equal(cc.window, 84_000);
    assert.equal(cc.inSlowStart, false);
    cc.onPacketsAcked(1200, send(cc, 1, 1101), RTT);
    assert.equal(cc.k, 0);
    assert.equal(cc.wMax, 70);
    assert.equal(cc.epochStart, 1200);
  });

  it('app-limited: no growth, and the epoch moves forward by the app-limited time (§5.8)', () => {
    const cc = afterFirstLoss();
    cc.onPacketsAcked(2000, send(cc, 1, 1001), RTT);
    const w = cc.window;
    cc.setAppLimited(true);
    cc.onPacketsAcked(2500, send(cc, 1, 1002), RTT);
    cc.onPacketsAcked(3000, send(cc, 1, 1003), RTT);
    assert.equal(cc.window, w);
    assert.equal(cc.epochStart, 3000, 'shifted by 1000 ms spent app-limited');
    cc.setAppLimited(false);
    cc.onPacketsAcked(3100, send(cc, 1, 3050), RTT);
    assert.equal(cc.epochStart, 3000);
    assert.ok(cc.window > w);
  });

  it('restart after idle: nothing in flight and no send for more than a PTO -> initial window', () => {
    const cc = afterFirstLoss();
    const p = send(cc, 1, 1001);
    cc.onPacketsAcked(1100, p, RTT);
    // 90 packets of the first flight were acked; the lost one left flight: nothing in flight.
    assert.equal(cc.bytesInFlight, 0);
    const w = cc.window;
    cc.onPacketSent(1001 + 1000, MSS, 1000); // exactly one PTO: not idle
    assert.equal(cc.window, w);
    cc.onPacketsAcked(2100, [{ size: MSS, timeSent: 2001, inFlight: true }], RTT);
    const w2 = cc.exactWindow;
    cc.onPacketSent(2001 + 1000.5, MSS, 1000);
    assert.equal(cc.window, 12_000);
    assert.equal(cc.ssthresh, Math.max(84_000, 0.75 * w2));
    assert.equal(cc.stats.idleRestarts, 1);
    assert.ok(Number.isNaN(cc.epochStart), 'the epoch ends');
    assert.equal(cc.inSlowStart, true);
  });

  it('no restart after idle while packets are in flight, or without a threshold', () => {
    const cc = afterFirstLoss();
    send(cc, 1, 1001);
    const w = cc.window;
    cc.onPacketSent(10_000, MSS, 1000);
    assert.equal(cc.window, w);
    const dd = new Cubic(MSS);
    const a = send(dd, 10, 0);
    dd.onPacketsAcked(100, a, RTT);
    dd.onPacketSent(100_000, MSS);
    assert.equal(dd.window, 24_000);
  });
});
