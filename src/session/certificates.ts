import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { InvalidArgumentError } from './errors.js';
import type { CertificateKeyPair } from './x509-options.js';
import type * as X509 from '@peculiar/x509';

/**
 * Certificate generation for X.509 mode: self-signed certificates for a server (`quic-peer
 * serve --self-signed`) and small CAs for tests. It uses `@peculiar/x509` over WebCrypto,
 * loaded on first use only, so raw-public-key (iroh) applications never load it.
 */

/** The key of a generated certificate. ECDSA P-256 is what most QUIC servers use. */
export type CertificateKeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072';

/** What `generateCertificate` and `generateSelfSigned` make. */
export interface GenerateCertificateOptions {
  /** DNS names and IP addresses the certificate is valid for (subjectAltName); the first is also its CN. */
  readonly names: readonly string[];
  /** Default `ecdsa-p256`. */
  readonly keyType?: CertificateKeyType;
  /** Sign with this CA (PEM chain and key) instead of self-signing. */
  readonly issuer?: CertificateKeyPair;
  /** A CA certificate (basicConstraints cA, keyCertSign) rather than a server/client one. */
  readonly ca?: boolean;
  /** A CA's pathLenConstraint. */
  readonly pathLength?: number;
  /** Start of validity; default one hour ago. */
  readonly notBefore?: Date;
  /** End of validity; default `notBefore` plus `validDays`. */
  readonly notAfter?: Date;
  /** Days of validity when `notAfter` is not given (default 365). */
  readonly validDays?: number;
  /** Extended key usage; default both serverAuth and clientAuth for a leaf, none for a CA. */
  readonly extKeyUsage?: readonly ('serverAuth' | 'clientAuth')[];
}

/** A generated certificate, its key, and the hash to pin it by. */
export interface GeneratedCertificate {
  /** The certificate, PEM (alone: append the issuer's chain to serve it with its intermediates). */
  readonly cert: string;
  /** Its private key, PKCS #8 PEM. */
  readonly key: string;
  /** SHA-256 of its SubjectPublicKeyInfo, base64: what `tls.pinSha256` takes. */
  readonly spkiSha256: string;
}

/** A self-signed certificate for `names` (a server's, by default valid for a year). */
export function generateSelfSigned(options: GenerateCertificateOptions): Promise<GeneratedCertificate> {
  if (options.issuer !== undefined) throw new InvalidArgumentError('generateSelfSigned: issuer given (use generateCertificate)');
  return generateCertificate(options);
}

/** A certificate for `names`, self-signed or signed by `issuer`. */
export async function generateCertificate(options: GenerateCertificateOptions): Promise<GeneratedCertificate> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('generateCertificate: options must be an object { names, ... }');
  const names = options.names;
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n.length === 0)) {
    throw new InvalidArgumentError('generateCertificate: names must be a non-empty list of DNS names or IP addresses');
  }
  const keyType = options.keyType ?? 'ecdsa-p256';
  const alg = ALGORITHMS[keyType];
  if (!alg) throw new InvalidArgumentError(`generateCertificate: unknown keyType ${String(keyType)}`);
  const x509 = await import('@peculiar/x509');
  const crypto = webcrypto as unknown as Parameters<typeof X509.cryptoProvider.set>[0];
  x509.cryptoProvider.set(crypto);
  const keys = (await webcrypto.subtle.generateKey(alg.generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - 3_600_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.validDays ?? 365) * 86_400_000);
  const cn = names[0]!.replace(/[,+="\\<>;#]/g, '_');
  const ca = options.ca === true;
  const eku = options.extKeyUsage ?? (ca ? [] : ['serverAuth', 'clientAuth']);
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, ca ? options.pathLength : undefined, true),
    new x509.KeyUsagesExtension(ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature | (keyType.startsWith('rsa') ? x509.KeyUsageFlags.keyEncipherment : 0), true),
    ...(eku.length > 0 ? [new x509.ExtendedKeyUsageExtension(eku.map((e) => (e === 'serverAuth' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth)), false)] : []),
    ...(ca ? [] : [new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n })), false)]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
  ];
  const serialNumber = randomBytes(16).toString('hex').replace(/^[89a-f]/, '1');
  let cert: InstanceType<typeof x509.X509Certificate>;
  if (options.issuer === undefined) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber, name: `CN=${cn}`, notBefore, notAfter, keys, signingAlgorithm: alg.sign, extensions }, crypto);
  } else {
    const issuerPem = typeof options.issuer.cert === 'string' ? options.issuer.cert : options.issuer.cert[0]!;
    const issuerCert = new X509Certificate(issuerPem);
    const issuerKeyObject = createPrivateKey(options.issuer.key);
    const issuerAlg = algorithmOf(issuerKeyObject.asymmetricKeyType, issuerKeyObject.asymmetricKeyDetails?.namedCurve);
    const issuerKey = await webcrypto.subtle.importKey('pkcs8', issuerKeyObject.export({ format: 'der', type: 'pkcs8' }), issuerAlg.generate, false, ['sign']);
    const issuerX = new x509.X509Certificate(issuerCert.raw);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerX, false, crypto));
    cert = await x509.X509CertificateGenerator.create(
      { serialNumber, subject: `CN=${cn}`, issuer: issuerX.subject, notBefore, notAfter, publicKey: keys.publicKey, signingKey: issuerKey, signingAlgorithm: issuerAlg.sign, extensions },
      crypto,
    );
  }
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return {
    cert: cert.toString('pem') + '\n',
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}

interface Algorithm {
  readonly generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | { name: 'Ed25519' };
  readonly sign: webcrypto.EcdsaParams | { name: string; hash?: string };
}

const ALGORITHMS: Record<CertificateKeyType, Algorithm> = {
  'ecdsa-p256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  'ecdsa-p384': { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  ed25519: { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  'rsa-2048': { generate: rsa(2048), sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
  'rsa-3072': { generate: rsa(3072), sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
};

function rsa(modulusLength: number): webcrypto.RsaHashedKeyGenParams {
  return { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

/** The WebCrypto algorithm of an issuer's key. */
function algorithmOf(type: string | undefined, curve: string | undefined): Algorithm {
  if (type === 'ed25519') return ALGORITHMS.ed25519;
  if (type === 'ec' && curve === 'prime256v1') return ALGORITHMS['ecdsa-p256'];
  if (type === 'ec' && curve === 'secp384r1') return ALGORITHMS['ecdsa-p384'];
  if (type === 'rsa') return ALGORITHMS['rsa-2048'];
  throw new InvalidArgumentError(`generateCertificate: an issuer key of type ${type ?? 'unknown'} is not supported`);
}
