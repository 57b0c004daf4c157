import assert from 'node:assert/strict';
import type { Endpoint } from '../../src/session/endpoint.js';
import { createEndpointHandles, HANDLE_RELEASED_REASON, type EndpointHandles } from '../../src/handles/endpoint-handles.js';
import {
  BodyTooLargeError,
  ChannelClosedError,
  ConnectionFailedError,
  HandleLimitError,
  InvalidHandleError,
  type InvalidHandleReason,
} from '../../src/handles/errors.js';
import type { FfiDuplexStream } from '../../src/handles/ffi.js';
import { bytesEqual, concatBytes } from '../../src/codec/bytes.js';
import { SeededRandom } from '../../src/tls/random.js';
import { Loopback, sleep, within } from './util.js';

const MAX_CODE = (1n << 62n) - 1n;

function invalidHandle(reason: InvalidHandleReason): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof InvalidHandleError, `expected InvalidHandleError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    return true;
  };
}

function channelClosed(how: 'aborted' | 'cancelled', code: number | bigint | undefined): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ChannelClosedError, `expected ChannelClosedError, got ${String(e)}`);
    assert.equal(e.how, how, e.message);
    assert.equal(e.streamErrorCode, code, e.message);
    return true;
  };
}

/** Reads a body to its end through `nextChunk`. */
async function drain(h: EndpointHandles, readHandle: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let c = await h.nextChunk(readHandle); c !== null; c = await h.nextChunk(readHandle)) chunks.push(c);
  return concatBytes(...chunks);
}

/** Sends `data` through `sendChunk` in 64 KiB chunks, then `finishBody`. */
async function upload(h: EndpointHandles, writeHandle: number, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length; off += 64 * 1024) await h.sendChunk(writeHandle, data.subarray(off, off + 64 * 1024));
  h.finishBody(writeHandle);
}

describe('Handles over a real Endpoint (loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  let sh: EndpointHandles;
  let ch: EndpointHandles;
  // One test fails a handshake on purpose: without an RTT sample its closing period is 3 PTO from
  // kInitialRtt (3 s at 333 ms), which closing the endpoint waits for. Loopback's RTT is far below 30 ms.
  const transport = { initialRttMs: 30 };
  beforeEach(async () => {
    server = await net.bind({ transport });
    client = await net.bind({ acceptIncoming: false, transport });
    sh = createEndpointHandles(server);
    ch = createEndpointHandles(client);
  });
  afterEach(() => net.close());

  /** Connects through the handles: the client's and the server's session handles. */
  async function connect(c = ch, s = sh): Promise<{ cs: number; ss: number }> {
    const accepted = s.sessionAccept();
    const cs = await within(c.sessionConnect(server.id.toString(), [server.boundAddresses[0]!]), 5_000, 'sessionConnect');
    const ss = await within(accepted, 5_000, 'sessionAccept');
    assert.ok(ss !== null);
    return { cs, ss };
  }

  it('bidi streams both ways byte for byte (sendChunk/finishBody/nextChunk), datagrams, close info with a code near 2^62', async () => {
    const { cs, ss } = await connect();
    const data = new SeededRandom(31).fill(new Uint8Array(3_000_000));
    // Client -> server on a client stream; the server echoes on the same stream.
    const mine = await ch.sessionCreateBidiStream(cs);
    const echo = (async () => {
      const theirs = (await sh.sessionNextBidiStream(ss))!;
      const got = await drain(sh, theirs.readHandle);
      await upload(sh, theirs.writeHandle, got);
      return got;
    })();
    const [, back, atServer] = await within(Promise.all([upload(ch, mine.writeHandle, data), drain(ch, mine.readHandle), echo]), 15_000, 'echo');
    assert.ok(bytesEqual(atServer, data), 'server got every byte');
    assert.ok(bytesEqual(back, data), 'client got the echo byte for byte');
    // Finished/ended bodies freed their handles.
    assert.equal(ch.store.readerCount + ch.store.writerCount, 0);
    assert.equal(sh.store.readerCount + sh.store.writerCount, 0);
    // Server-initiated stream, server -> client.
    const srv = await sh.sessionCreateBidiStream(ss);
    const small = new SeededRandom(32).fill(new Uint8Array(100_000));
    await upload(sh, srv.writeHandle, small);
    const cli = (await within(ch.sessionNextBidiStream(cs), 5_000, 'client next'))!;
    assert.ok(bytesEqual(await within(drain(ch, cli.readHandle), 5_000, 'drain'), small));
    // Datagrams.
    const max = ch.sessionMaxDatagramSize(cs)!;
    assert.ok(max > 1000);
    await ch.sessionSendDatagram(cs, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await within(sh.sessionRecvDatagram(ss), 5_000, 'datagram'), new Uint8Array([1, 2, 3]));
    await sh.sessionSendDatagram(ss, new Uint8Array(max).fill(4));
    assert.deepEqual(await within(ch.sessionRecvDatagram(cs), 5_000, 'datagram back'), new Uint8Array(max).fill(4));
    await assert.rejects(ch.sessionSendDatagram(cs, new Uint8Array(max + 1)), BodyTooLargeError);
    // Close with a code above 2^53: it crosses as a decimal string.
    const closed = sh.sessionClosed(ss);
    ch.sessionClose(cs, MAX_CODE, 'bye from the handles');
    assert.deepEqual(await within(closed, 5_000, 'sessionClosed'), { closeCode: MAX_CODE.toString(), reason: 'bye from the handles' });
    // Both session handles are gone: stale now.
    await assert.rejects(ch.sessionCreateBidiStream(cs), invalidHandle('stale'));
    await assert.rejects(sh.sessionRecvDatagram(ss), invalidHandle('stale'));
    assert.throws(() => ch.sessionMaxDatagramSize(cs), invalidHandle('stale'));
    assert.throws(() => ch.sessionClose(cs, 0, ''), invalidHandle('stale'));
  });

  it('uni streams both ways: sessionCreateUniStream -> sessionNextUniStream, byte for byte', async () => {
    const { cs, ss } = await connect();
    const data = new SeededRandom(33).fill(new Uint8Array(1_000_000));
    const w = await ch.sessionCreateUniStream(cs);
    const [, got] = await within(
      Promise.all([upload(ch, w, data), sh.sessionNextUniStream(ss).then((r) => drain(sh, r!))]),
      10_000,
      'client -> server',
    );
    assert.ok(bytesEqual(got, data));
    const back = await sh.sessionCreateUniStream(ss);
    const [, got2] = await within(
      Promise.all([upload(sh, back, got), ch.sessionNextUniStream(cs).then((r) => drain(ch, r!))]),
      10_000,
      'server -> client',
    );
    assert.ok(bytesEqual(got2, data));
    ch.sessionClose(cs, 0, '');
    assert.equal(await within(sh.sessionNextUniStream(ss), 5_000, 'next after close'), null);
  });

  it('stream error codes cross both ways: abortBody -> RESET_STREAM -> peer nextChunk; cancelBody -> STOP_SENDING -> peer sendChunk', async () => {
    const { cs, ss } = await connect();
    // Abort: the peer's reader fails with the code.
    const a = await ch.sessionCreateBidiStream(cs);
    await ch.sendChunk(a.writeHandle, new Uint8Array(100));
    const a2 = (await within(sh.sessionNextBidiStream(ss), 5_000, 'next'))!;
    assert.equal((await sh.nextChunk(a2.readHandle))?.length, 100);
    ch.abortBody(a.writeHandle, 42);
    await within(assert.rejects(sh.nextChunk(a2.readHandle), channelClosed('aborted', 42)), 5_000, 'reset seen');
    assert.throws(() => sh.cancelBody(a2.readHandle), invalidHandle('stale'), 'a failed body frees its reader');
    // Cancel with a bigint code: the peer's idle writer learns it; its next sendChunk rejects with it.
    const code = MAX_CODE - 5n;
    const b = await ch.sessionCreateBidiStream(cs);
    await ch.sendChunk(b.writeHandle, new Uint8Array(10));
    const b2 = (await within(sh.sessionNextBidiStream(ss), 5_000, 'next'))!;
    // The server answers on b2's write side; the client cancels its read side of b.
    await sh.sendChunk(b2.writeHandle, new Uint8Array(10));
    assert.equal((await ch.nextChunk(b.readHandle))?.length, 10);
    ch.cancelBody(b.readHandle, code);
    await within(
      (async () => {
        for (;;) {
          try {
            await sh.sendChunk(b2.writeHandle, new Uint8Array(10));
          } catch (e) {
            return channelClosed('cancelled', code)(e);
          }
          await sleep(10);
        }
      })(),
      5_000,
      'stop seen by the peer writer',
    );
  });

  it('wrong-kind and malformed handles are InvalidHandleError; connect failures are ConnectionFailedError', async () => {
    const { cs } = await connect();
    const st = await ch.sessionCreateBidiStream(cs);
    await assert.rejects(ch.nextChunk(cs), invalidHandle('wrong-kind'));
    await assert.rejects(ch.sendChunk(st.readHandle, new Uint8Array(1)), invalidHandle('wrong-kind'));
    await assert.rejects(ch.sessionCreateBidiStream(st.writeHandle), invalidHandle('wrong-kind'));
    assert.throws(() => ch.finishBody(st.readHandle), invalidHandle('wrong-kind'));
    await assert.rejects(ch.sessionRecvDatagram(-1), invalidHandle('malformed'));
    await assert.rejects(
      ch.sessionConnect(client.id.toString(), [server.boundAddresses[0]!]),
      (e: unknown) => e instanceof ConnectionFailedError && /authentication/.test(e.message),
    );
  });

  it('handle limit: a bidi stream needing two handles with one free slot fails and leaks nothing; a full store closes the session it cannot register', async () => {
    const small = createEndpointHandles(client, { maxHandles: 2 });
    const { cs, ss } = await connect(small);
    const uni = await small.sessionCreateUniStream(cs); // one writer: the store now holds 2 of 2
    await assert.rejects(small.sessionCreateBidiStream(cs), HandleLimitError);
    await assert.rejects(small.sessionCreateUniStream(cs), HandleLimitError);
    assert.equal(small.store.size, 2);
    assert.equal(small.store.readerCount, 0, 'no reader leaked');
    // Free the writer: one slot; a bidi stream needs two -> the insert guard rolls the reader back.
    small.abortBody(uni, 1);
    assert.equal(small.store.size, 1);
    await assert.rejects(small.sessionCreateBidiStream(cs), HandleLimitError);
    assert.equal(small.store.size, 1, 'the rolled-back reader handle is gone');
    assert.equal(small.store.readerCount, 0);
    // The QUIC stream opened for it was discarded on the wire (RESET_STREAM with code 0): the
    // peer sees the stream fail, not hang.
    const seen = await within(sh.sessionNextBidiStream(ss), 5_000, 'discarded stream at the peer');
    assert.ok(seen);
    await within(assert.rejects(drain(sh, seen.readHandle), channelClosed('aborted', 0)), 5_000, 'discarded stream fails at the peer');
    // A session that cannot be registered is closed, so the peer does not keep it open.
    const full = createEndpointHandles(client, { maxHandles: 0 });
    const accepted = sh.sessionAccept();
    await assert.rejects(full.sessionConnect(server.id.toString(), [server.boundAddresses[0]!]), HandleLimitError);
    const ss2 = (await within(accepted, 5_000, 'accept'))!;
    assert.deepEqual(await within(sh.sessionClosed(ss2), 5_000, 'rejected session closed'), { closeCode: 0, reason: 'handle limit reached' });
  });

  it('the idle sweep closes swept sessions with the released reason', async () => {
    let now = 0;
    const swept = createEndpointHandles(client, { clock: () => now, idleTtlMs: 1_000 });
    const { cs, ss } = await connect(swept);
    now = 5_000;
    assert.deepEqual(swept.store.sweep().sessions, [cs]);
    assert.deepEqual(await within(sh.sessionClosed(ss), 5_000, 'swept session closed'), { closeCode: 0, reason: HANDLE_RELEASED_REASON });
  });

  it('closing the endpoint closes every session (peer sees "endpoint closing"), frees every handle, and sessionAccept resolves null', async () => {
    const { cs, ss } = await connect();
    const st: FfiDuplexStream = await ch.sessionCreateBidiStream(cs);
    const pendingAccept = sh.sessionAccept();
    const chunkFails = assert.rejects(ch.nextChunk(st.readHandle), ChannelClosedError);
    const closed = ch.sessionClosed(cs);
    await within(sh.close(), 5_000, 'server endpoint close');
    assert.equal(await within(pendingAccept, 1_000, 'pending accept'), null);
    assert.equal(await sh.sessionAccept(), null);
    assert.equal(sh.store.size, 0, 'server store emptied');
    assert.deepEqual(await within(closed, 5_000, 'client sees the close'), { closeCode: 0, reason: 'endpoint closing' });
    await within(chunkFails, 5_000, 'client body fails');
    await assert.rejects(sh.sessionCreateBidiStream(ss), invalidHandle('stale'));
    await assert.rejects(
      sh.sessionConnect(client.id.toString(), [client.boundAddresses[0]!]),
      (e: unknown) => e instanceof ConnectionFailedError && /endpoint is closed/.test(e.message),
    );
  });
});
