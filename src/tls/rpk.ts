import { Alert, TlsAlert } from './alerts.js';

/**
 * Raw public keys (RFC 7250 §3) as iroh uses them: the certificate entry is the DER
 * SubjectPublicKeyInfo of an Ed25519 key (RFC 8410 §4), always 44 bytes: the fixed 12-byte
 * prefix `302a300506032b6570032100` (SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING of 33
 * bytes with 0 unused bits }) followed by the 32 key bytes. Anything else is refused.
 */

export const ED25519_SPKI_PREFIX: Uint8Array = Uint8Array.of(
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
);
export const ED25519_SPKI_LENGTH = 44;

/** The 44-byte SPKI of a 32-byte Ed25519 public key. */
export function wrapEd25519Spki(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new RangeError('Ed25519 public key must be 32 bytes');
  const out = new Uint8Array(ED25519_SPKI_LENGTH);
  out.set(ED25519_SPKI_PREFIX, 0);
  out.set(publicKey, ED25519_SPKI_PREFIX.length);
  return out;
}

/** The 32 key bytes of an Ed25519 SPKI (a copy). Anything else: TlsAlert(bad_certificate). */
export function unwrapEd25519Spki(spki: Uint8Array): Uint8Array {
  if (spki.length !== ED25519_SPKI_LENGTH) {
    throw new TlsAlert(Alert.bad_certificate, `raw public key is ${spki.length} bytes, not an Ed25519 SPKI`);
  }
  for (let i = 0; i < ED25519_SPKI_PREFIX.length; i++) {
    if (spki[i] !== ED25519_SPKI_PREFIX[i]) {
      throw new TlsAlert(Alert.bad_certificate, 'raw public key is not an Ed25519 SubjectPublicKeyInfo');
    }
  }
  return spki.slice(ED25519_SPKI_PREFIX.length);
}
