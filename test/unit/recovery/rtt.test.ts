import assert from 'node:assert/strict';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { RttEstimator } from '../../../src/quic/recovery/rtt.js';

describe('RttEstimator (RFC 9002 §5)', () => {
  it('starts from kInitialRtt = 333 ms: PTO 333 + 4*166.5 = 999 ms (§6.2.2)', () => {
    const r = new RttEstimator();
    assert.equal(r.smoothed, 333);
    assert.equal(r.rttvar, 166.5);
    assert.equal(r.min, 0);
    assert.equal(r.latest, 0);
    assert.equal(r.hasSample, false);
    assert.equal(r.pto(PacketSpace.Initial, 25), 999);
    assert.equal(r.pto(PacketSpace.Handshake, 25), 999);
    assert.equal(r.pto(PacketSpace.Application, 25), 1024);
  });

  it('first sample resets the estimator: 100 ms -> smoothed 100, rttvar 50, min 100', () => {
    const r = new RttEstimator();
    // Ack delay is not applied to the first sample.
    r.update(100, 30, true, 25);
    assert.equal(r.smoothed, 100);
    assert.equal(r.rttvar, 50);
    assert.equal(r.min, 100);
    assert.equal(r.latest, 100);
    assert.equal(r.pto(PacketSpace.Application, 25), 100 + 4 * 50 + 25);
    assert.equal(r.pto(PacketSpace.Handshake, 25), 100 + 4 * 50);
  });

  it('second sample subtracts the ack delay, rttvar from the previous smoothed (Appendix A.7)', () => {
    const r = new RttEstimator();
    r.update(100, 0, true, 25);
    r.update(120, 10, true, 25);
    // adjusted = 110; rttvar = 3/4*50 + 1/4*|100-110| = 40; smoothed = 7/8*100 + 1/8*110
    assert.equal(r.rttvar, 40);
    assert.equal(r.smoothed, 101.25);
    assert.equal(r.min, 100);
    assert.equal(r.pto(PacketSpace.Application, 25), 101.25 + 160 + 25);
  });

  it('minAdjusted: the lowest sample less its ack delay (capped at max_ack_delay once confirmed), never below 0; min_rtt keeps the delay', () => {
    const r = new RttEstimator();
    assert.equal(r.minAdjusted, Infinity);
    r.update(30, 25, true, 25); // a delayed ACK: 5 ms of path
    assert.equal(r.min, 30);
    assert.equal(r.minAdjusted, 5);
    r.update(12, 0, true, 25); // an immediate one: 12 ms
    assert.equal(r.min, 12);
    assert.equal(r.minAdjusted, 5);
    r.update(50, 100, true, 25); // the delay capped at 25: 25 ms
    assert.equal(r.minAdjusted, 5);
    r.update(40, 38, false, 25); // not confirmed: not capped, 2 ms
    assert.equal(r.minAdjusted, 2);
    r.update(10, 30, false, 25); // an overstated delay: 0, not negative
    assert.equal(r.minAdjusted, 0);
  });

  it('caps the ack delay at max_ack_delay only once the handshake is confirmed', () => {
    const confirmed = new RttEstimator();
    confirmed.update(100, 0, true, 25);
    confirmed.update(200, 80, true, 25); // delay capped to 25 -> adjusted 175
    assert.equal(confirmed.smoothed, 0.875 * 100 + 0.125 * 175);
    assert.equal(confirmed.rttvar, 0.75 * 50 + 0.25 * 75);

    const early = new RttEstimator();
    early.update(100, 0, false, 25);
    early.update(200, 80, false, 25); // uncapped -> adjusted 120
    assert.equal(early.smoothed, 0.875 * 100 + 0.125 * 120);
    assert.equal(early.rttvar, 0.75 * 50 + 0.25 * 20);
  });

  it('never subtracts the ack delay below min_rtt (§5.3)', () => {
    const r = new RttEstimator();
    r.update(100, 0, true, 25);
    r.update(110, 20, true, 25); // 110 < 100 + 20: adjusted stays 110
    assert.equal(r.smoothed, 0.875 * 100 + 0.125 * 110);
    r.update(120, 20, true, 25); // 120 >= 100 + 20: adjusted 100
    assert.equal(r.min, 100);
    assert.equal(r.latest, 120);
  });

  it('min_rtt tracks the lowest raw sample and ignores ack delay', () => {
    const r = new RttEstimator();
    r.update(100, 0, true, 25);
    r.update(80, 50, true, 25);
    assert.equal(r.min, 80);
    r.update(90, 0, true, 25);
    assert.equal(r.min, 80);
    r.onPersistentCongestion();
    assert.equal(r.min, 90, 'min_rtt restarts from the latest sample after persistent congestion (§5.2)');
  });

  it('PTO period is at least kGranularity of variance (§6.2.1)', () => {
    const r = new RttEstimator();
    r.update(0.1, 0, true, 0);
    assert.equal(r.rttvar, 0.05);
    assert.equal(r.pto(PacketSpace.Initial, 0), 0.1 + 1);
  });

  it('loss delay = max(9/8 * max(smoothed, latest), 1 ms) and persistent congestion duration', () => {
    const r = new RttEstimator();
    r.update(100, 0, true, 25);
    assert.equal(r.lossDelay(), 112.5);
    r.update(200, 0, true, 25);
    assert.equal(r.latest, 200);
    assert.equal(r.lossDelay(), 225, 'latest > smoothed');
    assert.equal(r.persistentCongestionDuration(25), (r.smoothed + 4 * r.rttvar + 25) * 3);
    const tiny = new RttEstimator();
    tiny.update(0.5, 0, true, 0);
    assert.equal(tiny.lossDelay(), 1);
  });

  it('reset returns to the initial state', () => {
    const r = new RttEstimator(100);
    r.update(20, 0, true, 25);
    r.reset();
    assert.equal(r.smoothed, 100);
    assert.equal(r.rttvar, 50);
    assert.equal(r.hasSample, false);
    assert.throws(() => new RttEstimator(0), RangeError);
  });
});
