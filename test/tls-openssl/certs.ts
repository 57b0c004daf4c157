import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Ed25519 self-signed X.509 certificates for the OpenSSL cross-check (OpenSSL 3.0 has no raw
 * public keys, so both stacks meet on X.509 there). One certificate serves both sides: PEM key
 * and certificate for node:tls, DER chain and 32-byte seed for our TlsConfig.
 */
export interface TestIdentity {
  /** The 32-byte Ed25519 seed (our TlsConfig.secretKey). */
  readonly seed: Uint8Array;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly certDer: Uint8Array;
  readonly certPem: string;
  readonly keyPem: string;
}

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** RFC 8410 §7: Ed25519 PKCS #8 is a 16-byte prefix and the 32-byte seed (48 bytes). */
const PKCS8_LENGTH = 48;

export async function makeIdentity(commonName: string): Promise<TestIdentity> {
  const subtle = webcrypto.subtle;
  const keys = (await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  if (pkcs8.length !== PKCS8_LENGTH) throw new Error(`unexpected Ed25519 PKCS #8 length ${pkcs8.length}`);
  const raw = new Uint8Array(await subtle.exportKey('raw', keys.publicKey));
  // Test code: a validity window around the real time is what OpenSSL checks.
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${commonName}`,
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: { name: 'Ed25519' },
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: commonName }]),
    ],
  });
  const b64 = Buffer.from(pkcs8).toString('base64');
  return {
    seed: pkcs8.slice(PKCS8_LENGTH - 32),
    publicKey: raw,
    certDer: new Uint8Array(cert.rawData),
    certPem: cert.toString('pem'),
    keyPem: `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`,
  };
}
