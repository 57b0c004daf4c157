import { X509Certificate } from 'node:crypto';
import { bytesEqual, concatBytes, utf8 } from '../codec/bytes.js';
import { Alert, TlsAlert } from './alerts.js';
import { p256KeyPair, p256SharedSecret, x25519KeyPair, x25519SharedSecret, x509Ed25519PublicKey, type P256KeyPair, type X25519KeyPair } from './crypto.js';
import { CertificateType, Level, type TlsConfig, type TlsEngine, type X509PeerKey } from './engine.js';
import {
  decodeAlpn,
  decodeCertTypeServer,
  decodeCookie,
  decodeKeyShareHrr,
  decodeKeyShareServer,
  decodeSupportedVersionsServer,
  decodeU16List,
  encodeAlpn,
  encodeCertTypesClient,
  encodeCookie,
  encodeKeyShareClient,
  encodePskModes,
  encodeServerName,
  encodeSupportedVersionsClient,
  encodeU16List,
  ExtensionType,
  findExtension,
  LEGACY_VERSION,
  NamedGroup,
  PSK_DHE_KE,
  SignatureScheme,
  TLS13_VERSION,
  type Extension,
  type KeyShareEntry,
} from './extensions.js';
import { EngineBase, expectType } from './handshake.js';
import { hashBytes } from './hkdf.js';
import {
  applicationTrafficSecrets,
  clientEarlyTrafficSecret,
  earlySecret,
  pskBinder,
  resumptionMasterSecret,
  finishedVerifyData,
  handshakeSecret,
  handshakeTrafficSecrets,
  masterSecret,
  verifyFinished,
  type TrafficSecrets,
} from './key-schedule.js';
import {
  decodeCertificateRequest,
  decodeEncryptedExtensions,
  decodeFinished,
  decodeKeyUpdate,
  decodeNewSessionTicket,
  decodeServerHello,
  encodeClientHello,
  encodeFinished,
  HandshakeType,
  isHelloRetryRequest,
  type RawHandshake,
  type ServerHello,
} from './messages.js';
import { handleCertificate, handleCertificateVerify } from './peer-auth.js';
import { cipherSuite, DEFAULT_CIPHER_SUITES } from './suites.js';
import {
  decodeMaxEarlyData,
  decodeSelectedPsk,
  encodeOfferedPsks,
  MAX_TICKET_LIFETIME_S,
  resumptionPsk,
  ticketUsable,
  type ResumptionTicket,
} from './resumption.js';
import { chooseCertifiedKey } from './x509/certified-key.js';
import { parseCertificate } from './x509/certificate.js';
import { OFFERED_SCHEMES } from './x509/signatures.js';

/**
 * TLS 1.3 client for QUIC (RFC 9846 §2, RFC 9001 §4): a synchronous message-level state machine.
 *
 *   start()            -> writeData(Initial, ClientHello) [, writeSecret(EarlyData) when offering 0-RTT]
 *   HelloRetryRequest  -> writeData(Initial, ClientHello2)
 *   ServerHello        -> writeSecret(Handshake), readSecret(Handshake)
 *   EncryptedExtensions-> [earlyData(accepted?),] peerTransportParameters (QUIC mode)
 *   [CertificateRequest], Certificate, CertificateVerify
 *   server Finished    -> writeData(Handshake, [Certificate, CertificateVerify,] Finished),
 *                         writeSecret(Application), readSecret(Application), handshakeDone
 *   NewSessionTicket   -> sessionTicket (Application level, after the handshake)
 */
export class TlsClient extends EngineBase implements TlsEngine {
  readonly role = 'client' as const;

  private state: ClientState = 'START';
  private readonly offeredSuites: readonly number[];
  private keyShare: X25519KeyPair | undefined;
  /** A P-256 share: X.509 mode offers the group, and sends a share when asked (or configured). */
  private p256Share: P256KeyPair | undefined;
  private readonly groups: readonly number[];
  private readonly sentExtensions = new Set<number>();
  private retried = false;
  private retrySuite = 0;
  private cookie: Uint8Array | undefined;
  private hsSecrets: TrafficSecrets | undefined;
  private hsSecret: Uint8Array | undefined;
  private certRequest: { readonly context: Uint8Array } | undefined;
  /** Client certificate type the server accepted in EncryptedExtensions (RPK mode). */
  private clientCertTypeAgreed = false;
  /** The ticket we offer (RFC 9846 §4.2.11), when there is one that fits. */
  private offer: ResumptionTicket | undefined;
  private readonly now: () => number;
  /** After the handshake: the master secret and Transcript-Hash(CH..client Finished), for ticket PSKs. */
  private resumptionBase: { readonly master: Uint8Array; readonly transcript: Uint8Array } | undefined;
  private resumptionMaster: Uint8Array | undefined;
  private serverTransportParameters: Uint8Array | undefined;

  constructor(config: TlsConfig) {
    super(config);
    this.offeredSuites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    if (this.offeredSuites.length === 0) throw new RangeError('cipherSuites must not be empty');
    if (config.x509 && !config.x509.verify) throw new RangeError('an X.509 client needs a certificate verifier');
    // Only X25519 in RPK mode (iroh); X.509 mode adds P-256, which some servers may ask for.
    this.groups = config.x509 || config.initialKeyShares?.includes('secp256r1') ? [NamedGroup.x25519, NamedGroup.secp256r1] : [NamedGroup.x25519];
    this.now = config.now ?? Date.now;
    const t = config.resumption;
    if (t && this.ticketFits(t)) this.offer = t;
  }

  /**
   * A ticket is offered only to the server that issued it (RPK: the id dialled; X.509: the
   * same SNI, the chain verified then kept with the ticket), for a protocol we offer, with a
   * suite we offer, while it is valid.
   */
  private ticketFits(t: ResumptionTicket): boolean {
    const cfg = this.config;
    if (!(cfg.offerPskModes ?? true)) return false;
    if (cfg.x509) {
      if (!t.peerChain || t.peerChain.length === 0 || t.serverName !== cfg.serverName) return false;
      // The chain must pass this dial's checks (its CAs, pins, name, validity now), not only
      // those of the dial that got the ticket.
      try {
        cfg.x509.verify?.(t.peerChain.map((der) => parseCertificate(der)));
      } catch {
        return false;
      }
    } else if (!this.rpk || !t.peerKey || !cfg.expectedPeerKey || !bytesEqual(t.peerKey, cfg.expectedPeerKey)) {
      return false;
    }
    if (!this.offeredSuites.includes(t.suite) || !cfg.alpnProtocols.includes(t.alpn)) return false;
    return ticketUsable(t, this.now());
  }

  start(): void {
    if (this.state !== 'START') throw new Error('start() called twice');
    try {
      this.clientRandom = this.config.random.fill(new Uint8Array(32));
      const shares = this.config.initialKeyShares ?? ['x25519'];
      if (shares.includes('x25519')) this.keyShare = this.newKeyShare();
      if (shares.includes('secp256r1')) this.p256Share = this.newP256Share();
      const ch = this.encodeHello();
      const early = this.earlyDataState === 'offered' ? this.offer! : undefined;
      this.transcript.add(ch);
      this.emit({ kind: 'writeData', level: Level.Initial, data: ch });
      if (early) {
        // RFC 9846 §7.1: client_early_traffic_secret over the ClientHello, from the PSK's Early
        // Secret: QUIC's 0-RTT key (RFC 9001 §4.6), usable right after the ClientHello.
        const suite = cipherSuite(early.suite);
        const secret = clientEarlyTrafficSecret(suite.hash, earlySecret(suite.hash, early.psk), hashBytes(suite.hash, ch));
        this.keyLog('CLIENT_EARLY_TRAFFIC_SECRET', secret);
        this.emit({ kind: 'writeSecret', level: Level.EarlyData, suite, secret });
      }
      this.state = 'EXPECT_SERVER_HELLO';
    } catch (e) {
      throw this.fail(e);
    }
  }

  protected expectedLevel(): Level {
    switch (this.state) {
      case 'START':
      case 'EXPECT_SERVER_HELLO':
        return Level.Initial;
      case 'CONNECTED':
        return Level.Application;
      default:
        return Level.Handshake;
    }
  }

  protected handleMessage(msg: RawHandshake): void {
    switch (this.state) {
      case 'EXPECT_SERVER_HELLO':
        expectType(msg, HandshakeType.server_hello);
        return this.handleServerHello(msg);
      case 'EXPECT_ENCRYPTED_EXTENSIONS':
        expectType(msg, HandshakeType.encrypted_extensions);
        return this.handleEncryptedExtensions(msg);
      case 'EXPECT_CERTIFICATE_OR_REQUEST':
      case 'EXPECT_CERTIFICATE':
        if (this.state === 'EXPECT_CERTIFICATE_OR_REQUEST' && msg.type === HandshakeType.certificate_request) {
          return this.handleCertificateRequest(msg);
        }
        expectType(msg, HandshakeType.certificate);
        this.peerKey = handleCertificate(msg, 'server', this.config, this.transcript);
        this.state = 'EXPECT_CERTIFICATE_VERIFY';
        return;
      case 'EXPECT_CERTIFICATE_VERIFY':
        expectType(msg, HandshakeType.certificate_verify);
        handleCertificateVerify(msg, 'server', this.peerKey!, this.transcript);
        this.state = 'EXPECT_FINISHED';
        return;
      case 'EXPECT_FINISHED':
        expectType(msg, HandshakeType.finished);
        return this.handleFinished(msg);
      case 'CONNECTED':
        return this.handlePostHandshake(msg);
      default:
        throw new TlsAlert(Alert.unexpected_message, `message ${msg.type} before start()`);
    }
  }

  // --- ClientHello --------------------------------------------------------------------------------

  private newKeyShare(): X25519KeyPair {
    return this.config.x25519Keys?.take() ?? x25519KeyPair(this.config.random.fill(new Uint8Array(32)));
  }

  private newP256Share(): P256KeyPair {
    return p256KeyPair(() => this.config.random.fill(new Uint8Array(32)));
  }

  private encodeHello(): Uint8Array {
    const cfg = this.config;
    const exts: Extension[] = [];
    if (cfg.serverName !== undefined) {
      exts.push({ type: ExtensionType.server_name, data: encodeServerName(utf8(cfg.serverName)) });
    }
    // Only groups we can share: listing others would invite a HelloRetryRequest we could not answer.
    exts.push({ type: ExtensionType.supported_groups, data: encodeU16List(this.groups) });
    // X.509 mode accepts what standard servers sign with; RPK (and the Ed25519-only X.509 form) Ed25519.
    exts.push({ type: ExtensionType.signature_algorithms, data: encodeU16List(cfg.x509 ? OFFERED_SCHEMES : [SignatureScheme.ed25519]) });
    exts.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(this.alpnOffer) });
    if (this.rpk) {
      // RFC 7250 §4: we only present and accept raw public keys.
      exts.push({ type: ExtensionType.client_certificate_type, data: encodeCertTypesClient([CertificateType.RawPublicKey]) });
      exts.push({ type: ExtensionType.server_certificate_type, data: encodeCertTypesClient([CertificateType.RawPublicKey]) });
    }
    const shares: KeyShareEntry[] = this.keyShare ? [{ group: NamedGroup.x25519, keyExchange: this.keyShare.publicKey }] : [];
    if (this.p256Share) shares.push({ group: NamedGroup.secp256r1, keyExchange: this.p256Share.publicKey });
    exts.push({ type: ExtensionType.key_share, data: encodeKeyShareClient(shares) });
    if (cfg.offerPskModes ?? true) {
      // So that servers (iroh) send NewSessionTickets, and required with a pre_shared_key.
      exts.push({ type: ExtensionType.psk_key_exchange_modes, data: encodePskModes([PSK_DHE_KE]) });
    }
    exts.push({ type: ExtensionType.supported_versions, data: encodeSupportedVersionsClient([TLS13_VERSION]) });
    if (this.cookie) exts.push({ type: ExtensionType.cookie, data: encodeCookie(this.cookie) });
    if (cfg.transportParameters !== undefined) {
      exts.push({ type: ExtensionType.quic_transport_parameters, data: cfg.transportParameters });
    }
    const offer = this.offer;
    let bindersLength = 0;
    // RFC 9846 §4.2.10: early data only with the first PSK, a ticket that allows it, and never in
    // the ClientHello that answers a HelloRetryRequest (RFC 9001 §4.6.2: early data is then rejected).
    if (offer && cfg.earlyData === true && offer.maxEarlyData > 0 && !this.retried) {
      exts.push({ type: ExtensionType.early_data, data: new Uint8Array(0) });
      this.earlyDataState = 'offered';
    } else if (this.earlyDataState === 'offered') {
      this.earlyDataState = 'rejected';
    }
    if (offer) {
      // RFC 9846 §4.2.11: last extension; the binder is filled in below, over the truncated hello.
      const hashLen = cipherSuite(offer.suite).hashLen;
      const age = (this.now() - offer.receivedAt + offer.ageAdd) >>> 0;
      const psk = encodeOfferedPsks([{ identity: offer.ticket, obfuscatedAge: age }], [new Uint8Array(hashLen)]);
      bindersLength = psk.bindersLength;
      exts.push({ type: ExtensionType.pre_shared_key, data: psk.data });
    }
    for (const e of exts) this.sentExtensions.add(e.type);
    const ch = encodeClientHello({
      legacyVersion: LEGACY_VERSION,
      random: this.clientRandom,
      // RFC 9001 §8.4: empty in QUIC; we never use middlebox compatibility mode over TCP either.
      legacySessionId: new Uint8Array(0),
      cipherSuites: this.offeredSuites,
      compressionMethods: Uint8Array.of(0),
      extensions: exts,
    });
    if (offer) {
      // RFC 9846 §4.2.11.2: the binder covers the transcript up to the hello without its binders.
      const suite = cipherSuite(offer.suite);
      const truncated = ch.subarray(0, ch.length - bindersLength);
      const binder = pskBinder(suite.hash, earlySecret(suite.hash, offer.psk), this.transcript.digestWith(suite.hash, truncated));
      ch.set(binder, ch.length - binder.length);
    }
    return ch;
  }

  // --- ServerHello / HelloRetryRequest ------------------------------------------------------------

  private handleServerHello(msg: RawHandshake): void {
    const sh = decodeServerHello(msg.body);
    // RFC 9846 §4.1.3 checks, common to ServerHello and HelloRetryRequest.
    if (sh.legacyVersion !== LEGACY_VERSION) throw new TlsAlert(Alert.protocol_version, 'ServerHello legacy_version is not 0x0303');
    const sv = findExtension(sh.extensions, ExtensionType.supported_versions);
    if (sv === undefined) throw new TlsAlert(Alert.protocol_version, 'server did not select TLS 1.3');
    if (decodeSupportedVersionsServer(sv) !== TLS13_VERSION) {
      throw new TlsAlert(Alert.illegal_parameter, 'server selected a version we did not offer');
    }
    if (sh.legacySessionIdEcho.length !== 0) throw new TlsAlert(Alert.illegal_parameter, 'legacy_session_id_echo differs');
    if (!this.offeredSuites.includes(sh.cipherSuite)) {
      throw new TlsAlert(Alert.illegal_parameter, `cipher suite 0x${sh.cipherSuite.toString(16)} not offered`);
    }
    if (sh.compressionMethod !== 0) throw new TlsAlert(Alert.illegal_parameter, 'compression method is not 0');
    if (isHelloRetryRequest(sh)) return this.handleHelloRetryRequest(sh, msg.raw);

    this.checkServerExtensions(sh.extensions, [ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.pre_shared_key]);
    // RFC 9846 §4.1.4: the ServerHello after a HelloRetryRequest keeps its cipher suite.
    if (this.retried && sh.cipherSuite !== this.retrySuite) {
      throw new TlsAlert(Alert.illegal_parameter, 'cipher suite differs from the HelloRetryRequest');
    }
    const ks = findExtension(sh.extensions, ExtensionType.key_share);
    if (ks === undefined) throw new TlsAlert(Alert.missing_extension, 'ServerHello without key_share');
    const share = decodeKeyShareServer(ks);
    // RFC 9846 §4.2.8: the server's share must be in a group we sent a share for.
    let shared: Uint8Array;
    if (share.group === NamedGroup.x25519 && this.keyShare) shared = x25519SharedSecret(this.keyShare, share.keyExchange);
    else if (share.group === NamedGroup.secp256r1 && this.p256Share) shared = p256SharedSecret(this.p256Share, share.keyExchange);
    else throw new TlsAlert(Alert.illegal_parameter, `server key share in group 0x${share.group.toString(16)} we did not share`);

    const suite = cipherSuite(sh.cipherSuite);
    const selected = findExtension(sh.extensions, ExtensionType.pre_shared_key);
    let psk: Uint8Array | undefined;
    if (selected !== undefined) {
      // RFC 9846 §4.2.11: the one identity we offered, with a suite of the ticket's hash.
      const offer = this.offer!;
      if (decodeSelectedPsk(selected) !== 0) throw new TlsAlert(Alert.illegal_parameter, 'server selected a PSK we did not offer');
      if (cipherSuite(offer.suite).hash !== suite.hash) throw new TlsAlert(Alert.illegal_parameter, 'server resumed with a suite of another hash');
      psk = offer.psk;
      this.pskAccepted = true;
      // The server proved it holds the ticket's PSK: it is the server the ticket came from.
      this.peerKey = this.config.x509 ? x509PeerKeyOf(offer.peerChain!) : offer.peerKey;
    }
    this.negotiatedSuite = suite;
    this.transcript.selectHash(suite.hash);
    this.transcript.add(msg.raw);
    this.hsSecret = handshakeSecret(suite.hash, earlySecret(suite.hash, psk), shared);
    this.hsSecrets = handshakeTrafficSecrets(suite.hash, this.hsSecret, this.transcript.digest());
    this.keyShare = undefined;
    this.p256Share = undefined;
    this.keyLog('CLIENT_HANDSHAKE_TRAFFIC_SECRET', this.hsSecrets.client);
    this.keyLog('SERVER_HANDSHAKE_TRAFFIC_SECRET', this.hsSecrets.server);
    this.emitSecret('writeSecret', Level.Handshake, this.hsSecrets.client);
    this.emitSecret('readSecret', Level.Handshake, this.hsSecrets.server);
    this.state = 'EXPECT_ENCRYPTED_EXTENSIONS';
  }

  /** RFC 9846 §4.1.4. */
  private handleHelloRetryRequest(hrr: ServerHello, raw: Uint8Array): void {
    if (this.retried) throw new TlsAlert(Alert.unexpected_message, 'second HelloRetryRequest');
    this.checkServerExtensions(hrr.extensions, [ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.cookie]);
    const ks = findExtension(hrr.extensions, ExtensionType.key_share);
    const ck = findExtension(hrr.extensions, ExtensionType.cookie);
    let changes = false;
    if (ks !== undefined) {
      const group = decodeKeyShareHrr(ks);
      // The selected group must be one we support and not one we already sent a share for.
      const shared = group === NamedGroup.x25519 ? this.keyShare : this.p256Share;
      if (!this.groups.includes(group) || shared) {
        throw new TlsAlert(Alert.illegal_parameter, `HelloRetryRequest selects group 0x${group.toString(16)}`);
      }
      // RFC 9846 §4.1.2: the new key_share holds a single share, for the group selected.
      this.keyShare = group === NamedGroup.x25519 ? this.newKeyShare() : undefined;
      this.p256Share = group === NamedGroup.secp256r1 ? this.newP256Share() : undefined;
      changes = true;
    }
    if (ck !== undefined) {
      this.cookie = decodeCookie(ck).slice();
      changes = true;
    }
    if (!changes) throw new TlsAlert(Alert.illegal_parameter, 'HelloRetryRequest would not change the ClientHello');
    this.retried = true;
    this.retrySuite = hrr.cipherSuite;
    // RFC 9846 §4.1.4: a PSK offered again must suit the HelloRetryRequest's hash.
    if (this.offer && cipherSuite(this.offer.suite).hash !== cipherSuite(hrr.cipherSuite).hash) this.offer = undefined;
    // RFC 9846 §4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1)).
    this.transcript.selectHash(cipherSuite(hrr.cipherSuite).hash);
    this.transcript.replaceWithMessageHash();
    this.transcript.add(raw);
    const wasOffered = this.earlyDataState === 'offered';
    const ch2 = this.encodeHello();
    this.transcript.add(ch2);
    this.emit({ kind: 'writeData', level: Level.Initial, data: ch2 });
    // RFC 9001 §4.6.2: "A server will always reject 0-RTT if it sends a TLS HelloRetryRequest."
    if (wasOffered) this.emit({ kind: 'earlyData', accepted: false });
  }

  /**
   * RFC 9846 §4.2: a server may only answer extensions we sent (else unsupported_extension),
   * and a recognised extension not allowed in this message is an illegal_parameter.
   */
  private checkServerExtensions(exts: readonly Extension[], allowed: readonly number[]): void {
    for (const e of exts) {
      if (allowed.includes(e.type)) {
        // The cookie is the one extension a server may send unasked (RFC 9846 §4.2.2).
        if (e.type !== ExtensionType.cookie && !this.sentExtensions.has(e.type)) {
          throw new TlsAlert(Alert.unsupported_extension, `unrequested extension ${e.type}`);
        }
        continue;
      }
      if (e.type === ExtensionType.cookie) throw new TlsAlert(Alert.illegal_parameter, 'cookie outside HelloRetryRequest');
      if (!this.sentExtensions.has(e.type)) throw new TlsAlert(Alert.unsupported_extension, `unrequested extension ${e.type}`);
      throw new TlsAlert(Alert.illegal_parameter, `extension ${e.type} not allowed here`);
    }
  }

  // --- EncryptedExtensions ------------------------------------------------------------------------

  private handleEncryptedExtensions(msg: RawHandshake): void {
    const { extensions } = decodeEncryptedExtensions(msg.body);
    this.checkServerExtensions(extensions, EE_ALLOWED);

    // RFC 7301 §3.2: one protocol, one we offered. QUIC requires ALPN (RFC 9001 §8.1).
    const alpnExt = findExtension(extensions, ExtensionType.application_layer_protocol_negotiation);
    if (alpnExt !== undefined) {
      const list = decodeAlpn(alpnExt);
      const chosen = list[0]!;
      const i = this.alpnOffer.findIndex((p) => bytesEqual(p, chosen));
      if (list.length !== 1 || i < 0) throw new TlsAlert(Alert.illegal_parameter, 'server selected an ALPN we did not offer');
      this.negotiatedAlpn = this.config.alpnProtocols[i];
    } else if (this.quic) {
      throw new TlsAlert(Alert.no_application_protocol, 'server selected no ALPN');
    }

    if (this.rpk) {
      // RFC 7250 §4.2: without server_certificate_type the server would send X.509 (unless
      // resuming: no certificate then).
      const st = findExtension(extensions, ExtensionType.server_certificate_type);
      if (st === undefined && !this.pskAccepted) throw new TlsAlert(Alert.handshake_failure, 'server did not accept raw public keys');
      if (st !== undefined && decodeCertTypeServer(st) !== CertificateType.RawPublicKey) {
        throw new TlsAlert(Alert.illegal_parameter, 'server certificate type not offered');
      }
      const ct = findExtension(extensions, ExtensionType.client_certificate_type);
      if (ct !== undefined) {
        if (decodeCertTypeServer(ct) !== CertificateType.RawPublicKey) {
          throw new TlsAlert(Alert.illegal_parameter, 'client certificate type not offered');
        }
        this.clientCertTypeAgreed = true;
      }
    }

    if (this.earlyDataState === 'offered') {
      // RFC 9846 §4.2.10: the server accepts early data with an empty early_data extension here,
      // only when it selected the first PSK (ours is the only one). Told before the transport
      // parameters, so that QUIC undoes its 0-RTT state before applying the new ones.
      const accepted = findExtension(extensions, ExtensionType.early_data) !== undefined;
      if (accepted && !this.pskAccepted) throw new TlsAlert(Alert.illegal_parameter, 'early_data accepted without the PSK');
      // RFC 9846 §4.2.10: accepted early data was sent under the ticket's suite and ALPN.
      if (accepted && (this.negotiatedSuite!.id !== this.offer!.suite || this.negotiatedAlpn !== this.offer!.alpn)) {
        throw new TlsAlert(Alert.illegal_parameter, 'early data accepted with another cipher suite or ALPN than the ticket\'s');
      }
      this.earlyDataState = accepted ? 'accepted' : 'rejected';
      this.emit({ kind: 'earlyData', accepted });
    }
    if (this.quic) {
      // RFC 9001 §8.2: missing quic_transport_parameters is a missing_extension.
      const tp = findExtension(extensions, ExtensionType.quic_transport_parameters);
      if (tp === undefined) throw new TlsAlert(Alert.missing_extension, 'no quic_transport_parameters');
      this.serverTransportParameters = tp.slice();
      this.emit({ kind: 'peerTransportParameters', data: tp.slice() });
    }
    this.transcript.add(msg.raw);
    // RFC 9846 §4.3.2: a server authenticating with a PSK sends no CertificateRequest nor Certificate.
    this.state = this.pskAccepted ? 'EXPECT_FINISHED' : 'EXPECT_CERTIFICATE_OR_REQUEST';
  }

  // --- server authentication (its Certificate and CertificateVerify: peer-auth.ts) ----------------

  private handleCertificateRequest(msg: RawHandshake): void {
    const cr = decodeCertificateRequest(msg.body);
    // RFC 9846 §4.3.2: empty context during the handshake; signature_algorithms is mandatory.
    if (cr.context.length !== 0) throw new TlsAlert(Alert.illegal_parameter, 'non-empty certificate_request_context');
    const sa = findExtension(cr.extensions, ExtensionType.signature_algorithms);
    if (sa === undefined) throw new TlsAlert(Alert.missing_extension, 'CertificateRequest without signature_algorithms');
    const serverSchemes = decodeU16List(sa, 'signature_algorithms');
    if (this.config.x509) {
      // RFC 9846 §4.4.2: with no chain the server accepts, the client sends an empty Certificate.
      this.ownIdentity = chooseCertifiedKey(this.config.x509.identities, serverSchemes, undefined);
    } else if (!serverSchemes.includes(SignatureScheme.ed25519)) {
      throw new TlsAlert(Alert.handshake_failure, 'server does not accept Ed25519 client signatures');
    }
    if (this.rpk && !this.clientCertTypeAgreed) {
      // RFC 7250 §4.2: a server requesting a certificate answers client_certificate_type.
      throw new TlsAlert(Alert.handshake_failure, 'server requested a certificate without agreeing on raw public keys');
    }
    this.certRequest = { context: cr.context.slice() };
    this.transcript.add(msg.raw);
    this.state = 'EXPECT_CERTIFICATE';
  }

  private handleFinished(msg: RawHandshake): void {
    const suite = this.negotiatedSuite!;
    const hs = this.hsSecrets!;
    const fin = decodeFinished(msg.body, suite.hashLen);
    // RFC 9846 §4.4.4: mismatch -> decrypt_error.
    if (!verifyFinished(suite.hash, hs.server, this.transcript.digest(), fin.verifyData)) {
      throw new TlsAlert(Alert.decrypt_error, 'server Finished does not verify');
    }
    this.transcript.add(msg.raw);
    const master = masterSecret(suite.hash, this.hsSecret!);
    const app = applicationTrafficSecrets(suite.hash, master, this.transcript.digest());

    // Our flight: [Certificate, CertificateVerify,] Finished at the Handshake level.
    const parts: Uint8Array[] = [];
    if (this.certRequest) parts.push(...this.writeCertificateAndVerify(this.certRequest.context));
    const ours = encodeFinished({ verifyData: finishedVerifyData(suite.hash, hs.client, this.transcript.digest()) });
    this.transcript.add(ours);
    parts.push(ours);
    // Kept for the tickets that may follow; the resumption master secret is derived at the first.
    if (this.config.offerPskModes ?? true) this.resumptionBase = { master, transcript: this.transcript.digest() };
    this.emit({ kind: 'writeData', level: Level.Handshake, data: concatBytes(...parts) });

    this.keyLog('CLIENT_TRAFFIC_SECRET_0', app.client);
    this.keyLog('SERVER_TRAFFIC_SECRET_0', app.server);
    this.emitSecret('writeSecret', Level.Application, app.client);
    this.emitSecret('readSecret', Level.Application, app.server);
    this.hsSecret = undefined;
    this.complete = true;
    this.state = 'CONNECTED';
    this.emit({ kind: 'handshakeDone' });
    // Only NewSessionTickets may follow (resumptionBase serves them): the rest can go.
    this.hsSecrets = undefined;
    this.keyShare = undefined;
    this.p256Share = undefined;
    this.cookie = undefined;
    this.certRequest = undefined;
    this.releaseHandshakeState();
  }

  // --- after the handshake ------------------------------------------------------------------------

  private handlePostHandshake(msg: RawHandshake): void {
    switch (msg.type) {
      case HandshakeType.new_session_ticket: {
        const t = decodeNewSessionTicket(msg.body);
        const resumption = this.storableTicket(t);
        const ed = findExtension(t.extensions, ExtensionType.early_data);
        this.emit({
          kind: 'sessionTicket', lifetime: t.lifetime, ticket: t.ticket.slice(),
          ...(resumption ? { resumption } : {}),
          ...(ed !== undefined ? { maxEarlyData: decodeMaxEarlyData(ed) } : {}),
        });
        return;
      }
      case HandshakeType.key_update:
        decodeKeyUpdate(msg.body);
        // RFC 9001 §6: a TLS KeyUpdate in QUIC is an unexpected_message (QUIC updates keys
        // itself). Over TCP the record layer would need it; our engine does not do it either.
        throw new TlsAlert(Alert.unexpected_message, 'KeyUpdate not allowed');
      default:
        // Post-handshake authentication was not offered (RFC 9846 §4.6.2).
        throw new TlsAlert(Alert.unexpected_message, `post-handshake message ${msg.type}`);
    }
  }

  /** What to keep of a NewSessionTicket to resume (RFC 9846 §4.6.1), or undefined when it cannot serve. */
  private storableTicket(t: { lifetime: number; ageAdd: number; nonce: Uint8Array; ticket: Uint8Array; extensions: readonly Extension[] }): ResumptionTicket | undefined {
    const base = this.resumptionBase;
    const suite = this.negotiatedSuite!;
    const ed = findExtension(t.extensions, ExtensionType.early_data);
    const maxEarlyData = ed === undefined ? 0 : decodeMaxEarlyData(ed);
    if (!base || t.lifetime === 0 || t.ticket.length === 0 || this.negotiatedAlpn === undefined) return undefined;
    this.resumptionMaster ??= resumptionMasterSecret(suite.hash, base.master, base.transcript);
    return {
      ticket: t.ticket.slice(),
      psk: resumptionPsk(suite.hash, this.resumptionMaster, t.nonce),
      suite: suite.id,
      alpn: this.negotiatedAlpn,
      receivedAt: this.now(),
      lifetimeS: Math.min(t.lifetime, MAX_TICKET_LIFETIME_S),
      ageAdd: t.ageAdd,
      maxEarlyData,
      peerKey: this.peerPublicKey?.slice(),
      transportParameters: this.serverTransportParameters,
      ...(this.peerCertificates ? { peerChain: this.peerCertificates } : {}),
      ...(this.config.serverName !== undefined ? { serverName: this.config.serverName } : {}),
    };
  }
}

/** The peer key of a resumed X.509 session: the chain verified when the ticket's session began. */
function x509PeerKeyOf(chain: readonly Uint8Array[]): X509PeerKey {
  const leaf = new X509Certificate(chain[0]!);
  return { publicKey: leaf.publicKey, chain, ed25519: x509Ed25519PublicKey(chain[0]!) };
}

type ClientState =
  | 'START'
  | 'EXPECT_SERVER_HELLO'
  | 'EXPECT_ENCRYPTED_EXTENSIONS'
  | 'EXPECT_CERTIFICATE_OR_REQUEST'
  | 'EXPECT_CERTIFICATE'
  | 'EXPECT_CERTIFICATE_VERIFY'
  | 'EXPECT_FINISHED'
  | 'CONNECTED';

/** Extensions a server may answer in EncryptedExtensions (RFC 9846 §4.2 table; RFC 7250; RFC 9001). */
const EE_ALLOWED: readonly number[] = [
  ExtensionType.server_name,
  ExtensionType.early_data,
  ExtensionType.supported_groups,
  ExtensionType.application_layer_protocol_negotiation,
  ExtensionType.client_certificate_type,
  ExtensionType.server_certificate_type,
  ExtensionType.quic_transport_parameters,
];
