import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { ConnectError } from '../../src/session/errors.js';
import { SeededRandom } from '../../src/tls/random.js';
import { bytesEqual, concatBytes } from '../../src/codec/bytes.js';

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of r as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return concatBytes(...chunks);
}

async function writeAll(w: WritableStream<Uint8Array>, data: Uint8Array, chunk = 64 * 1024): Promise<void> {
  const writer = w.getWriter();
  for (let off = 0; off < data.length; off += chunk) await writer.write(data.subarray(off, off + chunk));
  await writer.close();
}

describe('Session over real UDP (loopback)', function () {
  this.timeout(30_000);
  let server: Endpoint;
  let client: Endpoint;
  // A connection that fails its handshake has no RTT sample, so its closing or draining period
  // is 3 PTO computed from kInitialRtt (RFC 9002 §6.2.2): 3 s at the default 333 ms, which
  // Endpoint.close() waits for. Loopback's RTT is far below 30 ms.
  const transport = { initialRttMs: 30 };
  beforeEach(async () => {
    server = await Endpoint.bind({ bind: '127.0.0.1:0', transport });
    client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, transport });
  });
  afterEach(async () => {
    await Promise.all([client.close(), server.close()]);
  });

  it('connects by id@ip:port, both sides see each other\'s id, and echoes 10 MB on a bidi stream', async () => {
    const accepted = Session.accept(server);
    const s = await Session.connect(client, `${server.id.toString()}@${server.boundAddresses[0]}`);
    const peer = (await accepted)!;
    assert.ok(s.remoteId.equals(server.id));
    assert.ok(peer.remoteId.equals(client.id));
    assert.equal(s.alpn, 'iroh-http/2-duplex');
    // Echo server.
    void (async () => {
      for (let st = await peer.nextBidiStream(); st; st = await peer.nextBidiStream()) void st.readable.pipeTo(st.writable).catch(() => {});
    })();
    const data = new SeededRandom(1).fill(new Uint8Array(10_000_000));
    const { readable, writable } = await s.createBidirectionalStream();
    const [echo] = await Promise.all([readAll(readable), writeAll(writable, data)]);
    assert.ok(bytesEqual(echo, data), 'echo byte for byte');
    // session.paths(): one direct path, selected, with an RTT sample.
    const [path, ...more] = s.paths();
    assert.deepEqual(more, []);
    assert.deepEqual({ ...path, rttMs: 0 }, { id: 0, kind: 'direct', remoteAddress: server.boundAddresses[0], selected: true, rttMs: 0, status: 'available' });
    assert.ok(path!.rttMs > 0 && path!.rttMs < 1000, String(path!.rttMs));
    assert.equal(peer.paths()[0]?.remoteAddress, client.boundAddresses[0]);
    s.close({ closeCode: 3, reason: 'done' });
    assert.deepEqual(s.paths(), [], 'no path once closed');
    assert.deepEqual(await peer.closed, { closeCode: 3, reason: 'done' });
    assert.deepEqual(await s.closed(), { closeCode: 3, reason: 'done' });
  });

  it('datagrams both ways, and the over-size error', async () => {
    const accepted = Session.accept(server);
    const s = await Session.connect(client, server.ticket());
    const peer = (await accepted)!;
    const max = s.maxDatagramSize()!;
    assert.ok(max > 1000, `max ${max}`);
    await s.sendDatagram(new Uint8Array(100).fill(7));
    const got = await peer.recvDatagram();
    assert.deepEqual(got, new Uint8Array(100).fill(7));
    await peer.sendDatagram(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await s.recvDatagram(), new Uint8Array([1, 2, 3]));
    const now = s.maxDatagramSize()!;
    await assert.rejects(s.sendDatagram(new Uint8Array(now + 1)), /exceeds the current maximum.*maxDatagramSize/);
  });

  it('a dial to a silent address fails within the timeout with a clear error', async () => {
    const silent = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const t0 = Date.now();
      await assert.rejects(
        Session.connect(client, `${server.id.toString()}@${silent.boundAddresses[0]}`, { timeoutMs: 500 }),
        (e: unknown) => e instanceof ConnectError && e.kind === 'timeout' && /no answer within 500 ms/.test(e.message),
      );
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      await silent.close();
    }
  });

  it('a peer presenting another id than the one dialled is rejected', async () => {
    const other = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      await assert.rejects(
        Session.connect(client, `${other.id.toString()}@${server.boundAddresses[0]}`),
        (e: unknown) => e instanceof ConnectError && e.kind === 'authentication',
      );
    } finally {
      await other.close();
    }
  });

  it('an ALPN the server does not serve fails with no_application_protocol', async () => {
    await assert.rejects(
      Session.connect(client, `${server.id.toString()}@${server.boundAddresses[0]}`, { alpn: 'nope/1' }),
      (e: unknown) => e instanceof ConnectError && e.kind === 'alpn',
    );
  });

  it('close codes above 2^62-1 are rejected with a typed error', async () => {
    const accepted = Session.accept(server);
    const s = await Session.connect(client, `${server.id.toString()}@${server.boundAddresses[0]}`);
    await accepted;
    assert.throws(() => s.close(1n << 62n, 'x'), /close code must be an integer/);
    assert.throws(() => s.close(-1), /close code must be an integer/);
    s.close((1n << 62n) - 1n, 'max');
  });
});
