import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { X509Settings } from '../tls/engine.js';
import { parseCertificate, type ParsedCertificate } from '../tls/x509/certificate.js';
import { certifiedKey, type CertifiedKey } from '../tls/x509/certified-key.js';
import { certificatesFromPem } from '../tls/x509/pem.js';
import { verifyPath, verifyPinned } from '../tls/x509/verify.js';
import { checkOptionKeys, checkType } from './arguments.js';
import { InvalidArgumentError } from './errors.js';

/**
 * The public options of X.509 mode, checked and turned into the TLS layer's X509Settings. Only
 * an endpoint or a dial that asks for X.509 comes here: raw-public-key (iroh) sessions never
 * parse a certificate.
 */

/** A certificate chain and its key, as PEM text. */
export interface CertificateKeyPair {
  /** The chain, leaf first then intermediates: one PEM text with several blocks, or one per certificate. */
  readonly cert: string | readonly string[];
  /** The leaf's private key (PKCS #8, SEC 1 or PKCS #1 PEM): ECDSA P-256/P-384, Ed25519 or RSA >= 2048 bits. */
  readonly key: string;
}

/** `Endpoint.bind({ tls })`: how the endpoint authenticates incoming sessions. */
export type EndpointTlsOptions =
  | {
      /** iroh's mode, the default: Ed25519 raw public keys, the endpoint id is the key. */
      readonly mode: 'rawPublicKey';
    }
  | {
      /** X.509 certificates, as every QUIC server outside iroh (quic-go, quinn, ngtcp2, Caddy...). */
      readonly mode: 'x509';
      /** The chain (PEM) this endpoint presents; with `key`. */
      readonly cert?: string | readonly string[];
      /** The private key (PEM) of `cert`'s leaf. */
      readonly key?: string;
      /**
       * More chains: each client gets the first valid for its SNI among those it can verify. A
       * `generateCertificate` result can be given as is.
       */
      readonly identities?: readonly CertificateKeyPair[];
      /**
       * Mutual authentication: require a client certificate issued by one of these CAs (PEM), and
       * expose it as `session.peerCertificates`.
       */
      readonly clientCa?: string | readonly string[];
    };

/** `Session.connect(..., { tls })`: how an X.509 server is authenticated. */
export interface DialTlsOptions {
  /** Trust anchors (PEM): the server's chain must lead to one. Default: Node's bundled roots (`tls.rootCertificates`). */
  readonly ca?: string | readonly string[];
  /**
   * Accept exactly the servers whose leaf key has one of these SHA-256 hashes of its DER
   * SubjectPublicKeyInfo (base64 or hex), instead of checking a chain.
   */
  readonly pinSha256?: readonly string[];
  /** Accept any certificate: no authentication at all. For tests only. */
  readonly insecureSkipVerify?: boolean;
  /** A client certificate (PEM chain), sent when the server asks (mutual authentication); with `key`. */
  readonly cert?: string | readonly string[];
  /** The private key (PEM) of `cert`'s leaf. */
  readonly key?: string;
}

/** What the endpoint keeps of its X.509 options. */
export interface EndpointX509 {
  readonly identities: readonly CertifiedKey[];
  /** Set when clients must present a certificate. */
  readonly clientAnchors: readonly ParsedCertificate[] | undefined;
}

/** Checks `Endpoint.bind`'s `tls` option; undefined for raw public keys. */
export function resolveEndpointTls(tls: EndpointTlsOptions | undefined): EndpointX509 | undefined {
  const what = 'Endpoint.bind: tls';
  if (tls === undefined) return undefined;
  if (typeof tls !== 'object' || tls === null) throw new InvalidArgumentError(`${what} must be an object`);
  if (tls.mode === 'rawPublicKey') {
    checkOptionKeys(`${what} options`, tls, ['mode']);
    return undefined;
  }
  if (tls.mode !== 'x509') throw new InvalidArgumentError(`${what}.mode must be 'rawPublicKey' or 'x509', got ${String((tls as { mode?: unknown }).mode)}`);
  checkOptionKeys(`${what} options`, tls, ['mode', 'cert', 'key', 'identities', 'clientCa']);
  const pairs: CertificateKeyPair[] = [];
  if (tls.cert !== undefined || tls.key !== undefined) {
    if (tls.cert === undefined || tls.key === undefined) throw new InvalidArgumentError(`${what}: cert and key go together`);
    pairs.push({ cert: tls.cert, key: tls.key });
  }
  if (tls.identities !== undefined) {
    if (!Array.isArray(tls.identities)) throw new InvalidArgumentError(`${what}.identities must be a list of { cert, key }`);
    for (const p of tls.identities as readonly CertificateKeyPair[]) {
      // spkiSha256 is allowed (and ignored) so that a generateCertificate result goes in as is.
      checkOptionKeys(`${what}.identities entry`, p, ['cert', 'key', 'spkiSha256']);
      pairs.push(p);
    }
  }
  const identities = pairs.map((p, i) => loadPair(`${what}${pairs.length > 1 ? ` identity ${i}` : ''}`, p));
  const clientAnchors = tls.clientCa === undefined ? undefined : loadAnchors(`${what}.clientCa`, tls.clientCa);
  return { identities, clientAnchors };
}

/** The server-side X509Settings of an endpoint (`now` reads the wall clock for validity). */
export function serverX509Settings(x: EndpointX509, now: () => number): X509Settings {
  const anchors = x.clientAnchors;
  return {
    identities: x.identities,
    ...(anchors ? { verify: (chain: readonly ParsedCertificate[]) => void verifyPath(chain, { anchors, now: now(), purpose: 'clientAuth' }) } : {}),
  };
}

/** Lazily parsed system roots, shared by the dials of one endpoint. */
export class SystemRoots {
  private roots: ParsedCertificate[] | undefined;
  get(): readonly ParsedCertificate[] {
    if (!this.roots) {
      this.roots = [];
      for (const pem of rootCertificates) {
        try {
          this.roots.push(parseCertificate(certificatesFromPem(pem)[0]!));
        } catch {
          // A bundled root our DER reader refuses cannot anchor anything: skip it.
        }
      }
    }
    return this.roots;
  }
}

/**
 * The client-side X509Settings of one dial: how the server is checked (pins, insecure, or a path
 * to `ca` / the system roots and the name: `serverName`, else the IP dialled) and our
 * certificate for mutual authentication.
 */
export function dialX509Settings(
  tls: DialTlsOptions | undefined,
  target: { serverName: string | undefined; ip: string },
  roots: SystemRoots,
  now: () => number,
): X509Settings {
  const what = 'Session.connect: tls';
  const o = tls ?? {};
  checkOptionKeys(`${what} options`, o, ['ca', 'pinSha256', 'insecureSkipVerify', 'cert', 'key']);
  checkType(what, 'insecureSkipVerify', o.insecureSkipVerify, 'boolean');
  const identities: CertifiedKey[] = [];
  if (o.cert !== undefined || o.key !== undefined) {
    if (o.cert === undefined || o.key === undefined) throw new InvalidArgumentError(`${what}: cert and key go together`);
    identities.push(loadPair(what, { cert: o.cert, key: o.key }));
  }
  const modes = [o.insecureSkipVerify === true, o.pinSha256 !== undefined, o.ca !== undefined].filter(Boolean).length;
  if (modes > 1) throw new InvalidArgumentError(`${what}: ca, pinSha256 and insecureSkipVerify exclude each other`);
  if (o.insecureSkipVerify) return { identities, verify: () => {} };
  if (o.pinSha256 !== undefined) {
    const pins = parsePins(`${what}.pinSha256`, o.pinSha256);
    return { identities, verify: (chain) => verifyPinned(chain, pins) };
  }
  const anchors = o.ca !== undefined ? loadAnchors(`${what}.ca`, o.ca) : undefined;
  const name = target.serverName !== undefined && isIP(target.serverName) === 0 ? { dns: target.serverName } : { ip: target.serverName ?? target.ip };
  return {
    identities,
    verify: (chain) => void verifyPath(chain, { anchors: anchors ?? roots.get(), now: now(), name, purpose: 'serverAuth' }),
  };
}

// ---------------------------------------------------------------------------------------------

function pemList(what: string, v: string | readonly string[]): Uint8Array[] {
  const texts = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new InvalidArgumentError(`${what} must be PEM text or a list of PEM texts`);
  try {
    return texts.flatMap((t) => certificatesFromPem(t));
  } catch (e) {
    throw new InvalidArgumentError(`${what}: ${(e as Error).message}`);
  }
}

function loadPair(what: string, p: CertificateKeyPair): CertifiedKey {
  const chain = pemList(`${what}.cert`, p.cert);
  if (typeof p.key !== 'string') throw new InvalidArgumentError(`${what}.key must be PEM text`);
  try {
    return certifiedKey(chain, createPrivateKey(p.key));
  } catch (e) {
    throw new InvalidArgumentError(`${what}: ${(e as Error).message}`);
  }
}

function loadAnchors(what: string, v: string | readonly string[]): ParsedCertificate[] {
  const ders = pemList(what, v);
  try {
    return ders.map((d) => parseCertificate(d));
  } catch (e) {
    throw new InvalidArgumentError(`${what}: ${(e as Error).message}`);
  }
}

function parsePins(what: string, pins: readonly string[]): Uint8Array[] {
  if (!Array.isArray(pins) || pins.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty list of SHA-256 hashes`);
  return pins.map((p) => {
    const s = typeof p === 'string' ? p.trim().replace(/^sha256\//, '') : '';
    const bytes = /^[0-9a-fA-F]{64}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
    if (bytes.length !== 32) throw new InvalidArgumentError(`${what}: "${String(p)}" is not a SHA-256 hash (64 hex digits or 44 base64 characters)`);
    return new Uint8Array(bytes);
  });
}
