import assert from 'node:assert/strict';
import { LocalCids, RemoteCids } from '../../../src/quic/connection/cids.js';
import { TransportError, TransportErrorCode as E } from '../../../src/quic/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';

/**
 * Connection IDs over a long life (RFC 9000 §5.1): whatever order a peer issues and retires them
 * in, what we track stays bounded. The single-frame rules (CONNECTION_ID_LIMIT_ERROR beyond
 * active_connection_id_limit, retirements owed) are in test/unit/connection/cids.test.ts and
 * test/unit/connection/malformed.test.ts.
 */
const cid = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const tok = (n: number): Uint8Array => new Uint8Array(16).fill(n & 255);

describe('limits: connection IDs over a long life', () => {
  it('a peer rotating its CIDs 10,000 times (Retire Prior To = sequence) leaves at most the limit active and nothing owed', () => {
    const limit = 4;
    const r = new RemoteCids(cid(0), limit);
    let retired = 0;
    for (let s = 1; s <= 10_000; s++) {
      r.onNewCid(s, s - 1, cid(s), tok(s));
      assert.ok(r.activeCount <= limit);
      for (let q = r.peekRetire(); q !== undefined; q = r.peekRetire()) {
        r.onRetireSent(q);
        retired++;
      }
    }
    assert.equal(retired, 9_999, 'every CID below the last Retire Prior To was retired once');
    assert.deepEqual(r.current, cid(9_999));
    assert.equal(r.activeCount, 2);
  });

  it('retirements we cannot send (every packet lost) are bounded: CONNECTION_ID_LIMIT_ERROR, not growth', () => {
    const r = new RemoteCids(cid(0), 4);
    let err: unknown;
    let s = 1;
    for (; s < 1000 && err === undefined; s++) {
      try {
        r.onNewCid(s, s, cid(s), tok(s));
        const q = r.peekRetire();
        if (q !== undefined) {
          r.onRetireSent(q);
          r.onRetireLost(q); // lost: owed again
        }
      } catch (e) {
        err = e;
      }
    }
    assert.ok(err instanceof TransportError && err.code === E.CONNECTION_ID_LIMIT_ERROR, String(err));
    assert.ok(s <= 2 * 4 + 2, `refused after ${s} frames`);
  });

  it('a peer retiring every CID we issue, in a loop: at most 64 issued over the life, never more active than its limit', () => {
    const l = new LocalCids(8, new SeededRandom(76), (c) => c.slice(0, 16));
    const c0 = l.issueInitial();
    l.setPeerLimit(8);
    let routed = l.takeAdded().length;
    let unrouted = 0;
    // The peer sends from a CID it keeps (c0), retiring every other one as soon as it arrives.
    for (let round = 0; round < 1000; round++) {
      const f = l.peekPending();
      if (!f) break;
      l.onNewCidSent(f.seq);
      l.onRetire(f.seq, c0.cid);
      routed += l.takeAdded().length;
      unrouted += l.takeRetired().length;
      assert.ok(l.activeCids().length <= 8);
    }
    assert.equal(routed, 64, 'issuance stops at the lifetime cap');
    assert.equal(unrouted, 63, 'each retired CID left the routing table (all but c0)');
    assert.equal(l.activeCids().length, 1);
    assert.equal(l.peekPending(), undefined);
  });
});
