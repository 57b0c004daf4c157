import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CryptoStream } from '../../../src/quic/connection/crypto-stream.js';
import { concatBytes } from '../../../src/codec/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { RangeSet } from '../../../src/quic/range-set.js';
import { RecvStream } from '../../../src/quic/streams/recv-stream.js';
import { ReceiveWindow, SendCredit } from '../../../src/quic/streams/flow-control.js';
import { fcParams } from './fc.js';

/**
 * fast-check properties of the receive-side state machines, each against a model: RangeSet
 * against a set of integers, stream reassembly (RFC 9000 §2.2, §3.2, §4.5) against the bytes
 * sent, CRYPTO reassembly (§19.6, §7.5) against the bytes sent and its buffer cap, and the
 * flow-control counters (§4.1) against their invariants. Shrinking reduces a failure to the
 * fewest, smallest frames that show it.
 */

/** Pieces [offset, length) of a `size`-byte stream, in any order, overlapping, repeated. */
const pieces = (size: number, maxPieces = 40): fc.Arbitrary<Array<[number, number]>> =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: size - 1 }), fc.integer({ min: 0, max: Math.max(1, size >> 1) })), { maxLength: maxPieces }).map(
    (ps) => ps.map(([o, l]) => [o, Math.min(l, size - o)] as [number, number]),
  );

const streamData = (size: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff);

describe('property (fast-check): RangeSet against a set of integers', () => {
  it('insert / remove / removeBelow / add agree with the model, ranges stay sorted, disjoint, non-adjacent', () => {
    type Op = { op: 'insert' | 'remove'; a: number; b: number } | { op: 'removeBelow' | 'add'; a: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constantFrom('insert' as const, 'remove' as const), a: fc.nat(200), b: fc.nat(200) }),
      fc.record({ op: fc.constantFrom('removeBelow' as const, 'add' as const), a: fc.nat(200) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const set = new RangeSet();
        const model = new Set<number>();
        for (const o of ops) {
          if (o.op === 'insert' || o.op === 'remove') {
            const [s, e] = o.a <= o.b ? [o.a, o.b] : [o.b, o.a];
            if (o.op === 'insert') {
              let added = 0;
              for (let v = s; v < e; v++) if (!model.has(v)) (model.add(v), added++);
              assert.equal(set.insert(s, e), added);
            } else {
              for (let v = s; v < e; v++) model.delete(v);
              set.remove(s, e);
            }
          } else if (o.op === 'add') {
            assert.equal(set.add(o.a), !model.has(o.a));
            model.add(o.a);
          } else {
            for (const v of [...model]) if (v < o.a) model.delete(v);
            set.removeBelow(o.a);
          }
        }
        const arr = set.toArray();
        for (let i = 0; i < arr.length; i++) {
          assert.ok(arr[i]![0] < arr[i]![1]);
          if (i > 0) assert.ok(arr[i - 1]![1] < arr[i]![0], 'sorted, disjoint, not adjacent');
        }
        const flat: number[] = [];
        for (const [s, e] of arr) for (let v = s; v < e; v++) flat.push(v);
        assert.deepEqual(flat, [...model].sort((x, y) => x - y));
        assert.equal(set.count(), model.size);
      }),
      fcParams(0x5e7, 300),
    );
  });
});

describe('property (fast-check): stream reassembly against the bytes sent (RFC 9000 §2.2, §4.5)', () => {
  it('any order, overlap and repetition of pieces, with reads in between, delivers exactly the stream', () => {
    const size = 3000;
    const data = streamData(size);
    fc.assert(
      fc.property(pieces(size), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 40 }), (ps, reads) => {
        const s = new RecvStream(0, new ReceiveWindow(size, size));
        const got: Uint8Array[] = [];
        const all: Array<[number, number]> = [...ps, [0, size]]; // the full stream arrives in the end
        all.forEach(([o, l], i) => {
          s.onStreamFrame(o, data.subarray(o, o + l), o + l === size && i === all.length - 1);
          assert.ok(s.readOffset <= s.highestOffset && s.highestOffset <= size);
          const r = s.read(reads[i] ?? 100);
          if (r) got.push(r);
        });
        for (let r = s.read(); r; r = s.read()) got.push(r);
        assert.deepEqual(concatBytes(...got), data);
        assert.equal(s.ended, true);
      }),
      fcParams(0x5711, 150),
    );
  });

  it('data beyond the window is FLOW_CONTROL_ERROR, a changed final size FINAL_SIZE_ERROR, and neither changes the stream', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 6000 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), (window, offset, length, finFirst) => {
        const s = new RecvStream(0, new ReceiveWindow(window, window));
        const data = new Uint8Array(length);
        const before = [s.highestOffset, s.readOffset, s.finalSize];
        const fitsWindow = offset + length <= window;
        try {
          s.onStreamFrame(offset, data, finFirst);
          assert.ok(fitsWindow, 'accepted data beyond the window');
        } catch (e) {
          assert.ok(e instanceof TransportError && e.code === TransportErrorCode.FLOW_CONTROL_ERROR, String(e));
          assert.ok(!fitsWindow);
          assert.deepEqual([s.highestOffset, s.readOffset, s.finalSize], before);
          return;
        }
        if (!finFirst) return;
        // RFC 9000 §4.5: once known, the final size cannot change.
        const end = offset + length;
        for (const [o, l, fin] of [[end, 1, false], [0, end + 1, false], [0, Math.max(0, end - 1), true]] as const) {
          if (o === 0 && l === end) continue;
          const snap = [s.highestOffset, s.finalSize];
          assert.throws(
            () => s.onStreamFrame(o, new Uint8Array(l), fin),
            (e: unknown) => e instanceof TransportError && (e.code === TransportErrorCode.FINAL_SIZE_ERROR || e.code === TransportErrorCode.FLOW_CONTROL_ERROR),
          );
          assert.deepEqual([s.highestOffset, s.finalSize], snap);
        }
      }),
      fcParams(0x5712, 300),
    );
  });
});

describe('property (fast-check): CRYPTO reassembly (RFC 9000 §19.6, §7.5)', () => {
  it('any pieces deliver the bytes in order, each once, and never buffer more than the cap', () => {
    const size = 6000;
    const data = streamData(size);
    fc.assert(
      fc.property(pieces(size, 60), fc.integer({ min: 4096, max: 8192 }), (ps, max) => {
        const c = new CryptoStream(max);
        const got: Uint8Array[] = [];
        let delivered = 0;
        for (const [o, l] of [...ps, ...[0, 1000, 2000, 3000, 4000, 5000].map((o) => [o, 1000] as [number, number])]) {
          try {
            for (const chunk of c.onCryptoFrame(o, data.subarray(o, o + l))) {
              got.push(chunk);
              delivered += chunk.length;
            }
          } catch (e) {
            assert.ok(e instanceof TransportError && e.code === TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, String(e));
            assert.ok(o + l - delivered > max, `refused a frame ending ${o + l - delivered} bytes ahead (cap ${max})`);
          }
          assert.ok(c.bufferedBytes <= max, `${c.bufferedBytes} buffered > ${max}`);
        }
        assert.deepEqual(concatBytes(...got), data);
        assert.equal(c.bufferedBytes, 0);
      }),
      fcParams(0xc7, 150),
    );
  });
});

describe('property (fast-check): flow-control counters (RFC 9000 §4.1)', () => {
  it('SendCredit: the limit only grows, used never passes it, consuming more than available throws', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.array(fc.tuple(fc.boolean(), fc.nat(5000)), { maxLength: 40 }), (initial, ops) => {
        const c = new SendCredit(initial);
        let limit = initial;
        let used = 0;
        for (const [raise, n] of ops) {
          if (raise) {
            assert.equal(c.raise(n), n > limit);
            limit = Math.max(limit, n);
          } else if (n <= limit - used) {
            c.consume(n);
            used += n;
          } else {
            assert.throws(() => c.consume(n));
          }
          assert.deepEqual([c.limit, c.used, c.available, c.isBlocked], [limit, used, limit - used, used >= limit]);
        }
      }),
      fcParams(0xfc1, 300),
    );
  });

  it('ReceiveWindow: FLOW_CONTROL_ERROR exactly beyond the limit; the advertised limit never shrinks and stays within consumed + max window', () => {
    type Op = { k: 'recv' | 'consume'; n: number } | { k: 'advertise'; t: number; rtt: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constantFrom('recv' as const, 'consume' as const), n: fc.nat(3000) }),
      fc.record({ k: fc.constant('advertise' as const), t: fc.nat(1000), rtt: fc.nat(200) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 0, max: 4 }), fc.array(op, { maxLength: 50 }), (win, growth, ops) => {
        const w = new ReceiveWindow(win, win * 2 ** growth);
        let now = 0;
        for (const o of ops) {
          const limit = w.limit;
          if (o.k === 'advertise') {
            now += o.t;
            w.advertise(now, o.rtt);
          } else if (o.k === 'recv') {
            if (w.received + o.n > limit) {
              assert.throws(() => w.check(o.n, 8), (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.FLOW_CONTROL_ERROR);
            } else {
              w.check(o.n, 8);
              w.onReceived(o.n);
            }
          } else {
            w.onConsumed(Math.min(o.n, w.received - w.consumed));
          }
          assert.ok(w.limit >= limit, 'limit shrank');
          assert.ok(w.received <= w.limit && w.consumed <= w.received);
          assert.ok(w.window <= w.maxWindow);
          assert.ok(w.limit <= Math.max(win, w.consumed + w.maxWindow), 'limit beyond consumed + max window');
        }
      }),
      fcParams(0xfc2, 300),
    );
  });
});
