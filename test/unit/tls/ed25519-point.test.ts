import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromHex } from '../../../src/codec/bytes.js';
import { isEd25519Point } from '../../../src/tls/ed25519-point.js';
import { SeededRandom } from '../../../src/tls/random.js';

/** RFC 8032 §5.1.3 strict point decoding (src/tls/ed25519-point.ts), against @noble/curves. */
describe('Ed25519 point decoding', () => {
  const noble = (b: Uint8Array): boolean => {
    try {
      ed25519.Point.fromBytes(b, false);
      return true;
    } catch {
      return false;
    }
  };
  const le = (n: bigint, signBit = 0): Uint8Array => {
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
    b[31] = (b[31]! & 0x7f) | (signBit << 7);
    return b;
  };
  const P = (1n << 255n) - 19n;

  it('accepts the public keys of RFC 8032 §7.1 and keys derived from random seeds', () => {
    for (const hex of [
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    ]) {
      assert.equal(isEd25519Point(fromHex(hex)), true, hex);
    }
    const r = new SeededRandom(8032);
    for (let i = 0; i < 20; i++) assert.equal(isEd25519Point(ed25519.getPublicKey(r.fill(new Uint8Array(32)))), true);
  });

  it('edge encodings: y >= p refused, x = 0 only with sign 0, small-order points accepted', () => {
    assert.equal(isEd25519Point(le(1n)), true, 'the identity (y = 1, x = 0)');
    assert.equal(isEd25519Point(le(1n, 1)), false, 'x = 0 with the sign bit set');
    assert.equal(isEd25519Point(le(P - 1n)), true, 'y = -1: x = 0, a point of order 2');
    assert.equal(isEd25519Point(le(P - 1n, 1)), false);
    for (const y of [P, P + 1n, P + 18n, (1n << 255n) - 1n]) {
      assert.equal(isEd25519Point(le(y)), false, `non-canonical y = p + ${y - P}`);
      assert.equal(isEd25519Point(le(y)), noble(le(y)));
    }
    assert.equal(isEd25519Point(le(0n)), noble(le(0n)), 'y = 0 (x^2 = -1/1: a root exists)');
    assert.equal(isEd25519Point(new Uint8Array(31)), false, 'not 32 bytes');
    assert.equal(isEd25519Point(new Uint8Array(33)), false);
  });

  it('property: agrees with @noble/curves on random encodings, sign bits and values near p', () => {
    const r = new SeededRandom(0x25519);
    let valid = 0;
    for (let i = 0; i < 3000; i++) {
      const b = r.fill(new Uint8Array(32));
      if (i % 10 === 0) {
        // Near p: the top bytes all ones (only y >= p - 2^64 or so differ from random ones).
        b.fill(0xff, 8, 31);
        b[31] = (b[31]! & 0x80) | 0x7f;
      }
      const ours = isEd25519Point(b);
      assert.equal(ours, noble(b), Buffer.from(b).toString('hex'));
      if (ours) valid++;
    }
    assert.ok(valid > 1200 && valid < 1800, `${valid} of 3000 valid (about half)`);
  });
});
