import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CryptoStream } from '../../src/quic/connection/crypto-stream.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { SeededRandom } from '../../src/tls/random.js';
import { repoRoot } from '../interop/iroh.js';
import { replay, type FindingRecord } from './engine.js';
import { makeTarget } from './targets.js';

/**
 * Every finding of the fuzzer that was fixed keeps its reproducer in test/fuzz/regressions/ and is
 * replayed here against a fresh state: it must no longer fail.
 */
describe('fuzz regressions (test/fuzz/regressions/*.json replayed)', () => {
  const dir = join(repoRoot(), 'test', 'fuzz', 'regressions');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    it(`${file} no longer fails`, () => {
      const f = JSON.parse(readFileSync(join(dir, file), 'utf8')) as FindingRecord;
      const again = replay(makeTarget(f.target), f);
      assert.equal(again, undefined, again ? `${again.message}\n${again.stack}` : '');
    });
  }

  it('CryptoStream: overlapping out-of-order frames never buffer more than the cap (bounds-crypto-overlap)', () => {
    // The shape of the finding, at the unit: chunks at every offset 1..n, each reaching the edge
    // of the window. One copy per offset would hold ~n^2/2 bytes.
    const max = 4096;
    const data = new SeededRandom(5).fill(new Uint8Array(max));
    const c = new CryptoStream(max);
    const out: Uint8Array[] = [];
    for (let off = max - 1; off >= 1; off--) {
      out.push(...c.onCryptoFrame(off, data.subarray(off)));
      assert.ok(c.bufferedBytes <= max, `${c.bufferedBytes} bytes buffered at offset ${off}`);
    }
    assert.equal(c.bufferedBytes, max - 1);
    out.push(...c.onCryptoFrame(0, data.subarray(0, 1)));
    assert.deepEqual(concatBytes(...out), data);
    assert.equal(c.bufferedBytes, 0);
  });
});
