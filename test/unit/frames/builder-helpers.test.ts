import assert from 'node:assert/strict';
import { Reader } from '../../../src/codec/reader.js';
import { Writer } from '../../../src/codec/writer.js';
import { BufferOverflowError } from '../../../src/codec/errors.js';
import { toHex } from '../../../src/codec/bytes.js';
import { SeededRandom } from '../../../src/tls/random.js';
import {
  FrameContext,
  ackRangesThatFit,
  decodeFrame,
  decodeFrames,
  maxCryptoDataThatFits,
  maxDatagramDataThatFits,
  maxStreamDataThatFits,
  sizeAckFrame,
  sizeCryptoFrameHeader,
  sizeDatagramFrameHeader,
  sizeStreamFrameHeader,
  writeAckFrame,
  writeCryptoFrameHeader,
  writeDatagramFrameHeader,
  writeFrame,
  writePadding,
  writeStreamFrameHeader,
  type EcnCounts,
} from '../../../src/quic/frames/index.js';
import { randAckRanges, randVarint } from './gen.js';

const { OneRtt } = FrameContext;

/** Largest n with header(n) + n <= space by binary search over a monotonic total (reference). */
function reference(space: number, total: (n: number) => number): number {
  if (total(0) > space) return -1;
  let lo = 0;
  let hi = Math.max(0, space);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (total(mid) <= space) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

describe('frames: packet-builder helpers', () => {
  it('STREAM header helpers write what the decoder reads, with and without Length', () => {
    const rng = new SeededRandom(9);
    for (let i = 0; i < 2000; i++) {
      const streamId = randVarint(rng);
      const offset = rng.int(3) === 0 ? 0 : randVarint(rng, 2 ** 50);
      const data = rng.fill(new Uint8Array(rng.int(300)));
      const fin = rng.int(2) === 0;
      const withLength = rng.int(2) === 0;
      const out = new Uint8Array(sizeStreamFrameHeader(streamId, offset, data.length, withLength) + data.length);
      const w = new Writer(out);
      writeStreamFrameHeader(w, streamId, offset, data.length, fin, withLength);
      w.bytesOf(data);
      assert.equal(w.pos, out.length);
      // RFC 9000 §19.8: OFF only for a non-zero offset, LEN as asked.
      assert.equal((out[0]! & 0x04) !== 0, offset > 0);
      assert.equal((out[0]! & 0x02) !== 0, withLength);
      assert.deepEqual(decodeFrame(new Reader(out), OneRtt), { kind: 'stream', streamId, offset, data, fin });
    }
  });

  it('CRYPTO and DATAGRAM header helpers', () => {
    const w = Writer.growable();
    writeCryptoFrameHeader(w, 1024, 3);
    w.bytesOf(Uint8Array.of(1, 2, 3));
    assert.equal(sizeCryptoFrameHeader(1024, 3), 4);
    writeDatagramFrameHeader(w, 2, true);
    w.bytesOf(Uint8Array.of(9, 9));
    assert.equal(sizeDatagramFrameHeader(2, true), 2);
    writeDatagramFrameHeader(w, 1, false);
    w.u8(7);
    assert.equal(sizeDatagramFrameHeader(1, false), 1);
    assert.equal(toHex(w.bytes()), '06440003010203' + '31020909' + '3007');
    assert.deepEqual(decodeFrames(w.bytes(), OneRtt), [
      { kind: 'crypto', offset: 1024, data: Uint8Array.of(1, 2, 3) },
      { kind: 'datagram', data: Uint8Array.of(9, 9) },
      { kind: 'datagram', data: Uint8Array.of(7) },
    ]);
  });

  it('max*DataThatFits give the largest payload that fits, or -1', () => {
    const spaces: number[] = [];
    for (let s = -2; s < 200; s++) spaces.push(s);
    for (const edge of [64, 16384, 2 ** 30]) for (let d = -12; d <= 12; d++) spaces.push(edge + d);
    const rng = new SeededRandom(31);
    for (let i = 0; i < 200; i++) spaces.push(rng.int(70000));
    const cases: Array<[number, number]> = [
      [0, 0],
      [4, 100],
      [0x3f, 0x40],
      [16384, 2 ** 31],
      [2 ** 40, 2 ** 50],
    ];
    for (const space of spaces) {
      for (const [id, off] of cases) {
        for (const withLength of [true, false]) {
          const got = maxStreamDataThatFits(space, id, off, withLength);
          const want = reference(space, (n) => sizeStreamFrameHeader(id, off, n, withLength) + n);
          assert.equal(got, want, `stream space ${space} id ${id} off ${off} len ${withLength}`);
        }
        const c = maxCryptoDataThatFits(space, off);
        assert.equal(c, reference(space, (n) => sizeCryptoFrameHeader(off, n) + n), `crypto space ${space}`);
      }
      for (const withLength of [true, false]) {
        const d = maxDatagramDataThatFits(space, withLength);
        assert.equal(d, reference(space, (n) => sizeDatagramFrameHeader(n, withLength) + n), `datagram ${space}`);
      }
    }
  });

  it('the STREAM frame filling a packet exactly', () => {
    const buf = new Uint8Array(100);
    const w = new Writer(buf, 0, 100);
    writeFrame(w, { kind: 'ping' });
    const n = maxStreamDataThatFits(w.remaining, 4, 70000, false);
    writeStreamFrameHeader(w, 4, 70000, n, true, false);
    w.zeros(n);
    assert.equal(w.pos, 100);
    const frames = decodeFrames(buf, OneRtt);
    assert.equal(frames.length, 2);
    assert.ok(frames[1]!.kind === 'stream' && frames[1]!.data.length === n && frames[1]!.fin);
  });

  it('ACK: writes absolute ranges, caps their number, and sizes exactly', () => {
    const rng = new SeededRandom(5);
    for (let i = 0; i < 1000; i++) {
      const ranges = randAckRanges(rng, 1 + rng.int(30));
      const count = ranges.length / 2;
      const ecn: EcnCounts | null = rng.int(2) ? null : { ect0: randVarint(rng), ect1: 0, ce: 3 };
      const ackDelay = randVarint(rng);
      const cap = 1 + rng.int(count);
      const w = Writer.growable();
      writeAckFrame(w, ranges, ackDelay, ecn, cap);
      assert.equal(w.pos, sizeAckFrame(ranges, ackDelay, ecn, cap));
      const f = decodeFrame(new Reader(w.bytes()), OneRtt);
      assert.deepEqual(f, { kind: 'ack', largest: ranges[0], ackDelay, ranges: ranges.slice(0, 2 * cap), ecn });

      // ackRangesThatFit is the largest count whose size fits.
      const space = rng.int(sizeAckFrame(ranges, ackDelay, ecn) + 10);
      const k = ackRangesThatFit(ranges, ackDelay, ecn, space);
      if (k === 0) assert.ok(sizeAckFrame(ranges, ackDelay, ecn, 1) > space);
      else {
        assert.ok(sizeAckFrame(ranges, ackDelay, ecn, k) <= space);
        if (k < count) assert.ok(sizeAckFrame(ranges, ackDelay, ecn, k + 1) > space);
      }
    }
  });

  it('ACK encoder rejects ranges that are not descending and disjoint', () => {
    const w = Writer.growable();
    assert.throws(() => writeAckFrame(w, [], 0, null), RangeError);
    assert.throws(() => writeAckFrame(w, [5, 6], 0, null), RangeError);
    assert.throws(() => writeAckFrame(w, [10, 8, 7, 5], 0, null), RangeError); // adjacent: gap -1
    assert.throws(() => writeAckFrame(w, [10, 8, 5, 6], 0, null), RangeError);
    assert.equal(ackRangesThatFit([], 0, null, 100), 0);
  });

  it('a fixed writer overflows loudly instead of writing a partial frame past its end', () => {
    const w = new Writer(new Uint8Array(3));
    assert.throws(() => writeFrame(w, { kind: 'maxData', maximum: 2 ** 40 }), BufferOverflowError);
    const p = new Writer(new Uint8Array(4));
    writePadding(p, 4);
    assert.equal(p.pos, 4);
  });
});
