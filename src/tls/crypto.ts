import {
  createECDH,
  createHmac,
  type ECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  sign as nodeSign,
  verify as nodeVerify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { TlsAlert, Alert } from './alerts.js';
import { hmacSha256 } from './hmac-sha256.js';

/**
 * The one node:crypto adapter of the TLS layer (STYLE.md rule 10): X25519 key agreement and
 * Ed25519 signatures, through node:crypto KeyObjects. Raw keys cross this boundary as
 * `Uint8Array` (32-byte X25519 scalars / public values, 32-byte Ed25519 seeds / public keys,
 * 64-byte signatures).
 *
 * Private keys are built from raw bytes, so all randomness comes from the engine's injected
 * `Random` and a seeded generator reproduces the whole handshake.
 *
 * Speed (issue #6, handshake latency): keys are imported as JWK (RFC 8037 OKP keys), not as
 * PKCS#8/SPKI DER. Node 20's DER import goes through OpenSSL 3's decoder lookup and costs
 * ~130 us per public key and ~670 us per private key on the benchmark machine; the JWK import
 * builds the key from its raw bytes directly (~12 us public, ~65-80 us private with the public
 * half derived). A client and a server each did three DER imports per handshake: ~1.5 ms of CPU
 * each. The signer of an endpoint's own (fixed) Ed25519 key is also cached.
 */

/** An X25519 key pair: the private half stays a KeyObject, the public half is raw. */
export interface X25519KeyPair {
  readonly privateKey: KeyObject;
  /** The 32-byte public value sent in key_share (RFC 9846 §4.2.8.2). */
  readonly publicKey: Uint8Array;
}

/** An Ed25519 signing key: its KeyObject and its 32-byte public key. */
export interface Ed25519Signer {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

/** X25519 key pair from a 32-byte private scalar (clamped by X25519 itself, RFC 7748 §5). */
export function x25519KeyPair(secret: Uint8Array): X25519KeyPair {
  if (secret.length !== 32) throw new RangeError('X25519 private key must be 32 bytes');
  return rawPrivateKey('X25519', X25519_PKCS8_PREFIX, secret);
}

/**
 * The X25519 shared secret with a peer's 32-byte public value. A malformed value or one giving
 * the all-zero secret (a small-order point, RFC 9846 §7.4.2 / RFC 7748 §6.1) is the peer's
 * fault: illegal_parameter.
 */
export function x25519SharedSecret(own: X25519KeyPair, peerPublic: Uint8Array): Uint8Array {
  if (peerPublic.length !== 32) throw new TlsAlert(Alert.illegal_parameter, 'X25519 key share is not 32 bytes');
  let shared: Uint8Array;
  try {
    shared = toU8(diffieHellman({ privateKey: own.privateKey, publicKey: rawPublicKey('X25519', peerPublic) }));
  } catch {
    throw new TlsAlert(Alert.illegal_parameter, 'X25519 key share rejected');
  }
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new TlsAlert(Alert.illegal_parameter, 'X25519 shared secret is all zero');
  return shared;
}

/** A P-256 (secp256r1) ECDH key pair for key_share (RFC 9846 §4.2.8.2). */
export interface P256KeyPair {
  readonly ecdh: ECDH;
  /** The 65-byte UncompressedPointRepresentation (0x04 ‖ X ‖ Y). */
  readonly publicKey: Uint8Array;
}

/**
 * A P-256 key pair from 32 random bytes (`next` gives more when they are not a valid scalar,
 * which happens with probability ~2^-32).
 */
export function p256KeyPair(next: () => Uint8Array): P256KeyPair {
  for (let i = 0; ; i++) {
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(next());
    } catch (e) {
      if (i < 4) continue;
      throw e;
    }
    return { ecdh, publicKey: toU8(ecdh.getPublicKey()) };
  }
}

/**
 * The P-256 shared secret (the X coordinate, RFC 9846 §7.4.2) with a peer's 65-byte point. A
 * malformed point or one not on the curve (OpenSSL checks) is an illegal_parameter.
 */
export function p256SharedSecret(own: P256KeyPair, peerPublic: Uint8Array): Uint8Array {
  if (peerPublic.length !== 65 || peerPublic[0] !== 4) throw new TlsAlert(Alert.illegal_parameter, 'P-256 key share is not an uncompressed point');
  try {
    return toU8(own.ecdh.computeSecret(peerPublic));
  } catch {
    throw new TlsAlert(Alert.illegal_parameter, 'P-256 key share rejected');
  }
}

/**
 * Ed25519 signer from a 32-byte seed (RFC 8032 §5.1.5). An endpoint signs every handshake with
 * the same seed: the last few signers are cached (keyed by the seed's bytes, so a caller that
 * reuses and overwrites one array still gets the right key).
 */
export function ed25519Signer(seed: Uint8Array): Ed25519Signer {
  if (seed.length !== 32) throw new RangeError('Ed25519 secret key must be a 32-byte seed');
  return cachedByBytes(signerCache, SIGNER_CACHE_SIZE, seed, () => rawPrivateKey('Ed25519', ED25519_PKCS8_PREFIX, seed));
}

/** The 32-byte Ed25519 public key of a seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return ed25519Signer(seed).publicKey;
}

/** Ed25519 signature (64 bytes, deterministic). */
export function ed25519Sign(signer: Ed25519Signer, message: Uint8Array): Uint8Array {
  return toU8(nodeSign(null, message, signer.privateKey));
}

/**
 * True when `signature` is a valid Ed25519 signature of `message` by `publicKey`. Never throws.
 * The KeyObjects of the last few peers' keys are kept (an endpoint meets the same peers again:
 * iroh nodes redial, a client reconnects), which saves their import on each handshake.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return nodeVerify(null, message, peerEd25519Key(publicKey), signature);
  } catch {
    return false;
  }
}

/** A peer's Ed25519 public key as a KeyObject, from the cache when it was met lately. */
function peerEd25519Key(raw: Uint8Array): KeyObject {
  return cachedByBytes(peerKeyCache, PEER_KEY_CACHE_SIZE, raw, () => rawPublicKey('Ed25519', raw));
}

/**
 * The value `cache` holds for the bytes of `key` (a copy of them is the map's key, so a caller
 * that reuses and overwrites one array still gets the right value), else `make()`'s, kept with at
 * most `size` entries, the oldest out first. When `make` throws, nothing is kept.
 */
function cachedByBytes<T>(cache: Map<string, T>, size: number, key: Uint8Array, make: () => T): T {
  const id = Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const value = make();
  if (cache.size >= size) cache.delete(cache.keys().next().value as string);
  cache.set(id, value);
  return value;
}

/**
 * HMAC (RFC 2104) with SHA-256 or SHA-384. node:crypto's createHmac costs ~2.5-3.5 us for the
 * 32-48 byte inputs of a key schedule here, @noble/hashes' hmac ~6.5 us (measured for issue
 * #6; DESIGN.md's table compared noble with hkdfSync, ~14 us, not with createHmac). HKDF and
 * Finished are built on it (hkdf.ts, key-schedule.ts).
 */
export function hmacDigest(hash: 'sha256' | 'sha384', key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  // SHA-256 (every QUIC Initial and the TLS_AES_128_GCM_SHA256 / CHACHA20 suites): plain JS,
  // ~1 us instead of ~4.8 us per call (hmac-sha256.ts). SHA-384 stays on node:crypto.
  if (hash === 'sha256') return hmacSha256(key, data);
  const h = createHmac(hash, key);
  for (const d of data) h.update(d);
  return toU8(h.digest());
}

/**
 * The Ed25519 public key inside an X.509 certificate (DER), or undefined when the certificate
 * does not parse or its key is not Ed25519.
 */
export function x509Ed25519PublicKey(der: Uint8Array): Uint8Array | undefined {
  try {
    const cert = new X509Certificate(der);
    const spkiDer = toU8(cert.publicKey.export({ format: 'der', type: 'spki' }));
    if (spkiDer.length !== 44) return undefined;
    for (let i = 0; i < 12; i++) if (spkiDer[i] !== ED25519_SPKI_PREFIX[i]) return undefined;
    return spkiDer.slice(12);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

/** RFC 8410 §7: PrivateKeyInfo with the X25519 OID 1.3.101.110 and a 32-byte OCTET STRING. */
const X25519_PKCS8_PREFIX = hex('302e020100300506032b656e04220420');
/** RFC 8410 §7: the same with the Ed25519 OID 1.3.101.112. */
const ED25519_PKCS8_PREFIX = hex('302e020100300506032b657004220420');
/** RFC 8410 §4: SubjectPublicKeyInfo prefixes. */
const ED25519_SPKI_PREFIX = hex('302a300506032b6570032100');

/** Signers kept (an endpoint has one key; tests and multi-identity hosts a few). */
const SIGNER_CACHE_SIZE = 8;
const signerCache = new Map<string, Ed25519Signer>();
/** Peers' Ed25519 public keys kept as KeyObjects (~0.3 KB each), oldest out first. */
const PEER_KEY_CACHE_SIZE = 64;
const peerKeyCache = new Map<string, KeyObject>();

/** A public KeyObject from its raw 32 bytes, as an RFC 8037 §2 OKP JWK. */
function rawPublicKey(crv: 'X25519' | 'Ed25519', raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: b64url(raw) }, format: 'jwk' });
}

/**
 * A private KeyObject and its raw public half from the raw 32-byte private key. The JWK import
 * builds the key from `d` alone and derives the public half (Node 20 requires an `x` member but
 * does not use it for a private key: we pass a placeholder and export the derived one). Should a
 * Node version check `x` against `d`, the import throws and the slow, exact DER path is taken.
 */
function rawPrivateKey(crv: 'X25519' | 'Ed25519', pkcs8Prefix: Uint8Array, raw: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { kty: 'OKP', crv, d: b64url(raw), x: PLACEHOLDER_X }, format: 'jwk' });
  } catch {
    privateKey = createPrivateKey({ key: pkcs8(pkcs8Prefix, raw), format: 'der', type: 'pkcs8' });
  }
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error(`${crv} key export gave no public value`);
  const publicKey = new Uint8Array(Buffer.from(x, 'base64url'));
  if (publicKey.length !== 32) throw new Error(`${crv} public key is ${publicKey.length} bytes`);
  return { privateKey, publicKey };
}

const PLACEHOLDER_X = 'A'.repeat(43);

function b64url(raw: Uint8Array): string {
  return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64url');
}

function pkcs8(prefix: Uint8Array, raw: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + raw.length);
  out.set(prefix, 0);
  out.set(raw, prefix.length);
  return out;
}

function toU8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
}
