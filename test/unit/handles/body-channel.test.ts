import assert from 'node:assert/strict';
import { BODY_CHANNEL_CAPACITY, MAX_CHUNK_SIZE, makeBodyChannel } from '../../../src/handles/body-channel.js';
import { InvalidInputError } from '../../../src/handles/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { closedWith, concat, readAll, settle } from './util.js';

describe('handles/body channel', () => {
  it('uses the seed sizes: 32 chunks of at most 64 KiB', () => {
    assert.equal(BODY_CHANNEL_CAPACITY, 32);
    assert.equal(MAX_CHUNK_SIZE, 65536);
  });

  it('delivers chunks in order, then null on every later call', async () => {
    const { writer, reader } = makeBodyChannel();
    const sent = [1, 2, 3].map((n) => new Uint8Array([n, n, n]));
    for (const c of sent) await writer.send(c);
    writer.finish();
    assert.deepEqual(await readAll(reader), sent);
    assert.equal(await reader.next(), null);
    assert.deepEqual(await reader.closed, { how: 'finished', streamErrorCode: undefined });
    assert.deepEqual(await writer.closed, { how: 'finished', streamErrorCode: undefined });
  });

  it('splits a large write into 64 KiB pieces and copies unless transferred', async () => {
    const { writer, reader } = makeBodyChannel();
    const big = new SeededRandom(1).fill(new Uint8Array(3 * MAX_CHUNK_SIZE + 8000));
    const sending = writer.send(big);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) pieces.push((await reader.next())!);
    await sending;
    assert.deepEqual(
      pieces.map((p) => p.length),
      [MAX_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_CHUNK_SIZE, 8000],
    );
    assert.deepEqual(concat(pieces), big);
    assert.notEqual(pieces[0]!.buffer, big.buffer, 'copied');

    const small = new Uint8Array([1, 2, 3]);
    await writer.send(small);
    small[0] = 9; // the caller reuses its buffer after the send resolved
    assert.deepEqual(await reader.next(), new Uint8Array([1, 2, 3]));

    const owned = new Uint8Array([4, 5]);
    await writer.send(owned, { transfer: true });
    assert.equal(await reader.next(), owned, 'transferred as is');
  });

  it('ignores empty chunks', async () => {
    const { writer, reader } = makeBodyChannel();
    await writer.send(new Uint8Array(0));
    assert.equal(writer.queuedChunks, 0);
    writer.finish();
    assert.equal(await reader.next(), null);
  });

  it('backpressure: a slow reader stops the writer at 32 queued chunks', async () => {
    const { writer, reader } = makeBodyChannel();
    let sent = 0;
    let maxQueued = 0;
    const total = 200;
    const writing = (async () => {
      for (let i = 0; i < total; i++) {
        await writer.send(new Uint8Array([i & 0xff]));
        sent++;
        maxQueued = Math.max(maxQueued, writer.queuedChunks);
      }
      writer.finish();
    })();
    await settle();
    assert.equal(sent, BODY_CHANNEL_CAPACITY, 'the writer stops when the queue is full');
    assert.equal(writer.queuedChunks, BODY_CHANNEL_CAPACITY);
    // Read slowly: one chunk per turn; the writer never gets more than 32 ahead.
    const got: number[] = [];
    for (;;) {
      const c = await reader.next();
      if (c === null) break;
      got.push(c[0]!);
      assert.ok(sent - got.length <= BODY_CHANNEL_CAPACITY, `outstanding ${sent - got.length}`);
      await settle();
    }
    await writing;
    assert.ok(maxQueued <= BODY_CHANNEL_CAPACITY);
    assert.deepEqual(
      got,
      Array.from({ length: total }, (_, i) => i & 0xff),
    );
  });

  it('backpressure holds within one large send', async () => {
    const { writer, reader } = makeBodyChannel({ capacity: 4, maxChunkSize: 10 });
    let done = false;
    const sending = writer.send(new Uint8Array(100)).then(() => (done = true));
    await settle();
    assert.equal(writer.queuedChunks, 4);
    assert.equal(writer.pendingSends, 1);
    assert.equal(done, false);
    for (let i = 0; i < 6; i++) assert.equal((await reader.next())?.length, 10);
    await sending;
    assert.equal(done, true, 'resolves once the last piece is queued');
    assert.equal(writer.queuedChunks, 4);
  });

  it('concurrent sends do not interleave; concurrent reads are served in order', async () => {
    const { writer, reader } = makeBodyChannel({ capacity: 2, maxChunkSize: 4 });
    const reads = [reader.next(), reader.next(), reader.next()];
    const a = writer.send(new Uint8Array(10).fill(1));
    const b = writer.send(new Uint8Array(10).fill(2));
    writer.finish();
    const first = await Promise.all(reads);
    assert.deepEqual(
      first.map((c) => c && [...c]),
      [
        [1, 1, 1, 1],
        [1, 1, 1, 1],
        [1, 1],
      ],
    );
    const rest = await readAll(reader);
    await Promise.all([a, b]);
    assert.deepEqual([...concat(rest)], new Array<number>(10).fill(2));
  });

  it('finish waits for pending sends', async () => {
    const { writer, reader } = makeBodyChannel({ capacity: 1, maxChunkSize: 2 });
    const s = writer.send(new Uint8Array([1, 2, 3, 4, 5]));
    writer.finish();
    writer.finish(); // idempotent
    assert.deepEqual(concat(await readAll(reader)), new Uint8Array([1, 2, 3, 4, 5]));
    await s;
    await assert.rejects(writer.send(new Uint8Array([6])), closedWith('finished', undefined));
  });

  it('reader cancel rejects pending and later sends with the code and drops the queue', async () => {
    const { writer, reader } = makeBodyChannel({ capacity: 2 });
    await writer.send(new Uint8Array([1]));
    await writer.send(new Uint8Array([2]));
    const pending = writer.send(new Uint8Array([3]));
    reader.cancel(7, 'not interested');
    await assert.rejects(pending, closedWith('cancelled', 7));
    await assert.rejects(writer.send(new Uint8Array([4])), closedWith('cancelled', 7));
    assert.equal(writer.queuedChunks, 0);
    assert.deepEqual(await writer.closed, { how: 'cancelled', streamErrorCode: 7 });
    await assert.rejects(reader.next(), closedWith('cancelled', 7));
    writer.finish(); // no effect, no throw
    writer.abort(1); // the first close wins
    assert.deepEqual(await reader.closed, { how: 'cancelled', streamErrorCode: 7 });
  });

  it('writer abort rejects pending and later reads with the code, dropping queued data', async () => {
    const { writer, reader } = makeBodyChannel();
    const waiting = reader.next();
    writer.abort(9);
    await assert.rejects(waiting, closedWith('aborted', 9));

    const ch = makeBodyChannel();
    await ch.writer.send(new Uint8Array([1]));
    ch.writer.finish();
    ch.writer.abort(2n ** 60n); // an abort after finish but before the end was read still applies
    await assert.rejects(ch.reader.next(), closedWith('aborted', 2n ** 60n));
    await assert.rejects(ch.writer.send(new Uint8Array([1])), closedWith('aborted', 2n ** 60n));
    assert.deepEqual(await ch.reader.closed, { how: 'aborted', streamErrorCode: 2n ** 60n });
  });

  it('abort and cancel without a code carry none; after the end they are no-ops', async () => {
    const { writer, reader } = makeBodyChannel();
    writer.abort();
    await assert.rejects(reader.next(), closedWith('aborted', undefined));

    const ch = makeBodyChannel();
    ch.writer.finish();
    assert.equal(await ch.reader.next(), null);
    ch.reader.cancel(3);
    ch.writer.abort(4);
    assert.equal(await ch.reader.next(), null);
  });

  it('rejects bad input with typed errors', async () => {
    const { writer, reader } = makeBodyChannel();
    await assert.rejects(writer.send('text' as unknown as Uint8Array), InvalidInputError);
    assert.throws(() => writer.abort(2 ** 62), InvalidInputError);
    assert.throws(() => writer.abort(-1), InvalidInputError);
    assert.throws(() => reader.cancel(1.5), InvalidInputError);
    assert.throws(() => reader.cancel(2n ** 62n), InvalidInputError);
    assert.throws(() => makeBodyChannel({ capacity: 0 }), RangeError);
    assert.equal(writer.isDone, false, 'a rejected abort does not close');
  });
});
