import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { BASE_PLPMTU } from '../../../src/quic/connection/mtu.js';

function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

/** Path behaviour: MTU discovery and black holes, outages, persistent congestion. */
describe('connection: path MTU and outages (virtual time)', () => {
  it('MTU discovery reaches the link MTU (1400: ends within 16 bytes below it)', () => {
    const p = new Pair({ seed: testSeed(50), link: { delayMs: 10, mtu: 1400 } });
    p.handshake();
    p.runFor(10_000);
    for (const c of [p.client, p.server!]) {
      const mtu = c.getStats().mtu;
      assert.ok(mtu <= 1400 && mtu > 1400 - 16, `found ${mtu}`);
    }
    // The probes cost nothing but themselves: no congestion event, no loss of real data.
    assert.equal(p.client.getStats().congestionEvents, 0);
    assert.ok(p.client.isConnected && p.server!.isConnected);
  });

  it('MTU discovery reaches the configured maximum (1452) on a wide path, and the datagram size follows', () => {
    const p = new Pair({ seed: testSeed(51), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(2_000);
    assert.equal(p.client.getStats().mtu, 1452);
    assert.equal(p.server!.getStats().mtu, 1452);
    assert.ok(p.client.maxDatagramSize()! > 1200 - 30);
  });

  it('falls back to 1200 when the link MTU shrinks mid-transfer (black hole), then finds the new MTU', () => {
    const p = new Pair({ seed: testSeed(52), link: { delayMs: 10 } });
    p.handshake();
    const data = payload(3_000_000);
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => p.client.getStats().mtu === 1452 && (rx.streams.get(tx.id)?.bytes ?? 0) > 500_000);
    // The route changes: the client's packets above 1300 bytes now vanish.
    p.c2s.set({ mtu: 1300 });
    let sawBase = false;
    const watch = { pump: () => { if (p.client.getStats().mtu === BASE_PLPMTU) sawBase = true; } };
    run(p, [tx, rx, watch], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    assert.ok(sawBase, 'black hole detected: back to 1200');
    assert.ok(p.client.internals.paths.recovery.mtu.blackHoles >= 1);
    // The search resumed below the size that was lost and settled under the new path MTU.
    p.runFor(20_000);
    const mtu = p.client.getStats().mtu;
    assert.ok(mtu <= 1300 && mtu > 1300 - 16, `found ${mtu}`);
  });

  it('a 2 s blackhole in the middle of a transfer: recovers, no false MTU black hole, data intact', () => {
    const p = new Pair({ seed: testSeed(53), link: { delayMs: 10 } });
    p.handshake();
    const data = payload(3_000_000);
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => (rx.streams.get(tx.id)?.bytes ?? 0) > 1_000_000);
    const start = p.now;
    const down = (t: number) => t >= start && t < start + 2000;
    p.c2s.set({ blackhole: down });
    p.s2c.set({ blackhole: down });
    let minCwnd = Infinity;
    const watch = { pump: () => { minCwnd = Math.min(minCwnd, p.client.getStats().cwnd); } };
    run(p, [tx, rx, watch], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    assert.ok(p.now < start + 10_000, `recovered ${p.now - start} ms after the outage began`);
    const s = p.client.getStats();
    assert.ok(s.ptoCount === 0 && p.client.isConnected);
    // RFC 9002 §7.6.2: the losses span more than the persistent congestion duration: the window
    // collapsed to the minimum (2 * max_datagram_size) before growing again.
    assert.ok(p.client.internals.paths.recovery.cc.stats.persistentCongestionEvents >= 1, 'persistent congestion declared');
    assert.equal(minCwnd, 2 * p.client.internals.paths.recovery.cc.maxDatagramSize);
    // An outage is not a path MTU black hole: the MTU stayed.
    assert.equal(p.client.internals.paths.recovery.mtu.blackHoles, 0);
    assert.equal(s.mtu, 1452);
  });

  it('persistent congestion collapses cwnd to the minimum window (RFC 9002 §7.6.2)', () => {
    const p = new Pair({ seed: testSeed(54), link: { delayMs: 10 } });
    p.handshake();
    const data = payload(2_000_000);
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => (rx.streams.get(tx.id)?.bytes ?? 0) > 500_000);
    // Only the client's packets die, for long enough to span three PTOs and more.
    const start = p.now;
    p.c2s.set({ blackhole: (t) => t < start + 1000 });
    const before = p.client.internals.paths.recovery.cc.stats.persistentCongestionEvents;
    let collapsedTo: number | undefined;
    const watch = {
      pump: () => {
        if (collapsedTo === undefined && p.client.internals.paths.recovery.cc.stats.persistentCongestionEvents > before) collapsedTo = p.client.internals.paths.recovery.cc.window;
      },
    };
    run(p, [tx, rx, watch], () => collapsedTo !== undefined);
    assert.equal(collapsedTo, p.client.internals.paths.recovery.cc.minimumWindow);
    assert.equal(p.client.internals.paths.recovery.cc.minimumWindow, 2 * p.client.internals.paths.recovery.cc.maxDatagramSize);
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
  });
});
