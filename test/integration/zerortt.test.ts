import assert from 'node:assert/strict';
import { Session } from '../../src/session/session.js';
import { MemorySessionCache } from '../../src/session/session-cache.js';
import type { ResumptionTicket } from '../../src/tls/resumption.js';
import { DatagramError } from '../../src/quic/connection/datagram-error.js';
import { Loopback, echoBidi, readAll, target, within, writeAll } from './util.js';

/** A first session to `server` (so the cache holds its tickets), closed again. */
async function warm(net: Loopback, client: Awaited<ReturnType<Loopback['bind']>>, server: Awaited<ReturnType<Loopback['bind']>>): Promise<void> {
  const a = await net.connect(client, server);
  echoBidi(a.peer);
  const st = await a.s.createBidirectionalStream();
  await writeAll(st.writable, new Uint8Array([1]));
  await within(readAll(st.readable), 5_000, 'warm-up echo');
  a.s.close();
}

describe('0-RTT over loopback UDP (quic-peer <-> quic-peer)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  afterEach(() => net.close());

  it('connect({ earlyData }) returns before the handshake; the request rides the first flight and is answered', async () => {
    const server = await net.bind();
    const client = await net.bind({ acceptIncoming: false, sessionCache: new MemorySessionCache() });
    await warm(net, client, server);
    const accepted = Session.accept(server);
    const s = await Session.connect(client, target(server), { earlyData: true });
    let ready = false;
    void s.ready.then(() => (ready = true));
    const st = await s.createBidirectionalStream();
    assert.equal(ready, false, 'the stream is opened before the handshake completed');
    await writeAll(st.writable, new TextEncoder().encode('hello'));
    const peer = (await within(accepted, 5_000, 'accept'))!;
    echoBidi(peer);
    assert.equal(new TextDecoder().decode(await within(readAll(st.readable), 5_000, 'echo')), 'hello');
    await s.ready;
    assert.equal(s.resumed, true);
    assert.equal(s.earlyDataAccepted, true);
    assert.equal(peer.earlyDataAccepted, true);
  });

  it('a server with tickets.earlyData false refuses: the data is re-sent, a datagram sent early rejects', async () => {
    const server = await net.bind({ tickets: { earlyData: false } });
    const client = await net.bind({ acceptIncoming: false, sessionCache: new MemorySessionCache() });
    await warm(net, client, server);
    const accepted = Session.accept(server);
    const s = await Session.connect(client, target(server), { earlyData: true });
    // Tickets without early data: connect waited for the handshake.
    assert.equal(s.resumed, true);
    assert.equal(s.earlyDataAccepted, false);
    (await within(accepted, 5_000, 'accept'))!.close();
  });

  it('a ticket used twice (a client cache that replays it): the second early data is refused, its stream re-sent, its datagram rejected', async () => {
    const server = await net.bind();
    const cache = new ReplayingCache();
    const client = await net.bind({ acceptIncoming: false, sessionCache: cache });
    await warm(net, client, server);
    for (const expectAccepted of [true, false]) {
      const accepted = Session.accept(server);
      const s = await Session.connect(client, target(server), { earlyData: true });
      // Its outcome is taken at once: a refusal rejects it before the assertions below look.
      const sent = s.sendDatagram(new Uint8Array(10)).then(
        () => undefined,
        (e: unknown) => e,
      );
      const st = await s.createBidirectionalStream();
      await writeAll(st.writable, new TextEncoder().encode('again'));
      const peer = (await within(accepted, 5_000, 'accept'))!;
      echoBidi(peer);
      assert.equal(new TextDecoder().decode(await within(readAll(st.readable), 5_000, 'echo')), 'again');
      await s.ready;
      assert.equal(s.resumed, true);
      assert.equal(s.earlyDataAccepted, expectAccepted, s.state.conn.earlyData);
      const outcome = await sent;
      if (expectAccepted) assert.equal(outcome, undefined);
      else assert.ok(outcome instanceof DatagramError && outcome.kind === 'early-data-rejected', String(outcome));
      s.close();
    }
  });

  it('datagrams.writable in 0-RTT: a write refused with the early data resolves all the same and the stream stays writable (datagrams are unreliable)', async () => {
    const server = await net.bind();
    const cache = new ReplayingCache();
    const client = await net.bind({ acceptIncoming: false, sessionCache: cache });
    await warm(net, client, server);
    // The first use of the ticket is accepted; the replay below is refused.
    const firstPeer = Session.accept(server);
    const first = await Session.connect(client, target(server), { earlyData: true });
    await first.ready;
    assert.equal(first.earlyDataAccepted, true);
    (await within(firstPeer, 5_000, 'accept the first'))!.close();
    first.close();
    const accepted = Session.accept(server);
    const s = await Session.connect(client, target(server), { earlyData: true });
    const writer = s.datagrams.writable.getWriter();
    const early = writer.write(new Uint8Array([1]));
    const peer = (await within(accepted, 5_000, 'accept'))!;
    await s.ready;
    assert.equal(s.earlyDataAccepted, false);
    await within(early, 2_000, 'the refused early write resolves');
    await within(writer.write(new Uint8Array([2])), 2_000, 'the stream is still writable');
    assert.deepEqual(await within(peer.recvDatagram(), 2_000, 'the 1-RTT datagram'), new Uint8Array([2]));
    s.close();
  });
});

/** A session cache that hands out its first ticket again and again (what a replay looks like to the server). */
class ReplayingCache extends MemorySessionCache {
  private last: ResumptionTicket | undefined;

  override takeTicket(key: string, alpn: string): ResumptionTicket | undefined {
    this.last ??= super.takeTicket(key, alpn);
    return this.last;
  }
}
