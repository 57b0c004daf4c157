import assert from 'node:assert/strict';
import { PathCids } from '../../../src/quic/connection/path-cids.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { FrameType } from '../../../src/quic/frames/types.js';
import { SeededRandom } from '../../../src/tls/random.js';

const token = (cid: Uint8Array): Uint8Array => new Uint8Array(16).fill(cid[0]! ^ 0x5a);
const cidOf = (n: number, len = 8): Uint8Array => new Uint8Array(len).fill(n);
const tok = (n: number): Uint8Array => new Uint8Array(16).fill(n);

/** The transport error `f` throws (code and frame type), or undefined. */
function error(f: () => void): { code: number; frameType: number | undefined } | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof TransportError, `expected a TransportError, got ${String(e)}`);
    return { code: e.code, frameType: e.frameType };
  }
}

/** Every PATH_NEW_CONNECTION_ID owed, marked sent, as "pathId/seq". */
function drainNew(p: PathCids): string[] {
  const out: string[] = [];
  for (let f = p.peekNewCid(); f; f = p.peekNewCid()) {
    out.push(`${f.pathId}/${f.info.seq}`);
    assert.deepEqual(f.info.resetToken, token(f.info.cid));
    p.onNewCidSent(f.pathId, f.info.seq);
  }
  return out;
}

describe('connection ids per path id (draft-ietf-quic-multipath §5.1)', () => {
  it('issues connection ids for a path id only when served, as many as asked, more later, never fewer', () => {
    const p = new PathCids(8, new SeededRandom(1), token, 4);
    assert.equal(p.hasPendingNewCid, false);
    assert.equal(p.issuedMaxPathId, 0);
    p.serve(1, 1);
    assert.equal(p.hasPendingNewCid, true);
    assert.deepEqual(drainNew(p), ['1/0'], 'one for a path id not yet open');
    assert.equal(p.issuedMaxPathId, 1);
    assert.equal(p.servedCount(2), 0, 'nothing for a path id not served');
    p.serve(1, 3);
    p.serve(2, 3);
    assert.deepEqual(drainNew(p), ['1/1', '1/2', '2/0', '2/1', '2/2'], 'topped up; path 2 served');
    assert.equal(p.issuedMaxPathId, 2);
    const added: Uint8Array[] = [];
    assert.equal(p.hasChanges, true);
    p.takeAdded(added);
    assert.equal(added.length, 6, 'the endpoint routes all six');
    assert.equal(p.hasChanges, false, 'all taken');
    p.serve(1, 1);
    p.serve(2, 3);
    assert.deepEqual(drainNew(p), [], 'never fewer, never twice');
    assert.equal(p.servedCount(1), 3);
  });

  it('maps a connection id to its path id', () => {
    const p = new PathCids(8, new SeededRandom(2), token, 4);
    assert.equal(p.pathIdOf(cidOf(0xee)), undefined, 'nothing served');
    p.serve(1, 2);
    p.serve(2, 2);
    for (const id of [1, 2]) for (const cid of p.localCidsOf(id)) assert.equal(p.pathIdOf(cid), id);
    assert.equal(p.pathIdOf(cidOf(0xee)), undefined);
  });

  it('remembers the last id of no path id >= 1 (path 0\'s) without changing any answer', () => {
    const p = new PathCids(8, new SeededRandom(9), token, 4);
    p.serve(1, 2);
    const path0 = cidOf(0xee);
    for (let i = 0; i < 3; i++) assert.equal(p.pathIdOf(path0), undefined, 'asked again: still none');
    for (const cid of p.localCidsOf(1)) assert.equal(p.pathIdOf(cid), 1, 'the others are still found after it');
    assert.equal(p.pathIdOf(path0), undefined);
    // The remembered id is a copy: the datagram buffer it came from is reused for the next one.
    const buf = new Uint8Array(path0);
    assert.equal(p.pathIdOf(buf), undefined);
    buf.set(p.localCidsOf(1)[0]!);
    assert.equal(p.pathIdOf(buf), 1, 'the same buffer now holding a path 1 id');
    p.serve(2, 2);
    for (const cid of p.localCidsOf(2)) assert.equal(p.pathIdOf(cid), 2, 'ids of a path id served later are found');
    const ours = p.localCidsOf(1);
    p.closePath(1);
    p.forgetPath(1);
    assert.equal(p.pathIdOf(ours[0]!), undefined, 'a forgotten path id\'s ids are none');
    assert.equal(p.pathIdOf(path0), undefined);
    assert.equal(p.pathIdOf(new Uint8Array(0)), undefined, 'a zero-length id is never remembered');
  });

  it('a lost PATH_NEW_CONNECTION_ID is sent again', () => {
    const p = new PathCids(8, new SeededRandom(3), token, 4);
    p.serve(1, 2);
    drainNew(p);
    p.onNewCidLost(1, 1);
    assert.deepEqual(drainNew(p), ['1/1']);
  });

  it('PATH_RETIRE_CONNECTION_ID retires ours and issues a replacement; bad ones are PROTOCOL_VIOLATION', () => {
    const p = new PathCids(8, new SeededRandom(4), token, 4);
    p.serve(1, 2);
    drainNew(p);
    const [first, second] = p.localCidsOf(1);
    const none: Uint8Array[] = [];
    p.takeAdded(none);
    assert.equal(p.hasChanges, false);
    p.onRetire(1, 0, second!);
    assert.equal(p.hasChanges, true, 'a retired id to unroute, a new one to route');
    assert.deepEqual(drainNew(p), ['1/2']);
    const retired: Uint8Array[] = [];
    p.takeRetired(retired);
    assert.deepEqual(retired, [first]);
    p.onRetire(1, 0, second!); // a duplicate frame
    const pv = { code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: FrameType.PATH_RETIRE_CONNECTION_ID };
    assert.deepEqual(error(() => p.onRetire(1, 9, second!)), pv, 'a sequence never issued');
    assert.deepEqual(error(() => p.onRetire(1, 1, second!)), pv, 'the connection id of its own packet');
    assert.deepEqual(error(() => p.onRetire(5, 0, second!)), pv, 'a path id never served');
  });

  it("keeps the peer's connection ids per path id and retires them with PATH_RETIRE_CONNECTION_ID", () => {
    const p = new PathCids(8, new SeededRandom(5), token, 2);
    assert.equal(p.peerCidFor(1), undefined);
    p.onNewCid(1, 0, 0, cidOf(1), tok(1));
    p.onNewCid(1, 1, 0, cidOf(2), tok(2));
    p.onNewCid(1, 1, 0, cidOf(2), tok(2)); // a repeated frame
    p.onNewCid(2, 0, 0, cidOf(3), tok(3));
    assert.deepEqual(p.peerCidFor(1), { seq: 0, cid: cidOf(1) });
    assert.deepEqual(p.peerCidFor(2), { seq: 0, cid: cidOf(3) });
    p.retirePeerCid(1, 0);
    assert.deepEqual(p.peekRetire(), { pathId: 1, seq: 0 });
    p.onRetireSent(1, 0);
    assert.equal(p.peekRetire(), undefined);
    p.onRetireLost(1, 0);
    assert.deepEqual(p.peekRetire(), { pathId: 1, seq: 0 });
    p.onRetireSent(1, 0);
    assert.deepEqual(p.peerCidFor(1), { seq: 1, cid: cidOf(2) });
    // Retire Prior To retires the older ones of that path id only.
    p.onNewCid(2, 1, 1, cidOf(4), tok(4));
    assert.deepEqual(p.peerCidFor(2), { seq: 1, cid: cidOf(4) });
    assert.deepEqual(p.peekRetire(), { pathId: 2, seq: 0 });
    assert.ok(p.isStatelessReset(tok(4)));
    assert.ok(!p.isStatelessReset(tok(3)), 'a retired connection id no longer resets');
  });

  it("refuses the peer's bad connection ids with a typed error", () => {
    const p = new PathCids(8, new SeededRandom(6), token, 2);
    p.onNewCid(1, 0, 0, cidOf(1), tok(1));
    const pv = { code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: FrameType.PATH_NEW_CONNECTION_ID };
    assert.deepEqual(error(() => p.onNewCid(1, 0, 0, cidOf(9), tok(9))), pv, 'a sequence reused');
    assert.deepEqual(error(() => p.onNewCid(1, 1, 0, cidOf(1), tok(1))), pv, 'a connection id repeated');
    assert.deepEqual(error(() => p.onNewCid(2, 0, 0, cidOf(1), tok(1))), pv, 'one connection id for two path ids');
    assert.deepEqual(error(() => p.onNewCid(2, 0, 0, new Uint8Array(0), tok(1))), pv, 'zero-length');
    p.onNewCid(1, 1, 0, cidOf(2), tok(2));
    assert.deepEqual(error(() => p.onNewCid(1, 2, 0, cidOf(3), tok(3))), {
      code: TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
      frameType: FrameType.PATH_NEW_CONNECTION_ID,
    });
  });

  it('a path id forgotten leaves nothing: ours stop being routed, the peer\'s and the retirements owed go', () => {
    const p = new PathCids(8, new SeededRandom(7), token, 2);
    p.serve(1, 2);
    p.serve(2, 1);
    drainNew(p);
    const added: Uint8Array[] = [];
    p.takeAdded(added);
    p.onNewCid(1, 0, 0, cidOf(1), tok(1));
    p.onNewCid(1, 1, 0, cidOf(2), tok(2));
    p.closePath(1);
    assert.deepEqual(p.peekRetire(), { pathId: 1, seq: 0 }, 'abandoned: the peer\'s are retired');
    const ours = p.localCidsOf(1);
    p.forgetPath(1);
    const retired: Uint8Array[] = [];
    p.takeRetired(retired);
    assert.deepEqual(retired, ours, 'the endpoint stops routing ours');
    assert.equal(p.peekRetire(), undefined);
    assert.equal(p.peerCidFor(1), undefined);
    assert.deepEqual(p.localCidsOf(1), []);
    assert.equal(p.pathIdOf(ours[0]!), undefined);
    assert.equal(p.localCidsOf(2).length, 1, 'the other path ids keep theirs');
    assert.equal(p.isStatelessReset(tok(1)), false);
    const again: Uint8Array[] = [];
    p.takeRetired(again);
    assert.deepEqual(again, [], 'once');
  });
});
