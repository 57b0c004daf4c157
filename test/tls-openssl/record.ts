import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Socket } from 'node:net';
import { Alert, TlsAlert, alertName } from '../../src/tls/alerts.js';
import { Level, type TlsEngine } from '../../src/tls/engine.js';
import { hkdfExpandLabel } from '../../src/tls/hkdf.js';
import type { CipherSuite } from '../../src/tls/suites.js';

/**
 * A test-only TLS 1.3 record layer (RFC 9846 §5) over TCP, so that our QUIC-shaped TLS engine
 * (no record layer, handshake bytes per level) can talk to OpenSSL through node:tls.
 *
 * Writes: the engine's `writeData(level)` bytes go out as handshake records (type 22), plaintext
 * at Initial, else protected with that level's write key. Reads: records are opened with the
 * current read key; the engine's read secrets are installed in order, the Application read key
 * only once our side of the handshake completed (a server learns its application read secret
 * before the client's Finished, which still arrives under the handshake key). ChangeCipherSpec
 * (OpenSSL's middlebox compatibility mode, RFC 9846 §D.4) is skipped, never sent.
 */

const CT_CHANGE_CIPHER_SPEC = 20;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;
/** RFC 9846 §5.1: TLSPlaintext.length <= 2^14; §5.2: TLSCiphertext.length <= 2^14 + 256. */
const MAX_FRAGMENT = 1 << 14;
const MAX_CIPHERTEXT = MAX_FRAGMENT + 256;

/** OpenSSL sent us an alert: the test fails with its name. */
export class PeerAlertError extends Error {
  override readonly name = 'PeerAlertError';
  readonly alert: number;
  constructor(alert: number) {
    super(`peer sent alert ${alertName(alert)} (${alert})`);
    this.alert = alert;
  }
}

/** Record protection for one traffic secret (RFC 9846 §5.2, §5.3, §7.3). */
class RecordProtection {
  private readonly key: Uint8Array;
  private readonly iv: Uint8Array;
  private seq = 0n;

  constructor(readonly suite: CipherSuite, secret: Uint8Array) {
    // RFC 9846 §7.3: the TLS labels "key" and "iv" (QUIC's are "quic key"/"quic iv").
    this.key = hkdfExpandLabel(suite.hash, secret, 'key', new Uint8Array(0), suite.keyLen);
    this.iv = hkdfExpandLabel(suite.hash, secret, 'iv', new Uint8Array(0), suite.ivLen);
  }

  /** RFC 9846 §5.3: the 64-bit sequence number, left-padded, XORed with the IV. */
  private nextNonce(): Buffer {
    const nonce = Buffer.from(this.iv);
    const s = this.seq++;
    for (let i = 0; i < 8; i++) nonce[11 - i]! ^= Number((s >> BigInt(8 * i)) & 0xffn);
    return nonce;
  }

  /** TLSInnerPlaintext = content ‖ type ‖ zeros (none here), sealed under the record header. */
  seal(type: number, content: Uint8Array): Buffer {
    const inner = Buffer.concat([content, Buffer.of(type)]);
    const header = recordHeader(CT_APPLICATION_DATA, inner.length + this.suite.tagLen);
    const c = this.suite.aead === 'chacha20-poly1305'
      ? createCipheriv(this.suite.aead, this.key, this.nextNonce(), { authTagLength: 16 })
      : createCipheriv(this.suite.aead, this.key, this.nextNonce());
    c.setAAD(header, { plaintextLength: inner.length });
    return Buffer.concat([header, c.update(inner), c.final(), c.getAuthTag()]);
  }

  /** The inner type and content; strips the zero padding (RFC 9846 §5.4). */
  open(header: Uint8Array, body: Uint8Array): { type: number; content: Uint8Array } {
    const tag = body.subarray(body.length - this.suite.tagLen);
    const d = this.suite.aead === 'chacha20-poly1305'
      ? createDecipheriv(this.suite.aead, this.key, this.nextNonce(), { authTagLength: 16 })
      : createDecipheriv(this.suite.aead, this.key, this.nextNonce());
    d.setAAD(header, { plaintextLength: body.length - this.suite.tagLen });
    d.setAuthTag(tag);
    let inner: Buffer;
    try {
      inner = Buffer.concat([d.update(body.subarray(0, body.length - this.suite.tagLen)), d.final()]);
    } catch {
      throw new TlsAlert(Alert.bad_record_mac, 'record failed to decrypt');
    }
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end--;
    if (end === 0) throw new TlsAlert(Alert.unexpected_message, 'protected record of padding only');
    return { type: inner[end - 1]!, content: inner.subarray(0, end - 1) };
  }
}

function recordHeader(type: number, length: number): Buffer {
  return Buffer.of(type, 0x03, 0x03, length >>> 8, length & 0xff);
}

/** A handshake message seen on the wire (for assertions), with its level. */
export interface TracedMessage {
  readonly level: Level;
  readonly type: number;
  readonly body: Uint8Array;
}

/** Splits one direction's handshake byte stream per level into messages (type u8, length u24). */
class MessageTrace {
  readonly messages: TracedMessage[] = [];
  private readonly pending = new Map<Level, Buffer>();

  add(level: Level, data: Uint8Array): void {
    let buf = Buffer.concat([this.pending.get(level) ?? Buffer.alloc(0), data]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUIntBE(1, 3)) {
      const len = buf.readUIntBE(1, 3);
      this.messages.push({ level, type: buf[0]!, body: new Uint8Array(buf.subarray(4, 4 + len)) });
      buf = buf.subarray(4 + len);
    }
    this.pending.set(level, buf);
  }
}

export interface RecordLayerOptions {
  /** Test hook: rewrites our outgoing handshake bytes (after tracing, before protection). */
  readonly tamper?: (level: Level, data: Uint8Array) => Uint8Array;
}

/** Drives one engine over one socket. */
export class RecordLayer {
  /** Resolves when the handshake completed on our side; rejects with the failure. */
  readonly handshake: Promise<void>;
  /** Rejects on the first failure (TlsAlert thrown by the engine, PeerAlertError, close). */
  readonly failed: Promise<never>;
  private readonly writeKeys = new Map<Level, RecordProtection>();
  private readonly pendingReadKeys: Array<{ level: Level; prot: RecordProtection }> = [];
  private readLevel: Level = Level.Initial;
  private readKey: RecordProtection | undefined;
  private inbuf: Buffer = Buffer.alloc(0);
  private appData: Buffer = Buffer.alloc(0);
  private appWaiter: (() => void) | undefined;
  private error: Error | undefined;
  private resolveHandshake!: () => void;
  private rejectAll!: (e: Error) => void;
  readonly tickets: Array<{ lifetime: number; ticket: Uint8Array }> = [];
  private readonly sentTrace = new MessageTrace();
  private readonly receivedTrace = new MessageTrace();

  constructor(
    private readonly socket: Socket,
    readonly engine: TlsEngine,
    private readonly options: RecordLayerOptions = {},
  ) {
    let rejectHandshake!: (e: Error) => void;
    this.handshake = new Promise<void>((res, rej) => {
      this.resolveHandshake = res;
      rejectHandshake = rej;
    });
    this.failed = new Promise<never>((_, rej) => {
      this.rejectAll = (e) => {
        rej(e);
        rejectHandshake(e);
      };
    });
    // Nobody may be awaiting these yet: avoid unhandled-rejection noise; awaiters still see it.
    this.handshake.catch(() => undefined);
    this.failed.catch(() => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by peer')));
    this.run(() => engine.start());
  }

  /** Sends application data (content type 23) under the Application write key. */
  send(data: Uint8Array): void {
    const key = this.writeKeys.get(Level.Application);
    if (!key) throw new Error('no application write key yet');
    for (let i = 0; i < data.length || i === 0; i += MAX_FRAGMENT) {
      this.socket.write(key.seal(CT_APPLICATION_DATA, data.subarray(i, i + MAX_FRAGMENT)));
    }
  }

  /** Handshake messages our engine wrote / was fed, in order. */
  get sent(): readonly TracedMessage[] {
    return this.sentTrace.messages;
  }

  get received(): readonly TracedMessage[] {
    return this.receivedTrace.messages;
  }

  /** The next `n` bytes of application data from the peer (default: whatever is there, >= 1). */
  async read(n?: number): Promise<Uint8Array> {
    while (this.appData.length < (n ?? 1)) {
      if (this.error) throw this.error;
      await new Promise<void>((res) => (this.appWaiter = res));
    }
    const out = this.appData.subarray(0, n ?? this.appData.length);
    this.appData = this.appData.subarray(out.length);
    return new Uint8Array(out);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Runs an engine input, then drains its events; an engine TlsAlert goes to the peer. */
  private run(input: () => void): void {
    if (this.error) return;
    try {
      input();
      for (let ev = this.engine.pollEvent(); ev; ev = this.engine.pollEvent()) {
        switch (ev.kind) {
          case 'writeData':
            this.sentTrace.add(ev.level, ev.data);
            this.writeHandshake(ev.level, this.options.tamper?.(ev.level, ev.data) ?? ev.data);
            break;
          case 'writeSecret':
            this.writeKeys.set(ev.level, new RecordProtection(ev.suite, ev.secret));
            break;
          case 'readSecret':
            this.pendingReadKeys.push({ level: ev.level, prot: new RecordProtection(ev.suite, ev.secret) });
            break;
          case 'sessionTicket':
            this.tickets.push({ lifetime: ev.lifetime, ticket: ev.ticket });
            break;
          case 'handshakeDone':
          case 'peerTransportParameters':
            break;
        }
      }
      this.installReadKeys();
      if (this.engine.handshakeComplete) this.resolveHandshake();
    } catch (e) {
      if (e instanceof TlsAlert) this.sendAlert(e.alert);
      this.fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * Switches the read key level by level: Handshake as soon as it is known, Application only
   * once our handshake is complete (RFC 9846 §4.4.4: the peer's Finished is the last message
   * under the handshake key).
   */
  private installReadKeys(): void {
    const next = this.pendingReadKeys[0];
    if (!next) return;
    if (next.level === Level.Application && !this.engine.handshakeComplete) return;
    this.pendingReadKeys.shift();
    this.readLevel = next.level;
    this.readKey = next.prot;
    this.installReadKeys();
  }

  private writeHandshake(level: Level, data: Uint8Array): void {
    const key = this.writeKeys.get(level);
    if (level !== Level.Initial && !key) throw new Error(`engine wrote at level ${level} before its write secret`);
    for (let i = 0; i < data.length; i += MAX_FRAGMENT) {
      const frag = data.subarray(i, i + MAX_FRAGMENT);
      this.socket.write(key ? key.seal(CT_HANDSHAKE, frag) : Buffer.concat([recordHeader(CT_HANDSHAKE, frag.length), frag]));
    }
  }

  /** A fatal alert to the peer, under the newest write key (RFC 9846 §6). */
  private sendAlert(alert: number): void {
    const key = this.writeKeys.get(Level.Application) ?? this.writeKeys.get(Level.Handshake);
    const body = Buffer.of(2, alert);
    this.socket.write(key ? key.seal(CT_ALERT, body) : Buffer.concat([recordHeader(CT_ALERT, 2), body]));
  }

  private onData(chunk: Buffer): void {
    this.inbuf = this.inbuf.length ? Buffer.concat([this.inbuf, chunk]) : chunk;
    while (!this.error && this.inbuf.length >= 5) {
      const length = this.inbuf.readUInt16BE(3);
      if (length > MAX_CIPHERTEXT) {
        this.run(() => {
          throw new TlsAlert(Alert.record_overflow, `record of ${length} bytes`);
        });
        return;
      }
      if (this.inbuf.length < 5 + length) return;
      const header = this.inbuf.subarray(0, 5);
      const body = this.inbuf.subarray(5, 5 + length);
      this.inbuf = this.inbuf.subarray(5 + length);
      this.run(() => this.onRecord(header, body));
    }
  }

  private onRecord(header: Uint8Array, body: Uint8Array): void {
    const outerType = header[0]!;
    // RFC 9846 §5: a ChangeCipherSpec record of one byte 0x01 is dropped during the handshake.
    if (outerType === CT_CHANGE_CIPHER_SPEC) {
      if (body.length !== 1 || body[0] !== 1) throw new TlsAlert(Alert.unexpected_message, 'bad ChangeCipherSpec');
      return;
    }
    let type = outerType;
    let content = body;
    if (this.readKey) {
      if (outerType !== CT_APPLICATION_DATA) {
        // A plaintext alert can still come from a peer that failed to derive the keys.
        if (outerType === CT_ALERT && body.length === 2) throw new PeerAlertError(body[1]!);
        throw new TlsAlert(Alert.unexpected_message, `plaintext record type ${outerType} after keys`);
      }
      ({ type, content } = this.readKey.open(header, body));
    }
    switch (type) {
      case CT_HANDSHAKE:
        this.receivedTrace.add(this.readLevel, content);
        this.engine.handleData(this.readLevel, content);
        break;
      case CT_ALERT:
        if (content.length !== 2) throw new TlsAlert(Alert.decode_error, 'alert not 2 bytes');
        throw new PeerAlertError(content[1]!);
      case CT_APPLICATION_DATA:
        if (this.readLevel !== Level.Application) {
          throw new TlsAlert(Alert.unexpected_message, 'application data before the handshake completed');
        }
        this.appData = Buffer.concat([this.appData, content]);
        this.appWaiter?.();
        break;
      default:
        throw new TlsAlert(Alert.unexpected_message, `record content type ${type}`);
    }
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    this.rejectAll(e);
    this.appWaiter?.();
    this.socket.destroy();
  }
}
