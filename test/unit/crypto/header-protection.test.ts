import assert from 'node:assert/strict';
import {
  AesHeaderProtectionKey,
  HeaderProtectionBatch,
  HeaderProtectionPrimer,
  NullHeaderProtectionKey,
  deriveHeaderProtectionKey,
  headerProtectionKey,
  protectHeader,
  unprotectHeader,
} from '../../../src/quic/crypto/index.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { CIPHER_SUITES } from '../../../src/tls/suites.js';

describe('header protection (RFC 9001 §5.4)', () => {
  for (const suite of CIPHER_SUITES.values()) {
    describe(suite.name, () => {
      const hp = deriveHeaderProtectionKey(suite, new SeededRandom(suite.id).fill(new Uint8Array(suite.hashLen)));

      it('the mask is a function of the sample only, and the reused cipher object gives the same mask again', () => {
        const rnd = new SeededRandom(1);
        const a = rnd.fill(new Uint8Array(40));
        const m1 = hp.mask(a, 10).slice(0, 5);
        const m2 = hp.mask(a, 10).slice(0, 5);
        assert.deepEqual(m1, m2);
        const b = new Uint8Array(16);
        b.set(a.subarray(10, 26));
        assert.deepEqual(hp.mask(b, 0).slice(0, 5), m1);
        b[15]! ^= 1;
        assert.notDeepEqual(hp.mask(b, 0).slice(0, 5), m1);
      });

      for (const form of ['long', 'short'] as const) {
        it(`round-trips a ${form} header for every packet number length, touching only the protected bits`, () => {
          const rnd = new SeededRandom(form === 'long' ? 2 : 3);
          for (let pnLen = 1; pnLen <= 4; pnLen++) {
            for (let trial = 0; trial < 50; trial++) {
              const pnOffset = form === 'long' ? 18 : 9;
              const buf = rnd.fill(new Uint8Array(pnOffset + 4 + 16 + rnd.int(20)));
              buf[0] = (form === 'long' ? 0xc0 : 0x40) | (buf[0]! & (form === 'long' ? 0x0c : 0x3c)) | (pnLen - 1);
              const clear = buf.slice();
              protectHeader(buf, 0, pnOffset, pnLen, hp);
              const keep = form === 'long' ? 0xf0 : 0xe0;
              assert.equal(buf[0]! & keep, clear[0]! & keep, 'unprotected bits of byte 0 unchanged');
              assert.deepEqual(buf.subarray(1, pnOffset), clear.subarray(1, pnOffset), 'header before the pn unchanged');
              assert.deepEqual(buf.subarray(pnOffset + pnLen), clear.subarray(pnOffset + pnLen), 'payload unchanged');
              const gotLen = unprotectHeader(buf, 0, pnOffset, buf.length, hp);
              assert.equal(gotLen, pnLen);
              assert.deepEqual(buf, clear);
            }
          }
        });
      }

      it('unprotectHeader returns 0 and leaves the packet alone when it is too short to sample', () => {
        const buf = new SeededRandom(4).fill(new Uint8Array(30));
        buf[0] = 0x43;
        const before = buf.slice();
        assert.equal(unprotectHeader(buf, 0, 11, 30, hp), 0); // needs 11 + 20 = 31
        assert.equal(unprotectHeader(buf, 0, 10, 29, hp), 0); // end before the sample's end
        assert.deepEqual(buf, before);
        assert.throws(() => protectHeader(buf, 0, 11, 4, hp), RangeError);
      });
    });
  }

  it('rejects a header protection key of the wrong length', () => {
    assert.throws(() => headerProtectionKey(CIPHER_SUITES.get(0x1301)!, new Uint8Array(32)), RangeError);
    assert.throws(() => headerProtectionKey(CIPHER_SUITES.get(0x1303)!, new Uint8Array(16)), RangeError);
  });

  it('the null header protection key masks nothing', () => {
    const hp = new NullHeaderProtectionKey();
    const buf = new SeededRandom(5).fill(new Uint8Array(40));
    buf[0] = 0x41;
    const before = buf.slice();
    protectHeader(buf, 0, 5, 2, hp);
    assert.deepEqual(buf, before);
    assert.equal(unprotectHeader(buf, 0, 5, 40, hp), 2);
  });

  describe('HeaderProtectionBatch: protection deferred over a burst', () => {
    /** `count` sealed-looking packets (random bytes, a header of `form`), each in its own buffer. */
    const packets = (rnd: SeededRandom, count: number): { buf: Uint8Array; pnOffset: number; pnLen: number }[] =>
      Array.from({ length: count }, (_, i) => {
        const long = i % 3 === 0;
        const pnLen = 1 + (i % 4);
        const pnOffset = long ? 18 : 9;
        const buf = rnd.fill(new Uint8Array(pnOffset + 4 + 16 + rnd.int(40)));
        buf[0] = (long ? 0xc0 : 0x40) | (buf[0]! & 0x0c) | (pnLen - 1);
        return { buf, pnOffset, pnLen };
      });

    for (const id of [0x1301, 0x1302, 0x1303]) {
      const suite = CIPHER_SUITES.get(id)!;
      it(`${suite.name}: applied, gives the bytes protectHeader gives, packet by packet, across keys and a full batch`, () => {
        const rnd = new SeededRandom(id);
        const keys = [1, 2].map((k) => deriveHeaderProtectionKey(suite, new SeededRandom(id * 10 + k).fill(new Uint8Array(suite.hashLen))));
        const batch = new HeaderProtectionBatch(8);
        const ps = packets(rnd, 21); // more than the capacity: a full batch applies itself first
        const expected = ps.map((p, i) => {
          const b = p.buf.slice();
          protectHeader(b, 0, p.pnOffset, p.pnLen, keys[i < 10 ? 0 : i % 2]!);
          return b;
        });
        ps.forEach((p, i) => batch.protect(p.buf, 0, p.pnOffset, p.pnLen, keys[i < 10 ? 0 : i % 2]!));
        if (suite.hp === 'chacha20') assert.equal(batch.pending, 0, 'ChaCha20 packets are protected at once');
        else assert.equal(batch.pending, 21 - 16, 'two full batches applied themselves; the rest waits');
        batch.apply();
        assert.equal(batch.pending, 0);
        ps.forEach((p, i) => assert.deepEqual(p.buf, expected[i], `packet ${i}`));
        batch.apply(); // nothing pending: no change
        ps.forEach((p, i) => assert.deepEqual(p.buf, expected[i], `packet ${i} after a second apply`));
      });
    }

    it('leaves a recorded packet in clear until apply, and checks the sample like protectHeader', () => {
      const suite = CIPHER_SUITES.get(0x1301)!;
      const hp = deriveHeaderProtectionKey(suite, new SeededRandom(9).fill(new Uint8Array(32)));
      const batch = new HeaderProtectionBatch();
      const buf = new SeededRandom(10).fill(new Uint8Array(60));
      buf[0] = 0x41;
      const clear = buf.slice();
      batch.protect(buf, 0, 9, 2, hp);
      assert.deepEqual(buf, clear);
      batch.apply();
      assert.notDeepEqual(buf.subarray(0, 11), clear.subarray(0, 11));
      assert.deepEqual(buf.subarray(11), clear.subarray(11), 'only the first byte and the packet number change');
      assert.throws(() => batch.protect(new Uint8Array(20), 0, 5, 2, hp), RangeError);
      assert.throws(() => new HeaderProtectionBatch(0), RangeError);
    });
  });

  describe('HeaderProtectionPrimer: masks computed ahead for packets about to be opened', () => {
    const suite = CIPHER_SUITES.get(0x1301)!;
    const keyOf = (seed: number): AesHeaderProtectionKey => deriveHeaderProtectionKey(suite, new SeededRandom(seed).fill(new Uint8Array(32))) as AesHeaderProtectionKey;
    /** The 5 mask bytes used, as a plain Uint8Array (a key's `mask` may return a Buffer). */
    const five = (m: Uint8Array): Uint8Array => new Uint8Array(m.subarray(0, 5));

    it('hands out, for each primed sample, the mask the key computes itself; unprimed samples are computed as before', () => {
      const [k1, k2] = [keyOf(21), keyOf(22)];
      const rnd = new SeededRandom(23);
      const bufs = Array.from({ length: 12 }, () => rnd.fill(new Uint8Array(48)));
      const direct = bufs.map((b, i) => five((i % 4 === 3 ? k2 : k1).mask(b, 9)));
      const primer = new HeaderProtectionPrimer(10);
      bufs.forEach((b, i) => primer.add(i % 4 === 3 ? k2 : k1, b, 9)); // two past the capacity: ignored
      assert.equal(primer.size, 10);
      primer.compute();
      primer.add(k1, bufs[11]!, 9); // after compute: ignored
      assert.equal(primer.size, 10);
      // Opened in order, with one primed packet skipped (never opened) and an unprimed one.
      for (const i of [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]) assert.deepEqual(five((i % 4 === 3 ? k2 : k1).mask(bufs[i]!, 9)), direct[i], `packet ${i}`);
      assert.equal(primer.hits, 9, 'the nine primed and opened came from the primer');
      // Out of order: a sample behind the cursor is computed (same mask), not looked up.
      assert.deepEqual(five(k1.mask(bufs[0]!, 9)), direct[0]);
      assert.equal(primer.hits, 9);
      primer.clear();
      assert.equal(primer.size, 0);
      assert.equal(k1.primed, null, 'the keys no longer consult it');
      assert.deepEqual(five(k1.mask(bufs[1]!, 9)), direct[1]);
      assert.equal(primer.hits, 9);
    });

    it('ignores ChaCha20 keys and samples that do not fit', () => {
      const chacha = deriveHeaderProtectionKey(CIPHER_SUITES.get(0x1303)!, new SeededRandom(24).fill(new Uint8Array(32)));
      const primer = new HeaderProtectionPrimer();
      primer.add(chacha, new Uint8Array(40), 4);
      primer.add(keyOf(25), new Uint8Array(20), 9);
      assert.equal(primer.size, 0);
      assert.throws(() => new HeaderProtectionPrimer(0), RangeError);
    });
  });
});

