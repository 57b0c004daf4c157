/**
 * One WebTransport session over HTTP/3 (draft-ietf-webtrans-http3-02/-07) as the transport of a
 * quic-peer `Session`: the extended CONNECT stream that carries its capsules, the streams and
 * datagrams that name it. The application holds the `Session` (`WtSession.session`, the same class
 * as a QUIC connection's, of kind 'webtransport'), which checks arguments and gives the
 * WebTransport shapes; this class does what is particular to WebTransport. `WtConnection` creates
 * it and feeds it what arrives for it.
 */
import {
  DatagramError,
  Session,
  SessionClosedError,
  StreamAbortedError,
  type BidirectionalStream,
  type CloseInfo,
  type ConnectionStats,
  type EndpointId,
  type SessionKind,
  type SessionPath,
  type SessionTransport,
  type WebTransportInfo,
  type WebTransportRequest,
} from '../index.js';
import { FRAME_DATA, FRAME_HEADERS, encodeFrame } from './h3-frames.js';
import { nextMessageFrame, readHeaderSection, skip } from './h3-message.js';
import { StreamReader } from './stream-reader.js';
import {
  CAPSULE_CLOSE_WEBTRANSPORT_SESSION,
  CAPSULE_DRAIN_WEBTRANSPORT_SESSION,
  CapsuleParser,
  WEBTRANSPORT_SESSION_GONE,
  WT_BIDI_SIGNAL,
  WT_UNI_STREAM_TYPE,
  cutCloseReason,
  datagramOverhead,
  decodeCloseCapsule,
  encodeCapsule,
  encodeCloseCapsule,
  encodeDatagram,
  encodeStreamPrefix,
  type WebTransportDraft,
} from './wt-protocol.js';
import { wtReadable, wtWritable, type StreamEnder } from './wt-streams.js';

export type { WebTransportRequest } from '../index.js';

/**
 * A WebTransport session: a `Session` of kind 'webtransport', whose `webTransport` says which
 * request opened it, the draft spoken, and how to drain it. What `connectWebTransport` and
 * `WebTransportServer` hand out: a type, not a class (the instances are Sessions).
 */
export type WebTransportSession = Session & { readonly kind: 'webtransport'; readonly webTransport: WebTransportInfo };

/** Datagrams received and not yet read, per session; older ones are dropped beyond this (they are unreliable). */
const DATAGRAM_QUEUE = 1024;
/** Incoming streams not yet taken by the application, per session; more are refused (draft-07 §4.6). */
const STREAM_QUEUE = 256;

/** What a session needs of its connection. */
export interface WtHost {
  readonly quic: Session;
  readonly draft: WebTransportDraft;
  /**
   * The session ended: forget it (and maybe end the connection). `local`: we closed it (the peer
   * may still be reading our capsule); `peerDone` resolves when the peer ended its CONNECT stream.
   */
  sessionEnded(s: WtSession, peerDone: Promise<void>, local: boolean): void;
}

/** A bounded queue of what arrived for the session, with waiters that an AbortSignal ends. */
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
    if (signal?.aborted) return Promise.reject(signal.reason);
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
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }
  /** Waits pending (for tests of aborts: none may be left behind). */
  get pending(): number {
    return this.waiters.length;
  }
  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(null);
    for (const v of this.items.splice(0)) this.onDrop(v);
  }
}

/** The transport of one WebTransport session's `Session`. */
export class WtSession implements SessionTransport {
  /** The session id: the stream id of its extended CONNECT (draft-02 §2). */
  readonly id: number;
  /** The request that opened it. */
  readonly request: WebTransportRequest;
  /** What the application holds. */
  readonly session: WebTransportSession;
  readonly ready: Promise<void>;
  /** Resolves with the close code and reason, whoever closed (code 0 and an empty reason when the CONNECT stream simply ended). */
  readonly closed: Promise<CloseInfo>;
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

  /** Made by WtConnection once the draft is known (`host.draft`). */
  constructor(host: WtHost, id: number, request: WebTransportRequest, connectWriter: WritableStreamDefaultWriter<Uint8Array>) {
    this.host = host;
    this.id = id;
    this.request = request;
    this.connectWriter = connectWriter;
    this.ready = new Promise<void>((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => {});
    this.closed = new Promise<CloseInfo>((res) => (this.resolveClosed = res));
    this.draining = new Promise<void>((res) => (this.resolveDraining = res));
    this.peerDone = new Promise<void>((res) => (this.peerEnded = res));
    const info: WebTransportInfo = Object.freeze({
      sessionId: id,
      draft: host.draft,
      request,
      draining: this.draining,
      drain: () => this.drain(),
      connection: host.quic,
    });
    this.session = Session.fromTransport(this, info) as WebTransportSession;
  }

  get kind(): SessionKind {
    return 'webtransport';
  }

  get remoteId(): EndpointId {
    return this.host.quic.remoteId;
  }

  get peerCertificates(): readonly Uint8Array[] | undefined {
    return this.host.quic.peerCertificates;
  }

  get resumed(): boolean {
    return this.host.quic.resumed;
  }

  get earlyDataAccepted(): boolean {
    return this.host.quic.earlyDataAccepted;
  }

  get alpn(): string {
    return this.host.quic.alpn;
  }

  get remoteAddress(): string | undefined {
    return this.host.quic.remoteAddress;
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Waits pending on the session's queues (incoming streams and datagrams), for tests. */
  get pendingWaits(): number {
    return this.bidi.pending + this.uni.pending + this.dgrams.pending;
  }

  /** The session was accepted (server: 200 sent; client: 200 received). */
  markReady(): void {
    this.resolveReady();
  }

  /** The session could not be opened (the server refused it, or the connection failed first). */
  fail(e: Error): void {
    this.rejectReady(e);
    this.finish({ closeCode: 0, reason: e.message }, false);
  }

  /**
   * Reads the CONNECT stream after the response: DATA frames of capsules (RFC 9297 §3.3), until
   * CLOSE_WEBTRANSPORT_SESSION, the FIN, or a reset. Unknown capsules (GREASE) are skipped.
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
   * Closes the session (draft-02 §5): CLOSE_WEBTRANSPORT_SESSION with `code` (32 bits: the
   * Session checked it) and `reason` (cut to 1024 bytes of UTF-8) on the CONNECT stream, then its
   * FIN; every stream of the session is reset with WEBTRANSPORT_SESSION_GONE.
   */
  close(code: number | bigint, reason: string): void {
    if (this.closeInfo) return;
    const n = Number(code);
    const sent = cutCloseReason(reason);
    void this.connectWriter.write(encodeFrame(FRAME_DATA, encodeCloseCapsule(n, sent))).catch(() => {});
    this.finish({ closeCode: n, reason: sent }, true, true);
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
    // The streams fail as a closed QUIC session's do: StreamAbortedError 'closed' with the reason.
    const closedError = (streamId: number): Error => new StreamAbortedError(streamId, 'closed', undefined, info.reason || 'session closed');
    for (const end of [...this.enders]) end(WEBTRANSPORT_SESSION_GONE, closedError);
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

  /** A bidirectional stream the peer opened for this session (its header read). */
  addIncomingBidi(quic: BidirectionalStream, r: StreamReader): void {
    this.bidi.push(this.wrapBidi(quic, r, undefined));
  }

  /** A unidirectional stream the peer opened for this session (its header read). */
  addIncomingUni(r: StreamReader): void {
    if (this.closeInfo) return r.cancel(WEBTRANSPORT_SESSION_GONE);
    let end: StreamEnder | undefined;
    const { readable, end: e } = wtReadable(r, -1, () => end && this.enders.delete(end));
    end = e;
    this.enders.add(e);
    this.uni.push(readable);
  }

  /** A datagram's payload for this session. */
  onDatagram(payload: Uint8Array): void {
    this.dgrams.push(payload);
  }

  private wrapBidi(quic: BidirectionalStream, r: StreamReader, prefix: Uint8Array | undefined): BidirectionalStream {
    let endR: StreamEnder | undefined;
    let endW: StreamEnder | undefined;
    const id = quic.streamId ?? -1;
    const rd = wtReadable(r, id, () => endR && this.enders.delete(endR));
    const wr = wtWritable(quic.writable, prefix, id, () => endW && this.enders.delete(endW));
    endR = rd.end;
    endW = wr.end;
    this.enders.add(endR);
    this.enders.add(endW);
    return { readable: rd.readable, writable: wr.writable, ...(quic.streamId !== undefined ? { streamId: quic.streamId } : {}) };
  }

  /** Opens a bidirectional stream of this session (WEBTRANSPORT_STREAM 0x41 and the session id first). */
  async openBidirectionalStream(signal?: AbortSignal): Promise<BidirectionalStream> {
    const quic = await this.openQuic(() => this.host.quic.createBidirectionalStream(signal ? { signal } : undefined), (s) => {
      void s.readable.cancel(WEBTRANSPORT_SESSION_GONE).catch(() => {});
      void s.writable.abort(WEBTRANSPORT_SESSION_GONE).catch(() => {});
    });
    return this.wrapBidi(quic, new StreamReader(quic.readable), encodeStreamPrefix(WT_BIDI_SIGNAL, this.id));
  }

  /** Opens a unidirectional stream of this session (type 0x54 and the session id first). */
  async openUnidirectionalStream(signal?: AbortSignal): Promise<WritableStream<Uint8Array>> {
    const quic = await this.openQuic(
      () => this.host.quic.createUnidirectionalStream(signal ? { signal } : undefined),
      (w) => void w.abort(WEBTRANSPORT_SESSION_GONE).catch(() => {}),
    );
    let end: StreamEnder | undefined;
    const wr = wtWritable(quic, encodeStreamPrefix(WT_UNI_STREAM_TYPE, this.id), -1, () => end && this.enders.delete(end));
    end = wr.end;
    this.enders.add(end);
    return wr.writable;
  }

  /**
   * A QUIC stream for this session, or the session's SessionClosedError when it is closed before
   * or while the stream opens (a stream opened meanwhile is ended with `drop`).
   */
  private async openQuic<S>(open: () => Promise<S>, drop: (s: S) => void): Promise<S> {
    if (this.closeInfo) throw this.closedError();
    let s: S;
    try {
      s = await open();
    } catch (e) {
      throw this.closeInfo ? this.closedError() : e;
    }
    if (this.closeInfo) {
      drop(s);
      throw this.closedError();
    }
    return s;
  }

  nextBidirectionalStream(signal?: AbortSignal): Promise<BidirectionalStream | null> {
    return this.bidi.next(signal);
  }

  nextUnidirectionalStream(signal?: AbortSignal): Promise<ReadableStream<Uint8Array> | null> {
    return this.uni.next(signal);
  }

  /**
   * Sends a datagram of this session (RFC 9297: its quarter stream id first); resolves as a QUIC
   * session's `sendDatagram` does, once it left in a packet.
   */
  sendDatagram(data: Uint8Array): Promise<void> {
    if (this.closeInfo) return Promise.reject(this.closedError());
    const max = this.maxDatagramSize();
    if (max !== null && data.length > max) {
      return Promise.reject(new DatagramError('too-large', `datagram of ${data.length} bytes exceeds the current maximum of ${max} bytes (a QUIC datagram less the session's quarter stream id); check session.maxDatagramSize()`));
    }
    return this.host.quic.sendDatagram(encodeDatagram(this.id, data));
  }

  recvDatagram(signal?: AbortSignal): Promise<Uint8Array | null> {
    return this.dgrams.next(signal);
  }

  /** The largest payload a datagram of this session can carry now, or null when the peer takes none. */
  maxDatagramSize(): number | null {
    const m = this.host.quic.maxDatagramSize();
    return m === null ? null : Math.max(0, m - datagramOverhead(this.id));
  }

  /** The QUIC connection's counters (shared by every session on it). */
  getStats(): ConnectionStats {
    return this.host.quic.getStats();
  }

  /** The paths of the QUIC connection under the HTTP/3 connection (shared by its sessions). */
  paths(): SessionPath[] {
    return this.host.quic.paths();
  }
}
