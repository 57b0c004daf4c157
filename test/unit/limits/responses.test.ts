import assert from 'node:assert/strict';
import { EndpointError } from '../../../src/quic/endpoint/endpoint-core.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { testSeed } from '../../harness/seed.js';
import { Identities } from '../endpoint/net.js';
import { buildUnknownVersion } from '../endpoint/helpers.js';

/**
 * What an endpoint says without a connection (Version Negotiation, Retry, refusals) is bounded
 * twice: by a rate limit (responseRate) and by the queue of datagrams waiting for pollTransmit
 * (maxQueuedResponses), so a flood of unknown versions cannot make it send or hold without bound.
 * And `connect` refuses at maxConnections with a typed error.
 */
describe('limits: stateless responses and outgoing connections', () => {
  const flood = (n: number, now: number, ep: ReturnType<Identities['server']>, rng: SeededRandom): void => {
    for (let i = 0; i < n; i++) {
      ep.handleDatagram(now, `10.8.${i >> 8}.${i & 255}:${2000 + i}`, buildUnknownVersion(0x0a0a0a0a, rng.fill(new Uint8Array(8)), rng.fill(new Uint8Array(8)), 1200));
    }
  };

  it('responseRate: a flood of unknown versions gets at most the burst, then the rate, of Version Negotiation', () => {
    const ids = new Identities(testSeed(79));
    const ep = ids.server({ responseRate: { perSecond: 50, burst: 10 } });
    const rng = new SeededRandom(testSeed(79));
    const out = new Uint8Array(1500);
    const drain = (now: number): number => {
      let k = 0;
      while (ep.pollTransmit(now, out)) k++;
      return k;
    };
    flood(500, 0, ep, rng);
    assert.equal(drain(0), 10, 'the burst');
    flood(500, 1000, ep, rng);
    assert.equal(drain(1000), 10, 'refilled to the burst, no more');
    flood(500, 1100, ep, rng);
    assert.equal(drain(1100), 5, '50/s for 100 ms');
    assert.equal(ep.stats.versionNegotiationsSent, 25);
    assert.equal(ep.stats.droppedResponses, 1500 - 25);
  });

  it('maxQueuedResponses: responses nobody polls stop at the queue length', () => {
    const ids = new Identities(testSeed(80));
    const ep = ids.server({ responseRate: { perSecond: 1e6, burst: 1e6 }, maxQueuedResponses: 16 });
    flood(200, 0, ep, new SeededRandom(testSeed(80)));
    assert.equal(ep.stats.versionNegotiationsSent, 16);
    assert.equal(ep.stats.droppedResponses, 200 - 16);
    let k = 0;
    while (ep.pollTransmit(0, new Uint8Array(1500))) k++;
    assert.equal(k, 16);
  });

  it('maxConnections also bounds outgoing connections: connect throws EndpointError at the limit', () => {
    const ids = new Identities(testSeed(81));
    const ep = ids.client({ maxConnections: 3 });
    for (let i = 0; i < 3; i++) ep.connect(0, `10.0.0.${i + 1}:443`, { tls: ids.clientTls() });
    assert.throws(() => ep.connect(0, '10.0.0.9:443', { tls: ids.clientTls() }), (e: unknown) => e instanceof EndpointError && /limit of 3/.test(e.message));
    assert.equal(ep.connectionCount, 3);
  });
});
