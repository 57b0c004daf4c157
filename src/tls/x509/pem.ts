import { DecodeError } from '../../codec/errors.js';

/**
 * PEM (RFC 7468): the text form certificates and keys are configured in. Only the parsing of
 * `-----BEGIN CERTIFICATE-----` blocks lives here; keys go to node:crypto's createPrivateKey,
 * which reads every PEM key format itself.
 */

/** The DER of every CERTIFICATE block in `pem`, in order; DecodeError when there is none. */
export function certificatesFromPem(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) {
    const body = m[1]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new DecodeError('PEM certificate is not base64');
    out.push(new Uint8Array(Buffer.from(body, 'base64')));
  }
  if (out.length === 0) throw new DecodeError('no -----BEGIN CERTIFICATE----- block in the PEM text');
  return out;
}

/** PEM text of one DER certificate (64-column base64, RFC 7468 §2). */
export function certificateToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
