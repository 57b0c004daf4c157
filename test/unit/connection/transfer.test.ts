import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/quic/codec/bytes.js';

function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

describe('connection: transfers (virtual time)', () => {
  for (const [name, link] of [
    ['no loss', {}],
    ['2% loss', { dropRate: 0.02 }],
  ] as const) {
    it(`1 MB client->server over one stream, ${name}, byte for byte`, () => {
      const p = new Pair({ link: { delayMs: 10, ...link } });
      p.handshake();
      const data = payload(1_000_000);
      const tx = new StreamSender(p.client, data);
      const rx = new StreamReceiver(() => p.server);
      run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
      assert.ok(bytesEqual(rx.data(tx.id), data));
    });
  }
});
