import assert from 'node:assert/strict';
import { HandleLimitError, InvalidHandleError } from '../../../src/handles/errors.js';
import type { InvalidHandleReason } from '../../../src/handles/errors.js';
import { HandleKind, MAX_GENERATION, SlotMap, decodeHandle, encodeHandle } from '../../../src/handles/slot-map.js';
import { withSeed } from '../../harness/seed.js';

/** Asserts that `fn` throws an InvalidHandleError with the given reason. */
function rejects(fn: () => unknown, reason: InvalidHandleReason): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidHandleError, `expected InvalidHandleError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    assert.equal(e.code, 'INVALID_HANDLE');
    return true;
  });
}

describe('handles/SlotMap', () => {
  it('inserts, gets, removes; handles are distinct non-zero safe integers', () => {
    const m = new SlotMap<string>(HandleKind.reader);
    const a = m.insert('a');
    const b = m.insert('b');
    assert.notEqual(a, b);
    for (const h of [a, b]) {
      assert.ok(Number.isSafeInteger(h) && h > 0);
    }
    assert.equal(m.get(a), 'a');
    assert.equal(m.get(b), 'b');
    assert.equal(m.size, 2);
    assert.equal(m.remove(a), 'a');
    assert.equal(m.size, 1);
    assert.equal(m.has(a), false);
    assert.equal(m.tryGet(a), undefined);
    assert.equal(m.tryRemove(a), undefined);
    assert.deepEqual(decodeHandle(b), { index: 1, kind: HandleKind.reader, generation: 1 });
  });

  it('a stale handle never resolves, even after its slot is reused', () => {
    const m = new SlotMap<string>(HandleKind.session);
    const old = m.insert('old');
    m.remove(old);
    const fresh = m.insert('new');
    assert.equal(decodeHandle(fresh)?.index, decodeHandle(old)?.index, 'the slot is reused');
    assert.notEqual(fresh, old);
    rejects(() => m.get(old), 'stale');
    rejects(() => m.remove(old), 'stale');
    assert.equal(m.check(old), 'stale');
    assert.equal(m.get(fresh), 'new');
    // A stale remove must not have touched the live value.
    assert.equal(m.size, 1);
  });

  it('says which: malformed, never issued, wrong kind', () => {
    const sessions = new SlotMap<string>(HandleKind.session);
    const readers = new SlotMap<string>(HandleKind.reader);
    const s = sessions.insert('session');
    const r = readers.insert('reader');
    // Same index and generation, different kind: the handles differ and do not cross.
    assert.equal(decodeHandle(s)?.index, decodeHandle(r)?.index);
    assert.notEqual(s, r);
    rejects(() => readers.get(s), 'wrong-kind');
    rejects(() => sessions.get(r), 'wrong-kind');
    assert.throws(() => readers.get(s), /session handle/);
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, '1', 1n, null, undefined, {}, 0]) {
      rejects(() => readers.get(bad), 'malformed');
    }
    rejects(() => readers.get(encodeHandle(0, 7, 1)), 'malformed'); // kind 7 is no kind
    rejects(() => readers.get(encodeHandle(5, HandleKind.reader, 1)), 'never-issued'); // index never used
    rejects(() => readers.get(encodeHandle(0, HandleKind.reader, 2)), 'never-issued'); // generation ahead
    rejects(() => readers.get(encodeHandle(0, HandleKind.reader, 0)), 'never-issued');
    readers.remove(r);
    // The freed slot's next generation has not been handed out yet.
    rejects(() => readers.get(encodeHandle(0, HandleKind.reader, 2)), 'never-issued');
  });

  it('retires a slot whose generation would wrap', () => {
    const m = new SlotMap<number>(HandleKind.writer, { maxGeneration: 3 });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const h = m.insert(i);
      assert.equal(decodeHandle(h)?.index, 0);
      assert.equal(decodeHandle(h)?.generation, i + 1);
      seen.push(h);
      m.remove(h);
    }
    assert.equal(m.retiredSlots, 1);
    const next = m.insert(99);
    assert.equal(decodeHandle(next)?.index, 1, 'the retired slot is not reused');
    for (const h of seen) rejects(() => m.get(h), 'stale');
    assert.equal(m.get(next), 99);
  });

  it('retires at the default generation limit, every handle below 2^53', () => {
    const m = new SlotMap<number>(HandleKind.session);
    let last = 0;
    const first = m.insert(0);
    m.remove(first);
    for (let g = 2; g <= MAX_GENERATION; g++) {
      last = m.insert(g);
      m.remove(last);
    }
    assert.equal(decodeHandle(last)?.generation, MAX_GENERATION);
    assert.ok(Number.isSafeInteger(last));
    assert.equal(m.retiredSlots, 1);
    assert.equal(decodeHandle(m.insert(1))?.index, 1);
    rejects(() => m.get(first), 'stale');
    rejects(() => m.get(last), 'stale');
  });

  it('throws HandleLimitError when slot indices run out', () => {
    const m = new SlotMap<number>(HandleKind.reader, { maxIndex: 1 });
    m.insert(0);
    const h = m.insert(1);
    assert.throws(() => m.insert(2), HandleLimitError);
    m.remove(h);
    m.insert(3); // a freed slot is still usable
  });

  it('iterates live entries; removing during iteration is safe; clear stales everything', () => {
    const m = new SlotMap<string>(HandleKind.reader);
    const hs = ['a', 'b', 'c', 'd'].map((v) => m.insert(v));
    m.remove(hs[1]!);
    assert.deepEqual([...m.values()], ['a', 'c', 'd']);
    for (const [h, v] of m) if (v === 'c') m.remove(h);
    assert.deepEqual([...m.handles()], [hs[0], hs[3]]);
    const removed = m.clear();
    assert.deepEqual(removed, [
      [hs[0], 'a'],
      [hs[3], 'd'],
    ]);
    assert.equal(m.size, 0);
    for (const h of hs) rejects(() => m.get(h), 'stale');
  });

  it('property: matches a model; dead handles are always rejected', async () => {
    await withSeed(0x5107, (rng) => {
      const m = new SlotMap<number>(HandleKind.reader, { maxGeneration: 5 });
      const live = new Map<number, number>();
      const dead: number[] = [];
      const deadSet = new Set<number>();
      let next = 0;
      for (let step = 0; step < 20_000; step++) {
        const op = rng.int(10);
        if (op < 4 || live.size === 0) {
          const h = m.insert(next);
          assert.ok(!live.has(h), 'a live handle is never handed out twice');
          assert.ok(!deadSet.has(h), 'a dead handle is never reissued');
          live.set(h, next++);
        } else if (op < 8) {
          const keys = [...live.keys()];
          const h = keys[rng.int(keys.length)]!;
          assert.equal(m.remove(h), live.get(h));
          live.delete(h);
          dead.push(h);
          deadSet.add(h);
        } else if (dead.length > 0) {
          const h = dead[rng.int(dead.length)]!;
          rejects(() => m.get(h), 'stale');
          assert.equal(m.tryRemove(h), undefined);
        }
        assert.equal(m.size, live.size);
      }
      for (const [h, v] of live) assert.equal(m.get(h), v);
      assert.equal(deadSet.size, dead.length, 'no handle was issued twice');
      for (const h of live.keys()) assert.ok(!deadSet.has(h));
      assert.ok(m.retiredSlots > 0, 'the test exercised retirement');
    });
  });
});
