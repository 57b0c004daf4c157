import assert from 'node:assert/strict';
import { RateLimiter } from '../../../src/quic/endpoint/rate-limit.js';

describe('RateLimiter (the limit on stateless answers)', () => {
  it('the burst at once, then the rate', () => {
    const limiter = new RateLimiter(10, 3);
    assert.deepEqual([limiter.take(0), limiter.take(0), limiter.take(0), limiter.take(0)], [true, true, true, false]);
    assert.equal(limiter.take(50), false, 'half a send after 50 ms');
    assert.equal(limiter.take(100), true, 'one send after 100 ms');
    assert.equal(limiter.take(100), false);
    assert.equal(limiter.take(10_000), true);
    assert.equal(limiter.take(10_000), true);
    assert.equal(limiter.take(10_000), true);
    assert.equal(limiter.take(10_000), false, 'never more than the burst');
    assert.equal(limiter.take(5_000), false, 'time going backwards adds nothing');
  });

  it('refuses a negative rate or burst', () => {
    assert.throws(() => new RateLimiter(-1, 1), RangeError);
    assert.throws(() => new RateLimiter(1, -1), RangeError);
    assert.throws(() => new RateLimiter(Number.NaN, 1), RangeError);
  });
});
