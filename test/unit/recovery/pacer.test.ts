import assert from 'node:assert/strict';
import { Pacer } from '../../../src/quic/recovery/pacer.js';

const MSS = 1200;

/** Sends as many MSS packets as the pacer allows at `now`. */
function drain(p: Pacer, now: number): number {
  let n = 0;
  while (p.delayUntil(now, MSS) === 0 && n < 10_000) {
    p.onPacketSent(now, MSS);
    n++;
  }
  return n;
}

describe('Pacer (RFC 9002 §7.7)', () => {
  it('rate = 1.25 * cwnd / smoothed_rtt in avoidance, 2x in slow start', () => {
    assert.equal(new Pacer(12000, 100, MSS, false).rate, 150);
    assert.equal(new Pacer(12000, 100, MSS, true).rate, 240);
    assert.equal(new Pacer(12000, 100, MSS, false, { gainAvoidance: 1 }).rate, 120);
  });

  it('a full bucket lets a burst go without delay, then spaces packets at the rate', () => {
    const p = new Pacer(12000, 100, MSS, false); // 150 B/ms, capacity 10 packets
    assert.equal(p.capacity, 12000);
    assert.equal(drain(p, 0), 10);
    assert.equal(p.delayUntil(0, MSS), 8, '1200 B at 150 B/ms');
    assert.equal(p.delayUntil(4, MSS), 8);
    assert.equal(p.delayUntil(8, MSS), 0);
    p.onPacketSent(8, MSS);
    assert.equal(p.delayUntil(8, MSS), 16);
    assert.equal(p.delayUntil(8, 600), 12, 'a smaller packet needs fewer tokens');
  });

  it('a late timer tick allows a bounded burst of the tokens missed', () => {
    const p = new Pacer(12000, 100, MSS, false);
    drain(p, 0);
    assert.equal(drain(p, 8 + 40), 6, '48 ms * 150 B/ms = 7200 B = 6 packets');
    assert.equal(p.delayUntil(48, MSS), 56);
    assert.equal(drain(p, 10_000), 10, 'never more than the capacity, however late');
  });

  it('the capacity is configurable, at least one packet, and never above cwnd', () => {
    assert.equal(new Pacer(12000, 100, MSS, false, { burstPackets: 4 }).capacity, 4800);
    assert.equal(new Pacer(6000, 100, MSS, false).capacity, 6000);
    assert.equal(new Pacer(600, 100, MSS, false).capacity, MSS);
  });

  it('grows the bucket to two timer ticks of traffic at high rates (coarse timers)', () => {
    const p = new Pacer(1_200_000, 10, MSS, false); // 150000 B/ms
    assert.equal(p.capacity, 300_000);
    drain(p, 0);
    // A 1 ms tick earns 150000 B = 125 packets: the rate holds with 1 ms timers.
    assert.equal(drain(p, 1), 125);
    assert.equal(drain(p, 2), 125);
  });

  it('update changes the rate and trims tokens to the new capacity', () => {
    const p = new Pacer(24000, 100, MSS, false);
    assert.equal(p.available(0), 12000);
    p.update(6000, 100, MSS, false);
    assert.equal(p.capacity, 6000);
    assert.equal(p.available(0), 6000);
    assert.equal(p.rate, 75);
    p.update(6000, 50, 1500, false);
    assert.equal(p.rate, 150);
  });

  it('a packet sent without asking empties the bucket but leaves no debt', () => {
    const p = new Pacer(12000, 100, MSS, false);
    for (let i = 0; i < 15; i++) p.onPacketSent(0, MSS);
    assert.equal(p.available(0), 0);
    assert.equal(p.delayUntil(0, MSS), 8);
  });

  it('no pacing without an RTT (smoothed 0)', () => {
    const p = new Pacer(12000, 0, MSS, false);
    assert.equal(p.rate, Number.POSITIVE_INFINITY);
    assert.equal(drain(p, 0) >= 10, true);
    assert.equal(p.delayUntil(0, MSS), 0);
  });

  it('time going backwards is ignored', () => {
    const p = new Pacer(12000, 100, MSS, false);
    drain(p, 100);
    assert.equal(p.delayUntil(50, MSS), 50 + 8);
    assert.equal(p.delayUntil(108, MSS), 0);
  });
});
