/**
 * quic-peer's public API.
 *
 * Today: identities (Ed25519 keys, endpoint ids) and the TLS 1.3 engine. The Endpoint and the
 * WebTransport-shaped Session arrive with the UDP endpoint (see the README).
 */
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
  CryptoRandom,
  SeededRandom,
  TlsAlert,
} from './tls/index.js';
export type { Random } from './tls/index.js';
