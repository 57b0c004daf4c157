import { bytesEqual } from '../../codec/bytes.js';
import { Alert, TlsAlert } from '../alerts.js';
import { ExtKeyUsage, KeyUsageBit, type ParsedCertificate } from './certificate.js';
import { spkiSha256 } from './signatures.js';

/**
 * Certificate path validation for X.509 mode (RFC 5280 §6, as a TLS client or server needs it):
 * a path from the peer's leaf through the intermediates it sent to one of our trust anchors,
 * every link's signature, every certificate's validity at `now`, CA and path-length constraints
 * of the issuers (§4.2.1.9), key usage (§4.2.1.3) and extended key usage (§4.2.1.12), critical
 * extensions we do not know (§4.2), and the name the peer was dialled by (RFC 6125 §6 via
 * OpenSSL's X509_check_host, subjectAltName only, wildcards in the leftmost label only; an IP
 * address against an iPAddress SAN).
 *
 * Each failure is a TlsAlert with the alert RFC 9846 §6.2 names for it and a message that says
 * which check failed: certificate_expired (validity), unknown_ca (no path to an anchor),
 * unsupported_certificate (key usage, extended key usage, unknown critical extension),
 * bad_certificate (signature, name, CA or path-length constraint, malformed).
 */

/** The longest path accepted (leaf, intermediates and anchor): LIMITS.md. */
export const MAX_PATH_LENGTH = 10;

export interface PathPolicy {
  /** Trust anchors (CA certificates, or a self-signed leaf to trust as it is). */
  readonly anchors: readonly ParsedCertificate[];
  /** The time to check validity at, ms since the epoch. */
  readonly now: number;
  /** The name the leaf must be valid for (absent: none, as for a client certificate). */
  readonly name?: { readonly dns: string } | { readonly ip: string };
  /** What the leaf must be allowed to do: serve (a server) or authenticate a client. */
  readonly purpose: 'serverAuth' | 'clientAuth';
}

/**
 * Validates `chain` (leaf first, as the peer sent it) and returns the path built: leaf,
 * intermediates used, anchor (a trusted leaf alone when it is itself an anchor).
 */
export function verifyPath(chain: readonly ParsedCertificate[], policy: PathPolicy): ParsedCertificate[] {
  const leaf = chain[0];
  if (!leaf) throw new TlsAlert(Alert.bad_certificate, 'no certificate');
  const path = buildPath(chain, policy.anchors);
  checkLeaf(leaf, policy);
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    checkValidity(c, policy.now, i === 0 ? 'the certificate' : i === path.length - 1 && path.length > 1 ? 'the trust anchor' : 'an intermediate');
    if (c.unknownCritical.length > 0) {
      throw new TlsAlert(Alert.unsupported_certificate, `${c.subject} has unsupported critical extension(s) ${c.unknownCritical.join(', ')}`);
    }
    if (i > 0) checkIssuer(c, i - 1, policy.purpose);
  }
  return path;
}

/**
 * Pinned keys: accepts when the SHA-256 of the leaf's SubjectPublicKeyInfo is one of `pins`;
 * nothing else is checked (the pin is the trust). Else bad_certificate.
 */
export function verifyPinned(chain: readonly ParsedCertificate[], pins: readonly Uint8Array[]): void {
  const leaf = chain[0];
  if (!leaf) throw new TlsAlert(Alert.bad_certificate, 'no certificate');
  const h = spkiSha256(leaf.spki);
  if (!pins.some((p) => bytesEqual(p, h))) {
    throw new TlsAlert(Alert.bad_certificate, `the certificate's key (SPKI SHA-256 ${Buffer.from(h).toString('base64')}) is not pinned`);
  }
}

// ---------------------------------------------------------------------------------------------

/** From the leaf up, through presented intermediates, to an anchor; unknown_ca when none. */
function buildPath(chain: readonly ParsedCertificate[], anchors: readonly ParsedCertificate[]): ParsedCertificate[] {
  const path: ParsedCertificate[] = [chain[0]!];
  const pool = chain.slice(1);
  let cur = chain[0]!;
  for (;;) {
    // A certificate that is itself trusted (a self-signed server certificate given as CA).
    // (or an intermediate of the chain that is one of our anchors: the path ends there).
    if (anchors.some((a) => bytesEqual(a.der, cur.der))) return path;
    if (path.length >= MAX_PATH_LENGTH) {
      throw new TlsAlert(Alert.bad_certificate, `certificate path longer than ${MAX_PATH_LENGTH}`);
    }
    const anchor = findIssuer(cur, anchors);
    if (anchor) {
      path.push(anchor);
      return path;
    }
    const next = findIssuer(cur, pool.filter((c) => !path.includes(c)));
    if (!next) {
      const badSig = [...anchors, ...pool].some((c) => c !== cur && namesIssuer(c, cur));
      if (badSig) throw new TlsAlert(Alert.bad_certificate, `the signature on ${cur.subject} by ${cur.issuer} does not verify`);
      throw new TlsAlert(Alert.unknown_ca, `${cur.subject} is issued by ${cur.issuer}, which is not a trusted CA and not in the chain sent`);
    }
    path.push(next);
    cur = next;
  }
}

/** The candidate whose subject issued `cert` and whose key verifies its signature. */
function findIssuer(cert: ParsedCertificate, candidates: readonly ParsedCertificate[]): ParsedCertificate | undefined {
  for (const c of candidates) {
    if (c === cert || !namesIssuer(c, cert)) continue;
    try {
      if (cert.node.verify(c.node.publicKey)) return c;
    } catch {
      // An unsupported key or algorithm: not this issuer.
    }
  }
  return undefined;
}

/**
 * `issuer`'s subject is `cert`'s issuer name. (Not X509_check_issued: it also refuses an issuer
 * whose keyUsage lacks keyCertSign, and such a certificate must be found, then refused as no CA.)
 */
function namesIssuer(issuer: ParsedCertificate, cert: ParsedCertificate): boolean {
  return bytesEqual(issuer.subjectDer, cert.issuerDer);
}

function checkValidity(c: ParsedCertificate, now: number, what: string): void {
  // RFC 5280 §4.1.2.5: valid from notBefore through notAfter, both inclusive.
  if (now < c.notBefore) throw new TlsAlert(Alert.certificate_expired, `${what} (${c.subject}) is not valid before ${isoTime(c.notBefore)}`);
  if (now > c.notAfter) throw new TlsAlert(Alert.certificate_expired, `${what} (${c.subject}) expired at ${isoTime(c.notAfter)}`);
}

function checkLeaf(leaf: ParsedCertificate, policy: PathPolicy): void {
  // TLS 1.3 always signs with the leaf's key (CertificateVerify).
  if (leaf.keyUsage && !leaf.keyUsage[KeyUsageBit.digitalSignature]) {
    throw new TlsAlert(Alert.unsupported_certificate, `${leaf.subject}: key usage does not allow digitalSignature`);
  }
  checkPurpose(leaf, policy.purpose);
  const name = policy.name;
  if (name && 'dns' in name) {
    const hit = leaf.node.checkHost(name.dns, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false });
    if (hit === undefined) {
      throw new TlsAlert(Alert.bad_certificate, `the certificate is not valid for the name "${name.dns}" (${leaf.node.subjectAltName ?? 'no subjectAltName'})`);
    }
  } else if (name && 'ip' in name) {
    if (leaf.node.checkIP(name.ip) === undefined) {
      throw new TlsAlert(Alert.bad_certificate, `the certificate is not valid for the IP address ${name.ip} (${leaf.node.subjectAltName ?? 'no subjectAltName'})`);
    }
  }
}

function checkPurpose(c: ParsedCertificate, purpose: 'serverAuth' | 'clientAuth'): void {
  const eku = c.extKeyUsage;
  if (eku && !eku.includes(ExtKeyUsage[purpose]) && !eku.includes(ExtKeyUsage.any)) {
    throw new TlsAlert(Alert.unsupported_certificate, `${c.subject}: extended key usage does not allow ${purpose}`);
  }
}

/** `c` issued the certificate below it; `below` non-self-issued CA certificates lie under it. */
function checkIssuer(c: ParsedCertificate, below: number, purpose: 'serverAuth' | 'clientAuth'): void {
  const bc = c.basicConstraints;
  if (!bc?.ca) throw new TlsAlert(Alert.bad_certificate, `${c.subject} issued a certificate but is not a CA (basicConstraints)`);
  if (c.keyUsage && !c.keyUsage[KeyUsageBit.keyCertSign]) {
    throw new TlsAlert(Alert.bad_certificate, `${c.subject}: key usage does not allow keyCertSign`);
  }
  if (bc.pathLen !== undefined && below > bc.pathLen) {
    throw new TlsAlert(Alert.bad_certificate, `${c.subject} allows ${bc.pathLen} intermediate(s) below it, the path has ${below}`);
  }
  // As OpenSSL and webpki: an issuer's extended key usage, when present, bounds the leaf's.
  checkPurpose(c, purpose);
}

/** ISO 8601 text of a time (the core reads no clock and makes no Date: RFC 3339 by hand). */
function isoTime(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const secs = Math.floor((ms - days * 86_400_000) / 1000);
  // Howard Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${y}-${p(m)}-${p(d)}T${p(Math.floor(secs / 3600))}:${p(Math.floor(secs / 60) % 60)}:${p(secs % 60)}Z`;
}
