/**
 * WebTransport over one HTTP/3 connection, either end: the SETTINGS that announce it (draft-02
 * §3.1, draft-07 §3.1: ENABLE_WEBTRANSPORT, H3_DATAGRAM and its draft-04 code, ENABLE_CONNECT_PROTOCOL,
 * WEBTRANSPORT_MAX_SESSIONS), the demultiplexing of streams and datagrams to their session by the
 * session id they carry, extended CONNECT (a server routes by path: 404 for others), and the end
 * of the connection once its last session ended (Chromium closes its connection silently after
 * its close capsule, so the server must not wait for the idle timeout).
 */
import type { BidirectionalStream, Session } from '../index.js';
import { H3Error, H3_FRAME_UNEXPECTED, H3_MESSAGE_ERROR, H3_REQUEST_REJECTED, H3_STREAM_CREATION_ERROR } from './errors.js';
import { FRAME_HEADERS, encodeFrame, readFramePayload } from './h3-frames.js';
import { H3Connection } from './h3-connection.js';
import { nextMessageFrame, parseRequestHead, parseResponseHead, readHeaderSection, type RequestHead } from './h3-message.js';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from './qpack.js';
import { StreamReader } from './stream-reader.js';
import {
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_ENABLE_WEBTRANSPORT,
  SETTINGS_H3_DATAGRAM,
  SETTINGS_H3_DATAGRAM_DRAFT04,
  SETTINGS_WEBTRANSPORT_MAX_SESSIONS,
  WEBTRANSPORT_BUFFERED_STREAM_REJECTED,
  WT_BIDI_SIGNAL,
  WT_UNI_STREAM_TYPE,
  decodeDatagram,
  type WebTransportDraft,
} from './wt-protocol.js';
import { WtSession, type WebTransportRequest, type WebTransportSession, type WtHost } from './wt-session.js';

/** How long a connection whose last session ended waits for the peer's FIN on the CONNECT stream before closing. */
const LINGER_MS = 1000;
/** After the peer's FIN answering our close: time for it to deliver the close to its application. */
const GRACE_MS = 250;

/** Our SETTINGS: both drafts' (the peer's choose: WEBTRANSPORT_MAX_SESSIONS from it means draft-07). */
export function webTransportSettings(maxSessions: number): Map<number, number> {
  return new Map([
    [SETTINGS_ENABLE_CONNECT_PROTOCOL, 1],
    [SETTINGS_H3_DATAGRAM, 1],
    [SETTINGS_H3_DATAGRAM_DRAFT04, 1],
    [SETTINGS_ENABLE_WEBTRANSPORT, 1],
    [SETTINGS_WEBTRANSPORT_MAX_SESSIONS, maxSessions],
  ]);
}

/** The draft the peer's SETTINGS choose, or why they do not allow WebTransport. */
export function negotiateDraft(peer: ReadonlyMap<number, number>): WebTransportDraft | string {
  const datagrams = peer.get(SETTINGS_H3_DATAGRAM) === 1 || peer.get(SETTINGS_H3_DATAGRAM_DRAFT04) === 1;
  if (!datagrams) return 'the peer did not send SETTINGS_H3_DATAGRAM = 1';
  if ((peer.get(SETTINGS_WEBTRANSPORT_MAX_SESSIONS) ?? 0) > 0) return 'draft-07';
  if (peer.get(SETTINGS_ENABLE_WEBTRANSPORT) === 1) return 'draft-02';
  return 'the peer did not enable WebTransport (SETTINGS_ENABLE_WEBTRANSPORT or WEBTRANSPORT_MAX_SESSIONS)';
}

/** A server's answer to an extended CONNECT: accept (the session goes to `onSession`) or a status. */
export type WtRoute = (request: WebTransportRequest) => number;

export interface WtConnectionOptions {
  /** Server: the status for a request (200 accepts), and where accepted sessions go. */
  readonly route?: WtRoute;
  readonly onSession?: (s: WebTransportSession) => void;
  readonly maxSessions?: number;
}

export class WtConnection implements WtHost {
  readonly quic: Session;
  readonly h3: H3Connection;
  readonly role: 'client' | 'server';
  draft: WebTransportDraft = 'draft-02';
  private readonly sessions = new Map<number, WtSession>();
  private readonly options: WtConnectionOptions;
  private everHadSession = false;

  private constructor(quic: Session, h3: H3Connection, role: 'client' | 'server', options: WtConnectionOptions) {
    this.quic = quic;
    this.h3 = h3;
    this.role = role;
    this.options = options;
  }

  /** Starts HTTP/3 with WebTransport on `quic`, reading its streams and datagrams. */
  static async start(quic: Session, role: 'client' | 'server', options: WtConnectionOptions = {}): Promise<WtConnection> {
    let conn: WtConnection | undefined;
    const pendingUni: StreamReader[] = [];
    const h3 = await H3Connection.start(quic, role, {
      settings: webTransportSettings(options.maxSessions ?? 16),
      onUniStream: (type, r) => {
        if (type !== WT_UNI_STREAM_TYPE) return false;
        if (conn) void conn.onUni(r);
        else pendingUni.push(r);
        return true;
      },
    });
    conn = new WtConnection(quic, h3, role, options);
    for (const r of pendingUni) void conn.onUni(r);
    void h3.peerSettings.then(
      (s) => {
        const d = negotiateDraft(s);
        if (d === 'draft-02' || d === 'draft-07') conn.draft = d;
      },
      () => {},
    );
    void conn.acceptBidi();
    void conn.pumpDatagrams();
    return conn;
  }

  /** The draft the peer's SETTINGS choose (waits for them); rejects when they do not allow WebTransport. */
  async negotiated(): Promise<WebTransportDraft> {
    const d = negotiateDraft(await this.h3.peerSettings);
    if (d !== 'draft-02' && d !== 'draft-07') throw new Error(d);
    this.draft = d;
    return d;
  }

  private async acceptBidi(): Promise<void> {
    try {
      for (let st = await this.quic.nextBidiStream(); st; st = await this.quic.nextBidiStream()) void this.onBidi(st);
    } catch {
      // the connection closed
    }
  }

  private async onBidi(st: BidirectionalStream): Promise<void> {
    const r = new StreamReader(st.readable);
    try {
      const first = await r.readVarint('a frame type or signal');
      if (first === null) return;
      if (first === WT_BIDI_SIGNAL) {
        const sid = await r.readVarint('a session id');
        if (sid === null) return;
        const s = this.sessions.get(sid);
        if (!s || s.isClosed) {
          // No such session (draft-07 §4.6: we do not buffer streams of unknown sessions).
          r.cancel(WEBTRANSPORT_BUFFERED_STREAM_REJECTED);
          void st.writable.abort(WEBTRANSPORT_BUFFERED_STREAM_REJECTED).catch(() => {});
          return;
        }
        s.addIncomingBidi(st, r);
        return;
      }
      if (this.role === 'client') throw new H3Error(H3_STREAM_CREATION_ERROR, 'a server opened a bidirectional stream that is not WebTransport');
      if (first !== FRAME_HEADERS) throw new H3Error(H3_FRAME_UNEXPECTED, `request stream began with frame 0x${first.toString(16)}`);
      const length = await r.readVarint('a frame length');
      if (length === null) throw new H3Error(H3_MESSAGE_ERROR, 'the stream ended inside a frame', 'stream');
      const head = parseRequestHead(await readHeaderSection(r, { type: FRAME_HEADERS, length }));
      await this.onRequest(st, r, head);
    } catch (e) {
      if (e instanceof H3Error && e.scope === 'connection') this.h3.fail(e);
      else {
        const code = e instanceof H3Error ? e.code : H3_REQUEST_REJECTED;
        r.cancel(code);
        void st.writable.abort(code).catch(() => {});
      }
    }
  }

  /** Server: an extended CONNECT opens a session; anything else is refused with a status. */
  private async onRequest(st: BidirectionalStream, r: StreamReader, head: RequestHead): Promise<void> {
    const w = st.writable.getWriter();
    const respond = async (status: number, fields: HeaderField[] = []): Promise<void> => {
      await w.write(encodeFrame(FRAME_HEADERS, encodeFieldSection([{ name: ':status', value: String(status) }, ...fields])));
    };
    if (head.method !== 'CONNECT' || head.protocol !== 'webtransport') {
      await respond(head.method === 'CONNECT' ? 501 : 405);
      await w.close().catch(() => {});
      return;
    }
    const draft = await this.negotiated().catch(() => undefined);
    const request: WebTransportRequest = {
      path: head.path,
      authority: head.authority,
      origin: head.fields.find((f) => f.name === 'origin')?.value,
      headers: head.fields,
    };
    const status = draft === undefined ? 400 : (this.options.route?.(request) ?? 404);
    if (status !== 200 || st.streamId === undefined) {
      await respond(status === 200 ? 500 : status);
      await w.close().catch(() => {});
      r.cancel(0x10c); // H3_REQUEST_CANCELLED: we read no more of it
      return;
    }
    const s = new WtSession(this, st.streamId, request, w);
    this.sessions.set(st.streamId, s);
    this.everHadSession = true;
    await respond(200, draft === 'draft-02' ? [{ name: 'sec-webtransport-http3-draft', value: 'draft02' }] : []);
    s.markReady();
    this.options.onSession?.(s.session);
    void s.readCapsules(r);
  }

  /**
   * Client: sends the extended CONNECT for `url`'s authority and path; resolves with the session
   * once the server answered 2xx, rejects with the status otherwise.
   */
  async connect(authority: string, path: string, origin?: string): Promise<WebTransportSession> {
    const draft = await this.negotiated();
    const st = await this.quic.createBidirectionalStream();
    if (st.streamId === undefined) throw new Error('the QUIC stream has no id');
    const w = st.writable.getWriter();
    const headers: HeaderField[] = [
      { name: ':method', value: 'CONNECT' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: authority },
      { name: ':path', value: path },
      { name: ':protocol', value: 'webtransport' },
      ...(draft === 'draft-02' ? [{ name: 'sec-webtransport-http3-draft02', value: '1' }] : []),
      ...(origin !== undefined ? [{ name: 'origin', value: origin }] : []),
    ];
    const request: WebTransportRequest = { path, authority, origin, headers: headers.filter((h) => !h.name.startsWith(':')) };
    const s = new WtSession(this, st.streamId, request, w);
    this.sessions.set(st.streamId, s);
    this.everHadSession = true;
    await w.write(encodeFrame(FRAME_HEADERS, encodeFieldSection(headers)));
    const r = new StreamReader(st.readable);
    try {
      const h = await nextMessageFrame(r);
      if (h === null || h.type !== FRAME_HEADERS) throw new H3Error(H3_MESSAGE_ERROR, 'no response HEADERS to the CONNECT', 'stream');
      const res = parseResponseHead(decodeFieldSection(await readFramePayload(r, h.length)));
      if (res.status < 200 || res.status > 299) throw new WebTransportRefusedError(res.status);
    } catch (e) {
      s.fail(e as Error);
      throw e;
    }
    s.markReady();
    void s.readCapsules(r);
    return s.session;
  }

  private async onUni(r: StreamReader): Promise<void> {
    const sid = await r.readVarint('a session id').catch(() => null);
    if (sid === null) return;
    const s = this.sessions.get(sid);
    if (!s || s.isClosed) return r.cancel(WEBTRANSPORT_BUFFERED_STREAM_REJECTED);
    s.addIncomingUni(r);
  }

  private async pumpDatagrams(): Promise<void> {
    try {
      for (let d = await this.quic.recvDatagram(); d; d = await this.quic.recvDatagram()) {
        let dg: { sessionId: number; payload: Uint8Array };
        try {
          dg = decodeDatagram(d);
        } catch {
          continue; // RFC 9297 §2.1: a datagram too short for its quarter stream id is dropped
        }
        // A datagram of a session we do not know (closed, or not yet open) is dropped (§2.1).
        this.sessions.get(dg.sessionId)?.onDatagram(dg.payload);
      }
    } catch {
      // the connection closed
    }
  }

  /**
   * A session ended: once the last one did, the connection ends too. When the peer closed it, at
   * once (Chromium drops its connection silently after its capsule and FIN). When we did, after
   * the peer's FIN on the CONNECT stream plus a moment for it to act on our capsule (a connection
   * closed under it while it does makes the browser report an aborted session), or LINGER_MS.
   */
  sessionEnded(s: WtSession, peerDone: Promise<void>, local: boolean): void {
    this.sessions.delete(s.id);
    if (this.sessions.size > 0 || !this.everHadSession) return;
    const wait = local
      ? Promise.race([peerDone.then(() => sleep(GRACE_MS)), sleep(LINGER_MS)])
      : Promise.resolve();
    void wait.then(() => {
      if (this.sessions.size === 0) void this.h3.close(this.role === 'server' ? s.id + 4 : 0);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** The server answered the extended CONNECT with a status other than 2xx (a 404 for an unknown path). */
export class WebTransportRefusedError extends Error {
  override readonly name = 'WebTransportRefusedError';
  constructor(readonly status: number) {
    super(`the server refused the WebTransport session: HTTP status ${status}`);
  }
}

