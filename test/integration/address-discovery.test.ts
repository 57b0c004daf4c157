import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { Session } from '../../src/session/session.js';
import { Endpoint } from '../../src/session/endpoint.js';
import { InvalidArgumentError } from '../../src/session/errors.js';
import { QadServer, type QadServerOptions } from '../../src/session/qad-server.js';
import { generateCertificate, type GeneratedCertificate } from '../../src/session/certificates.js';
import { RelayServer } from '../../src/relay/server.js';
import { Loopback, boundUdp4, connOf, sleep, target, until, within } from './util.js';

/**
 * QUIC Address Discovery over real UDP on loopback: a client behind a UDP forwarder (a NAT: the
 * server sees the forwarder's outbound socket, not the client's) learns that address from the
 * server's OBSERVED_ADDRESS, and its endpoint offers it as a NAT traversal candidate to every
 * connection.
 */
class Nat {
  private front!: Socket;
  private out!: Socket;
  private client: { address: string; port: number } | undefined;

  static async start(server: string): Promise<Nat> {
    const i = server.lastIndexOf(':');
    const host = server.slice(0, i);
    const port = Number(server.slice(i + 1));
    const n = new Nat();
    n.front = await boundUdp4((msg, from) => {
      n.client = from;
      n.out.send(msg, port, host);
    });
    n.out = await boundUdp4((msg) => {
      if (n.client) n.front.send(msg, n.client.port, n.client.address);
    });
    return n;
  }

  /** Where the client sends (the server's address behind the NAT). */
  get inside(): string {
    return `127.0.0.1:${this.front.address().port}`;
  }

  /** The address the server sees the client at (the NAT's mapping). */
  get mapped(): string {
    return `127.0.0.1:${this.out.address().port}`;
  }

  close(): void {
    this.front.close();
    this.out.close();
  }
}

describe('QUIC Address Discovery over real UDP: a client behind a NAT learns its mapped address', function () {
  this.timeout(30_000);
  const net = new Loopback();
  let nat: Nat | undefined;
  afterEach(async () => {
    nat?.close();
    nat = undefined;
    await net.close();
  });

  it('the server reports the NAT mapping; the client endpoint keeps it and offers it as a candidate to its connections', async () => {
    const transport = { multipath: true, initialRttMs: 30 };
    const server = await net.bind({ transport });
    const client = await net.bind({ transport, acceptIncoming: false });
    nat = await Nat.start(server.boundAddresses[0]!);
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, `${server.id.toString()}@${nat.inside}`), 5_000, 'connect through the NAT');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    // This NAT lets direct packets through too, and the server announces its own address (n0 NAT
    // traversal): the client may open a direct path as well, whose reports name the client's and
    // the server's own addresses. The NAT's are among them.
    await until(() => client.observedAddresses.includes(nat!.mapped), 5_000, 'the NAT mapping observed');
    assert.ok(client.observedAddresses.every((a) => a === nat!.mapped || a === client.boundAddresses[0]), client.observedAddresses.join(', '));
    assert.ok([nat.mapped, client.boundAddresses[0]].includes(connOf(s).getStats().addressDiscovery?.observed ?? ''));
    // The server's side: the client reports the server's address as it sees it (the NAT's inside).
    await until(() => server.observedAddresses.includes(nat!.inside), 5_000, "the server's observed address");
    assert.ok(server.observedAddresses.every((a) => a === nat!.inside || a === server.boundAddresses[0]), server.observedAddresses.join(', '));
    assert.ok([nat.inside, server.boundAddresses[0]].includes(connOf(peer).getStats().addressDiscovery?.observed ?? ''));
    // A later connection of the client (straight to the server) offers the mapping as a candidate.
    const s2 = await within(Session.connect(client, target(server)), 5_000, 'second connect');
    await until(() => connOf(s2).internals.nat?.machine !== null, 5_000, 'NAT traversal negotiated');
    assert.ok(connOf(s2).internals.nat!.machine!.localAddresses().includes(nat.mapped), `candidates: ${connOf(s2).internals.nat!.machine!.localAddresses().join(', ')}`);
    assert.ok(connOf(s).internals.nat!.machine!.localAddresses().includes(nat.mapped), 'the first connection too');
  });

  it('off with addressDiscovery: false on either side: no report, nothing observed', async () => {
    const server = await net.bind({ transport: { multipath: true, addressDiscovery: false } });
    const client = await net.bind({ transport: { multipath: true }, acceptIncoming: false });
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, target(server)), 5_000, 'connect');
    await within(accepted, 5_000, 'accept');
    await sleep(200);
    assert.deepEqual(client.observedAddresses, []);
    assert.equal(connOf(s).getStats().addressDiscovery, null);
  });
});

describe("QUIC Address Discovery against the home relay's QAD service (relayAddressDiscovery, QadServer), real UDP on loopback", function () {
  this.timeout(30_000);
  const net = new Loopback();
  let nat: Nat | undefined;
  let relay: RelayServer | undefined;
  let qad: QadServer | undefined;
  let cert: GeneratedCertificate;
  before(async () => {
    cert = await generateCertificate({ names: ['127.0.0.1'] });
  });
  beforeEach(async () => {
    relay = await RelayServer.listen({ bind: '127.0.0.1:0' });
    qad = await QadServer.listen({ cert: cert.cert, key: cert.key });
  });
  afterEach(async () => {
    nat?.close();
    nat = undefined;
    await net.close();
    await qad?.close();
    await relay?.close();
  });
  const portOf = (a: string): number => Number(a.slice(a.lastIndexOf(':') + 1));

  it('the endpoint dials the QAD server on its home relay\'s host from its own socket, keeps the connection (not a session) and learns its address', async () => {
    const ep = await net.bind({ relays: [relay!.url], relayAddressDiscovery: { port: qad!.port, tls: { ca: cert.cert } } });
    await until(() => ep.relayAddressDiscovery?.observed != null, 5_000, 'the relay reported our address');
    const st = ep.relayAddressDiscovery!;
    assert.deepEqual({ ...st }, { relay: ep.homeRelay(), server: `127.0.0.1:${qad!.port}`, connection: 'connected', observed: ep.boundAddresses[0] });
    assert.deepEqual(ep.observedAddresses, [ep.boundAddresses[0]]);
    assert.equal(qad!.sessionCount, 1);
    assert.equal(ep.sessionCount, 0, 'the QAD connection is not a session');
    await ep.close();
    await until(() => qad!.sessionCount === 0, 5_000, 'the QAD connection closed with the endpoint');
    assert.equal(ep.relayAddressDiscovery?.connection, 'closed');
  });

  it('behind a NAT, what the relay saw (the mapping) becomes a NAT traversal candidate of every connection', async () => {
    nat = await Nat.start(qad!.address);
    const transport = { multipath: true };
    const ep = await net.bind({ transport, relays: [relay!.url], relayAddressDiscovery: { port: portOf(nat.inside), tls: { ca: cert.cert } } });
    await until(() => ep.relayAddressDiscovery?.observed === nat!.mapped, 5_000, 'the NAT mapping reported by the relay');
    assert.deepEqual(ep.observedAddresses, [nat.mapped]);
    const server = await net.bind({ transport });
    const { s } = await net.connect(ep, server);
    await until(() => connOf(s).internals.nat?.machine != null, 5_000, 'NAT traversal negotiated');
    assert.ok(connOf(s).internals.nat!.machine!.localAddresses().includes(nat.mapped), `candidates: ${connOf(s).internals.nat!.machine!.localAddresses().join(', ')}`);
  });

  it('a QAD server that does not answer, or a certificate not trusted: the state says why, and the endpoint works', async () => {
    const silent = await boundUdp4(() => {});
    try {
      const ep = await net.bind({ relays: [relay!.url], relayAddressDiscovery: { port: silent.address().port, tls: { ca: cert.cert } } });
      await until(() => ep.relayAddressDiscovery?.connection === 'failed', 6_000, 'the dial failed');
      assert.match(ep.relayAddressDiscovery!.error ?? '', /no answer within 3000 ms/);
      const untrusted = await net.bind({ relays: [relay!.url], relayAddressDiscovery: { port: qad!.port } });
      await until(() => untrusted.relayAddressDiscovery?.connection === 'failed', 6_000, 'the handshake failed');
      assert.match(untrusted.relayAddressDiscovery!.error ?? '', /certificate|issuer|trust/i);
      assert.deepEqual(untrusted.observedAddresses, []);
      // Both endpoints still serve sessions.
      const { s } = await net.connect(ep, untrusted);
      assert.equal(ep.sessionCount, 1);
      s.close();
    } finally {
      silent.close();
    }
  });

  it('bad options are refused when binding, naming the option', async () => {
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', relayAddressDiscovery: { port: 0 } }), (e: Error) => e instanceof InvalidArgumentError && /relayAddressDiscovery\.port/.test(e.message));
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', relayAddressDiscovery: 'yes' as unknown as boolean }), (e: Error) => e instanceof InvalidArgumentError && /relayAddressDiscovery/.test(e.message));
    await assert.rejects(Endpoint.bind({ bind: '127.0.0.1:0', relayAddressDiscovery: { prot: 1 } as unknown as { port: number } }), (e: Error) => e instanceof InvalidArgumentError && /prot/.test(e.message));
    await assert.rejects(QadServer.listen({} as unknown as QadServerOptions), (e: Error) => e instanceof InvalidArgumentError && /cert and key/.test(e.message));
  });
});
