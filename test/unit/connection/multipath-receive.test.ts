import assert from 'node:assert/strict';
import { Writer } from '../../../src/codec/writer.js';
import type { Connection } from '../../../src/quic/connection/connection.js';
import type { QlogEvent } from '../../../src/quic/connection/qlog.js';
import { writeShortHeader } from '../../../src/quic/packet/header.js';
import { sealPacket } from '../../../src/quic/packet/protection.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { Pair } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';

/** Two quic-peers with multipath, both allowing path ids up to 2, connection ids exchanged. */
function pair(seed: number): Pair {
  const p = new Pair({
    seed: testSeed(seed),
    link: { delayMs: 10 },
    clientTransport: { multipath: true, multipathMaxPathId: 2 },
    serverTransport: { multipath: true, multipathMaxPathId: 2 },
  });
  p.handshake();
  p.runFor(200);
  return p;
}

/**
 * A 1-RTT packet `c` never sent: to its peer's connection id of `pathId`, packet number `pn`,
 * sealed with the current 1-RTT keys and the nonce of `nonceAs` (the path id, unless a test lies).
 */
function sealOnPath(c: Connection, pathId: number, pn: number, nonceAs = pathId): Uint8Array {
  const { keys, multipath } = c.internals;
  const peer = multipath.cids!.peerCidFor(pathId);
  assert.ok(peer, `the peer gave connection ids for path ${pathId}`);
  const payload = frameBytes({ kind: 'ping' });
  const w = new Writer(new Uint8Array(payload.length + 128));
  const marks = writeShortHeader(w, peer.cid, pn, 4, keys.keyPhase);
  w.bytesOf(payload);
  const end = sealPacket(w, marks, pn, keys.writeKeys(PacketSpace.Application), nonceAs);
  return w.buf.slice(0, end);
}

/** The test harness's reset token of the server's connection id `cid` (pair.ts `resetTokenOf(2)`). */
function serverResetToken(cid: Uint8Array): Uint8Array {
  const t = new Uint8Array(16);
  for (let i = 0; i < 16; i++) t[i] = (cid[i % cid.length] ?? 0) ^ (2 * 31 + i);
  return t;
}

describe('multipath: packets received on path ids other than 0 (draft-ietf-quic-multipath)', () => {
  it('a packet to a connection id of path id 1 opens with its nonce and counts in path 1’s own packet number space', () => {
    const p = pair(601);
    // The client never opened path 1: what the server says about it (a PATH_ACK, a challenge)
    // would be a violation to it. These tests look at the server's receive side only.
    p.clientReachable.clear();
    const s = p.server!;
    const mp = s.internals.multipath;
    assert.equal(mp.receivedOn(1), undefined, 'no receive space before its first packet');
    const app = s.internals.spaces.at(PacketSpace.Application).ack;
    for (const pn of [0, 1, 5, 1000]) p.emit('client', sealOnPath(p.client, 1, pn));
    p.runFor(50);
    const path1 = mp.receivedOn(1);
    assert.ok(path1);
    assert.equal(path1.largestReceived, 1000);
    assert.deepEqual(path1.receivedRanges(), [[0, 2], [5, 6], [1000, 1001]]);
    assert.ok(app.largestReceived < 1000, 'path 0’s space is left alone');
    assert.equal(mp.receivedOn(2), undefined);
    assert.equal(s.isClosed, false);
  });

  it('duplicates are dropped per path id; the same packet number on path 2 is another packet', () => {
    const p = pair(602);
    // Connection ids of path 2 are issued on demand: the client asks for them (PATH_CIDS_BLOCKED).
    injectPacket(p, 'client', frameBytes({ kind: 'pathCidsBlocked', pathId: 2, nextSequence: 0 }), PacketSpace.Application);
    p.runFor(100);
    p.clientReachable.clear();
    const s = p.server!;
    p.emit('client', sealOnPath(p.client, 1, 7));
    p.runFor(50);
    const before = s.getStats().packetsDropped;
    const received = s.internals.multipath.receivedOn(1)!.receivedRanges();
    p.emit('client', sealOnPath(p.client, 1, 7));
    p.emit('client', sealOnPath(p.client, 2, 7));
    p.runFor(50);
    assert.equal(s.getStats().packetsDropped, before + 1, 'the second pn 7 of path 1');
    assert.deepEqual(s.internals.multipath.receivedOn(1)!.receivedRanges(), received);
    assert.deepEqual(s.internals.multipath.receivedOn(2)!.receivedRanges(), [[7, 8]]);
  });

  it('a path id the peer opens before giving us connection ids for it: we ask for them (PATH_CIDS_BLOCKED) and acknowledge it on path 0 meanwhile', () => {
    const sent: QlogEvent[] = [];
    const p = new Pair({
      seed: testSeed(605),
      link: { delayMs: 10 },
      clientTransport: { multipath: true, multipathMaxPathId: 2 },
      serverTransport: { multipath: true, multipathMaxPathId: 2 },
      serverQlog: { event: (e) => e.name === 'transport:packet_sent' && sent.push(e) },
    });
    p.handshake();
    p.runFor(200);
    const s = p.server!;
    // The server serves path 2 (asked for), the client does not (it opened nothing).
    injectPacket(p, 'client', frameBytes({ kind: 'pathCidsBlocked', pathId: 2, nextSequence: 0 }), PacketSpace.Application);
    p.runFor(100);
    assert.equal(s.internals.multipath.cids!.peerCidFor(2), undefined);
    // The client never opened path 2 and would refuse what the server says about it.
    p.clientReachable.clear();
    sent.length = 0;
    p.emit('client', sealOnPath(p.client, 2, 0));
    p.runFor(50);
    assert.ok(s.internals.multipath.pathAt(2), 'the server met path 2');
    const frames = sent.flatMap((e) => (e.data as { frames?: Array<Record<string, unknown>> }).frames ?? []);
    assert.ok(frames.some((f) => f['frame_type'] === 'path_cids_blocked' && f['path_id'] === 2), 'PATH_CIDS_BLOCKED for path 2');
    assert.ok(frames.some((f) => f['frame_type'] === 'path_ack' && f['path_id'] === 2), 'its PATH_ACK went out (on path 0)');
    assert.equal(s.internals.multipath.receivedOn(2)!.ackPending, false);
    assert.equal(s.isClosed, false);
  });

  it('a packet to a path id 1 connection id sealed with path 0’s nonce does not open', () => {
    const p = pair(603);
    const s = p.server!;
    const before = s.getStats().packetsDropped;
    p.emit('client', sealOnPath(p.client, 1, 3, 0));
    p.runFor(50);
    assert.equal(s.getStats().packetsDropped, before + 1);
    assert.equal(s.internals.multipath.receivedOn(1), undefined, 'nothing made for a packet that did not open');
    assert.equal(s.isClosed, false);
  });

  it('a stateless reset with the token of one of the peer’s path id 1 connection ids ends the connection (RFC 9000 §10.3.1)', () => {
    const p = pair(604);
    const cid = p.server!.internals.multipath.cids!.localCidsOf(1)[0]!;
    const reset = new Uint8Array(40);
    reset[0] = 0x43;
    for (let i = 1; i < 24; i++) reset[i] = (i * 73) & 0xff;
    reset.set(serverResetToken(cid), 24);
    assert.equal(p.client.isStatelessReset(reset), true, 'the endpoint hands it to the connection');
    p.emit('server', reset);
    p.runFor(50);
    assert.equal(p.client.closeInfo?.kind, 'reset');
  });
});
