import assert from 'node:assert/strict';
import { SentPacketQueue } from '../../../src/quic/recovery/sent-packets.js';
import type { SentPacket } from '../../../src/quic/recovery/sent-packets.js';
import { SeededRandom } from '../../../src/tls/random.js';

function pkt(pn: number): SentPacket<null> {
  return { pn, timeSent: pn, size: 1, ackEliciting: true, inFlight: true, record: null };
}

describe('SentPacketQueue', () => {
  it('keeps packets in packet number order, finds ranges by binary search, skips holes', () => {
    const q = new SentPacketQueue<null>();
    assert.equal(q.largestSent, -1);
    for (const pn of [0, 1, 2, 5, 6, 9]) q.push(pkt(pn));
    assert.equal(q.count, 6);
    assert.equal(q.largestSent, 9);
    assert.equal(q.lowerBound(3), 3);
    assert.equal(q.pnAt(q.lowerBound(3)), 5);
    assert.equal(q.lowerBound(10), q.end);
    assert.equal(q.remove(0).pn, 0);
    assert.equal(q.start, 1);
    q.remove(2);
    assert.equal(q.at(2), undefined);
    assert.equal(q.start, 1, 'a hole in the middle stays until the front reaches it');
    q.remove(1);
    assert.equal(q.start, 3);
    assert.equal(q.pnAt(q.start), 5);
    assert.equal(q.count, 3);
    assert.throws(() => q.push(pkt(9)), RangeError);
  });

  it('compaction keeps order and contents (seeded random removals)', () => {
    const rnd = new SeededRandom(7);
    const q = new SentPacketQueue<null>();
    const live = new Set<number>();
    let pn = 0;
    let pushes = 0;
    for (let step = 0; step < 5000; step++) {
      if (rnd.int(2) === 0) {
        pushes++;
        pn += 1 + rnd.int(2);
        q.push(pkt(pn));
        live.add(pn);
      } else if (live.size > 0) {
        // Remove mostly old packets, sometimes a random one.
        const i = rnd.int(4) === 0 ? q.lowerBound(rnd.int(pn + 1)) : q.start;
        if (i < q.end && q.at(i) !== undefined) {
          live.delete(q.remove(i).pn);
        }
      }
      if (step % 7 === 0) q.compact();
      assert.equal(q.count, live.size);
    }
    const seen: number[] = [];
    for (let i = q.start; i < q.end; i++) {
      const p = q.at(i);
      if (p !== undefined) {
        assert.equal(q.pnAt(i), p.pn);
        seen.push(p.pn);
      }
    }
    assert.deepEqual(seen, [...live].sort((a, b) => a - b));
    assert.ok(pushes > 2000 && q.end < pushes / 4, `storage was compacted (${q.end} slots for ${pushes} pushes)`);
    q.clear();
    assert.equal(q.count, 0);
    assert.equal(q.largestSent, pn);
  });
});
