import assert from 'node:assert/strict';
import { bytesEqual } from '../../src/codec/bytes.js';
import type { Endpoint } from '../../src/session/endpoint.js';
import { Session } from '../../src/session/session.js';
import { SeededRandom } from '../../src/tls/random.js';
import { ImpairingRelay } from '../relay/relay.js';
import { Loopback, echoBidi, readAll, until, within, writeAll } from './util.js';

/**
 * A test-only firewall on an endpoint's UDP traffic (a patch of its driver, as
 * test/interop/scenarios/nat-iroh.ts does): `drop(remote)` says whether a datagram to or from
 * that `ip:port` is lost, decided at each datagram, so a rule may change mid-transfer.
 */
class Firewall {
  /** Datagrams dropped each way. */
  readonly dropped = { in: 0, out: 0 };

  constructor(ep: Endpoint, drop: (remote: string) => boolean) {
    const driver = (ep as unknown as { driver: { receive(address: string, d: Uint8Array): void; sockets: Array<{ socket: { send: (...a: unknown[]) => void } }> } }).driver;
    const receive = driver.receive.bind(driver);
    driver.receive = (address, d) => {
      if (drop(address)) this.dropped.in++;
      else receive(address, d);
    };
    for (const b of driver.sockets) {
      const send = b.socket.send.bind(b.socket);
      b.socket.send = (...a: unknown[]) => {
        // send(buf, port, host, callback), the driver's form (or with offset and length after buf).
        const [port, host] = a.length >= 6 ? [a[3], a[4]] : [a[1], a[2]];
        const remote = `${host as string}:${port as number}`;
        if (!drop(remote)) return send(...a);
        this.dropped.out++;
        const cb = a[a.length - 1];
        if (typeof cb === 'function') queueMicrotask(() => (cb as (e: Error | null) => void)(null));
      };
    }
  }
}

/** What the scheduler reads of each path of a session (a failure's diagnostics). */
function schedulerView(x: Session): string {
  const status = new Map(x.paths().map((p) => [p.id, p.status]));
  return x
    .getStats()
    .paths.map((p) => `path ${p.pathId}: min ${p.rtt.min.toFixed(1)} srtt ${p.rtt.smoothed.toFixed(1)} pto ${p.ptoCount} ${status.get(p.pathId) ?? '-'}${p.selected ? ' selected' : ''}`)
    .join('; ');
}

describe('an endpoint bound to two addresses of one family (127.0.0.1 and 127.0.0.2)', function () {
  this.timeout(20_000);
  const net = new Loopback();
  afterEach(() => net.close());

  it('a peer that dials the second address is answered from it (the socket that heard it), and both addresses serve sessions', async () => {
    const server = await net.bind({ bind: ['127.0.0.1:0', '127.0.0.2:0'] });
    assert.deepEqual(server.boundAddresses.map((a) => a.split(':')[0]), ['127.0.0.1', '127.0.0.2']);
    void (async () => {
      for await (const peer of server) echoBidi(peer);
    })();
    for (const address of [server.boundAddresses[1]!, server.boundAddresses[0]!]) {
      const client = await net.bind({ acceptIncoming: false });
      const s = await within(Session.connect(client, `${server.id.toString()}@${address}`), 5_000, `connect to ${address}`);
      assert.equal(s.remoteAddress, address);
      const st = await s.createBidirectionalStream();
      const data = new SeededRandom(3).fill(new Uint8Array(100_000));
      const [, back] = await within(Promise.all([writeAll(st.writable, data), readAll(st.readable)]), 10_000, 'echo');
      assert.ok(bytesEqual(back, data));
      s.close();
    }
  });
});

/** What a session sent on each path id (`getStats().paths`), kept as paths are forgotten. */
class PathBytes {
  readonly sent = new Map<number, number>();
  constructor(private readonly session: Session) {}
  sample(): void {
    for (const p of this.session.getStats().paths) this.sent.set(p.pathId, Math.max(this.sent.get(p.pathId) ?? 0, p.bytesSent));
  }
  get total(): number {
    let t = 0;
    for (const v of this.sent.values()) t += v;
    return t;
  }
}

/** The impaired path: 40 Mbit/s, 10 ms each way, 0.5% loss each way (bursts up to 3), 2% of packets held 5 ms. */
const IMPAIRED = {
  link: { bandwidthBps: 40_000_000, delayMs: 10, queuePackets: 200 },
  toServer: { dropRate: 0.005 },
  toClient: { dropRate: 0.005 },
  reorder: { rate: 0.02, delayMs: 5 },
} as const;

describe('multipath quic-peer <-> quic-peer over two loopback addresses, one path through the impairing relay', function () {
  this.timeout(60_000);
  const net = new Loopback();
  let relay: ImpairingRelay | undefined;
  afterEach(async () => {
    relay?.close();
    relay = undefined;
    await net.close();
  });

  /**
   * A server bound to 127.0.0.1 and 127.0.0.2 (multipath, NAT traversal on). The client dials it
   * through the impairing relay, which forwards to 127.0.0.1; a firewall on the client lets it
   * reach 127.0.0.1 only through the relay (so its one direct path can be 127.0.0.2), and, with
   * `direct: false`, not 127.0.0.2 either.
   */
  async function setup(seed: number, direct = true) {
    const transport = { multipath: true };
    const q = process.env.QP_QLOG ? { qlogDir: process.env.QP_QLOG } : {};
    const server = await net.bind({ bind: ['127.0.0.1:0', '127.0.0.2:0'], transport, ...q });
    const [viaRelay, second] = server.boundAddresses as [string, string];
    const r = (relay = await ImpairingRelay.start({ server: viaRelay, seed, ...IMPAIRED }));
    const client = await net.bind({ transport, acceptIncoming: false, ...q });
    let blocked = (remote: string): boolean => remote === viaRelay || (!direct && remote === second);
    const fw = new Firewall(client, (remote) => blocked(remote));
    const accepted = Session.accept(server);
    const s = await within(Session.connect(client, `${server.id.toString()}@${r.addr}`), 5_000, 'connect');
    const peer = (await within(accepted, 5_000, 'accept'))!;
    assert.equal(s.remoteAddress, r.addr);
    return {
      server, client, s, peer, fw, relay: r, second,
      /** From now on 127.0.0.2 is unreachable too (the good path is blackholed). */
      blackhole(): void {
        blocked = (remote) => remote === viaRelay || remote === second;
      },
    };
  }

  /**
   * Waits until both sides send new data on the direct path the client opened to 127.0.0.2 (each
   * side's scheduler picks it by its own RTT samples: the server's come from its validation of
   * the path, so a transfer that started before would load the path under them).
   */
  async function directSelected(s: Session, peer: Session, second: string): Promise<number> {
    let id = -1;
    await until(
      () => {
        id = s.paths().find((p) => p.remoteAddress === second && p.selected)?.id ?? -1;
        return id > 0 && peer.paths().some((p) => p.id === id && p.selected);
      },
      10_000,
      'both sides on the direct path to 127.0.0.2',
    );
    return id;
  }

  /**
   * `n` bytes each way at once on a unidirectional stream per side; calls `midway` once both
   * sides have read a third, with what each side had read then; checks both byte for byte.
   */
  async function exchange(s: Session, peer: Session, n: number, seed: number, midway?: (read: { server: number; client: number }) => void): Promise<void> {
    const t0 = performance.now();
    const up = new SeededRandom(seed).fill(new Uint8Array(n));
    const down = new SeededRandom(seed + 1).fill(new Uint8Array(n));
    let progress = 0;
    let fired = false;
    const readSoFar = { server: 0, client: 0 };
    const read = async (from: Session): Promise<Uint8Array> => {
      const side = from === peer ? 'server' : 'client';
      const st = (await within(from.incomingUnidirectionalStreams.getReader().read(), 10_000, 'incoming stream')).value!;
      const reader = st.getReader();
      const chunks: Uint8Array[] = [];
      let got = 0;
      let third = false;
      for (;;) {
        const { value, done } = await within(reader.read(), 20_000, `read at ${got} bytes`);
        if (done) break;
        chunks.push(value);
        got += value.length;
        readSoFar[side] = got;
        if (!third && got > n / 3) {
          third = true;
          if (++progress === 2 && !fired) {
            fired = true;
            midway?.({ ...readSoFar });
          }
        }
      }
      return Buffer.concat(chunks);
    };
    const [, , atServer, atClient] = await Promise.all([
      (async () => writeAll(await s.createUnidirectionalStream(), up))(),
      (async () => writeAll(await peer.createUnidirectionalStream(), down))(),
      read(peer),
      read(s),
    ]);
    if (process.env.QP_VERBOSE) console.log(`      ${n} bytes each way in ${(performance.now() - t0).toFixed(0)} ms`);
    assert.ok(bytesEqual(atServer, up), 'client -> server byte for byte');
    assert.ok(bytesEqual(atClient, down), 'server -> client byte for byte');
  }

  it('the client finds the server\'s second address (ADD_ADDRESS, NAT probe) and moves to it: 20 MB each way, byte-exact, almost all on the direct path', async () => {
    const { client, s, peer, relay: r, second } = await setup(1);
    await directSelected(s, peer, second);
    const ours = new PathBytes(s);
    const theirs = new PathBytes(peer);
    const sampler = setInterval(() => (ours.sample(), theirs.sample()), 50);
    const relayed = r.counters.toServer.bytes + r.counters.toClient.bytes;
    try {
      await exchange(s, peer, 20_000_000, 11);
    } finally {
      clearInterval(sampler);
    }
    ours.sample();
    theirs.sample();
    if (process.env.QP_VERBOSE) console.log('      sent per path id', [...ours.sent], [...theirs.sent], r.describe());
    const direct = s.paths().find((p) => p.remoteAddress === second)!;
    assert.equal(direct.kind, 'direct');
    assert.equal(direct.selected, true);
    assert.deepEqual(s.paths().map((p) => p.id), [0, direct.id], 'path 0 on the relay is kept');
    assert.equal(peer.paths().find((p) => p.id === direct.id)?.remoteAddress, client.boundAddresses[0], 'the server hears the client itself there');
    assert.equal(s.getStats().natTraversal?.pathsOpened, 1);
    // Each side sent ~20 MB; all but a little went on the direct path id.
    for (const [side, b, c] of [['client', ours, s], ['server', theirs, peer]] as const) {
      const onDirect = b.sent.get(direct.id) ?? 0;
      assert.ok(onDirect > 20_000_000 && onDirect > 0.97 * b.total, `${side}: ${onDirect} of ${b.total} bytes on path ${direct.id} (${schedulerView(c)})`);
    }
    const viaRelay = r.counters.toServer.bytes + r.counters.toClient.bytes - relayed;
    assert.ok(viaRelay < 1_000_000, `the relay carried ${viaRelay} bytes during the transfer`);
  });

  it('the direct path is blackholed mid-transfer: traffic falls back to the impaired path without losing a byte', async () => {
    const { s, peer, relay: r, second, blackhole, fw } = await setup(2);
    await directSelected(s, peer, second);
    const n = 6_000_000;
    // Bytes received on path ids >= 1 (the connection's total less path 0's: a path id abandoned
    // and forgotten leaves getStats().paths, not the total).
    const directIn = (x: Session): number => {
      const st = x.getStats();
      return st.bytesReceived - (st.paths.find((p) => p.pathId === 0)?.bytesReceived ?? 0);
    };
    let at = { toServer: 0, toClient: 0, read: { server: 0, client: 0 }, serverDirectIn: 0, clientDirectIn: 0 };
    await exchange(s, peer, n, 21, (read) => {
      at = { toServer: r.counters.toServer.bytes, toClient: r.counters.toClient.bytes, read, serverDirectIn: directIn(peer), clientDirectIn: directIn(s) };
      blackhole();
    });
    const toServer = r.counters.toServer.bytes - at.toServer;
    const toClient = r.counters.toClient.bytes - at.toClient;
    if (process.env.QP_VERBOSE) console.log('      after the blackhole', { toServer, toClient, at }, r.describe());
    // The client hears nothing direct any more: all it had left to read came through the relay.
    assert.equal(directIn(s), at.clientDirectIn, 'nothing direct reached the client after the blackhole');
    assert.ok(toClient >= n - at.read.client, `the relay carried ${toClient} bytes to the client; ${n - at.read.client} were left`);
    // What the server had left to read came through the relay, or was on the direct path already.
    const serverDirectAfter = directIn(peer) - at.serverDirectIn;
    assert.ok(toServer + serverDirectAfter >= n - at.read.server, `${toServer} relayed + ${serverDirectAfter} direct to the server; ${n - at.read.server} were left`);
    assert.ok(toServer > 100_000, `the relay carried ${toServer} bytes to the server`);
    assert.ok(fw.dropped.out > 0 && fw.dropped.in > 0, JSON.stringify(fw.dropped));
    assert.equal(s.paths().find((p) => p.selected)?.id, 0, 'path 0 (the relay) carries the data now');
    assert.equal(peer.paths().find((p) => p.selected)?.id, 0);
  });

  it('the impaired path alone (127.0.0.2 unreachable from the start): the NAT probes fail and 3 MB each way still complete over the relay', async () => {
    const { s, peer, relay: r, second } = await setup(3, false);
    const relayed = r.counters.toServer.bytes + r.counters.toClient.bytes;
    await exchange(s, peer, 3_000_000, 31);
    assert.ok(r.counters.toServer.bytes + r.counters.toClient.bytes - relayed > 6_000_000);
    assert.deepEqual(s.paths().map((p) => p.id), [0]);
    assert.ok(!s.paths().some((p) => p.remoteAddress === second));
    const nat = s.getStats().natTraversal!;
    assert.ok(nat.rounds >= 1 && nat.probesSent >= 1, JSON.stringify(nat));
    assert.equal(nat.pathsOpened, 0);
    assert.ok(r.counters.toServer.dropped.rate + r.counters.toClient.dropped.rate > 0, 'the relay dropped packets');
    assert.ok(r.counters.toServer.reordered + r.counters.toClient.reordered > 0, 'the relay reordered packets');
  });
});
