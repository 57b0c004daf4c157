import assert from 'node:assert/strict';
import { ADVERTISED_MAX_PATH_ID } from '../../../src/quic/connection/multipath.js';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { QlogRecorder, type QlogEvent } from '../../../src/quic/connection/qlog.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';

/** Two quic-peers with multipath, both allowing path ids up to `max`, handshake confirmed. */
function pair(seed: number, max = 3, extra: { loss?: number } = {}): Pair {
  const p = new Pair({
    seed: testSeed(seed),
    link: { delayMs: 10, ...(extra.loss ? { dropRate: extra.loss } : {}) },
    clientTransport: { multipath: true, multipathMaxPathId: max },
    serverTransport: { multipath: true, multipathMaxPathId: max },
  });
  p.handshake();
  p.runFor(200);
  return p;
}

/** Opens path id 1 from the client and lets it validate. */
function openPathOne(p: Pair): void {
  const r = p.client.openPath(p.now, '192.0.2.1:444');
  assert.deepEqual(r, { kind: 'opened', pathId: 1 });
  p.runFor(200);
}

/** Writes `size` patterned bytes on a new client stream and FIN; returns the stream id and the bytes. */
function startTransfer(p: Pair, size: number): { id: number; data: Uint8Array } {
  const id = p.client.openStream('uni')!;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff;
  return { id, data };
}

/**
 * Lets path id 1 die and come back: while killed, every 1-RTT datagram to one of the receiver's
 * path-1 connection ids is lost, both ways.
 */
function pathOneSwitch(p: Pair): { kill(): void; revive(): void } {
  let dead = false;
  const onPath1 = (side: 'client' | 'server', bytes: Uint8Array): boolean => {
    const to = side === 'client' ? p.server! : p.client;
    const cids = to.internals.multipath.cids!.localCidsOf(1);
    return (bytes[0]! & 0x80) === 0 && cids.some((c) => c.every((b, i) => bytes[1 + i] === b));
  };
  for (const [side, link] of [['client', p.c2s], ['server', p.s2c]] as const) {
    const send = link.send.bind(link);
    link.send = (now, bytes, from) => {
      if (dead && onPath1(side, bytes)) return;
      send(now, bytes, from);
    };
  }
  return { kill: () => void (dead = true), revive: () => void (dead = false) };
}

/** Runs the transfer until the server read everything; returns what it read. */
function drive(p: Pair, t: { id: number; data: Uint8Array }, during?: (p: Pair) => void, maxMs = 60_000): Uint8Array {
  let written = 0;
  const got: Uint8Array[] = [];
  let gotLen = 0;
  let fin = false;
  let accepted = false;
  let hook = during;
  const end = p.now + maxMs;
  while (!fin) {
    if (p.now > end) throw new Error(`transfer incomplete: ${gotLen} of ${t.data.length} bytes at ${p.now}`);
    if (written < t.data.length) {
      written += p.client.writeStream(t.id, t.data.subarray(written));
      if (written === t.data.length) p.client.finishStream(t.id);
    }
    if (hook && gotLen > t.data.length / 3) {
      hook(p);
      hook = undefined;
    }
    p.step();
    const s = p.server!;
    for (let sid = s.acceptStream('uni'); sid !== null; sid = s.acceptStream('uni')) {
      assert.equal(sid, t.id);
      accepted = true;
    }
    if (!accepted) continue;
    const rs = s.recvStream(t.id);
    while (!rs.ended) {
      const chunk = rs.read();
      if (chunk === null) break;
      got.push(chunk.slice());
      gotLen += chunk.length;
    }
    if (rs.ended) fin = true;
  }
  return Buffer.concat(got);
}

describe('multipath: paths opened, used, acknowledged and abandoned (draft-ietf-quic-multipath)', () => {
  it('a client opens path id 1: it is validated both ways with padded PATH_CHALLENGEs, and PATH_ACKs give it an RTT', () => {
    const p = pair(701);
    openPathOne(p);
    const c = p.client;
    const s = p.server!;
    const cp = c.internals.multipath.pathAt(1)!;
    const sp = s.internals.multipath.pathAt(1)!;
    assert.ok(cp && sp, 'both sides hold path id 1');
    assert.equal(cp.path.validated, true);
    assert.equal(sp.path.validated, true);
    assert.equal(cp.openedBy, 'local');
    assert.equal(sp.openedBy, 'remote');
    assert.ok(cp.rtt.hasSample, 'the client sampled path 1’s RTT');
    assert.ok(cp.rtt.smoothed >= 20 && cp.rtt.smoothed < 60, `rtt ${cp.rtt.smoothed}`);
    assert.equal(cp.loss.hasAckElicitingInFlight(PacketSpace.Application), false, 'every ack-eliciting packet of path 1 acknowledged by PATH_ACK');
    assert.equal(sp.loss.hasAckElicitingInFlight(PacketSpace.Application), false);
    assert.ok(cp.loss.largestAcked(PacketSpace.Application) >= 0 && sp.loss.largestAcked(PacketSpace.Application) >= 0);
    assert.ok(s.internals.multipath.receivedOn(1)!.largestReceived >= 0);
    const infos = c.paths();
    assert.deepEqual(infos.map((i) => [i.pathId, i.validated, i.abandoned]), [[0, true, false], [1, true, false]]);
    assert.equal(infos[1]!.remoteAddress, '192.0.2.1:444');
    assert.ok(infos[1]!.packetsSent > 0 && infos[1]!.packetsReceived > 0);
    assert.equal(c.isClosed || s.isClosed, false);
  });

  it('data moves to path 1 when path 0 is made backup, and arrives byte-exact', () => {
    const p = pair(702);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    assert.equal(p.client.paths()[1]!.selected, true);
    const t = startTransfer(p, 300_000);
    const before0 = p.client.paths()[0]!.bytesSent;
    const got = drive(p, t);
    assert.deepEqual(got, Buffer.from(t.data));
    const [zero, one] = p.client.paths();
    assert.ok(one!.bytesSent > 300_000, `path 1 carried the data (${one!.bytesSent})`);
    assert.ok(zero!.bytesSent - before0 < 20_000, `path 0 carried little (${zero!.bytesSent - before0})`);
    // ACK of ACK per path id: the server's PATH_ACKs acknowledged, it stops repeating old ranges.
    const ranges = p.server!.internals.multipath.receivedOn(1)!.receivedRanges();
    assert.ok(ranges[0]![0] > 0, `old path 1 ranges pruned (${JSON.stringify(ranges)})`);
  });

  it('a path abandoned mid-transfer: its in-flight data is sent again on path 0, nothing is lost; the peer answers with PATH_ABANDON and both forget it', () => {
    const p = pair(703);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 1_000_000);
    const got = drive(p, t, (q) => assert.equal(q.client.abandonPath(q.now, 1), true));
    assert.deepEqual(got, Buffer.from(t.data));
    assert.equal(p.client.internals.multipath.pathAt(1)?.isAbandoned ?? true, true);
    p.runFor(3000);
    assert.equal(p.client.internals.multipath.pathAt(1), undefined, 'the client forgot path 1');
    assert.equal(p.server!.internals.multipath.pathAt(1), undefined, 'the server forgot path 1');
    assert.equal(p.client.paths().length, 1);
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('path 1 dies mid-transfer (every datagram of it lost both ways): data falls back to path 0 after two PTOs, byte-exact, and path 1 is abandoned after ABANDON_PATH_PTOS', () => {
    const p = pair(710);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 1_000_000);
    const pathOne = pathOneSwitch(p);
    const got = drive(p, t, () => pathOne.kill());
    assert.deepEqual(got, Buffer.from(t.data));
    const one = p.client.paths()[1];
    assert.ok(one === undefined || one.selected === false, 'path 1 no longer selected');
    // Abandoned after ABANDON_PATH_PTOS silent PTOs (the PATH_ABANDON went on path 0): the peer
    // stops sending on it, its ACKs of path 0 included, long before any idle timeout.
    const gone = (c: typeof p.client): boolean => c.internals.multipath.pathAt(1)?.isAbandoned ?? true;
    const from = p.now;
    p.drive(() => gone(p.client), 5_000);
    assert.ok(p.now - from < 5_000, `abandoned ${p.now - from} ms after the transfer`);
    p.runFor(100);
    assert.ok(gone(p.server!), 'the peer heard it');
    // Then forgotten, and the connection lives on.
    p.client.ping();
    p.drive(() => p.client.internals.multipath.pathAt(1) === undefined, 40_000);
    assert.equal(p.client.isClosed, false);
  });

  it('path 1 dies while the peer acknowledges path 0 on it (as iroh does): path 0\'s PTO backoff starts over, the PATH_ABANDON reaches the peer within 2 s and the transfer ends byte-exact', () => {
    const p = pair(712);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 1_000_000);
    const pathOne = pathOneSwitch(p);
    // Until the server hears that path 1 is abandoned, everything it sends toward the client is
    // lost: its acknowledgments of path 0 travelled on path 1 (iroh acknowledges every path on
    // the one it selected), so the client's path 0 hears nothing and its PTO backs off.
    const serverPathOne = (): boolean => !(p.server!.internals.multipath.pathAt(1)?.isAbandoned ?? true);
    let killedAt = -1;
    let heardAt = -1;
    const send = p.s2c.send.bind(p.s2c);
    p.s2c.send = (now, bytes, from) => {
      if (killedAt >= 0 && heardAt < 0) {
        if (serverPathOne()) return;
        heardAt = now;
      }
      send(now, bytes, from);
    };
    const got = drive(p, t, (q) => {
      pathOne.kill();
      killedAt = q.now;
    });
    assert.deepEqual(got, Buffer.from(t.data));
    assert.ok(heardAt > 0, 'the server heard the PATH_ABANDON');
    // Path 1's 4 PTOs (~1 s) and one base PTO of path 0 (before: its backed-off PTO, seconds, and
    // a PATH_ABANDON dropped with path 1's state when that was forgotten first: never heard).
    assert.ok(heardAt - killedAt < 2_000, `the server heard the PATH_ABANDON ${heardAt - killedAt} ms after path 1 died`);
    assert.equal(p.client.isClosed, false);
  });

  it('a PATH_ABANDON that could not be sent before its path\'s lingering ended is kept: the path id is forgotten only once it is acknowledged', () => {
    const p = pair(713);
    openPathOne(p);
    const st = p.client.internals.multipath.pathAt(1)!;
    // Every datagram from the client is lost for 3 s: its PATH_ABANDON goes out in vain, again
    // and again, while the 3 PTOs of lingering pass.
    let mute = true;
    const send = p.c2s.send.bind(p.c2s);
    p.c2s.send = (now, bytes, from) => {
      if (!mute) send(now, bytes, from);
    };
    assert.equal(p.client.abandonPath(p.now, 1), true);
    p.runFor(3_000);
    assert.equal(st.forgetDeadline, Number.POSITIVE_INFINITY);
    assert.equal(p.client.internals.multipath.pathAt(1), st, 'not forgotten while its PATH_ABANDON is unacknowledged');
    assert.equal(p.server!.internals.multipath.pathAt(1)?.isAbandoned, false);
    mute = false;
    p.drive(() => p.server!.internals.multipath.pathAt(1)?.isAbandoned ?? true, 10_000);
    assert.notEqual(p.server!.internals.multipath.pathAt(1)?.isAbandoned, false, 'the peer heard it');
    p.drive(() => p.client.internals.multipath.pathAt(1) === undefined, 10_000);
    assert.equal(p.client.internals.multipath.pathAt(1), undefined, 'forgotten once acknowledged');
    assert.equal(p.client.isClosed, false);
  });

  it('a path that stopped answering is made backup for the peer, and available again once it answers', () => {
    const p = pair(711);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 600_000);
    const pathOne = pathOneSwitch(p);
    const st = p.client.internals.multipath.pathAt(1)!;
    // Path 1 goes silent mid-transfer; as soon as it is backup it answers again (before the
    // ABANDON_PATH_PTOS-th PTO): its next probe is acknowledged.
    const got = drive(p, t, (q) => {
      pathOne.kill();
      q.drive(() => st.localStatus === 'backup', 10_000);
      assert.equal(st.backupForFailure, true);
      q.runFor(30);
      assert.equal(q.server!.internals.multipath.pathAt(1)?.remoteStatus, 'backup');
      pathOne.revive();
    });
    assert.deepEqual(got, Buffer.from(t.data));
    p.runFor(200);
    assert.equal(st.isAbandoned, false);
    assert.equal(st.localStatus, 'available');
    assert.equal(p.server!.internals.multipath.pathAt(1)?.remoteStatus, 'available');
    assert.equal(p.client.isClosed, false);
  });

  it('a path that carries no data lives on: with keep-alives on, each open path id gets a PING after keepAliveIntervalMs of quiet, so the path idle timeout spares it', () => {
    const t = { multipath: true, multipathMaxPathId: 3, keepAliveIntervalMs: 5_000, maxIdleTimeoutMs: 30_000 };
    const p = new Pair({ seed: testSeed(715), link: { delayMs: 10 }, clientTransport: t, serverTransport: t });
    p.handshake();
    p.runFor(200);
    openPathOne(p);
    // Path 1 backup on both sides' word: new data and the connection's keep-alives go on path 0.
    assert.equal(p.client.setPathStatus(1, 'backup'), true);
    p.runFor(100);
    const sentBefore = p.client.paths()[1]!.packetsSent;
    p.runFor(70_000);
    for (const c of [p.client, p.server!]) {
      const one = c.paths().find((x) => x.pathId === 1);
      assert.ok(one !== undefined && !one.abandoned && one.validated, JSON.stringify(c.paths()));
      assert.equal(one.selected, false);
    }
    // One or two packets per 5 s on path 1: a PING, and a PATH_ACK-only packet when the peer's
    // keep-alive comes first (which side's timer leads depends on who sent last when it opened).
    const pings = p.client.paths()[1]!.packetsSent - sentBefore;
    assert.ok(pings >= 12 && pings <= 30, `${pings} packets on path 1 in 70 s`);
    assert.equal(p.client.isClosed, false);
  });

  it('getStats().paths: each path id\'s figures sum to the connection\'s; path 0 does not take over a forgotten path\'s counters', () => {
    const p = pair(716);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 300_000);
    assert.deepEqual(drive(p, t), Buffer.from(t.data));
    p.runFor(500); // everything acknowledged: nothing in flight to re-send on path 0
    const st = p.client.getStats();
    assert.deepEqual(st.paths.map((x) => [x.pathId, x.selected, x.abandoned]), [[0, false, false], [1, true, false]]);
    const [zero, one] = st.paths;
    assert.equal(one!.remoteAddress, '192.0.2.1:444');
    assert.ok(one!.bytesSent > 300_000 && one!.rtt.min >= 20 && one!.rtt.smoothed >= one!.rtt.min && one!.cwnd > 0 && one!.mtu >= 1200, JSON.stringify(one));
    assert.ok(zero!.rtt.min >= 20 && zero!.ptoCount === 0);
    for (const k of ['packetsSent', 'bytesSent', 'packetsReceived', 'bytesReceived'] as const) assert.equal(zero![k] + one![k], st[k], k);
    // Path 1 abandoned and forgotten: path 0 keeps its own figures.
    assert.equal(p.client.abandonPath(p.now, 1), true);
    p.runFor(3000);
    const after = p.client.getStats();
    assert.deepEqual(after.paths.map((x) => x.pathId), [0]);
    assert.ok(after.paths[0]!.bytesSent - zero!.bytesSent < 20_000, `path 0: ${zero!.bytesSent} -> ${after.paths[0]!.bytesSent} bytes sent`);
    assert.ok(after.bytesSent >= st.bytesSent + (after.paths[0]!.bytesSent - zero!.bytesSent));
  });

  it('qlog: recovery:metrics_updated for path id 1 carries its path_id, only what changed, while it is open', () => {
    const events: QlogEvent[] = [];
    const p = new Pair({
      seed: testSeed(717),
      link: { delayMs: 10 },
      clientTransport: { multipath: true },
      serverTransport: { multipath: true },
      clientQlog: { event: (e) => events.push(e) },
    });
    p.handshake();
    p.runFor(200);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 200_000);
    drive(p, t);
    const metrics = events.flatMap((e) => (e.name === 'recovery:metrics_updated' ? [e.data] : []));
    const one = metrics.filter((m) => m.path_id === 1);
    assert.ok(one.length > 5, `${one.length} events for path 1`);
    assert.ok(metrics.some((m) => m.path_id === undefined), 'path 0\'s series carries no path_id');
    const last: Record<string, number> = {};
    for (const m of one) {
      for (const [k, v] of Object.entries(m)) {
        if (k === 'path_id') continue;
        assert.notEqual(last[k], v, `${k} repeated`);
        last[k] = v as number;
      }
    }
    assert.ok(last.min_rtt! >= 20 && last.congestion_window! > 12_000, JSON.stringify(last));
    // Forgotten: no more events for it.
    p.client.abandonPath(p.now, 1);
    p.runFor(3000);
    const n = events.length;
    p.client.ping();
    p.runFor(1000);
    assert.ok(!events.slice(n).some((e) => e.name === 'recovery:metrics_updated' && e.data.path_id === 1));
  });

  it('qlog: path_updated events follow path id 1 through opened, validated, abandoned and forgotten', () => {
    const events: QlogEvent[] = [];
    const p = new Pair({
      seed: testSeed(713),
      link: { delayMs: 10 },
      clientTransport: { multipath: true },
      serverTransport: { multipath: true },
      clientQlog: { event: (e) => events.push(e) },
    });
    p.handshake();
    p.runFor(200);
    openPathOne(p);
    p.client.abandonPath(p.now, 1);
    p.runFor(3000);
    const states = events.flatMap((e) => (e.name === 'connectivity:path_updated' ? [`${e.data.path_id}:${e.data.state}`] : []));
    assert.deepEqual(states, ['1:opened', '1:validated', '1:abandoned', '1:forgotten']);
  });

  it('path 0 dies mid-transfer while path 1 (backup) works: data and PATH_ACKs move to path 1, byte-exact', () => {
    const p = pair(714);
    openPathOne(p);
    p.client.setPathStatus(1, 'backup');
    p.runFor(50);
    assert.equal(p.client.paths()[0]!.selected, true);
    const t = startTransfer(p, 600_000);
    const onPath1 = (side: 'client' | 'server', bytes: Uint8Array): boolean => {
      const to = side === 'client' ? p.server! : p.client;
      const cids = to.internals.multipath.cids!.localCidsOf(1);
      return (bytes[0]! & 0x80) === 0 && cids.some((c) => c.every((b, i) => bytes[1 + i] === b));
    };
    let dead = false;
    for (const [side, link] of [['client', p.c2s], ['server', p.s2c]] as const) {
      const send = link.send.bind(link);
      link.send = (now, bytes, from) => {
        if (dead && !onPath1(side, bytes)) return;
        send(now, bytes, from);
      };
    }
    const got = drive(p, t, () => {
      dead = true;
    });
    assert.deepEqual(got, Buffer.from(t.data));
    assert.equal(p.client.paths()[1]!.selected, true, 'path 1 carries the data now');
  });

  for (const abandonZero of [false, true]) {
    it(`a CONNECTION_CLOSE carries the PATH_ACKs: a FIN that arrived on path 1 just before the peer closed is acknowledged${abandonZero ? ' (path 0 abandoned: the close goes on path 1)' : ''}`, () => {
      const p = pair(abandonZero ? 717 : 716);
      openPathOne(p);
      p.client.setPathStatus(0, 'backup');
      p.runFor(50);
      if (abandonZero) {
        assert.equal(p.client.abandonPath(p.now, 0), true);
        p.runFor(100);
        assert.equal(p.server!.internals.multipath.isPathZeroAbandoned, true);
      }
      assert.equal(p.client.paths().find((i) => i.pathId === 1)?.selected, true);
      const id = p.client.openStream('bidi')!;
      assert.equal(p.client.writeStream(id, new Uint8Array(100).fill(1)), 100);
      p.client.finishStream(id);
      // The server reads it all and closes at once, before its delayed PATH_ACK of path 1.
      let read = 0;
      p.drive(() => {
        const s = p.server!;
        if ((s.acceptStream('bidi') ?? (read > 0 ? id : null)) === null) return false;
        for (let d = s.readStream(id); d; d = s.readStream(id)) read += d.length;
        return read === 100;
      });
      assert.equal(p.server!.internals.multipath.receivedOn(1)?.ackPending, true, 'a PATH_ACK of path 1 is owed');
      p.server!.close(p.now, 0, 'done');
      p.drive(() => p.client.isClosed);
      const types = p.clientEvents.map((e) => e.type);
      const done = p.clientEvents.findIndex((e) => e.type === 'sendDone' && e.id === id);
      assert.ok(done >= 0, `the client's FIN was acknowledged: ${types.join(', ')}`);
      assert.ok(done < types.indexOf('closed'), `acknowledged before the close, in its packet: ${types.join(', ')}`);
    });
  }

  it('after an abandon MAX_PATH_ID lets the client open one more path id than the initial maximum', () => {
    const p = pair(704, 1);
    openPathOne(p);
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:445'), { kind: 'blocked', reason: 'pathIds' });
    p.client.abandonPath(p.now, 1);
    p.runFor(3000);
    const r = p.client.openPath(p.now, '192.0.2.1:445');
    assert.deepEqual(r, { kind: 'opened', pathId: 2 });
    p.runFor(300);
    assert.equal(p.client.internals.multipath.pathAt(2)!.path.validated, true);
  });

  it('a PATH_ACK naming a packet never sent on that path id is a PROTOCOL_VIOLATION', () => {
    const p = pair(705);
    openPathOne(p);
    const sent = p.client.internals.multipath.pathAt(1)!.nextPn;
    injectPacket(p, 'server', frameBytes({ kind: 'pathAck', pathId: 1, largest: sent + 5, ackDelay: 0, ranges: [sent + 5, sent + 5], ecn: null }));
    p.runFor(50);
    assert.equal(p.client.closeInfo?.kind, 'transport');
    assert.equal(p.client.closeInfo?.code, TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('a key update while data flows on path 1 is one key phase for every path id', () => {
    const p = pair(706);
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(50);
    const t = startTransfer(p, 400_000);
    const got = drive(p, t, (q) => assert.equal(q.client.initiateKeyUpdate(q.now), true));
    assert.deepEqual(got, Buffer.from(t.data));
    assert.equal(p.client.internals.keys.updates, 1);
    assert.equal(p.server!.internals.keys.updates, 1);
    assert.equal(p.server!.getStats().packetsDropped, 0);
  });

  it('a lossy link: path 1 recovers its own losses (PTO and packet threshold per path id)', () => {
    const p = pair(707, 3, { loss: 0.05 });
    openPathOne(p);
    p.client.setPathStatus(0, 'backup');
    p.runFor(200);
    const t = startTransfer(p, 300_000);
    const got = drive(p, t, undefined, 120_000);
    assert.deepEqual(got, Buffer.from(t.data));
    assert.ok(p.client.paths()[1]!.packetsLost > 0, 'losses were detected on path 1');
  });

  it('multipath is on by default with initial_max_path_id 7 (as iroh), and absent with `multipath: false`', () => {
    const on = new Pair({ seed: testSeed(711) });
    on.handshake();
    assert.equal(on.client.localTransportParameters.initialMaxPathId, ADVERTISED_MAX_PATH_ID);
    assert.equal(ADVERTISED_MAX_PATH_ID, 7);
    assert.equal(on.server!.peerTransportParameters?.initialMaxPathId, 7);
    const off = new Pair({ seed: testSeed(712), clientTransport: { multipath: false }, serverTransport: { multipath: false } });
    off.handshake();
    assert.equal(off.client.localTransportParameters.initialMaxPathId, null);
    assert.equal(off.server!.peerTransportParameters?.initialMaxPathId, null);
  });

  it('against a peer that does not offer multipath (every stack but iroh), a default quic-peer sends what one with `multipath: false` sends: only its two parameters differ, in its padded first flight', () => {
    // Both directions: the default side as client, then as server. The same seed, the same
    // transfer; the datagrams' sizes and times must be the same with and without our parameters.
    for (const defaultSide of ['client', 'server'] as const) {
      const wire = (ours: { multipath?: boolean }): { sizes: string[]; frames: string[]; params: unknown[] } => {
        const q = new QlogRecorder();
        const off = { multipath: false };
        const p = new Pair({
          seed: testSeed(713),
          link: { delayMs: 10 },
          trace: true,
          clientTransport: defaultSide === 'client' ? ours : off,
          serverTransport: defaultSide === 'server' ? ours : off,
          ...(defaultSide === 'client' ? { clientQlog: q } : { serverQlog: q }),
        });
        p.handshake();
        const t = startTransfer(p, 100_000);
        assert.equal(drive(p, t).length, t.data.length);
        p.runFor(6_000);
        const conn = p.conn(defaultSide)!;
        assert.equal(conn.internals.handshake.multipath, null);
        assert.equal(conn.internals.multipath.cids?.issuedMaxPathId ?? 0, 0, 'no connection id issued for a path id >= 1');
        assert.equal(conn.internals.multipath.paths.size, 0);
        assert.equal(conn.internals.nat?.machine ?? null, null);
        const frames = q.named('transport:packet_sent').flatMap((e) => e.data.frames?.map((f) => f.frame_type) ?? []);
        const params = q.named('transport:parameters_set').filter((e) => e.data.owner === 'local').map((e) => [e.data.initial_max_path_id, e.data.n0_nat_traversal]);
        return { sizes: p.trace.map((d) => `${d.from}@${d.at}:${d.bytes.length}`), frames: [...new Set(frames)].sort(), params };
      };
      const byDefault = wire({});
      const off = wire({ multipath: false });
      assert.deepEqual(byDefault.params, [[7, 32]], 'the two parameters are sent');
      assert.deepEqual(off.params, [[undefined, undefined]]);
      assert.deepEqual(byDefault.sizes, off.sizes, `${defaultSide}: the same datagrams`);
      assert.deepEqual(byDefault.frames, off.frames);
      assert.equal(byDefault.frames.some((f) => f.startsWith('path_') && f !== 'path_challenge' && f !== 'path_response'), false, byDefault.frames.join(' '));
    }
  });

  it('opening is refused without multipath, before confirmation, and past the peer’s maximum (PATHS_BLOCKED sent)', () => {
    const off = new Pair({ seed: testSeed(708), clientTransport: { multipath: false }, serverTransport: { multipath: false } });
    off.handshake();
    assert.deepEqual(off.client.openPath(off.now, 'x:1'), { kind: 'blocked', reason: 'unavailable' });
    assert.deepEqual(off.client.paths().map((i) => i.pathId), [0]);
    const p = pair(709, 1);
    openPathOne(p);
    assert.deepEqual(p.client.openPath(p.now, 'x:2'), { kind: 'blocked', reason: 'pathIds' });
    assert.equal(p.client.internals.multipath.blockedPending, true, 'PATHS_BLOCKED owed');
    p.runFor(100);
    assert.equal(p.client.internals.multipath.blockedPending, false, 'PATHS_BLOCKED sent');
  });
});
