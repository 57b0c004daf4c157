import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { Alert, TlsAlert } from '../../../src/tls/alerts.js';
import {
  ed25519PublicKey,
  ed25519Sign,
  ed25519Signer,
  ed25519Verify,
  x25519KeyPair,
  x25519SharedSecret,
  x509Ed25519PublicKey,
} from '../../../src/tls/crypto.js';
import { ED25519_SPKI_PREFIX, unwrapEd25519Spki, wrapEd25519Spki } from '../../../src/tls/rpk.js';
import { certificateVerifyInput } from '../../../src/tls/handshake.js';
import { SeededRandom } from '../../../src/tls/random.js';

const isAlert = (alert: number) => (e: unknown): boolean => e instanceof TlsAlert && e.alert === alert;

describe('TLS crypto adapter (node:crypto)', () => {
  it('Ed25519: RFC 8032 §7.1 test 1', () => {
    const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const pub = ed25519PublicKey(seed);
    assert.equal(toHex(pub), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const sig = ed25519Sign(ed25519Signer(seed), new Uint8Array(0));
    assert.equal(
      toHex(sig),
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    assert.ok(ed25519Verify(pub, new Uint8Array(0), sig));
  });

  it('Ed25519 verify is false (never throws) for bad signatures, keys and lengths', () => {
    const s = ed25519Signer(new Uint8Array(32).fill(3));
    const msg = Uint8Array.of(1, 2, 3);
    const sig = ed25519Sign(s, msg);
    assert.ok(ed25519Verify(s.publicKey, msg, sig));
    const bad = sig.slice();
    bad[0]! ^= 1;
    assert.equal(ed25519Verify(s.publicKey, msg, bad), false);
    assert.equal(ed25519Verify(s.publicKey, Uint8Array.of(1, 2), sig), false);
    assert.equal(ed25519Verify(s.publicKey.subarray(0, 31), msg, sig), false);
    assert.equal(ed25519Verify(s.publicKey, msg, sig.subarray(0, 63)), false);
    // Not a curve point (y = 2 has no x): false, not an exception.
    const notPoint = new Uint8Array(32);
    notPoint[0] = 2;
    assert.equal(ed25519Verify(notPoint, msg, sig), false);
    const rnd = new SeededRandom(5);
    for (let i = 0; i < 50; i++) assert.equal(ed25519Verify(rnd.fill(new Uint8Array(32)), msg, sig), false);
  });

  it('Ed25519 verify with the peers\' keys it keeps: each key accepts its own signature and no other, past the cache size and with one array reused for every key', () => {
    const msg = Uint8Array.of(9, 8, 7);
    const signers = Array.from({ length: 100 }, (_, i) => ed25519Signer(new Uint8Array(32).fill(i + 1)));
    const sigs = signers.map((s) => ed25519Sign(s, msg));
    const key = new Uint8Array(32);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < signers.length; i++) {
        key.set(signers[i]!.publicKey);
        assert.ok(ed25519Verify(key, msg, sigs[i]!), `key ${i} round ${round}`);
        assert.equal(ed25519Verify(key, msg, sigs[(i + 1) % signers.length]!), false, `key ${i} with the next key's signature`);
      }
    }
  });

  it('X25519: RFC 7748 §6.1', () => {
    const a = x25519KeyPair(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const b = x25519KeyPair(fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    assert.equal(toHex(a.publicKey), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    assert.equal(toHex(b.publicKey), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    assert.equal(toHex(x25519SharedSecret(a, b.publicKey)), k);
    assert.equal(toHex(x25519SharedSecret(b, a.publicKey)), k);
  });

  it('X25519: a bad peer share is an illegal_parameter', () => {
    const a = x25519KeyPair(new Uint8Array(32).fill(9));
    assert.throws(() => x25519SharedSecret(a, new Uint8Array(31)), isAlert(Alert.illegal_parameter));
    assert.throws(() => x25519SharedSecret(a, new Uint8Array(33)), isAlert(Alert.illegal_parameter));
    // Small-order points give the all-zero secret (RFC 7748 §6.1).
    assert.throws(() => x25519SharedSecret(a, new Uint8Array(32)), isAlert(Alert.illegal_parameter));
    const one = new Uint8Array(32);
    one[0] = 1;
    assert.throws(() => x25519SharedSecret(a, one), isAlert(Alert.illegal_parameter));
  });

  it('x509Ed25519PublicKey returns undefined for garbage', () => {
    assert.equal(x509Ed25519PublicKey(new Uint8Array(0)), undefined);
    assert.equal(x509Ed25519PublicKey(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)), undefined);
  });

  it('CertificateVerify input layout (RFC 9846 §4.4.3)', () => {
    const th = new Uint8Array(32).fill(0xab);
    const s = certificateVerifyInput('server', th);
    assert.equal(s.length, 64 + 33 + 1 + 32);
    assert.ok(s.subarray(0, 64).every((b) => b === 0x20));
    assert.equal(new TextDecoder().decode(s.subarray(64, 97)), 'TLS 1.3, server CertificateVerify');
    assert.equal(s[97], 0);
    assert.deepEqual(s.subarray(98), th);
    assert.equal(new TextDecoder().decode(certificateVerifyInput('client', th).subarray(64, 97)), 'TLS 1.3, client CertificateVerify');
  });
});

describe('raw public keys (RFC 7250, Ed25519 SPKI)', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);

  it('wraps as the fixed 12-byte prefix + key, and unwraps back (copy)', () => {
    const spki = wrapEd25519Spki(key);
    assert.equal(toHex(spki), '302a300506032b6570032100' + toHex(key));
    assert.deepEqual(ED25519_SPKI_PREFIX, fromHex('302a300506032b6570032100'));
    const out = unwrapEd25519Spki(spki);
    assert.deepEqual(out, key);
    spki[20] = 0xff;
    assert.deepEqual(out, key);
    assert.throws(() => wrapEd25519Spki(new Uint8Array(31)), RangeError);
  });

  const MALFORMED: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['43 bytes', fromHex('302a300506032b6570032100' + '00'.repeat(31))],
    ['45 bytes', fromHex('302a300506032b6570032100' + '00'.repeat(33))],
    ['X25519 OID', fromHex('302a300506032b656e032100' + '00'.repeat(32))],
    ['unused bits in BIT STRING', fromHex('302a300506032b6570032101' + '00'.repeat(32))],
    ['wrong outer tag', fromHex('312a300506032b6570032100' + '00'.repeat(32))],
    ['an X.509-looking blob', fromHex('3082' + '00'.repeat(42))],
  ];
  for (const [name, bad] of MALFORMED) {
    it(`refuses ${name} with bad_certificate`, () => {
      assert.throws(() => unwrapEd25519Spki(bad), isAlert(Alert.bad_certificate));
    });
  }
});
