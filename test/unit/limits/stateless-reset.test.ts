import assert from 'node:assert/strict';
import { SeededRandom } from '../../../src/tls/random.js';
import { testSeed } from '../../harness/seed.js';
import { Identities } from '../endpoint/net.js';
import { buildShort } from '../endpoint/helpers.js';

/**
 * Stateless resets (RFC 9000 §10.3, §10.3.3): every reset the endpoint sends is strictly smaller
 * than the datagram that triggered it (so two endpoints cannot loop), and the endpoint never
 * sends more than its rate limit allows, whatever a flood of unroutable packets looks like.
 * (Unit tests of the length rule: test/unit/endpoint/tokens.test.ts; of the limiter:
 * test/unit/endpoint/rate-limit.test.ts; one endpoint case each: test/unit/endpoint/validation.test.ts.)
 */
describe('limits: stateless resets', () => {
  it('for every trigger size 1..1500 (two random CIDs each), a reset is smaller than its trigger, and the rate holds', () => {
    const ids = new Identities(testSeed(78));
    const rate = { perSecond: 100, burst: 10 };
    const ep = ids.server({ statelessResetRate: rate });
    const rng = new SeededRandom(testSeed(78));
    const out = new Uint8Array(1500);
    let sent = 0;
    let now = 0;
    for (let n = 1; n <= 1500; n++) {
      for (let k = 0; k < 2; k++) {
        now += 5; // 3,000 triggers over 15 s: the limit allows 10 + 100/s * 15 s
        const from = `10.7.${n >> 8}.${n & 255}:${1000 + k}`;
        ep.handleDatagram(now, from, buildShort(rng.fill(new Uint8Array(8)), n, n * 2 + k));
        for (let t = ep.pollTransmit(now, out); t; t = ep.pollTransmit(now, out)) {
          assert.equal(t.address, from);
          assert.ok(t.length < n, `a ${t.length}-byte reset for a ${n}-byte trigger`);
          assert.ok(t.length >= 21, 'never below the minimum a peer recognises');
          sent++;
        }
      }
    }
    const elapsedS = now / 1000;
    assert.ok(sent <= rate.burst + rate.perSecond * elapsedS, `${sent} resets in ${elapsedS} s`);
    assert.ok(sent >= rate.perSecond * elapsedS * 0.9, `the limit refilled (${sent})`);
    assert.equal(ep.stats.statelessResetsSent, sent);
    assert.ok(ep.stats.statelessResetsRateLimited > 0);
  });
});
