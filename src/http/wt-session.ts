/**
 * One WebTransport session over HTTP/3 (draft-ietf-webtrans-http3-02/-07): the extended CONNECT
 * stream that carries its capsules, the streams and datagrams that name it. It has the shape of
 * quic-peer's `Session` (and of W3C WebTransport): `ready`, `closed`, `close({ closeCode, reason })`,
 * streams as web streams with backpressure, `datagrams`, `getStats()`; the iroh-http method names
 * too. `WtConnection` creates it and feeds it what arrives for it.
 */
import { SessionClosedError, type BidirectionalStream, type CallablePromise, type CloseInfo, type ConnectionStats, type Session, type SessionDatagrams } from '../index.js';
import { FRAME_DATA, FRAME_HEADERS, encodeFrame } from './h3-frames.js';
import { nextMessageFrame, readHeaderSection, skip } from './h3-message.js';
import type { HeaderField } from './qpack.js';
import { StreamReader } from './stream-reader.js';
import {
  CAPSULE_CLOSE_WEBTRANSPORT_SESSION,
  CAPSULE_DRAIN_WEBTRANSPORT_SESSION,
  CapsuleParser,
  WEBTRANSPORT_SESSION_GONE,
  WT_BIDI_SIGNAL,
  WT_UNI_STREAM_TYPE,
  datagramOverhead,
  decodeCloseCapsule,
  encodeCapsule,
  encodeCloseCapsule,
  encodeDatagram,
  encodeStreamPrefix,
  type WebTransportDraft,
} from './wt-protocol.js';
import { wtReadable, wtWritable, type StreamEnder } from './wt-streams.js';

/** Datagrams received and not yet read, per session; older ones are dropped beyond this (they are unreliable). */
const DATAGRAM_QUEUE = 1024;
/** Incoming streams not yet taken by the application, per session; more are refused (draft-07 §4.6). */
const STREAM_QUEUE = 256;

/** What a session needs of its connection. */
export interface WtHost {
  readonly quic: Session;
  readonly draft: WebTransportDraft;
  /** The session ended: forget it (and maybe end the connection). */
  /** `local`: we closed it (the peer may still be reading our capsule). */
  sessionEnded(s: WebTransportSession, peerDone: Promise<void>, local: boolean): void;
}

/** A request's description as the server saw it (or the client sent it). */
export interface WebTransportRequest {
  readonly path: string;
  readonly authority: string;
  readonly origin: string | undefined;
  readonly headers: readonly HeaderField[];
}

class Queue<T> {
  private items: T[] = [];
  private waiters: Array<(v: T | null) => void> = [];
  ended = false;
  constructor(private readonly max: number, private readonly onDrop: (v: T) => void) {}
  push(v: T): void {
    if (this.ended) return this.onDrop(v);
    const w = this.waiters.shift();
    if (w) return w(v);
    if (this.items.length >= this.max) this.onDrop(this.items.shift() as T);
    this.items.push(v);
  }
  next(signal?: AbortSignal): Promise<T | null> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const w = (v: T | null): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(signal?.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }
  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(null);
    for (const v of this.items.splice(0)) this.onDrop(v);
  }
}

function callable<T>(p: Promise<T>): CallablePromise<T> {
  const f = (() => p) as CallablePromise<T>;
  f.then = p.then.bind(p) as Promise<T>['then'];
  f.catch = p.catch.bind(p) as Promise<T>['catch'];
  f.finally = p.finally.bind(p) as Promise<T>['finally'];
  return f;
}

function pulling<T>(next: (signal: AbortSignal) => Promise<T | null>): ReadableStream<T> {
  const abandoned = new AbortController();
  return new ReadableStream<T>(
    {
      pull: async (c) => {
        const x = await next(abandoned.signal);
        if (x !== null) c.enqueue(x);
        else c.close();
      },
      cancel: (reason: unknown) => abandoned.abort(reason),
    },
    { highWaterMark: 0 },
  );
}

export class WebTransportSession {
  /** The session id: the stream id of its extended CONNECT (draft-02 §2). */
  readonly id: number;
  /** The request that opened it. */
  readonly request: WebTransportRequest;
  readonly ready: CallablePromise<void>;
  /** Resolves with the close code and reason, whoever closed (code 0 and an empty reason when the CONNECT stream simply ended). */
  readonly closed: CallablePromise<CloseInfo>;
  /** Resolves when the peer asked to wind down (DRAIN_WEBTRANSPORT_SESSION, draft-07 §4.7). */
  readonly draining: Promise<void>;
  private readonly host: WtHost;
  private readonly connectWriter: WritableStreamDefaultWriter<Uint8Array>;
  private readonly bidi = new Queue<BidirectionalStream>(STREAM_QUEUE, (s) => {
    void s.readable.cancel(WEBTRANSPORT_SESSION_GONE).catch(() => {});
    void s.writable.abort(WEBTRANSPORT_SESSION_GONE).catch(() => {});
  });
  private readonly uni = new Queue<ReadableStream<Uint8Array>>(STREAM_QUEUE, (s) => void s.cancel(WEBTRANSPORT_SESSION_GONE).catch(() => {}));
  private readonly dgrams = new Queue<Uint8Array>(DATAGRAM_QUEUE, () => {});
  private readonly enders = new Set<StreamEnder>();
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: (c: CloseInfo) => void;
  private resolveDraining!: () => void;
  private closeInfo: CloseInfo | undefined;
  private peerEnded!: () => void;
  private readonly peerDone: Promise<void>;
  private datagramStreams: SessionDatagrams | undefined;
  private incomingBidi: ReadableStream<BidirectionalStream> | undefined;
  private incomingUni: ReadableStream<ReadableStream<Uint8Array>> | undefined;

  /** @internal Made by WtConnection. */
  constructor(host: WtHost, id: number, request: WebTransportRequest, connectWriter: WritableStreamDefaultWriter<Uint8Array>) {
    this.host = host;
    this.id = id;
    this.request = request;
    this.connectWriter = connectWriter;
    const ready = new Promise<void>((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    ready.catch(() => {});
    this.ready = callable(ready);
    this.closed = callable(new Promise<CloseInfo>((res) => (this.resolveClosed = res)));
    this.draining = new Promise<void>((res) => (this.resolveDraining = res));
    this.peerDone = new Promise<void>((res) => (this.peerEnded = res));
  }

  /** The draft both ends speak. */
  get draft(): WebTransportDraft {
    return this.host.draft;
  }

  /** The HTTP/3 connection's QUIC session (one per WebTransport session with Chromium). */
  get connection(): Session {
    return this.host.quic;
  }

  get remoteAddress(): string | undefined {
    return this.host.quic.remoteAddress;
  }

  /** @internal The session was accepted (server: 200 sent; client: 200 received). */
  markReady(): void {
    this.resolveReady();
  }

  /** @internal The session could not be opened (the server refused it, or the connection failed first). */
  fail(e: Error): void {
    this.rejectReady(e);
    this.finish({ closeCode: 0, reason: e.message }, false);
  }

  /**
   * @internal Reads the CONNECT stream after the response: DATA frames of capsules (RFC 9297 §3.3),
   * until CLOSE_WEBTRANSPORT_SESSION, the FIN, or a reset. Unknown capsules (GREASE) are skipped.
   */
  async readCapsules(r: StreamReader): Promise<void> {
    const parser = new CapsuleParser();
    let info: CloseInfo = { closeCode: 0, reason: '' };
    try {
      for (let h = await nextMessageFrame(r); h; h = await nextMessageFrame(r)) {
        if (h.type === FRAME_HEADERS) {
          await readHeaderSection(r, h); // trailers: nothing for us
          continue;
        }
        if (h.type !== FRAME_DATA) {
          await skip(r, h.length);
          continue;
        }
        let left = h.length;
        while (left > 0) {
          const chunk = await r.readSome(Math.min(left, 64 * 1024));
          if (chunk === null) throw new Error('the CONNECT stream ended inside a DATA frame');
          left -= chunk.length;
          for (const c of parser.push(chunk)) {
            if (c.type === CAPSULE_CLOSE_WEBTRANSPORT_SESSION) {
              const { code, reason } = decodeCloseCapsule(c.value);
              info = { closeCode: code, reason };
            } else if (c.type === CAPSULE_DRAIN_WEBTRANSPORT_SESSION) {
              this.resolveDraining();
            }
          }
        }
      }
      // The FIN: the session is over (draft-02 §5), with the capsule's code if one came.
      this.peerEnded();
      this.finish(info, true);
    } catch (e) {
      // A reset CONNECT stream, a malformed capsule or frame, or the connection gone.
      this.peerEnded();
      this.finish({ closeCode: 0, reason: this.closeInfo ? '' : `session aborted: ${(e as Error).message}` }, false);
    }
  }

  /**
   * Closes the session (draft-02 §5): CLOSE_WEBTRANSPORT_SESSION with `closeCode` (32 bits) and
   * `reason` (UTF-8, at most 1024 bytes) on the CONNECT stream, then its FIN; every stream of the
   * session is reset with WEBTRANSPORT_SESSION_GONE.
   */
  close(info: { closeCode?: number; reason?: string } = {}): void {
    const code = info.closeCode ?? 0;
    if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) throw new RangeError(`closeCode must be a 32-bit unsigned integer, got ${code}`);
    if (this.closeInfo) return;
    const reason = info.reason ?? '';
    void this.connectWriter.write(encodeFrame(FRAME_DATA, encodeCloseCapsule(code, reason))).catch(() => {});
    this.finish({ closeCode: code, reason }, true, true);
  }

  /** Asks the peer to wind the session down (DRAIN_WEBTRANSPORT_SESSION, draft-07 §4.7). */
  drain(): void {
    if (this.closeInfo) return;
    void this.connectWriter.write(encodeFrame(FRAME_DATA, encodeCapsule(CAPSULE_DRAIN_WEBTRANSPORT_SESSION, new Uint8Array(0)))).catch(() => {});
  }

  private finish(info: CloseInfo, sendFin: boolean, local = false): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    this.rejectReady(new SessionClosedError(info.closeCode, info.reason));
    if (sendFin) void this.connectWriter.close().catch(() => {});
    else void this.connectWriter.abort(WEBTRANSPORT_SESSION_GONE).catch(() => {});
    for (const end of [...this.enders]) end(WEBTRANSPORT_SESSION_GONE);
    this.enders.clear();
    this.bidi.end();
    this.uni.end();
    this.dgrams.end();
    this.resolveClosed(info);
    this.host.sessionEnded(this, this.peerDone, local);
  }

  private closedError(): SessionClosedError {
    return new SessionClosedError(this.closeInfo?.closeCode ?? 0, this.closeInfo?.reason ?? '');
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** @internal A bidirectional stream the peer opened for this session (its header read). */
  addIncomingBidi(quic: BidirectionalStream, r: StreamReader): void {
    this.bidi.push(this.wrapBidi(quic, r, undefined));
  }

  /** @internal A unidirectional stream the peer opened for this session (its header read). */
  addIncomingUni(r: StreamReader): void {
    if (this.closeInfo) return r.cancel(WEBTRANSPORT_SESSION_GONE);
    let end: StreamEnder | undefined;
    const { readable, end: e } = wtReadable(r, () => end && this.enders.delete(end));
    end = e;
    this.enders.add(e);
    this.uni.push(readable);
  }

  /** @internal A datagram's payload for this session. */
  onDatagram(payload: Uint8Array): void {
    this.dgrams.push(payload);
  }

  private wrapBidi(quic: BidirectionalStream, r: StreamReader, prefix: Uint8Array | undefined): BidirectionalStream {
    let endR: StreamEnder | undefined;
    let endW: StreamEnder | undefined;
    const rd = wtReadable(r, () => endR && this.enders.delete(endR));
    const wr = wtWritable(quic.writable, prefix, () => endW && this.enders.delete(endW));
    endR = rd.end;
    endW = wr.end;
    this.enders.add(endR);
    this.enders.add(endW);
    return { readable: rd.readable, writable: wr.writable, ...(quic.streamId !== undefined ? { streamId: quic.streamId } : {}) };
  }

  /** Opens a bidirectional stream of this session (WEBTRANSPORT_STREAM 0x41 and the session id first). */
  async createBidirectionalStream(): Promise<BidirectionalStream> {
    if (this.closeInfo) throw this.closedError();
    const quic = await this.host.quic.createBidirectionalStream();
    return this.wrapBidi(quic, new StreamReader(quic.readable), encodeStreamPrefix(WT_BIDI_SIGNAL, this.id));
  }

  /** Opens a unidirectional stream of this session (type 0x54 and the session id first). */
  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    if (this.closeInfo) throw this.closedError();
    const quic = await this.host.quic.createUnidirectionalStream();
    let end: StreamEnder | undefined;
    const wr = wtWritable(quic, encodeStreamPrefix(WT_UNI_STREAM_TYPE, this.id), () => end && this.enders.delete(end));
    end = wr.end;
    this.enders.add(end);
    return wr.writable;
  }

  get incomingBidirectionalStreams(): ReadableStream<BidirectionalStream> {
    return (this.incomingBidi ??= pulling((signal) => this.bidi.next(signal)));
  }

  get incomingUnidirectionalStreams(): ReadableStream<ReadableStream<Uint8Array>> {
    return (this.incomingUni ??= pulling((signal) => this.uni.next(signal)));
  }

  nextBidiStream(options: { signal?: AbortSignal } = {}): Promise<BidirectionalStream | null> {
    return this.bidi.next(options.signal);
  }

  nextUniStream(options: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array> | null> {
    return this.uni.next(options.signal);
  }

  createBidiStream(): Promise<BidirectionalStream> {
    return this.createBidirectionalStream();
  }

  createUniStream(): Promise<WritableStream<Uint8Array>> {
    return this.createUnidirectionalStream();
  }

  /** Sends a datagram of this session (RFC 9297: its quarter stream id first); resolves as `Session.sendDatagram`. */
  sendDatagram(data: Uint8Array): Promise<void> {
    if (this.closeInfo) return Promise.reject(this.closedError());
    return this.host.quic.sendDatagram(encodeDatagram(this.id, data));
  }

  /** The next datagram of this session, or null once it closed. */
  recvDatagram(options: { signal?: AbortSignal } = {}): Promise<Uint8Array | null> {
    return this.dgrams.next(options.signal);
  }

  /** The largest payload a datagram of this session can carry now (0 when the peer takes none). */
  maxDatagramSize(): number {
    const m = this.host.quic.maxDatagramSize() ?? 0;
    return Math.max(0, m - datagramOverhead(this.id));
  }

  get datagrams(): SessionDatagrams {
    if (this.datagramStreams) return this.datagramStreams;
    const s = this;
    this.datagramStreams = {
      readable: pulling((signal) => this.recvDatagram({ signal })),
      writable: new WritableStream<Uint8Array>({ write: (d) => this.sendDatagram(d) }),
      get maxDatagramSize(): number {
        return s.maxDatagramSize();
      },
    };
    return this.datagramStreams;
  }

  /** The QUIC connection's counters (shared by every session on it). */
  getStats(): ConnectionStats {
    return this.host.quic.getStats();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
  }
}
