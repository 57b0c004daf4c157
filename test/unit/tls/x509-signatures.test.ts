import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Scheme, schemesForKey, signWithScheme, verifyWithScheme } from '../../../src/tls/x509/signatures.js';

/** TLS 1.3 signature schemes of X.509 mode (RFC 9846 §4.2.3), signing and verifying both ways. */
describe('X.509 signature schemes', () => {
  const keys: Record<string, KeyObject> = {
    p256: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    p384: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
    p521: generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey,
    ed25519: generateKeyPairSync('ed25519').privateKey,
    rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    rsa1024: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
  };
  const msg = new TextEncoder().encode('TLS 1.3, server CertificateVerify');

  it('each key signs with the schemes TLS 1.3 allows it, best first', () => {
    assert.deepEqual(schemesForKey(keys['p256']!), [Scheme.ecdsa_secp256r1_sha256]);
    assert.deepEqual(schemesForKey(keys['p384']!), [Scheme.ecdsa_secp384r1_sha384]);
    assert.deepEqual(schemesForKey(keys['ed25519']!), [Scheme.ed25519]);
    assert.deepEqual(schemesForKey(keys['rsa2048']!), [Scheme.rsa_pss_rsae_sha256, Scheme.rsa_pss_rsae_sha384, Scheme.rsa_pss_rsae_sha512]);
    // Not offered: P-521 (not in our list), RSA under 2048 bits.
    assert.deepEqual(schemesForKey(keys['p521']!), []);
    assert.deepEqual(schemesForKey(keys['rsa1024']!), []);
  });

  for (const [name, key] of Object.entries({ p256: 'p256', p384: 'p384', ed25519: 'ed25519', rsa2048: 'rsa2048' })) {
    it(`${name}: every scheme signs and verifies; a flipped bit or another message does not verify`, () => {
      const priv = keys[key]!;
      const pub = createPublicKey(priv);
      for (const scheme of schemesForKey(priv)) {
        const sig = signWithScheme(scheme, priv, msg);
        assert.ok(verifyWithScheme(scheme, pub, msg, sig), `scheme 0x${scheme.toString(16)}`);
        const bad = sig.slice();
        bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
        assert.equal(verifyWithScheme(scheme, pub, msg, bad), false);
        assert.equal(verifyWithScheme(scheme, pub, msg.subarray(1), sig), false);
      }
    });
  }

  it('a scheme that does not fit the key never verifies (TLS 1.3 binds ECDSA to its curve; no PKCS #1)', () => {
    const p256 = createPublicKey(keys['p256']!);
    const sig = signWithScheme(Scheme.ecdsa_secp256r1_sha256, keys['p256']!, msg);
    assert.equal(verifyWithScheme(Scheme.ecdsa_secp384r1_sha384, p256, msg, sig), false);
    assert.equal(verifyWithScheme(Scheme.ed25519, p256, msg, sig), false);
    const rsa = createPublicKey(keys['rsa2048']!);
    assert.equal(verifyWithScheme(Scheme.rsa_pkcs1_sha256, rsa, msg, signWithScheme(Scheme.rsa_pss_rsae_sha256, keys['rsa2048']!, msg)), false);
    assert.equal(verifyWithScheme(0x0a0a, rsa, msg, new Uint8Array(256)), false);
  });
});
