import assert from 'node:assert/strict';
import { BufferPool, BufferPoolError } from '../../../src/codec/pool.js';

describe('BufferPool', () => {
  it('hands out distinct buffers of the configured size and reuses released ones', () => {
    const pool = new BufferPool({ bufferSize: 1452, maxBuffers: 8, slabBuffers: 4 });
    const a = pool.acquire()!;
    const b = pool.acquire()!;
    assert.equal(a.bytes.length, 1452);
    assert.ok(!(a.bytes.byteOffset === b.bytes.byteOffset && a.bytes.buffer === b.bytes.buffer), 'distinct views');
    a.bytes[0] = 1;
    b.bytes[0] = 2;
    assert.equal(a.bytes[0], 1, 'buffers must not overlap');
    assert.equal(pool.inUse, 2);
    assert.equal(pool.allocated, 4, 'one slab of four');
    a.release();
    assert.equal(pool.inUse, 1);
    const c = pool.acquire()!;
    assert.equal(c, a, 'the released buffer is reused (LIFO)');
    assert.equal(c.length, 0, 'length reset on acquire');
  });

  it('fails loudly on double release, foreign release and use after release', () => {
    const pool = new BufferPool({ maxBuffers: 2 });
    const other = new BufferPool({ maxBuffers: 2 });
    const a = pool.acquire()!;
    a.release();
    assert.throws(() => a.release(), BufferPoolError);
    assert.throws(() => a.bytes, BufferPoolError);
    const b = pool.acquire()!;
    assert.throws(() => other.release(b), BufferPoolError);
    assert.equal(pool.inUse, 1, 'a failed release changes nothing');
  });

  it('returns undefined when exhausted, and recovers after a release', () => {
    const pool = new BufferPool({ bufferSize: 64, maxBuffers: 3, slabBuffers: 2 });
    const got = [pool.acquire(), pool.acquire(), pool.acquire()];
    assert.ok(got.every((b) => b !== undefined));
    assert.equal(pool.allocated, 3, 'the last slab is trimmed to maxBuffers');
    assert.equal(pool.acquire(), undefined);
    got[1]!.release();
    assert.ok(pool.acquire());
  });

  it('filled is the written prefix', () => {
    const pool = new BufferPool({ bufferSize: 16 });
    const a = pool.acquire()!;
    a.bytes.set([1, 2, 3]);
    a.length = 3;
    assert.deepEqual([...a.filled], [1, 2, 3]);
  });

  it('rejects nonsense options with a clear error', () => {
    assert.throws(() => new BufferPool({ bufferSize: 0 }), /bufferSize must be a positive integer/);
    assert.throws(() => new BufferPool({ maxBuffers: 1.5 }), /maxBuffers/);
  });
});
