import assert from 'node:assert/strict';
import { Reader } from '../../../src/codec/reader.js';
import { Writer, writeVarintAt } from '../../../src/codec/writer.js';
import { DecodeError, BufferOverflowError } from '../../../src/codec/errors.js';
import { VARINT_SATURATED, sizeVarint, sizeVarintExact } from '../../../src/codec/varint.js';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { SeededRandom } from '../../../src/tls/random.js';

describe('varint (RFC 9000 §16)', () => {
  // RFC 9000 Appendix A.1: sample variable-length integer decodings.
  const vectors: Array<[string, bigint]> = [
    ['c2197c5eff14e88c', 151288809941952652n],
    ['9d7f3e7d', 494878333n],
    ['7bbd', 15293n],
    ['25', 37n],
    ['4025', 37n],
  ];

  it('decodes the RFC 9000 Appendix A.1 vectors (bigint path)', () => {
    for (const [hex, v] of vectors) {
      const r = new Reader(fromHex(hex));
      assert.equal(r.varintBig(), v, hex);
      assert.ok(r.atEnd);
    }
  });

  it('decodes the vectors with the number paths and the precision policy', () => {
    for (const [hex, v] of vectors) {
      const exact = new Reader(fromHex(hex)).varintExact();
      assert.equal(BigInt(exact), v, hex);
      const n = new Reader(fromHex(hex)).varint();
      assert.equal(n, v > BigInt(Number.MAX_SAFE_INTEGER) ? VARINT_SATURATED : Number(v), hex);
    }
    // 2^62-1 (iroh's initial_max_data) saturates rather than failing.
    const max = new Reader(fromHex('ffffffffffffffff'));
    assert.equal(max.varint(), VARINT_SATURATED);
    assert.equal(new Reader(fromHex('ffffffffffffffff')).varintExact(), (1n << 62n) - 1n);
  });

  it('encodes the shortest form and round-trips at every width boundary', () => {
    assert.equal(toHex(enc((w) => w.varintBig(151288809941952652n))), 'c2197c5eff14e88c');
    assert.equal(toHex(enc((w) => w.varint(494878333))), '9d7f3e7d');
    assert.equal(toHex(enc((w) => w.varint(15293))), '7bbd');
    assert.equal(toHex(enc((w) => w.varint(37))), '25');
    const edges = [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 32, 2 ** 53 - 1];
    for (const v of edges) {
      const b = enc((w) => w.varint(v));
      assert.equal(b.length, sizeVarint(v), `size of ${v}`);
      assert.equal(new Reader(b).varint(), v);
    }
    const big = (1n << 62n) - 1n;
    assert.equal(new Reader(enc((w) => w.varintExact(big))).varintBig(), big);
    assert.equal(sizeVarintExact(big), 8);
    assert.throws(() => enc((w) => w.varintBig(1n << 62n)), RangeError);
    assert.throws(() => enc((w) => w.varintExact(-1)), RangeError);
  });

  it('writes a fixed width and back-patches a varint length', () => {
    const w = Writer.growable(4);
    const at = w.beginVarint(2);
    w.bytesOf(new Uint8Array(300));
    w.endVarint(at, 2);
    const r = new Reader(w.bytes());
    assert.equal(r.varint(), 300);
    assert.equal(r.remaining, 300);
    const b = new Uint8Array(1);
    assert.throws(() => writeVarintAt(b, 0, 64, 1), RangeError);
  });

  it('every truncated prefix fails with a DecodeError', () => {
    for (const [hex] of vectors) {
      const b = fromHex(hex);
      for (let n = 0; n < b.length; n++) {
        assert.throws(() => new Reader(b.subarray(0, n)).varint(), DecodeError);
        assert.throws(() => new Reader(b.subarray(0, n)).varintBig(), DecodeError);
      }
    }
  });

  it('random values round-trip (seeded)', () => {
    const rng = new SeededRandom(7);
    for (let i = 0; i < 2000; i++) {
      const v = Math.floor(rng.next() * 2 ** (rng.int(53) + 1));
      const b = enc((w) => w.varint(v));
      assert.equal(b.length, sizeVarint(v));
      assert.equal(new Reader(b).varint(), v);
    }
  });
});

describe('Reader / Writer', () => {
  it('reads and writes fixed-width integers and TLS vectors', () => {
    const w = Writer.growable(1);
    w.u8(0xab);
    w.u16(0xbeef);
    w.u24(0x123456);
    w.u32(0xdeadbeef);
    w.uint(0x0102030405, 5);
    w.vec8(fromHex('aa'));
    w.vec16(fromHex('bbcc'));
    w.vec24(fromHex(''));
    const at = w.beginU24();
    w.u8(1);
    w.endU24(at);
    const r = new Reader(w.bytes());
    assert.equal(r.u8(), 0xab);
    assert.equal(r.u16(), 0xbeef);
    assert.equal(r.u24(), 0x123456);
    assert.equal(r.u32(), 0xdeadbeef);
    assert.equal(r.uint(5), 0x0102030405);
    assert.equal(toHex(r.vec8()), 'aa');
    assert.equal(toHex(r.vec16()), 'bbcc');
    assert.equal(r.vec24().length, 0);
    const sub = r.sub24();
    assert.equal(sub.u8(), 1);
    sub.expectEnd();
    r.expectEnd();
  });

  it('truncation and trailing bytes are DecodeErrors', () => {
    assert.throws(() => new Reader(fromHex('01')).u16(), DecodeError);
    assert.throws(() => new Reader(fromHex('0003aabb')).vec16(), DecodeError);
    assert.throws(() => new Reader(fromHex('00')).expectEnd(), DecodeError);
    assert.throws(() => new Reader(fromHex('')).u8(), DecodeError);
  });

  it('a fixed writer refuses to overflow and back-patch checks widths', () => {
    const w = new Writer(new Uint8Array(3));
    w.u16(1);
    assert.throws(() => w.u16(2), BufferOverflowError);
    const g = Writer.growable();
    const at = g.beginU8();
    g.zeros(256);
    assert.throws(() => g.endU8(at), RangeError);
  });
});

function enc(f: (w: Writer) => void): Uint8Array {
  const w = Writer.growable(8);
  f(w);
  return w.bytes();
}
