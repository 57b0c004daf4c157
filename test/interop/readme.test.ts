import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runScenario } from './iroh.js';
import { requireIsolation } from './netns.js';

/** The README's "Interop with iroh" example must work as written against a real iroh node. */
describe('README: the "Interop with iroh" example against a real iroh node', function () {
  this.timeout(60_000);
  before(async function () {
    await requireIsolation(this);
  });

  /** The first js code block after `heading`, written to a temporary file importing the build. */
  function exampleAfter(heading: string, dir: string): string {
    const root = repoRoot();
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const at = readme.indexOf(heading);
    assert.ok(at >= 0, `README has a "${heading}" section`);
    const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.ok(m, 'the section has a js example');
    const file = join(dir, 'example.mjs');
    writeFileSync(file, m[1]!.replace("from 'quic-peer'", `from '${join(root, 'build/src/index.js')}'`));
    return file;
  }

  it('dials the iroh echo node by its ticket, echoes, sends a datagram and closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qp-readme-iroh-'));
    try {
      const file = exampleAfter('## Interop with iroh', dir);
      const { result } = await runScenario<{ stdout: string; stderr: string; code: number | null; irohId: string }>(
        new URL('./scenarios/readme.js', import.meta.url),
        { args: [file], timeoutMs: 45_000 },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`connected to ${result.irohId} \\(ALPN my-app/1\\)`));
      assert.match(result.stdout, /hello iroh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('"From the relay to a direct path": started by a relay-only ticket, the session moves to a direct path and echoes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qp-readme-direct-'));
    try {
      const file = exampleAfter('### From the relay to a direct path', dir);
      const { result } = await runScenario<{ stdout: string; stderr: string; code: number | null; irohId: string }>(
        new URL('./scenarios/readme.js', import.meta.url),
        { args: [file, '--relay-only'], timeoutMs: 45_000 },
      );
      assert.equal(result.code, 0, result.stderr);
      // Printed as the README shows it: path 0 on the relay first, then a direct path selected.
      assert.match(result.stdout, /^connected: 0 relay selected$/m, result.stdout);
      assert.match(result.stdout, /^now: 0 relay( \d+ direct)*( \d+ direct selected)( \d+ direct)*$/m, result.stdout);
      assert.match(result.stdout, /^echo: hello over a direct path$/m, result.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
