import { concatBytes, fromUtf8 } from '../codec/bytes.js';
import { chooseCertifiedKey } from './x509/certified-key.js';
import { VERIFY_SCHEMES } from './x509/signatures.js';
import { Alert, TlsAlert } from './alerts.js';
import { p256KeyPair, p256SharedSecret, x25519KeyPair, x25519SharedSecret } from './crypto.js';
import { CertificateType, Level, type TlsConfig, type TlsEngine } from './engine.js';
import {
  decodeAlpn,
  decodeCertTypesClient,
  decodeKeyShareClient,
  decodePskModes,
  decodeServerName,
  decodeSupportedVersionsClient,
  decodeU16List,
  encodeAlpn,
  encodeCertTypeServer,
  encodeKeyShareHrr,
  encodeKeyShareServer,
  encodeSupportedVersionsServer,
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
  decodeClientHello,
  decodeFinished,
  encodeCertificateRequest,
  encodeEncryptedExtensions,
  encodeFinished,
  encodeNewSessionTicket,
  encodeServerHello,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  type ClientHello,
  type RawHandshake,
} from './messages.js';
import { handleCertificate, handleCertificateVerify } from './peer-auth.js';
import { cipherSuite, DEFAULT_CIPHER_SUITES, type CipherSuite } from './suites.js';
import { decodeOfferedPsks, encodeMaxEarlyData, encodeSelectedPsk, resumptionPsk, type TicketState } from './resumption.js';
import { constantTimeEqual } from '../codec/bytes.js';

/**
 * TLS 1.3 server for QUIC (RFC 9846 §2, RFC 9001 §4): a synchronous message-level state machine.
 *
 *   ClientHello (no X25519 share) -> writeData(Initial, HelloRetryRequest)
 *   ClientHello -> peerTransportParameters (QUIC mode), writeData(Initial, ServerHello),
 *                  writeSecret(Handshake), readSecret(Handshake),
 *                  writeData(Handshake, EncryptedExtensions [CertificateRequest] Certificate
 *                                      CertificateVerify Finished),
 *                  writeSecret(Application)
 *   client [Certificate, CertificateVerify,] Finished -> readSecret(Application), handshakeDone
 *
 * With `tickets` configured, a ClientHello offering one of our tickets (pre_shared_key with
 * psk_dhe_ke, a valid binder, same ALPN and hash, not expired) resumes: the ServerHello selects
 * it and the flight has no CertificateRequest, Certificate nor CertificateVerify; after the
 * client's Finished, `tickets.count` NewSessionTickets go out at the Application level.
 * With `tickets.maxEarlyData` > 0 they allow early data, which a resumption accepts when
 * `acceptsEarlyData` agrees: `readSecret(EarlyData)` and `earlyData` come before the ServerHello.
 * It never sends a ChangeCipherSpec.
 */
export class TlsServer extends EngineBase implements TlsEngine {
  readonly role = 'server' as const;

  private state: ServerState = 'EXPECT_CLIENT_HELLO';
  private readonly servedSuites: readonly number[];
  private readonly requireClientAuth: boolean;
  private retried = false;
  private retrySuite = 0;
  private retryGroup = 0;
  private firstSessionId: Uint8Array | undefined;
  private hsSecrets: TrafficSecrets | undefined;
  private clientAppSecret: Uint8Array | undefined;
  private master: Uint8Array | undefined;
  /**
   * The client's psk_key_exchange_modes lists psk_dhe_ke, the only mode our tickets are issued
   * for and resume with (acceptPsk reads it too).
   * RFC 9846 §4.2.9: "Servers SHOULD NOT send NewSessionTicket with tickets that are not
   * compatible with the advertised modes": a client that lists none (one that keeps no tickets)
   * gets none, and the server skips their secrets and sealing.
   */
  private ticketsWanted = false;

  constructor(config: TlsConfig) {
    super(config);
    this.servedSuites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    this.requireClientAuth = config.requireClientAuth ?? true;
    if (config.x509) {
      if (config.x509.identities.length === 0) throw new RangeError('an X.509 server needs at least one certificate chain');
      if (this.requireClientAuth && !config.x509.verify) throw new RangeError('an X.509 server that requires client certificates needs a verifier');
    } else if (!this.rpk && (config.certificateChain ?? []).length === 0) {
      throw new RangeError('an X.509 server needs a certificateChain');
    }
  }

  /**
   * Tickets are issued and accepted when configured; not by an X.509 server that requires client
   * certificates (the client's chain would have to travel in the ticket, which it does not).
   */
  private get issuesTickets(): boolean {
    return this.config.tickets !== undefined && (this.rpk || (this.config.x509 !== undefined && !this.requireClientAuth));
  }

  /** A server waits for the ClientHello: nothing to do. */
  start(): void {}

  protected expectedLevel(): Level {
    switch (this.state) {
      case 'EXPECT_CLIENT_HELLO':
        return Level.Initial;
      case 'CONNECTED':
        return Level.Application;
      default:
        return Level.Handshake;
    }
  }

  protected handleMessage(msg: RawHandshake): void {
    switch (this.state) {
      case 'EXPECT_CLIENT_HELLO':
        expectType(msg, HandshakeType.client_hello);
        return this.handleClientHello(msg);
      case 'EXPECT_CERTIFICATE':
        expectType(msg, HandshakeType.certificate);
        this.peerKey = handleCertificate(msg, 'client', this.config, this.transcript);
        this.state = 'EXPECT_CERTIFICATE_VERIFY';
        return;
      case 'EXPECT_CERTIFICATE_VERIFY':
        expectType(msg, HandshakeType.certificate_verify);
        handleCertificateVerify(msg, 'client', this.peerKey!, this.transcript);
        this.state = 'EXPECT_FINISHED';
        return;
      case 'EXPECT_FINISHED':
        expectType(msg, HandshakeType.finished);
        return this.handleFinished(msg);
      case 'CONNECTED':
        // RFC 9001 §6: no KeyUpdate in QUIC; a TLS 1.3 client sends nothing else after Finished.
        throw new TlsAlert(Alert.unexpected_message, `post-handshake message ${msg.type}`);
    }
  }

  // --- ClientHello --------------------------------------------------------------------------------

  private handleClientHello(msg: RawHandshake): void {
    const ch = decodeClientHello(msg.body);
    const exts = ch.extensions;

    // Version: TLS 1.3 only, via supported_versions (RFC 9846 §4.2.1).
    const sv = findExtension(exts, ExtensionType.supported_versions);
    if (sv === undefined || !decodeSupportedVersionsClient(sv).includes(TLS13_VERSION)) {
      throw new TlsAlert(Alert.protocol_version, 'client does not offer TLS 1.3');
    }
    // RFC 9846 §4.1.2: legacy_compression_methods must be exactly [null].
    if (ch.compressionMethods.length !== 1 || ch.compressionMethods[0] !== 0) {
      throw new TlsAlert(Alert.illegal_parameter, 'compression methods other than null');
    }
    // RFC 9001 §8.4: a QUIC ClientHello has an empty legacy_session_id; a server "MAY treat a
    // non-empty one as a connection error of type PROTOCOL_VIOLATION". We refuse it as an
    // illegal_parameter alert (QUIC sees CRYPTO_ERROR 0x12f).
    if (this.quic && ch.legacySessionId.length !== 0) {
      throw new TlsAlert(Alert.illegal_parameter, 'non-empty legacy_session_id in QUIC');
    }
    // RFC 9846 §4.2.11: pre_shared_key must be the last extension (we ignore it otherwise).
    const pskAt = exts.findIndex((e) => e.type === ExtensionType.pre_shared_key);
    if (pskAt >= 0 && pskAt !== exts.length - 1) {
      throw new TlsAlert(Alert.illegal_parameter, 'pre_shared_key is not the last extension');
    }
    if (this.retried) this.checkSecondHello(ch);
    const modes = findExtension(exts, ExtensionType.psk_key_exchange_modes);
    this.ticketsWanted = modes !== undefined && decodePskModes(modes).includes(PSK_DHE_KE);

    // Cipher suite: the first of the client's list that we serve (iroh's rustls follows the
    // client's preference).
    const suiteId = ch.cipherSuites.find((s) => this.servedSuites.includes(s));
    if (suiteId === undefined) throw new TlsAlert(Alert.handshake_failure, 'no common cipher suite');
    if (this.retried && suiteId !== this.retrySuite) {
      throw new TlsAlert(Alert.illegal_parameter, 'cipher suite changed after HelloRetryRequest');
    }
    const suite = cipherSuite(suiteId);

    // Signature algorithms (RFC 9846 §4.2.3, §9.2): mandatory for certificate authentication.
    const sa = findExtension(exts, ExtensionType.signature_algorithms);
    if (sa === undefined) throw new TlsAlert(Alert.missing_extension, 'no signature_algorithms');
    const clientSchemes = decodeU16List(sa, 'signature_algorithms');
    if (this.config.x509) {
      // X.509 mode: the chain for these schemes and this name (RFC 9846 §4.4.2.2).
      const sni = findExtension(exts, ExtensionType.server_name);
      const host = sni === undefined ? undefined : decodeServerName(sni);
      this.ownIdentity = chooseCertifiedKey(this.config.x509.identities, clientSchemes, host === undefined ? undefined : fromUtf8(host));
      if (!this.ownIdentity) throw new TlsAlert(Alert.handshake_failure, 'no certificate of ours can be signed with a scheme the client accepts');
    } else if (!clientSchemes.includes(SignatureScheme.ed25519)) {
      throw new TlsAlert(Alert.handshake_failure, 'client does not accept Ed25519');
    }

    // Key exchange (RFC 9846 §4.2.7, §4.2.8, §9.2).
    const sg = findExtension(exts, ExtensionType.supported_groups);
    const ks = findExtension(exts, ExtensionType.key_share);
    if (sg === undefined) throw new TlsAlert(Alert.missing_extension, 'no supported_groups');
    if (ks === undefined) throw new TlsAlert(Alert.missing_extension, 'no key_share');
    const groups = decodeU16List(sg, 'supported_groups');
    const shares = decodeKeyShareClient(ks);
    checkShares(shares);
    // X25519 first (iroh, quic-go, quinn, quiche send it); P-256 for clients that share only that.
    const share = this.retried
      ? shares.find((s) => s.group === this.retryGroup)
      : (shares.find((s) => s.group === NamedGroup.x25519) ?? shares.find((s) => s.group === NamedGroup.secp256r1));
    if (!share) {
      // A second ClientHello still without our group: RFC 9846 §4.1.4 says it must carry it.
      if (this.retried) throw new TlsAlert(Alert.illegal_parameter, 'second ClientHello without a share for the group asked for');
      const group = SERVER_GROUPS.find((g) => groups.includes(g));
      if (group === undefined) throw new TlsAlert(Alert.handshake_failure, 'no common key exchange group');
      return this.sendHelloRetryRequest(ch, suite, msg.raw, group);
    }

    // ALPN (RFC 7301 §3.2; RFC 9001 §8.1: QUIC requires it).
    const alpnExt = findExtension(exts, ExtensionType.application_layer_protocol_negotiation);
    if (alpnExt !== undefined) {
      const chosen = EngineBase.pickAlpn(decodeAlpn(alpnExt), this.alpnOffer, this.config.alpnProtocols);
      if (chosen === undefined) throw new TlsAlert(Alert.no_application_protocol, 'no common ALPN protocol');
      this.negotiatedAlpn = chosen;
    } else if (this.quic) {
      throw new TlsAlert(Alert.no_application_protocol, 'client offered no ALPN');
    }

    // Raw public keys (RFC 7250 §4.1). iroh's rustls refuses a ClientHello without them with
    // handshake_failure ("IncorrectCertificateTypeExtension", CRYPTO_ERROR 0x128).
    let answerServerType = false;
    let answerClientType = false;
    if (this.rpk) {
      answerServerType = offersRawPublicKey(findExtension(exts, ExtensionType.server_certificate_type));
      answerClientType = offersRawPublicKey(findExtension(exts, ExtensionType.client_certificate_type));
      if (!answerServerType || (this.requireClientAuth && !answerClientType)) {
        throw new TlsAlert(Alert.handshake_failure, 'client does not offer raw public keys');
      }
      if (!this.requireClientAuth) answerClientType = false;
    }

    // QUIC transport parameters (RFC 9001 §8.2).
    let peerTp: Uint8Array | undefined;
    if (this.quic) {
      peerTp = findExtension(exts, ExtensionType.quic_transport_parameters);
      if (peerTp === undefined) throw new TlsAlert(Alert.missing_extension, 'no quic_transport_parameters');
      this.emit({ kind: 'peerTransportParameters', data: peerTp.slice() });
    }

    // Resumption (RFC 9846 §4.2.11): one of our tickets, bound to this ALPN and hash.
    const resumed = pskAt >= 0 ? this.acceptPsk(exts, msg.raw, suite) : undefined;
    // Early data (RFC 9846 §4.2.10): decided now, used once the ClientHello is in the transcript.
    const earlyOffered = findExtension(exts, ExtensionType.early_data) !== undefined;
    const early = earlyOffered && resumed !== undefined && this.acceptsEarlyData(resumed, suite);
    if (earlyOffered) this.earlyDataState = early ? 'accepted' : 'rejected';

    // --- everything checked: answer ---------------------------------------------------------------
    const rnd = this.config.random;
    this.clientRandom = ch.random.slice();
    this.negotiatedSuite = suite;
    this.transcript.selectHash(suite.hash);
    this.transcript.add(msg.raw);

    const serverRandom = rnd.fill(new Uint8Array(32));
    let ourShare: Uint8Array;
    let shared: Uint8Array;
    if (share.group === NamedGroup.x25519) {
      const ours = this.config.x25519Keys?.take() ?? x25519KeyPair(rnd.fill(new Uint8Array(32)));
      shared = x25519SharedSecret(ours, share.keyExchange);
      ourShare = ours.publicKey;
    } else {
      const ours = p256KeyPair(() => rnd.fill(new Uint8Array(32)));
      shared = p256SharedSecret(ours, share.keyExchange);
      ourShare = ours.publicKey;
    }
    const sh = encodeServerHello({
      legacyVersion: LEGACY_VERSION,
      random: serverRandom,
      // Over TCP a middlebox-compatible client (OpenSSL) sends 32 bytes: echo them (RFC 9846 §4.1.3).
      legacySessionIdEcho: ch.legacySessionId,
      cipherSuite: suite.id,
      compressionMethod: 0,
      extensions: [
        { type: ExtensionType.key_share, data: encodeKeyShareServer({ group: share.group, keyExchange: ourShare }) },
        { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13_VERSION) },
        ...(resumed ? [{ type: ExtensionType.pre_shared_key, data: encodeSelectedPsk(resumed.index) }] : []),
      ],
    });
    if (earlyOffered) {
      if (early) {
        // RFC 9846 §7.1: client_early_traffic_secret over the ClientHello (the 0-RTT read key).
        const secret = clientEarlyTrafficSecret(suite.hash, earlySecret(suite.hash, resumed!.state.psk), this.transcript.digest());
        this.keyLog('CLIENT_EARLY_TRAFFIC_SECRET', secret);
        this.emitSecret('readSecret', Level.EarlyData, secret);
      }
      this.emit({ kind: 'earlyData', accepted: early });
    }
    this.transcript.add(sh);
    this.emit({ kind: 'writeData', level: Level.Initial, data: sh });

    const h = suite.hash;
    const hsSecret = handshakeSecret(h, earlySecret(h, resumed?.state.psk), shared);
    const hs = handshakeTrafficSecrets(h, hsSecret, this.transcript.digest());
    this.hsSecrets = hs;
    this.keyLog('CLIENT_HANDSHAKE_TRAFFIC_SECRET', hs.client);
    this.keyLog('SERVER_HANDSHAKE_TRAFFIC_SECRET', hs.server);
    this.emitSecret('writeSecret', Level.Handshake, hs.server);
    this.emitSecret('readSecret', Level.Handshake, hs.client);

    // Our flight at the Handshake level.
    const eeExts: Extension[] = [];
    if (this.negotiatedAlpn !== undefined) {
      const i = this.config.alpnProtocols.indexOf(this.negotiatedAlpn);
      eeExts.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([this.alpnOffer[i]!]) });
    }
    if (answerClientType) {
      eeExts.push({ type: ExtensionType.client_certificate_type, data: encodeCertTypeServer(CertificateType.RawPublicKey) });
    }
    if (answerServerType) {
      eeExts.push({ type: ExtensionType.server_certificate_type, data: encodeCertTypeServer(CertificateType.RawPublicKey) });
    }
    if (this.config.transportParameters !== undefined) {
      eeExts.push({ type: ExtensionType.quic_transport_parameters, data: this.config.transportParameters });
    }
    // RFC 9846 §4.2.10 (RFC 9001 §4.6.1): an empty early_data says the early data is accepted;
    // no EndOfEarlyData follows in QUIC (RFC 9001 §8.3).
    if (early) eeExts.push({ type: ExtensionType.early_data, data: new Uint8Array(0) });
    const parts: Uint8Array[] = [encodeEncryptedExtensions({ extensions: eeExts })];
    this.transcript.add(parts[0]!);
    if (this.requireClientAuth && !resumed) {
      // RFC 9846 §4.3.2: empty context during the handshake; RPK accepts Ed25519 only.
      const schemes = this.config.x509 ? VERIFY_SCHEMES : [SignatureScheme.ed25519];
      const cr = encodeCertificateRequest({
        context: new Uint8Array(0),
        extensions: [{ type: ExtensionType.signature_algorithms, data: encodeU16List(schemes) }],
      });
      this.transcript.add(cr);
      parts.push(cr);
    }
    // A resumed session is authenticated by the PSK (RFC 9846 §2.2): no certificate either way.
    if (!resumed) parts.push(...this.writeCertificateAndVerify(new Uint8Array(0)));
    const fin = encodeFinished({ verifyData: finishedVerifyData(h, hs.server, this.transcript.digest()) });
    this.transcript.add(fin);
    parts.push(fin);
    this.emit({ kind: 'writeData', level: Level.Handshake, data: concatBytes(...parts) });

    // RFC 9001 §4.1.4 / RFC 9846 §7.1: application secrets over CH..server Finished; the server
    // may send 1-RTT data now, and reads it only after the client's Finished.
    const master = masterSecret(h, hsSecret);
    const app = applicationTrafficSecrets(h, master, this.transcript.digest());
    this.keyLog('CLIENT_TRAFFIC_SECRET_0', app.client);
    this.keyLog('SERVER_TRAFFIC_SECRET_0', app.server);
    this.emitSecret('writeSecret', Level.Application, app.server);
    if (this.earlyDataState === 'accepted') {
      // 0.5-RTT (RFC 9001 §4.1.4): QUIC builds its 1-RTT keys from both secrets, so the read one goes
      // now for the server to answer accepted early data at once; QUIC still opens no 1-RTT packet
      // before the handshake completes (RFC 9001 §5.7), which is its check, not ours.
      this.emitSecret('readSecret', Level.Application, app.client);
    } else {
      this.clientAppSecret = app.client;
    }
    if (this.issuesTickets && this.ticketsWanted && this.config.tickets!.count > 0) this.master = master;
    this.state = this.requireClientAuth && !resumed ? 'EXPECT_CERTIFICATE' : 'EXPECT_FINISHED';
  }

  /**
   * The ticket of the client's pre_shared_key we resume with, or undefined for a full handshake
   * (no tickets configured, no psk_dhe_ke, no identity we can open, another ALPN or hash,
   * expired, or a client identity missing where we require one). A binder that does not verify
   * aborts the handshake (RFC 9846 §4.2.11: decrypt_error).
   */
  private acceptPsk(exts: readonly Extension[], raw: Uint8Array, suite: CipherSuite): { index: number; state: TicketState; identity: Uint8Array } | undefined {
    const tickets = this.config.tickets;
    const offered = decodeOfferedPsks(findExtension(exts, ExtensionType.pre_shared_key)!);
    // RFC 9846 §4.2.9: a pre_shared_key without psk_key_exchange_modes is a missing_extension.
    if (findExtension(exts, ExtensionType.psk_key_exchange_modes) === undefined) {
      throw new TlsAlert(Alert.missing_extension, 'pre_shared_key without psk_key_exchange_modes');
    }
    // The modes were decoded with the rest of the ClientHello (`ticketsWanted`).
    if (!tickets || !this.ticketsWanted || !this.issuesTickets) return undefined;
    const now = tickets.now();
    for (let i = 0; i < offered.identities.length; i++) {
      const state = tickets.keys.open(offered.identities[i]!.identity);
      if (!state) continue;
      const age = now - state.issuedAt;
      if (age < 0 || age >= state.lifetimeS * 1000) continue;
      if (state.alpn !== this.negotiatedAlpn || cipherSuite(state.suite).hash !== suite.hash) continue;
      if (this.rpk && this.requireClientAuth && !state.peerKey) continue;
      const truncated = raw.subarray(0, raw.length - offered.bindersLength);
      const expected = pskBinder(suite.hash, earlySecret(suite.hash, state.psk), this.transcript.digestWith(suite.hash, truncated));
      if (!constantTimeEqual(expected, offered.binders[i]!)) throw new TlsAlert(Alert.decrypt_error, 'PSK binder does not verify');
      this.pskAccepted = true;
      this.peerKey = state.peerKey;
      return { index: i, state, identity: offered.identities[i]!.identity };
    }
    return undefined;
  }

  /**
   * Whether the early data offered with ticket `resumed` is accepted (RFC 9846 §4.2.10; RFC 9001
   * §4.6.2): the ticket allows early data, its PSK is the first identity, the same cipher suite
   * (not only the same hash) and ALPN, the QUIC layer finds the remembered configuration still
   * valid (`acceptEarlyData`), and, last, the ticket was not used for early data before
   * (`tickets.replay`, RFC 9846 §8.1: single use; consumed only when all else agrees).
   */
  private acceptsEarlyData(resumed: { index: number; state: TicketState; identity: Uint8Array }, suite: CipherSuite): boolean {
    const tickets = this.config.tickets!;
    const st = resumed.state;
    if (resumed.index !== 0 || st.maxEarlyData === 0 || !(tickets.maxEarlyData! > 0)) return false;
    if (st.suite !== suite.id || st.alpn !== this.negotiatedAlpn) return false;
    if (this.config.acceptEarlyData && !this.config.acceptEarlyData(st)) return false;
    const replay = tickets.replay;
    if (!replay) return true;
    return replay.claim(resumed.identity, st.issuedAt + st.lifetimeS * 1000, tickets.now());
  }

  /** RFC 9846 §4.6.1: NewSessionTickets after the client's Finished, each with its own nonce and PSK. */
  private sendTickets(): void {
    const tickets = this.config.tickets!;
    const suite = this.negotiatedSuite!;
    const now = tickets.now();
    tickets.keys.rotate(now);
    const rms = resumptionMasterSecret(suite.hash, this.master!, this.transcript.digest());
    this.master = undefined;
    const lifetimeS = Math.min(tickets.lifetimeS, 604800);
    const out: Uint8Array[] = [];
    // RFC 9001 §4.6.1: in QUIC the only max_early_data_size is 0xffffffff ("0-RTT accepted").
    const maxEarlyData = tickets.maxEarlyData !== undefined && tickets.maxEarlyData > 0 ? (this.quic ? 0xffffffff : tickets.maxEarlyData >>> 0) : 0;
    const nstExts: Extension[] = maxEarlyData > 0 ? [{ type: ExtensionType.early_data, data: encodeMaxEarlyData(maxEarlyData) }] : [];
    for (let i = 0; i < tickets.count; i++) {
      const nonce = Uint8Array.of(i);
      const ageAdd = new DataView(this.config.random.fill(new Uint8Array(4)).buffer).getUint32(0);
      const ticket = tickets.keys.seal({
        suite: suite.id, issuedAt: now, ageAdd, lifetimeS, maxEarlyData, alpn: this.negotiatedAlpn ?? '',
        psk: resumptionPsk(suite.hash, rms, nonce), peerKey: this.rpk ? this.peerPublicKey : undefined,
        transportParameters: this.config.transportParameters,
      });
      out.push(encodeNewSessionTicket({ lifetime: lifetimeS, ageAdd, nonce, ticket, extensions: nstExts }));
    }
    this.emit({ kind: 'writeData', level: Level.Application, data: concatBytes(...out) });
  }

  /** RFC 9846 §4.1.4: HelloRetryRequest asking for a share in `group`. */
  private sendHelloRetryRequest(ch: ClientHello, suite: CipherSuite, raw: Uint8Array, group: number): void {
    this.retried = true;
    this.retryGroup = group;
    this.retrySuite = suite.id;
    this.firstSessionId = ch.legacySessionId.slice();
    this.clientRandom = ch.random.slice();
    this.negotiatedSuite = suite;
    this.transcript.selectHash(suite.hash);
    this.transcript.add(raw);
    this.transcript.replaceWithMessageHash();
    const hrr = encodeServerHello({
      legacyVersion: LEGACY_VERSION,
      random: HELLO_RETRY_REQUEST_RANDOM,
      legacySessionIdEcho: ch.legacySessionId,
      cipherSuite: suite.id,
      compressionMethod: 0,
      extensions: [
        { type: ExtensionType.key_share, data: encodeKeyShareHrr(group) },
        { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13_VERSION) },
      ],
    });
    this.transcript.add(hrr);
    this.emit({ kind: 'writeData', level: Level.Initial, data: hrr });
  }

  /** The parts of ClientHello2 RFC 9846 §4.1.2 requires to stay as in ClientHello1. */
  private checkSecondHello(ch: ClientHello): void {
    const first = this.firstSessionId!;
    if (ch.legacySessionId.length !== first.length || ch.legacySessionId.some((b, i) => b !== first[i])) {
      throw new TlsAlert(Alert.illegal_parameter, 'legacy_session_id changed after HelloRetryRequest');
    }
    if (ch.random.some((b, i) => b !== this.clientRandom[i])) {
      throw new TlsAlert(Alert.illegal_parameter, 'random changed after HelloRetryRequest');
    }
    // RFC 9846 §4.2.10: no early_data after a HelloRetryRequest.
    if (findExtension(ch.extensions, ExtensionType.early_data) !== undefined) {
      throw new TlsAlert(Alert.illegal_parameter, 'early_data after HelloRetryRequest');
    }
  }

  // --- client authentication (its Certificate and CertificateVerify: peer-auth.ts) ----------------

  private handleFinished(msg: RawHandshake): void {
    const suite = this.negotiatedSuite!;
    const fin = decodeFinished(msg.body, suite.hashLen);
    if (!verifyFinished(suite.hash, this.hsSecrets!.client, this.transcript.digest(), fin.verifyData)) {
      throw new TlsAlert(Alert.decrypt_error, 'client Finished does not verify');
    }
    this.transcript.add(msg.raw);
    if (this.clientAppSecret) this.emitSecret('readSecret', Level.Application, this.clientAppSecret);
    this.clientAppSecret = undefined;
    this.complete = true;
    this.state = 'CONNECTED';
    this.emit({ kind: 'handshakeDone' });
    if (this.master) this.sendTickets();
    this.hsSecrets = undefined;
    this.firstSessionId = undefined;
    this.releaseHandshakeState();
    // A client sends nothing after its Finished (RFC 9001 §6): what stays of the configuration
    // is what the endpoint shares, not this connection's transport parameters, ALPN encodings
    // or early-data check (~1 KB of an idle connection, issue [perf2]).
    const c = this.config;
    this.config = { secretKey: c.secretKey, certificateType: c.certificateType, alpnProtocols: c.alpnProtocols, random: c.random };
    this.alpnOffer = NO_ALPN;
  }
}

/** What a finished server's ALPN encodings become. */
const NO_ALPN: readonly Uint8Array[] = [];

type ServerState = 'EXPECT_CLIENT_HELLO' | 'EXPECT_CERTIFICATE' | 'EXPECT_CERTIFICATE_VERIFY' | 'EXPECT_FINISHED' | 'CONNECTED';

/** The groups we can share, in our order of preference (asked for in a HelloRetryRequest). */
const SERVER_GROUPS: readonly number[] = [NamedGroup.x25519, NamedGroup.secp256r1];

/** True when a ClientHello certificate-type list is present and includes RawPublicKey. */
function offersRawPublicKey(data: Uint8Array | undefined): boolean {
  return data !== undefined && decodeCertTypesClient(data).includes(CertificateType.RawPublicKey);
}

/** RFC 9846 §4.2.8: one share per group. */
function checkShares(shares: readonly KeyShareEntry[]): void {
  const seen = new Set<number>();
  for (const s of shares) {
    if (seen.has(s.group)) throw new TlsAlert(Alert.illegal_parameter, `two key shares for group 0x${s.group.toString(16)}`);
    seen.add(s.group);
  }
}
