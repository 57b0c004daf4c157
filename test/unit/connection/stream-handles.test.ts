import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';
import { StreamResetError, UnknownStreamError } from '../../../src/quic/streams/stream-error.js';

describe('connection: stream handles (sendStream / recvStream)', () => {
  it('an id that names no part here throws UnknownStreamError, saying which part and which stream', () => {
    const p = new Pair({ seed: testSeed(81), link: { delayMs: 5 } });
    p.handshake();
    const c = p.client;
    assert.throws(() => c.writeStream(400, new Uint8Array(1)), (e: unknown) => e instanceof UnknownStreamError && e.streamId === 400 && e.part === 'send');
    assert.throws(() => c.readStream(401), (e: unknown) => e instanceof UnknownStreamError && e.part === 'recv' && /stream 401/.test(e.message));
    // A unidirectional stream of ours has no receiving part.
    const uni = c.openStream('uni')!;
    assert.throws(() => c.recvStream(uni).read(), UnknownStreamError);
    assert.equal(c.recvStream(uni).isGone, true);
  });

  it('a handle that saw its part keeps answering after the stream is done and removed', () => {
    const p = new Pair({ seed: testSeed(82), link: { delayMs: 5 } });
    p.handshake();
    const id = p.client.openStream('uni')!;
    const send = p.client.sendStream(id);
    assert.equal(send.isDone, false);
    assert.equal(send.write(new Uint8Array(100).fill(1)), 100);
    send.finish();
    let recv: ReturnType<typeof p.client.recvStream> | undefined;
    let read = 0;
    p.drive(() => {
      const s = p.server!;
      const got = s.acceptStream('uni');
      if (got !== null) recv = s.recvStream(got);
      if (!recv) return false;
      for (let d = recv.read(); d; d = recv.read()) read += d.length;
      return recv.ended;
    });
    assert.equal(read, 100);
    assert.equal(recv!.isGone, true, 'delivered to the end: the stream left the server');
    assert.equal(recv!.read(), null, 'the handle still answers: nothing more');
    p.drive(() => send.isDone);
    assert.equal(send.resetCode, undefined);
  });

  it('a read that reaches the peer\'s RESET_STREAM throws StreamResetError with its code', () => {
    const p = new Pair({ seed: testSeed(83), link: { delayMs: 5 } });
    p.handshake();
    const id = p.client.openStream('bidi')!;
    p.client.writeStream(id, new Uint8Array(10));
    p.client.sendStream(id).reset(7);
    p.drive(() => p.server!.acceptStream('bidi') === id || p.server!.recvStream(id).resetCode !== undefined);
    p.drive(() => p.server!.recvStream(id).resetCode !== undefined);
    assert.throws(() => p.server!.recvStream(id).read(), (e: unknown) => e instanceof StreamResetError && e.code === 7 && e.byPeer);
  });
});
