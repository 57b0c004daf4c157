import assert from 'node:assert/strict';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { MultipathState, negotiateMultipath } from '../../../src/quic/connection/multipath.js';
import type { PathIdState } from '../../../src/quic/connection/path-id.js';

/** These connections allow path 0 only (multipathMaxPathId 0): paths other than 0 are never opened. */
const MAX = 0;
import { PacketSpace } from '../../../src/quic/packet/space.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { Pair, type Side } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';
import { defaultTransportParameters, type TransportParameters } from '../../../src/quic/transport-params.js';

const params = (initialMaxPathId: number | null, n0NatTraversal: number | null = null): TransportParameters => ({
  ...defaultTransportParameters(),
  initialMaxPathId,
  n0NatTraversal,
});

describe('multipath negotiation (draft-ietf-quic-multipath §2, n0 NAT traversal)', () => {
  it('needs initial_max_path_id from both sides; each side opens up to what its peer allows', () => {
    assert.equal(negotiateMultipath(params(null), params(7), 8, 8), null);
    assert.equal(negotiateMultipath(params(7), params(null), 8, 8), null);
    assert.deepEqual(negotiateMultipath(params(3), params(7), 8, 8), { localMaxPathId: 3, remoteMaxPathId: 7, natTraversal: null });
    assert.deepEqual(negotiateMultipath(params(0), params(0xffffffff), 8, 20), { localMaxPathId: 0, remoteMaxPathId: 0xffffffff, natTraversal: null });
  });

  it('n0 NAT traversal needs its parameter from both sides, and multipath', () => {
    // As between two iroh nodes: 7 paths, 32 addresses each way.
    assert.deepEqual(negotiateMultipath(params(7, 32), params(7, 12), 8, 8)?.natTraversal, { maxRemoteAddresses: 32, maxLocalAddresses: 12 });
    assert.equal(negotiateMultipath(params(7, 32), params(7, null), 8, 8)?.natTraversal, null);
    assert.equal(negotiateMultipath(params(7, null), params(7, 32), 8, 8)?.natTraversal, null);
    assert.equal(negotiateMultipath(params(null, 32), params(7, 32), 8, 8), null);
  });

  it('zero-length connection ids with multipath offered by both: PROTOCOL_VIOLATION (noq does the same)', () => {
    const pv = (e: unknown): boolean => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION;
    assert.throws(() => negotiateMultipath(params(7), params(7), 0, 8), pv);
    assert.throws(() => negotiateMultipath(params(7), params(7), 8, 0), pv);
    // Not offered by us: the peer's parameter is an extension we ignore (RFC 9000 §7.4.2).
    assert.equal(negotiateMultipath(params(null), params(7), 0, 0), null);
  });
});

describe('multipath negotiated between two quic-peers, path 0 only (TransportConfig.multipath)', () => {
  const pair = (client: boolean, server: boolean, seed: number): Pair => {
    const p = new Pair({ seed: testSeed(seed), link: { delayMs: 10 }, clientTransport: { multipath: client, multipathMaxPathId: MAX }, serverTransport: { multipath: server, multipathMaxPathId: MAX } });
    p.handshake();
    p.runFor(100);
    return p;
  };

  it('negotiated only when both offer it; a transfer on path 0 is byte-exact', () => {
    for (const [c, s, expect] of [[true, true, true], [true, false, false], [false, true, false], [false, false, false]] as const) {
      const p = pair(c, s, 401);
      for (const side of ['client', 'server'] as const) {
        const n = p.conn(side)!.internals.handshake.multipath;
        assert.equal(n !== null, expect, `${side} with client ${c} server ${s}`);
        if (n) assert.deepEqual(n, { localMaxPathId: MAX, remoteMaxPathId: MAX, natTraversal: { maxRemoteAddresses: 32, maxLocalAddresses: 32 } });
      }
      const data = new SeededRandom(5).fill(new Uint8Array(300_000));
      const id = p.client.openStream('uni')!;
      p.client.writeStream(id, data);
      p.client.finishStream(id);
      p.runFor(2000);
      const got = p.server!.readStream(id);
      assert.ok(got && bytesEqual(got, data), `the server holds ${got?.length ?? 0} of ${data.length} bytes`);
    }
  });

  /** Injects `frames` from `from` and runs; returns how the receiver closed, if it did. */
  const inject = (p: Pair, from: Side, ...frames: Frame[]): { code: number; reason: string } | undefined => {
    injectPacket(p, from, frameBytes(...frames), PacketSpace.Application);
    p.runFor(50);
    const info = p.conn(from === 'client' ? 'server' : 'client')!.closeInfo;
    return info ? { code: Number(info.code), reason: info.reason } : undefined;
  };
  const PV = TransportErrorCode.PROTOCOL_VIOLATION;
  const cid = (b: number): Uint8Array => new Uint8Array(8).fill(b);
  const token = (b: number): Uint8Array => new Uint8Array(16).fill(b);

  it('the frames about path 0 reach its owners: PATH_ACK acknowledges, PATH_NEW/RETIRE_CONNECTION_ID issue and retire', () => {
    const p = pair(true, true, 402);
    const c = p.client;
    // A PATH_ACK for path 0 acknowledges what the client sent (here: everything so far).
    const largest = c.internals.spaces.at(PacketSpace.Application).nextPn - 1;
    const s = p.server!;
    assert.equal(inject(p, 'client', { kind: 'pathStatus', pathId: 0, status: 'backup', sequence: 1 }, { kind: 'maxPathId', maximum: 3 }), undefined);
    assert.equal(s.internals.multipath.pathZeroStatus, 'backup');
    assert.equal(s.internals.multipath.remoteMaxPathId(s.internals.handshake.multipath!), 3);
    const sLargest = s.internals.spaces.at(PacketSpace.Application).nextPn - 1;
    assert.equal(inject(p, 'client', { kind: 'pathAck', pathId: 0, largest: sLargest, ackDelay: 0, ranges: [sLargest, 0], ecn: null }), undefined);
    assert.equal(s.internals.loss.largestAcked(PacketSpace.Application), sLargest);
    // A connection id for path 0, then its retirement.
    // (Retiring every earlier one, so the client must move to it.)
    assert.equal(inject(p, 'server', { kind: 'pathNewConnectionId', pathId: 0, sequence: 40, retirePriorTo: 40, connectionId: cid(0x40), resetToken: token(0x40) }), undefined);
    assert.ok(bytesEqual(c.internals.remoteCids.current, cid(0x40)));
    const issued = s.internals.localCids.activeCids().find((x) => x.seq !== 0)!;
    assert.equal(inject(p, 'client', { kind: 'pathRetireConnectionId', pathId: 0, sequence: issued.seq }), undefined);
    assert.ok(!s.internals.localCids.activeCids().some((x) => x.seq === issued.seq));
    // Blocked frames within our limits say nothing we act on.
    assert.equal(inject(p, 'client', { kind: 'pathsBlocked', maximum: 0 }, { kind: 'pathCidsBlocked', pathId: 0, nextSequence: 1 }), undefined);
    assert.ok(largest >= 0);
    assert.equal(p.client.isClosed || s.isClosed, false);
  });

  for (const [name, frame, code] of [
    ['PATH_ACK for a path never opened', { kind: 'pathAck', pathId: 1, largest: 0, ackDelay: 0, ranges: [0, 0], ecn: null }, PV],
    ['PATH_NEW_CONNECTION_ID above our maximum path id', { kind: 'pathNewConnectionId', pathId: MAX + 1, sequence: 0, retirePriorTo: 0, connectionId: cid(1), resetToken: token(1) }, PV],
    ['PATH_RETIRE_CONNECTION_ID for a path never opened', { kind: 'pathRetireConnectionId', pathId: 1, sequence: 0 }, PV],
    ['PATHS_BLOCKED above our maximum', { kind: 'pathsBlocked', maximum: MAX + 1 }, PV],
    ['PATH_CIDS_BLOCKED above our maximum', { kind: 'pathCidsBlocked', pathId: MAX + 1, nextSequence: 0 }, PV],
    ['PATH_ABANDON of path 0, the only path', { kind: 'pathAbandon', pathId: 0, errorCode: 0 }, TransportErrorCode.NO_ERROR],
    ['ADD_ADDRESS sent to a server (NAT traversal negotiated: the wrong side)', { kind: 'addAddress', sequence: 0, ip: Uint8Array.of(127, 0, 0, 1), port: 1 }, PV],
  ] as const satisfies ReadonlyArray<readonly [string, Frame, number]>) {
    it(`${name}: closes with 0x${code.toString(16)}`, () => {
      const p = pair(true, true, 403);
      assert.equal(inject(p, 'client', frame)?.code, code);
    });
  }

  it('PATH_STATUS and PATH_ABANDON about path ids never opened, and an older MAX_PATH_ID, are ignored', () => {
    const p = pair(true, true, 404);
    assert.equal(inject(p, 'client', { kind: 'pathStatus', pathId: 5, status: 'backup', sequence: 9 }, { kind: 'pathAbandon', pathId: 5, errorCode: 1 }), undefined);
    const s = p.server!;
    assert.equal(s.internals.multipath.pathZeroStatus, 'available');
    inject(p, 'client', { kind: 'maxPathId', maximum: 4 }, { kind: 'maxPathId', maximum: 2 });
    assert.equal(s.internals.multipath.remoteMaxPathId(s.internals.handshake.multipath!), 4);
    // A status with an older sequence number does not replace a newer one.
    inject(p, 'client', { kind: 'pathStatus', pathId: 0, status: 'backup', sequence: 3 }, { kind: 'pathStatus', pathId: 0, status: 'available', sequence: 2 });
    assert.equal(s.internals.multipath.pathZeroStatus, 'backup');
    assert.equal(s.isClosed, false);
  });
});

describe('MultipathState: path ids forgotten (draft-ietf-quic-multipath §3.1, noq\'s MAX_PATH_ID rule)', () => {
  it('a peer that opens and abandons paths for the life of the connection costs a bounded record of the ids it used', () => {
    const m = new MultipathState();
    const n = { localMaxPathId: 7, remoteMaxPathId: 7, natTraversal: null };
    const fake = (id: number): PathIdState => ({ id, counters: { packetsSent: 1, bytesSent: 1, packetsReceived: 1, bytesReceived: 1, packetsLost: 0 } }) as unknown as PathIdState;
    // Ids 1..3 skipped by the peer; then 10,000 paths opened and forgotten one after another,
    // each raising our maximum by one.
    for (let id = 4; id < 10_004; id++) {
      assert.ok(id <= m.localMaxPathId(n), `path id ${id} within our maximum ${m.localMaxPathId(n)}`);
      m.add(fake(id));
      m.forget(n, id);
    }
    assert.equal(m.closedRanges, 1, 'one range of forgotten ids');
    assert.equal(m.wasOpened(4), true);
    assert.equal(m.wasOpened(10_003), true);
    assert.equal(m.wasOpened(2), false, 'a skipped id was never opened');
    assert.equal(m.wasOpened(10_004), false);
    assert.deepEqual(m.forgotten, { packetsSent: 10_000, bytesSent: 10_000, packetsReceived: 10_000, bytesReceived: 10_000, packetsLost: 0 }, 'their counters, summed');
  });
});
