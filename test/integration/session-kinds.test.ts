/**
 * The same Session, the same behaviour, whatever carries it: every case below runs once on a QUIC
 * session (an Endpoint's connection) and once on a WebTransport session over HTTP/3 (quic-peer's
 * client to quic-peer's server), on loopback. Streams both ways with reset and stop-sending codes,
 * backpressure, datagrams and their errors, close codes per kind, the close semantics, aborted
 * waits, stats and disposal.
 */
import assert from 'node:assert/strict';
import { DatagramError, Endpoint, InvalidArgumentError, Session, SessionClosedError, StreamAbortedError, type SessionKind } from '../../src/index.js';
import { WebTransportServer, connectWebTransport } from '../../src/http/index.js';
import type { WtSession } from '../../src/http/wt-session.js';
import { readAll, sleep, target, within } from './util.js';

interface Pair {
  readonly client: Session;
  readonly server: Session;
  /** The server's endpoint id, when it has one (an Ed25519 raw public key). */
  readonly serverId?: string;
  close(): Promise<void>;
}

async function quicPair(): Promise<Pair> {
  const serverEp = await Endpoint.bind({ bind: '127.0.0.1:0' });
  const clientEp = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
  const accepted = Session.accept(serverEp);
  const client = await within(Session.connect(clientEp, target(serverEp)), 5_000, 'connect');
  const server = await within(accepted, 5_000, 'accept');
  assert.ok(server);
  return { client, server, serverId: serverEp.id.toString(), close: async () => void (await Promise.all([clientEp.close(), serverEp.close()])) };
}

async function webTransportPair(): Promise<Pair> {
  const wts = await WebTransportServer.listen({ bind: '127.0.0.1:0', paths: ['/t'] });
  const clientEp = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
  const accepted = wts.accept();
  const client = await within(connectWebTransport(wts.url('/t'), { endpoint: clientEp, serverCertificateHashes: [{ algorithm: 'sha-256', value: wts.certificateHash as string }] }), 5_000, 'connect');
  const server = await within(accepted, 5_000, 'accept');
  assert.ok(server);
  return { client, server, close: async () => void (await Promise.all([clientEp.close(), wts.close()])) };
}

/** Waits a session has pending (incoming streams, datagrams), whatever its kind. */
function pendingWaits(s: Session): number {
  return s.kind === 'quic' ? s.state.pendingWaits : (s.transport as WtSession).pendingWaits;
}

/** Resolves with what `p` settled to, or 'pending' if it has not after `ms`. */
async function settled(p: Promise<unknown>, ms: number): Promise<'resolved' | 'rejected' | 'pending'> {
  return Promise.race([p.then(() => 'resolved' as const, () => 'rejected' as const), sleep(ms).then(() => 'pending' as const)]);
}

const KINDS: Array<[SessionKind, () => Promise<Pair>]> = [
  ['quic', quicPair],
  ['webtransport', webTransportPair],
];

for (const [kind, makePair] of KINDS) {
  describe(`one Session API: a ${kind} session (real UDP, loopback)`, function () {
    this.timeout(30_000);
    let p: Pair;
    beforeEach(async () => {
      p = await makePair();
    });
    afterEach(() => p.close());

    it('is a Session of its kind, with webTransport only on a WebTransport session', () => {
      for (const s of [p.client, p.server]) {
        assert.ok(s instanceof Session);
        assert.equal(Object.getPrototypeOf(s), Session.prototype, 'a Session, not a subclass');
        assert.equal(s.kind, kind);
        assert.match(s.remoteAddress ?? '', /^127\.0\.0\.1:\d+$/);
      }
      if (kind === 'webtransport') {
        const info = p.client.webTransport;
        assert.ok(info);
        assert.equal(info.draft, 'draft-07');
        assert.equal(info.request.path, '/t');
        assert.equal(p.server.webTransport?.sessionId, info.sessionId);
        assert.ok(info.connection instanceof Session && info.connection.kind === 'quic');
        assert.equal(p.client.alpn, 'h3');
        // The server's certificate is ECDSA: the peer has no endpoint id, and says so.
        assert.throws(() => p.client.remoteId, InvalidArgumentError);
      } else {
        assert.equal(p.client.webTransport, undefined);
        assert.equal(p.client.remoteId.toString(), p.serverId);
      }
    });

    it('carries streams both ways; abort and cancel codes reach the peer as StreamAbortedErrors', async () => {
      const st = await p.client.createBidirectionalStream();
      const w = st.writable.getWriter();
      await w.write(new TextEncoder().encode('hello'));
      const peer = await within(p.server.nextBidiStream(), 5_000, 'incoming bidi');
      assert.ok(peer);
      const pr = peer.readable.getReader();
      assert.equal(new TextDecoder().decode((await pr.read()).value), 'hello');
      const pw = peer.writable.getWriter();
      await pw.write(new TextEncoder().encode('back'));
      const cr = st.readable.getReader();
      assert.equal(new TextDecoder().decode((await cr.read()).value), 'back');
      // Our RESET_STREAM with 77: the peer's read fails with that code.
      await w.abort(77);
      await assert.rejects(within(pr.read(), 5_000, 'read of a reset stream'), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'reset' && e.code === 77);
      // Our STOP_SENDING with 55: the peer's writable fails with that code, even while idle.
      await cr.cancel(55);
      await assert.rejects(within(pw.closed, 5_000, 'stopped writable'), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'stopped' && e.code === 55);
      // A unidirectional stream, to the end.
      const u = await p.server.createUnidirectionalStream();
      const uw = u.getWriter();
      await uw.write(new Uint8Array([1, 2, 3]));
      await uw.close();
      const incoming = await within(p.client.nextUniStream(), 5_000, 'incoming uni');
      assert.deepEqual(await readAll(incoming!), new Uint8Array([1, 2, 3]));
    });

    it('backpressure: a reader that stops reading stops the writer, and the bytes all arrive once it reads', async () => {
      const st = await p.client.createBidirectionalStream();
      const w = st.writable.getWriter();
      const chunk = new Uint8Array(64 * 1024).fill(7);
      await w.write(chunk);
      const peer = await within(p.server.nextBidiStream(), 5_000, 'incoming bidi');
      assert.ok(peer);
      // Nobody reads on the peer: the writes stall once the windows are full (well before 16 MB).
      let written = chunk.length;
      let stuck: Promise<void> | undefined;
      while (written < 16 << 20) {
        const write = w.write(chunk);
        if ((await settled(write, 500)) === 'pending') {
          stuck = write;
          break;
        }
        written += chunk.length;
      }
      assert.ok(stuck, `the writer was never held back (${written} bytes written with nobody reading)`);
      // The peer reads: the stalled write completes and every byte arrives.
      const received = readAll(peer.readable);
      await within(stuck, 10_000, 'the stalled write');
      written += chunk.length;
      await w.close();
      assert.equal((await within(received, 10_000, 'read to the end')).length, written);
    });

    it('datagrams: both ways; too large is a DatagramError, a non-Uint8Array an InvalidArgumentError', async () => {
      const max = p.client.maxDatagramSize();
      assert.ok(max !== null && max > 1000, `maxDatagramSize ${max}`);
      assert.equal(p.client.datagrams.maxDatagramSize, max);
      await assert.rejects(p.client.sendDatagram(new Uint8Array(max + 1)), (e: unknown) => e instanceof DatagramError && e.kind === 'too-large' && /maxDatagramSize/.test(e.message));
      await assert.rejects(p.client.sendDatagram([1] as unknown as Uint8Array), InvalidArgumentError);
      let got: Uint8Array | null = null;
      for (let i = 0; i < 20 && !got; i++) {
        await p.client.sendDatagram(new Uint8Array(max).fill(i));
        got = await Promise.race([p.server.recvDatagram(), sleep(200).then(() => null)]);
      }
      assert.ok(got);
      assert.equal(got.length, max);
      const dw = p.server.datagrams.writable.getWriter();
      const dr = p.client.datagrams.readable.getReader();
      let back: Uint8Array | undefined;
      for (let i = 0; i < 20 && !back; i++) {
        await dw.write(new Uint8Array([9, 9]));
        back = await Promise.race([dr.read().then((r) => r.value), sleep(200).then(() => undefined)]);
      }
      assert.deepEqual(back, new Uint8Array([9, 9]));
    });

    it(`close codes: the range of a ${kind} session, an InvalidArgumentError beyond it`, async () => {
      const beyond = kind === 'quic' ? 1n << 62n : 2 ** 32;
      assert.throws(() => p.client.close({ closeCode: beyond }), (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(kind === 'quic' ? '[0, 2^62-1] for a QUIC session' : '[0, 2^32-1] for a WebTransport session'));
      assert.throws(() => p.client.close(-1), InvalidArgumentError);
      assert.equal(await settled(p.client.closed, 50), 'pending', 'a refused close closes nothing');
      const max = kind === 'quic' ? (1n << 62n) - 1n : 0xffffffff;
      p.client.close({ closeCode: max, reason: 'the largest code' });
      assert.deepEqual(await p.client.closed, { closeCode: max, reason: 'the largest code' });
      const seen = await within(p.server.closed, 5_000, "the peer's closed");
      assert.equal(BigInt(seen.closeCode), BigInt(max));
      assert.equal(seen.reason, 'the largest code');
    });

    it('close(): closed resolves at once, every wait ends, streams fail with kind closed, nothing new is accepted', async () => {
      const st = await p.client.createBidirectionalStream();
      const w = st.writable.getWriter();
      await w.write(new Uint8Array([1]));
      const peer = await within(p.server.nextBidiStream(), 5_000, 'incoming bidi');
      assert.ok(peer);
      const reader = st.readable.getReader();
      const pendingRead = reader.read();
      const waits = [p.client.nextBidiStream(), p.client.nextUniStream(), p.client.recvDatagram()];
      p.client.close({ closeCode: 3, reason: 'done' });
      assert.deepEqual(await p.client.closed, { closeCode: 3, reason: 'done' });
      assert.deepEqual(await Promise.all(waits), [null, null, null]);
      await assert.rejects(pendingRead, (e: unknown) => e instanceof StreamAbortedError && e.kind === 'closed');
      await assert.rejects(w.closed, (e: unknown) => e instanceof StreamAbortedError && e.kind === 'closed');
      await assert.rejects(p.client.createBidirectionalStream(), SessionClosedError);
      await assert.rejects(p.client.createUnidirectionalStream(), SessionClosedError);
      await assert.rejects(p.client.sendDatagram(new Uint8Array([1])), SessionClosedError);
      assert.equal(await p.client.nextBidiStream(), null);
      p.client.close({ closeCode: 4, reason: 'again' }); // a second close does nothing
      assert.deepEqual(await p.client.closed(), { closeCode: 3, reason: 'done' });
      assert.deepEqual(await within(p.server.closed, 5_000, "the peer's closed"), { closeCode: 3, reason: 'done' });
      // The peer's side of the stream fails too.
      await assert.rejects(within(readAll(peer.readable), 5_000, 'peer read'), StreamAbortedError);
    });

    it('an aborted wait rejects with the reason and leaves no waiter behind', async () => {
      const reason = new Error('given up');
      const ac = new AbortController();
      const waits = [p.client.nextBidiStream({ signal: ac.signal }), p.client.nextUniStream({ signal: ac.signal }), p.client.recvDatagram({ signal: ac.signal })];
      assert.equal(pendingWaits(p.client), 3);
      ac.abort(reason);
      for (const w of waits) await assert.rejects(w, (e: unknown) => e === reason);
      assert.equal(pendingWaits(p.client), 0);
      await assert.rejects(p.client.nextBidiStream({ signal: ac.signal }), (e: unknown) => e === reason);
      await assert.rejects(p.client.createBidirectionalStream({ signal: ac.signal }), (e: unknown) => e === reason);
      // Cancelling incomingBidirectionalStreams ends its wait: the next stream goes to nextBidiStream.
      const incoming = p.server.incomingBidirectionalStreams.getReader();
      const read = incoming.read();
      await incoming.cancel();
      assert.deepEqual(await read, { done: true, value: undefined });
      const st = await p.client.createBidirectionalStream();
      await st.writable.getWriter().write(new Uint8Array([5]));
      assert.ok(await within(p.server.nextBidiStream(), 5_000, 'next stream after a cancelled iterator'));
    });

    it("getStats() is the QUIC connection's counters; asyncDispose closes with code 0", async () => {
      const stats = p.client.getStats();
      assert.ok(stats.rtt.smoothed > 0, JSON.stringify(stats.rtt));
      assert.equal(typeof stats.datagrams.sent, 'number');
      await p.client[Symbol.asyncDispose]();
      assert.deepEqual(await p.client.closed, { closeCode: 0, reason: '' });
      assert.deepEqual(await within(p.server.closed, 5_000, "the peer's closed"), { closeCode: 0, reason: '' });
    });
  });
}
