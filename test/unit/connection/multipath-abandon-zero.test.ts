import assert from 'node:assert/strict';
import type { Connection } from '../../../src/quic/connection/connection.js';
import type { QlogEvent } from '../../../src/quic/connection/qlog.js';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { Pair, type Side } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';

/**
 * Abandoning path 0 (draft-ietf-quic-multipath §3.4: any path may be abandoned while another is
 * open; the connection goes on on the paths left). iroh does it: it opens a direct path, selects
 * it and abandons path 0 (issue #16).
 */

function pair(seed: number, transport: { maxIdleTimeoutMs?: number; keepAliveIntervalMs?: number } = {}, qlog?: (e: QlogEvent) => void): Pair {
  const p = new Pair({
    seed: testSeed(seed),
    link: { delayMs: 10 },
    clientTransport: { multipath: true, multipathMaxPathId: 3, ...transport },
    serverTransport: { multipath: true, multipathMaxPathId: 3, ...transport },
    ...(qlog ? { clientQlog: { event: qlog } } : {}),
  });
  p.handshake();
  p.runFor(200);
  const r = p.client.openPath(p.now, '192.0.2.1:444');
  assert.deepEqual(r, { kind: 'opened', pathId: 1 });
  p.runFor(200);
  assert.equal(p.client.internals.multipath.pathAt(1)!.path.validated, true);
  return p;
}

/** Whether `bytes`, sent by `side`, is a 1-RTT packet of path 0 (not to one of the receiver's path-1 ids). */
function onPathZero(p: Pair, side: Side, bytes: Uint8Array): boolean {
  const to = side === 'client' ? p.server! : p.client;
  if ((bytes[0]! & 0x80) !== 0) return false;
  const cids = to.internals.multipath.cids!.localCidsOf(1);
  return !cids.some((c) => c.every((b, i) => bytes[1 + i] === b));
}

/** Counts the path 0 datagrams each side sends from now on. */
function countPathZero(p: Pair): { client: number; server: number } {
  const n = { client: 0, server: 0 };
  p.onSend = (from, bytes) => {
    if (onPathZero(p, from, bytes)) n[from]++;
  };
  return n;
}

/** A client uni stream of `size` patterned bytes; `during` runs once a third has arrived. Returns what the server read. */
function transfer(p: Pair, size: number, during: (p: Pair) => void): { sent: Uint8Array; got: Uint8Array } {
  const id = p.client.openStream('uni')!;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff;
  let written = 0;
  const got: Uint8Array[] = [];
  let gotLen = 0;
  let hook: ((p: Pair) => void) | undefined = during;
  const end = p.now + 60_000;
  for (;;) {
    if (p.now > end) throw new Error(`transfer incomplete: ${gotLen} of ${size} bytes at ${p.now}`);
    if (written < size) {
      written += p.client.writeStream(id, data.subarray(written));
      if (written === size) p.client.finishStream(id);
    }
    if (hook && gotLen > size / 3) {
      hook(p);
      hook = undefined;
    }
    p.step();
    const s = p.server!;
    while (s.acceptStream('uni') !== null);
    const rs = s.recvStream(id);
    for (let c = rs.read(); c !== null; c = rs.read()) {
      got.push(c.slice());
      gotLen += c.length;
    }
    if (rs.ended) return { sent: data, got: Buffer.concat(got) };
  }
}

function zeroInfo(c: Connection): { abandoned: boolean; selected: boolean } {
  const z = c.paths()[0]!;
  return { abandoned: z.abandoned, selected: z.selected };
}

describe('multipath: abandoning path 0 (draft-ietf-quic-multipath §3.4, issue #16)', () => {
  it('the peer abandons path 0 mid-transfer: the sender answers, moves everything to path 1 (in-flight data re-sent), byte-exact; nothing more on path 0', () => {
    const p = pair(1601);
    let at = 0;
    const { sent, got } = transfer(p, 1_000_000, (q) => {
      assert.equal(q.server!.abandonPath(q.now, 0, 0), true);
      at = q.now;
    });
    assert.deepEqual(got, Buffer.from(sent));
    // The client heard the PATH_ABANDON and answered with its own; both stopped path 0.
    for (const c of [p.client, p.server!]) {
      assert.equal(c.internals.multipath.isPathZeroAbandoned, true);
      assert.deepEqual(zeroInfo(c), { abandoned: true, selected: false });
      assert.equal(c.paths()[1]!.selected, true);
      assert.equal(c.isClosed, false);
    }
    assert.ok(p.now - at < 10_000);
    const sentZeroAfter = countPathZero(p);
    p.runFor(5000);
    assert.deepEqual(sentZeroAfter, { client: 0, server: 0 }, 'nothing sent on path 0 once both abandoned it');
    // The connection's address follows the selected path.
    assert.equal(p.client.remoteAddress, '192.0.2.1:444');
    assert.equal(p.server!.remoteAddress, p.server!.paths()[1]!.remoteAddress);
    assert.equal(p.client.internals.multipath.pathZeroAbandonFrame?.isOwed, false, 'our PATH_ABANDON of path 0 went out');
    assert.equal(p.client.internals.multipath.isPathZeroForgotten, true, 'path 0 lingered 3 PTOs, then was forgotten');
    // Streams keep working on path 1, both ways.
    const { sent: s2, got: g2 } = transfer(p, 200_000, () => {});
    assert.deepEqual(g2, Buffer.from(s2));
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('the sender abandons path 0 itself mid-transfer: same rules, byte-exact, and the peer answers with PATH_ABANDON', () => {
    const p = pair(1602);
    const zero = countPathZero(p);
    let before = { client: 0, server: 0 };
    const { sent, got } = transfer(p, 800_000, (q) => {
      assert.equal(q.client.abandonPath(q.now, 0, 0), true);
      assert.equal(q.client.abandonPath(q.now, 0, 0), false, 'already abandoned');
      before = { ...zero };
    });
    assert.deepEqual(got, Buffer.from(sent));
    assert.equal(zero.client, before.client, 'the client sent nothing on path 0 after abandoning it');
    assert.equal(p.server!.internals.multipath.isPathZeroAbandoned, true, 'the server abandoned it too');
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('idle keep-alive and timers go on when path 0 is gone: no idle timeout over 20 s with a 2 s idle timeout', () => {
    const p = pair(1603, { maxIdleTimeoutMs: 2000, keepAliveIntervalMs: 500 });
    assert.equal(p.client.abandonPath(p.now, 0, 0), true);
    // No timer of path 0 (loss, MTU search, validation) is left in the past, unserved.
    for (let i = 0; i < 200; i++) {
      p.runFor(100);
      assert.ok(p.client.pollTimeout() > p.now && p.server!.pollTimeout() > p.now, `a timer stuck at ${p.now}`);
    }
    assert.equal(p.client.isClosed, false, JSON.stringify(p.client.closeInfo));
    assert.equal(p.server!.isClosed, false, JSON.stringify(p.server!.closeInfo));
    assert.deepEqual(p.client.paths().map((i) => [i.pathId, i.abandoned, i.selected]), [[0, true, false], [1, false, true]]);
    assert.ok(p.client.pollTimeout() > p.now, 'no timer left in the past');
  });

  it('abandoning path 0 needs another validated path; abandoning the last path left closes with NO_ERROR', () => {
    const p = new Pair({ seed: testSeed(1604), link: { delayMs: 10 }, clientTransport: { multipath: true }, serverTransport: { multipath: true } });
    p.handshake();
    p.runFor(200);
    assert.equal(p.client.abandonPath(p.now, 0, 0), false, 'path 0 is the only path');
    const q = pair(1605);
    assert.equal(q.client.abandonPath(q.now, 0, 0), true);
    q.runFor(500);
    assert.equal(q.client.abandonPath(q.now, 1, 0), true);
    q.runFor(1000);
    assert.equal(q.client.closeInfo?.code, TransportErrorCode.NO_ERROR);
    assert.match(q.client.closeInfo?.reason ?? '', /every path was abandoned/);
    assert.equal(q.server!.isClosed, true, 'the CONNECTION_CLOSE reached the server on path 1');
    assert.equal(q.server!.closeInfo?.remote, true);
  });

  it('the peer abandons path 0 while path 1 is still being validated on our side: the connection stays and goes on on path 1 once validated', () => {
    const p = new Pair({ seed: testSeed(1607), link: { delayMs: 10 }, clientTransport: { multipath: true }, serverTransport: { multipath: true } });
    p.handshake();
    p.runFor(200);
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:444'), { kind: 'opened', pathId: 1 });
    p.runFor(15);
    const s = p.server!;
    assert.equal(s.internals.multipath.pathAt(1)?.path.validated, false, 'the server is validating path 1');
    injectPacket(p, 'client', frameBytes({ kind: 'pathAbandon', pathId: 0, errorCode: 0 }));
    p.runFor(11);
    assert.equal(s.internals.multipath.pathAt(1)!.path.validated, false, 'still validating when the PATH_ABANDON arrived');
    assert.equal(s.isClosed, false, JSON.stringify(s.closeInfo));
    assert.equal(s.internals.multipath.isPathZeroAbandoned, true);
    p.runFor(2000);
    assert.equal(s.isClosed || p.client.isClosed, false);
    assert.equal(s.internals.multipath.pathAt(1)!.path.validated, true);
    assert.equal(p.client.internals.multipath.isPathZeroAbandoned, true, 'the client got our PATH_ABANDON of path 0');
    const { sent, got } = transfer(p, 100_000, () => {});
    assert.deepEqual(got, Buffer.from(sent));
  });

  it('qlog: path_updated for path 0 goes through abandoned and forgotten', () => {
    const events: string[] = [];
    const p = pair(1606, {}, (e) => {
      if (e.name === 'connectivity:path_updated' && e.data.path_id === 0) events.push(String(e.data.state));
    });
    p.client.abandonPath(p.now, 0, 0);
    p.runFor(3000);
    assert.deepEqual(events, ['abandoned', 'forgotten']);
  });
});
