import assert from 'node:assert/strict';
import { makeBodyChannel } from '../../../src/handles/body-channel.js';
import { HandleLimitError } from '../../../src/handles/errors.js';
import { DEFAULT_IDLE_TTL_MS, DEFAULT_MAX_HANDLES, HandleStore } from '../../../src/handles/store.js';
import { closedWith, invalidHandle, settle } from './util.js';

interface FakeSession {
  name: string;
  closed: boolean;
}

/** A store on a virtual clock whose session hook marks sessions closed. */
function virtualStore(options: { maxHandles?: number; idleTtlMs?: number } = {}) {
  const clock = { now: 0 };
  const store = new HandleStore<FakeSession>({
    ...options,
    clock: () => clock.now,
    closeSession: (s) => {
      s.closed = true;
    },
  });
  return { store, clock };
}

describe('handles/HandleStore', () => {
  it('has the documented defaults', () => {
    const store = new HandleStore<FakeSession>();
    assert.equal(store.maxHandles, DEFAULT_MAX_HANDLES);
    assert.equal(DEFAULT_MAX_HANDLES, 65_536);
    assert.equal(store.idleTtlMs, DEFAULT_IDLE_TTL_MS);
  });

  it('keeps sessions, readers and writers apart', () => {
    const { store } = virtualStore();
    const session: FakeSession = { name: 's', closed: false };
    const { writer, reader } = makeBodyChannel();
    const s = store.insertSession(session);
    const r = store.insertReader(reader);
    const w = store.insertWriter(writer);
    assert.equal(store.lookupSession(s), session);
    assert.equal(store.lookupReader(r), reader);
    assert.equal(store.lookupWriter(w), writer);
    assert.throws(() => store.lookupReader(s), invalidHandle('wrong-kind'));
    assert.throws(() => store.lookupWriter(r), invalidHandle('wrong-kind'));
    assert.throws(() => store.lookupSession(w), invalidHandle('wrong-kind'));
    assert.equal(store.size, 3);
    assert.equal(store.removeReader(r), reader);
    assert.throws(() => store.lookupReader(r), invalidHandle('stale'));
    assert.equal(store.tryRemoveReader(r), undefined);
    assert.equal(reader.isDone, false, 'remove only unregisters');
    assert.equal(store.removeSession(s), session);
    assert.equal(session.closed, false);
    assert.equal(store.tryRemoveSession(s), undefined);
  });

  it('enforces the total handle limit across kinds', () => {
    const { store } = virtualStore({ maxHandles: 3 });
    const s = store.insertSession({ name: 's', closed: false });
    store.insertReader(makeBodyChannel().reader);
    store.insertWriter(makeBodyChannel().writer);
    assert.throws(() => store.insertSession({ name: 't', closed: false }), HandleLimitError);
    assert.throws(() => store.insertReader(makeBodyChannel().reader), (e: unknown) => e instanceof HandleLimitError && e.code === 'HANDLE_LIMIT' && e.limit === 3);
    store.removeSession(s);
    store.insertWriter(makeBodyChannel().writer);
    assert.equal(store.size, 3);
  });

  it('insert guard: a failure in the second insert removes and closes the first', async () => {
    const { store } = virtualStore({ maxHandles: 1 });
    const recv = makeBodyChannel();
    const send = makeBodyChannel();
    const guard = store.insertGuard();
    const r = guard.insertReader(recv.reader);
    assert.equal(store.size, 1);
    assert.throws(() => guard.insertWriter(send.writer), HandleLimitError);
    guard.rollback();
    assert.equal(store.size, 0);
    assert.throws(() => store.lookupReader(r), invalidHandle('stale'));
    // The rolled-back reader was cancelled, so whatever feeds it stops.
    await assert.rejects(recv.writer.send(new Uint8Array([1])), closedWith('cancelled', 0));
    guard.rollback(); // idempotent
    assert.throws(() => guard.insertReader(makeBodyChannel().reader), /rolled-back/);
  });

  it('insert guard: commit keeps everything; no use after commit', () => {
    const { store } = virtualStore();
    const guard = store.insertGuard();
    const r = guard.insertReader(makeBodyChannel().reader);
    const w = guard.insertWriter(makeBodyChannel().writer);
    guard.commit();
    guard.rollback(); // no-op after commit
    assert.equal(guard.committed, true);
    assert.deepEqual(guard.handles, [r, w]);
    store.lookupReader(r);
    store.lookupWriter(w);
    assert.throws(() => guard.commit(), /committed/);
  });

  it('withInsertGuard rolls back on throw and on return without commit', async () => {
    const { store } = virtualStore({ maxHandles: 1 });
    let r = 0;
    await assert.rejects(
      store.withInsertGuard((g) => {
        r = g.insertReader(makeBodyChannel().reader);
        g.insertWriter(makeBodyChannel().writer); // over the limit
      }),
      HandleLimitError,
    );
    assert.equal(store.size, 0);
    assert.throws(() => store.lookupReader(r), invalidHandle('stale'));

    const w = makeBodyChannel();
    const uncommitted = await store.withInsertGuard(async (g) => {
      await settle(1);
      return g.insertWriter(w.writer);
    });
    assert.throws(() => store.lookupWriter(uncommitted), invalidHandle('stale'));
    await assert.rejects(w.reader.next(), closedWith('aborted', 0));

    const kept = await store.withInsertGuard((g) => {
      const h = g.insertReader(makeBodyChannel().reader);
      g.commit();
      return h;
    });
    store.lookupReader(kept);
  });

  it('sweeps entries idle longer than the TTL on a virtual clock, closing them', async () => {
    const { store, clock } = virtualStore({ idleTtlMs: 1000 });
    const session: FakeSession = { name: 's', closed: false };
    const keptSession: FakeSession = { name: 'kept', closed: false };
    const recv = makeBodyChannel();
    const send = makeBodyChannel();
    const s = store.insertSession(session);
    const k = store.insertSession(keptSession);
    const r = store.insertReader(recv.reader);
    const w = store.insertWriter(send.writer);
    clock.now = 1000;
    assert.deepEqual(store.sweep(), { sessions: [], readers: [], writers: [] }, 'exactly the TTL is not idle');
    store.lookupSession(k); // used at 1000
    clock.now = 1500;
    assert.deepEqual(store.sweep(), { sessions: [s], readers: [r], writers: [w] });
    assert.equal(session.closed, true);
    assert.equal(keptSession.closed, false);
    assert.throws(() => store.lookupSession(s), invalidHandle('stale'));
    assert.throws(() => store.lookupReader(r), invalidHandle('stale'));
    // The swept reader was cancelled and the swept writer aborted, with code 0.
    await assert.rejects(recv.writer.send(new Uint8Array([1])), closedWith('cancelled', 0));
    await assert.rejects(send.reader.next(), closedWith('aborted', 0));
    assert.deepEqual(store.sweep(2001), { sessions: [k], readers: [], writers: [] });
    assert.equal(store.size, 0);
  });

  it('never sweeps a busy entry; using a child keeps its session alive', async () => {
    const { store, clock } = virtualStore({ idleTtlMs: 1000 });
    const session: FakeSession = { name: 's', closed: false };
    const s = store.insertSession(session);
    const recv = makeBodyChannel();
    const r = store.insertReader(recv.reader, { session: s });
    // A long wait on the reader (an idle stream): both the reader and its session are busy.
    const waiting = store.useReader(r, (reader) => reader.next());
    clock.now = 10_000;
    assert.deepEqual(store.sweep(), { sessions: [], readers: [], writers: [] });
    await recv.writer.send(new Uint8Array([1]));
    assert.deepEqual(await waiting, new Uint8Array([1]));
    // Use ended at 10 000: idle from then on.
    clock.now = 10_900;
    store.lookupReader(r); // touches the session too
    clock.now = 11_500;
    assert.deepEqual(store.sweep(), { sessions: [], readers: [], writers: [] });
    clock.now = 12_000;
    assert.deepEqual(store.sweep(), { sessions: [s], readers: [r], writers: [] });
    assert.equal(session.closed, true);
  });

  it('a child cannot name a dead session', () => {
    const { store } = virtualStore();
    const s = store.insertSession({ name: 's', closed: false });
    store.removeSession(s);
    assert.throws(() => store.insertReader(makeBodyChannel().reader, { session: s }), invalidHandle('stale'));
    assert.equal(store.size, 0);
  });

  it('a throwing close hook does not stop the sweep; closeAll removes everything', () => {
    const clock = { now: 0 };
    let calls = 0;
    const store = new HandleStore<FakeSession>({
      idleTtlMs: 10,
      clock: () => clock.now,
      closeSession: () => {
        calls++;
        throw new Error('hook failed');
      },
    });
    store.insertSession({ name: 'a', closed: false });
    store.insertSession({ name: 'b', closed: false });
    clock.now = 100;
    assert.equal(store.sweep().sessions.length, 2);
    assert.equal(calls, 2);
    store.insertSession({ name: 'c', closed: false });
    store.insertReader(makeBodyChannel().reader);
    const all = store.closeAll();
    assert.equal(all.sessions.length + all.readers.length, 2);
    assert.equal(store.size, 0);
  });

  it('the timer-driven sweeper is unref’d and stoppable', () => {
    const { store } = virtualStore();
    store.startSweeper(60_000);
    const timer = store['sweeper'];
    assert.ok(timer !== undefined);
    assert.equal(timer.hasRef(), false);
    store.stopSweeper();
    assert.equal(store['sweeper'], undefined);
  });
});
