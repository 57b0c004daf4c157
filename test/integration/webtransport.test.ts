/**
 * WebTransport over HTTP/3, quic-peer's client against quic-peer's server on loopback: sessions by
 * path (404 for others), a 1 MB bidirectional echo, unidirectional streams both ways, datagrams
 * with the quarter stream id, stream reset and stop-sending codes in WebTransport's space, close
 * code and reason both ways, and the certificate accepted by its hash (and refused by another).
 * Both ends are `Session`s of kind 'webtransport' (session-kinds.test.ts runs the same cases on
 * both kinds).
 */
import assert from 'node:assert/strict';
import { Endpoint, Session, StreamAbortedError } from '../../src/index.js';
import { WebTransportRefusedError, WebTransportServer, connectWebTransport, type WebTransportSession } from '../../src/http/index.js';
import { echoSession, newEchoLog, type EchoLog } from '../webtransport/echo.js';

async function readAll(rs: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of rs) parts.push(c);
  return Buffer.concat(parts);
}

describe('webtransport: quic-peer client to quic-peer server on loopback', function () {
  this.timeout(30_000);
  let server: WebTransportServer;
  let log: EchoLog;
  const serverSessions: WebTransportSession[] = [];

  before(async () => {
    server = await WebTransportServer.listen({ bind: '127.0.0.1:0', paths: ['/echo', '/close', '/reset', '/drain'] });
    log = newEchoLog();
    void (async () => {
      for await (const s of server) {
        serverSessions.push(s);
        if (s.webTransport.request.path === '/echo') echoSession(s, log);
        else if (s.webTransport.request.path === '/reset') {
          // Every stream is reset with WebTransport code 123 once its first bytes came.
          void (async () => {
            for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
              await st.readable.getReader().read();
              await st.writable.abort(123);
            }
          })();
        } else if (s.webTransport.request.path === '/drain') {
          await s.ready;
          s.webTransport.drain();
        } else {
          await s.ready;
          s.close({ closeCode: 9, reason: 'server closes' });
        }
      }
    })();
  });
  after(() => server.close());

  const dial = (path: string): Promise<WebTransportSession> =>
    connectWebTransport(server.url(path), { serverCertificateHashes: [{ algorithm: 'sha-256', value: server.certificateHash as string }] });

  it('prints a 64-hex certificate hash and a https URL', () => {
    assert.match(server.certificateHash as string, /^[0-9a-f]{64}$/);
    assert.match(server.url(), /^https:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('echoes 1 MB on a bidirectional stream, a uni stream both ways, and datagrams', async () => {
    const s = await dial('/echo');
    assert.ok(s instanceof Session && s.kind === 'webtransport');
    assert.equal(s.webTransport.draft, 'draft-07'); // both ends send WEBTRANSPORT_MAX_SESSIONS
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 13) & 255);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    const wrote = w.write(big).then(() => w.close());
    assert.deepEqual(await readAll(st.readable), Buffer.from(big));
    await wrote;
    const u = (await s.createUnidirectionalStream()).getWriter();
    await u.write(new TextEncoder().encode('uni'));
    await u.close();
    const back = await s.nextUniStream();
    assert.equal(new TextDecoder().decode(await readAll(back!)), 'uni');
    assert.ok((s.maxDatagramSize() ?? 0) > 1000);
    let got: Uint8Array | null = null;
    for (let i = 0; i < 20 && !got; i++) {
      await s.sendDatagram(new Uint8Array([1, 2, 3]));
      got = await Promise.race([s.recvDatagram(), new Promise<null>((r) => setTimeout(() => r(null), 100))]);
    }
    assert.deepEqual(got, new Uint8Array([1, 2, 3]));
    s.close({ closeCode: 4242, reason: 'client done' });
    assert.deepEqual(await s.closed, { closeCode: 4242, reason: 'client done' });
    const mine = serverSessions.at(-1)!;
    assert.deepEqual(await mine.closed, { closeCode: 4242, reason: 'client done' });
    // The QUIC connection ends with its last session.
    await mine.webTransport.connection.closed;
  });

  it('maps reset and stop-sending codes into WebTransport codes both ways', async () => {
    const s = await dial('/echo');
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array([1]));
    const r = st.readable.getReader();
    await r.read();
    const before = log.streamErrors.length;
    await w.abort(77);
    for (let i = 0; i < 50 && log.streamErrors.length === before; i++) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(log.streamErrors.at(-1), { kind: 'reset', code: 77 });
    // STOP_SENDING with 55: the server's echo writes fail with that code.
    const st2 = await s.createBidirectionalStream();
    const w2 = st2.writable.getWriter();
    await w2.write(new Uint8Array([1]));
    const r2 = st2.readable.getReader();
    await r2.read();
    await r2.cancel(55);
    const n = log.streamErrors.length;
    for (let i = 0; i < 50 && log.streamErrors.length === n; i++) {
      await w2.write(new Uint8Array([2])).catch(() => {});
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.deepEqual(log.streamErrors.at(-1), { kind: 'stopped', code: 55 });
    s.close();
  });

  it('sees the server close with its code and reason', async () => {
    const s = await dial('/close');
    assert.deepEqual(await s.closed, { closeCode: 9, reason: 'server closes' });
    await assert.rejects(s.createBidirectionalStream(), /session closed/);
  });

  it('hears DRAIN_WEBTRANSPORT_SESSION and stays open; its own DRAIN reaches the server', async () => {
    const s = await dial('/drain');
    await s.webTransport.draining;
    const mine = serverSessions.at(-1)!;
    assert.equal(mine.webTransport.request.path, '/drain');
    s.webTransport.drain();
    await mine.webTransport.draining;
    const st = await s.createUnidirectionalStream();
    await st.close();
    s.close({ closeCode: 1, reason: 'drained' });
    assert.deepEqual(await s.closed, { closeCode: 1, reason: 'drained' });
  });

  it('survives a peer that sends garbage (stream headers, frames, capsules, datagrams) and serves the next session', async () => {
    let seed = 12345;
    const rand = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    const ep = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      for (let round = 0; round < 3; round++) {
        const quic = await Session.connect(ep, new URL(server.url()).host, { alpn: 'h3', tls: { insecureSkipVerify: true } });
        const sends: Promise<unknown>[] = [];
        for (let i = 0; i < 20; i++) {
          // Bidi streams: a WebTransport signal with a random session id, a HEADERS frame of random
          // bytes, a CONNECT-looking frame with a truncated length, or plain noise.
          const heads = [new Uint8Array([0x40, 0x41, ...rand(1)]), new Uint8Array([0x01, 0x10, ...rand(16)]), new Uint8Array([0x01, 0x7f]), rand(1 + (i % 7))];
          sends.push(
            quic.createBidirectionalStream().then(async (st) => {
              const w = st.writable.getWriter();
              await w.write(new Uint8Array([...heads[i % 4]!, ...rand(50)]));
              await w.close();
            }),
          );
          // Uni streams: WebTransport's type with a random session id, or a random type.
          sends.push(
            quic.createUnidirectionalStream().then(async (u) => {
              const w = u.getWriter();
              await w.write(new Uint8Array([...(i % 2 ? [0x40, 0x54] : []), ...rand(20)]));
              await w.close();
            }),
          );
          sends.push(quic.sendDatagram(rand(1 + (i % 30))));
        }
        await Promise.allSettled(sends);
        await Promise.race([quic.closed, new Promise((r) => setTimeout(r, 300))]);
        quic.close();
      }
    } finally {
      await ep.close();
    }
    const s = await dial('/echo');
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array([42]));
    await w.close();
    assert.deepEqual(await readAll(st.readable), Buffer.from([42]));
    s.close();
  });

  it('refuses an unknown path with 404 and a wrong certificate hash', async () => {
    await assert.rejects(dial('/nope'), (e: unknown) => e instanceof WebTransportRefusedError && e.status === 404);
    await assert.rejects(connectWebTransport(server.url('/echo'), { serverCertificateHashes: [{ algorithm: 'sha-256', value: '00'.repeat(32) }] }), /not one of serverCertificateHashes/);
  });

  it('a stream error carries the WebTransport code the server reset with', async () => {
    const s = await dial('/reset');
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array([5]));
    await assert.rejects(readAll(st.readable), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'reset' && e.code === 123);
    s.close();
  });
});
