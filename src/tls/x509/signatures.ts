import { constants, createHash, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';

/**
 * TLS 1.3 signature schemes (RFC 9846 §4.2.3) for X.509 mode, over node:crypto KeyObjects: the
 * node:crypto adapter of this folder. Raw-public-key mode never comes here (it signs and verifies
 * Ed25519 through ../crypto.ts).
 */

export const Scheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
} as const;

/**
 * The schemes we accept in a CertificateVerify, in preference order (sent in
 * signature_algorithms and CertificateRequest).
 */
export const VERIFY_SCHEMES: readonly number[] = [
  Scheme.ecdsa_secp256r1_sha256,
  Scheme.ed25519,
  Scheme.ecdsa_secp384r1_sha384,
  Scheme.rsa_pss_rsae_sha256,
  Scheme.rsa_pss_rsae_sha384,
  Scheme.rsa_pss_rsae_sha512,
];

/**
 * What a client offers in signature_algorithms in X.509 mode: the CertificateVerify schemes, and
 * the PKCS #1 ones, which RFC 9846 §4.2.3 allows only in certificates (most public CAs still sign
 * with rsa_pkcs1_sha256): a server chooses its chain by this list.
 */
export const OFFERED_SCHEMES: readonly number[] = [
  ...VERIFY_SCHEMES,
  Scheme.rsa_pkcs1_sha256,
  Scheme.rsa_pkcs1_sha384,
  Scheme.rsa_pkcs1_sha512,
];

/** The CertificateVerify schemes a key can sign with, best first (RFC 9846 §4.2.3, §4.4.3). */
export function schemesForKey(key: KeyObject): number[] {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return [Scheme.ed25519];
    case 'ec': {
      // TLS 1.3 binds each ECDSA scheme to its curve.
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return [Scheme.ecdsa_secp256r1_sha256];
      if (curve === 'secp384r1') return [Scheme.ecdsa_secp384r1_sha384];
      return [];
    }
    case 'rsa':
      // rsa_pss_rsae: PSS signatures with an rsaEncryption key (PKCS #1 v1.5 is forbidden in
      // CertificateVerify, §4.4.3).
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048
        ? [Scheme.rsa_pss_rsae_sha256, Scheme.rsa_pss_rsae_sha384, Scheme.rsa_pss_rsae_sha512]
        : [];
    default:
      return [];
  }
}

/** A human name for a scheme ("ecdsa_secp256r1_sha256", "0x0a0a"). */
export function schemeName(scheme: number): string {
  for (const [k, v] of Object.entries(Scheme)) if (v === scheme) return k;
  return `0x${scheme.toString(16).padStart(4, '0')}`;
}

/** Signs `message` with `key` under `scheme` (one of `schemesForKey(key)`). */
export function signWithScheme(scheme: number, key: KeyObject, message: Uint8Array): Uint8Array {
  const p = params(scheme);
  const out = p.pss
    ? nodeSign(p.hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength })
    : nodeSign(p.hash, message, key);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * True when `signature` is `key`'s signature of `message` under `scheme`, and the key is of the
 * scheme's type (an ECDSA scheme on its own curve, RSA-PSS on an RSA key). Never throws.
 */
export function verifyWithScheme(scheme: number, key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (!schemesForKey(key).includes(scheme) && !(key.asymmetricKeyType === 'rsa' && RSA_PSS.has(scheme))) return false;
  try {
    const p = params(scheme);
    return p.pss
      ? nodeVerify(p.hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, signature)
      : nodeVerify(p.hash, message, key, signature);
  } catch {
    return false;
  }
}

/** SHA-256 of a DER SubjectPublicKeyInfo: what a pin names (as HPKP, RFC 7469 §2.4). */
export function spkiSha256(spki: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(spki).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

const RSA_PSS = new Set<number>([Scheme.rsa_pss_rsae_sha256, Scheme.rsa_pss_rsae_sha384, Scheme.rsa_pss_rsae_sha512]);

function params(scheme: number): { hash: string | null; pss: boolean; saltLength: number } {
  switch (scheme) {
    case Scheme.ed25519:
      return { hash: null, pss: false, saltLength: 0 };
    case Scheme.ecdsa_secp256r1_sha256:
      return { hash: 'sha256', pss: false, saltLength: 0 };
    case Scheme.ecdsa_secp384r1_sha384:
      return { hash: 'sha384', pss: false, saltLength: 0 };
    // RFC 8017 / RFC 9846 §4.2.3: PSS with MGF1 on the same hash, salt as long as the hash.
    case Scheme.rsa_pss_rsae_sha256:
      return { hash: 'sha256', pss: true, saltLength: 32 };
    case Scheme.rsa_pss_rsae_sha384:
      return { hash: 'sha384', pss: true, saltLength: 48 };
    case Scheme.rsa_pss_rsae_sha512:
      return { hash: 'sha512', pss: true, saltLength: 64 };
    default:
      throw new RangeError(`signature scheme ${schemeName(scheme)} is not supported`);
  }
}
