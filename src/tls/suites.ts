/**
 * TLS 1.3 cipher suites (RFC 9846 §B.4) and what QUIC packet protection needs of each
 * (RFC 9001 §5): the AEAD, its key length, the hash of the key schedule, and the header
 * protection algorithm.
 */

export const TLS_AES_128_GCM_SHA256 = 0x1301;
export const TLS_AES_256_GCM_SHA384 = 0x1302;
export const TLS_CHACHA20_POLY1305_SHA256 = 0x1303;

export type HashName = 'sha256' | 'sha384';
export type AeadName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly hash: HashName;
  /** Output length of the hash: the length of every secret of the key schedule. */
  readonly hashLen: 32 | 48;
  readonly aead: AeadName;
  readonly keyLen: 16 | 32;
  /** Every TLS 1.3 / QUIC AEAD here uses a 12-byte IV and a 16-byte tag. */
  readonly ivLen: 12;
  readonly tagLen: 16;
  /**
   * Header protection (RFC 9001 §5.4.3/5.4.4): AES-ECB with the AEAD's key size, or ChaCha20.
   */
  readonly hp: 'aes-128-ecb' | 'aes-256-ecb' | 'chacha20';
  /**
   * Confidentiality limit: packets that may be sealed with one key (RFC 9001 §6.6).
   * 2^23 for AES-GCM, 2^62 (unbounded in practice) for ChaCha20-Poly1305.
   */
  readonly confidentialityLimit: number;
  /** Integrity limit: failed decryptions allowed per key (RFC 9001 §6.6). */
  readonly integrityLimit: number;
}

export const CIPHER_SUITES: ReadonlyMap<number, CipherSuite> = new Map<number, CipherSuite>([
  [TLS_AES_128_GCM_SHA256, {
    id: TLS_AES_128_GCM_SHA256, name: 'TLS_AES_128_GCM_SHA256', hash: 'sha256', hashLen: 32,
    aead: 'aes-128-gcm', keyLen: 16, ivLen: 12, tagLen: 16, hp: 'aes-128-ecb',
    confidentialityLimit: 2 ** 23, integrityLimit: 2 ** 52,
  }],
  [TLS_AES_256_GCM_SHA384, {
    id: TLS_AES_256_GCM_SHA384, name: 'TLS_AES_256_GCM_SHA384', hash: 'sha384', hashLen: 48,
    aead: 'aes-256-gcm', keyLen: 32, ivLen: 12, tagLen: 16, hp: 'aes-256-ecb',
    confidentialityLimit: 2 ** 23, integrityLimit: 2 ** 52,
  }],
  [TLS_CHACHA20_POLY1305_SHA256, {
    id: TLS_CHACHA20_POLY1305_SHA256, name: 'TLS_CHACHA20_POLY1305_SHA256', hash: 'sha256', hashLen: 32,
    aead: 'chacha20-poly1305', keyLen: 32, ivLen: 12, tagLen: 16, hp: 'chacha20',
    confidentialityLimit: Number.MAX_SAFE_INTEGER, integrityLimit: 2 ** 36,
  }],
]);

/** The suite with this code point; throws for an unknown one. */
export function cipherSuite(id: number): CipherSuite {
  const s = CIPHER_SUITES.get(id);
  if (!s) throw new RangeError(`unknown TLS 1.3 cipher suite 0x${id.toString(16)}`);
  return s;
}

/** Default offer order, as iroh's rustls: AES-128-GCM first (mandatory for QUIC), then the rest. */
export const DEFAULT_CIPHER_SUITES: readonly number[] = [
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256,
];
