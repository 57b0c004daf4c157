/**
 * What both ends of an HTTP/3 connection do besides requests (RFC 9114 §6.2, RFC 9204 §4.2): open
 * the control stream with SETTINGS first, open the QPACK encoder and decoder streams (they stay
 * silent: our dynamic table has capacity 0), and read the peer's unidirectional streams: exactly
 * one control stream whose first frame is SETTINGS, at most one encoder and one decoder stream,
 * push streams refused, unknown types ignored. A violation closes the connection with the RFC's
 * code; so does the peer closing a critical stream.
 */
import type { Session } from '../index.js';
import {
  H3Error,
  H3_CLOSED_CRITICAL_STREAM,
  H3_FRAME_UNEXPECTED,
  H3_ID_ERROR,
  H3_MISSING_SETTINGS,
  H3_NO_ERROR,
  H3_STREAM_CREATION_ERROR,
  QPACK_ENCODER_STREAM_ERROR,
} from './errors.js';
import {
  FRAME_CANCEL_PUSH,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_PUSH_PROMISE,
  FRAME_MAX_PUSH_ID,
  FRAME_SETTINGS,
  HTTP2_ONLY_FRAMES,
  SETTINGS_QPACK_BLOCKED_STREAMS,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
  STREAM_CONTROL,
  STREAM_PUSH,
  STREAM_QPACK_DECODER,
  STREAM_QPACK_ENCODER,
  decodeGoaway,
  decodeSettings,
  encodeGoaway,
  encodeSettings,
  encodeStreamType,
  readFrameHeader,
  readFramePayload,
} from './h3-frames.js';
import { StreamReader } from './stream-reader.js';

/** The ALPN of HTTP/3 (RFC 9114 §3.1). */
export const H3_ALPN = 'h3';

/** Control-stream frames larger than this are refused (they carry a few varints). */
const MAX_CONTROL_FRAME = 16 * 1024;

export class H3Connection {
  readonly session: Session;
  readonly role: 'client' | 'server';
  /** The peer's SETTINGS, once its control stream delivered them. */
  readonly peerSettings: Promise<Map<number, number>>;
  /** The id of the peer's last GOAWAY, if any (§5.2). */
  goawayId: number | undefined;
  /** The error this connection was closed with (undefined while open, or after a clean close). */
  error: H3Error | undefined;
  private resolveSettings!: (s: Map<number, number>) => void;
  private rejectSettings!: (e: Error) => void;
  private control: WritableStreamDefaultWriter<Uint8Array> | undefined;
  private readonly localUni: WritableStreamDefaultWriter<Uint8Array>[] = [];
  private seen = new Set<number>();
  private closing = false;
  /** Streams of types this layer does not know, offered to an extension first (WebTransport's 0x54). */
  private extensionUni: ((type: number, r: StreamReader) => boolean) | undefined;

  private constructor(session: Session, role: 'client' | 'server') {
    this.session = session;
    this.role = role;
    this.peerSettings = new Promise((resolve, reject) => {
      this.resolveSettings = resolve;
      this.rejectSettings = reject;
    });
    this.peerSettings.catch(() => {}); // observed through `fail` when nobody waits
  }

  /**
   * Opens our control, encoder and decoder streams, sends SETTINGS, and starts reading the peer's.
   * An extension (WebTransport) adds its `settings` after ours and takes the unidirectional streams
   * of the types it knows: `onUniStream` returns true for a stream it keeps.
   */
  static async start(
    session: Session,
    role: 'client' | 'server',
    extension: { settings?: ReadonlyMap<number, number>; onUniStream?: (type: number, r: StreamReader) => boolean } = {},
  ): Promise<H3Connection> {
    const c = new H3Connection(session, role);
    c.extensionUni = extension.onUniStream;
    void c.acceptUniStreams();
    void session.closed.then(
      () => c.rejectSettings(new H3Error(H3_MISSING_SETTINGS, 'the connection closed before the peer sent SETTINGS')),
      () => {},
    );
    try {
      // §6.2.1: SETTINGS is the first frame of the control stream. Our dynamic table is empty
      // and stays so: capacity 0, no blocked streams (RFC 9204 §5).
      const settings = new Map([
        [SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0],
        [SETTINGS_QPACK_BLOCKED_STREAMS, 0],
        ...(extension.settings ?? new Map<number, number>()),
      ]);
      c.control = await c.openUni(STREAM_CONTROL, encodeSettings(settings));
      await c.openUni(STREAM_QPACK_ENCODER);
      await c.openUni(STREAM_QPACK_DECODER);
    } catch (e) {
      if (!c.closing) throw e;
    }
    return c;
  }

  private async openUni(type: number, first?: Uint8Array): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    const w = (await this.session.createUnidirectionalStream()).getWriter();
    this.localUni.push(w);
    const prefix = encodeStreamType(type);
    void w.write(first ? concat(prefix, first) : prefix).catch(() => {});
    return w;
  }

  /** Closes the connection with an HTTP/3 error (RFC 9114 §8): the first error wins. */
  fail(e: H3Error): void {
    if (this.closing) return;
    this.closing = true;
    this.error = e;
    this.rejectSettings(e);
    this.session.close({ closeCode: e.code, reason: e.message.slice(0, 200) });
  }

  /**
   * Closes cleanly: GOAWAY with `lastId` (a server: the first request stream id it will not serve;
   * RFC 9114 §5.2) on the control stream, then CONNECTION_CLOSE with H3_NO_ERROR.
   */
  async close(lastId = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.control) {
      await Promise.race([this.control.write(encodeGoaway(lastId)).catch(() => {}), new Promise((r) => setTimeout(r, 200))]);
    }
    this.session.close({ closeCode: H3_NO_ERROR, reason: '' });
  }

  /** True once `fail` or `close` ran (or the session ended). */
  get closed(): boolean {
    return this.closing;
  }

  private async acceptUniStreams(): Promise<void> {
    try {
      for (let rs = await this.session.nextUniStream(); rs; rs = await this.session.nextUniStream()) {
        void this.readUni(new StreamReader(rs)).catch((e) => this.onStreamError(e));
      }
    } catch {
      // the session closed
    }
  }

  private onStreamError(e: unknown): void {
    if (e instanceof H3Error) this.fail(e);
    // else: the stream or the session was closed under us; nothing to tell the peer
  }

  private async readUni(r: StreamReader): Promise<void> {
    const type = await r.readVarint('a stream type').catch(() => null);
    if (type === null) return; // §6.2: a stream that ends before its type is ignored
    if (type === STREAM_CONTROL || type === STREAM_QPACK_ENCODER || type === STREAM_QPACK_DECODER) {
      // §6.2.1, RFC 9204 §4.2: one of each; a second is H3_STREAM_CREATION_ERROR.
      if (this.seen.has(type)) throw new H3Error(H3_STREAM_CREATION_ERROR, `a second ${streamName(type)} stream`);
      this.seen.add(type);
    }
    switch (type) {
      case STREAM_CONTROL:
        return this.readControl(r);
      case STREAM_QPACK_ENCODER:
        return this.readEncoder(r);
      case STREAM_QPACK_DECODER:
        return this.readDecoder(r);
      case STREAM_PUSH:
        // §6.2.2: only servers push, and we never send MAX_PUSH_ID, so any push stream is an error.
        throw new H3Error(this.role === 'server' ? H3_STREAM_CREATION_ERROR : H3_ID_ERROR, 'push stream without MAX_PUSH_ID');
      default:
        if (this.extensionUni?.(type, r)) return;
        // §6.2.3 / §9: unknown stream types (reserved ones included) are read no further.
        r.cancel(H3_STREAM_CREATION_ERROR);
    }
  }

  private async readControl(r: StreamReader): Promise<void> {
    let first = true;
    for (;;) {
      const h = await readFrameHeader(r);
      if (h === null) {
        if (this.closing) return;
        throw new H3Error(H3_CLOSED_CRITICAL_STREAM, 'the peer closed its control stream');
      }
      if (first && h.type !== FRAME_SETTINGS) throw new H3Error(H3_MISSING_SETTINGS, `control stream began with frame 0x${h.type.toString(16)}`);
      if (!first && h.type === FRAME_SETTINGS) throw new H3Error(H3_FRAME_UNEXPECTED, 'a second SETTINGS frame');
      if (h.length > MAX_CONTROL_FRAME) throw new H3Error(H3_FRAME_UNEXPECTED, `control frame of ${h.length} bytes`);
      const payload = await readFramePayload(r, h.length);
      first = false;
      switch (h.type) {
        case FRAME_SETTINGS:
          this.resolveSettings(decodeSettings(payload));
          break;
        case FRAME_GOAWAY: {
          const id = decodeGoaway(payload);
          // §5.2: a server's GOAWAY names a client-initiated bidirectional stream; ids never grow.
          if (this.role === 'client' && id % 4 !== 0) throw new H3Error(H3_ID_ERROR, `GOAWAY with stream id ${id}`);
          if (this.goawayId !== undefined && id > this.goawayId) throw new H3Error(H3_ID_ERROR, `GOAWAY id grew from ${this.goawayId} to ${id}`);
          this.goawayId = id;
          break;
        }
        case FRAME_MAX_PUSH_ID:
          if (this.role === 'client') throw new H3Error(H3_FRAME_UNEXPECTED, 'MAX_PUSH_ID from a server');
          break;
        case FRAME_CANCEL_PUSH:
          break; // we never push nor allow pushes
        default:
          // §7.2.1, §7.2.2, §7.2.5, §7.2.8: DATA, HEADERS, PUSH_PROMISE and HTTP/2's frames are
          // not control frames; unknown and reserved frame types are ignored (§9).
          if (h.type === FRAME_DATA || h.type === FRAME_HEADERS || h.type === FRAME_PUSH_PROMISE || HTTP2_ONLY_FRAMES.has(h.type)) {
            throw new H3Error(H3_FRAME_UNEXPECTED, `frame 0x${h.type.toString(16)} on the control stream`);
          }
      }
    }
  }

  /**
   * RFC 9204 §4.3: with capacity 0 the only instruction an encoder may send is Set Dynamic Table
   * Capacity to 0 (001xxxxx with value 0); anything else exceeds our limit.
   */
  private async readEncoder(r: StreamReader): Promise<void> {
    for (;;) {
      const b = await r.readSome(1024);
      if (b === null) {
        if (this.closing) return;
        throw new H3Error(H3_CLOSED_CRITICAL_STREAM, 'the peer closed its QPACK encoder stream');
      }
      for (const byte of b) {
        if (byte !== 0x20) throw new H3Error(QPACK_ENCODER_STREAM_ERROR, `encoder instruction 0x${byte.toString(16)} with a dynamic table of capacity 0`);
      }
    }
  }

  /** The peer's decoder stream: acknowledgments we never need (no dynamic table); drained. */
  private async readDecoder(r: StreamReader): Promise<void> {
    for (;;) {
      const b = await r.readSome(1024);
      if (b === null) {
        if (this.closing) return;
        throw new H3Error(H3_CLOSED_CRITICAL_STREAM, 'the peer closed its QPACK decoder stream');
      }
    }
  }
}

function streamName(type: number): string {
  return type === STREAM_CONTROL ? 'control' : type === STREAM_QPACK_ENCODER ? 'QPACK encoder' : 'QPACK decoder';
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
