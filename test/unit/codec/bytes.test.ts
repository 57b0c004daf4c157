import { strict as assert } from 'node:assert';
import {
  binaryStringEquals,
  binaryStringEqualsConstantTime,
  fromBinaryString,
  toBinaryString,
} from '../../../src/codec/bytes.js';

describe('codec: binary strings (connection IDs and reset tokens kept as strings)', () => {
  it('round-trips every byte value, and an empty array', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = toBinaryString(all);
    assert.equal(s.length, 256);
    assert.deepEqual(fromBinaryString(s), all);
    assert.equal(toBinaryString(new Uint8Array(0)), '');
    assert.deepEqual(fromBinaryString(''), new Uint8Array(0));
  });

  it('compares with bytes at an offset, the length included', () => {
    const cid = Uint8Array.of(1, 2, 3, 0xff);
    const s = toBinaryString(cid);
    for (const eq of [binaryStringEquals, binaryStringEqualsConstantTime]) {
      assert.equal(eq(s, cid), true);
      assert.equal(eq(s, Uint8Array.of(9, 1, 2, 3, 0xff), 1), true);
      assert.equal(eq(s, Uint8Array.of(1, 2, 3, 0xfe)), false);
      assert.equal(eq(s, Uint8Array.of(1, 2, 3)), false);
      assert.equal(eq(s, Uint8Array.of(1, 2, 3, 0xff, 0)), false);
      assert.equal(eq('', new Uint8Array(0)), true);
    }
  });
});
