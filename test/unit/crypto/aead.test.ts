import assert from 'node:assert/strict';
import { createCipheriv, type CipherGCM } from 'node:crypto';
import { toHex } from '../../../src/codec/bytes.js';
import { AeadPacketKey, NullPacketKey, derivePacketKey, type PacketKey } from '../../../src/quic/crypto/index.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { CIPHER_SUITES, type CipherSuite } from '../../../src/tls/suites.js';

const SUITES: CipherSuite[] = [...CIPHER_SUITES.values()];

/** A packet-shaped buffer: `hdr` bytes of header (AAD), `len` of payload, 16 spare for the tag. */
function sample(rnd: SeededRandom, hdr: number, len: number): { buf: Uint8Array; plain: Uint8Array } {
  const buf = new Uint8Array(hdr + len + 16);
  rnd.fill(buf.subarray(0, hdr + len));
  return { buf, plain: buf.slice(hdr, hdr + len) };
}

function keyFor(suite: CipherSuite, seed: number): PacketKey {
  const secret = new SeededRandom(seed).fill(new Uint8Array(suite.hashLen));
  return derivePacketKey(suite, secret);
}

describe('AEAD packet keys (RFC 9001 §5.3)', () => {
  for (const suite of SUITES) {
    describe(suite.name, () => {
      it('seals in place and opens back, for payload sizes 0..1400 and packet numbers up to 2^53-1', () => {
        const rnd = new SeededRandom(suite.id);
        const key = keyFor(suite, 1);
        for (const [len, pn] of [[0, 0], [1, 1], [17, 255], [100, 2 ** 32 + 7], [1200, 123456], [1400, Number.MAX_SAFE_INTEGER]] as const) {
          const { buf, plain } = sample(rnd, 20, len);
          const header = buf.slice(0, 20);
          const end = key.seal(pn, buf, 0, 20, 20 + len);
          assert.equal(end, 20 + len + 16);
          assert.deepEqual(buf.subarray(0, 20), header, 'header untouched');
          if (len > 0) assert.notDeepEqual(buf.subarray(20, 20 + len), plain);
          const out = key.open(pn, buf, 0, 20, end);
          assert.ok(out, `open len ${len}`);
          assert.equal(toHex(out), toHex(plain));
          assert.equal(out.buffer, buf.buffer, 'plaintext view aliases the packet buffer');
        }
      });

      it('open returns null (and leaves the buffer alone) for a tampered ciphertext, tag, header or packet number', () => {
        const rnd = new SeededRandom(7);
        const key = keyFor(suite, 2);
        const { buf } = sample(rnd, 12, 60);
        const end = key.seal(42, buf, 0, 12, 72);
        const sealed = buf.slice();
        for (const at of [0, 11, 12, 40, 71, 72, 87]) {
          const bad = sealed.slice();
          bad[at]! ^= 0x80;
          const before = bad.slice();
          assert.equal(key.open(42, bad, 0, 12, end), null, `flip at ${at}`);
          assert.deepEqual(bad, before, `buffer unchanged after failed open (flip at ${at})`);
        }
        assert.equal(key.open(43, sealed.slice(), 0, 12, end), null, 'wrong packet number (nonce)');
        assert.equal(keyFor(suite, 3).open(42, sealed.slice(), 0, 12, end), null, 'wrong key');
        assert.equal(key.open(42, sealed.slice(), 0, 12, 12 + 15), null, 'shorter than a tag');
        assert.ok(key.open(42, sealed.slice(), 0, 12, end), 'the untampered packet still opens');
      });

      it('different packet numbers give different ciphertexts (the nonce changes)', () => {
        const key = keyFor(suite, 4);
        const a = new Uint8Array(4 + 32 + 16);
        const b = new Uint8Array(4 + 32 + 16);
        key.seal(2 ** 33, a, 0, 4, 36);
        key.seal(2 ** 33 + 1, b, 0, 4, 36);
        assert.notDeepEqual(a.subarray(4), b.subarray(4));
      });

      it('seal throws RangeError when the tag does not fit (a builder bug)', () => {
        const key = keyFor(suite, 5);
        assert.throws(() => key.seal(0, new Uint8Array(30), 0, 4, 20), RangeError);
      });
    });
  }

  it('multipath: the nonce is IV XOR (path id as 32 bits ‖ packet number as 64 bits); path 0 is RFC 9001', () => {
    // draft-ietf-quic-multipath "Packet Protection" (rustls' Nonce::for_path, which noq uses),
    // checked against node:crypto with a nonce computed here independently, for every suite.
    for (const suite of SUITES) {
      const rnd = new SeededRandom(0x9a7 + suite.id);
      const keyBytes = rnd.fill(new Uint8Array(suite.keyLen));
      const iv = rnd.fill(new Uint8Array(suite.ivLen));
      const key = new AeadPacketKey(suite, keyBytes, iv);
      for (const [pathId, pn] of [[0, 5], [1, 0], [7, 2 ** 40 + 3], [0xffffffff, Number.MAX_SAFE_INTEGER], [0x01020304, 0x0a0b0c0d]] as const) {
        const { buf, plain } = sample(rnd, 12, 40);
        const aad = buf.slice(0, 12);
        const end = key.seal(pn, buf, 0, 12, 52, pathId);
        const mixed = (BigInt(pathId) << 64n) | BigInt(pn);
        const nonce = iv.slice();
        for (let i = 0; i < 12; i++) nonce[nonce.length - 1 - i]! ^= Number((mixed >> BigInt(8 * i)) & 0xffn);
        const opts = suite.aead === 'chacha20-poly1305' ? { authTagLength: 16 } : undefined;
        const c = createCipheriv(suite.aead, keyBytes, nonce, opts as never) as CipherGCM;
        c.setAAD(aad);
        const expect = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
        assert.equal(toHex(buf.subarray(12, end)), toHex(expect), `${suite.name} path ${pathId} pn ${pn}`);
        // Another path id does not open it; its own does.
        assert.equal(key.open(pn, buf.slice(), 0, 12, end, pathId ^ 1), null);
        assert.equal(toHex(key.open(pn, buf, 0, 12, end, pathId)!), toHex(plain));
      }
      // Path 0 is the single-path nonce: with and without the argument, the same bytes.
      const a = sample(new SeededRandom(1), 10, 30).buf;
      const b = a.slice();
      key.seal(99, a, 0, 10, 40);
      key.seal(99, b, 0, 10, 40, 0);
      assert.equal(toHex(a), toHex(b));
    }
  });

  it('rejects a key or IV of the wrong length', () => {
    const suite = CIPHER_SUITES.get(0x1301)!;
    assert.throws(() => new AeadPacketKey(suite, new Uint8Array(32), new Uint8Array(12)), RangeError);
    assert.throws(() => new AeadPacketKey(suite, new Uint8Array(16), new Uint8Array(8)), RangeError);
  });
});

describe('null packet key', () => {
  it('seals as plaintext plus 16 zero bytes and opens only a zero tag', () => {
    const key = new NullPacketKey();
    const buf = new Uint8Array(4 + 5 + 16).fill(0xee);
    buf.set([1, 2, 3, 4, 5], 4);
    const end = key.seal(9, buf, 0, 4, 9);
    assert.equal(end, 25);
    assert.deepEqual([...buf.subarray(4, 9)], [1, 2, 3, 4, 5]);
    assert.ok(buf.subarray(9).every((b) => b === 0));
    assert.deepEqual([...key.open(9, buf, 0, 4, end)!], [1, 2, 3, 4, 5]);
    buf[20] = 1;
    assert.equal(key.open(9, buf, 0, 4, end), null);
    assert.equal(key.open(9, buf, 0, 4, 10), null);
    assert.throws(() => key.seal(0, new Uint8Array(10), 0, 0, 5), RangeError);
  });
});
