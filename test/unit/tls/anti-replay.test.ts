import assert from 'node:assert/strict';
import { StrikeRegister } from '../../../src/tls/anti-replay.js';

describe('StrikeRegister (RFC 9846 §8.1: single-use tickets for early data)', () => {
  const t = (n: number): Uint8Array => Uint8Array.of(n, n + 1, n + 2);

  it('a ticket is claimed once within its lifetime; again after it expired (it can no longer open then)', () => {
    const r = new StrikeRegister(10);
    assert.equal(r.claim(t(1), 1000, 0), true);
    assert.equal(r.claim(t(1), 1000, 500), false, 'a replay');
    assert.equal(r.claim(t(2), 1000, 500), true, 'another ticket');
    assert.equal(r.size, 2);
    assert.equal(r.claim(t(1), 3000, 1000), true, 'expired entries are swept');
    assert.equal(r.size, 1);
  });

  it('full: refuses (early data off) rather than forget an entry or grow', () => {
    const r = new StrikeRegister(3);
    for (let i = 0; i < 3; i++) assert.equal(r.claim(t(i * 3), 10_000, 0), true);
    assert.equal(r.claim(t(100), 10_000, 0), false);
    assert.equal(r.claim(t(0), 10_000, 1), false, 'still remembered');
    assert.equal(r.size, 3);
    assert.throws(() => new StrikeRegister(0), RangeError);
  });
});
