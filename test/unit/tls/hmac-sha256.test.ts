import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { HmacSha256, hmacSha256, hmacSha256Prefix, sha256 as jsSha256 } from '../../../src/tls/hmac-sha256.js';
import { hmacDigest } from '../../../src/tls/crypto.js';
import { withSeed } from '../../harness/seed.js';

const node = (key: Uint8Array, parts: Uint8Array[]): string => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('tls/hmac-sha256: HMAC-SHA-256 in JS', () => {
  it('matches RFC 4231 test case 2 (short key) and 6 (key longer than the block)', () => {
    const t2 = hmacSha256(new TextEncoder().encode('Jefe'), [new TextEncoder().encode('what do ya want for nothing?')]);
    assert.equal(toHex(t2), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    const t6 = hmacSha256(new Uint8Array(131).fill(0xaa), [new TextEncoder().encode('Test Using Larger Than Block-Size Key - Hash Key First')]);
    assert.equal(toHex(t6), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('matches node:crypto for keys and messages of every length around the block and padding edges', () => withSeed(4231, (rnd) => {
    const lengths = [0, 1, 31, 32, 48, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200];
    for (const kl of [0, 1, 32, 48, 63, 64, 65, 100]) {
      for (const ml of lengths) {
        const key = rnd.fill(new Uint8Array(kl));
        const msg = rnd.fill(new Uint8Array(ml));
        const cut = Math.floor(ml / 3);
        const parts = [msg.subarray(0, cut), new Uint8Array(0), msg.subarray(cut)];
        assert.equal(toHex(hmacSha256(key, parts)), node(key, [msg]), `key ${kl} B, message ${ml} B`);
        // the same key again (its pads are cached) and then another key of the same length
        assert.equal(toHex(hmacSha256(key, [msg])), node(key, [msg]));
        key[0] = (key[0] ?? 0) ^ 1;
        if (kl > 0) assert.equal(toHex(hmacSha256(key, [msg])), node(key, [msg]), 'a changed key is not served from the cache');
        const keyed = new HmacSha256(key);
        assert.equal(toHex(keyed.digest(parts)), node(key, [msg]), 'a keyed object');
        assert.equal(toHex(keyed.digest([msg])), node(key, [msg]), 'a keyed object, used twice');
        assert.equal(toHex(jsSha256(...parts)), createHash('sha256').update(msg).digest('hex'), `SHA-256 of ${ml} B`);
        // The prefix of a larger scratch buffer (HKDF-Expand-Label), full and truncated.
        const scratch = new Uint8Array(ml + 7).fill(0xee);
        scratch.set(msg);
        assert.equal(toHex(hmacSha256Prefix(key, scratch, ml)), node(key, [msg]), `prefix of ${ml} B`);
        assert.equal(toHex(hmacSha256Prefix(key, scratch, ml, 12)), node(key, [msg]).slice(0, 24), `prefix of ${ml} B, 12 bytes out`);
      }
    }
  }));

  it('re-keys its one-shot state in place: alternating, equal-length and over-long keys, truncated outputs', () => withSeed(2104, (rnd) => {
    const b = (n: number): Uint8Array => rnd.fill(new Uint8Array(n));
    const keys = [b(32), b(32), b(20), b(65), b(64), new Uint8Array(0)];
    const msg = b(45);
    for (let round = 0; round < 3; round++) {
      for (const k of [...keys, keys[0]!, keys[0]!, keys[3]!, keys[3]!]) {
        assert.equal(toHex(hmacSha256(k, [msg])), node(k, [msg]));
        for (const len of [1, 12, 16, 31]) assert.equal(toHex(hmacSha256(k, [msg], len)), node(k, [msg]).slice(0, 2 * len));
      }
    }
    // A caller's key array changed in place after use is a new key.
    const k = keys[1]!.slice();
    hmacSha256(k, [msg]);
    k[0] = k[0]! ^ 1;
    assert.equal(toHex(hmacSha256(k, [msg])), node(k, [msg]));
    // The outputs are fresh arrays, never the shared scratch.
    const a = hmacSha256(keys[0]!, [msg], 16);
    const before = toHex(a);
    hmacSha256(keys[1]!, [msg], 16);
    assert.equal(toHex(a), before);
  }));

  it('is what hmacDigest uses for sha256, and sha384 still works', () => {
    const key = fromHex('0b'.repeat(32));
    const msg = fromHex('00010203');
    assert.equal(toHex(hmacDigest('sha256', key, msg)), node(key, [msg]));
    assert.equal(toHex(hmacDigest('sha384', key, msg)), createHmac('sha384', key).update(msg).digest('hex'));
  });
});
