import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { DecodeError } from '../codec/errors.js';
import { Alert, TlsAlert } from './alerts.js';
import { readExtensions, writeExtensions, type Extension } from './extensions.js';

/**
 * TLS 1.3 handshake messages (RFC 9846 §4) without a record layer: QUIC carries them in CRYPTO
 * frames (RFC 9001 §4). Each message is `HandshakeType msg_type; uint24 length; body`.
 *
 * `encodeX(msg)` returns the whole message, header included (what goes into the transcript and
 * on the wire); `decodeX(body)` parses a body whose header `HandshakeReassembler` already
 * stripped, and rejects trailing bytes. Decoders throw `DecodeError` (-> decode_error) or, for a
 * well-formed but forbidden value, `TlsAlert`. Decoded views alias the message buffer the
 * reassembler hands out, which is never reused.
 */

export const HandshakeType = {
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  finished: 20,
  key_update: 24,
  message_hash: 254,
} as const;

/** RFC 9846 §4.1.3: the ServerHello.random that marks a HelloRetryRequest (SHA-256 of "HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM: Uint8Array = Uint8Array.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c'.match(/../g) ?? [],
  (x) => parseInt(x, 16),
);

/** Handshake header size: type (1) + uint24 length. */
export const HANDSHAKE_HEADER_SIZE = 4;
/** Largest handshake message we accept (bounds reassembly buffers). */
export const MAX_HANDSHAKE_MESSAGE = 0x10000;

export interface ClientHello {
  readonly legacyVersion: number;
  readonly random: Uint8Array;
  readonly legacySessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: Uint8Array;
  readonly extensions: readonly Extension[];
}

/** A ServerHello, or a HelloRetryRequest when `random` is HELLO_RETRY_REQUEST_RANDOM. */
export interface ServerHello {
  readonly legacyVersion: number;
  readonly random: Uint8Array;
  readonly legacySessionIdEcho: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: readonly Extension[];
}

export interface EncryptedExtensions {
  readonly extensions: readonly Extension[];
}

export interface CertificateRequest {
  readonly context: Uint8Array;
  readonly extensions: readonly Extension[];
}

export interface CertificateEntry {
  readonly data: Uint8Array;
  readonly extensions: readonly Extension[];
}

export interface Certificate {
  readonly context: Uint8Array;
  readonly entries: readonly CertificateEntry[];
}

export interface CertificateVerify {
  readonly scheme: number;
  readonly signature: Uint8Array;
}

export interface Finished {
  readonly verifyData: Uint8Array;
}

export interface NewSessionTicket {
  readonly lifetime: number;
  readonly ageAdd: number;
  readonly nonce: Uint8Array;
  readonly ticket: Uint8Array;
  readonly extensions: readonly Extension[];
}

export interface KeyUpdate {
  readonly requestUpdate: number;
}

/** True when a ServerHello is really a HelloRetryRequest (RFC 9846 §4.1.3). */
export function isHelloRetryRequest(sh: ServerHello): boolean {
  const r = sh.random;
  if (r.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (r[i] !== HELLO_RETRY_REQUEST_RANDOM[i]) return false;
  return true;
}

// --- encoders (whole message, header included) --------------------------------------------------

export function encodeClientHello(m: ClientHello): Uint8Array {
  return message(HandshakeType.client_hello, (w) => {
    w.u16(m.legacyVersion);
    w.bytesOf(fixed(m.random, 32, 'random'));
    w.vec8(m.legacySessionId);
    const at = w.beginU16();
    for (const s of m.cipherSuites) w.u16(s);
    w.endU16(at);
    w.vec8(m.compressionMethods);
    writeExtensions(w, m.extensions);
  });
}

export function encodeServerHello(m: ServerHello): Uint8Array {
  return message(HandshakeType.server_hello, (w) => {
    w.u16(m.legacyVersion);
    w.bytesOf(fixed(m.random, 32, 'random'));
    w.vec8(m.legacySessionIdEcho);
    w.u16(m.cipherSuite);
    w.u8(m.compressionMethod);
    writeExtensions(w, m.extensions);
  });
}

export function encodeEncryptedExtensions(m: EncryptedExtensions): Uint8Array {
  return message(HandshakeType.encrypted_extensions, (w) => writeExtensions(w, m.extensions));
}

export function encodeCertificateRequest(m: CertificateRequest): Uint8Array {
  return message(HandshakeType.certificate_request, (w) => {
    w.vec8(m.context);
    writeExtensions(w, m.extensions);
  });
}

export function encodeCertificate(m: Certificate): Uint8Array {
  return message(HandshakeType.certificate, (w) => {
    w.vec8(m.context);
    const at = w.beginU24();
    for (const e of m.entries) {
      w.vec24(e.data);
      writeExtensions(w, e.extensions);
    }
    w.endU24(at);
  });
}

export function encodeCertificateVerify(m: CertificateVerify): Uint8Array {
  return message(HandshakeType.certificate_verify, (w) => {
    w.u16(m.scheme);
    w.vec16(m.signature);
  });
}

export function encodeFinished(m: Finished): Uint8Array {
  return message(HandshakeType.finished, (w) => w.bytesOf(m.verifyData));
}

export function encodeNewSessionTicket(m: NewSessionTicket): Uint8Array {
  return message(HandshakeType.new_session_ticket, (w) => {
    w.u32(m.lifetime);
    w.u32(m.ageAdd);
    w.vec8(m.nonce);
    w.vec16(m.ticket);
    writeExtensions(w, m.extensions);
  });
}

export function encodeKeyUpdate(m: KeyUpdate): Uint8Array {
  return message(HandshakeType.key_update, (w) => w.u8(m.requestUpdate));
}

/**
 * The synthetic message_hash message that replaces ClientHello1 in the transcript after a
 * HelloRetryRequest (RFC 9846 §4.4.1): type 254, length Hash.length, Hash(ClientHello1).
 */
export function encodeMessageHash(hashOfClientHello1: Uint8Array): Uint8Array {
  return message(HandshakeType.message_hash, (w) => w.bytesOf(hashOfClientHello1));
}

// --- decoders (body only) -----------------------------------------------------------------------

export function decodeClientHello(body: Uint8Array): ClientHello {
  return parse(body, 'ClientHello', (r) => {
    const legacyVersion = r.u16();
    const random = r.bytes(32);
    const legacySessionId = r.vec8();
    if (legacySessionId.length > 32) throw new DecodeError('legacy_session_id longer than 32 bytes');
    const suites = r.sub16();
    if (suites.remaining < 2 || suites.remaining % 2 !== 0) throw new DecodeError('bad cipher_suites length');
    const cipherSuites: number[] = [];
    while (!suites.atEnd) cipherSuites.push(suites.u16());
    const compressionMethods = r.vec8();
    if (compressionMethods.length === 0) throw new DecodeError('empty legacy_compression_methods');
    // RFC 9846 §4.1.2: a TLS 1.3 ClientHello always has extensions (supported_versions at
    // least); one without is a pre-TLS-1.3 hello we cannot serve anyway: decode_error.
    const extensions = readExtensions(r);
    return { legacyVersion, random, legacySessionId, cipherSuites, compressionMethods, extensions };
  });
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  return parse(body, 'ServerHello', (r) => {
    const legacyVersion = r.u16();
    const random = r.bytes(32);
    const legacySessionIdEcho = r.vec8();
    if (legacySessionIdEcho.length > 32) throw new DecodeError('legacy_session_id_echo longer than 32 bytes');
    const cipherSuite = r.u16();
    const compressionMethod = r.u8();
    const extensions = readExtensions(r);
    return { legacyVersion, random, legacySessionIdEcho, cipherSuite, compressionMethod, extensions };
  });
}

export function decodeEncryptedExtensions(body: Uint8Array): EncryptedExtensions {
  return parse(body, 'EncryptedExtensions', (r) => ({ extensions: readExtensions(r) }));
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequest {
  return parse(body, 'CertificateRequest', (r) => {
    const context = r.vec8();
    const extensions = readExtensions(r);
    return { context, extensions };
  });
}

export function decodeCertificate(body: Uint8Array): Certificate {
  return parse(body, 'Certificate', (r) => {
    const context = r.vec8();
    const list = r.sub24();
    const entries: CertificateEntry[] = [];
    while (!list.atEnd) {
      const data = list.vec24();
      if (data.length === 0) throw new DecodeError('empty certificate entry');
      const extensions = readExtensions(list);
      entries.push({ data, extensions });
    }
    return { context, entries };
  });
}

export function decodeCertificateVerify(body: Uint8Array): CertificateVerify {
  return parse(body, 'CertificateVerify', (r) => {
    const scheme = r.u16();
    const signature = r.vec16();
    return { scheme, signature };
  });
}

/** Finished: verify_data of Hash.length bytes (RFC 9846 §4.4.4). */
export function decodeFinished(body: Uint8Array, hashLen: number): Finished {
  if (body.length !== hashLen) throw new DecodeError(`Finished is ${body.length} bytes, expected ${hashLen}`);
  return { verifyData: body };
}

export function decodeNewSessionTicket(body: Uint8Array): NewSessionTicket {
  return parse(body, 'NewSessionTicket', (r) => {
    const lifetime = r.u32();
    const ageAdd = r.u32();
    const nonce = r.vec8();
    const ticket = r.vec16();
    if (ticket.length === 0) throw new DecodeError('empty ticket');
    const extensions = readExtensions(r);
    return { lifetime, ageAdd, nonce, ticket, extensions };
  });
}

export function decodeKeyUpdate(body: Uint8Array): KeyUpdate {
  return parse(body, 'KeyUpdate', (r) => {
    const requestUpdate = r.u8();
    // RFC 9846 §4.6.3: every other value is an illegal_parameter.
    if (requestUpdate > 1) throw new TlsAlert(Alert.illegal_parameter, `KeyUpdate request_update ${requestUpdate}`);
    return { requestUpdate };
  });
}

// --- reassembly ---------------------------------------------------------------------------------

/** One complete handshake message: its type, its body and its whole bytes (header included). */
export interface RawHandshake {
  readonly type: number;
  readonly body: Uint8Array;
  readonly raw: Uint8Array;
}

/**
 * Reassembles handshake messages from the byte stream of one encryption level: a message may
 * arrive split over several CRYPTO frames, and one call may carry several messages. The bytes
 * handed out are fresh copies, so their views stay valid after the caller reuses its buffer.
 */
const EMPTY_BUF = new Uint8Array(0);

export class HandshakeReassembler {
  private buf: Uint8Array = EMPTY_BUF;
  private start = 0;
  private end = 0;
  private readonly maxMessage: number;

  constructor(maxMessage = MAX_HANDSHAKE_MESSAGE) {
    this.maxMessage = maxMessage;
  }

  /** Bytes received but not yet handed out as a message. */
  get buffered(): number {
    return this.end - this.start;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    const pending = this.end - this.start;
    if (this.end + data.length > this.buf.length) {
      const next = new Uint8Array(Math.max(pending + data.length, this.buf.length * 2, 256));
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.start = 0;
      this.end = pending;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** The next complete message, or undefined when more bytes are needed. */
  next(): RawHandshake | undefined {
    const avail = this.end - this.start;
    if (avail < HANDSHAKE_HEADER_SIZE) return undefined;
    const b = this.buf;
    const s = this.start;
    const len = (b[s + 1]! << 16) | (b[s + 2]! << 8) | b[s + 3]!;
    if (len > this.maxMessage) {
      throw new TlsAlert(Alert.decode_error, `handshake message of ${len} bytes exceeds ${this.maxMessage}`);
    }
    if (avail < HANDSHAKE_HEADER_SIZE + len) return undefined;
    const raw = b.slice(s, s + HANDSHAKE_HEADER_SIZE + len);
    this.start += raw.length;
    if (this.start === this.end) {
      // Nothing pending: give the buffer back (a finished handshake keeps no flight bytes).
      this.buf = EMPTY_BUF;
      this.start = 0;
      this.end = 0;
    }
    return { type: raw[0]!, body: raw.subarray(HANDSHAKE_HEADER_SIZE), raw };
  }
}

// --- helpers -----------------------------------------------------------------------------------

function message(type: number, body: (w: Writer) => void): Uint8Array {
  const w = Writer.growable(256);
  w.u8(type);
  const at = w.beginU24();
  body(w);
  w.endU24(at);
  return w.bytes().slice();
}

function parse<T>(body: Uint8Array, what: string, fn: (r: Reader) => T): T {
  const r = new Reader(body);
  const v = fn(r);
  r.expectEnd(what);
  return v;
}

function fixed(b: Uint8Array, n: number, what: string): Uint8Array {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes`);
  return b;
}
