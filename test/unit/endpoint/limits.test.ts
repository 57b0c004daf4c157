import assert from 'node:assert/strict';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { Connection } from '../../../src/quic/connection/connection.js';
import { EndpointError, type ConnectionHandle, type EndpointCore } from '../../../src/quic/endpoint/endpoint-core.js';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { StreamReceiver, StreamSender } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { Identities, Net } from './net.js';
import { buildInitial, buildShort, closeReason, header, incoming, payload } from './helpers.js';

const S = '10.0.0.1:443';
const clientAddr = (i: number): string => `10.0.1.${i}:${5000 + i}`;

/** Opens `n` client endpoints at once, one connection each. */
function clients(net: Net, ids: Identities, n: number): Array<{ addr: string; ep: EndpointCore; handle: ConnectionHandle; connection: Connection }> {
  return Array.from({ length: n }, (_, i) => {
    const addr = clientAddr(i + 1);
    const ep = net.add(addr, ids.client());
    return { addr, ep, ...ep.connect(net.now, S, { tls: ids.clientTls() }) };
  });
}

describe('endpoint core: limits, floods and closing', () => {
  it('connection limit: the client over it is refused with CONNECTION_REFUSED', () => {
    const ids = new Identities(31);
    const net = new Net(31);
    const server = net.add(S, ids.server({ maxConnections: 2 }));
    const cs = clients(net, ids, 3);
    net.drive(() => cs.every((c) => c.connection.isConnected || c.connection.isClosed));
    const refused = cs.filter((c) => c.connection.isClosed);
    assert.equal(refused.length, 1);
    const r = closeReason(net, refused[0]!.addr, refused[0]!.handle);
    assert.equal(r?.kind, 'transport');
    assert.equal(r?.code, TransportErrorCode.CONNECTION_REFUSED);
    assert.equal(r?.remote, true);
    assert.equal(server.connectionCount, 2);
    assert.equal(server.stats.connectionsRefused, 1);
  });

  it('handshake limit with Retry under load: never more handshakes in flight than the limit', () => {
    const ids = new Identities(32);
    const net = new Net(32);
    const server = net.add(S, ids.server({ maxHandshakes: 3, retry: 'underLoad', retryThreshold: 2 }));
    let most = 0;
    net.onStep.push(() => (most = Math.max(most, server.handshakesInFlight)));
    const cs = clients(net, ids, 8);
    net.drive(() => {
      most = Math.max(most, server.handshakesInFlight);
      return cs.every((c) => c.connection.isConnected || c.connection.isClosed);
    });
    assert.ok(most <= 3, `at most 3 handshakes in flight, saw ${most}`);
    // The first two arrive below the threshold and get no Retry; the other six do. Of those,
    // the ones that come back while three handshakes are in flight are refused.
    assert.equal(server.stats.retriesSent, 6);
    const connected = cs.filter((c) => c.connection.isConnected);
    const refused = cs.filter((c) => c.connection.isClosed);
    assert.equal(connected.length + refused.length, 8);
    assert.ok(connected.length >= 3);
    for (const c of refused) assert.equal(closeReason(net, c.addr, c.handle)?.code, TransportErrorCode.CONNECTION_REFUSED);
    assert.equal(server.stats.connectionsRefused, refused.length);
    for (const i of incoming(net, S).slice(2)) assert.equal(i.connection.internals.paths.current.validated, true, 'after a Retry the address is validated');
  });

  it("retry 'underLoad' below the threshold sends no Retry", () => {
    const ids = new Identities(33);
    const net = new Net(33);
    const server = net.add(S, ids.server({ retry: 'underLoad', retryThreshold: 4 }));
    const cs = clients(net, ids, 3);
    net.drive(() => cs.every((c) => c.connection.isConnected));
    assert.equal(server.stats.retriesSent, 0);
  });

  it('a flood of 1,000 garbage datagrams and 200 fresh Initials does not stop an established transfer, and the limits hold', () => {
    const seed = testSeed(34);
    const ids = new Identities(seed);
    const net = new Net(seed);
    const server = net.add(S, ids.server({ maxHandshakes: 16 }));
    const [c] = clients(net, ids, 1);
    net.drive(() => c!.connection.isConnected);
    const sc = incoming(net, S)[0]!.connection;
    const data = payload(400_000);
    const tx = new StreamSender(c!.connection, data);
    const rx = new StreamReceiver(() => sc);

    // 200 attackers with genuine Initials from their own addresses (replies go nowhere).
    const rng = new SeededRandom(seed + 1);
    const initials: Array<[string, Uint8Array]> = [];
    for (let i = 0; i < 200; i++) {
      const a = new Connection({ role: 'client', random: new SeededRandom(rng.nextU32()), resetToken: () => new Uint8Array(16), tls: ids.clientTls() }, net.now);
      const buf = new Uint8Array(1500);
      initials.push([`172.16.${i >> 8}.${i & 255}:4000`, buf.slice(0, a.pollTransmit(net.now, buf))]);
    }
    // 1,000 garbage datagrams: random bytes, some shaped like short or long headers.
    const garbage: Array<[string, Uint8Array]> = [];
    for (let i = 0; i < 1000; i++) {
      const g = rng.fill(new Uint8Array(1 + rng.int(1400)));
      if (i % 4 === 1) g[0] = 0x40 | (g[0]! & 0x3f);
      if (i % 4 === 2 && g.length > 5) g.set([0xc0, 0, 0, 0, 1], 0);
      garbage.push([`192.168.${i >> 8}.${i & 255}:${1000 + i}`, g]);
    }
    let mostHandshakes = 0;
    let mostConnections = 0;
    net.onStep.push(() => {
      tx.pump();
      rx.pump();
      for (let k = 0; k < 40 && garbage.length > 0; k++) {
        const [from, bytes] = garbage.pop()!;
        net.inject(from, S, bytes);
      }
      for (let k = 0; k < 10 && initials.length > 0; k++) {
        const [from, bytes] = initials.pop()!;
        net.inject(from, S, bytes);
      }
      mostHandshakes = Math.max(mostHandshakes, server.handshakesInFlight);
      mostConnections = Math.max(mostConnections, server.connectionCount);
    });
    net.drive(() => rx.streams.get(tx.id)?.ended === true && garbage.length === 0 && initials.length === 0);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    assert.equal(c!.connection.closeInfo, undefined, 'the established connection is untouched');
    assert.ok(mostHandshakes <= 16, `handshakes in flight ${mostHandshakes}`);
    assert.ok(mostConnections <= 17, `connections ${mostConnections}`);
    const st = server.stats;
    assert.equal(st.internalErrors, 0);
    assert.ok(st.connectionsAccepted - 1 <= 200);
    assert.ok(st.connectionsAccepted >= 16 + 1, 'the handshake slots were used');
    assert.ok(st.connectionsRefused > 0);
    assert.ok(st.droppedMalformed + st.droppedUnroutable + st.droppedInitials + st.droppedUnauthenticated + st.statelessResetsSent + st.statelessResetsRateLimited + st.versionNegotiationsSent >= 900);
    // The attackers' handshakes time out and are removed.
    net.settle(60_000);
    assert.equal(server.handshakesInFlight, 0);
  });

  it('property: random and mutated datagrams never throw and never leave a handshake behind (seeded)', () => {
    const seed = testSeed(35);
    const ids = new Identities(seed);
    const server = ids.server({ retry: 'underLoad', retryThreshold: 1 });
    const client = ids.client();
    const rng = new SeededRandom(seed);
    const base = buildInitial(rng.fill(new Uint8Array(8)), rng.fill(new Uint8Array(8)), 1200);
    const out = new Uint8Array(1500);
    for (let i = 0; i < 3000; i++) {
      let d: Uint8Array;
      switch (i % 3) {
        case 0:
          d = rng.fill(new Uint8Array(rng.int(1500)));
          break;
        case 1:
          d = base.slice(0, 1 + rng.int(base.length));
          d[rng.int(d.length)]! ^= 1 + rng.int(255);
          break;
        default:
          d = buildShort(rng.fill(new Uint8Array(8)), rng.int(100), i);
      }
      for (const ep of [server, client]) {
        ep.handleDatagram(i, `10.9.${i >> 8}.${i & 255}:1`, d.slice());
        while (ep.pollTransmit(i, out)) {
          /* drain */
        }
        while (ep.pollEvent()) {
          /* drain */
        }
      }
    }
    assert.equal(server.stats.internalErrors, 0);
    assert.equal(client.stats.internalErrors, 0);
    assert.equal(server.connectionCount, 0, 'nothing authenticated, nothing kept');
    assert.equal(client.connectionCount, 0);
    assert.equal(header(base).kind, 'long');
  });

  it('endpoint close: every connection closes with the application code, then one closed event', () => {
    const ids = new Identities(36);
    const net = new Net(36);
    const server = net.add(S, ids.server());
    const cs = clients(net, ids, 2);
    net.drive(() => cs.every((c) => c.connection.isConnected) && incoming(net, S).every((i) => i.connection.isConnected));
    server.close(net.now, 7, 'shutting down');
    assert.equal(server.isAccepting, false);
    net.drive(() => server.isClosed && cs.every((c) => c.ep.connectionCount === 0));
    for (const c of cs) {
      const r = closeReason(net, c.addr, c.handle);
      assert.equal(r?.kind, 'application');
      assert.equal(r?.code, 7);
      assert.equal(r?.reason, 'shutting down');
      assert.equal(r?.remote, true);
    }
    const evs = net.eventsOf(S);
    assert.equal(evs.filter((e) => e.type === 'closed').length, 1);
    assert.equal(evs.at(-1)?.type, 'closed');
    assert.equal(evs.filter((e) => e.type === 'connection' && e.event.type === 'terminated').length, 2);
    assert.equal(server.connectionCount, 0);
    assert.throws(() => server.connect(net.now, clientAddr(1), { tls: ids.clientTls() }), EndpointError);
    server.handleDatagram(net.now, clientAddr(9), buildInitial(new Uint8Array(8).fill(1), new Uint8Array(8).fill(2), 1200));
    assert.equal(server.pollTransmit(net.now, new Uint8Array(1500)), null, 'a closed endpoint is silent');
  });

  it('an endpoint with no connections closes at once', () => {
    const ids = new Identities(37);
    const ep = ids.server();
    ep.close(0);
    assert.deepEqual(ep.pollEvent(), { type: 'closed' });
    assert.equal(ep.isClosed, true);
  });
});
