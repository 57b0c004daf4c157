import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import { DatagramError } from '../../src/quic/connection/datagram-error.js';
import { SessionClosedError } from '../../src/session/errors.js';
import { StreamAbortedError } from '../../src/session/stream-adapter.js';
import { SeededRandom } from '../../src/tls/random.js';
import { bytesEqual, concatBytes } from '../../src/codec/bytes.js';
import { Loopback, within } from './util.js';

/**
 * What a session sent before it closed ([first-hour] item 4): `sendDatagram` resolves once the
 * datagram left in a packet (or rejects if it never will), and `close()` sends what was queued
 * before the CONNECTION_CLOSE. Real UDP on loopback.
 */
/**
 * Runs `body` with the process's unhandled rejections collected into the array it gets (a
 * rejection nobody awaits would end a Node process that has no such listener).
 */
async function watchingUnhandled(body: (unhandled: readonly unknown[]) => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body(unhandled);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

describe('Session close and queued data over real UDP (loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  beforeEach(async () => {
    server = await net.bind();
    client = await net.bind({ acceptIncoming: false });
  });
  afterEach(() => net.close());

  it("the README's 'await sendDatagram(); close()' delivers the datagram (10 sessions in a row)", async () => {
    for (let i = 0; i < 10; i++) {
      const { s, peer } = await net.connect(client, server);
      await s.sendDatagram(new Uint8Array([1, 2, i]));
      s.close({ closeCode: 0, reason: 'bye' });
      assert.deepEqual(await within(peer.recvDatagram(), 2_000, `datagram ${i}`), new Uint8Array([1, 2, i]));
      assert.deepEqual(await within(peer.closed, 2_000, 'peer closed'), { closeCode: 0, reason: 'bye' });
    }
  });

  it('datagrams sent without awaiting, then close(): each leaves before the CONNECTION_CLOSE and its promise resolves', async () => {
    const { s, peer } = await net.connect(client, server);
    const sends = Array.from({ length: 50 }, (_, i) => s.sendDatagram(new Uint8Array(200).fill(i)));
    s.close({ closeCode: 4, reason: 'after 50' });
    await within(Promise.all(sends), 2_000, 'sends');
    const got: number[] = [];
    for (let d = await peer.recvDatagram(); d; d = await peer.recvDatagram()) got.push(d[0]!);
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(await peer.closed, { closeCode: 4, reason: 'after 50' });
  });

  it('a datagram pushed out of the full send queue rejects with DatagramError queue-full; the others resolve', async () => {
    const small = await net.bind({ acceptIncoming: false, transport: { datagramSendQueue: 2 } });
    const { s, peer } = await net.connect(small, server);
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s.sendDatagram(new Uint8Array([i]))));
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    for (const o of outcomes.slice(0, 3)) {
      const e = (o as PromiseRejectedResult).reason as unknown;
      assert.ok(e instanceof DatagramError && e.kind === 'queue-full', String(e));
      assert.match(e.message, /dropped before it was sent: the send queue was full/);
    }
    assert.deepEqual(await within(peer.recvDatagram(), 2_000, 'first'), new Uint8Array([3]));
    assert.deepEqual(await within(peer.recvDatagram(), 2_000, 'second'), new Uint8Array([4]));
  });

  it('datagrams sent and never awaited, dropped from the full queue or sent after the peer closed: no unhandled rejection (the process lives on)', async () => {
    await watchingUnhandled(async (unhandled) => {
      const small = await net.bind({ acceptIncoming: false, transport: { datagramSendQueue: 2 } });
      const { s, peer } = await net.connect(small, server);
      for (let i = 0; i < 200; i++) void s.sendDatagram(new Uint8Array(1000));
      peer.close({ closeCode: 1, reason: 'bye' });
      await within(s.closed, 2_000, 'closed by the peer');
      for (let i = 0; i < 5; i++) void s.sendDatagram(new Uint8Array(10));
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(unhandled.map(String), []);
      // Who awaits still gets the rejection.
      await assert.rejects(s.sendDatagram(new Uint8Array(1)), SessionClosedError);
    });
  });

  it('stream writes never awaited on a stream the peer stops, or after the peer closed: no unhandled rejection, and who awaits still learns why', async () => {
    await watchingUnhandled(async (unhandled) => {
      const { s, peer } = await net.connect(client, server);
      const incoming = peer.nextBidiStream();
      const { writable } = await s.createBidirectionalStream();
      const w = writable.getWriter();
      await w.write(new Uint8Array(10));
      const st = await within(incoming, 2_000, 'incoming');
      const r = st!.readable.getReader();
      await r.read();
      await r.cancel(7); // STOP_SENDING 7
      // Fire-and-forget, as browser WebTransport code does: 50 writes of 64 KiB and a close.
      for (let i = 0; i < 50; i++) void w.write(new Uint8Array(64 * 1024));
      void w.close();
      await assert.rejects(within(w.closed, 2_000, 'writer.closed'), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'stopped' && e.code === 7);
      await assert.rejects(w.write(new Uint8Array(1)), (e: unknown) => e instanceof StreamAbortedError && e.code === 7);
      // A unidirectional stream and the datagram writable whose session the peer closes.
      const uni = (await s.createUnidirectionalStream()).getWriter();
      const dg = s.datagrams.writable.getWriter();
      peer.close({ closeCode: 3, reason: 'gone' });
      await within(s.closed, 2_000, 'closed by the peer');
      for (let i = 0; i < 5; i++) {
        void uni.write(new Uint8Array(100));
        void dg.write(new Uint8Array(10));
      }
      void uni.close();
      void s.datagrams.writable.close().catch(() => {}); // locked: rejects (handled by us too)
      await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(unhandled.map(String), []);
      await assert.rejects(uni.write(new Uint8Array(1)));
    });
  });

  it('a pipe and reads nobody awaits on streams the peer resets: no unhandled rejection, and who awaits still learns why', async () => {
    await watchingUnhandled(async (unhandled) => {
      const { s, peer } = await net.connect(client, server);
      const incoming = peer.nextBidiStream();
      const incomingUni = peer.nextUniStream();
      const bidi = await s.createBidirectionalStream();
      const bw = bidi.writable.getWriter();
      await bw.write(new Uint8Array(10));
      const uw = (await s.createUnidirectionalStream()).getWriter();
      await uw.write(new Uint8Array(10));
      const st = (await within(incoming, 2_000, 'incoming'))!;
      const uni = (await within(incomingUni, 2_000, 'incoming uni'))!;
      // The forgetful application: a pipe without a catch, reads without an await.
      void st.readable.pipeTo(new WritableStream<Uint8Array>());
      const reader = uni.getReader();
      for (let i = 0; i < 3; i++) void reader.read();
      await bw.abort(9); // RESET_STREAM 9 on both
      await uw.abort(9);
      await new Promise((res) => setTimeout(res, 200));
      assert.deepEqual(unhandled.map(String), []);
      await assert.rejects(reader.read(), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'reset' && e.code === 9);
      await assert.rejects(reader.closed);
    });
  });

  it('a datagram still queued when the connection ends at once (Endpoint.close) rejects with SessionClosedError', async () => {
    const { s } = await net.connect(client, server);
    const sending = s.sendDatagram(new Uint8Array([7]));
    const closing = client.close();
    await assert.rejects(within(sending, 2_000, 'send'), (e: unknown) => e instanceof SessionClosedError && /endpoint closing \(the datagram was still queued\)/.test(e.message));
    await closing;
  });

  it('stream bytes a writer handed over before close() reach the peer before the CONNECTION_CLOSE', async () => {
    const { s, peer } = await net.connect(client, server);
    const data = new SeededRandom(5).fill(new Uint8Array(100_000));
    const incoming = peer.nextBidiStream();
    const { writable } = await s.createBidirectionalStream();
    const writer = writable.getWriter();
    await writer.write(data); // resolves once the send buffer holds it: nothing has left yet
    s.close({ closeCode: 0, reason: 'written' });
    const st = await within(incoming, 2_000, 'incoming stream');
    assert.ok(st);
    const reader = st.readable.getReader();
    const chunks: Uint8Array[] = [];
    let end: unknown;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    } catch (e) {
      end = e;
    }
    // Every byte arrived; the stream then ends with the session (no FIN was written).
    assert.ok(bytesEqual(concatBytes(...chunks), data), `got ${concatBytes(...chunks).length} of ${data.length} bytes`);
    assert.ok(end instanceof StreamAbortedError && end.kind === 'closed', String(end));
  });
});
