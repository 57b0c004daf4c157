import assert from 'node:assert/strict';
import { toHex } from '../../../src/codec/bytes.js';
import {
  OneRttKeys,
  deriveDirectionalKeys,
  deriveKeyMaterial,
  derivePacketKey,
  initialKeys,
  nextTrafficSecret,
  nullKeySet,
  type PacketKey,
} from '../../../src/quic/crypto/index.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { CIPHER_SUITES } from '../../../src/tls/suites.js';

/** Seals a small packet with `w` and reports whether `r` opens it. */
function interoperate(w: PacketKey, r: PacketKey, pn = 77): boolean {
  const buf = new Uint8Array(8 + 24 + 16);
  buf.set([0x41, 1, 2, 3, 4, 5, 6, 7]);
  buf.fill(0x5a, 8, 32);
  const end = w.seal(pn, buf, 0, 8, 32);
  const out = r.open(pn, buf, 0, 8, end);
  return out !== null && out.every((b) => b === 0x5a);
}

describe('key derivation and key update (RFC 9001 §5.1, §6)', () => {
  for (const suite of CIPHER_SUITES.values()) {
    describe(suite.name, () => {
      const rnd = new SeededRandom(suite.id);
      const clientSecret = rnd.fill(new Uint8Array(suite.hashLen));
      const serverSecret = rnd.fill(new Uint8Array(suite.hashLen));

      it('derives material of the suite lengths; "quic ku" changes key and IV but the HP key stays', () => {
        const m = deriveKeyMaterial(suite, clientSecret);
        assert.equal(m.key.length, suite.keyLen);
        assert.equal(m.iv.length, 12);
        assert.equal(m.hp.length, suite.keyLen);
        const next = nextTrafficSecret(suite, clientSecret);
        assert.equal(next.length, suite.hashLen);
        const m2 = deriveKeyMaterial(suite, next);
        assert.notEqual(toHex(m2.key), toHex(m.key));
        assert.notEqual(toHex(m2.iv), toHex(m.iv));
        // Deterministic: next-next is the same function applied twice.
        assert.equal(toHex(nextTrafficSecret(suite, nextTrafficSecret(suite, clientSecret))), toHex(nextTrafficSecret(suite, next)));
      });

      it('OneRttKeys: both sides update in step; HP keys unchanged; previous read key kept', () => {
        const client = new OneRttKeys(suite, serverSecret, clientSecret);
        const server = new OneRttKeys(suite, clientSecret, serverSecret);
        const hpBefore = client.writeHeader;
        assert.equal(client.keyPhase, 0);
        assert.ok(interoperate(client.write, server.read));
        assert.ok(interoperate(server.write, client.read));
        // The next keys are ready before the update (RFC 9001 §6.3).
        assert.ok(interoperate(client.nextWrite, server.readKeyForPhase(1)));
        assert.equal(server.readKeyForPhase(0), server.read);

        client.update();
        assert.equal(client.keyPhase, 1);
        assert.equal(client.generation, 1);
        assert.equal(client.writeHeader, hpBefore, 'HP key object is kept across updates');
        assert.ok(!interoperate(client.write, server.read), 'old read key cannot open new-phase packets');
        assert.ok(interoperate(client.write, server.nextRead));
        assert.equal(toHex(client.nextWriteSecret), toHex(nextTrafficSecret(suite, nextTrafficSecret(suite, clientSecret))));
        // The new write key is exactly the one derived from secret_1.
        assert.ok(interoperate(client.write, derivePacketKey(suite, nextTrafficSecret(suite, clientSecret))));
        assert.ok(client.previousRead);
        assert.ok(interoperate(server.write, client.previousRead), 'previous read key still opens old-phase packets');

        server.update();
        assert.ok(interoperate(client.write, server.read));
        assert.ok(interoperate(server.write, client.read));
        // next-next consistency: two updates == secret_2 on both sides.
        client.update();
        server.update();
        assert.equal(client.keyPhase, 0);
        const secret2 = nextTrafficSecret(suite, nextTrafficSecret(suite, clientSecret));
        assert.equal(toHex(client.nextWriteSecret), toHex(nextTrafficSecret(suite, secret2)));
        assert.equal(toHex(server.nextReadSecret), toHex(nextTrafficSecret(suite, secret2)));
        assert.ok(interoperate(client.write, derivePacketKey(suite, secret2)));
        assert.ok(interoperate(client.write, server.read));
        client.discardPrevious();
        assert.equal(client.previousRead, null);
        // The HP keys still work with packets protected by the original secret's HP key.
        const original = deriveDirectionalKeys(suite, clientSecret).header;
        const sample = new SeededRandom(1).fill(new Uint8Array(16));
        assert.deepEqual(client.writeHeader.mask(sample, 0).slice(0, 5), original.mask(sample, 0).slice(0, 5));
        assert.equal(client.keySet().write.header, client.writeHeader);
      });
    });
  }

  it('initial keys: the client writes what the server reads and vice versa, and a different DCID does not open', () => {
    const dcid = new SeededRandom(3).fill(new Uint8Array(8));
    const c = initialKeys(dcid, true);
    const s = initialKeys(dcid, false);
    assert.ok(interoperate(c.write.packet, s.read.packet));
    assert.ok(interoperate(s.write.packet, c.read.packet));
    assert.ok(!interoperate(c.write.packet, c.read.packet));
    const other = initialKeys(new Uint8Array(8), false);
    assert.ok(!interoperate(c.write.packet, other.read.packet));
  });

  it('null key sets interoperate with themselves', () => {
    const k = nullKeySet();
    assert.ok(interoperate(k.write.packet, k.read.packet));
  });
});
