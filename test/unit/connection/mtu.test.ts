import assert from 'node:assert/strict';
import { BASE_PLPMTU, BLACK_HOLE_THRESHOLD, MAX_PROBES, MtuDiscovery, RAISE_TIMER_MS } from '../../../src/quic/connection/mtu.js';

/** Runs the search against a path that carries `pathMtu`; returns the probe sizes tried. */
function search(m: MtuDiscovery, pathMtu: number, now = 0): number[] {
  const tried: number[] = [];
  for (let i = 0; i < 100; i++) {
    const size = m.pollProbe(now);
    if (size === undefined) break;
    tried.push(size);
    m.onProbeSent(size);
    if (size <= pathMtu) m.onProbeAcked(size);
    else m.onProbeLost(size);
  }
  return tried;
}

describe('path MTU discovery (RFC 8899 style)', () => {
  it('does nothing until enabled, then reaches the ceiling in one probe when the path allows', () => {
    const m = new MtuDiscovery(1452);
    assert.equal(m.pollProbe(0), undefined);
    m.enable(1472);
    assert.equal(m.ceiling, 1452, 'our maximum bounds the peer\'s');
    assert.deepEqual(search(m, 1500), [1452]);
    assert.equal(m.current, 1452);
  });

  it('bisects down to the link MTU within the search granularity', () => {
    const m = new MtuDiscovery(1452);
    m.enable(65527);
    const tried = search(m, 1300);
    assert.ok(m.current <= 1300 && m.current > 1300 - 16, `found ${m.current}`);
    // Each size over the path MTU is tried MAX_PROBES times before it is given up.
    assert.equal(tried.filter((s) => s === 1452).length, MAX_PROBES);
    assert.equal(m.pollProbe(0), undefined, 'search complete');
    assert.equal(m.nextSearchAt, RAISE_TIMER_MS);
  });

  it('respects the peer\'s max_udp_payload_size', () => {
    const m = new MtuDiscovery(1452);
    m.enable(1200);
    assert.equal(search(m, 1500).length, 0);
    assert.equal(m.current, BASE_PLPMTU);
  });

  it('does not probe while a probe is in flight', () => {
    const m = new MtuDiscovery();
    m.enable(1452);
    const s = m.pollProbe(0)!;
    m.onProbeSent(s);
    assert.equal(m.pollProbe(1), undefined);
    m.onProbeLost(s);
    assert.equal(m.pollProbe(2), s, 'the same size is retried after one loss');
  });

  it('falls back to the base on a black hole, then searches again below the lost size', () => {
    const m = new MtuDiscovery(1452);
    m.enable(1452);
    search(m, 1452);
    assert.equal(m.current, 1452);
    for (let i = 1; i < BLACK_HOLE_THRESHOLD; i++) m.onPacketLost(1452, 50 + i);
    assert.equal(m.detectBlackHole(100), false);
    m.onPacketLost(1452, 60);
    assert.equal(m.detectBlackHole(100), true);
    assert.equal(m.current, BASE_PLPMTU);
    assert.equal(m.blackHoles, 1);
    assert.equal(m.pollProbe(500), undefined, 'paused briefly');
    search(m, 1350, 1100);
    assert.ok(m.current <= 1350 && m.current > 1350 - 16, `found ${m.current} after the route shrank`);
  });

  it('an acknowledged large packet resets the black-hole count; small losses never count', () => {
    const m = new MtuDiscovery(1452);
    m.enable(1452);
    search(m, 1452);
    for (let i = 0; i < 10; i++) {
      m.onPacketLost(1452, 10 * i);
      m.onPacketLost(1452, 10 * i + 1);
      m.onPacketAcked(1452, 10 * i + 2);
      m.onPacketLost(1000, 10 * i + 3);
      assert.equal(m.detectBlackHole(10 * i + 5), false);
    }
    assert.equal(m.current, 1452);
  });

  it('losses of large packets sent before an acknowledged large one are congestion, not a black hole', () => {
    const m = new MtuDiscovery(1452);
    m.enable(1452);
    search(m, 1452);
    // A drop-tail queue lost a burst of 10 packets sent at t = 1..10; the one sent at 11 got through.
    m.onPacketAcked(1452, 11);
    for (let t = 1; t <= 10; t++) m.onPacketLost(1452, t);
    assert.equal(m.detectBlackHole(50), false);
    assert.equal(m.current, 1452);
    // After it, large losses do count.
    for (let t = 12; t < 12 + BLACK_HOLE_THRESHOLD; t++) m.onPacketLost(1452, t);
    assert.equal(m.detectBlackHole(60), true);
    assert.equal(m.current, BASE_PLPMTU);
  });

  it('an outage is not a black hole: base-size packets lost with the large ones void the evidence', () => {
    const m = new MtuDiscovery(1452);
    m.enable(1452);
    search(m, 1452);
    for (let t = 1; t <= 10; t++) m.onPacketLost(1452, t);
    m.onPacketLost(1200, 11); // a base-size PTO probe died too
    assert.equal(m.detectBlackHole(50), false);
    for (let t = 12; t < 12 + BLACK_HOLE_THRESHOLD - 1; t++) m.onPacketLost(1452, t);
    assert.equal(m.detectBlackHole(60), false, 'the count started over');
    assert.equal(m.current, 1452);
  });

  it('rejects a maximum below 1200', () => {
    assert.throws(() => new MtuDiscovery(1000), /must be an integer >= 1200/);
  });
});

describe('path MTU discovery: raise timer', () => {
  it('searches again after the raise timer and finds a larger MTU', () => {
    const m = new MtuDiscovery(1452);
    m.enable(1452);
    search(m, 1300);
    const found = m.current;
    assert.ok(found <= 1300);
    assert.equal(m.pollProbe(RAISE_TIMER_MS - 1), undefined);
    search(m, 1452, RAISE_TIMER_MS);
    assert.equal(m.current, 1452, `grew from ${found}`);
  });
});
