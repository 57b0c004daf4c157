import type { KeyObject } from 'node:crypto';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { schemesForKey } from './signatures.js';

/**
 * A certificate chain with the private key of its leaf: what an X.509 server presents (it may
 * hold several, chosen per ClientHello by signature_algorithms and SNI) and what a client
 * presents when a server asks for one.
 */
export interface CertifiedKey {
  /** DER certificates, leaf first, as sent in Certificate. */
  readonly chain: readonly Uint8Array[];
  readonly leaf: ParsedCertificate;
  readonly privateKey: KeyObject;
  /** The CertificateVerify schemes the key can sign with, best first. */
  readonly schemes: readonly number[];
}

/**
 * A CertifiedKey from a DER chain and its leaf's private key. Throws RangeError when the key is
 * not the leaf's or of a type TLS 1.3 cannot sign with (ECDSA P-256/P-384, Ed25519, RSA >= 2048).
 */
export function certifiedKey(chain: readonly Uint8Array[], privateKey: KeyObject): CertifiedKey {
  if (chain.length === 0) throw new RangeError('an X.509 identity needs at least one certificate');
  if (privateKey.type !== 'private') throw new RangeError('the key of an X.509 identity must be a private key');
  const leaf = parseCertificate(chain[0]!);
  if (!leaf.node.checkPrivateKey(privateKey)) throw new RangeError(`the private key is not the key of the certificate ${leaf.subject}`);
  const schemes = schemesForKey(privateKey);
  if (schemes.length === 0) {
    const d = privateKey.asymmetricKeyDetails;
    throw new RangeError(`a ${privateKey.asymmetricKeyType ?? 'unknown'} key${d?.namedCurve ? ` on ${d.namedCurve}` : ''} cannot sign a TLS 1.3 handshake (use ECDSA P-256/P-384, Ed25519 or RSA >= 2048 bits)`);
  }
  return { chain: chain.map((c) => c.slice()), leaf, privateKey, schemes };
}

/**
 * The identity a server presents to a ClientHello: among those with a scheme the client
 * accepts, the first valid for the SNI name, else the first (RFC 9846 §4.4.2.2: a server without
 * a matching certificate sends one anyway). Returns it with the scheme to sign with (the
 * client's most preferred one it can make), or undefined when none fits the client's schemes.
 */
export function chooseCertifiedKey(
  keys: readonly CertifiedKey[],
  clientSchemes: readonly number[],
  serverName: string | undefined,
): { key: CertifiedKey; scheme: number } | undefined {
  let fallback: { key: CertifiedKey; scheme: number } | undefined;
  for (const key of keys) {
    const scheme = clientSchemes.find((s) => key.schemes.includes(s));
    if (scheme === undefined) continue;
    if (serverName === undefined) return { key, scheme };
    if (key.leaf.node.checkHost(serverName, { subject: 'never' }) !== undefined) return { key, scheme };
    fallback ??= { key, scheme };
  }
  return fallback;
}
