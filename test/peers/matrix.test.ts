/**
 * The interop matrix's quick variant (test/peers/run.ts --quick) inside npm test: every cell the
 * installed stacks support, both directions, one `it` per cell. The run happens once, in a
 * loopback-only network namespace; each `it` reports its cell. Without the peers (install.sh not
 * run) the suite is skipped with the reason, except under CI=true, where .ci/run installs them and
 * their absence fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireIsolation, runIsolated } from '../interop/netns.js';
import type { CellResult } from './matrix.js';
import { readManifest } from './run.js';
import { CASES, stacks } from './stacks.js';

const { manifest, reason } = readManifest();
/** What install.sh installs; CI runs the matrix with all of them. */
const INSTALLED_STACKS = ['ngtcp2', 'quic-go', 'quinn', 'quiche', 'caddy'];

describe('interop matrix, quick (test/peers): quic-peer against independent QUIC stacks', function () {
  this.timeout(20 * 60_000);
  let results: CellResult[] = [];
  let runOutput = '';

  before(async function () {
    if (!manifest) {
      if (process.env['CI'] === 'true') throw new Error(`the interop peers are not installed and CI=true forbids skipping: ${reason}`);
      console.warn(`      (matrix skipped: ${reason})`);
      this.skip();
    }
    await requireIsolation(this);
    const dir = mkdtempSync(join(tmpdir(), 'qp-matrix-test-'));
    try {
      const runJs = fileURLToPath(new URL('./run.js', import.meta.url));
      const run = await runIsolated([process.execPath, runJs, '--inside', '--quick', '--json', join(dir, 'r.json')], { timeoutMs: 18 * 60_000 });
      runOutput = `${run.stdout}\n${run.stderr}`;
      try {
        results = (JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { results: CellResult[] }).results;
      } catch {
        throw new Error(`the matrix run wrote no results (exit ${run.code ?? run.signal}${run.timedOut ? ', timed out' : ''}):\n${runOutput.slice(-3000)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (!manifest) {
    it('runs the matrix (needs bash test/peers/install.sh)', () => {});
    return;
  }
  if (process.env['CI'] === 'true') {
    it('every stack install.sh provides is installed (CI)', () => {
      const missing = INSTALLED_STACKS.filter((s) => !(s in manifest.stacks));
      assert.deepEqual(missing, [], `not installed: ${missing.join(', ')} (see test/peers/install.sh's output)`);
    });
  }
  for (const stack of stacks(manifest)) {
    for (const c of CASES) {
      for (const ours of ['client', 'server'] as const) {
        const supported = ours === 'client' ? stack.asServer.has(c) : stack.asClient.has(c);
        if (!supported) continue;
        it(`${stack.name}: ${c}, quic-peer as ${ours}`, () => {
          const r = results.find((x) => x.stack === stack.name && x.case === c && x.ours === ours);
          assert.ok(r, `no result for this cell; run output:\n${runOutput.slice(-2000)}`);
          assert.equal(r.status, 'pass', r.detail);
        });
      }
    }
  }
});
