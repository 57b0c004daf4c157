import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { InvalidArgumentError } from '../../src/session/errors.js';
import { StreamAbortedError } from '../../src/session/stream-adapter.js';
import { ReadLimitError, readAll, writeAll } from '../../src/session/stream-io.js';
import { SeededRandom } from '../../src/tls/random.js';
import { bytesEqual } from '../../src/codec/bytes.js';
import { generateCertificate } from '../../src/session/certificates.js';
import { RelayServer } from '../../src/relay/server.js';
import { InvalidRemoteError, decodeEndpointTicket, encodeEndpointTicket } from '../../src/session/addressing.js';
import { EndpointId, InvalidEndpointIdError } from '../../src/tls/identity.js';
import { FileSessionCache } from '../../src/session/session-cache.js';
import { Loopback, sleep, target, within } from './util.js';

/** Rejections that carry exactly this abort reason. */
const REASON = new Error('given up');
const isReason = (e: unknown): boolean => e === REASON;

/** An AbortController aborted with REASON after `ms`. */
function abortAfter(ms: number): AbortController {
  const ac = new AbortController();
  setTimeout(() => ac.abort(REASON), ms);
  return ac;
}

/** How many UDP sockets this process holds. */
function udpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
}

const invalid = (pattern: RegExp) => (e: unknown): boolean => e instanceof InvalidArgumentError && pattern.test(e.message);

/**
 * The session API's waits take an AbortSignal, incoming sessions are async-iterable, streams have
 * readAll / writeAll, and options are checked ([first-hour] item 8). Real UDP on loopback.
 */
describe('Session API: abortable waits, async iteration, readAll / writeAll, checked options (real UDP, loopback)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  let server: Endpoint;
  let client: Endpoint;
  beforeEach(async () => {
    server = await net.bind({ transport: { initialRttMs: 30 } });
    client = await net.bind({ acceptIncoming: false, transport: { initialRttMs: 30 } });
  });
  afterEach(() => net.close());

  describe('AbortSignal on every wait', () => {
    it('connect: an aborted dial rejects with the reason and leaves no connection; an aborted signal dials nothing', async () => {
      const silent = await net.bind({ acceptIncoming: false });
      const t0 = performance.now();
      await assert.rejects(Session.connect(client, `${server.id.toString()}@${silent.boundAddresses[0]}`, { signal: abortAfter(100).signal }), isReason);
      assert.ok(performance.now() - t0 < 1_000, 'rejected at the abort, not at the dial timeout');
      await sleep(50);
      assert.equal(client.sessionCount, 0, 'the abandoned attempt is gone');
      const pre = new AbortController();
      pre.abort(REASON);
      await assert.rejects(Session.connect(client, target(server), { signal: pre.signal }), isReason);
      assert.equal(client.sessionCount, 0);
      // A signal that never fires changes nothing.
      const s = await within(Session.connect(client, target(server), { signal: new AbortController().signal }), 5_000, 'connect');
      s.close();
    });

    it('createBidirectionalStream / createUnidirectionalStream blocked by the stream limit: abort rejects with the reason and leaves no waiter', async () => {
      const limited = await net.bind({ transport: { initialRttMs: 30, streams: { maxConcurrentBidiStreams: 1, maxConcurrentUniStreams: 1 } } });
      const { s, peer } = await net.connect(client, limited);
      const first = await s.createBidirectionalStream();
      const uni = await s.createUnidirectionalStream();
      await assert.rejects(s.createBidirectionalStream({ signal: abortAfter(50).signal }), isReason);
      await assert.rejects(s.createUniStream({ signal: abortAfter(50).signal }), isReason);
      assert.equal(s.state.pendingWaits, 0);
      // The limit frees up when the peer is done with the first streams: opening works again.
      const opening = s.createBidirectionalStream({ signal: new AbortController().signal });
      const sent = writeAll(first.writable, new Uint8Array([1]));
      const st = (await within(peer.nextBidiStream(), 2_000, 'accept'))!;
      await within(Promise.all([sent, writeAll(st.writable, new Uint8Array([2])), readAll(st.readable, 10), readAll(first.readable, 10)]), 2_000, 'first stream');
      await within(opening, 5_000, 'opening after the limit rose');
      void uni;
    });

    it('nextBidiStream / nextUniStream / recvDatagram: abort rejects with the reason; what arrives later goes to the next caller', async () => {
      const { s, peer } = await net.connect(client, server);
      await assert.rejects(peer.nextBidiStream({ signal: abortAfter(30).signal }), isReason);
      await assert.rejects(peer.nextUniStream({ signal: abortAfter(30).signal }), isReason);
      await assert.rejects(peer.recvDatagram({ signal: abortAfter(30).signal }), isReason);
      assert.equal(peer.state.pendingWaits, 0, 'no waiter left behind');
      const { writable } = await s.createBidirectionalStream();
      const w = writable.getWriter();
      await w.write(new Uint8Array([5]));
      await s.sendDatagram(new Uint8Array([6]));
      assert.ok(await within(peer.nextBidiStream(), 2_000, 'next stream'));
      assert.deepEqual(await within(peer.recvDatagram(), 2_000, 'next datagram'), new Uint8Array([6]));
    });

    it('cancelling incomingBidirectionalStreams ends its wait: the next stream still reaches nextBidiStream', async () => {
      const { s, peer } = await net.connect(client, server);
      const reader = peer.incomingBidirectionalStreams.getReader();
      const pending = reader.read();
      await sleep(20);
      await reader.cancel();
      await pending;
      assert.equal(peer.state.pendingWaits, 0);
      const { writable } = await s.createBidirectionalStream();
      await writable.getWriter().write(new Uint8Array([1]));
      assert.ok(await within(peer.nextBidiStream(), 2_000, 'the stream was not swallowed by the cancelled reader'));
    });
  });

  describe('for await (const session of endpoint)', () => {
    it('yields each incoming session in turn; leaving the loop leaves no accept waiting; the loop ends when the endpoint closes', async () => {
      const seen: string[] = [];
      const loop = (async () => {
        for await (const session of server) {
          seen.push(session.remoteId.toString());
          if (seen.length === 2) break;
        }
      })();
      const a = await Session.connect(client, target(server));
      const other = await net.bind({ acceptIncoming: false });
      const b = await Session.connect(other, target(server));
      await within(loop, 2_000, 'loop');
      assert.deepEqual(seen.sort(), [client.id.toString(), other.id.toString()].sort());
      // The loop left: a third session waits in the queue for the next accept.
      const c = await Session.connect(client, target(server));
      const third = await within(Session.accept(server), 2_000, 'accept after the loop');
      assert.ok(third?.remoteId.equals(client.id));
      // A loop waiting when the endpoint closes ends.
      const ending = (async () => {
        let n = 0;
        for await (const session of server) {
          n++;
          session.close();
        }
        return n;
      })();
      await sleep(20);
      await server.close();
      assert.equal(await within(ending, 2_000, 'loop end'), 0);
      void [a, b, c];
    });
  });

  describe('readAll / writeAll', () => {
    it('writeAll a message, readAll it on the other side; the echo comes back whole', async () => {
      const { s, peer } = await net.connect(client, server);
      void (async () => {
        for await (const st of peer.incomingBidirectionalStreams) void readAll(st.readable, 1 << 20).then((m) => writeAll(st.writable, m));
      })().catch(() => {});
      const data = new SeededRandom(9).fill(new Uint8Array(300_000));
      const st = await s.createBidirectionalStream();
      const [, echo] = await within(Promise.all([writeAll(st.writable, data), readAll(st.readable, data.length)]), 5_000, 'echo');
      assert.ok(bytesEqual(echo, data));
    });

    it('readAll over its limit rejects with ReadLimitError and stops the sender (STOP_SENDING)', async () => {
      const { s, peer } = await net.connect(client, server);
      const incoming = peer.nextBidiStream();
      const st = await s.createBidirectionalStream();
      const sending = writeAll(st.writable, new Uint8Array(50_000));
      const got = (await within(incoming, 2_000, 'accept'))!;
      await assert.rejects(readAll(got.readable, 1000), (e: unknown) => e instanceof ReadLimitError && e.limit === 1000 && /more than 1000 bytes/.test(e.message));
      await assert.rejects(within(sending, 5_000, 'sender'), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'stopped' && e.code === 0);
      await assert.rejects(readAll(got.readable, -1), invalid(/limit must be a non-negative integer/));
    });

    it('readAll and writeAll end with the signal: the reason, and the stream cancelled / reset', async () => {
      const small = await net.bind({ transport: { initialRttMs: 30, streams: { initialStreamWindow: 4096, maxStreamWindow: 4096 } } });
      const { s, peer } = await net.connect(client, small);
      const incoming = peer.nextBidiStream();
      const st = await s.createBidirectionalStream();
      // Nobody reads on the peer: the 4 KiB window stops the writer, which then aborts.
      const writing = writeAll(st.writable, new Uint8Array(2_000_000), { signal: abortAfter(100).signal });
      const got = (await within(incoming, 2_000, 'accept'))!;
      await assert.rejects(within(writing, 2_000, 'writeAll abort'), isReason);
      // The abort reset the stream at once, though a write was waiting for flow-control credit
      // (a WritableStream runs its sink's abort only after the write in flight settles).
      const sendPart = (): { resetCode: number | bigint | undefined } | null | undefined => s.state.conn.internals.streams.get(0)?.send;
      for (let i = 0; i < 50 && sendPart()?.resetCode === undefined; i++) await sleep(10);
      assert.equal(sendPart()?.resetCode, 0, 'RESET_STREAM with code 0');
      // The peer learns of the abort as a reset.
      await assert.rejects(within(readAll(got.readable, Infinity), 2_000, 'peer read'), (e: unknown) => e instanceof StreamAbortedError && e.kind === 'reset');
      await assert.rejects(within(readAll(st.readable, 10, { signal: abortAfter(50).signal }), 2_000, 'readAll abort'), isReason);
    });
  });

  describe('options are checked: InvalidArgumentError naming the option', () => {
    it('Endpoint.bind: unknown options, wrong types, transport options too; nothing stays bound', async () => {
      const before = udpSockets();
      const cases: Array<[unknown, RegExp]> = [
        [{ bogus: 1 }, /Endpoint\.bind options: unknown option 'bogus'/],
        ['127.0.0.1:0', /Endpoint\.bind options must be an object, got "127\.0\.0\.1:0"/],
        [{ bind: 5 }, /bind must be a list of strings/],
        [{ bind: ['127.0.0.1:0', 'nowhere'] }, /bind address nowhere/],
        [{ acceptIncoming: 'yes' }, /acceptIncoming must be a boolean/],
        [{ maxSessions: '10' }, /maxSessions must be an integer/],
        [{ retry: 'sometimes' }, /retry must be/],
        [{ keylog: 5 }, /keylog must be a file path or a function/],
        [{ qlogDir: 5 }, /qlogDir must be a string/],
        [{ secretKey: 5 }, /secretKey must be a Uint8Array or a hex string/],
        [{ dialTimeoutMs: '5' }, /dialTimeoutMs must be a positive number/],
        [{ transport: { bogus: 1 } }, /transport\.bogus: unknown option/],
        [{ transport: { streams: { bogus: 1 } } }, /transport\.streams\.bogus: unknown option/],
        [{ transport: { pacing: 'no' } }, /transport\.pacing: must be a boolean/],
        [{ transport: { maxIdleTimeoutMs: -1 } }, /transport\.maxIdleTimeoutMs: must be an integer/],
        [{ transport: 5 }, /transport must be a object|transport must be an object/],
      ];
      for (const [options, pattern] of cases) {
        await assert.rejects(Endpoint.bind(options as never), invalid(pattern), JSON.stringify(options));
      }
      assert.equal(udpSockets(), before, 'a rejected bind leaves no socket open');
    });

    it('connect, accept, stream and datagram waits, readAll / writeAll: unknown options and wrong types', async () => {
      const { s } = await net.connect(client, server);
      await assert.rejects(Session.connect(client, target(server), { bogus: 1 } as never), invalid(/Session\.connect options: unknown option 'bogus' \(known: directAddrs, relays, alpn, timeoutMs, signal, serverName, tls, earlyData\)/));
      await assert.rejects(Session.connect(client, target(server), { signal: 'soon' } as never), invalid(/signal must be an AbortSignal/));
      await assert.rejects(Session.connect(client, target(server), { earlyData: 'yes' } as never), invalid(/Session\.connect: earlyData must be a boolean/));
      await assert.rejects(Session.connect(client, target(server), { directAddrs: '1.2.3.4:5' } as never), invalid(/directAddrs must be a list of strings/));
      await assert.rejects(Session.connect(client, undefined as never), invalid(/Session\.connect: remote must be a string .* got undefined/));
      await assert.rejects(Session.connect(client, { id: 'abc', addrs: [] } as never), invalid(/remote must be .* got an object without/));
      await assert.rejects(Session.accept(server, { timeoutMs: 5 } as never), invalid(/Session\.accept options: unknown option 'timeoutMs'/));
      await assert.rejects(s.createBidirectionalStream({ sendOrder: 1 } as never), invalid(/createBidirectionalStream options: unknown option 'sendOrder'/));
      await assert.rejects(s.createUniStream({ signal: 5 } as never), invalid(/createUnidirectionalStream: signal must be an AbortSignal/));
      await assert.rejects(s.nextBidiStream('x' as never), invalid(/nextBidiStream options must be an object/));
      await assert.rejects(s.recvDatagram({ bogus: true } as never), invalid(/recvDatagram options: unknown option 'bogus'/));
      const st = await s.createBidirectionalStream();
      await assert.rejects(readAll(st.readable, 10, { bogus: 1 } as never), invalid(/readAll options: unknown option 'bogus'/));
      await assert.rejects(writeAll(st.writable, 'text' as never), invalid(/writeAll: data must be a Uint8Array/));
      assert.equal(client.sessionCount, 1, 'no rejected connect dialled');
    });

    it('a missing or wrong first argument is a typed error naming it, never a TypeError from inside', async () => {
      await assert.rejects(Session.connect(undefined as never, target(server)), invalid(/Session\.connect: endpoint must be an Endpoint \(or a SessionHost\), got undefined$/));
      await assert.rejects(Session.accept({} as never), invalid(/Session\.accept: endpoint must be an Endpoint \(or a SessionHost\), got an object$/));
      await assert.rejects(Session.accept(null as never), invalid(/Session\.accept: endpoint must be .* got null$/));
      await assert.rejects(generateCertificate(undefined as never), invalid(/generateCertificate: options must be an object/));
      await assert.rejects(RelayServer.listen(null as never), (e: Error) => e instanceof TypeError && /RelayServer\.listen: options must be an object, got null/.test(e.message));
      assert.throws(() => decodeEndpointTicket(undefined as never), (e: Error) => e instanceof InvalidRemoteError && /a ticket is a string, got undefined/.test(e.message));
      assert.throws(() => encodeEndpointTicket({ id: 'x', addrs: [] } as never), (e: Error) => e instanceof InvalidRemoteError && /takes an EndpointAddr/.test(e.message));
      assert.throws(() => EndpointId.parse(5 as never), (e: Error) => e instanceof InvalidEndpointIdError && /is a string, got number/.test(e.message));
      assert.throws(() => new FileSessionCache(undefined as never), invalid(/FileSessionCache: path must be a file path/));
    });
  });
});
