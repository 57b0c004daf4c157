import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The README's API example must run as written (with the package import pointed at the build).
 */
const root = join(fileURLToPath(import.meta.url), '../../../..');

function codeBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(heading);
  assert.ok(at >= 0, `README has no '${heading}' section`);
  const m = /```ts\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(m, `no ts code block after '${heading}'`);
  return m[1]!;
}

describe('README', function () {
  this.timeout(30_000);
  it('the "Using it" example runs and prints what it promises', () => {
    const code = codeBlockAfter(readFileSync(join(root, 'README.md'), 'utf8'), '## Using it');
    const dir = mkdtempSync(join(tmpdir(), 'qp-readme-'));
    try {
      const file = join(dir, 'example.mjs');
      writeFileSync(file, code.replace("from 'quic-peer'", `from '${join(root, 'build/src/index.js')}'`));
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^[0-9a-f]{64} endpoint[a-z2-7]+$/m);
      assert.match(r.stdout, /talking to [0-9a-f]{64} over iroh-http\/2-duplex/);
      assert.match(r.stdout, /^hello$/m);
      assert.match(r.stdout, /\{ closeCode: 0, reason: 'bye' \}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the "X.509 mode" example runs: a self-signed server, dialled by name and by pinned key', () => {
    const code = codeBlockAfter(readFileSync(join(root, 'README.md'), 'utf8'), '## X.509 mode');
    const dir = mkdtempSync(join(tmpdir(), 'qp-readme-'));
    try {
      const file = join(dir, 'example.mjs');
      writeFileSync(file, code.replace("from 'quic-peer'", `from '${join(root, 'build/src/index.js')}'`));
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^verified 1 certificate\(s\) for localhost$/m);
      assert.match(r.stdout, /^pinned key matches$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
