import type { CipherSuite } from './suites.js';
import type { KeyObject } from 'node:crypto';
import type { Random } from './random.js';
import type { ParsedCertificate } from './x509/certificate.js';
import type { CertifiedKey } from './x509/certified-key.js';
import type { ResumptionTicket, ServerTickets, TicketState } from './resumption.js';

/**
 * The narrow interface between QUIC and TLS (RFC 9001 §4.1).
 *
 * TLS here has no record layer: QUIC hands it the bytes of CRYPTO frames per encryption level
 * with `handleData(level, bytes)`, and pulls events with `pollEvent()`:
 *  - `writeData`: handshake bytes to send in CRYPTO frames at `level`;
 *  - `readSecret` / `writeSecret`: a new traffic secret for `level`, with the negotiated suite,
 *    from which QUIC derives packet protection keys ("quic key", "quic iv", "quic hp");
 *  - `peerTransportParameters`: the peer's quic_transport_parameters extension (0x39), opaque;
 *  - `handshakeDone`: the handshake completed (for a server: the client's Finished verified);
 *  - `sessionTicket`: a NewSessionTicket arrived (client), with what to store to resume;
 *  - `earlyData`: whether the 0-RTT offered is accepted (client: from EncryptedExtensions, before
 *    the server's transport parameters; server: once the ClientHello is handled, after the
 *    0-RTT read secret when accepted). Only when the ClientHello offered early data.
 *
 * TLS knows nothing of QUIC: transport parameters cross as opaque bytes. Errors are thrown as
 * `TlsAlert`; QUIC turns them into CRYPTO_ERROR 0x100 + alert.
 */

/** QUIC encryption levels (RFC 9001 §4): where handshake bytes travel. */
export const Level = {
  Initial: 0,
  EarlyData: 1,
  Handshake: 2,
  Application: 3,
} as const;
export type Level = (typeof Level)[keyof typeof Level];

export type TlsEvent =
  | { readonly kind: 'writeData'; readonly level: Level; readonly data: Uint8Array }
  | { readonly kind: 'readSecret'; readonly level: Level; readonly suite: CipherSuite; readonly secret: Uint8Array }
  | { readonly kind: 'writeSecret'; readonly level: Level; readonly suite: CipherSuite; readonly secret: Uint8Array }
  | { readonly kind: 'peerTransportParameters'; readonly data: Uint8Array }
  | { readonly kind: 'handshakeDone' }
  | { readonly kind: 'earlyData'; readonly accepted: boolean }
  | {
      readonly kind: 'sessionTicket';
      readonly lifetime: number;
      readonly ticket: Uint8Array;
      /** What to store to resume with this ticket (absent: not usable, e.g. a zero lifetime). */
      readonly resumption?: ResumptionTicket;
      /** The ticket's early_data max_early_data_size (absent: no early_data extension). */
      readonly maxEarlyData?: number;
    };

/** TLS CertificateType (RFC 7250): X.509 = 0, RawPublicKey = 2. */
export const CertificateType = { X509: 0, RawPublicKey: 2 } as const;
export type CertificateType = (typeof CertificateType)[keyof typeof CertificateType];

/**
 * What a peer presented, handed to a verifier. For raw public keys, `entries[0]` is the DER
 * SubjectPublicKeyInfo; for X.509, the DER certificates, leaf first.
 */
export interface PeerCertificate {
  readonly type: CertificateType;
  readonly entries: readonly Uint8Array[];
}

/**
 * Checks the peer's certificate and returns its Ed25519 public key (32 bytes), which then
 * verifies CertificateVerify. Throws a `TlsAlert` (bad_certificate, ...) to refuse it.
 */
export type PeerVerifier = (cert: PeerCertificate) => Uint8Array;

/**
 * X.509 mode with any key type (`certificateType: 'x509'` and this set): the chains we present
 * and how the peer's is checked. Without it, X.509 mode is the older Ed25519-only form
 * (`certificateChain` signed by `secretKey`, the peer's leaf key compared by `expectedPeerKey`).
 */
export interface X509Settings {
  /**
   * Our certified keys. Server: at least one, chosen per ClientHello by its signature_algorithms
   * and SNI. Client: presented when the server asks (the first its signature_algorithms allow;
   * none: an empty Certificate).
   */
  readonly identities: readonly CertifiedKey[];
  /**
   * Checks the peer's chain (parsed, leaf first; its CertificateVerify is checked by the engine
   * with the leaf's key). Throws a TlsAlert to refuse it. Required of a client, and of a server
   * that requires client authentication.
   */
  readonly verify?: (chain: readonly ParsedCertificate[]) => void;
}

/**
 * The key that signs the peer's CertificateVerify: a 32-byte Ed25519 key (raw public keys, and
 * the Ed25519-only X.509 form), or in X.509 mode the verified chain's leaf key of any type.
 */
export type PeerKey = Uint8Array | X509PeerKey;

export interface X509PeerKey {
  readonly publicKey: KeyObject;
  /** The chain as sent (DER, leaf first). */
  readonly chain: readonly Uint8Array[];
  /** The leaf's Ed25519 key, when it is one (so an X.509 peer with an Ed25519 key has an id). */
  readonly ed25519: Uint8Array | undefined;
}

/** NSS key log callback (SSLKEYLOGFILE format): label, client random, secret. */
export type KeyLogger = (label: string, clientRandom: Uint8Array, secret: Uint8Array) => void;

/** Where X25519 key shares come from (`X25519KeyPool`): each `take` gives a pair never given before. */
export interface X25519KeySource {
  take(): { readonly privateKey: KeyObject; readonly publicKey: Uint8Array };
}

export interface TlsConfig {
  /** Our Ed25519 secret key: the 32-byte seed (RFC 8032). Our endpoint id is its public key. */
  readonly secretKey: Uint8Array;
  /**
   * What we present: `rawPublicKey` (iroh, RFC 7250: the 44-byte SPKI) or `x509` (DER chain in
   * `certificateChain`, leaf first, whose key is `secretKey`'s: for non-iroh peers and tests).
   */
  readonly certificateType: 'rawPublicKey' | 'x509';
  readonly certificateChain?: readonly Uint8Array[];
  /** X.509 mode with any key type: our chains and the peer check (see X509Settings). */
  readonly x509?: X509Settings;
  /** Client: the ALPN list offered, in preference order. Server: the ALPNs served. Non-empty. */
  readonly alpnProtocols: readonly string[];
  /**
   * Our encoded QUIC transport parameters. When set, this is QUIC mode (RFC 9001 §8.2): the
   * extension is sent and the peer's is required (missing_extension otherwise), and no
   * middlebox-compatibility behaviour is allowed (RFC 9001 §8.4). When absent (TLS over TCP,
   * used only by the OpenSSL cross-check test), neither applies.
   */
  readonly transportParameters?: Uint8Array;
  /** Client: the peer's expected Ed25519 public key (the endpoint id dialled). */
  readonly expectedPeerKey?: Uint8Array;
  /** Replaces the built-in peer check (raw key equality / X.509 leaf key extraction). */
  readonly verifyPeer?: PeerVerifier;
  /** Server: require a client certificate (iroh does; default true). */
  readonly requireClientAuth?: boolean;
  /** Cipher suites: the client's offer order, the server's acceptable set. */
  readonly cipherSuites?: readonly number[];
  /** Client: the SNI to send, if any. A server ignores SNI. */
  readonly serverName?: string;
  /** Client: offer psk_key_exchange_modes = [psk_dhe_ke] so servers send tickets (default true). */
  readonly offerPskModes?: boolean;
  /** Client: groups to send key shares for initially; `[]` asks for a HelloRetryRequest. */
  readonly initialKeyShares?: readonly ('x25519' | 'secp256r1')[];
  readonly random: Random;
  /**
   * Where X25519 key shares come from when set (an `X25519KeyPool`: made ahead, off the
   * handshake's critical path); absent, each is made from `random` when needed.
   */
  readonly x25519Keys?: X25519KeySource;
  readonly keyLog?: KeyLogger;
  /**
   * Client: a ticket to offer (psk_dhe_ke, RFC 9846 §4.2.11). Offered only when it is usable now,
   * its suite is offered, its ALPN is in `alpnProtocols` and, in RPK mode, it was issued by
   * `expectedPeerKey`; otherwise ignored (a full handshake).
   */
  readonly resumption?: ResumptionTicket;
  /** Server: issue NewSessionTickets and accept them (absent: neither). */
  readonly tickets?: ServerTickets;
  /**
   * Client: offer early data (RFC 9846 §4.2.10, 0-RTT in QUIC) with the ticket of `resumption`
   * when that ticket allows it (maxEarlyData > 0); the 0-RTT secret then comes as a
   * `writeSecret` at `Level.EarlyData` right after the ClientHello.
   */
  readonly earlyData?: boolean;
  /**
   * Server: the last say on accepting early data the TLS checks allow (QUIC: the ticket's
   * remembered transport parameters still hold, RFC 9000 §7.4.1). Absent: accepted.
   */
  readonly acceptEarlyData?: (ticket: TicketState) => boolean;
  /** Client: the clock (ms) for ticket ages (default Date.now). */
  readonly now?: () => number;
}

/** The engine each role implements (TlsClient, TlsServer). */
export interface TlsEngine {
  readonly role: 'client' | 'server';
  /** Client: produce the ClientHello (a `writeData` at Initial). Server: no-op. Call once. */
  start(): void;
  /** Feed handshake bytes received at `level`. Throws `TlsAlert` on any failure. */
  handleData(level: Level, data: Uint8Array): void;
  /** Next pending event, or undefined. Call until undefined after each input. */
  pollEvent(): TlsEvent | undefined;
  /** True once the handshake completed on our side. */
  readonly handshakeComplete: boolean;
  /** The negotiated ALPN protocol (after EncryptedExtensions / ClientHello processing). */
  readonly alpn: string | undefined;
  /** The peer's verified Ed25519 public key (32 bytes). */
  readonly peerPublicKey: Uint8Array | undefined;
  /** The negotiated cipher suite. */
  readonly suite: CipherSuite | undefined;
  /** X.509 mode: the peer's certificates as it sent them (DER, leaf first), once verified. */
  readonly peerCertificates: readonly Uint8Array[] | undefined;
  /** The handshake resumed a session with a ticket (PSK accepted). */
  readonly resumed: boolean;
  /**
   * Early data (0-RTT): `none` (not offered), `offered` (client, until EncryptedExtensions),
   * `accepted` or `rejected`.
   */
  readonly earlyData: EarlyDataState;
}

/** What became of early data on a handshake (see `TlsEngine.earlyData`). */
export type EarlyDataState = 'none' | 'offered' | 'accepted' | 'rejected';
