import { DecodeError } from '../codec/errors.js';
import { bytesEqual, utf8 } from '../codec/bytes.js';
import { Alert, TlsAlert } from './alerts.js';
import { ed25519Sign, ed25519Signer, type Ed25519Signer } from './crypto.js';
import { Level, type EarlyDataState, type PeerKey, type TlsConfig, type TlsEvent } from './engine.js';
import { SignatureScheme } from './extensions.js';
import { Transcript } from './key-schedule.js';
import {
  encodeCertificate,
  encodeCertificateVerify,
  HandshakeReassembler,
  type RawHandshake,
} from './messages.js';
import { wrapEd25519Spki } from './rpk.js';
import type { CertifiedKey } from './x509/certified-key.js';
import { signWithScheme } from './x509/signatures.js';
import { CIPHER_SUITES, DEFAULT_CIPHER_SUITES, type CipherSuite } from './suites.js';

/** A shared empty array: what a released field holds (never written to). */
const EMPTY = new Uint8Array(0);

/**
 * What the client and server state machines share: per-level reassembly, the event queue, the
 * mapping of every failure to a `TlsAlert`, the transcript, and our own Certificate +
 * CertificateVerify. Checking the peer's is in peer-auth.ts.
 */
export abstract class EngineBase {
  abstract readonly role: 'client' | 'server';

  /** The configuration; a server replaces it by its shared parts once the handshake is over. */
  protected config: TlsConfig;
  /** QUIC mode: transport parameters configured (RFC 9001 §8.2, §8.4). */
  protected readonly quic: boolean;
  protected readonly rpk: boolean;
  protected readonly signer: Ed25519Signer;
  protected alpnOffer: readonly Uint8Array[];
  protected readonly transcript = new Transcript();
  protected clientRandom: Uint8Array = EMPTY;
  protected negotiatedSuite: CipherSuite | undefined;
  protected negotiatedAlpn: string | undefined;
  protected peerKey: PeerKey | undefined;
  /** X.509 mode: the chain we present and the scheme we sign with (undefined: none to send). */
  protected ownIdentity: { readonly key: CertifiedKey; readonly scheme: number } | undefined;
  protected complete = false;
  /** A ticket's PSK was accepted: no certificates in this handshake. */
  protected pskAccepted = false;
  /** What became of early data (see TlsEngine.earlyData). */
  protected earlyDataState: EarlyDataState = 'none';

  private readonly events: TlsEvent[] = [];
  private eventHead = 0;
  /** Per level, made when its first bytes arrive (a handshake uses two or three of the four). */
  private readonly buffers: Array<HandshakeReassembler | undefined> = [undefined, undefined, undefined, undefined];
  private failure: TlsAlert | undefined;

  constructor(config: TlsConfig) {
    if (config.secretKey.length !== 32) throw new RangeError('secretKey must be a 32-byte Ed25519 seed');
    if (config.alpnProtocols.length === 0) throw new RangeError('alpnProtocols must not be empty');
    for (const id of config.cipherSuites ?? DEFAULT_CIPHER_SUITES) {
      if (!CIPHER_SUITES.has(id)) throw new RangeError(`unsupported cipher suite 0x${id.toString(16)}`);
    }
    this.config = config;
    this.quic = config.transportParameters !== undefined;
    this.rpk = config.certificateType === 'rawPublicKey';
    this.signer = ed25519Signer(config.secretKey);
    this.alpnOffer = config.alpnProtocols.map((p) => {
      const b = utf8(p);
      if (b.length === 0 || b.length > 255) throw new RangeError(`bad ALPN protocol "${p}"`);
      return b;
    });
  }

  /**
   * Called once the handshake is over (the last Finished processed, tickets sent): drops what only
   * the handshake needed (transcript hash, client random), so an idle connection keeps little of
   * its TLS engine (issue [perf2], heap per idle connection). Subclasses drop their own secrets.
   */
  protected releaseHandshakeState(): void {
    this.transcript.release();
    this.clientRandom = EMPTY;
    // The reassemblers of the levels left behind hold nothing (a message spanning a key change
    // is an alert, `handleData`); the Application level's is made again if its data comes.
    for (let i = 0; i < this.buffers.length; i++) if (this.buffers[i]?.buffered === 0) this.buffers[i] = undefined;
  }

  get handshakeComplete(): boolean {
    return this.complete;
  }

  get resumed(): boolean {
    return this.pskAccepted;
  }

  get earlyData(): EarlyDataState {
    return this.earlyDataState;
  }

  get alpn(): string | undefined {
    return this.negotiatedAlpn;
  }

  get peerPublicKey(): Uint8Array | undefined {
    const k = this.peerKey;
    return k === undefined || k instanceof Uint8Array ? k : k.ed25519;
  }

  get peerCertificates(): readonly Uint8Array[] | undefined {
    const k = this.peerKey;
    return k === undefined || k instanceof Uint8Array ? undefined : k.chain;
  }

  get suite(): CipherSuite | undefined {
    return this.negotiatedSuite;
  }

  /** Our Ed25519 public key (the endpoint id in RPK mode). */
  get publicKey(): Uint8Array {
    return this.signer.publicKey;
  }

  pollEvent(): TlsEvent | undefined {
    if (this.eventHead >= this.events.length) {
      if (this.events.length > 0) {
        this.events.length = 0;
        this.eventHead = 0;
      }
      return undefined;
    }
    return this.events[this.eventHead++];
  }

  /**
   * Feeds handshake bytes received at `level`. Only `TlsAlert` ever leaves: a decode failure is
   * decode_error, anything unforeseen internal_error. After a failure, every call throws the
   * same alert.
   */
  handleData(level: Level, data: Uint8Array): void {
    if (this.failure) throw this.failure;
    try {
      if (data.length === 0) return;
      if (level !== this.expectedLevel()) {
        throw new TlsAlert(Alert.unexpected_message, `handshake data at level ${level}, expected ${this.expectedLevel()}`);
      }
      const buf = (this.buffers[level] ??= new HandshakeReassembler());
      buf.push(data);
      for (let msg = buf.next(); msg; msg = buf.next()) {
        this.handleMessage(msg);
        // RFC 9846 §5.1: handshake messages MUST NOT span a key change; bytes left at a level
        // we just moved away from are an unexpected_message.
        if (this.expectedLevel() !== level && buf.buffered > 0) {
          throw new TlsAlert(Alert.unexpected_message, 'handshake data after a key change');
        }
      }
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** The level at which the current state expects the peer's next message. */
  protected abstract expectedLevel(): Level;

  /** Processes one complete message received at `expectedLevel()`. */
  protected abstract handleMessage(msg: RawHandshake): void;

  protected emit(ev: TlsEvent): void {
    this.events.push(ev);
  }

  protected emitSecret(kind: 'readSecret' | 'writeSecret', level: Level, secret: Uint8Array): void {
    const suite = this.negotiatedSuite;
    if (!suite) throw new Error('secret before suite');
    this.emit({ kind, level, suite, secret });
  }

  /** NSS key log line (SSLKEYLOGFILE), keyed by the client random. */
  protected keyLog(label: string, secret: Uint8Array): void {
    this.config.keyLog?.(label, this.clientRandom, secret);
  }

  /** Wraps an engine-side failure (e.g. in `start()`) into the stored alert. */
  protected fail(e: unknown): TlsAlert {
    let alert: TlsAlert;
    if (e instanceof TlsAlert) alert = e;
    else if (e instanceof DecodeError) alert = new TlsAlert(Alert.decode_error, e.message);
    else alert = new TlsAlert(Alert.internal_error, e instanceof Error ? e.message : String(e));
    this.failure = alert;
    return alert;
  }

  // --- our authentication -------------------------------------------------------------------

  /** Our certificate entries: the SPKI (RPK) or the configured DER chain (X.509). */
  protected ownCertificateEntries(): Uint8Array[] {
    if (this.rpk) return [wrapEd25519Spki(this.signer.publicKey)];
    return [...(this.config.certificateChain ?? [])];
  }

  /**
   * Appends our Certificate (and, when it is not empty, CertificateVerify) to the transcript
   * and returns their bytes. RFC 9846 §4.4.2 / §4.4.3.
   */
  protected writeCertificateAndVerify(context: Uint8Array): Uint8Array[] {
    if (this.config.x509) return this.writeX509CertificateAndVerify(context);
    const entries = this.ownCertificateEntries();
    const cert = encodeCertificate({ context, entries: entries.map((data) => ({ data, extensions: [] })) });
    this.transcript.add(cert);
    if (entries.length === 0) return [cert];
    const signature = ed25519Sign(this.signer, certificateVerifyInput(this.role, this.transcript.digest()));
    const cv = encodeCertificateVerify({ scheme: SignatureScheme.ed25519, signature });
    this.transcript.add(cv);
    return [cert, cv];
  }

  /** X.509 mode: the chosen chain and its signature, or an empty Certificate (client). */
  private writeX509CertificateAndVerify(context: Uint8Array): Uint8Array[] {
    const id = this.ownIdentity;
    const cert = encodeCertificate({ context, entries: (id?.key.chain ?? []).map((data) => ({ data, extensions: [] })) });
    this.transcript.add(cert);
    if (!id) return [cert];
    const signature = signWithScheme(id.scheme, id.key.privateKey, certificateVerifyInput(this.role, this.transcript.digest()));
    const cv = encodeCertificateVerify({ scheme: id.scheme, signature });
    this.transcript.add(cv);
    return [cert, cv];
  }

  /** The first protocol of `offered` that `served` contains (as the server's string). */
  protected static pickAlpn(offered: readonly Uint8Array[], served: readonly Uint8Array[], names: readonly string[]): string | undefined {
    for (const o of offered) {
      for (let i = 0; i < served.length; i++) if (bytesEqual(o, served[i]!)) return names[i];
    }
    return undefined;
  }
}

/**
 * The content a CertificateVerify signs (RFC 9846 §4.4.3): 64 bytes of 0x20, the context string
 * "TLS 1.3, server CertificateVerify" (or client), a 0 byte, then the transcript hash.
 */
export function certificateVerifyInput(signer: 'client' | 'server', transcriptHash: Uint8Array): Uint8Array {
  const context = signer === 'server' ? SERVER_CV_CONTEXT : CLIENT_CV_CONTEXT;
  const out = new Uint8Array(64 + context.length + 1 + transcriptHash.length);
  out.fill(0x20, 0, 64);
  out.set(context, 64);
  out[64 + context.length] = 0;
  out.set(transcriptHash, 64 + context.length + 1);
  return out;
}

const SERVER_CV_CONTEXT = utf8('TLS 1.3, server CertificateVerify');
const CLIENT_CV_CONTEXT = utf8('TLS 1.3, client CertificateVerify');

/** unexpected_message unless `msg` is of `type` (RFC 9846 §4: messages come in a fixed order). */
export function expectType(msg: RawHandshake, type: number): void {
  if (msg.type !== type) {
    throw new TlsAlert(Alert.unexpected_message, `got handshake message ${msg.type}, expected ${type}`);
  }
}
