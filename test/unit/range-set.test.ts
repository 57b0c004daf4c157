import assert from 'node:assert/strict';
import { RangeSet } from '../../src/quic/range-set.js';
import { SeededRandom } from '../../src/tls/random.js';

describe('RangeSet', () => {
  it('merges adjacent and overlapping ranges', () => {
    const s = new RangeSet();
    assert.equal(s.insert(10, 20), 10);
    assert.equal(s.insert(30, 40), 10);
    assert.equal(s.insert(20, 30), 10, 'fills the gap exactly');
    assert.deepEqual(s.toArray(), [[10, 40]]);
    assert.equal(s.insert(5, 45), 10);
    assert.deepEqual(s.toArray(), [[5, 45]]);
    assert.equal(s.insert(6, 7), 0, 'nothing new');
  });

  it('add() reports duplicates and keeps the fast path for in-order values', () => {
    const s = new RangeSet();
    for (let i = 0; i < 5; i++) assert.equal(s.add(i), true);
    assert.equal(s.add(3), false);
    assert.equal(s.add(7), true);
    assert.deepEqual(s.toArray(), [[0, 5], [7, 8]]);
    assert.equal(s.add(5), true);
    assert.equal(s.add(6), true);
    assert.deepEqual(s.toArray(), [[0, 8]]);
    assert.equal(s.min, 0);
    assert.equal(s.max, 7);
  });

  it('removes below a value and arbitrary spans', () => {
    const s = new RangeSet();
    s.insert(0, 10);
    s.insert(20, 30);
    s.removeBelow(5);
    assert.deepEqual(s.toArray(), [[5, 10], [20, 30]]);
    s.remove(8, 25);
    assert.deepEqual(s.toArray(), [[5, 8], [25, 30]]);
    s.removeBelow(100);
    assert.equal(s.isEmpty, true);
  });

  it('drops the lowest ranges beyond maxRanges', () => {
    const s = new RangeSet(3);
    for (let i = 0; i < 10; i += 2) s.add(i);
    assert.deepEqual(s.toArray(), [[4, 5], [6, 7], [8, 9]]);
    assert.throws(() => new RangeSet(0), RangeError);
  });

  it('agrees with a naive model on random operations (seeded)', () => {
    const rng = new SeededRandom(42);
    const s = new RangeSet();
    const model = new Set<number>();
    for (let step = 0; step < 3000; step++) {
      const a = rng.int(500);
      const b = a + rng.int(20);
      const op = rng.int(10);
      if (op < 6) {
        let fresh = 0;
        for (let v = a; v < b; v++) if (!model.has(v)) { model.add(v); fresh++; }
        assert.equal(s.insert(a, b), fresh);
      } else if (op < 9) {
        for (let v = a; v < b; v++) model.delete(v);
        s.remove(a, b);
      } else {
        for (const v of [...model]) if (v < a) model.delete(v);
        s.removeBelow(a);
      }
      if (step % 97 === 0) {
        for (let v = 0; v < 520; v++) assert.equal(s.has(v), model.has(v), `value ${v} at step ${step}`);
        assert.equal(s.count(), model.size);
        const arr = s.toArray();
        for (let i = 1; i < arr.length; i++) assert.ok(arr[i]![0] > arr[i - 1]![1], 'disjoint, non-adjacent');
      }
    }
  });
});
