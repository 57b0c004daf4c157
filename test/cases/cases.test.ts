/**
 * The interop runner's cases in their quick variants (smaller files, fewer connections, shorter
 * periods; the same checks), quic-peer against quic-peer over the impairing relay on loopback.
 * `npm run interop-cases` runs the full variants. QP_SEED replays a run's relay decisions.
 */
import { strict as assert } from 'node:assert';
import { CASES } from './cases.js';
import { runInteropCase } from './table.js';
import { testSeed } from '../harness/seed.js';

describe('interop runner cases (quick) over the impairing relay', function () {
  const seed = testSeed(1);
  for (const c of CASES) {
    if (c.unsupported) {
      it(`${c.name}: unsupported (${c.unsupported})`, function () {
        this.skip();
      });
      continue;
    }
    const budget = c.setup(true).timeoutMs + 10_000;
    it(`${c.name} (runner: ${c.runnerName})`, async function () {
      this.timeout(budget);
      const r = await runInteropCase(c, true, seed);
      assert.equal(r.result, 'succeeded', `${c.name} failed (replay with QP_SEED=${seed}):\n  ${r.failures.join('\n  ')}\n  notes: ${r.notes.join('; ')}\n  relay: ${r.relay}`);
    });
  }
});
