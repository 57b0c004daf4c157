import assert from 'node:assert/strict';
import type { Endpoint } from '../../src/session/endpoint.js';
import { StreamAbortedError } from '../../src/session/stream-adapter.js';
import { SeededRandom } from '../../src/tls/random.js';
import { bytesEqual } from '../../src/codec/bytes.js';
import { Loopback, echoBidi, readAll, within, writeAll } from './util.js';

/** A predicate for assert.rejects: a StreamAbortedError of this kind and code. */
function aborted(kind: 'reset' | 'stopped', code: number | bigint): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof StreamAbortedError, `expected StreamAbortedError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.equal(BigInt(e.code!), BigInt(code));
    return true;
  };
}

describe('Session streams over real UDP (loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  beforeEach(async () => {
    server = await net.bind();
    client = await net.bind({ acceptIncoming: false });
  });
  afterEach(() => net.close());

  it('echoes 10 MB over unidirectional streams: client -> server on one, server -> client on a new one', async () => {
    const { s, peer } = await net.connect(client, server);
    // Echo server: each incoming uni stream is copied to a new uni stream of its own.
    void (async () => {
      for (let r = await peer.nextUniStream(); r; r = await peer.nextUniStream()) {
        const back = await peer.createUniStream();
        void r.pipeTo(back).catch(() => {});
      }
    })();
    const data = new SeededRandom(11).fill(new Uint8Array(10_000_000));
    const out = await s.createUniStream();
    const incoming = s.nextUniStream();
    const [echo] = await within(
      Promise.all([incoming.then((r) => readAll(r!)), writeAll(out, data)]),
      15_000,
      '10 MB uni echo',
    );
    assert.equal(echo.length, data.length);
    assert.ok(bytesEqual(echo, data), 'echo byte for byte');
  });

  it('echoes 100 concurrent bidirectional streams of 64 KiB each, all intact', async () => {
    const { s, peer } = await net.connect(client, server);
    echoBidi(peer);
    const n = 100;
    const size = 64 * 1024;
    const payloads = Array.from({ length: n }, (_, i) => new SeededRandom(100 + i).fill(new Uint8Array(size)));
    const echoes = await within(
      Promise.all(
        payloads.map(async (p) => {
          const st = await s.createBidirectionalStream();
          const [echo] = await Promise.all([readAll(st.readable), writeAll(st.writable, p, 16 * 1024)]);
          return echo;
        }),
      ),
      15_000,
      '100 concurrent echoes',
    );
    for (let i = 0; i < n; i++) assert.ok(bytesEqual(echoes[i]!, payloads[i]!), `stream ${i} intact`);
  });

  it('datagrams through the web-stream forms (datagrams.writable -> datagrams.readable), both ways', async () => {
    const { s, peer } = await net.connect(client, server);
    assert.equal(s.datagrams.maxDatagramSize, s.maxDatagramSize());
    assert.ok(s.datagrams.maxDatagramSize > 1000);
    const w = s.datagrams.writable.getWriter();
    const r = peer.datagrams.readable.getReader();
    await w.write(new Uint8Array([1, 2, 3]));
    assert.deepEqual((await within(r.read(), 5_000, 'datagram to server')).value, new Uint8Array([1, 2, 3]));
    const w2 = peer.datagrams.writable.getWriter();
    const r2 = s.datagrams.readable.getReader();
    const big = new SeededRandom(5).fill(new Uint8Array(s.datagrams.maxDatagramSize));
    await w2.write(big);
    assert.deepEqual((await within(r2.read(), 5_000, 'datagram to client')).value, big);
    // An over-size datagram errors the writable (the web-stream form of the DatagramError).
    await assert.rejects(w.write(new Uint8Array(s.datagrams.maxDatagramSize + 1)), /exceeds the current maximum/);
    // The readable ends when the session closes.
    s.close({ closeCode: 0, reason: '' });
    assert.equal((await within(r2.read(), 5_000, 'readable end')).done, true);
    assert.equal((await within(r.read(), 5_000, 'peer readable end')).done, true);
  });

  it('a BYOB reader reads 3 MB into one buffer of its own, byte-exact, and sees the end as done', async () => {
    const { s, peer } = await net.connect(client, server);
    const data = new SeededRandom(12).fill(new Uint8Array(3_000_000));
    const st = await s.createBidirectionalStream();
    const sent = writeAll(st.writable, data);
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    const reader = incoming.readable.getReader({ mode: 'byob' });
    const got = new Uint8Array(data.length);
    let at = 0;
    let reads = 0;
    // One 16 KiB buffer, handed back each read (a BYOB read transfers it and returns it in `value`).
    let buf: ArrayBuffer = new ArrayBuffer(16 * 1024);
    for (;;) {
      const { value, done } = await within(reader.read(new Uint8Array(buf)), 5_000, 'byob read');
      if (done) {
        assert.equal(value?.byteLength ?? 0, 0, 'the end is an empty view');
        break;
      }
      assert.ok(value.byteLength > 0 && value.byteLength <= 16 * 1024, `read ${value.byteLength}`);
      got.set(value, at);
      at += value.byteLength;
      reads++;
      buf = value.buffer as ArrayBuffer;
    }
    await sent;
    assert.equal(at, data.length);
    assert.ok(bytesEqual(got, data), 'byte for byte');
    assert.ok(reads >= data.length / (16 * 1024), `${reads} reads of at most 16 KiB`);
  });

  it('BYOB reads take any ArrayBufferView and mix with a default reader on the same stream', async () => {
    const { s, peer } = await net.connect(client, server);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    // A DataView of 4 bytes: the read fills at most 4.
    let r = incoming.readable.getReader({ mode: 'byob' });
    const first = await within(r.read(new DataView(new ArrayBuffer(4))), 5_000, 'dataview read');
    assert.equal(first.done, false);
    assert.deepEqual([...new Uint8Array(first.value!.buffer, first.value!.byteOffset, first.value!.byteLength)], [1, 2, 3, 4]);
    r.releaseLock();
    // Then a default reader gets the rest as a chunk of its own.
    const d = incoming.readable.getReader();
    const rest = await within(d.read(), 5_000, 'default read');
    assert.deepEqual([...rest.value!], [5, 6, 7, 8, 9, 10]);
    d.releaseLock();
    await w.close();
    r = incoming.readable.getReader({ mode: 'byob' });
    const end = await within(r.read(new Uint8Array(8)), 5_000, 'end');
    assert.equal(end.done, true);
  });

  it('a BYOB reader errors with the RESET_STREAM code', async () => {
    const { s, peer } = await net.connect(client, server);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array(100).fill(1));
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    const r = incoming.readable.getReader({ mode: 'byob' });
    await w.abort(78);
    await within(
      assert.rejects(
        (async () => {
          for (;;) if ((await r.read(new Uint8Array(1024))).done) return;
        })(),
        aborted('reset', 78),
      ),
      5_000,
      'reset seen',
    );
  });

  it('writer.abort(code) reaches the peer as RESET_STREAM: its reader errors with the code', async () => {
    const { s, peer } = await net.connect(client, server);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array(1000).fill(1));
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    const r = incoming.readable.getReader();
    // Read what arrived before the reset (the reset may also discard it: RFC 9000 §3.2).
    await w.abort(77);
    await within(
      assert.rejects(
        (async () => {
          for (;;) if ((await r.read()).done) return;
        })(),
        aborted('reset', 77),
      ),
      5_000,
      'reset seen',
    );
  });

  it('reader.cancel(code) reaches the peer as STOP_SENDING: its writer errors with the code, even idle', async () => {
    const { s, peer } = await net.connect(client, server);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array(10).fill(1));
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    await incoming.readable.cancel(0x3fn << 50n);
    // The writer does nothing: its `closed` still rejects with the peer's code.
    await within(assert.rejects(w.closed, aborted('stopped', 0x3fn << 50n)), 5_000, 'stop seen by an idle writer');
    await assert.rejects(w.write(new Uint8Array(1)), aborted('stopped', 0x3fn << 50n));
  });

  it('a writer blocked on flow control wakes with the STOP_SENDING code', async () => {
    const { s, peer } = await net.connect(client, server);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    const big = new Uint8Array(8 * 1024 * 1024);
    const writing = w.write(big); // far more than the send buffer and the peer's window
    writing.catch(() => {});
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    await incoming.readable.cancel(5);
    await within(assert.rejects(writing, aborted('stopped', 5)), 5_000, 'blocked write woken');
  });

  it('streams error with kind "closed" when the session closes under them', async () => {
    const { s, peer } = await net.connect(client, server);
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    await w.write(new Uint8Array(10));
    const incoming = (await within(peer.nextBidiStream(), 5_000, 'incoming'))!;
    const r = incoming.readable.getReader();
    assert.equal((await r.read()).value?.length, 10);
    const reading = r.read();
    peer.close({ closeCode: 9, reason: 'gone' });
    await within(
      assert.rejects(reading, (e: unknown) => e instanceof StreamAbortedError && e.kind === 'closed'),
      5_000,
      'local reader',
    );
    await within(
      assert.rejects(w.closed, (e: unknown) => e instanceof StreamAbortedError && e.kind === 'closed'),
      5_000,
      'remote idle writer',
    );
  });
});
