import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { bytesEqual } from '../../src/codec/bytes.js';
import type { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { SeededRandom } from '../../src/tls/random.js';
import { Loopback, boundUdp4, connOf, target, until, within } from './util.js';

/**
 * The second path of these tests: a UDP forwarder on loopback that impairs what it carries. The
 * client sends to its front socket; it forwards to the server from an outbound socket (so the
 * server sees path 1 come from another address than path 0) and back, dropping a seeded share
 * of the datagrams both ways; `kill()` makes it drop everything (the path dies).
 */
class Forwarder {
  private front!: Socket;
  private out!: Socket;
  private client: { address: string; port: number } | undefined;
  private dead = false;
  private readonly rng = new SeededRandom(99);
  /** Bytes forwarded each way. */
  carried = 0;

  private constructor(
    private readonly server: { host: string; port: number },
    private readonly dropRate: number,
  ) {}

  static async start(serverAddress: string, dropRate: number): Promise<Forwarder> {
    const i = serverAddress.lastIndexOf(':');
    const f = new Forwarder({ host: serverAddress.slice(0, i), port: Number(serverAddress.slice(i + 1)) }, dropRate);
    f.front = await boundUdp4((msg, from) => {
      f.client = from;
      if (f.drops()) return;
      f.carried += msg.length;
      f.out.send(msg, f.server.port, f.server.host);
    });
    f.out = await boundUdp4((msg) => {
      if (!f.client || f.drops()) return;
      f.carried += msg.length;
      f.front.send(msg, f.client.port, f.client.address);
    });
    return f;
  }

  /** Where the client opens its second path. */
  get address(): string {
    return `127.0.0.1:${this.front.address().port}`;
  }

  /** From now on nothing passes (the path died). */
  kill(): void {
    this.dead = true;
  }

  close(): void {
    this.front.close();
    this.out.close();
  }

  private drops(): boolean {
    return this.dead || this.rng.nextU32() / 2 ** 32 < this.dropRate;
  }
}

describe('multipath over real UDP on loopback: a second path through an impairing forwarder (draft-ietf-quic-multipath)', function () {
  this.timeout(60_000);
  const net = new Loopback();
  let fwd: Forwarder | undefined;
  afterEach(async () => {
    fwd?.close();
    fwd = undefined;
    await net.close();
  });

  /** Connects, opens path 1 through the forwarder, waits for its validation, makes path 0 backup. */
  async function twoPaths(dropRate: number): Promise<{ client: Endpoint; s: Session; peer: Session; f: Forwarder }> {
    const transport = { multipath: true, initialRttMs: 30 };
    const server = await net.bind({ transport });
    const client = await net.bind({ transport, acceptIncoming: false });
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, target(server)), 5_000, 'connect');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    const f = (fwd = await Forwarder.start(server.boundAddresses[0]!, dropRate));
    const conn = connOf(s);
    // Multipath is used once the handshake is confirmed (HANDSHAKE_DONE).
    await until(() => conn.handshakeConfirmed, 5_000, 'handshake confirmed');
    const r = conn.openPath(client.now(), f.address);
    assert.deepEqual(r, { kind: 'opened', pathId: 1 });
    client.schedule();
    await until(() => conn.paths()[1]?.validated === true, 10_000, 'path 1 validated');
    assert.equal(conn.setPathStatus(0, 'backup'), true);
    client.schedule();
    return { client, s, peer, f };
  }

  /** Sends `data` on a uni stream; runs `midway` once the server has read a third; returns what the server read. */
  async function transfer(s: Session, peer: Session, data: Uint8Array, midway: () => void): Promise<Uint8Array> {
    const incoming = peer.incomingUnidirectionalStreams.getReader();
    const w = (await s.createUnidirectionalStream()).getWriter();
    const writing = (async () => {
      for (let off = 0; off < data.length; off += 64 * 1024) await w.write(data.subarray(off, Math.min(data.length, off + 64 * 1024)));
      await w.close();
    })();
    const stream = (await within(incoming.read(), 10_000, 'incoming stream')).value!;
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let got = 0;
    let fired = false;
    for (;;) {
      const { value, done } = await within(reader.read(), 20_000, `read at ${got} bytes`);
      if (done) break;
      chunks.push(value);
      got += value.length;
      if (!fired && got > data.length / 3) {
        fired = true;
        midway();
      }
    }
    await within(writing, 20_000, 'writes');
    return Buffer.concat(chunks);
  }

  it('data moves to the second path (2% loss on it); 20 MB byte-exact while that path is abandoned mid-transfer', async () => {
    const { client, s, peer, f } = await twoPaths(0.02);
    const conn = connOf(s);
    const data = new SeededRandom(11).fill(new Uint8Array(20_000_000));
    let carriedAtAbandon = 0;
    const got = await transfer(s, peer, data, () => {
      carriedAtAbandon = f.carried;
      assert.equal(conn.abandonPath(client.now(), 1), true);
      client.schedule();
    });
    assert.ok(bytesEqual(got, data), 'byte for byte');
    assert.ok(carriedAtAbandon > 2_000_000, `path 1 carried the data before the abandon (${carriedAtAbandon} bytes)`);
    const one = conn.paths()[1];
    assert.ok(one === undefined || one.abandoned, 'path 1 abandoned');
  });

  it('the second path dies mid-transfer: traffic falls back to path 0 without losing a byte', async () => {
    const { s, peer, f } = await twoPaths(0);
    const conn = connOf(s);
    const data = new SeededRandom(12).fill(new Uint8Array(8_000_000));
    const got = await transfer(s, peer, data, () => f.kill());
    assert.ok(bytesEqual(got, data), 'byte for byte');
    const one = conn.paths()[1];
    assert.ok(one === undefined || !one.selected, 'path 1 no longer carries data');
    assert.equal(conn.paths()[0]!.selected, true);
  });
});
