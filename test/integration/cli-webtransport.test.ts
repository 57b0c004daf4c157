/**
 * `quic-peer listen --webtransport --echo` as a user runs it: it prints its URL, the certificate's
 * hash and the demo page; quic-peer's WebTransport client reaches it with that hash and is echoed
 * (streams both kinds, datagrams); the demo page is served with the URL and hash in it; usage errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { connectWebTransport } from '../../src/http/index.js';
import { startWtListener, type WtListener } from '../webtransport/cli.js';

const main = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

describe('cli: quic-peer listen --webtransport', function () {
  this.timeout(30_000);
  let l: WtListener;
  before(async () => {
    l = await startWtListener(['--echo']);
  });
  after(() => l?.stop());

  it('prints the URL, a sha-256 certificate hash and the demo page; echoes what a client sends', async () => {
    assert.match(l.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const s = await connectWebTransport(`${l.url}echo`, { serverCertificateHashes: [{ algorithm: 'sha-256', value: l.hash }] });
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new TextEncoder().encode('hello cli'));
    await w.close();
    const parts: Uint8Array[] = [];
    for await (const c of st.readable) parts.push(c);
    assert.equal(Buffer.concat(parts).toString(), 'hello cli');
    const u = (await s.createUnidirectionalStream()).getWriter();
    await u.write(new Uint8Array([7, 7]));
    await u.close();
    const back: Uint8Array[] = [];
    for await (const c of (await s.nextUniStream())!) back.push(c);
    assert.deepEqual(Buffer.concat(back), Buffer.from([7, 7]));
    let d: Uint8Array | null = null;
    for (let i = 0; i < 20 && !d; i++) {
      await s.sendDatagram(new Uint8Array([1]));
      d = await Promise.race([s.recvDatagram(), new Promise<null>((r) => setTimeout(() => r(null), 100))]);
    }
    assert.deepEqual(d, new Uint8Array([1]));
    s.close({ closeCode: 3, reason: 'bye' });
    await s.closed;
    for (let i = 0; i < 50 && !/session 1 closed \(code 3: bye\)/.test(l.stderr()); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(l.stderr(), /session 1 from 127\.0\.0\.1:\d+ path \/echo/);
    assert.match(l.stderr(), /session 1 closed \(code 3: bye\): received 12 bytes, sent 12 bytes/);
  });

  it('serves the demo page with the URL and the hash in it', async () => {
    const res = await fetch(l.page);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(html.includes(l.url) && html.includes(l.hash), 'the page names the URL and hash');
    assert.equal((await fetch(`${l.page}nope`)).status, 404);
  });

  it('refuses options that do not go together', () => {
    const run = (...a: string[]) => spawnSync(process.execPath, [main, 'listen', ...a], { encoding: 'utf8', timeout: 10_000 });
    const r1 = run('--webtransport', '--cert', 'x.pem');
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /'--cert' and '--key' go together/);
    const r2 = run('--cert', 'x.pem', '--key', 'y.pem');
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /goes with '--webtransport'/);
    const r3 = run('--webtransport', '--cert', '/nonexistent.pem', '--key', '/nonexistent.key', '--bind', '127.0.0.1:0');
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /--cert \/nonexistent\.pem: cannot read/);
  });
});
