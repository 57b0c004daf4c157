import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `quic-peer` command, run as a user would (compiled JavaScript, a child process). */
const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('quic-peer command', () => {
  it('demo completes: a raw-public-key handshake and packet protection', () => {
    const r = run('demo', '--handshakes', '3', '--packets', '50');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /server saw client {2}[0-9a-f]{64}/);
    assert.match(r.stdout, /cipher suite {7}TLS_AES_128_GCM_SHA256/);
    assert.match(r.stdout, /50 packets of 1200 bytes: \d+ Mbit\/s/);
  });

  it('--help prints usage and exits 0; bad input exits 2 with a reason', () => {
    const h = run('--help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage:/);
    assert.equal(run('demo', '--help').code, 0);
    const bad = run('frobnicate');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command 'frobnicate'/);
    const badArg = run('demo', '--packets', 'many');
    assert.equal(badArg.code, 2);
    assert.match(badArg.stderr, /bad argument '--packets'/);
  });
});
