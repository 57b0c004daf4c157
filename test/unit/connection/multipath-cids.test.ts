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

describe('multipath: connection ids per path id between two quic-peers (draft-ietf-quic-multipath §5.1)', () => {
  it('each side issues connection ids for the path ids up to the smaller maximum, and holds the other side’s', () => {
    const p = pair(3, 2, 501);
    for (const side of ['client', 'server'] as const) {
      const me = p.conn(side)!.internals.multipath.cids!;
      const peer = p.conn(side === 'client' ? 'server' : 'client')!.internals.multipath.cids!;
      assert.equal(me.issuedMaxPathId, 2, `${side}: min(3, 2)`);
      for (const id of [1, 2]) {
        assert.equal(me.localCidsOf(id).length, PATH_CID_COUNT);
        const got = peer.peerCidFor(id);
        assert.ok(got, `${side}'s connection ids for path ${id} reached its peer`);
        assert.equal(me.pathIdOf(got.cid), id);
      }
      assert.equal(peer.peerCidFor(3), undefined);
    }
    assert.equal(p.client.isClosed || p.server!.isClosed, false);
  });

  it('MAX_PATH_ID does not take us past our own maximum; PATH_RETIRE_CONNECTION_ID gets a replacement; PATH_CIDS_BLOCKED is recorded', () => {
    const p = pair(3, 1, 502);
    const s = p.server!.internals.multipath.cids!;
    const c = p.client.internals.multipath.cids!;
    assert.equal(s.issuedMaxPathId, 1);
    assert.equal(inject(p, 'client', { kind: 'maxPathId', maximum: 3 }), undefined);
    assert.equal(s.issuedMaxPathId, 1, 'still bounded by our own maximum (1)');
    assert.equal(c.issuedMaxPathId, 1);
    const before = s.localCidsOf(1);
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 1, sequence: 0 }), undefined);
    p.runFor(200);
    const after = s.localCidsOf(1);
    assert.equal(after.length, PATH_CID_COUNT, 'a replacement was issued');
    assert.ok(!after.includes(before[0]!));
    assert.equal(inject(p, 'client', { kind: 'pathCidsBlocked', pathId: 1, nextSequence: 9 }), undefined);
    assert.deepEqual(s.blockedPathIds, [1]);
  });

  it('a PATH_RETIRE_CONNECTION_ID for a path id never served: PROTOCOL_VIOLATION', () => {
    const p = pair(3, 3, 503);
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 3, sequence: PATH_CID_COUNT + 5 })?.code, TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('with the default maximum (0) nothing is issued for other path ids', () => {
    const p = pair(0, 0, 504);
    assert.equal(p.client.internals.multipath.cids!.issuedMaxPathId, 0);
    assert.equal(p.server!.internals.multipath.cids!.peerCidFor(1), undefined);
    const off = new Pair({ seed: testSeed(505) });
    off.handshake();
    assert.equal(off.client.internals.multipath.cids, null, 'no allocation with multipath off');
  });
});
