import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `import('quic-peer')` must not load `ws` (so the library loads under Bun and Deno without it):
 * src/relay/ws.ts imports it on first use. CommonJS modules loaded through ESM show in the
 * require cache, which the child prints before and after a relay is used.
 */
const index = fileURLToPath(new URL('../../../src/index.js', import.meta.url));

describe('relay: ws is loaded only when a relay is used', () => {
  it('importing the package does not load ws; starting a RelayServer does', () => {
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).some((k) => /[\\\\/]node_modules[\\\\/]ws[\\\\/]/.test(k));
      const m = await import(${JSON.stringify(index)});
      const before = loaded();
      const s = await m.RelayServer.listen({ bind: '127.0.0.1:0' });
      await s.close();
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { before: false, after: true });
  });
});
