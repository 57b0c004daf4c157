import assert from 'node:assert/strict';
import {
  decodePacketNumber,
  packetNumberLength,
  readPacketNumber,
  truncatePacketNumber,
  writePacketNumber,
  type PacketNumberLength,
} from '../../src/quic/packet/number.js';
import { SeededRandom } from '../../src/tls/random.js';

describe('RFC 9000 Appendix A.2/A.3: packet number encoding and decoding', () => {
  it('A.2: 0xac5c02 with largest acked 0xabe8b3 takes 16 bits', () => {
    assert.equal(packetNumberLength(0xac5c02, 0xabe8b3), 2);
    assert.equal(truncatePacketNumber(0xac5c02, 2), 0x5c02);
  });

  it('A.2: 0xace8fe with largest acked 0xabe8b3 takes 24 bits', () => {
    assert.equal(packetNumberLength(0xace8fe, 0xabe8b3), 3);
    assert.equal(truncatePacketNumber(0xace8fe, 3), 0xace8fe);
  });

  it('A.3: largest 0xa82f30ea and the 16-bit value 0x9b32 decode to 0xa82f9b32', () => {
    assert.equal(decodePacketNumber(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
  });

  it('chooses lengths at the exact boundaries (twice the range)', () => {
    // No acknowledgment yet: num_unacked = pn + 1.
    assert.equal(packetNumberLength(0, -1), 1);
    assert.equal(packetNumberLength(127, -1), 1); // 2 * 128 = 256
    assert.equal(packetNumberLength(128, -1), 2);
    assert.equal(packetNumberLength(100 + 128, 100), 1);
    assert.equal(packetNumberLength(100 + 129, 100), 2);
    assert.equal(packetNumberLength(100 + 0x8000, 100), 2);
    assert.equal(packetNumberLength(100 + 0x8001, 100), 3);
    assert.equal(packetNumberLength(100 + 0x800000, 100), 3);
    assert.equal(packetNumberLength(100 + 0x800001, 100), 4);
    assert.equal(packetNumberLength(100 + 0x80000000, 100), 4);
    assert.throws(() => packetNumberLength(100 + 0x80000001, 100), RangeError);
    assert.throws(() => packetNumberLength(100, 100), RangeError);
  });

  it('decodes at window edges, near 0, and above 2^32', () => {
    assert.equal(decodePacketNumber(-1, 0, 8), 0);
    assert.equal(decodePacketNumber(-1, 5, 8), 5);
    assert.equal(decodePacketNumber(0xff, 0x00, 8), 0x100);
    assert.equal(decodePacketNumber(0x1fe, 0xff, 8), 0x1ff);
    // Candidate below the window: wraps up.
    assert.equal(decodePacketNumber(0x1f0, 0x01, 8), 0x201);
    // Candidate above the window: wraps down.
    assert.equal(decodePacketNumber(0x205, 0xf0, 8), 0x1f0);
    // Near zero no negative result.
    assert.equal(decodePacketNumber(2, 0xff, 8), 0xff);
    const big = 2 ** 40 + 12345;
    assert.equal(decodePacketNumber(big - 1, truncatePacketNumber(big, 4), 32), big);
    assert.equal(decodePacketNumber(big - 1, truncatePacketNumber(big, 1), 8), big);
  });

  it('writes and reads the truncated bytes big-endian', () => {
    const b = new Uint8Array(6);
    writePacketNumber(b, 1, 0x12345678, 4);
    assert.deepEqual([...b], [0, 0x12, 0x34, 0x56, 0x78, 0]);
    writePacketNumber(b, 1, 2 ** 40 + 0xabcdef, 3);
    assert.deepEqual([...b.subarray(1, 4)], [0xab, 0xcd, 0xef]);
    assert.equal(readPacketNumber(b, 1, 3), 0xabcdef);
  });

  it('property: decode(encode(pn)) == pn for random pn / largest-acked pairs (seed 9000)', () => {
    const rnd = new SeededRandom(9000);
    const buf = new Uint8Array(4);
    for (let i = 0; i < 20000; i++) {
      // Largest acked anywhere up to 2^48; the gap sized across all four encodings.
      const largestAcked = rnd.int(4) === 0 ? -1 : Math.floor(rnd.next() * 2 ** 48);
      const gapBits = 1 + rnd.int(31);
      const gap = 1 + Math.floor(rnd.next() * 2 ** gapBits);
      const pn = largestAcked + Math.min(gap, 2 ** 31);
      const len = packetNumberLength(pn, largestAcked);
      writePacketNumber(buf, 0, pn, len);
      const truncated = readPacketNumber(buf, 0, len);
      assert.equal(truncated, truncatePacketNumber(pn, len));
      // The receiver's largest received is anything from the largest acked up to pn - 1.
      const lo = largestAcked;
      const largestReceived = lo + Math.floor(rnd.next() * (pn - lo));
      const got = decodePacketNumber(largestReceived, truncated, (len * 8) as 8 | 16 | 24 | 32);
      assert.equal(got, pn, `seed 9000 iteration ${i}: pn ${pn} largestAcked ${largestAcked} largestReceived ${largestReceived} len ${len}`);
    }
  });

  it('property: any pn within half a window of expected decodes exactly (seed 9001)', () => {
    const rnd = new SeededRandom(9001);
    for (let i = 0; i < 20000; i++) {
      const len = (1 + rnd.int(4)) as PacketNumberLength;
      const win = 2 ** (8 * len);
      const largest = Math.floor(rnd.next() * 2 ** 50);
      const expected = largest + 1;
      // pn in (expected - hwin, expected + hwin]
      const pn = Math.max(0, expected - win / 2 + 1 + Math.floor(rnd.next() * win));
      assert.equal(decodePacketNumber(largest, truncatePacketNumber(pn, len), (len * 8) as 8 | 16 | 24 | 32), pn, `seed 9001 iteration ${i}`);
    }
  });
});
