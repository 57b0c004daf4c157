import assert from 'node:assert/strict';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../../../src/codec/bytes.js';
import { AddressTokens, NEW_TOKEN_TOKEN, RETRY_TOKEN, hostOf, type TokenCheck } from '../../../src/quic/endpoint/address-tokens.js';
import {
  MIN_STATELESS_RESET_LENGTH,
  StatelessResetKey,
  statelessResetLength,
  writeStatelessReset,
} from '../../../src/quic/endpoint/stateless-reset.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { testSeed } from '../../harness/seed.js';

const KEY = new SeededRandom(42).fill(new Uint8Array(32));
const ADDR = '192.0.2.7:4433';
const ODCID = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const RSCID = new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]);

function kindOf(t: TokenCheck): string {
  return t.kind === 'invalid' ? `invalid:${t.reason}` : t.kind;
}

describe('address-validation tokens (RFC 9000 §8.1)', () => {
  const tokens = new AddressTokens(KEY);

  it('a Retry token round-trips: original DCID and Retry SCID come back', () => {
    const t = tokens.issueRetry(1000, ADDR, ODCID, RSCID);
    assert.equal(t[0], RETRY_TOKEN);
    assert.equal(t.length, 1 + 6 + 1 + 8 + 1 + 8 + 16, 'exact size');
    const c = tokens.validate(t, 1500, ADDR, RSCID);
    assert.equal(c.kind, 'retry');
    if (c.kind !== 'retry') return;
    assert.deepEqual(c.originalDcid, ODCID);
    assert.deepEqual(c.retryScid, RSCID);
  });

  it('a NEW_TOKEN token round-trips, binds the host but not the port, and is unique', () => {
    const rnd = new SeededRandom(3);
    const t = tokens.issueNewToken(0, ADDR, rnd);
    assert.equal(t[0], NEW_TOKEN_TOKEN);
    assert.equal(t.length, 1 + 6 + 16 + 16);
    assert.equal(tokens.validate(t, 5000, '192.0.2.7:9999', RSCID).kind, 'newToken');
    assert.equal(kindOf(tokens.validate(t, 5000, '192.0.2.8:4433', RSCID)), 'invalid:token authentication failed');
    assert.notDeepEqual(tokens.issueNewToken(0, ADDR, rnd), t);
  });

  it('rejects a Retry token from another address or port, for another DCID, or under another key', () => {
    const t = tokens.issueRetry(0, ADDR, ODCID, RSCID);
    assert.equal(kindOf(tokens.validate(t, 1, '192.0.2.7:4434', RSCID)), 'invalid:token authentication failed');
    assert.equal(kindOf(tokens.validate(t, 1, '192.0.2.8:4433', RSCID)), 'invalid:token authentication failed');
    assert.equal(kindOf(tokens.validate(t, 1, ADDR, ODCID)), 'invalid:Initial DCID is not the Retry SCID of the token');
    const other = new AddressTokens(new Uint8Array(32).fill(7));
    assert.equal(kindOf(other.validate(t, 1, ADDR, RSCID)), 'invalid:token authentication failed');
  });

  it('expires: valid up to the lifetime, invalid one millisecond later or from the future', () => {
    const t = tokens.issueRetry(1000, ADDR, ODCID, RSCID);
    assert.equal(tokens.validate(t, 1000 + tokens.retryLifetimeMs, ADDR, RSCID).kind, 'retry');
    assert.equal(kindOf(tokens.validate(t, 1001 + tokens.retryLifetimeMs, ADDR, RSCID)), 'invalid:token expired');
    assert.equal(kindOf(tokens.validate(t, 999, ADDR, RSCID)), 'invalid:token issued in the future');
    const n = tokens.issueNewToken(0, ADDR, new SeededRandom(1));
    assert.equal(tokens.validate(n, tokens.newTokenLifetimeMs, ADDR, RSCID).kind, 'newToken');
    assert.equal(kindOf(tokens.validate(n, tokens.newTokenLifetimeMs + 1, ADDR, RSCID)), 'invalid:token expired');
  });

  it('every single-bit change of a token is rejected, and says whether it claimed to be a Retry token', () => {
    const t = tokens.issueRetry(0, ADDR, ODCID, RSCID);
    for (let i = 0; i < t.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const f = t.slice();
        f[i]! ^= 1 << bit;
        const c = tokens.validate(f, 1, ADDR, RSCID);
        assert.equal(c.kind, 'invalid', `byte ${i} bit ${bit}`);
        if (c.kind === 'invalid') assert.equal(c.retry, f[0] === RETRY_TOKEN);
      }
    }
  });

  it('every truncated prefix is rejected (never throws)', () => {
    for (const t of [tokens.issueRetry(0, ADDR, ODCID, RSCID), tokens.issueNewToken(0, ADDR, new SeededRandom(2))]) {
      for (let n = 0; n < t.length; n++) assert.equal(tokens.validate(t.subarray(0, n), 1, ADDR, RSCID).kind, 'invalid', `prefix ${n}`);
    }
  });

  it('a table of malformed tokens and what each is', () => {
    const cases: Array<[string, Uint8Array, string]> = [
      ['empty', new Uint8Array(0), 'invalid:unknown token format'],
      ['unknown kind', new Uint8Array(40).fill(3), 'invalid:unknown token format'],
      ['retry kind, too short', new Uint8Array([RETRY_TOKEN, 0, 0]), 'invalid:token too short'],
      ['retry kind, random tag', new Uint8Array(40).fill(RETRY_TOKEN), 'invalid:token authentication failed'],
      ['new-token kind, random tag', new Uint8Array(39).fill(NEW_TOKEN_TOKEN), 'invalid:token authentication failed'],
    ];
    for (const [name, t, want] of cases) assert.equal(kindOf(tokens.validate(t, 1, ADDR, RSCID)), want, name);
  });

  it('a correctly tagged token with a malformed body is invalid, not an exception', () => {
    // Forge with the derived key (as a buggy sibling implementation could): vec8 past the end.
    const key = hkdf(sha256, KEY, utf8('quic-peer endpoint'), utf8('address validation token'), 32);
    const body = new Uint8Array([RETRY_TOKEN, 0, 0, 0, 0, 0, 0, 200, 1, 2]);
    const tag = hmac(sha256, key, new Uint8Array([...body, ...utf8(ADDR)])).subarray(0, 16);
    const c = tokens.validate(new Uint8Array([...body, ...tag]), 1, ADDR, RSCID);
    assert.equal(c.kind, 'invalid');
    if (c.kind === 'invalid') assert.match(c.reason, /^malformed token/);
  });

  it('property: random tokens are always invalid and never throw (seeded)', () => {
    const rng = new SeededRandom(testSeed(77));
    for (let i = 0; i < 2000; i++) {
      const t = rng.fill(new Uint8Array(rng.int(80)));
      if (i % 3 === 0 && t.length > 0) t[0] = RETRY_TOKEN;
      assert.equal(tokens.validate(t, rng.int(1e6), ADDR, RSCID).kind, 'invalid');
    }
  });

  it('hostOf takes everything before the last colon', () => {
    assert.equal(hostOf('1.2.3.4:5'), '1.2.3.4');
    assert.equal(hostOf('[::1]:443'), '[::1]');
    assert.equal(hostOf('nohost'), 'nohost');
  });
});

describe('stateless reset (RFC 9000 §10.3)', () => {
  it('token = HMAC-SHA256(subkey of the static key, cid)[0..16] (§10.3.2), distinct per CID', () => {
    const k = new StatelessResetKey(KEY);
    const sub = hkdf(sha256, KEY, utf8('quic-peer endpoint'), utf8('stateless reset token'), 32);
    const cid = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(k.token(cid), hmac(sha256, sub, cid).subarray(0, 16));
    assert.deepEqual(new StatelessResetKey(KEY).token(cid), k.token(cid), 'a restarted endpoint derives the same token');
    assert.notDeepEqual(k.token(new Uint8Array(8)), k.token(cid));
    assert.throws(() => new StatelessResetKey(new Uint8Array(16)), RangeError);
  });

  it('reset length: none for 21 bytes or fewer, one less up to 43, then 42..64 and always below the trigger', () => {
    const rnd = new SeededRandom(9);
    for (let n = 0; n <= MIN_STATELESS_RESET_LENGTH; n++) assert.equal(statelessResetLength(n, rnd), 0, `${n}`);
    assert.equal(statelessResetLength(22, rnd), 21);
    assert.equal(statelessResetLength(43, rnd), 42);
    for (let n = 44; n < 1500; n += 7) {
      const l = statelessResetLength(n, rnd);
      assert.ok(l >= 42 && l <= 64 && l < n, `${n} -> ${l}`);
    }
  });

  it('the packet looks like a short header and ends with the token', () => {
    const out = new Uint8Array(100).fill(0xff);
    const token = new Uint8Array(16).fill(0xab);
    assert.equal(writeStatelessReset(out, 30, token, new SeededRandom(1)), 30);
    assert.equal(out[0]! & 0xc0, 0x40, 'header form 0, fixed bit 1');
    assert.deepEqual(out.subarray(14, 30), token);
    assert.equal(out[30], 0xff, 'nothing written past the length');
    assert.throws(() => writeStatelessReset(out, 20, token, new SeededRandom(1)), RangeError);
  });
});
