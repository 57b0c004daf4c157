import assert from 'node:assert/strict';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { ConfigError } from '../../../src/quic/transport-config.js';
import { EndpointCore, EndpointError } from '../../../src/quic/endpoint/endpoint-core.js';
import { encodeVersionNegotiation } from '../../../src/quic/packet/version-negotiation.js';
import { QUIC_VERSION_1, isReservedVersion } from '../../../src/quic/packet/version.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { StreamReceiver, StreamSender } from '../../harness/apps.js';
import { Identities, Net } from './net.js';
import { buildInitial, buildUnknownVersion, closeReason, connEvents, header, incoming, payload } from './helpers.js';

const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';
const C2 = '10.0.0.3:6000';

describe('endpoint core: connections, routing, version negotiation', () => {
  it('a client endpoint connects to a server endpoint and both exchange stream data', () => {
    const ids = new Identities(1);
    const net = new Net(1);
    const server = net.add(S, ids.server());
    const client = net.add(C, ids.client());
    const { handle, connection } = client.connect(net.now, S, { tls: ids.clientTls() });
    assert.equal(client.connection(handle), connection);
    net.drive(() => connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    const inc = incoming(net, S);
    assert.equal(inc.length, 1);
    assert.equal(inc[0]!.remoteAddress, C);
    const sc = inc[0]!.connection;
    assert.equal(server.remoteAddress(inc[0]!.handle), C);
    assert.equal(server.handshakesInFlight, 0);

    const up = payload(200_000, 1);
    const down = payload(100_000, 2);
    const tx = new StreamSender(connection, up);
    const rx = new StreamReceiver(() => sc);
    const tx2 = new StreamSender(sc, down);
    const rx2 = new StreamReceiver(() => connection);
    net.onStep.push(() => [tx, rx, tx2, rx2].forEach((a) => a.pump()));
    net.drive(() => rx.streams.get(tx.id)?.ended === true && rx2.streams.get(tx2.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), up));
    assert.ok(bytesEqual(rx2.data(tx2.id), down));
    // (With QUIC Address Discovery, offered with multipath's NAT traversal by default, the server's
    // report of our address comes as an 'observedAddress' event in between.)
    const types = connEvents(net, C, handle).map((e) => e.type).filter((t) => t !== 'observedAddress');
    assert.deepEqual(types.slice(0, 2), ['connected', 'handshakeConfirmed']);
    for (const ep of [server, client]) assert.equal(ep.stats.internalErrors, 0);
  });

  it("dials with the same frozen transport options share one resolved configuration; other options get their own, over the endpoint's", () => {
    const ids = new Identities(1);
    const net = new Net(1);
    net.add(S, ids.server());
    const client = net.add(C, ids.client({ transport: { maxIdleTimeoutMs: 7_000 } }));
    const frozen = Object.freeze({ handshakeTimeoutMs: 4_000 });
    const a = client.connect(net.now, S, { tls: ids.clientTls(), transport: frozen }).connection.internals.config;
    const b = client.connect(net.now, S, { tls: ids.clientTls(), transport: frozen }).connection.internals.config;
    assert.equal(a, b, 'one configuration for the frozen options');
    assert.equal(a.handshakeTimeoutMs, 4_000);
    assert.equal(a.maxIdleTimeoutMs, 7_000, "the endpoint's options under the dial's");
    const open = { handshakeTimeoutMs: 5_000 };
    const c = client.connect(net.now, S, { tls: ids.clientTls(), transport: open }).connection.internals.config;
    open.handshakeTimeoutMs = 6_000; // not frozen: a caller may change it; the next dial sees the change
    const d = client.connect(net.now, S, { tls: ids.clientTls(), transport: open }).connection.internals.config;
    assert.deepEqual([c.handshakeTimeoutMs, d.handshakeTimeoutMs], [5_000, 6_000]);
    assert.notEqual(c, a);
  });

  it('a connection that ends leaves no route behind: its connection ids of path 0 and, with multipath, of path ids >= 1', () => {
    for (const multipath of [false, true]) {
      const ids = new Identities(11);
      const net = new Net(11);
      const server = net.add(S, ids.server({ transport: { multipath } }));
      const client = net.add(C, ids.client({ transport: { multipath } }));
      const { connection } = client.connect(net.now, S, { tls: ids.clientTls() });
      net.drive(() => connection.handshakeConfirmed && incoming(net, S)[0]?.connection.isConnected === true);
      net.runFor(200);
      const sc = incoming(net, S)[0]!.connection;
      const routed = sc.activeLocalCids().length;
      assert.ok(routed >= (multipath ? 3 : 2), `the server's connection ids are routed (${routed})`);
      assert.equal(server.routeCount, routed);
      assert.ok(client.routeCount > 0);
      connection.close(net.now, 0, 'bye');
      net.runFor(5_000);
      assert.equal(server.connectionCount, 0);
      assert.equal(client.connectionCount, 0);
      assert.equal(server.routeCount, 0, `server, multipath ${multipath}`);
      assert.equal(client.routeCount, 0, `client, multipath ${multipath}`);
    }
  });

  it('two clients to one server: two connections, each stream reaches its own', () => {
    const ids = new Identities(2);
    const net = new Net(2);
    const server = net.add(S, ids.server());
    const a = net.add(C, ids.client()).connect(0, S, { tls: ids.clientTls() });
    const b = net.add(C2, ids.client()).connect(0, S, { tls: ids.clientTls() });
    net.drive(() => a.connection.isConnected && b.connection.isConnected);
    const inc = incoming(net, S);
    assert.equal(inc.length, 2);
    assert.equal(server.connectionCount, 2);
    assert.notEqual(inc[0]!.handle, inc[1]!.handle);
    const byAddr = new Map(inc.map((i) => [i.remoteAddress, i.connection]));
    const da = payload(50_000, 3);
    const db = payload(70_000, 4);
    const ta = new StreamSender(a.connection, da);
    const tb = new StreamSender(b.connection, db);
    const ra = new StreamReceiver(() => byAddr.get(C));
    const rb = new StreamReceiver(() => byAddr.get(C2));
    net.onStep.push(() => [ta, tb, ra, rb].forEach((x) => x.pump()));
    net.drive(() => ra.streams.get(ta.id)?.ended === true && rb.streams.get(tb.id)?.ended === true);
    assert.ok(bytesEqual(ra.data(ta.id), da));
    assert.ok(bytesEqual(rb.data(tb.id), db));
  });

  for (const secondFirst of [false, true]) {
    it(`duplicated Initials (twice, and from a second address${secondFirst ? ', which arrives first' : ''}) create exactly one server connection`, () => {
      const ids = new Identities(3);
      const net = new Net(3);
      const server = net.add(S, ids.server());
      const client = net.add(C, ids.client());
      let copied = false;
      net.tap = (d) => {
        if (d.from === C && !copied) {
          copied = true;
          // iroh sends the same Initial to several addresses of ours; links deliver in creation order.
          if (secondFirst) net.inject(C2, S, d.bytes.slice());
          net.inject(C, S, d.bytes.slice());
          net.inject(C, S, d.bytes.slice());
          if (!secondFirst) net.inject(C2, S, d.bytes.slice());
          return null;
        }
        return [d.bytes];
      };
      const { connection } = client.connect(0, S, { tls: ids.clientTls() });
      net.drive(() => connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
      assert.ok(copied);
      assert.equal(incoming(net, S).length, 1);
      assert.equal(incoming(net, S)[0]!.remoteAddress, secondFirst ? C2 : C, 'created by the first copy to arrive');
      assert.equal(server.stats.connectionsAccepted, 1);
      assert.equal(server.connectionCount, 1);
      // A duplicate never moves the address; the client's next new packet brings it back to C.
      assert.equal(server.remoteAddress(incoming(net, S)[0]!.handle), C);
      assert.equal(net.sent.filter((d) => d.to === C2).length, secondFirst ? 1 : 0, 'only the first flight went to C2');
    });
  }

  it('follows the client to its new address after a NAT rebinding (path validation: test/unit/endpoint/migration.test.ts)', () => {
    const ids = new Identities(4);
    const net = new Net(4);
    const server = net.add(S, ids.server());
    const client = net.add(C, ids.client());
    const { connection } = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    const h = incoming(net, S)[0]!.handle;
    // From now on the client's datagrams appear to come from C2 (its NAT rebound); the server's
    // answers to C2 reach the client.
    net.tap = (d) => {
      if (d.from === C) net.inject(C2, S, d.bytes.slice());
      else if (d.to === C2) net.inject(S, C, d.bytes.slice());
      return d.from === C || d.to === C2 ? null : [d.bytes];
    };
    connection.ping();
    net.drive(() => server.remoteAddress(h) === C2);
    const data = payload(20_000, 9);
    const tx = new StreamSender(connection, data);
    const rx = new StreamReceiver(() => server.connection(h));
    net.onStep.push(() => [tx, rx].forEach((x) => x.pump()));
    net.drive(() => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
  });

  it('drops an Initial in a datagram under 1200 bytes; the same at 1200 bytes starts a connection', () => {
    const ids = new Identities(5);
    const server = ids.server();
    const dcid = new SeededRandom(1).fill(new Uint8Array(8));
    const scid = new SeededRandom(2).fill(new Uint8Array(8));
    const out = new Uint8Array(1500);
    server.handleDatagram(0, C, buildInitial(dcid, scid, 1199));
    assert.equal(server.pollTransmit(0, out), null);
    assert.equal(server.pollEvent(), undefined);
    assert.equal(server.stats.droppedInitials, 1);
    assert.equal(server.connectionCount, 0);
    server.handleDatagram(0, C, buildInitial(dcid, scid, 1200));
    assert.equal(server.pollEvent()?.type, 'incoming');
    assert.equal(server.connectionCount, 1);
    // A short DCID (RFC 9000 §7.2: at least 8 bytes) is dropped too.
    server.handleDatagram(0, C2, buildInitial(new Uint8Array(7).fill(1), scid, 1200));
    assert.equal(server.stats.droppedInitials, 2);
    assert.equal(server.connectionCount, 1);
  });

  it('an Initial-shaped datagram that does not open leaves no connection behind', () => {
    const ids = new Identities(6);
    const server = ids.server();
    const d = buildInitial(new Uint8Array(8).fill(3), new Uint8Array(8).fill(4), 1200);
    d[600]! ^= 1;
    server.handleDatagram(0, C, d);
    assert.equal(server.connectionCount, 0);
    assert.equal(server.handshakesInFlight, 0);
    assert.equal(server.pollEvent(), undefined);
    assert.equal(server.stats.droppedUnauthenticated, 1);
  });

  it('a client-only endpoint neither accepts nor answers Initials or unknown versions', () => {
    const ids = new Identities(7);
    const client = ids.client();
    client.handleDatagram(0, C, buildInitial(new Uint8Array(8).fill(1), new Uint8Array(8).fill(2), 1200));
    client.handleDatagram(0, C, buildUnknownVersion(0x1a2a3a4b, new Uint8Array(8), new Uint8Array(8), 1200));
    assert.equal(client.connectionCount, 0);
    assert.equal(client.pollTransmit(0, new Uint8Array(1500)), null);
    assert.equal(client.stats.droppedUnroutable, 2);
  });

  it('an unknown version gets exactly one Version Negotiation listing v1 and a reserved version; never for < 1200 bytes or for VN', () => {
    const ids = new Identities(8);
    const server = ids.server();
    const dcid = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const scid = new Uint8Array([10, 11, 12]);
    const out = new Uint8Array(1500);
    server.handleDatagram(0, C, buildUnknownVersion(0xff00001d, dcid, scid, 1200));
    const t = server.pollTransmit(0, out);
    assert.ok(t);
    assert.equal(t.address, C);
    assert.equal(server.pollTransmit(0, out), null, 'exactly one');
    const vn = header(out.subarray(0, t.length));
    assert.equal(vn.kind, 'versionNegotiation');
    if (vn.kind !== 'versionNegotiation') return;
    assert.deepEqual(vn.dcid, scid, 'DCID = the client SCID');
    assert.deepEqual(vn.scid, dcid, 'SCID = the client DCID');
    assert.equal(vn.versions.length, 2);
    assert.equal(vn.versions[0], QUIC_VERSION_1);
    assert.ok(isReservedVersion(vn.versions[1]!));
    assert.equal(server.stats.versionNegotiationsSent, 1);

    server.handleDatagram(0, C, buildUnknownVersion(0xff00001d, dcid, scid, 1199));
    const bigVn = encodeVersionNegotiation({ dcid, scid, versions: Array.from({ length: 300 }, (_, i) => 0xff000000 + i) });
    assert.ok(bigVn.length >= 1200);
    server.handleDatagram(0, C, bigVn);
    assert.equal(server.pollTransmit(0, out), null);
    assert.equal(server.stats.versionNegotiationsSent, 1);
    assert.equal(server.connectionCount, 0);
  });

  it("a client ignores a VN listing its version (RFC 9000 §6.2) and closes with 'versionMismatch' on one that does not", () => {
    const ids = new Identities(9);
    const net = new Net(9);
    const server = net.add(S, ids.server());
    const client = net.add(C, ids.client());
    let first: Uint8Array | undefined;
    net.tap = (d) => {
      if (d.from !== C) return [d.bytes];
      if (first) return null; // the client's retransmissions go nowhere
      first = d.bytes.slice();
      const v = d.bytes.slice();
      v.set([0xff, 0x00, 0x00, 0x1d], 1); // as if the client spoke another version
      return [v];
    };
    const { handle, connection } = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => net.sent.some((d) => d.from === S));
    net.step();
    assert.equal(server.stats.versionNegotiationsSent, 1);
    assert.equal(server.connectionCount, 0);
    assert.ok(!connection.isClosed, 'a VN listing v1 is discarded by a v1 client');

    const h = header(first!);
    assert.equal(h.kind, 'long');
    if (h.kind !== 'long') return;
    net.inject(S, C, encodeVersionNegotiation({ dcid: h.scid, scid: h.dcid, versions: [0x1a2a3a4a, 0xff00001d] }));
    net.drive(() => client.connectionCount === 0);
    assert.equal(closeReason(net, C, handle)?.kind, 'versionMismatch');
    assert.equal(connEvents(net, C, handle).at(-1)?.type, 'terminated');
    assert.equal(client.connection(handle), undefined, 'the handle is gone');
  });

  it('rejects bad configuration with a ConfigError naming the field', () => {
    const ids = new Identities(10);
    assert.throws(() => ids.server({ localCidLength: 2 }), (e: unknown) => e instanceof ConfigError && e.field === 'localCidLength');
    assert.throws(() => ids.server({ transport: { localCidLength: 12 } }), (e: unknown) => e instanceof ConfigError && e.field === 'transport.localCidLength');
    assert.throws(() => ids.server({ transport: { maxAckDelayMs: -1 } }), (e: unknown) => e instanceof ConfigError && e.field === 'maxAckDelayMs');
    assert.throws(() => new EndpointCore({ staticKey: new Uint8Array(8), random: new SeededRandom(1) }), ConfigError);
    assert.throws(() => ids.server({ maxHandshakes: 0 }), ConfigError);
    assert.throws(() => ids.server({ retry: 'sometimes' as 'never' }), ConfigError);
    // A misspelt transport option is named, not ignored; so are wrong types the core used to miss.
    assert.throws(() => ids.server({ transport: { idleTimeoutMs: 5 } as never }), (e: unknown) => e instanceof ConfigError && e.field === 'idleTimeoutMs' && /unknown option/.test(e.message));
    assert.throws(() => ids.server({ transport: { streams: { window: 5 } } as never }), (e: unknown) => e instanceof ConfigError && e.field === 'streams.window');
    assert.throws(() => ids.server({ transport: { mtuDiscovery: 'no' } as never }), (e: unknown) => e instanceof ConfigError && e.field === 'mtuDiscovery');
    assert.throws(() => ids.server({ transport: { cipherSuites: ['TLS_AES_128_GCM_SHA256'] } as never }), (e: unknown) => e instanceof ConfigError && e.field === 'cipherSuites');
    const c = ids.client({ maxConnections: 1 });
    c.connect(0, S, { tls: ids.clientTls() });
    assert.throws(() => c.connect(0, S, { tls: ids.clientTls() }), EndpointError);
  });
});
