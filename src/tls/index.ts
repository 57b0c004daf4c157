/** The TLS 1.3 layer of quic-peer: engines, configuration and the pieces tests and tools use. */
export { Level, CertificateType } from './engine.js';
export type { TlsEvent, TlsConfig, TlsEngine, PeerCertificate, PeerVerifier, KeyLogger } from './engine.js';
export { TlsClient } from './client.js';
export { TlsServer } from './server.js';
export { Alert, TlsAlert, alertName } from './alerts.js';
export { CryptoRandom, SeededRandom } from './random.js';
export type { Random } from './random.js';
export {
  CIPHER_SUITES,
  DEFAULT_CIPHER_SUITES,
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256,
  cipherSuite,
} from './suites.js';
export type { CipherSuite } from './suites.js';
export { hkdfExpandLabel } from './hkdf.js';
export { ED25519_SPKI_PREFIX, wrapEd25519Spki, unwrapEd25519Spki } from './rpk.js';
export { ed25519PublicKey, ed25519Sign, ed25519Signer, ed25519Verify } from './crypto.js';
export {
  EndpointId,
  InvalidEndpointIdError,
  InvalidSecretKeyError,
  generateSecretKey,
  secretKeyFromBytes,
  secretKeyFromHex,
  parseSecretKeyFile,
  formatSecretKeyFile,
  publicKeyOf,
  base32Encode,
  base32Decode,
} from './identity.js';
