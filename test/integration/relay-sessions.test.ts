import assert from 'node:assert/strict';
import { RelayServer } from '../../src/relay/server.js';
import { encodeEndpointTicket } from '../../src/session/addressing.js';
import { Endpoint } from '../../src/session/endpoint.js';
import { ConnectError } from '../../src/session/errors.js';
import { Session } from '../../src/session/session.js';
import { SeededRandom } from '../../src/tls/random.js';
import { generateSecretKey, EndpointId } from '../../src/tls/identity.js';
import { Loopback, echoBidi, readAll, sleep, within, writeAll } from './util.js';

/**
 * quic-peer sessions through an iroh relay (our `RelayServer`, src/relay/) on loopback: a relay
 * is a path of the endpoint (src/session/relay-paths.ts). Tickets carry ONLY the relay URL, so
 * nothing but the relay can carry the session.
 */

async function closedTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** `ep`'s ticket without its socket addresses: only its home relay. */
function relayOnlyTicket(ep: Endpoint): string {
  const a = ep.addr();
  assert.ok((a.relays ?? []).length === 1, 'the endpoint has a home relay');
  return encodeEndpointTicket({ id: a.id, addrs: [], relays: a.relays ?? [] });
}

describe('sessions through an iroh relay (quic-peer relay server, loopback)', function () {
  this.timeout(60_000);
  const net = new Loopback();
  let relay: RelayServer;
  beforeEach(async () => {
    relay = await RelayServer.listen({ bind: '127.0.0.1:0' });
  });
  afterEach(async () => {
    await net.close();
    await relay.close();
  });

  it('a ticket with only the relay: handshake, 4 MB stream echo byte-exact, datagrams both ways, the close code', async () => {
    const server = await net.bind({ relays: [relay.url] });
    const client = await net.bind({ acceptIncoming: false });
    await within(server.online(), 5_000, 'online');
    assert.equal(server.homeRelay(), new URL(relay.url).href);
    assert.match(server.ticket(), /^endpoint/);
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, relayOnlyTicket(server)), 10_000, 'connect');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    assert.ok(s.remoteAddress?.startsWith('relay:'), `client's path: ${s.remoteAddress}`);
    assert.ok(peer.remoteAddress?.startsWith(`relay:${client.id.toString()}@`), `server's path: ${peer.remoteAddress}`);
    assert.equal(peer.remoteId.toString(), client.id.toString());
    // session.paths(): the relay path, selected.
    assert.deepEqual(s.paths().map((p) => [p.id, p.kind, p.remoteAddress, p.selected]), [[0, 'relay', s.remoteAddress, true]]);
    assert.deepEqual(peer.paths().map((p) => [p.id, p.kind, p.selected]), [[0, 'relay', true]]);
    echoBidi(peer);
    const data = new SeededRandom(13).fill(new Uint8Array(4 * 1024 * 1024));
    const st = await s.createBidirectionalStream();
    const [, back] = await Promise.all([writeAll(st.writable, data), within(readAll(st.readable), 30_000, 'echo')]);
    assert.equal(back.length, data.length);
    assert.ok(Buffer.from(back).equals(Buffer.from(data)), 'the echo is byte-exact');
    // Datagrams, both ways.
    const got = peer.recvDatagram();
    await s.sendDatagram(new TextEncoder().encode('to the server'));
    assert.equal(new TextDecoder().decode(await within(got, 5_000, 'datagram')), 'to the server');
    const got2 = s.recvDatagram();
    await peer.sendDatagram(new TextEncoder().encode('to the client'));
    assert.equal(new TextDecoder().decode(await within(got2, 5_000, 'datagram back')), 'to the client');
    s.close({ closeCode: 42, reason: 'bye via relay' });
    const closed = await within(peer.closed, 5_000, 'closed');
    assert.equal(closed.closeCode, 42);
    assert.equal(closed.reason, 'bye via relay');
  });

  it('a ticket with the relay and a direct address: one connection, on the path the server answered first', async () => {
    const server = await net.bind({ relays: [relay.url] });
    const client = await net.bind({ acceptIncoming: false });
    await server.online();
    // Both paths in one ticket: the first the server answers on wins.
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, server.ticket()), 10_000, 'connect');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    echoBidi(peer);
    const st = await s.createBidirectionalStream();
    const msg = new SeededRandom(5).fill(new Uint8Array(300_000));
    const [, back] = await Promise.all([writeAll(st.writable, msg), readAll(st.readable)]);
    assert.ok(Buffer.from(back).equals(Buffer.from(msg)));
    assert.equal(server.sessionCount, 1, 'one connection, not one per address');
  });

  it('a dial that starts while its relay is still connecting: the first flight is held and sent on connect, no retransmission needed', async () => {
    const server = await net.bind({ relays: [relay.url] });
    const client = await net.bind({ acceptIncoming: false });
    await server.online();
    // A dead direct address makes the dial start at once, with the relay client not yet connected.
    const dead = `127.0.0.1:${await closedTcpPort()}`;
    const ticket = encodeEndpointTicket({ id: server.id, addrs: [dead], relays: server.addr().relays ?? [] });
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, ticket), 10_000, 'connect');
    await within(accepted, 5_000, 'accept');
    assert.ok(s.remoteAddress?.startsWith('relay:'), s.remoteAddress);
    const st = s.getStats();
    assert.equal(st.packetsRetransmitted, 0, 'the first flight went through the relay as it connected');
    assert.equal(st.packetsLost, 0);
  });

  it('a relay that is down: the dial fails at once with a ConnectError naming the relay', async () => {
    const client = await net.bind({ acceptIncoming: false });
    const url = `http://127.0.0.1:${await closedTcpPort()}`;
    const id = EndpointId.fromSecretKey(generateSecretKey(new SeededRandom(3)));
    const t0 = performance.now();
    await assert.rejects(
      within(Session.connect(client, encodeEndpointTicket({ id, addrs: [], relays: [url] }), { timeoutMs: 8_000 }), 10_000, 'dial'),
      (e: unknown) => {
        assert.ok(e instanceof ConnectError, String(e));
        assert.equal(e.kind, 'unreachable');
        assert.ok(e.message.includes(`relay ${new URL(url).href}`), e.message);
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 7_000, 'failed before the dial timeout');
  });

  it('a peer that is not connected to the relay: EndpointGone fails the dial at once, naming the peer and the relay', async () => {
    const client = await net.bind({ acceptIncoming: false });
    const id = EndpointId.fromSecretKey(generateSecretKey(new SeededRandom(4)));
    const t0 = performance.now();
    await assert.rejects(
      within(Session.connect(client, encodeEndpointTicket({ id, addrs: [], relays: [relay.url] }), { timeoutMs: 8_000 }), 10_000, 'dial'),
      (e: unknown) => {
        assert.ok(e instanceof ConnectError, String(e));
        assert.equal(e.kind, 'unreachable');
        assert.match(e.message, /is not connected to relay .*EndpointGone/);
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 5_000, 'failed before the dial timeout');
  });

  it('the relay restarts during a transfer: the relay clients reconnect and the transfer completes byte-exact', async () => {
    const port = Number(new URL(relay.url).port);
    const server = await net.bind({ relays: [relay.url] });
    const client = await net.bind({ acceptIncoming: false, transport: { maxIdleTimeoutMs: 30_000 } });
    await server.online();
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, relayOnlyTicket(server)), 10_000, 'connect');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    echoBidi(peer);
    const data = new SeededRandom(21).fill(new Uint8Array(3 * 1024 * 1024));
    const st = await s.createBidirectionalStream();
    const echoed = within(readAll(st.readable), 45_000, 'echo across the restart');
    const written = writeAll(st.writable, data, 16 * 1024);
    await sleep(150);
    await relay.close();
    await sleep(300);
    relay = await RelayServer.listen({ bind: `127.0.0.1:${port}` });
    await within(server.online(), 15_000, 'server back online');
    await written;
    const back = await echoed;
    assert.ok(Buffer.from(back).equals(Buffer.from(data)), 'byte-exact across the restart');
  });

  it('Endpoint.bind refuses a relay URL that is not one, naming the option', async () => {
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', relays: ['ftp://x'] }), /relays: .*scheme must be http, https, ws or wss/);
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', relays: ['not a url'] }), /relays: .*is not a URL/);
  });
});
