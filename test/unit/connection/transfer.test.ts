import assert from 'node:assert/strict';
import { Pair, type PairOptions } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import type { LinkConfig } from '../../harness/link.js';

function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

const MB = 1024 * 1024;
/** One payload shared by the 10 MB cases (generating it is not what is being tested). */
let tenMb: Uint8Array | undefined;
function tenMegabytes(): Uint8Array {
  tenMb ??= payload(10 * MB, 10);
  return tenMb;
}

/** Sends `data` client -> server on one stream; returns the Pair once the server read it all. */
function transfer(opts: PairOptions, data: Uint8Array, maxMs = 600_000): Pair {
  const p = new Pair(opts);
  p.handshake(60_000);
  const tx = new StreamSender(p.client, data);
  const rx = new StreamReceiver(() => p.server);
  run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true, maxMs);
  assert.equal(rx.streams.get(tx.id)!.bytes, data.length);
  assert.ok(bytesEqual(rx.data(tx.id), data), 'received bytes differ from those sent');
  return p;
}

/** Asserts the statistics of a finished transfer hang together. */
function assertSaneStats(p: Pair, lossy: boolean | undefined): void {
  for (const c of [p.client, p.server!]) {
    const s = c.getStats();
    assert.ok(s.rtt.min > 0 && s.rtt.smoothed >= s.rtt.min && s.rtt.latest >= s.rtt.min, `rtt ${JSON.stringify(s.rtt)}`);
    assert.ok(s.cwnd >= 2 * 1200, `cwnd ${s.cwnd}`);
    assert.ok(s.bytesInFlight >= 0 && s.bytesInFlight <= s.cwnd + 2 * s.mtu, `in flight ${s.bytesInFlight}`);
    assert.ok(s.packetsSent > 0 && s.bytesSent >= s.packetsSent * 20);
    assert.ok(s.packetsReceived > 0 && s.bytesReceived > 0);
    assert.ok(s.mtu >= 1200 && s.mtu <= 1452);
  }
  const cs = p.client.getStats();
  const ss = p.server!.getStats();
  assert.ok(cs.bytesSent >= 10 * MB || cs.bytesSent > ss.bytesSent, 'the sender sent more');
  if (lossy) {
    assert.ok(cs.packetsLost > 0, 'losses were detected');
    assert.ok(cs.packetsRetransmitted > 0, 'data was retransmitted');
    assert.ok(cs.congestionEvents > 0, 'congestion events');
    assert.ok(cs.packetsLost <= p.c2s.stats.droppedRandom + p.c2s.stats.droppedQueue + p.c2s.stats.droppedMtu + 50, `lost ${cs.packetsLost} vs dropped ${JSON.stringify(p.c2s.stats)}`);
  } else if (lossy === false) {
    assert.equal(cs.packetsLost, 0);
    assert.equal(cs.congestionEvents, 0);
  }
}

describe('connection: transfers (virtual time)', () => {
  // [name, link, lossy (losses expected; undefined: spurious ones possible, not asserted)]
  const cases: Array<[string, Partial<LinkConfig>, boolean | undefined]> = [
    ['no loss', {}, false],
    ['2% loss', { dropRate: 0.02 }, true],
    ['10% loss', { dropRate: 0.1 }, true],
    ['30% loss', { dropRate: 0.3 }, true],
    ['reordering (jitter 8 ms on a 10 ms link)', { jitterMs: 8 }, undefined],
    ['duplication (5%)', { duplicateRate: 0.05 }, false],
    ['corruption (2% of datagrams, one byte in the first 50)', { corruptRate: 0.02 }, true],
  ];
  for (const [name, link, lossy] of cases) {
    it(`10 MB client->server over one stream, ${name}, byte for byte`, function () {
      this.timeout(60_000);
      const p = transfer({ seed: testSeed(40), link: { delayMs: 10, ...link } }, tenMegabytes());
      if (name.startsWith('corruption')) {
        // Corrupted packets fail authentication (or header checks) and are dropped, not fatal.
        assert.ok(p.c2s.stats.corrupted > 0);
        assert.ok(p.server!.getStats().packetsDropped > 0);
        assert.equal(p.server!.isClosed, false);
      } else {
        assertSaneStats(p, lossy);
      }
      if (name.startsWith('duplication')) assert.ok(p.server!.getStats().packetsDropped >= p.c2s.stats.duplicated / 2);
    });
  }

  it('1 MB server->client while the client sends too (both directions at once)', () => {
    const p = new Pair({ seed: testSeed(41), link: { delayMs: 10, dropRate: 0.02 } });
    p.handshake();
    const up = payload(MB, 1);
    const down = payload(MB, 2);
    const txc = new StreamSender(p.client, up);
    const rxs = new StreamReceiver(() => p.server);
    let txs: StreamSender | undefined;
    const rxc = new StreamReceiver(() => p.client);
    run(p, [txc, rxs, rxc, { pump: () => { txs ??= new StreamSender(p.server!, down, 'uni'); txs.pump(); } }], () =>
      rxs.streams.get(txc.id)?.ended === true && txs !== undefined && rxc.streams.get(txs.id)?.ended === true);
    assert.ok(bytesEqual(rxs.data(txc.id), up));
    assert.ok(bytesEqual(rxc.data(txs!.id), down));
  });

  it('2,000 small streams on one connection under a limit of 50 concurrent streams', () => {
    const p = new Pair({ seed: testSeed(42), link: { delayMs: 5, dropRate: 0.01 }, serverTransport: { streams: { maxConcurrentBidiStreams: 50 } } });
    p.handshake();
    const total = 2000;
    const senders: StreamSender[] = [];
    const rx = new StreamReceiver(() => p.server);
    let maxOpen = 0;
    let blockedOpens = 0;
    const opener = {
      pump: () => {
        while (senders.length < total) {
          const data = payload(100 + (senders.length % 200), senders.length);
          const id = p.client.openStream('bidi');
          if (id === null) {
            blockedOpens++;
            break;
          }
          senders.push(new StreamSender(p.client, data, { id }));
        }
        for (const s of senders) s.pump();
        maxOpen = Math.max(maxOpen, p.server!.internals.streams.size);
      },
    };
    run(p, [opener, rx], () => senders.length === total && [...rx.streams.values()].filter((s) => s.ended).length === total, 120_000);
    for (const s of senders) assert.ok(bytesEqual(rx.data(s.id), s.data), `stream ${s.id}`);
    // The limit held (the server never had more than 50 peer streams open) and was the bottleneck.
    assert.ok(maxOpen <= 50, `server held ${maxOpen} streams`);
    assert.ok(blockedOpens > 0);
  });

  it('3 concurrent transfers with small initial windows complete, byte for byte', () => {
    const small = { streams: { initialStreamWindow: 16 * 1024, initialConnectionWindow: 32 * 1024 } };
    const p = new Pair({ seed: testSeed(43), link: { delayMs: 10, dropRate: 0.01 }, clientTransport: small, serverTransport: small });
    p.handshake();
    const datas = [payload(MB, 11), payload(MB / 2, 12), payload(MB / 4, 13)];
    const txs = datas.map((d) => new StreamSender(p.client, d));
    const rx = new StreamReceiver(() => p.server);
    run(p, [...txs, rx], () => txs.every((t) => rx.streams.get(t.id)?.ended === true));
    txs.forEach((t, i) => assert.ok(bytesEqual(rx.data(t.id), datas[i]!)));
  });
});
