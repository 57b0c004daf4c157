import assert from 'node:assert/strict';
import { BODY_CHANNEL_CAPACITY, MAX_CHUNK_SIZE, makeBodyChannel } from '../../../src/handles/body-channel.js';
import { pumpBodyToWritable, pumpReadableToBody, streamErrorCodeOf } from '../../../src/handles/pumps.js';
import { PeerStreamError, closedWith, concat, peerReadable, peerWritable, readAll, settle } from './util.js';

describe('handles/pumps', () => {
  describe('readable -> body', () => {
    it('copies everything and finishes the body; splits big chunks', async () => {
      const peer = peerReadable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpReadableToBody(peer.readable, writer);
      const big = new Uint8Array(MAX_CHUNK_SIZE + 10).fill(7);
      peer.push(new Uint8Array([1, 2]));
      peer.push(big);
      peer.finish();
      const chunks = await readAll(reader);
      assert.deepEqual(
        chunks.map((c) => c.length),
        [2, MAX_CHUNK_SIZE, 10],
      );
      assert.deepEqual(concat(chunks.slice(1)), big);
      assert.deepEqual(await pumping, { how: 'finished', streamErrorCode: undefined });
    });

    it('a reset stream aborts the body with its code', async () => {
      const peer = peerReadable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpReadableToBody(peer.readable, writer);
      peer.push(new Uint8Array([1]));
      await settle();
      peer.reset(42);
      assert.deepEqual(await pumping, { how: 'aborted', streamErrorCode: 42 });
      await assert.rejects(reader.next(), closedWith('aborted', 42));
    });

    it('a WebTransport-style reset (streamErrorCode) maps the same way', async () => {
      const peer = peerReadable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpReadableToBody(peer.readable, writer);
      peer.resetWebTransport(43);
      assert.deepEqual(await pumping, { how: 'aborted', streamErrorCode: 43 });
      await assert.rejects(reader.next(), closedWith('aborted', 43));
    });

    it('a stream error without a code aborts the body without one', async () => {
      const peer = peerReadable();
      const { writer, reader } = makeBodyChannel();
      void pumpReadableToBody(peer.readable, writer);
      peer.fail(new Error('connection closed'));
      await assert.rejects(reader.next(), closedWith('aborted', undefined));
    });

    it('a cancelled body cancels the stream with its code, even while the stream is idle', async () => {
      const peer = peerReadable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpReadableToBody(peer.readable, writer);
      await settle();
      reader.cancel(5);
      assert.deepEqual(await pumping, { how: 'cancelled', streamErrorCode: 5 });
      assert.equal(peer.state.cancelled, true);
      assert.equal(peer.state.cancelReason, 5, 'readable.cancel(code), as the Session expects');
    });

    it('a body cancelled mid-transfer stops the stream', async () => {
      const peer = peerReadable();
      const { writer, reader } = makeBodyChannel({ capacity: 1 });
      const pumping = pumpReadableToBody(peer.readable, writer);
      for (let i = 0; i < 5; i++) peer.push(new Uint8Array([i]));
      await settle();
      reader.cancel(6);
      const outcome = await pumping;
      assert.equal(outcome.streamErrorCode, 6);
      assert.equal(streamErrorCodeOf(peer.state.cancelReason), 6);
    });

    it('backpressure: an unread body stops pulling from the stream', async () => {
      let produced = 0;
      const readable = new ReadableStream<Uint8Array>({
        pull(c) {
          produced++;
          c.enqueue(new Uint8Array(16));
        },
      });
      const { writer } = makeBodyChannel();
      void pumpReadableToBody(readable, writer);
      await settle(10);
      assert.equal(writer.queuedChunks, BODY_CHANNEL_CAPACITY);
      // 32 queued, one held by the pump's pending send, the stream's own high-water mark of 1.
      assert.ok(produced <= BODY_CHANNEL_CAPACITY + 2, `produced ${produced}`);
      const before = produced;
      await settle(10);
      assert.equal(produced, before, 'nothing more is pulled while the body is not read');
    });
  });

  describe('body -> writable', () => {
    it('copies everything and closes the stream at the end of the body', async () => {
      const peer = peerWritable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpBodyToWritable(reader, peer.writable);
      await writer.send(new Uint8Array([1, 2, 3]));
      await writer.send(new Uint8Array([4]));
      writer.finish();
      assert.deepEqual(await pumping, { how: 'finished', streamErrorCode: undefined });
      assert.deepEqual(concat(peer.state.chunks), new Uint8Array([1, 2, 3, 4]));
      assert.equal(peer.state.closed, true);
    });

    it('an aborted body aborts the stream with its code, even while the body is idle', async () => {
      const peer = peerWritable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpBodyToWritable(reader, peer.writable);
      await settle();
      writer.abort(13);
      assert.deepEqual(await pumping, { how: 'aborted', streamErrorCode: 13 });
      assert.equal(peer.state.aborted, true);
      assert.equal(peer.state.abortReason, 13, 'writable.abort(code), as the Session expects');
    });

    it('a stopped stream cancels the body with its code, even while the body is idle', async () => {
      const peer = peerWritable();
      const { writer, reader } = makeBodyChannel();
      const pumping = pumpBodyToWritable(reader, peer.writable);
      await settle();
      peer.stop(21);
      assert.deepEqual(await writer.closed, { how: 'cancelled', streamErrorCode: 21 });
      await assert.rejects(writer.send(new Uint8Array([1])), closedWith('cancelled', 21));
      assert.deepEqual(await pumping, { how: 'cancelled', streamErrorCode: 21 });
    });

    it('backpressure: a slow stream leaves the data in the bounded channel', async () => {
      const peer = peerWritable({ slow: true });
      const { writer, reader } = makeBodyChannel({ capacity: 4 });
      void pumpBodyToWritable(reader, peer.writable);
      let sent = 0;
      void (async () => {
        for (let i = 0; i < 100; i++) {
          await writer.send(new Uint8Array([i]));
          sent++;
        }
        writer.finish();
      })();
      await settle(10);
      // One chunk in the sink, two in the stream's queue (high-water mark 2), four in the channel.
      assert.ok(peer.state.chunks.length <= 1, `sink got ${peer.state.chunks.length}`);
      assert.equal(writer.queuedChunks, 4);
      assert.ok(sent <= 4 + 3 + 1, `sent ${sent}`);
      for (let i = 0; i < 200 && !peer.state.closed; i++) {
        peer.release();
        await settle(2);
      }
      assert.equal(peer.state.closed, true);
      assert.deepEqual(
        peer.state.chunks.map((c) => c[0]),
        Array.from({ length: 100 }, (_, i) => i),
      );
    });
  });

  it('streamErrorCodeOf reads valid codes only', () => {
    assert.equal(streamErrorCodeOf({ streamErrorCode: 3 }), 3);
    assert.equal(streamErrorCodeOf(new PeerStreamError('reset', 4)), 4);
    assert.equal(streamErrorCodeOf(Object.assign(new Error('x'), { code: 'ERR_STREAM' })), undefined);
    assert.equal(streamErrorCodeOf({ code: 'CHANNEL_CLOSED', streamErrorCode: 6 }), 6);
    assert.equal(streamErrorCodeOf(7), 7);
    assert.equal(streamErrorCodeOf(7n), 7);
    assert.equal(streamErrorCodeOf({ streamErrorCode: 2n ** 61n }), 2n ** 61n);
    assert.equal(streamErrorCodeOf({ streamErrorCode: 2n }), 2, 'normalized to a number');
    for (const bad of [undefined, null, -3, 'x', {}, { streamErrorCode: -1 }, { streamErrorCode: 1.5 }, { streamErrorCode: 2n ** 62n }]) {
      assert.equal(streamErrorCodeOf(bad), undefined);
    }
  });
});
