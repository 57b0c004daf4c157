import assert from 'node:assert/strict';
import { createController, initialWindowFor, minimumWindowFor } from '../../../src/quic/congestion/controller.js';
import type { CongestionController, SentPacketInfo } from '../../../src/quic/congestion/controller.js';
import { NewReno } from '../../../src/quic/congestion/new-reno.js';

const MSS = 1200;
const RTT = { smoothed: 100, min: 100, latest: 100 };

/** Sends `n` full packets at `t`, returning their infos. */
function send(cc: CongestionController, n: number, t: number, size = MSS): SentPacketInfo[] {
  const out: SentPacketInfo[] = [];
  for (let i = 0; i < n; i++) {
    cc.onPacketSent(t, size);
    out.push({ size, timeSent: t, inFlight: true });
  }
  return out;
}

describe('congestion windows (RFC 9002 §7.2)', () => {
  it('initial window min(10 * mss, max(14720, 2 * mss)); minimum 2 * mss', () => {
    assert.equal(initialWindowFor(1200), 12000);
    assert.equal(initialWindowFor(1500), 14720);
    assert.equal(initialWindowFor(9000), 18000);
    assert.equal(minimumWindowFor(1200), 2400);
    const cc = createController('newreno', 1500);
    assert.equal(cc.window, 14720);
    assert.equal(cc.minimumWindow, 3000);
    assert.equal(cc.algorithm, 'newreno');
    assert.equal(createController().algorithm, 'cubic', 'CUBIC is the default');
    assert.equal(createController().maxDatagramSize, 1200);
  });
});

describe('NewReno (RFC 9002 §7, Appendix B)', () => {
  it('slow start doubles the window each round trip', () => {
    const cc = new NewReno(MSS);
    assert.equal(cc.inSlowStart, true);
    assert.equal(cc.ssthresh, Number.POSITIVE_INFINITY);
    let t = 0;
    for (const expected of [24000, 48000, 96000]) {
      const n = cc.window / MSS;
      const flight = send(cc, n, t);
      assert.equal(cc.canSend(1), false, 'window full');
      assert.equal(cc.available(), 0);
      t += 100;
      cc.onPacketsAcked(t, flight, RTT);
      assert.equal(cc.window, expected);
      assert.equal(cc.bytesInFlight, 0);
    }
  });

  it('halves once per recovery period, starting at the loss detection time', () => {
    const cc = new NewReno(MSS);
    const a = send(cc, 10, 0);
    cc.onPacketsAcked(100, a.slice(0, 8), RTT); // 12000 + 9600
    assert.equal(cc.window, 21600);
    cc.onPacketsLost(110, [a[8]!]);
    assert.equal(cc.ssthresh, 10800);
    assert.equal(cc.window, 10800);
    assert.equal(cc.isInRecovery, true);
    assert.equal(cc.inSlowStart, false);
    assert.equal(cc.stats.congestionEvents, 1);
    assert.equal(cc.bytesInFlight, 1200);
    // Another loss of a packet sent before the recovery began: no further reduction.
    cc.onPacketsLost(115, [a[9]!]);
    assert.equal(cc.window, 10800);
    assert.equal(cc.stats.congestionEvents, 1);
    assert.equal(cc.stats.lostPackets, 2);
    assert.equal(cc.stats.lostBytes, 2400);
    // A packet sent at the recovery start time is still in recovery (sent_time <= start).
    const b = send(cc, 1, 110);
    cc.onPacketsAcked(200, b, RTT);
    assert.equal(cc.window, 10800, 'no growth for packets sent in recovery');
    assert.equal(cc.isInRecovery, true);
    // A packet sent after the start, acknowledged: recovery ends, avoidance begins.
    const c = send(cc, 1, 111);
    cc.onPacketsAcked(211, c, RTT);
    assert.equal(cc.isInRecovery, false);
    // A loss of a packet sent after the recovery start: a new event.
    const d = send(cc, 1, 220);
    cc.onPacketsLost(300, d);
    assert.equal(cc.window, 5400);
    assert.equal(cc.stats.congestionEvents, 2);
  });

  it('never goes below the minimum window on loss', () => {
    const cc = new NewReno(MSS);
    for (let i = 0; i < 5; i++) {
      const p = send(cc, 1, i * 100);
      cc.onPacketsLost(i * 100 + 50, p);
    }
    assert.equal(cc.window, 2400);
    assert.equal(cc.ssthresh, 1200, 'ssthresh = cwnd / 2 may fall below; cwnd does not');
  });

  it('congestion avoidance adds one max_datagram_size per window acknowledged', () => {
    const cc = new NewReno(MSS);
    const a = send(cc, 10, 0);
    cc.onPacketsLost(10, a.slice(0, 1)); // cwnd 6000, ssthresh 6000
    assert.equal(cc.window, 6000);
    let t = 20;
    // 5 packets = one window of 6000 bytes acknowledged -> +1200.
    const b = send(cc, 5, t);
    for (let i = 0; i < 4; i++) {
      cc.onPacketsAcked(t + 100, [b[i]!], RTT);
      assert.equal(cc.window, 6000, 'no growth before a full window is acked');
    }
    cc.onPacketsAcked(t + 100, [b[4]!], RTT);
    assert.equal(cc.window, 7200);
    // Next window: 7200 bytes = 6 packets.
    t += 200;
    const c = send(cc, 6, t);
    cc.onPacketsAcked(t + 100, c.slice(0, 5), RTT);
    assert.equal(cc.window, 7200);
    cc.onPacketsAcked(t + 100, c.slice(5), RTT);
    assert.equal(cc.window, 8400);
  });

  it('persistent congestion collapses to the minimum window, then slow start to ssthresh', () => {
    const cc = new NewReno(MSS);
    const a = send(cc, 10, 0);
    cc.onPacketsLost(500, a); // congestion event: ssthresh 6000
    cc.onPersistentCongestion(500);
    assert.equal(cc.window, 2400);
    assert.equal(cc.ssthresh, 6000);
    assert.equal(cc.isInRecovery, false);
    assert.equal(cc.inSlowStart, true);
    assert.equal(cc.stats.persistentCongestionEvents, 1);
    assert.equal(cc.bytesInFlight, 0);
    // Recovery start was reset, so an old packet's ack grows the window again.
    const b = send(cc, 2, 400);
    cc.onPacketsAcked(600, b, RTT);
    assert.equal(cc.window, 4800);
  });

  it('does not grow while app-limited (§7.8), but still drains bytes in flight', () => {
    const cc = new NewReno(MSS);
    cc.setAppLimited(true);
    const a = send(cc, 2, 0);
    cc.onPacketsAcked(100, a, RTT);
    assert.equal(cc.window, 12000);
    assert.equal(cc.bytesInFlight, 0);
    assert.equal(cc.appLimited, true);
    cc.setAppLimited(false);
    const b = send(cc, 2, 100);
    cc.onPacketsAcked(200, b, RTT);
    assert.equal(cc.window, 14400);
  });

  it('ignores packets not in flight; discards remove bytes; ECN-style congestion events', () => {
    const cc = new NewReno(MSS);
    send(cc, 3, 0);
    cc.onPacketsAcked(10, [{ size: 50, timeSent: 0, inFlight: false }], RTT);
    cc.onPacketsLost(10, [{ size: 50, timeSent: 0, inFlight: false }]);
    assert.equal(cc.window, 12000);
    assert.equal(cc.stats.congestionEvents, 0);
    cc.onPacketsDiscarded(2400);
    assert.equal(cc.bytesInFlight, 1200);
    cc.onPacketsDiscarded(5000);
    assert.equal(cc.bytesInFlight, 0, 'never negative');
    cc.onCongestionEvent(20, 5);
    assert.equal(cc.window, 6000);
    assert.equal(cc.isInRecovery, true);
  });

  it('no restart after idle for NewReno', () => {
    const cc = new NewReno(MSS);
    const a = send(cc, 10, 0);
    cc.onPacketsAcked(100, a, RTT);
    cc.onPacketSent(10_000, MSS, 1000);
    assert.equal(cc.window, 24000);
  });

  it('maxDatagramSize changes: a pristine window follows the new initial window, else min window floor', () => {
    const cc = new NewReno(1500);
    assert.equal(cc.window, 14720);
    cc.setMaxDatagramSize(1200);
    assert.equal(cc.window, 12000);
    const a = send(cc, 2, 0);
    cc.onPacketsAcked(100, a, RTT);
    assert.equal(cc.window, 14400);
    cc.setMaxDatagramSize(1400);
    assert.equal(cc.window, 14400, 'kept once used');
    assert.equal(cc.minimumWindow, 2800);
    const b = send(cc, 1, 200);
    for (let i = 0; i < 6; i++) cc.onCongestionEvent(300 + 10 * i, 295 + 10 * i);
    assert.equal(cc.window, 2800);
    cc.setMaxDatagramSize(1500);
    assert.equal(cc.window, 3000, 'raised to the new minimum');
    assert.equal(cc.maxDatagramSize, 1500);
    cc.onPacketsAcked(400, b, RTT);
    assert.throws(() => cc.setMaxDatagramSize(0), RangeError);
  });
});
