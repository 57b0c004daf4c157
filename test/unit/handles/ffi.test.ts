import assert from 'node:assert/strict';
import {
  BodyTooLargeError,
  ConnectionFailedError,
  HandleLimitError,
  InvalidInputError,
  toFfiError,
} from '../../../src/handles/errors.js';
import { createHandleFfi } from '../../../src/handles/ffi.js';
import { createEndpointHandles } from '../../../src/handles/endpoint-handles.js';
import type { DuplexStreams, HandleFfi, SessionCloseInfo, SessionLike } from '../../../src/handles/ffi.js';
import { streamErrorCodeOf } from '../../../src/handles/pumps.js';
import { HandleStore } from '../../../src/handles/store.js';
import { closedWith, concat, invalidHandle, peerReadable, peerWritable, settle } from './util.js';

type PeerReadable = ReturnType<typeof peerReadable>;
type PeerWritable = ReturnType<typeof peerWritable>;

/** A queue whose `next()` waits for a push and resolves null once closed. */
class AsyncQueue<T> {
  private items: T[] = [];
  private waiters: ((v: T | null) => void)[] = [];
  private done = false;
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  next(): Promise<T | null> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    if (this.done) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  close(): void {
    this.done = true;
    for (const w of this.waiters.splice(0)) w(null);
  }
}

/** One stream as the peer sees it: what it sends us (`toUs`) and what we send it (`fromUs`). */
interface PeerStream {
  toUs: PeerReadable;
  fromUs: PeerWritable;
}

/** An in-memory SessionLike: the test plays the remote peer. */
class FakeSession implements SessionLike {
  readonly opened: PeerStream[] = [];
  readonly openedUni: PeerWritable[] = [];
  readonly incomingBidi = new AsyncQueue<DuplexStreams>();
  readonly incomingUni = new AsyncQueue<ReadableStream<Uint8Array>>();
  readonly datagramsIn = new AsyncQueue<Uint8Array>();
  readonly datagramsOut: Uint8Array[] = [];
  readonly closeCalls: [number | bigint, string][] = [];
  maxDatagram: number | null = 1200;
  failOpen: Error | undefined;
  private resolveClosed!: (info: SessionCloseInfo) => void;
  private readonly closedPromise = new Promise<SessionCloseInfo>((r) => (this.resolveClosed = r));

  constructor(readonly remote = 'peer') {}

  async createBidiStream(): Promise<DuplexStreams> {
    if (this.failOpen) throw this.failOpen;
    const s = { toUs: peerReadable(), fromUs: peerWritable() };
    this.opened.push(s);
    return { readable: s.toUs.readable, writable: s.fromUs.writable };
  }
  nextBidiStream(): Promise<DuplexStreams | null> {
    return this.incomingBidi.next();
  }
  async createUniStream(): Promise<WritableStream<Uint8Array>> {
    const w = peerWritable();
    this.openedUni.push(w);
    return w.writable;
  }
  nextUniStream(): Promise<ReadableStream<Uint8Array> | null> {
    return this.incomingUni.next();
  }
  sendDatagram(data: Uint8Array): void {
    this.datagramsOut.push(data.slice());
  }
  recvDatagram(): Promise<Uint8Array | null> {
    return this.datagramsIn.next();
  }
  maxDatagramSize(): number | null {
    return this.maxDatagram;
  }
  close(code: number | bigint, reason: string): void {
    this.closeCalls.push([code, reason]);
    this.end(code, reason);
  }
  closed(): Promise<SessionCloseInfo> {
    return this.closedPromise;
  }

  /** The peer opens a bidirectional stream. */
  peerOpensBidi(): PeerStream {
    const s = { toUs: peerReadable(), fromUs: peerWritable() };
    this.incomingBidi.push({ readable: s.toUs.readable, writable: s.fromUs.writable });
    return s;
  }
  /** The connection ends (peer close or local close). */
  end(code: number | bigint, reason: string): void {
    this.incomingBidi.close();
    this.incomingUni.close();
    this.datagramsIn.close();
    this.resolveClosed({ closeCode: code, reason });
  }
}

function setup(options: { maxHandles?: number } = {}) {
  const sessions: FakeSession[] = [];
  const incoming = new AsyncQueue<FakeSession>();
  const store = new HandleStore<FakeSession>({ ...options, clock: () => 0, closeSession: (s) => s.close(0, 'swept') });
  const ffi: HandleFfi = createHandleFfi<FakeSession>({
    store,
    connect: async (remote, { directAddrs }) => {
      if (remote === 'unreachable') throw new Error(`no route to ${remote} via ${directAddrs.join(',')}`);
      const s = new FakeSession(remote);
      sessions.push(s);
      return s;
    },
    accept: () => incoming.next(),
  });
  return { store, ffi, sessions, incoming };
}

describe('handles/ffi', () => {
  it('createHandleFfi and createEndpointHandles without their argument: an InvalidInputError naming it', () => {
    assert.throws(() => createHandleFfi(undefined as never), (e: Error) => e instanceof InvalidInputError && /createHandleFfi: options must be an object \{ store/.test(e.message));
    assert.throws(() => createHandleFfi({} as never), (e: Error) => e instanceof InvalidInputError && /got object/.test(e.message));
    assert.throws(() => createEndpointHandles(undefined as never), (e: Error) => e instanceof InvalidInputError && /createEndpointHandles: endpoint must be an Endpoint, got undefined/.test(e.message));
    assert.throws(() => createEndpointHandles({} as never), (e: Error) => e instanceof InvalidInputError && /got object/.test(e.message));
  });

  it('create bidi: sendChunk/finishBody reach the peer, nextChunk drains what it sends', async () => {
    const { ffi, sessions, store } = setup();
    const h = await ffi.sessionConnect('peer');
    const { readHandle, writeHandle } = await ffi.sessionCreateBidiStream(h);
    assert.equal(new Set([h, readHandle, writeHandle]).size, 3);
    const peer = sessions[0]!.opened[0]!;

    await ffi.sendChunk(writeHandle, new Uint8Array([1, 2, 3]));
    await ffi.sendChunk(writeHandle, new Uint8Array([4]));
    ffi.finishBody(writeHandle);
    await settle();
    assert.deepEqual(concat(peer.fromUs.state.chunks), new Uint8Array([1, 2, 3, 4]));
    assert.equal(peer.fromUs.state.closed, true);
    await assert.rejects(ffi.sendChunk(writeHandle, new Uint8Array([5])), invalidHandle('stale'));

    peer.toUs.push(new Uint8Array([9, 8]));
    peer.toUs.finish();
    assert.deepEqual(await ffi.nextChunk(readHandle), new Uint8Array([9, 8]));
    assert.equal(await ffi.nextChunk(readHandle), null);
    // The end freed the read handle.
    await assert.rejects(ffi.nextChunk(readHandle), invalidHandle('stale'));
    assert.equal(store.size, 1);
  });

  it('next bidi / uni streams, both directions', async () => {
    const { ffi, sessions, incoming } = setup();
    const s = new FakeSession('dialer');
    incoming.push(s);
    const h = (await ffi.sessionAccept())!;
    assert.equal(typeof h, 'number');

    const nextBidi = ffi.sessionNextBidiStream(h);
    const peer = s.peerOpensBidi();
    const { readHandle, writeHandle } = (await nextBidi)!;
    peer.toUs.push(new Uint8Array([1]));
    assert.deepEqual(await ffi.nextChunk(readHandle), new Uint8Array([1]));
    await ffi.sendChunk(writeHandle, new Uint8Array([2]));
    await settle();
    assert.deepEqual(peer.fromUs.state.chunks, [new Uint8Array([2])]);

    const w = await ffi.sessionCreateUniStream(h);
    await ffi.sendChunk(w, new Uint8Array([3]));
    ffi.finishBody(w);
    await settle();
    assert.deepEqual(s.openedUni[0]!.state.chunks, [new Uint8Array([3])]);
    assert.equal(s.openedUni[0]!.state.closed, true);

    const nextUni = ffi.sessionNextUniStream(h);
    const uni = peerReadable();
    s.incomingUni.push(uni.readable);
    const r = (await nextUni)!;
    uni.push(new Uint8Array([4]));
    uni.finish();
    assert.deepEqual(await ffi.nextChunk(r), new Uint8Array([4]));
    assert.equal(await ffi.nextChunk(r), null);

    // A closed session: next* resolve null.
    s.end(0, 'bye');
    assert.equal(await ffi.sessionNextBidiStream(h), null);
    assert.equal(await ffi.sessionNextUniStream(h), null);
    assert.equal(sessions.length, 0, 'accept does not go through connect');
  });

  it('datagrams: send within the limit, reject over it, receive, null at close', async () => {
    const { ffi, sessions } = setup();
    const h = await ffi.sessionConnect('peer');
    const s = sessions[0]!;
    assert.equal(ffi.sessionMaxDatagramSize(h), 1200);
    await ffi.sessionSendDatagram(h, new Uint8Array(1200));
    assert.equal(s.datagramsOut.length, 1);
    await assert.rejects(ffi.sessionSendDatagram(h, new Uint8Array(1201)), (e: unknown) => {
      assert.ok(e instanceof BodyTooLargeError);
      assert.equal(e.limit, 1200);
      assert.equal(toFfiError(e).code, 'BODY_TOO_LARGE');
      return true;
    });
    s.maxDatagram = null;
    assert.equal(ffi.sessionMaxDatagramSize(h), null);
    await assert.rejects(ffi.sessionSendDatagram(h, new Uint8Array(1)), BodyTooLargeError);
    await assert.rejects(ffi.sessionSendDatagram(h, 'x' as unknown as Uint8Array), InvalidInputError);
    s.datagramsIn.push(new Uint8Array([7]));
    assert.deepEqual(await ffi.sessionRecvDatagram(h), new Uint8Array([7]));
    const waiting = ffi.sessionRecvDatagram(h);
    s.end(0, '');
    assert.equal(await waiting, null);
  });

  it('rejects stale, wrong-kind, never-issued and malformed handles everywhere', async () => {
    const { ffi } = setup();
    const h = await ffi.sessionConnect('peer');
    const { readHandle, writeHandle } = await ffi.sessionCreateBidiStream(h);
    const bytes = new Uint8Array([1]);

    // Wrong kind.
    await assert.rejects(ffi.nextChunk(writeHandle), invalidHandle('wrong-kind'));
    await assert.rejects(ffi.nextChunk(h), invalidHandle('wrong-kind'));
    await assert.rejects(ffi.sendChunk(readHandle, bytes), invalidHandle('wrong-kind'));
    assert.throws(() => ffi.finishBody(readHandle), invalidHandle('wrong-kind'));
    assert.throws(() => ffi.finishBody(h), invalidHandle('wrong-kind'));
    assert.throws(() => ffi.cancelBody(writeHandle), invalidHandle('wrong-kind'));
    assert.throws(() => ffi.abortBody(readHandle), invalidHandle('wrong-kind'));
    await assert.rejects(ffi.sessionCreateBidiStream(readHandle), invalidHandle('wrong-kind'));
    await assert.rejects(ffi.sessionSendDatagram(writeHandle, bytes), invalidHandle('wrong-kind'));
    assert.throws(() => ffi.sessionMaxDatagramSize(readHandle), invalidHandle('wrong-kind'));
    assert.throws(() => ffi.sessionClose(writeHandle, 0, ''), invalidHandle('wrong-kind'));

    // Malformed and never issued.
    for (const bad of [-1, 0.5, 'x', 2 ** 53]) {
      await assert.rejects(ffi.nextChunk(bad as number), invalidHandle('malformed'));
    }
    await assert.rejects(ffi.sessionRecvDatagram(h + 1), invalidHandle('never-issued'));

    // Stale: after close, every session function rejects the handle.
    ffi.sessionClose(h, 0, 'done');
    const staleCalls: (() => Promise<unknown>)[] = [
      () => ffi.sessionCreateBidiStream(h),
      () => ffi.sessionNextBidiStream(h),
      () => ffi.sessionCreateUniStream(h),
      () => ffi.sessionNextUniStream(h),
      () => ffi.sessionSendDatagram(h, bytes),
      () => ffi.sessionRecvDatagram(h),
      () => ffi.sessionClosed(h),
    ];
    for (const call of staleCalls) await assert.rejects(call(), invalidHandle('stale'));
    assert.throws(() => ffi.sessionMaxDatagramSize(h), invalidHandle('stale'));
    assert.throws(() => ffi.sessionClose(h, 0, ''), invalidHandle('stale'));
    // A new session reusing the slot does not answer to the old handle.
    const h2 = await ffi.sessionConnect('other');
    assert.notEqual(h2, h);
    assert.throws(() => ffi.sessionMaxDatagramSize(h), invalidHandle('stale'));
    assert.equal(ffi.sessionMaxDatagramSize(h2), 1200);
    // Errors cross the boundary as plain objects.
    try {
      ffi.sessionMaxDatagramSize(h);
      assert.fail('must throw');
    } catch (e) {
      const plain = toFfiError(e);
      assert.equal(plain.code, 'INVALID_HANDLE');
      assert.equal(plain.reason, 'stale');
      assert.deepEqual(structuredClone(plain), plain);
    }
  });

  it('validates close codes before removing the session', async () => {
    const { ffi, sessions } = setup();
    const h = await ffi.sessionConnect('peer');
    const s = sessions[0]!;
    const bad: unknown[] = [-1, 1.5, Number.NaN, 2 ** 62, 2 ** 53, -1n, 2n ** 62n, '7', null];
    for (const code of bad) {
      assert.throws(() => ffi.sessionClose(h, code as number, 'x'), InvalidInputError, String(code));
    }
    assert.throws(() => ffi.sessionClose(h, 0, 5 as unknown as string), InvalidInputError);
    assert.equal(s.closeCalls.length, 0);
    assert.equal(ffi.sessionMaxDatagramSize(h), 1200, 'still registered');
    ffi.sessionClose(h, 2n ** 62n - 1n, 'max');
    assert.deepEqual(s.closeCalls, [[2n ** 62n - 1n, 'max']]);

    const h2 = await ffi.sessionConnect('peer');
    ffi.sessionClose(h2, 2n ** 10n, '');
    assert.deepEqual(sessions[1]!.closeCalls, [[1024, '']], 'normalized to a number when safe');
  });

  it('sessionClosed waits for the close and removes the session', async () => {
    const { ffi, sessions, store } = setup();
    const h = await ffi.sessionConnect('peer');
    const closed = ffi.sessionClosed(h);
    await settle();
    assert.equal(store.sessionCount, 1);
    sessions[0]!.end(2n ** 60n, 'peer went away');
    assert.deepEqual(await closed, { closeCode: (2n ** 60n).toString(), reason: 'peer went away' });
    assert.equal(store.sessionCount, 0);
    assert.throws(() => ffi.sessionMaxDatagramSize(h), invalidHandle('stale'));

    const h2 = await ffi.sessionConnect('peer');
    const closed2 = ffi.sessionClosed(h2);
    ffi.sessionClose(h2, 3, 'bye'); // closing while a closed() waits: no error, one removal
    assert.deepEqual(await closed2, { closeCode: 3, reason: 'bye' });
  });

  it('maps stream errors both ways with their codes', async () => {
    const { ffi, sessions } = setup();
    const h = await ffi.sessionConnect('peer');
    const a = await ffi.sessionCreateBidiStream(h);
    const b = await ffi.sessionCreateBidiStream(h);
    const [pa, pb] = sessions[0]!.opened;

    pa!.toUs.reset(7); // RESET_STREAM from the peer
    await assert.rejects(ffi.nextChunk(a.readHandle), closedWith('aborted', 7));
    await assert.rejects(ffi.nextChunk(a.readHandle), invalidHandle('stale'), 'a failed read frees the handle');

    pa!.fromUs.stop(8); // STOP_SENDING from the peer
    await settle();
    await assert.rejects(ffi.sendChunk(a.writeHandle, new Uint8Array([1])), closedWith('cancelled', 8));
    ffi.finishBody(a.writeHandle); // still frees the handle, no error

    ffi.cancelBody(b.readHandle, 9);
    ffi.abortBody(b.writeHandle, 10n);
    await settle();
    assert.equal(streamErrorCodeOf(pb!.toUs.state.cancelReason), 9);
    assert.equal(streamErrorCodeOf(pb!.fromUs.state.abortReason), 10);
    assert.throws(() => ffi.cancelBody(b.readHandle, 1), invalidHandle('stale'));
    const c = await ffi.sessionCreateBidiStream(h);
    assert.throws(() => ffi.cancelBody(c.readHandle, -1), InvalidInputError);
    assert.throws(() => ffi.abortBody(c.writeHandle, 2 ** 62), InvalidInputError);
    await assert.rejects(ffi.sendChunk(c.writeHandle, [1] as unknown as Uint8Array), InvalidInputError);
  });

  it('a full store rolls back a half-registered stream and stops it', async () => {
    const { ffi, sessions, store } = setup({ maxHandles: 2 });
    const h = await ffi.sessionConnect('peer');
    await assert.rejects(ffi.sessionCreateBidiStream(h), HandleLimitError);
    assert.equal(store.size, 1, 'the reader handle was rolled back');
    await settle();
    const peer = sessions[0]!.opened[0]!;
    assert.equal(peer.toUs.state.cancelled, true);
    assert.equal(peer.fromUs.state.aborted, true);
    assert.equal(streamErrorCodeOf(peer.toUs.state.cancelReason), 0);

    // A session that cannot be registered is closed, not leaked.
    await ffi.sessionCreateUniStream(h);
    await assert.rejects(ffi.sessionConnect('third'), HandleLimitError);
    assert.deepEqual(sessions[1]!.closeCalls, [[0, 'handle limit reached']]);
  });

  it('session and endpoint failures become ConnectionFailedError; bad arguments InvalidInputError', async () => {
    const { ffi, sessions } = setup();
    await assert.rejects(ffi.sessionConnect('unreachable', ['127.0.0.1:1']), (e: unknown) => {
      assert.ok(e instanceof ConnectionFailedError);
      assert.match(e.message, /connect session failed: no route to unreachable via 127\.0\.0\.1:1/);
      assert.equal(toFfiError(e).code, 'CONNECTION_FAILED');
      return true;
    });
    await assert.rejects(ffi.sessionConnect(''), InvalidInputError);
    await assert.rejects(ffi.sessionConnect('peer', [1] as unknown as string[]), InvalidInputError);
    const h = await ffi.sessionConnect('peer');
    sessions[0]!.failOpen = new Error('stream limit');
    await assert.rejects(ffi.sessionCreateBidiStream(h), ConnectionFailedError);
    assert.equal(toFfiError(new TypeError('boom')).code, 'INTERNAL');
  });
});
