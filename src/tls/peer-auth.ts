import { bytesEqual } from '../codec/bytes.js';
import { Alert, TlsAlert } from './alerts.js';
import { ed25519Verify, x509Ed25519PublicKey } from './crypto.js';
import { CertificateType, type PeerCertificate, type PeerKey, type TlsConfig, type X509PeerKey } from './engine.js';
import { SignatureScheme } from './extensions.js';
import { certificateVerifyInput } from './handshake.js';
import type { Transcript } from './key-schedule.js';
import { decodeCertificate, decodeCertificateVerify, type Certificate, type RawHandshake } from './messages.js';
import { unwrapEd25519Spki } from './rpk.js';
import { DecodeError } from '../codec/errors.js';
import { parseCertificate, type ParsedCertificate } from './x509/certificate.js';
import { MAX_PATH_LENGTH } from './x509/verify.js';
import { schemeName, VERIFY_SCHEMES, verifyWithScheme } from './x509/signatures.js';

/**
 * Authenticating the peer (RFC 9846 §4.4.2, §4.4.3): its Certificate and CertificateVerify, the
 * same steps for a client checking the server and a server checking the client. The engines keep
 * their state transitions; these functions take the message, the sender's role, the part of the
 * configuration they read and the transcript, and add the message to the transcript once it
 * passed (so a CertificateVerify is checked over the transcript up to the Certificate).
 */

/** The configuration a peer check reads; the engine passes its whole `TlsConfig`. */
export type PeerAuthConfig = Pick<TlsConfig, 'certificateType' | 'verifyPeer' | 'expectedPeerKey' | 'x509'>;

/**
 * The peer's Certificate: checks it, adds it to the transcript and returns the peer's Ed25519
 * key for its CertificateVerify. `from` is the role of the peer that sent it.
 */
export function handleCertificate(
  msg: RawHandshake,
  from: 'client' | 'server',
  config: PeerAuthConfig,
  transcript: Transcript,
): PeerKey {
  const cert = decodeCertificate(msg.body);
  if (cert.context.length !== 0) throw new TlsAlert(Alert.illegal_parameter, 'non-empty certificate_request_context');
  if (cert.entries.length === 0) {
    // RFC 9846 §4.4.2.4: an empty server Certificate is a decode_error. A client that sends none
    // where one is required gets certificate_required (iroh: CRYPTO_ERROR 0x174 "peer sent no
    // certificates"); a server only asks when it requires one.
    throw from === 'server'
      ? new TlsAlert(Alert.decode_error, 'server sent no certificate')
      : new TlsAlert(Alert.certificate_required, 'client sent no certificate');
  }
  const key = config.x509 && !config.verifyPeer ? verifyX509Chain(cert, config.x509.verify) : verifyPeerCertificate(cert, config);
  transcript.add(msg.raw);
  return key;
}

/**
 * The peer's CertificateVerify, signed by `peerKey` (from `handleCertificate`) over the transcript
 * up to the peer's Certificate; adds it to the transcript. RFC 9846 §4.4.3: a scheme we did not
 * offer is illegal_parameter, a bad signature decrypt_error.
 */
export function handleCertificateVerify(
  msg: RawHandshake,
  from: 'client' | 'server',
  peerKey: PeerKey,
  transcript: Transcript,
): void {
  const cv = decodeCertificateVerify(msg.body);
  if (!(peerKey instanceof Uint8Array)) {
    if (!VERIFY_SCHEMES.includes(cv.scheme)) throw new TlsAlert(Alert.illegal_parameter, `signature scheme ${schemeName(cv.scheme)} not offered`);
    if (!verifyWithScheme(cv.scheme, peerKey.publicKey, certificateVerifyInput(from, transcript.digest()), cv.signature)) {
      throw new TlsAlert(Alert.decrypt_error, `CertificateVerify (${schemeName(cv.scheme)}) does not verify with the certificate's key`);
    }
    transcript.add(msg.raw);
    return;
  }
  if (cv.scheme !== SignatureScheme.ed25519) {
    throw new TlsAlert(Alert.illegal_parameter, `signature scheme 0x${cv.scheme.toString(16)} not offered`);
  }
  if (!ed25519Verify(peerKey, certificateVerifyInput(from, transcript.digest()), cv.signature)) {
    throw new TlsAlert(Alert.decrypt_error, 'CertificateVerify signature does not verify');
  }
  transcript.add(msg.raw);
}

/**
 * Checks a non-empty Certificate and returns its Ed25519 key: `verifyPeer` when configured, else
 * the built-in check (RPK: one Ed25519 SPKI; X.509: the leaf's Ed25519 key), then equality with
 * `expectedPeerKey` when set. Refusals are bad_certificate.
 */
function verifyPeerCertificate(cert: Certificate, config: PeerAuthConfig): Uint8Array {
  for (const e of cert.entries) {
    // RFC 9846 §4.4.2: entry extensions must answer ClientHello/CertificateRequest extensions;
    // we never ask for OCSP or SCT.
    if (e.extensions.length > 0) throw new TlsAlert(Alert.unsupported_extension, 'unrequested certificate entry extension');
  }
  // The peer presents what we do: in RPK mode both certificate types offered and accepted are raw
  // public keys only (RFC 7250 §4); in X.509 mode neither side offers the extensions.
  const rpk = config.certificateType === 'rawPublicKey';
  const peer: PeerCertificate = {
    type: rpk ? CertificateType.RawPublicKey : CertificateType.X509,
    entries: cert.entries.map((e) => e.data),
  };
  let key: Uint8Array;
  if (config.verifyPeer) {
    key = config.verifyPeer(peer);
    if (key.length !== 32) throw new TlsAlert(Alert.bad_certificate, 'peer verifier returned no Ed25519 key');
    return key.slice();
  }
  if (rpk) {
    // RFC 7250 §3: a raw public key Certificate carries exactly one entry.
    if (peer.entries.length !== 1) throw new TlsAlert(Alert.bad_certificate, 'raw public key certificate must have one entry');
    key = unwrapEd25519Spki(peer.entries[0]!);
  } else {
    const leaf = x509Ed25519PublicKey(peer.entries[0]!);
    if (!leaf) throw new TlsAlert(Alert.bad_certificate, 'peer certificate has no Ed25519 key');
    key = leaf;
  }
  const expected = config.expectedPeerKey;
  if (expected && !bytesEqual(expected, key)) {
    throw new TlsAlert(Alert.bad_certificate, 'peer key is not the expected one');
  }
  return key;
}

/**
 * X.509 mode: parses the chain (malformed: bad_certificate), hands it to the configured check
 * (which throws the alert of the check that failed) and returns the leaf's key.
 */
function verifyX509Chain(cert: Certificate, verify: ((chain: readonly ParsedCertificate[]) => void) | undefined): X509PeerKey {
  for (const e of cert.entries) {
    if (e.extensions.length > 0) throw new TlsAlert(Alert.unsupported_extension, 'unrequested certificate entry extension');
  }
  if (cert.entries.length > MAX_PATH_LENGTH) {
    throw new TlsAlert(Alert.bad_certificate, `${cert.entries.length} certificates sent, at most ${MAX_PATH_LENGTH} accepted`);
  }
  if (!verify) throw new TlsAlert(Alert.internal_error, 'no certificate verifier configured');
  let chain: ParsedCertificate[];
  try {
    chain = cert.entries.map((e) => parseCertificate(e.data));
  } catch (e) {
    if (e instanceof DecodeError) throw new TlsAlert(Alert.bad_certificate, e.message);
    throw e;
  }
  verify(chain);
  const publicKey = chain[0]!.node.publicKey;
  let ed25519: Uint8Array | undefined;
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const spki = chain[0]!.spki;
    ed25519 = spki.length === 44 ? unwrapEd25519Spki(spki) : undefined;
  }
  return { publicKey, chain: chain.map((c) => c.der.slice()), ed25519 };
}
