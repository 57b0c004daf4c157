/**
 * The impairing relay on its own, with plain UDP sockets on loopback: a client socket sends
 * numbered packets through the relay to an echo server socket. Time bounds are generous lower
 * bounds (delay, serialization) or plain waits; no speed is asserted.
 */
import { strict as assert } from 'node:assert';
import dgram from 'node:dgram';
import { Impairer, CORRUPT_SPAN } from './impair.js';
import { ImpairingRelay, parseLoopback, type RelayOptions } from './relay.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function bound(type: 'udp4' | 'udp6' = 'udp4', host = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  return s;
}

/** An echo server that remembers which source addresses it saw, a client, and a relay between. */
async function rig(opts: Omit<RelayOptions, 'server'>, v6 = false) {
  const server = await bound(v6 ? 'udp6' : 'udp4', v6 ? '::1' : '127.0.0.1');
  const sources: string[] = [];
  const atServer: Uint8Array[] = [];
  server.on('message', (m, r) => {
    sources.push(`${r.address}:${r.port}`);
    atServer.push(new Uint8Array(m));
    server.send(m, r.port, r.address);
  });
  const sp = server.address().port;
  const relay = await ImpairingRelay.start({ ...opts, server: v6 ? `[::1]:${sp}` : `127.0.0.1:${sp}` });
  const client = await bound(v6 ? 'udp6' : 'udp4', v6 ? '::1' : '127.0.0.1');
  const got: Array<{ bytes: Uint8Array; at: number }> = [];
  client.on('message', (m) => got.push({ bytes: new Uint8Array(m), at: performance.now() }));
  const target = parseLoopback(relay.addr);
  const send = (b: Uint8Array): void => client.send(b, target.port, target.host);
  const close = (): void => {
    relay.close();
    server.close();
    client.close();
  };
  return { relay, send, got, sources, atServer, close, serverSocket: server };
}

const numbered = (i: number, size = 100): Uint8Array => {
  const b = new Uint8Array(size);
  b[0] = 0x40; // a short header: never a Version Negotiation packet
  new DataView(b.buffer).setUint32(1, i);
  return b;
};
const idOf = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(1);

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await sleep(5);
}

describe('relay: per-packet decisions (impair.ts)', () => {
  const run = (seed: number, n: number, cfg: ConstructorParameters<typeof Impairer>[2]): string[] => {
    const imp = new Impairer(seed, 'toServer', cfg);
    return Array.from({ length: n }, (_, i) => {
      const d = imp.next(numbered(i));
      return d.fate === 'corrupt' ? `c${d.offset}^${d.xor}` : d.fate === 'drop' ? d.reason : 'f';
    });
  };

  it('the same seed gives the same decisions; another seed or direction does not', () => {
    const cfg = { dropRate: 0.3, corruptRate: 0.2 };
    assert.deepEqual(run(7, 500, cfg), run(7, 500, cfg));
    assert.notDeepEqual(run(7, 500, cfg), run(8, 500, cfg));
    const a = new Impairer(7, 'toServer', cfg);
    const b = new Impairer(7, 'toClient', cfg);
    const fa = Array.from({ length: 200 }, (_, i) => a.next(numbered(i)).fate);
    const fb = Array.from({ length: 200 }, (_, i) => b.next(numbered(i)).fate);
    assert.notDeepEqual(fa, fb);
  });

  it('a droplist does not shift the decisions of the other packets', () => {
    const cfg = { dropRate: 0.2 };
    const plain = run(3, 300, cfg);
    const listed = run(3, 300, { ...cfg, droplist: [5, 6, 100] });
    for (let i = 0; i < 300; i++) {
      if (i === 4 || i === 5 || i === 99) assert.equal(listed[i], 'droplist');
      // Dropping by list breaks a rate burst, so only "forward" packets are compared.
      else if (plain[i] === 'f' && listed[i - 1] !== 'droplist') assert.equal(listed[i], 'f', `packet ${i + 1}`);
    }
  });

  it('drop-rate: near the rate, never more than the burst in a row', () => {
    const fates = run(11, 20_000, { dropRate: 0.3, dropBurst: 3 });
    const drops = fates.filter((f) => f === 'rate').length / fates.length;
    assert.ok(drops > 0.25 && drops < 0.31, `drop share ${drops}`);
    let run_ = 0;
    for (const f of fates) {
      run_ = f === 'rate' ? run_ + 1 : 0;
      assert.ok(run_ <= 3);
    }
  });

  it('corrupt-rate: one byte among the first 50 changes; Version Negotiation is spared', () => {
    const imp = new Impairer(5, 'toClient', { corruptRate: 1, corruptBurst: 0 });
    for (let i = 0; i < 1000; i++) {
      const d = imp.next(numbered(i, 1200));
      assert.equal(d.fate, 'corrupt');
      if (d.fate === 'corrupt') {
        assert.ok(d.offset >= 0 && d.offset < CORRUPT_SPAN);
        assert.ok(d.xor >= 1 && d.xor <= 255);
      }
    }
    const short = imp.next(numbered(0, 20));
    assert.ok(short.fate === 'corrupt' && short.offset < 20);
    const vn = new Uint8Array(40);
    vn[0] = 0xc3; // long header, version 0
    assert.equal(imp.next(vn).fate, 'forward');
  });

  it('rejects bad rates and droplist entries, and non-loopback servers', () => {
    assert.throws(() => new Impairer(1, 'toServer', { dropRate: 1.5 }), /dropRate/);
    assert.throws(() => new Impairer(1, 'toServer', { droplist: [0] }), /1-based/);
    assert.throws(() => parseLoopback('10.0.0.1:443'), /loopback only/);
    assert.throws(() => parseLoopback('[2001:db8::1]:443'), /loopback only/);
    assert.deepEqual(parseLoopback('127.0.0.9:5'), { host: '127.0.0.9', port: 5, family: 4 });
  });
});

describe('relay: over UDP on loopback', function () {
  this.timeout(10_000);

  it('forwards both ways with the one-way delay (echo RTT >= 2 x delay)', async () => {
    const r = await rig({ link: { delayMs: 40, bandwidthBps: 0 } });
    try {
      const t0 = performance.now();
      r.send(numbered(1));
      await until(() => r.got.length === 1, 2_000);
      assert.equal(r.got.length, 1);
      assert.ok((r.got[0]?.at ?? 0) - t0 >= 79, `rtt ${(r.got[0]?.at ?? 0) - t0}`);
      assert.deepEqual(r.got[0]?.bytes, numbered(1));
      assert.equal(r.relay.counters.toServer.forwarded, 1);
      assert.equal(r.relay.counters.toClient.forwarded, 1);
      assert.equal(r.relay.counters.toServer.bytes, 100);
    } finally {
      r.close();
    }
  });

  it('bandwidth: a burst beyond the drop-tail queue is dropped, the rest is serialized', async () => {
    // 1 Mbit/s: a 1000-byte packet (+28 header bytes) takes 8.2 ms; queue of 10.
    const r = await rig({ link: { delayMs: 0, bandwidthBps: 1_000_000, queuePackets: 10 } });
    try {
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) r.send(numbered(i, 1000));
      const c0 = r.relay.counters.toServer;
      await until(() => c0.forwarded + c0.dropped.queue === 50 && r.got.length === c0.forwarded, 3_000);
      const c = r.relay.counters.toServer;
      assert.equal(c.received, 50);
      assert.equal(c.forwarded + c.dropped.queue, 50);
      assert.ok(c.dropped.queue >= 30, `queue drops ${c.dropped.queue}`);
      // The first packets are always accepted, in order.
      assert.deepEqual(r.atServer.slice(0, 10).map(idOf), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // Serialization: the last of n delivered packets arrives no earlier than n x 8.2 ms.
      const last = r.got[r.got.length - 1];
      assert.ok(last && last.at - t0 >= c.forwarded * 8.2 - 1, `${c.forwarded} packets in ${(last?.at ?? 0) - t0} ms`);
    } finally {
      r.close();
    }
  });

  it('reorder: a seeded share of the packets is held back and overtaken, none is lost; the same seed holds as many', async () => {
    const heldBack = async (seed: number): Promise<[number, number]> => {
      const r = await rig({ seed, link: { delayMs: 0, bandwidthBps: 0 }, reorder: { rate: 0.2, delayMs: 100 } });
      try {
        for (let i = 0; i < 100; i++) r.send(numbered(i));
        await until(() => r.got.length === 100, 3_000);
        assert.equal(r.got.length, 100, 'none lost');
        const c = r.relay.counters;
        assert.equal(c.toServer.forwarded + c.toClient.forwarded, 200);
        assert.ok(c.toServer.reordered >= 8 && c.toServer.reordered <= 40, `toServer reordered ${c.toServer.reordered}`);
        const order = r.atServer.map(idOf);
        assert.notDeepEqual(order, [...order].sort((a, b) => a - b), 'out of order at the server');
        assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
        return [c.toServer.reordered, c.toClient.reordered];
      } finally {
        r.close();
      }
    };
    const a = await heldBack(5);
    assert.deepEqual(await heldBack(5), a);
    assert.notDeepEqual(await heldBack(6), a);
  });

  it('droplist: exactly the listed packets of a direction are dropped', async () => {
    const r = await rig({ link: { delayMs: 0, bandwidthBps: 0 }, toServer: { droplist: [2, 3, 7] }, toClient: { droplist: [1] } });
    try {
      for (let i = 1; i <= 10; i++) {
        r.send(numbered(i));
        await sleep(3);
      }
      await until(() => r.got.length >= 6, 2_000);
      await sleep(30);
      assert.deepEqual(r.atServer.map(idOf), [1, 4, 5, 6, 8, 9, 10]);
      // The server's first answer (to packet 1) is the toClient direction's packet 1.
      assert.deepEqual(r.got.map((g) => idOf(g.bytes)), [4, 5, 6, 8, 9, 10]);
      assert.equal(r.relay.counters.toServer.dropped.droplist, 3);
      assert.equal(r.relay.counters.toClient.dropped.droplist, 1);
    } finally {
      r.close();
    }
  });

  it('corruption changes one byte among the first 50; the same seed gives the same run', async () => {
    const once = async (seed: number): Promise<string[]> => {
      const r = await rig({ seed, link: { delayMs: 0, bandwidthBps: 0 }, toServer: { corruptRate: 0.5, dropRate: 0.2 } });
      try {
        for (let i = 1; i <= 40; i++) {
          r.send(numbered(i, 200));
          await sleep(2);
        }
        await until(() => r.relay.counters.toServer.received === 40 && r.atServer.length === r.relay.counters.toServer.forwarded, 2_000);
        const out: string[] = [];
        for (const b of r.atServer) {
          const diff: number[] = [];
          // Packet numbers 1..40 live in bytes 1..4; a corrupted one is found by its other bytes.
          const id = idOf(b);
          const want = numbered(id, 200);
          for (let j = 0; j < 200; j++) if (b[j] !== want[j]) diff.push(j);
          assert.ok(diff.length <= 1 || (diff.every((j) => j >= 1 && j <= 4)), `packet ${id}: ${diff}`);
          assert.ok(diff.every((j) => j < 50));
          out.push(`${id}:${diff.join(',')}`);
        }
        assert.ok(r.relay.counters.toServer.corrupted > 0);
        return out;
      } finally {
        r.close();
      }
    };
    const a = await once(42);
    assert.deepEqual(await once(42), a);
    assert.notDeepEqual(await once(43), a);
  });

  it('blackhole: packets in an "off" period are dropped, the others pass', async () => {
    const r = await rig({ link: { delayMs: 0, bandwidthBps: 0 }, blackhole: { onMs: 60, offMs: 60 } });
    try {
      for (let i = 0; i < 30; i++) {
        r.send(numbered(i));
        await sleep(8);
      }
      await sleep(30);
      const c = r.relay.counters;
      assert.ok(c.toServer.dropped.blackhole + c.toClient.dropped.blackhole > 0);
      assert.ok(r.got.length > 0);
      assert.equal(c.toServer.received, 30);
    } finally {
      r.close();
    }
  });

  for (const mode of ['port', 'addr'] as const) {
    it(`rebind ${mode}: the server sees a new source ${mode === 'addr' ? 'address' : 'port'}, replies still reach the client`, async () => {
      const r = await rig({ link: { delayMs: 0, bandwidthBps: 0 }, rebind: { mode, firstMs: 100_000, everyMs: 100_000 } });
      try {
        r.send(numbered(1));
        await until(() => r.got.length === 1, 2_000);
        r.relay.rebindAll();
        r.send(numbered(2));
        await until(() => r.got.length === 2, 2_000);
        assert.equal(r.got.length, 2);
        assert.equal(r.sources.length, 2);
        const [a, b] = r.sources.map((s) => parseLoopback(s));
        assert.ok(a && b);
        assert.notEqual(`${a.host}:${a.port}`, `${b.host}:${b.port}`);
        if (mode === 'addr') assert.notEqual(a.host, b.host);
        else assert.equal(a.host, b.host);
        assert.equal(r.relay.rebinds, 1);
        assert.deepEqual(r.relay.paths[0], r.sources);
      } finally {
        r.close();
      }
    });
  }

  it('rebind: the replaced mapping still carries server -> client packets for graceMs, then not', async () => {
    const r = await rig({ link: { delayMs: 0, bandwidthBps: 0 }, rebind: { mode: 'port', firstMs: 100_000, everyMs: 100_000, graceMs: 150 } });
    const server = r.serverSocket;
    try {
      r.send(numbered(1));
      await until(() => r.got.length === 1, 2_000);
      const old = parseLoopback(r.sources[0]!);
      r.relay.rebindAll();
      // The server answers the old address (as an RFC 9000 §9.3.3 challenge on the old path would).
      server.send(numbered(2), old.port, old.host);
      await until(() => r.got.length === 2, 2_000);
      assert.equal(r.got.length, 2, 'within the grace period the old mapping forwards');
      assert.equal(idOf(r.got[1]!.bytes), 2);
      await sleep(300);
      server.send(numbered(3), old.port, old.host);
      await sleep(100);
      assert.equal(r.got.length, 2, 'after the grace period the old mapping is gone');
    } finally {
      r.close();
    }
  });

  it('works over ::1', async function () {
    let r;
    try {
      r = await rig({ link: { delayMs: 5 } }, true);
    } catch {
      this.skip(); // no IPv6 loopback on this host
    }
    try {
      r.send(numbered(9));
      await until(() => r.got.length === 1, 2_000);
      assert.equal(idOf(r.got[0]?.bytes ?? new Uint8Array(8)), 9);
      assert.match(r.relay.addr, /^\[::1\]:\d+$/);
    } finally {
      r.close();
    }
  });
});
