import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { Pair } from '../../harness/pair.js';
import { StreamAbortedError, StreamWaiters, WRITE_YIELD_BYTES, readableFor, writableFor, type ConnectionPort } from '../../../src/session/stream-adapter.js';
import type { Connection } from '../../../src/quic/connection/connection.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual, concatBytes } from '../../../src/codec/bytes.js';

/** A Pair whose events feed StreamWaiters, driven asynchronously so web-stream promises run. */
class AsyncPair {
  readonly p: Pair;
  readonly cw = new StreamWaiters();
  readonly sw = new StreamWaiters();
  private ci = 0;
  private si = 0;
  constructor(p: Pair) {
    this.p = p;
  }
  port(conn: () => Connection): ConnectionPort {
    return { get conn() { return conn(); }, flush: () => {} };
  }
  async run(until: () => boolean, maxMs = 30_000): Promise<void> {
    const end = this.p.now + maxMs;
    while (!until()) {
      if (this.p.now > end) throw new Error(`not reached within ${maxMs} ms (virtual)`);
      this.p.flush();
      this.dispatch();
      await tick();
      this.p.flush();
      this.dispatch();
      await tick();
      if (until()) break;
      if (!this.p.step()) await tick();
      this.dispatch();
    }
  }
  private dispatch(): void {
    while (this.ci < this.p.clientEvents.length) this.cw.dispatch(this.p.clientEvents[this.ci++]!);
    while (this.si < this.p.serverEvents.length) this.sw.dispatch(this.p.serverEvents[this.si++]!);
  }
}

/** Reads stream `id` on the server side to its end while the pair runs, until `wrote()` too. */
async function readToEnd(a: AsyncPair, server: ConnectionPort, id: number, wrote: () => boolean): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  let done = false;
  const reading = (async () => {
    const r = readableFor(server, a.sw, id).getReader();
    for (let x = await r.read(); !x.done; x = await r.read()) chunks.push(x.value);
    done = true;
  })();
  await a.run(() => done && wrote());
  await reading;
  return chunks;
}

async function setup(): Promise<{ a: AsyncPair; client: ConnectionPort; server: ConnectionPort }> {
  const p = new Pair({ link: { delayMs: 5 }, serverTransport: { streams: { initialStreamWindow: 64 * 1024, maxStreamWindow: 64 * 1024 } } });
  p.handshake();
  const a = new AsyncPair(p);
  return { a, client: a.port(() => p.client), server: a.port(() => p.server!) };
}

describe('session: QUIC streams as WHATWG streams', () => {
  it('moves 1 MB through a WritableStream into a ReadableStream, byte for byte', async () => {
    const { a, client, server } = await setup();
    const id = client.conn.openStream('bidi')!;
    const data = new SeededRandom(3).fill(new Uint8Array(1_000_000));
    const writable = writableFor(client, a.cw, id);
    let wrote = false;
    const writing = (async () => {
      const w = writable.getWriter();
      for (let off = 0; off < data.length; off += 100_000) await w.write(data.subarray(off, off + 100_000));
      await w.close();
      wrote = true;
    })();
    await a.run(() => server.conn.acceptStream('bidi') === id);
    const chunks = await readToEnd(a, server, id, () => wrote);
    await writing;
    assert.ok(bytesEqual(concatBytes(...chunks), data));
  });

  it('a pipelined writer of small chunks lets the event loop turn every WRITE_YIELD_BYTES', async () => {
    const { a, client } = await setup();
    const id = client.conn.openStream('bidi')!;
    const w = writableFor(client, a.cw, id).getWriter();
    const chunk = new Uint8Array(64);
    const total = 4 * WRITE_YIELD_BYTES; // well within the 1 MiB send buffer: no write waits for room
    // What the send buffer held when the event loop first turned (a driver's flush runs there).
    let atFirstTurn = -1;
    setImmediate(() => (atFirstTurn = client.conn.internals.streams.get(id)!.send!.buffered));
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (w.desiredSize !== null && w.desiredSize <= 0) await w.ready;
      void w.write(chunk);
    }
    await w.ready;
    await new Promise((r) => setImmediate(r));
    assert.equal(client.conn.internals.streams.get(id)!.send!.buffered, total);
    assert.ok(atFirstTurn > 0 && atFirstTurn <= WRITE_YIELD_BYTES, `buffered ${atFirstTurn} bytes before the event loop turned`);
  });

  it('write() copies: reusing a chunk once its write resolved does not change the bytes sent', async () => {
    const { a, client, server } = await setup();
    const id = client.conn.openStream('bidi')!;
    const chunk = new Uint8Array(100);
    let wrote = false;
    const writing = (async () => {
      const w = writableFor(client, a.cw, id).getWriter();
      for (let i = 0; i < 2000; i++) await w.write(chunk.fill(i & 0xff));
      await w.close();
      wrote = true;
    })();
    await a.run(() => server.conn.acceptStream('bidi') === id);
    const chunks = await readToEnd(a, server, id, () => wrote);
    await writing;
    const got = concatBytes(...chunks);
    assert.equal(got.length, 2000 * 100);
    for (let i = 0; i < 2000; i++) assert.equal(got[i * 100 + 99], i & 0xff, `chunk ${i}`);
  });

  it('backpressure: a reader that stops reading bounds what the writer can push', async () => {
    const { a, client, server } = await setup();
    const id = client.conn.openStream('bidi')!;
    const w = writableFor(client, a.cw, id).getWriter();
    let accepted = 0;
    void (async () => {
      for (;;) {
        await w.write(new Uint8Array(16 * 1024));
        accepted += 16 * 1024;
      }
    })().catch(() => {});
    // Nobody reads on the server: the writer stalls at send buffer + the peer's 64 KiB window.
    await a.run(() => false, 2_000).catch(() => {});
    const bound = client.conn.internals.config.streams.sendBufferSize + 64 * 1024 + 16 * 1024;
    assert.ok(accepted > 0, 'some data went through');
    assert.ok(accepted <= bound, `writer pushed ${accepted} bytes, bound ${bound}`);
    assert.ok(server.conn.internals.streams.get(id)!.recv!.available <= 64 * 1024, 'receiver buffered no more than its window');
  });

  it('abort(code) on the writer errors the peer\'s reader with a reset and that code', async () => {
    const { a, client, server } = await setup();
    const id = client.conn.openStream('uni')!;
    const w = writableFor(client, a.cw, id).getWriter();
    await w.write(new Uint8Array(10));
    await a.run(() => server.conn.acceptStream('uni') === id);
    const r = readableFor(server, a.sw, id).getReader();
    await w.abort(77);
    let err: unknown;
    const result = (async () => {
      try {
        for (let x = await r.read(); !x.done; x = await r.read());
      } catch (e) {
        err = e;
      }
    })();
    await a.run(() => err !== undefined);
    await result;
    assert.ok(err instanceof StreamAbortedError, String(err));
    assert.equal(err.kind, 'reset');
    assert.equal(err.code, 77);
  });

  it('cancel(code) on the reader errors the peer\'s writer with a stop and that code', async () => {
    const { a, client, server } = await setup();
    const id = client.conn.openStream('bidi')!;
    const w = writableFor(client, a.cw, id).getWriter();
    await w.write(new Uint8Array(10));
    await a.run(() => server.conn.acceptStream('bidi') === id);
    await readableFor(server, a.sw, id).cancel(99);
    let err: unknown;
    void (async () => {
      try {
        for (;;) await w.write(new Uint8Array(1000));
      } catch (e) {
        err = e;
      }
    })();
    await a.run(() => err !== undefined);
    assert.ok(err instanceof StreamAbortedError, String(err));
    assert.equal(err.kind, 'stopped');
    assert.equal(err.code, 99);
  });
  it('a stream read to its FIN before the peer closed the connection ends as done, not with the close (the last read after the close)', async () => {
    // The CLI pair's race (relay-cli-pair.test.ts once): the listener had read every byte, its own
    // side was done, the stream was removed; the dialer's close arrived before the read that
    // reports the end, and that read failed with "connection closed" although nothing was lost.
    const { a, client, server } = await setup();
    const id = client.conn.openStream('uni')!;
    const data = new SeededRandom(9).fill(new Uint8Array(40_000));
    const w = writableFor(client, a.cw, id).getWriter();
    let wrote = false;
    void (async () => {
      await w.write(data);
      await w.close();
      wrote = true;
    })();
    await a.run(() => wrote);
    assert.equal(server.conn.acceptStream('uni'), id);
    const r = readableFor(server, a.sw, id).getReader();
    const chunks: Uint8Array[] = [];
    while (chunks.reduce((n, c) => n + c.length, 0) < data.length) {
      const x = await r.read();
      assert.ok(!x.done);
      chunks.push(x.value);
    }
    client.conn.close(a.p.now, 0, 'done');
    await a.run(() => server.conn.isClosed);
    a.sw.closeAll((sid) => new StreamAbortedError(sid, 'closed', undefined, 'done'));
    const end = await r.read();
    assert.equal(end.done, true);
    assert.ok(bytesEqual(concatBytes(...chunks), data));
  });
});
