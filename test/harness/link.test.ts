import assert from 'node:assert/strict';
import { Link } from './link.js';
import { SeededRandom } from '../../src/tls/random.js';

const dgram = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

describe('harness: simulated link', () => {
  it('delivers after the delay, in order, and copies the datagram', () => {
    const l = new Link({ delayMs: 25 }, new SeededRandom(1));
    const d = dgram(100, 7);
    l.send(0, d);
    d.fill(9);
    l.send(1, dgram(100, 8));
    assert.equal(l.nextArrival(), 25);
    assert.deepEqual(l.deliver(24), []);
    const first = l.deliver(25);
    assert.equal(first.length, 1);
    assert.equal(first[0]![0], 7, 'the link copied the bytes at send time');
    assert.equal(l.nextArrival(), 26);
    assert.equal(l.deliver(26)[0]![0], 8);
    assert.equal(l.nextArrival(), undefined);
  });

  it('drops exactly the named indices', () => {
    const l = new Link({ delayMs: 1, dropIndices: new Set([0, 2]) }, new SeededRandom(1));
    for (let i = 0; i < 4; i++) l.send(0, dgram(10, i));
    assert.deepEqual(l.deliver(5).map((b) => b[0]), [1, 3]);
    assert.equal(l.stats.droppedExact, 2);
  });

  it('random loss is seeded and bounded by the burst limit', () => {
    const run = (seed: number): number[] => {
      const l = new Link({ delayMs: 1, dropRate: 0.5, maxDropBurst: 2 }, new SeededRandom(seed));
      for (let i = 0; i < 200; i++) l.send(i, dgram(10, i));
      return l.deliver(1000).map((b) => b[0]!);
    };
    assert.deepEqual(run(5), run(5), 'same seed, same run');
    assert.notDeepEqual(run(5), run(6));
    const got = run(5);
    let prev = -1;
    for (const v of got) {
      assert.ok(v - prev - 1 <= 2, 'never more than 2 consecutive drops');
      prev = v;
    }
  });

  it('bandwidth serialises datagrams and the drop-tail queue overflows', () => {
    // 1200-byte datagrams at 9.6 Mbit/s: 1 ms each.
    const l = new Link({ delayMs: 10, bandwidthBps: 9_600_000, queuePackets: 5 }, new SeededRandom(1));
    for (let i = 0; i < 8; i++) l.send(0, dgram(1200, i));
    assert.equal(l.stats.droppedQueue, 3);
    const times: number[] = [];
    for (let t = 0; t <= 20; t += 0.5) for (const _ of l.deliver(t)) times.push(t);
    assert.deepEqual(times, [11, 12, 13, 14, 15]);
  });

  it('MTU, corruption, duplication and blackhole', () => {
    const l = new Link({ delayMs: 1, mtu: 1200, corruptRate: 1, duplicateRate: 1, blackhole: (t) => t >= 100 && t < 200 }, new SeededRandom(3));
    l.send(0, dgram(1201));
    assert.equal(l.stats.droppedMtu, 1);
    l.send(0, dgram(60));
    const got = l.deliver(10);
    assert.equal(got.length, 2, 'duplicated');
    const flipped = got[0]!.findIndex((b) => b !== 0);
    assert.ok(flipped >= 0 && flipped < 50, 'one byte among the first 50 changed');
    l.send(150, dgram(60));
    assert.equal(l.stats.droppedBlackhole, 1);
  });

  it('jitter reorders', () => {
    const l = new Link({ delayMs: 10, jitterMs: 20 }, new SeededRandom(11));
    for (let i = 0; i < 50; i++) l.send(i * 0.1, dgram(10, i));
    const order = l.deliver(1000).map((b) => b[0]!);
    assert.equal(order.length, 50);
    assert.notDeepEqual(order, [...order].sort((a, b) => a - b));
  });
});
