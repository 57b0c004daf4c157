/**
 * quic-peer's public API: endpoints and WebTransport-shaped sessions over QUIC v1 with iroh's
 * TLS (Ed25519 raw public keys), identities, addressing and tickets. The handle registry for
 * callers across a worker or native boundary is `quic-peer/handles`. The iroh relay protocol
 * (client and server) is `RelayClient` / `RelayServer`.
 */
export { Endpoint, DEFAULT_ALPN, type EndpointOptions, type TicketOptions } from './session/endpoint.js';
export { FileSessionCache, MemorySessionCache, MAX_CACHED_SERVERS, MAX_TICKETS_PER_SERVER, type SessionCache } from './session/session-cache.js';
export type { ResumptionTicket } from './tls/resumption.js';
export type { CertificateKeyPair, DialTlsOptions, EndpointTlsOptions } from './session/x509-options.js';
export {
  generateCertificate,
  generateSelfSigned,
  type CertificateKeyType,
  type GenerateCertificateOptions,
  type GeneratedCertificate,
} from './session/certificates.js';
export {
  Session,
  type BidirectionalStream,
  type CallablePromise,
  type ConnectOptions,
  type SessionDatagrams,
  type SessionKind,
  type SessionTransport,
  type WebTransportHeader,
  type WebTransportInfo,
  type WebTransportRequest,
} from './session/session.js';
export type { CloseInfo } from './session/session-state.js';
export type { SessionPath } from './session/session-paths.js';
export type { SessionHost } from './session/session-host.js';
export { StreamAbortedError } from './session/stream-adapter.js';
export { ReadLimitError, readAll, writeAll } from './session/stream-io.js';
export type { WaitOptions } from './session/arguments.js';
export { ConnectError, InvalidArgumentError, SessionClosedError, type ConnectErrorKind } from './session/errors.js';
export type { CloseReason } from './quic/events.js';
export {
  InvalidRemoteError,
  decodeEndpointTicket,
  encodeEndpointTicket,
  parseRemote,
  type EndpointAddr,
  type InvalidRemoteReason,
  type RemoteForm,
} from './session/addressing.js';
export { DatagramError } from './quic/connection/datagram-error.js';
export { ConfigError, type TransportConfig, type TransportOptions } from './quic/transport-config.js';
export type { CongestionAlgorithm } from './quic/congestion/interface.js';
export type { StreamLimits } from './quic/streams/stream-types.js';
export type { AddressDiscoveryStats, ConnectionStats, DatagramStats, NatTraversalStats, PerPathStats, RttStats } from './quic/connection/stats.js';
export {
  EndpointId,
  InvalidEndpointIdError,
  InvalidSecretKeyError,
  type InvalidEndpointIdReason,
  generateSecretKey,
  secretKeyFromBytes,
  secretKeyFromHex,
  parseSecretKeyFile,
  formatSecretKeyFile,
  publicKeyOf,
} from './tls/identity.js';
export { CryptoRandom, type Random } from './tls/random.js';
export type { KeyLogger } from './tls/engine.js';
export { TlsAlert } from './tls/alerts.js';
export {
  RelayClient,
  RelayError,
  probeRelay,
  type RelayClientOptions,
  type RelayErrorReason,
  type RelayState,
} from './relay/client.js';
export { QadServer, type QadServerOptions } from './session/qad-server.js';
export { QAD_ALPN, DEFAULT_QAD_PORT, type RelayAddressDiscoveryOptions, type RelayAddressDiscoveryStatus } from './session/relay-qad.js';
export { RelayServer, DEFAULT_RELAY_LIMITS, type RelayCloseOptions, type RelayLimits, type RelayMetrics, type RelayServerOptions } from './relay/server.js';
