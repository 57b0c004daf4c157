import assert from 'node:assert/strict';
import { AckTracker } from '../../../src/quic/recovery/ack-tracker.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { SeededRandom } from '../../../src/tls/random.js';

const INF = Number.POSITIVE_INFINITY;

function ranges(t: AckTracker, now = 0, maxRanges = INF): number[] {
  const f = t.ackFrame(now, 3, maxRanges);
  return f === null ? [] : [...f.ranges];
}

describe('AckTracker (RFC 9000 §13.2)', () => {
  it('Initial and Handshake: every ack-eliciting packet is acknowledged immediately', () => {
    for (const space of [PacketSpace.Initial, PacketSpace.Handshake]) {
      const t = new AckTracker(space);
      assert.equal(t.ackDeadline, INF);
      assert.equal(t.onPacketReceived(0, true, 10), true);
      assert.equal(t.ackDeadline, 10);
      assert.equal(t.shouldSendAck(10), true);
    }
  });

  it('Application: the 2nd ack-eliciting packet triggers an ACK, the 1st arms max_ack_delay', () => {
    const t = new AckTracker(PacketSpace.Application, { maxAckDelay: 25 });
    t.onPacketReceived(0, true, 100);
    assert.equal(t.ackDeadline, 125);
    assert.equal(t.shouldSendAck(124), false);
    assert.equal(t.shouldSendAck(125), true);
    t.onPacketReceived(1, true, 101);
    assert.equal(t.ackDeadline, 101);
    assert.equal(t.shouldSendAck(101), true);
    t.onAckSent();
    assert.equal(t.ackDeadline, INF);
    assert.equal(t.ackElicitingSinceAck, 0);
    assert.equal(t.ackPending, false);
    t.onPacketReceived(2, true, 102);
    assert.equal(t.ackDeadline, 127);
    t.onPacketReceived(3, true, 103);
    assert.equal(t.ackDeadline, 103);
  });

  it('the threshold is configurable', () => {
    const t = new AckTracker(PacketSpace.Application, { ackElicitingThreshold: 4, maxAckDelay: 10 });
    for (let pn = 0; pn < 3; pn++) t.onPacketReceived(pn, true, pn);
    assert.equal(t.ackDeadline, 10, 'deadline from the first packet');
    t.onPacketReceived(3, true, 3);
    assert.equal(t.ackDeadline, 3);
  });

  it('non-ack-eliciting packets are recorded but never trigger an ACK', () => {
    const t = new AckTracker(PacketSpace.Application);
    t.onPacketReceived(0, false, 0);
    t.onPacketReceived(1, false, 1);
    t.onPacketReceived(5, false, 2);
    assert.equal(t.ackDeadline, INF);
    assert.equal(t.ackPending, true);
    assert.deepEqual(ranges(t), [5, 5, 1, 0]);
    const i = new AckTracker(PacketSpace.Initial);
    i.onPacketReceived(0, false, 0);
    assert.equal(i.ackDeadline, INF);
  });

  it('out of order (§13.2.1): a gap above the largest ack-eliciting, or a packet below it, acks at once', () => {
    const t = new AckTracker(PacketSpace.Application, { maxAckDelay: 25 });
    t.onPacketReceived(0, true, 0);
    t.onPacketReceived(1, true, 1);
    t.onAckSent();
    t.onPacketReceived(3, true, 5); // 2 missing
    assert.equal(t.ackDeadline, 5);
    t.onAckSent();
    t.onPacketReceived(2, true, 6); // below 3
    assert.equal(t.ackDeadline, 6);
    t.onAckSent();
    t.onPacketReceived(4, true, 7); // in order
    assert.equal(t.ackDeadline, 32);
  });

  it('no gap when the packets in between arrived non-ack-eliciting', () => {
    const t = new AckTracker(PacketSpace.Application, { maxAckDelay: 25 });
    t.onPacketReceived(0, true, 0);
    t.onAckSent();
    t.onPacketReceived(1, false, 1);
    t.onPacketReceived(2, false, 1);
    t.onPacketReceived(3, true, 2);
    assert.equal(t.ackDeadline, 27);
  });

  it('ECN-CE acks immediately', () => {
    const t = new AckTracker(PacketSpace.Application);
    t.onPacketReceived(0, true, 3, true);
    assert.equal(t.ackDeadline, 3);
  });

  it('duplicates are detected and ignored', () => {
    const t = new AckTracker(PacketSpace.Application);
    assert.equal(t.isDuplicate(0), false);
    t.onPacketReceived(0, true, 0);
    assert.equal(t.isDuplicate(0), true);
    assert.equal(t.onPacketReceived(0, true, 1), false);
    assert.equal(t.ackElicitingSinceAck, 1, 'a duplicate does not count');
    assert.equal(t.isDuplicate(1), false);
  });

  it('ranges are descending [largest, smallest] pairs; the largest and its receive time anchor the delay', () => {
    const t = new AckTracker(PacketSpace.Application);
    for (const pn of [0, 1, 2, 5, 6, 9]) t.onPacketReceived(pn, true, pn);
    const f = t.ackFrame(9, 3)!;
    assert.equal(f.largest, 9);
    assert.deepEqual(f.ranges, [9, 9, 6, 5, 2, 0]);
    assert.equal(t.largestReceived, 9);
    assert.equal(t.largestReceivedTime, 9);
  });

  it('ack delay field = microseconds >> exponent (exponent 3), measured from the largest', () => {
    const t = new AckTracker(PacketSpace.Application);
    t.onPacketReceived(7, true, 1000);
    t.onPacketReceived(3, true, 1002); // older pn does not move the reference
    assert.equal(t.ackFrame(1010, 3)!.ackDelay, 1250); // 10 ms = 10000 us / 8
    assert.equal(t.ackFrame(1010.5, 3)!.ackDelay, 1312); // 10500 us / 8 = 1312.5, floored
    assert.equal(t.ackFrame(1010, 0)!.ackDelay, 10000);
    assert.equal(t.ackFrame(1000, 3)!.ackDelay, 0);
    assert.equal(t.ackFrame(1000 + 3_600_000, 20)!.ackDelay, Math.floor(3_600_000_000 / 2 ** 20), 'no 32-bit wrap');
  });

  it('caps reported ranges at maxRanges, keeping the highest (§13.2.3)', () => {
    const t = new AckTracker(PacketSpace.Application);
    for (let pn = 0; pn < 20; pn += 2) t.onPacketReceived(pn, true, pn);
    assert.deepEqual(ranges(t, 20, 3), [18, 18, 16, 16, 14, 14]);
    assert.equal(ranges(t, 20).length, 20);
    assert.equal(new AckTracker(PacketSpace.Application).ackFrame(0, 3), null);
  });

  it('remembers at most maxRanges ranges; everything below is then a duplicate', () => {
    const t = new AckTracker(PacketSpace.Application, { maxRanges: 4 });
    for (let pn = 0; pn <= 12; pn += 2) t.onPacketReceived(pn, true, pn); // 7 single ranges
    assert.deepEqual(t.receivedRanges(), [[6, 7], [8, 9], [10, 11], [12, 13]]);
    assert.equal(t.trackedFloor, 5);
    assert.equal(t.isDuplicate(0), true);
    assert.equal(t.isDuplicate(3), true, 'a never-received pn below the floor is refused');
    assert.equal(t.isDuplicate(5), false);
    assert.equal(t.isDuplicate(7), false);
    assert.equal(t.onPacketReceived(1, true, 20), false);
    assert.deepEqual(ranges(t), [12, 12, 10, 10, 8, 8, 6, 6]);
  });

  it('an ACK of our ACK prunes ranges at or below its Largest Acknowledged (§13.2.4)', () => {
    const t = new AckTracker(PacketSpace.Application);
    for (const pn of [0, 1, 2, 4, 5, 7]) t.onPacketReceived(pn, true, pn);
    const sentLargest = t.ackFrame(7, 3)!.largest;
    t.onAckSent();
    t.onPacketReceived(8, true, 8);
    t.onPacketReceived(10, true, 9);
    t.onAckOfAckReceived(sentLargest);
    assert.deepEqual(ranges(t), [10, 10, 8, 8]);
    assert.equal(t.isDuplicate(6), true, 'below the pruned point');
    assert.equal(t.largestReceived, 10);
    t.onAckOfAckReceived(3); // older, no effect
    assert.deepEqual(ranges(t), [10, 10, 8, 8]);
    t.onAckOfAckReceived(10);
    assert.equal(t.ackFrame(20, 3), null);
    assert.equal(t.largestReceived, 10, 'the largest is kept (RFC 9000 §13.2.3)');
    t.onPacketReceived(12, true, 21);
    assert.deepEqual(ranges(t), [12, 12]);
  });

  it('gap detection still works right above a pruned floor', () => {
    const t = new AckTracker(PacketSpace.Application, { maxAckDelay: 25 });
    t.onPacketReceived(0, true, 0);
    t.onPacketReceived(1, true, 0);
    t.onAckSent();
    t.onAckOfAckReceived(1);
    t.onPacketReceived(2, true, 10);
    assert.equal(t.ackDeadline, 35, 'pn 2 follows 1: not out of order');
  });

  it('property: reported ranges equal the received set above the floor, descending and disjoint', () => {
    const rnd = new SeededRandom(0x5eed);
    for (let round = 0; round < 50; round++) {
      const t = new AckTracker(PacketSpace.Application, { maxRanges: 8 });
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const pn = rnd.int(300);
        const dup = t.isDuplicate(pn);
        if (seen.has(pn)) assert.equal(dup, true, `seed ${rnd.seed}: pn ${pn} seen but not duplicate`);
        if (!dup) {
          assert.equal(t.onPacketReceived(pn, rnd.int(2) === 0, i), true);
          seen.add(pn);
        }
        if (rnd.int(20) === 0) {
          const f = t.ackFrame(i, 3);
          if (f !== null && rnd.int(2) === 0) t.onAckOfAckReceived(f.largest - rnd.int(5));
        }
      }
      const r = ranges(t, 1000);
      for (let k = 0; k + 1 < r.length; k += 2) {
        assert.ok(r[k]! >= r[k + 1]!);
        if (k + 2 < r.length) assert.ok(r[k + 1]! >= r[k + 2]! + 2, 'disjoint and not adjacent');
        for (let pn = r[k + 1]!; pn <= r[k]!; pn++) assert.ok(seen.has(pn), `reported ${pn} never received`);
      }
      assert.ok(r.length <= 16);
      for (const pn of seen) {
        if (pn >= t.trackedFloor) {
          let found = false;
          for (let k = 0; k + 1 < r.length; k += 2) if (pn <= r[k]! && pn >= r[k + 1]!) found = true;
          assert.ok(found, `received ${pn} above the floor ${t.trackedFloor} not reported`);
        }
      }
    }
  });

  it('rejects bad options', () => {
    assert.throws(() => new AckTracker(PacketSpace.Application, { maxRanges: 0 }), RangeError);
    assert.throws(() => new AckTracker(PacketSpace.Application, { ackElicitingThreshold: 0 }), RangeError);
  });
});
