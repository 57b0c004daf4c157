import assert from 'node:assert/strict';
import { LocalCids, RemoteCids } from '../../../src/quic/connection/cids.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';

const token = (cid: Uint8Array): Uint8Array => new Uint8Array(16).fill(cid[0]! ^ 0x5a);
const cidOf = (n: number, len = 8): Uint8Array => new Uint8Array(len).fill(n);
const tok = (n: number): Uint8Array => new Uint8Array(16).fill(n);

/** The transport error code `f` throws, or 0 when it throws nothing. */
function code(f: () => void): number {
  try {
    f();
    return 0;
  } catch (e) {
    assert.ok(e instanceof TransportError, `expected a TransportError, got ${String(e)}`);
    return e.code;
  }
}

describe('connection IDs (RFC 9000 §5.1)', () => {
  describe('LocalCids', () => {
    it('issues sequence 0, then tops up to the peer limit with NEW_CONNECTION_ID', () => {
      const l = new LocalCids(8, new SeededRandom(1), token);
      const c0 = l.issueInitial();
      assert.equal(c0.seq, 0);
      assert.equal(c0.cid.length, 8);
      assert.equal(l.peekPending(), undefined, 'sequence 0 travels in the long header');
      l.setPeerLimit(5);
      const sent: number[] = [];
      for (let f = l.peekPending(); f; f = l.peekPending()) {
        sent.push(f.seq);
        assert.deepEqual(f.resetToken, token(f.cid));
        l.onNewCidSent(f.seq);
      }
      assert.deepEqual(sent, [1, 2, 3, 4]);
      assert.equal(l.activeCids().length, 5);
      assert.equal(l.takeAdded().length, 5, 'the endpoint routes all five');
    });

    it('replaces a retired CID and reports it for routing; lost frames are re-sent only while active', () => {
      const l = new LocalCids(8, new SeededRandom(2), token);
      const c0 = l.issueInitial();
      l.setPeerLimit(2);
      const f1 = l.peekPending()!;
      l.onNewCidSent(f1.seq);
      assert.equal(l.hasChanges, true, 'two CIDs to route');
      l.takeAdded();
      assert.equal(l.hasChanges, false, 'asked per datagram: nothing to take');
      l.onRetire(0, f1.cid);
      assert.equal(l.hasChanges, true, 'one to unroute (and its replacement to route)');
      assert.deepEqual(l.takeRetired(), [c0.cid]);
      const f2 = l.peekPending()!;
      assert.equal(f2.seq, 2);
      l.onNewCidSent(2);
      l.onNewCidLost(2);
      assert.equal(l.peekPending()!.seq, 2, 'lost and still active: re-send');
      l.onNewCidSent(2);
      l.onRetire(2, f1.cid);
      l.onNewCidLost(2);
      assert.notEqual(l.peekPending()?.seq, 2, 'retired: never re-sent');
      l.onRetire(2, f1.cid); // a duplicate retirement is harmless
    });

    it('rejects retiring an unissued sequence or the packet\'s own CID', () => {
      const l = new LocalCids(8, new SeededRandom(3), token);
      const c0 = l.issueInitial();
      assert.equal(code(() => l.onRetire(1, cidOf(9))), TransportErrorCode.PROTOCOL_VIOLATION);
      assert.equal(code(() => l.onRetire(0, c0.cid)), TransportErrorCode.PROTOCOL_VIOLATION);
    });

    it('issues nothing with zero-length CIDs and stops at the lifetime cap', () => {
      const z = new LocalCids(0, new SeededRandom(4), token);
      z.issueInitial();
      z.setPeerLimit(8);
      assert.equal(z.peekPending(), undefined);
      const l = new LocalCids(4, new SeededRandom(5), token, 4);
      l.issueInitial();
      l.setPeerLimit(8);
      assert.equal(l.activeCids().length, 4, 'capped at maxIssued');
      assert.throws(() => new LocalCids(21, new SeededRandom(1), token), RangeError);
    });
  });

  describe('RemoteCids', () => {
    it('kept as strings: a stateless reset matches only an active CID\'s token, the initial one once known (RFC 9000 §10.3.1)', () => {
      const r = new RemoteCids(cidOf(0), 4);
      const reset = (t: Uint8Array): Uint8Array => {
        const d = new Uint8Array(40).fill(0x41);
        d.set(t, d.length - 16);
        return d;
      };
      assert.equal(r.isStatelessReset(reset(tok(7))), false);
      r.setInitialResetToken(tok(7));
      assert.equal(r.isStatelessReset(reset(tok(7))), true);
      r.onNewCid(1, 0, cidOf(1), tok(8));
      assert.equal(r.isStatelessReset(reset(tok(8))), true);
      assert.equal(r.isStatelessReset(reset(tok(9))), false);
      assert.equal(r.isStatelessReset(reset(tok(8)).subarray(20)), false, 'under 21 bytes: never a reset');
      assert.deepEqual(r.cidOf(1), cidOf(1));
      r.onNewCid(2, 2, cidOf(2), tok(9));
      assert.equal(r.isStatelessReset(reset(tok(7))), false, 'retired with its CID');
      assert.deepEqual(r.current, cidOf(2));
      assert.equal(code(() => r.onNewCid(2, 2, cidOf(2), tok(10))), TransportErrorCode.PROTOCOL_VIOLATION, 'same sequence, another token');
      assert.equal(code(() => r.onNewCid(3, 2, cidOf(2), tok(11))), TransportErrorCode.PROTOCOL_VIOLATION, 'same CID, another sequence');
    });

    it('accepts new CIDs, ignores exact repeats and switches away from retired ones', () => {
      const r = new RemoteCids(cidOf(0), 4);
      r.onNewCid(1, 0, cidOf(1), tok(1));
      r.onNewCid(1, 0, cidOf(1), tok(1));
      r.onNewCid(2, 0, cidOf(2), tok(2));
      assert.equal(r.activeCount, 3);
      r.onNewCid(3, 2, cidOf(3), tok(3));
      assert.deepEqual(r.current, cidOf(2), 'sequence 0 retired: the lowest active one is used');
      const retired: number[] = [];
      for (let s = r.peekRetire(); s !== undefined; s = r.peekRetire()) {
        retired.push(s);
        r.onRetireSent(s);
      }
      assert.deepEqual(retired.sort(), [0, 1]);
      r.onRetireLost(1);
      assert.equal(r.peekRetire(), 1, 'a lost RETIRE_CONNECTION_ID is re-sent');
    });

    it('path switches take a CID never used before, and retire the ones left behind (RFC 9000 §9.5)', () => {
      const r = new RemoteCids(cidOf(0), 4);
      assert.equal(r.unusedSequence(), undefined, 'no spare yet');
      r.onNewCid(1, 0, cidOf(1), tok(1));
      r.onNewCid(2, 0, cidOf(2), tok(2));
      assert.equal(r.unusedSequence(), 1);
      r.use(1);
      assert.deepEqual(r.current, cidOf(1));
      assert.equal(r.currentSequence, 1);
      assert.equal(r.unusedSequence(), 2, 'sequence 0 was used: never again toward another address');
      r.retire(1); // the current one is never retired this way
      assert.equal(r.peekRetire(), undefined);
      r.retire(0);
      assert.equal(r.peekRetire(), 0);
      assert.equal(r.cidOf(0), undefined);
      r.retire(0); // already retired: nothing more
      r.onRetireSent(0);
      assert.equal(r.peekRetire(), undefined);
      assert.throws(() => r.use(0), RangeError);
      // Retire Prior To moving us marks the new current one used.
      r.onNewCid(3, 2, cidOf(3), tok(3));
      assert.equal(r.currentSequence, 2);
      assert.equal(r.unusedSequence(), 3);
    });

    it('retires at once a CID that arrives below the Retire Prior To already seen', () => {
      const r = new RemoteCids(cidOf(0), 4);
      r.onNewCid(5, 4, cidOf(5), tok(5));
      r.onRetireSent(0);
      r.onNewCid(2, 0, cidOf(2), tok(2));
      assert.equal(r.peekRetire(), 2);
      assert.equal(r.activeCount, 1);
    });

    it('enforces active_connection_id_limit with CONNECTION_ID_LIMIT_ERROR', () => {
      const r = new RemoteCids(cidOf(0), 2);
      r.onNewCid(1, 0, cidOf(1), tok(1));
      assert.equal(code(() => r.onNewCid(2, 0, cidOf(2), tok(2))), TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
      // Retiring enough in the same frame keeps it within the limit.
      const ok = new RemoteCids(cidOf(0), 2);
      ok.onNewCid(1, 0, cidOf(1), tok(1));
      ok.onNewCid(2, 1, cidOf(2), tok(2));
      assert.equal(ok.activeCount, 2);
    });

    it('rejects sequence reuse, CID reuse and NEW_CONNECTION_ID toward zero-length CIDs', () => {
      const r = new RemoteCids(cidOf(0), 4);
      r.onNewCid(1, 0, cidOf(1), tok(1));
      assert.equal(code(() => r.onNewCid(1, 0, cidOf(7), tok(1))), TransportErrorCode.PROTOCOL_VIOLATION);
      assert.equal(code(() => r.onNewCid(1, 0, cidOf(1), tok(9))), TransportErrorCode.PROTOCOL_VIOLATION);
      assert.equal(code(() => r.onNewCid(2, 0, cidOf(1), tok(2))), TransportErrorCode.PROTOCOL_VIOLATION);
      const z = new RemoteCids(new Uint8Array(0), 2);
      assert.equal(code(() => z.onNewCid(1, 0, cidOf(1), tok(1))), TransportErrorCode.PROTOCOL_VIOLATION);
    });

    it('bounds the retirements a peer can make us owe', () => {
      const r = new RemoteCids(cidOf(0), 2);
      let err = 0;
      for (let s = 1; s < 20 && !err; s++) {
        err = code(() => r.onNewCid(s, s, cidOf(s), tok(s)));
      }
      // Every frame retires the previous CID; we never send the retirements, so they pile up.
      assert.equal(err, TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
    });

    it('recognises a stateless reset by the token of an active CID only', () => {
      const r = new RemoteCids(cidOf(0), 4);
      r.setInitialResetToken(tok(0xaa));
      r.onNewCid(1, 0, cidOf(1), tok(0xbb));
      const dgram = (t: number): Uint8Array => {
        const d = new Uint8Array(40).fill(0x41);
        d.set(tok(t), 24);
        return d;
      };
      assert.equal(r.isStatelessReset(dgram(0xaa)), true);
      assert.equal(r.isStatelessReset(dgram(0xbb)), true);
      assert.equal(r.isStatelessReset(dgram(0xcc)), false);
      assert.equal(r.isStatelessReset(tok(0xaa)), false, 'too short to be a reset');
      r.onNewCid(2, 2, cidOf(2), tok(0xdd));
      assert.equal(r.isStatelessReset(dgram(0xbb)), false, 'a retired CID\'s token no longer counts');
    });
  });
});

