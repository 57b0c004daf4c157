import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { Session } from '../../src/session/session.js';
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
