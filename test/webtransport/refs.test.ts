/**
 * quic-peer's WebTransport client against other implementations, the reference servers of
 * ../shared/webtransport on loopback: wtgo (Go, Debian's quic-go 0.29; test/webtransport/refs/wtgo)
 * and mushi's (quinn + web-transport-quinn; test/webtransport/refs/mushi). wtgo:
 * Draft-02 as wtgo announces it (no WEBTRANSPORT_MAX_SESSIONS), the certificate by its hash: a
 * 100 kB bidirectional echo, the server's unidirectional stream, a datagram echoed, a client
 * unidirectional stream the server logs. Skipped without Go or Debian's
 * quic-go, failing under CI=true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectWebTransport, generateWebTransportCertificate } from '../../src/http/index.js';
import { isolationDecision } from '../interop/netns.js';
import { buildWtgo, mushiMissing, startMushi, startWtgo, wtgoMissing, type RefServer } from './refs.js';

describe('webtransport: quic-peer client to the wtgo reference server (quic-go)', function () {
  this.timeout(200_000);
  let srv: RefServer;
  let hash: string;
  let dir: string;

  before(async function () {
    const missing = wtgoMissing();
    if (missing) {
      if (isolationDecision(false) === 'fail') throw new Error(`${missing}, and CI=true forbids skipping`);
      console.warn(`      (skipped: ${missing})`);
      this.skip();
    }
    const bin = buildWtgo();
    dir = mkdtempSync(join(tmpdir(), 'qp-wtgo-certs-'));
    const c = await generateWebTransportCertificate();
    writeFileSync(join(dir, 'c.pem'), c.cert);
    writeFileSync(join(dir, 'k.pem'), c.key);
    hash = c.hash;
    srv = await startWtgo(bin, join(dir, 'c.pem'), join(dir, 'k.pem'));
  });
  after(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('echoes, opens a uni stream, echoes a datagram, and hears our uni stream', async () => {
    this.timeout(30_000);
    const s = await connectWebTransport(`https://127.0.0.1:${srv.port}/echo`, { serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }] });
    assert.equal(s.webTransport.draft, 'draft-02');
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7 + 3) & 255);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    const wrote = w.write(data).then(() => w.close());
    const parts: Uint8Array[] = [];
    for await (const c of st.readable) parts.push(c);
    await wrote;
    assert.deepEqual(Buffer.concat(parts), Buffer.from(data));
    const uni = await s.nextUniStream();
    const u: Uint8Array[] = [];
    for await (const c of uni!) u.push(c);
    assert.equal(Buffer.concat(u).toString(), 'hello from server uni');
    let d: Uint8Array | null = null;
    for (let i = 0; i < 20 && !d; i++) {
      await s.sendDatagram(new TextEncoder().encode('dgram'));
      d = await Promise.race([s.recvDatagram(), new Promise<null>((r) => setTimeout(() => r(null), 100))]);
    }
    assert.equal(new TextDecoder().decode(d!), 'dgram');
    const cu = (await s.createUnidirectionalStream()).getWriter();
    await cu.write(new TextEncoder().encode('hello from quic-peer uni'));
    await cu.close();
    s.close({ closeCode: 4242, reason: 'done' });
    await s.closed;
    for (let i = 0; i < 100 && !/hello from quic-peer uni/.test(srv.log()); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(srv.log(), /uni stream \d+ \(session 0\): 24 bytes "hello from quic-peer uni"/);
    assert.match(srv.log(), /datagram: quarter stream id 0 \(session 0\)/);
  });
});

describe('webtransport: quic-peer client to the mushi reference server (quinn, web-transport-quinn)', function () {
  this.timeout(30_000);
  let srv: RefServer & { spki: string };

  before(async function () {
    const missing = mushiMissing();
    if (missing) {
      if (isolationDecision(false) === 'fail') throw new Error(`${missing}, and CI=true forbids skipping`);
      console.warn(`      (skipped: ${missing})`);
      this.skip();
    }
    srv = await startMushi();
  });
  after(() => srv?.stop());

  it('negotiates draft-07, echoes a stream and a datagram, and receives its uni stream (its key pinned: mushi makes a certificate per handshake)', async () => {
    const s = await connectWebTransport(`https://127.0.0.1:${srv.port}/`, { tls: { pinSha256: [srv.spki] } });
    assert.equal(s.webTransport.draft, 'draft-07'); // mushi announces WEBTRANSPORT_MAX_SESSIONS
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new TextEncoder().encode('hello mushi'));
    // mushi's echo never sends FIN: read exactly what was sent.
    const r = st.readable.getReader();
    let got = '';
    while (got.length < 11) got += new TextDecoder().decode((await r.read()).value);
    assert.equal(got, 'hello mushi');
    // Nor on its uni stream: read the 21 bytes it writes.
    const ur = (await s.nextUniStream())!.getReader();
    let uni = '';
    while (uni.length < 21) uni += new TextDecoder().decode((await ur.read()).value);
    assert.equal(uni, 'hello from server uni');
    let d: Uint8Array | null = null;
    for (let i = 0; i < 20 && !d; i++) {
      await s.sendDatagram(new TextEncoder().encode('dg'));
      d = await Promise.race([s.recvDatagram(), new Promise<null>((res) => setTimeout(() => res(null), 100))]);
    }
    assert.equal(new TextDecoder().decode(d!), 'dg');
    s.close({ closeCode: 5, reason: 'bye' });
    assert.deepEqual(await s.closed, { closeCode: 5, reason: 'bye' });
    // The server's log reaches us through a pipe, after its echo: wait for the line itself.
    for (let i = 0; i < 100 && !/session 1: datagram 2 bytes "dg", echoing/.test(srv.log()); i++) await new Promise((res) => setTimeout(res, 20));
    assert.match(srv.log(), /session 1: datagram 2 bytes "dg", echoing/);
  });
});
