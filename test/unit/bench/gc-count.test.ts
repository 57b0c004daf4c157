import assert from 'node:assert/strict';
import { gcCounts, gcSince } from '../../../bench/gc-count.js';

/** bench/gc-count.ts: the collections each end of a bulk run spent its time in. */
describe('bench gc counts', () => {
  it('counts the scavenges an allocating loop causes', async () => {
    const before = gcCounts();
    // ~200 MB of short-lived objects: more than any young generation holds, so V8 must scavenge.
    // Each array escapes into `sink` (overwritten at once), so no optimization removes it.
    const sink: number[][] = new Array<number[]>(1024);
    for (let i = 0; i < 4_000_000; i++) sink[i & 1023] = [i, i + 1, i + 2];
    assert.equal(sink[1023]![0]! & 1023, 1023);
    // The observer's entries arrive after the collections, in a later task.
    for (let t = 0; t < 50 && gcSince(before, gcCounts()).minor === 0; t++) await new Promise((r) => setTimeout(r, 10));
    const d = gcSince(before, gcCounts());
    assert.ok(d.minor >= 1, JSON.stringify(d));
    assert.ok(d.ms > 0, JSON.stringify(d));
  });

  it('gcSince subtracts, rounding the pause to 0.1 ms', () => {
    assert.deepEqual(gcSince({ minor: 3, major: 1, ms: 10.04 }, { minor: 10, major: 4, ms: 22.18 }), { minor: 7, major: 3, ms: 12.1 });
  });
});
