import { X509Certificate, type KeyObject } from 'node:crypto';
import { DecodeError } from '../../codec/errors.js';
import { DerReader, Tag, derRoot, readBits, readBoolean, readOid, readSmallUint, readTime } from './der.js';

/**
 * An X.509 certificate (RFC 5280 §4.1) as the verifier needs it. node:crypto's X509Certificate
 * (OpenSSL) parses the whole certificate, checks signatures (`verify`), issuer/subject chaining
 * (`checkIssued`) and names (`checkHost`, `checkIP`); what Node 20 does not expose (the validity
 * as numbers, keyUsage bits, basicConstraints' pathLenConstraint, which extensions are critical)
 * is read here from the DER with our own small reader. Both parse the same bytes: a certificate either passes both
 * or is refused.
 */

/** RFC 5280 §4.2.1.3 KeyUsage bits. */
export const KeyUsageBit = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5 } as const;

/** RFC 5280 §4.2.1.12 KeyPurposeId values. */
export const ExtKeyUsage = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  any: '2.5.29.37.0',
} as const;

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** Critical extensions this verifier understands (RFC 5280 §4.2: others refuse the certificate). */
const UNDERSTOOD = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_EXT_KEY_USAGE, OID_SUBJECT_ALT_NAME]);

export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** node:crypto's view of it: signatures, chaining, names, the public key. */
  readonly node: X509Certificate;
  /** The validity period, ms since the epoch (RFC 5280 §4.1.2.5), both ends inclusive. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The DER SubjectPublicKeyInfo (pins hash it). */
  readonly spki: Uint8Array;
  /** basicConstraints (§4.2.1.9), when present. */
  readonly basicConstraints: { readonly ca: boolean; readonly pathLen: number | undefined } | undefined;
  /** keyUsage bits (§4.2.1.3), when present. */
  readonly keyUsage: readonly boolean[] | undefined;
  /** extKeyUsage purposes (§4.2.1.12), when present. */
  readonly extKeyUsage: readonly string[] | undefined;
  /** OIDs of critical extensions we do not process (the certificate is then refused). */
  readonly unknownCritical: readonly string[];
  /** Issuer and subject Name DER: an issuer is found by its subject's bytes (as webpki). */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  /** Subject and issuer as text, for messages. */
  readonly subject: string;
  readonly issuer: string;
}

/** Parses a DER certificate; throws DecodeError when either parser refuses it. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  let node: X509Certificate;
  try {
    node = new X509Certificate(der);
  } catch (e) {
    throw new DecodeError(`certificate does not parse: ${e instanceof Error ? e.message : String(e)}`);
  }
  const cert = derRoot(der, Tag.SEQUENCE, 'Certificate');
  const tbs = cert.enter(Tag.SEQUENCE);
  tbs.optional(0xa0); // version [0] EXPLICIT
  tbs.next(Tag.INTEGER); // serialNumber
  tbs.next(Tag.SEQUENCE); // signature AlgorithmIdentifier
  const issuerDer = tbs.next(Tag.SEQUENCE).raw;
  const validity = tbs.enter(Tag.SEQUENCE);
  const notBefore = readTime(validity.next());
  const notAfter = readTime(validity.next());
  validity.end('Validity');
  const subjectDer = tbs.next(Tag.SEQUENCE).raw;
  const spki = tbs.next(Tag.SEQUENCE).raw;
  tbs.optional(0x81); // issuerUniqueID
  tbs.optional(0x82); // subjectUniqueID
  let basicConstraints: ParsedCertificate['basicConstraints'];
  let keyUsage: boolean[] | undefined;
  let extKeyUsage: string[] | undefined;
  const unknownCritical: string[] = [];
  const extsTlv = tbs.optional(0xa3);
  tbs.end('TBSCertificate');
  if (extsTlv) {
    const exts = derRoot(extsTlv.content, Tag.SEQUENCE, 'Extensions');
    while (!exts.atEnd) {
      const ext = exts.enter(Tag.SEQUENCE);
      const oid = readOid(ext.next(Tag.OID).content);
      const critTlv = ext.optional(Tag.BOOLEAN);
      const critical = critTlv ? readBoolean(critTlv.content) : false;
      const value = ext.next(Tag.OCTET_STRING).content;
      ext.end('Extension');
      switch (oid) {
        case OID_BASIC_CONSTRAINTS: {
          const bc = derRoot(value, Tag.SEQUENCE, 'BasicConstraints');
          const caTlv = bc.optional(Tag.BOOLEAN);
          const lenTlv = bc.optional(Tag.INTEGER);
          bc.end('BasicConstraints');
          basicConstraints = { ca: caTlv ? readBoolean(caTlv.content) : false, pathLen: lenTlv ? readSmallUint(lenTlv.content) : undefined };
          break;
        }
        case OID_KEY_USAGE: {
          const r = new DerReader(value);
          keyUsage = readBits(r.next(Tag.BIT_STRING).content);
          r.end('KeyUsage');
          break;
        }
        case OID_EXT_KEY_USAGE: {
          const eku = derRoot(value, Tag.SEQUENCE, 'ExtKeyUsageSyntax');
          extKeyUsage = [];
          while (!eku.atEnd) extKeyUsage.push(readOid(eku.next(Tag.OID).content));
          break;
        }
        default:
          if (critical && !UNDERSTOOD.has(oid)) unknownCritical.push(oid);
      }
    }
  }
  return {
    der, node, notBefore, notAfter, spki, issuerDer, subjectDer, basicConstraints, keyUsage, extKeyUsage, unknownCritical,
    subject: node.subject.replace(/\n/g, ', '),
    issuer: node.issuer.replace(/\n/g, ', '),
  };
}

/** The certificate's public key. */
export function certificatePublicKey(cert: ParsedCertificate): KeyObject {
  return cert.node.publicKey;
}
