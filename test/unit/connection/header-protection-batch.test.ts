import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';

/**
 * A connection whose header protection goes to a HeaderProtectionBatch (what the UDP driver passes
 * to pollTransmit, applying it per burst) puts the same bytes on the wire as one protecting each
 * packet at its sealing: Initial, Handshake and 1-RTT packets, coalesced datagrams, retransmissions
 * after loss, a key update. (Each suite's masks: test/unit/crypto/header-protection.test.ts.)
 */
describe('header protection batched by the caller of pollTransmit ([perf2])', () => {
  const transfer = (batchHeaderProtection: boolean, seed: number): Pair => {
    const p = new Pair({ seed: testSeed(seed), link: { delayMs: 5, dropRate: 0.02 }, trace: true, batchHeaderProtection });
    p.handshake();
    const data = new Uint8Array(200_000).map((_, i) => i * 7);
    const sender = new StreamSender(p.client, data, 'uni');
    const receiver = new StreamReceiver(() => p.server);
    run(p, [sender, receiver], () => receiver.streams.get(sender.id)?.ended === true);
    assert.equal(p.client.initiateKeyUpdate(p.now), true);
    const more = new StreamSender(p.client, data.subarray(0, 50_000), 'uni');
    run(p, [more, receiver], () => receiver.streams.get(more.id)?.ended === true);
    assert.equal(receiver.streams.get(sender.id)?.bytes, data.length);
    return p;
  };

  for (const seed of [71, 72]) {
    it(`gives the same datagrams, byte for byte, as protection at sealing (seed ${seed}, 2% loss)`, () => {
      const a = transfer(false, seed);
      const b = transfer(true, seed);
      assert.ok(a.trace.length > 150, `a real exchange (${a.trace.length} datagrams)`);
      assert.equal(b.trace.length, a.trace.length);
      for (let i = 0; i < a.trace.length; i++) {
        assert.equal(b.trace[i]!.from, a.trace[i]!.from);
        assert.deepEqual(b.trace[i]!.bytes, a.trace[i]!.bytes, `datagram ${i}`);
      }
      assert.equal(b.client.getStats().keyUpdates, 1);
    });
  }
});
