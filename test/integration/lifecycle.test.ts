import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import type { CloseInfo } from '../../src/session/session-state.js';
import { SessionClosedError } from '../../src/session/errors.js';
import { bytesEqual } from '../../src/codec/bytes.js';
import { SeededRandom } from '../../src/tls/random.js';
import { Loopback, echoBidi, readAll, target, within, writeAll } from './util.js';

const MAX_CODE = (1n << 62n) - 1n;

/** Asserts a close info by value (a code may come back as a number or a bigint). */
function assertClose(info: CloseInfo, code: number | bigint, reason: string): void {
  assert.equal(BigInt(info.closeCode), BigInt(code), `close code ${String(info.closeCode)}`);
  assert.equal(info.reason, reason);
}

const closedError = (e: unknown): boolean => e instanceof SessionClosedError;

/** Everything a closed session must refuse or end, on one side. */
async function assertUnusable(s: Session): Promise<void> {
  assert.equal(await within(s.nextBidiStream(), 2_000, 'nextBidiStream'), null);
  assert.equal(await within(s.nextUniStream(), 2_000, 'nextUniStream'), null);
  assert.equal(await within(s.recvDatagram(), 2_000, 'recvDatagram'), null);
  await assert.rejects(s.createBidiStream(), closedError);
  await assert.rejects(s.createUniStream(), closedError);
  await assert.rejects(s.sendDatagram(new Uint8Array(1)), closedError);
  // Closing again is a no-op: the first close info stays.
  s.close(1, 'again');
}

/** One echo on a fresh bidirectional stream of `s`, checked byte for byte. */
async function echoOnce(s: Session, size = 10_000): Promise<void> {
  const data = new SeededRandom(size).fill(new Uint8Array(size));
  const st = await s.createBidirectionalStream();
  const [echo] = await within(Promise.all([readAll(st.readable), writeAll(st.writable, data)]), 5_000, 'echo');
  assert.ok(bytesEqual(echo, data));
}

describe('Session lifecycle over real UDP (loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  beforeEach(async () => {
    server = await net.bind();
    client = await net.bind({ acceptIncoming: false });
  });
  afterEach(() => net.close());

  it('client closes: the server sees the code (2^62-1) and reason; both sides refuse further use', async () => {
    const { s, peer } = await net.connect(client, server);
    const pendingStream = peer.nextBidiStream();
    const pendingDatagram = peer.recvDatagram();
    s.close({ closeCode: MAX_CODE, reason: 'client says bye' });
    assertClose(await within(peer.closed, 5_000, 'server closed'), MAX_CODE, 'client says bye');
    assertClose(await s.closed(), MAX_CODE, 'client says bye');
    // Waiters pending at the close resolve null.
    assert.equal(await within(pendingStream, 2_000, 'pending nextBidiStream'), null);
    assert.equal(await within(pendingDatagram, 2_000, 'pending recvDatagram'), null);
    await assertUnusable(s);
    await assertUnusable(peer);
    assertClose(await s.closed, MAX_CODE, 'client says bye');
  });

  it('server closes: the client sees the code and reason (seed form close(code, reason))', async () => {
    const { s, peer } = await net.connect(client, server);
    const pending = s.nextUniStream();
    peer.close(MAX_CODE - 1n, 'server says bye: ünïcödé');
    assertClose(await within(s.closed(), 5_000, 'client closed'), MAX_CODE - 1n, 'server says bye: ünïcödé');
    assertClose(await peer.closed, MAX_CODE - 1n, 'server says bye: ünïcödé');
    assert.equal(await within(pending, 2_000, 'pending nextUniStream'), null);
    await assertUnusable(s);
    await assertUnusable(peer);
  });

  it('each connect is its own connection: closing one of two sessions to the same peer leaves the other working', async () => {
    const a = await net.connect(client, server);
    const b = await net.connect(client, server);
    assert.notEqual(a.s.state.handle, b.s.state.handle);
    assert.equal(client.sessionCount, 2);
    echoBidi(a.peer);
    echoBidi(b.peer);
    await echoOnce(a.s);
    await echoOnce(b.s);
    a.s.close({ closeCode: 4, reason: 'only a' });
    assertClose(await within(a.peer.closed, 5_000, 'a closed'), 4, 'only a');
    await echoOnce(b.s, 200_000);
    await b.s.sendDatagram(new Uint8Array([9]));
    assert.deepEqual(await within(b.peer.recvDatagram(), 5_000, 'datagram on b'), new Uint8Array([9]));
    assert.equal(b.s.state.closeInfo, undefined);
  });

  it('[Symbol.asyncDispose] closes a Session (code 0) and an Endpoint', async () => {
    const { s, peer } = await net.connect(client, server);
    await within(s[Symbol.asyncDispose](), 5_000, 'session dispose');
    assertClose(await within(peer.closed, 5_000, 'peer closed'), 0, '');
    await assert.rejects(s.createBidiStream(), closedError);
    const extra = await Endpoint.bind({ bind: '127.0.0.1:0' });
    const accepting = Session.accept(extra);
    await within(extra[Symbol.asyncDispose](), 5_000, 'endpoint dispose');
    assert.equal(await accepting, null);
    await assert.rejects(Session.connect(extra, target(server)), /endpoint is closed/);
  });

  it('Endpoint.close() closes every session gracefully (code 0, "endpoint closing") and pending accepts resolve null', async () => {
    const one = await net.connect(client, server);
    const two = await net.connect(client, server);
    const accepting = Session.accept(server);
    const t0 = performance.now();
    await within(server.close(), 5_000, 'server close');
    const took = performance.now() - t0;
    assert.equal(await within(accepting, 1_000, 'pending accept'), null);
    assert.equal(await Session.accept(server), null);
    for (const side of [one.peer, two.peer, one.s, two.s]) {
      assertClose(await within(side.closed, 5_000, 'closed'), 0, 'endpoint closing');
    }
    assert.equal(server.sessionCount, 0);
    // The peers answered, so the close did not need its 3 s safety timeout.
    assert.ok(took < 2_900, `endpoint close took ${took.toFixed(0)} ms`);
  });

  it('a session over IPv6 loopback (::1)', async function () {
    let v6: Endpoint;
    let v6client: Endpoint;
    try {
      v6 = await Endpoint.bind({ bind: '[::1]:0' });
    } catch (e) {
      console.log(`      (skipped: cannot bind [::1]: ${(e as Error).message})`);
      this.skip();
    }
    try {
      v6client = await Endpoint.bind({ bind: '[::1]:0', acceptIncoming: false });
    } catch (e) {
      await v6.close();
      throw e;
    }
    net.endpoints.push(v6, v6client);
    assert.match(v6.boundAddresses[0]!, /^\[::1\]:\d+$/);
    const { s, peer } = await net.connect(v6client, v6);
    assert.match(s.remoteAddress ?? '', /^\[::1\]:/);
    assert.ok(peer.remoteId.equals(v6client.id));
    echoBidi(peer);
    await echoOnce(s, 1_000_000);
    // A dual-stack client picks the address family it has a socket for.
    const dual = await net.bind({ bind: ['127.0.0.1:0', '[::1]:0'], acceptIncoming: false });
    const accepted = Session.accept(v6);
    const d = await within(Session.connect(dual, `${v6.id.toString()}@${v6.boundAddresses[0]}`), 5_000, 'dual-stack dial');
    await within(accepted, 5_000, 'accept');
    assert.match(d.remoteAddress ?? '', /^\[::1\]:/);
  });
});

describe('Session.accept with an AbortSignal', function () {
  this.timeout(20_000);
  it('an aborted accept rejects and gives up its turn: the next session goes to the next caller', async () => {
    const server = await Endpoint.bind({ bind: '127.0.0.1:0' });
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const ac = new AbortController();
      const abandoned = Session.accept(server, { signal: ac.signal });
      ac.abort();
      await assert.rejects(abandoned, /abort/i);
      const accepted = Session.accept(server);
      await Session.connect(client, `${server.id.toString()}@${server.boundAddresses[0]}`);
      const s = await accepted;
      assert.ok(s && s.remoteId.equals(client.id));
      const pre = new AbortController();
      pre.abort(new Error('already aborted'));
      await assert.rejects(Session.accept(server, { signal: pre.signal }), /already aborted/);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });
});
