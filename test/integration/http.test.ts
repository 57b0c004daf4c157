/**
 * hq-interop and HTTP/3 between quic-peer's own client and file server, over loopback UDP (raw
 * public keys: the HTTP layer does not care how the session was authenticated). Also what the
 * server does with a peer that breaks the HTTP/3 rules, through raw streams.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../../src/index.js';
import { FileServer, FILE_SERVER_ALPNS, H3Client, HttpRequestError, hqGet, type ServedRequest } from '../../src/http/index.js';
import { encodeFrame, encodeStreamType, FRAME_DATA, FRAME_GOAWAY, STREAM_CONTROL } from '../../src/http/h3-frames.js';
import { H3_FRAME_UNEXPECTED, H3_MISSING_SETTINGS, H3_NO_ERROR } from '../../src/http/errors.js';
import { Loopback, target, within } from './util.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('http: hq-interop and HTTP/3, quic-peer to quic-peer on loopback', function () {
  this.timeout(30_000);
  const net = new Loopback();
  let dir: string;
  let outside: string;
  const files = new Map<string, Uint8Array>();
  const served: ServedRequest[] = [];
  let server: FileServer;
  let serverTarget: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qp-http-'));
    outside = mkdtempSync(join(tmpdir(), 'qp-http-outside-'));
    writeFileSync(join(outside, 'secret'), 'secret');
    mkdirSync(join(dir, 'sub'));
    let seed = 1;
    const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    for (const [name, size] of [['1k.bin', 1000], ['300k.bin', 300_000], ['sub/empty', 0], ['2m.bin', 2_000_000]] as const) {
      files.set(`/${name}`, bytes(size));
      writeFileSync(join(dir, name), files.get(`/${name}`)!);
    }
    symlinkSync(join(outside, 'secret'), join(dir, 'link-out'));
    const ep = await net.bind({ alpns: [...FILE_SERVER_ALPNS] });
    server = new FileServer(ep, { root: dir, onRequest: (r) => served.push(r) });
    serverTarget = target(ep);
  });

  after(async () => {
    await server.stop();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const dial = async (alpn: string): Promise<Session> => {
    const client = await net.bind({ acceptIncoming: false });
    return within(Session.connect(client, serverTarget, { alpn }), 5_000, 'connect');
  };

  it('hq-interop: GETs files of every size, all at once, byte for byte', async () => {
    const s = await dial('hq-interop');
    const got = await within(Promise.all([...files.keys()].map(async (p) => [p, await hqGet(s, p)] as const)), 20_000, 'hq GETs');
    for (const [p, body] of got) assert.equal(sha(body), sha(files.get(p)!), p);
    s.close();
  });

  it('hq-interop: a missing file, a path out of the root and a bad request reset their stream only', async () => {
    const s = await dial('hq-interop');
    for (const p of ['/nope', '/../secret', '/link-out', '/sub']) {
      await assert.rejects(hqGet(s, p), (e: unknown) => e instanceof HttpRequestError && e.path === p, p);
    }
    assert.equal((await hqGet(s, '/1k.bin')).length, 1000); // the session still works
    s.close();
  });

  it('HTTP/3: GETs files of every size, 20 at once, with status and content-length', async () => {
    const s = await dial('h3');
    const h3 = await H3Client.start(s);
    const paths = [...files.keys()];
    const many = Array.from({ length: 20 }, (_, i) => paths[i % paths.length]!);
    const got = await within(Promise.all(many.map((p) => h3.get(p, { authority: 'localhost' }))), 20_000, 'h3 GETs');
    got.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(sha(r.body), sha(files.get(many[i]!)!), many[i]);
      assert.equal(r.fields.find((f) => f.name === 'content-length')?.value, String(files.get(many[i]!)!.length));
    });
    await h3.close();
    const info = await s.closed;
    assert.equal(Number(info.closeCode), H3_NO_ERROR);
  });

  it('HTTP/3: 404, 403 for a path out of the root or a link leading out, and the connection lives on', async () => {
    const s = await dial('h3');
    const h3 = await H3Client.start(s);
    assert.equal((await h3.get('/nope', { authority: 'localhost' })).status, 404);
    assert.equal((await h3.get('/../secret', { authority: 'localhost' })).status, 403);
    assert.equal((await h3.get('/%2e%2e/secret', { authority: 'localhost' })).status, 403);
    assert.equal((await h3.get('/link-out', { authority: 'localhost' })).status, 403);
    assert.equal((await h3.get('/1k.bin', { authority: 'localhost' })).status, 200);
    assert.ok(served.some((r) => r.alpn === 'h3' && r.status === 403 && r.path === '/link-out'));
    await h3.close();
  });

  it('HTTP/3 errors (§8): DATA before HEADERS closes with H3_FRAME_UNEXPECTED', async () => {
    const s = await dial('h3');
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(encodeFrame(FRAME_DATA, new Uint8Array([1, 2, 3])));
    const info = await within(s.closed, 5_000, 'server closes');
    assert.equal(Number(info.closeCode), H3_FRAME_UNEXPECTED);
  });

  it('HTTP/3 errors (§6.2.1): a control stream that does not begin with SETTINGS is H3_MISSING_SETTINGS', async () => {
    const s = await dial('h3');
    const w = (await s.createUnidirectionalStream()).getWriter();
    await w.write(new Uint8Array([...encodeStreamType(STREAM_CONTROL), ...encodeFrame(FRAME_GOAWAY, new Uint8Array([0]))]));
    const info = await within(s.closed, 5_000, 'server closes');
    assert.equal(Number(info.closeCode), H3_MISSING_SETTINGS);
  });
});
