import assert from 'node:assert/strict';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { PATH_CID_COUNT } from '../../../src/quic/connection/multipath.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { Pair, type Side } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';

/** Two quic-peers with multipath, each allowing path ids up to its `max`. */
function pair(clientMax: number, serverMax: number, seed: number): Pair {
  const p = new Pair({
    seed: testSeed(seed),
    link: { delayMs: 10 },
    clientTransport: { multipath: true, multipathMaxPathId: clientMax },
    serverTransport: { multipath: true, multipathMaxPathId: serverMax },
  });
  p.handshake();
  p.runFor(200);
  return p;
}

/** Injects `frames` from `from` and runs; returns how the receiver closed, if it did. */
function inject(p: Pair, from: Side, ...frames: Frame[]): { code: number; reason: string } | undefined {
  injectPacket(p, from, frameBytes(...frames), PacketSpace.Application);
  p.runFor(100);
  const info = p.conn(from === 'client' ? 'server' : 'client')!.closeInfo;
  return info ? { code: Number(info.code), reason: info.reason } : undefined;
}

/** The connection ids `side` issued for `pathId`, and whether its peer holds one of them. */
function served(p: Pair, side: Side, pathId: number): { ours: number; peerHasOne: boolean } {
  const me = p.conn(side)!.internals.multipath.cids!;
  const peer = p.conn(side === 'client' ? 'server' : 'client')!.internals.multipath.cids!;
  const got = peer.peerCidFor(pathId);
  if (got) assert.equal(me.pathIdOf(got.cid), pathId, 'the peer holds one of ours for that path id');
  return { ours: me.localCidsOf(pathId).length, peerHasOne: got !== undefined };
}

/** Opens the next path id from `side` toward a new address and runs until it validated. */
function open(p: Pair, side: Side, pathId: number): void {
  assert.deepEqual(p.conn(side)!.openPath(p.now, side === 'client' ? `192.0.2.1:${443 + pathId}` : p.clientAddress), { kind: 'opened', pathId });
  p.runFor(200);
  assert.equal(p.conn(side)!.internals.multipath.pathAt(pathId)!.path.validated, true);
}

describe('multipath: connection ids per path id between two quic-peers (draft-ietf-quic-multipath §5.1)', () => {
  it('issued on demand: one for the next path id only, the full count once a path id opens, then one for the next', () => {
    const p = pair(7, 7, 501);
    for (const side of ['client', 'server'] as const) {
      assert.deepEqual(served(p, side, 1), { ours: 1, peerHasOne: true }, `${side}: one for path 1, at once`);
      assert.deepEqual(served(p, side, 2), { ours: 0, peerHasOne: false }, `${side}: none for path 2`);
      assert.equal(p.conn(side)!.internals.multipath.cids!.issuedMaxPathId, 1);
    }
    open(p, 'client', 1);
    for (const side of ['client', 'server'] as const) {
      assert.deepEqual(served(p, side, 1), { ours: PATH_CID_COUNT, peerHasOne: true }, `${side}: path 1 topped up`);
      assert.deepEqual(served(p, side, 2), { ours: 1, peerHasOne: true }, `${side}: one for path 2`);
      assert.deepEqual(served(p, side, 3), { ours: 0, peerHasOne: false });
    }
    // The next path id can be opened at once, by either side.
    open(p, 'client', 2);
    open(p, 'server', 3);
    for (const side of ['client', 'server'] as const) {
      assert.equal(served(p, side, 3).ours, PATH_CID_COUNT, `${side}: path 3, opened by the server`);
      assert.deepEqual(served(p, side, 4), { ours: 1, peerHasOne: true });
    }
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('two path ids opened back to back: the second waits for the peer to see the first (PATH_CIDS_BLOCKED), then opens', () => {
    const p = pair(7, 7, 510);
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:444'), { kind: 'opened', pathId: 1 });
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:445'), { kind: 'blocked', reason: 'cids' }, 'the server has not seen path 1 yet');
    assert.equal(p.client.internals.multipath.blockedPending, true, 'PATH_CIDS_BLOCKED owed');
    p.runFor(30); // one round trip: path 1's challenge reached the server, its connection ids for path 2 came back
    assert.deepEqual(p.client.openPath(p.now, '192.0.2.1:445'), { kind: 'opened', pathId: 2 });
    p.runFor(200);
    for (const id of [1, 2]) assert.equal(p.client.internals.multipath.pathAt(id)!.path.validated, true, `path ${id}`);
  });

  it('the next path id stays within the smaller maximum', () => {
    const p = pair(3, 1, 506);
    for (const side of ['client', 'server'] as const) assert.deepEqual(served(p, side, 1), { ours: 1, peerHasOne: true });
    open(p, 'client', 1);
    for (const side of ['client', 'server'] as const) {
      assert.equal(served(p, side, 1).ours, PATH_CID_COUNT);
      assert.deepEqual(served(p, side, 2), { ours: 0, peerHasOne: false }, `${side}: min(3, 1) = 1`);
    }
  });

  it('PATH_CIDS_BLOCKED is answered: the path id asked for gets the full count, within both maxima and never for a path id abandoned', () => {
    const p = pair(3, 3, 502);
    const s = p.server!.internals.multipath.cids!;
    assert.equal(inject(p, 'client', { kind: 'pathCidsBlocked', pathId: 1, nextSequence: 1 }), undefined);
    assert.equal(s.localCidsOf(1).length, PATH_CID_COUNT, 'the next path id topped up');
    assert.equal(inject(p, 'client', { kind: 'pathCidsBlocked', pathId: 3, nextSequence: 0 }), undefined);
    assert.equal(s.localCidsOf(3).length, PATH_CID_COUNT, 'a later one served');
    assert.deepEqual(served(p, 'server', 3), { ours: PATH_CID_COUNT, peerHasOne: true });
    assert.equal(s.localCidsOf(2).length, 0, 'not the ones between');
    // The client opens path 1, abandons it; once forgotten, asking for it gets nothing.
    open(p, 'client', 1);
    p.client.abandonPath(p.now, 1);
    p.runFor(3000);
    assert.equal(p.server!.internals.multipath.isForgotten(1), true);
    assert.equal(inject(p, 'client', { kind: 'pathCidsBlocked', pathId: 1, nextSequence: 5 }), undefined);
    assert.deepEqual(s.localCidsOf(1), []);
    // Above our maximum (raised to 4 by the forgotten path id): PROTOCOL_VIOLATION.
    assert.equal(inject(p, 'client', { kind: 'pathCidsBlocked', pathId: 5, nextSequence: 0 })?.code, TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('PATH_CIDS_BLOCKED above the peer\'s maximum is not served (the peer would refuse them)', () => {
    const p = pair(1, 3, 507);
    assert.equal(inject(p, 'client', { kind: 'pathCidsBlocked', pathId: 2, nextSequence: 0 }), undefined);
    assert.deepEqual(p.server!.internals.multipath.cids!.localCidsOf(2), []);
    assert.equal(p.client.isClosed, false);
  });

  it('PATH_RETIRE_CONNECTION_ID gets a replacement on the next path id and on an open one; MAX_PATH_ID does not take us past our own maximum', () => {
    const p = pair(3, 2, 503);
    const s = p.server!.internals.multipath.cids!;
    open(p, 'client', 1);
    assert.equal(inject(p, 'client', { kind: 'maxPathId', maximum: 3 }), undefined);
    assert.equal(s.issuedMaxPathId, 2, 'still bounded by our own maximum (2)');
    // Path 2 (the next one, never used by the client): its one connection id is replaced.
    const before = s.localCidsOf(2);
    assert.equal(before.length, 1);
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 2, sequence: 0 }), undefined);
    const after = s.localCidsOf(2);
    assert.equal(after.length, 1, 'a replacement was issued');
    assert.notDeepEqual(after[0], before[0]);
    // Path 1 (open): the client sends with its lowest, sequence 0; retiring another is replaced.
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 1, sequence: PATH_CID_COUNT - 1 }), undefined);
    assert.equal(s.localCidsOf(1).length, PATH_CID_COUNT, 'replaced');
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('a PATH_RETIRE_CONNECTION_ID for a path id never served: PROTOCOL_VIOLATION', () => {
    const p = pair(3, 3, 504);
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 3, sequence: 0 })?.code, TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('a path id forgotten leaves no connection id either way; late frames about them are ignored', () => {
    const p = pair(3, 3, 508);
    open(p, 'client', 1);
    const ours = p.server!.internals.multipath.cids!.localCidsOf(1);
    p.client.abandonPath(p.now, 1);
    p.runFor(3000);
    for (const side of ['client', 'server'] as const) {
      const mp = p.conn(side)!.internals.multipath;
      assert.equal(mp.isForgotten(1), true);
      assert.deepEqual(mp.cids!.localCidsOf(1), []);
      assert.equal(mp.cids!.peerCidFor(1), undefined);
      assert.equal(mp.cids!.peekRetire(), undefined);
    }
    for (const cid of ours) assert.equal(p.server!.internals.multipath.cids!.pathIdOf(cid), undefined);
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 1, sequence: 0 }), undefined);
    assert.equal(inject(p, 'client', { kind: 'pathNewConnectionId', pathId: 1, sequence: 9, retirePriorTo: 0, connectionId: new Uint8Array(8).fill(7), resetToken: new Uint8Array(16) }), undefined);
    assert.equal(p.server!.internals.multipath.cids!.peerCidFor(1), undefined);
  });

  it('bounds: paths opened and abandoned over and over leave connection ids of the open and next path ids only', () => {
    const p = pair(2, 2, 509);
    for (let id = 1; id <= 12; id++) {
      open(p, 'client', id);
      p.client.abandonPath(p.now, id);
      p.runFor(3000);
    }
    for (const side of ['client', 'server'] as const) {
      const cids = p.conn(side)!.internals.multipath.cids!;
      let held = 0;
      for (let id = 1; id <= 14; id++) held += cids.localCidsOf(id).length + (cids.peerCidFor(id) ? 1 : 0);
      assert.equal(held, 2, `${side}: one of ours and one of the peer's, for path 13`);
      assert.deepEqual(served(p, side, 13), { ours: 1, peerHasOne: true });
    }
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('with a maximum of 0 nothing is issued for other path ids, and with multipath off nothing is allocated', () => {
    const p = pair(0, 0, 505);
    assert.equal(p.client.internals.multipath.cids!.issuedMaxPathId, 0);
    assert.equal(p.server!.internals.multipath.cids!.peerCidFor(1), undefined);
    const off = new Pair({ seed: testSeed(505), clientTransport: { multipath: false }, serverTransport: { multipath: false } });
    off.handshake();
    assert.equal(off.client.internals.multipath.cids, null, 'no allocation with multipath off');
  });
});
