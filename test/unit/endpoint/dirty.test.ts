import assert from 'node:assert/strict';
import { DeadlineHeap, type HeapItem } from '../../../src/quic/endpoint/deadline-heap.js';
import type { EndpointCore } from '../../../src/quic/endpoint/endpoint-core.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { Identities, Net } from './net.js';
import { incoming } from './helpers.js';

const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';
const NOWHERE = '10.9.9.9:9';

/** The earliest connection timer, asked of every connection (what the heap must agree with). */
function bruteTimeout(ep: EndpointCore): number {
  let t = Number.POSITIVE_INFINITY;
  for (const h of ep.handles()) t = Math.min(t, ep.connection(h)!.pollTimeout());
  return t;
}

function drain(ep: EndpointCore, now: number): number {
  const buf = new Uint8Array(1500);
  let n = 0;
  while (ep.pollTransmit(now, buf)) n++;
  while (ep.pollEvent()) {
    /* drain */
  }
  return n;
}

describe('endpoint core: dirty set and deadline heap', () => {
  it('DeadlineHeap agrees with a sorted model under random set/remove/takeDue', () => {
    const rng = new SeededRandom(7);
    const heap = new DeadlineHeap<HeapItem & { id: number }>();
    const items = Array.from({ length: 200 }, (_, id) => ({ id, deadline: 0, heapIndex: -1 }));
    const model = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const it = items[rng.nextU32() % items.length]!;
      const op = rng.nextU32() % 10;
      if (op < 6) {
        const d = op === 0 ? Number.POSITIVE_INFINITY : rng.nextU32() % 10_000;
        heap.set(it, d);
        if (d === Number.POSITIVE_INFINITY) model.delete(it.id);
        else model.set(it.id, d);
      } else if (op < 9) {
        heap.remove(it);
        model.delete(it.id);
      } else {
        const now = rng.nextU32() % 10_000;
        const due = heap.takeDue(now);
        const want = [...model].filter(([, d]) => d <= now).map(([id]) => id).sort((a, b) => a - b);
        assert.deepEqual(due.map((x) => x.id).sort((a, b) => a - b), want);
        for (let i = 1; i < due.length; i++) assert.ok(due[i - 1]!.deadline <= due[i]!.deadline);
        for (const id of want) model.delete(id);
      }
      assert.equal(heap.size, model.size);
      assert.equal(heap.earliest(), Math.min(Number.POSITIVE_INFINITY, ...model.values()));
      for (const x of items) assert.equal(x.heapIndex >= 0, model.has(x.id));
    }
  });

  it('among 1000 connections the one with the earliest timer is found, and every due timer fires', () => {
    const ids = new Identities(11);
    const ep = ids.client();
    const rng = new SeededRandom(12);
    let now = 0;
    const tls = ids.clientTls();
    for (let i = 0; i < 1000; i++) {
      now += rng.nextU32() % 3;
      ep.connect(now, NOWHERE, { tls });
      if (i % 50 === 0) drain(ep, now);
    }
    drain(ep, now);
    assert.equal(ep.pollTimeout(), bruteTimeout(ep));
    // One more, filed last, with an initial RTT of 1 ms: its PTO is the earliest of all.
    const short = ep.connect(now, NOWHERE, { tls, transport: { initialRttMs: 1 } });
    drain(ep, now);
    assert.equal(ep.pollTimeout(), short.connection.pollTimeout());
    assert.equal(ep.pollTimeout(), bruteTimeout(ep));
    // Run the timers for a while: after each handleTimeout nothing is left due, and the heap
    // always agrees with asking every connection.
    let fired = 0;
    for (let k = 0; k < 300 && ep.connectionCount > 0; k++) {
      const t = ep.pollTimeout();
      assert.equal(t, bruteTimeout(ep));
      if (!Number.isFinite(t)) break;
      now = Math.max(now, t);
      ep.handleTimeout(now);
      fired++;
      drain(ep, now);
      for (const h of ep.handles()) assert.ok(ep.connection(h)!.pollTimeout() > now, `handle ${h} left due at ${now}`);
      if (k === 0) assert.ok(short.connection.getStats().ptoCount > 0, "the 1 ms connection's PTO fired first");
    }
    assert.ok(fired > 10);
  });

  it('commands issued on a connection between polls are transmitted (and none is polled otherwise)', () => {
    const ids = new Identities(13);
    const net = new Net(13);
    const server = net.add(S, ids.server());
    const client = net.add(C, ids.client());
    const conns = Array.from({ length: 20 }, () => client.connect(net.now, S, { tls: ids.clientTls() }));
    net.drive(() => conns.every((c) => c.connection.isConnected) && incoming(net, S).every((i) => i.connection.isConnected));
    net.runFor(50);
    // Quiet now: nothing is sent without a command.
    const buf = new Uint8Array(1500);
    assert.equal(client.pollTransmit(net.now, buf), null);
    // A command on one connection (not through the endpoint) is found by the next poll.
    const c = conns[13]!.connection;
    const id = c.openStream('uni')!;
    c.writeStream(id, new Uint8Array(100).fill(7));
    c.finishStream(id);
    const t = client.pollTransmit(net.now, buf);
    assert.ok(t, 'the stream data is sent');
    assert.equal(t.address, S);
    assert.equal(client.pollTransmit(net.now, buf), null);
    // The same for ping and close; the server's connection reads the stream through a command.
    conns[3]!.connection.ping();
    assert.ok(client.pollTransmit(net.now, buf));
    conns[5]!.connection.close(net.now, 7, 'bye');
    assert.ok(client.pollTransmit(net.now, buf));
    assert.equal(client.pollTransmit(net.now, buf), null);
    assert.equal(client.pollTimeout(), bruteTimeout(client));
    net.settle(5_000);
    assert.equal(server.pollTimeout(), bruteTimeout(server));
    assert.equal(client.pollTimeout(), bruteTimeout(client));
  });

  it('stream handles mark their connection as needing service: what they change reaches pollTransmit', () => {
    const ids = new Identities(14);
    const net = new Net(14);
    net.add(S, ids.server());
    const client = net.add(C, ids.client());
    const a = client.connect(net.now, S, { tls: ids.clientTls() });
    net.drive(() => a.connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    net.runFor(50);
    const buf = new Uint8Array(1500);
    const id = a.connection.openStream('bidi')!;
    while (client.pollTransmit(net.now, buf)) {
      /* drain */
    }
    // Behind the connection's back (the stream map itself) a change stays unseen: nothing marked it.
    a.connection.internals.streams.get(id)!.send!.write(new Uint8Array(10));
    assert.equal(client.pollTransmit(net.now, buf), null, 'a change behind the handles is not polled');
    // Through a handle, the same kind of change is polled at once.
    assert.equal(a.connection.sendStream(id).write(new Uint8Array(10)), 10);
    assert.ok(client.pollTransmit(net.now, buf), 'sent after a write through the handle');
    while (client.pollTransmit(net.now, buf)) {
      /* drain */
    }
    a.connection.sendStream(id).finish();
    assert.ok(client.pollTransmit(net.now, buf), 'the FIN went out after finish() through the handle');
  });
});
