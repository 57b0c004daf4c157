/**
 * An HTTP/3 file server on one session (RFC 9114): GET and HEAD of files under a root directory,
 * 404 for what is not there, 403 for paths that leave it, 405 for other methods. Each request
 * stream carries HEADERS then DATA; the response is HEADERS (:status, content-length) and the file
 * in one DATA frame, then FIN. Stream errors reset the one request; connection errors close the
 * session with their HTTP/3 code.
 */
import type { BidirectionalStream, Session } from '../index.js';
import { H3Error, H3_FRAME_UNEXPECTED, H3_INTERNAL_ERROR, H3_REQUEST_INCOMPLETE } from './errors.js';
import { FileLookupError, resolveFile } from './files.js';
import { FRAME_DATA, FRAME_HEADERS, encodeFrame, encodeFrameHeader } from './h3-frames.js';
import { H3Connection } from './h3-connection.js';
import { nextMessageFrame, parseRequestHead, readHeaderSection, skip, type RequestHead } from './h3-message.js';
import { encodeFieldSection, type HeaderField } from './qpack.js';
import { openFile, type FileServerOptions } from './serve-files.js';
import { StreamReader } from './stream-reader.js';

/**
 * Serves HTTP/3 on `session` until it closes; resolves then. `stop()` on the returned handle sends
 * GOAWAY and closes the session with H3_NO_ERROR.
 */
export async function serveH3(session: Session, options: FileServerOptions): Promise<H3ServerSession> {
  const conn = await H3Connection.start(session, 'server');
  const s = new H3ServerSession(conn, options);
  void s.run();
  return s;
}

export class H3ServerSession {
  readonly conn: H3Connection;
  private readonly options: FileServerOptions;
  private requests = 0;

  constructor(conn: H3Connection, options: FileServerOptions) {
    this.conn = conn;
    this.options = options;
  }

  /** GOAWAY naming the first request we did not take, then CONNECTION_CLOSE (H3_NO_ERROR). */
  stop(): Promise<void> {
    return this.conn.close(this.requests * 4);
  }

  async run(): Promise<void> {
    try {
      for (let st = await this.conn.session.nextBidiStream(); st; st = await this.conn.session.nextBidiStream()) {
        this.requests++;
        void this.handle(st);
      }
    } catch {
      // the session closed
    }
  }

  private async handle(st: BidirectionalStream): Promise<void> {
    const r = new StreamReader(st.readable);
    const w = st.writable.getWriter();
    let head: RequestHead | undefined;
    let status = 500;
    let bytes = 0;
    let error: string | undefined;
    try {
      const first = await nextMessageFrame(r);
      if (first === null) throw new H3Error(H3_REQUEST_INCOMPLETE, 'request stream ended before HEADERS', 'stream');
      // §4.1: DATA before HEADERS is a frame out of place.
      if (first.type !== FRAME_HEADERS) throw new H3Error(H3_FRAME_UNEXPECTED, 'DATA before HEADERS on a request stream');
      head = parseRequestHead(await readHeaderSection(r, first));
      // A peer that resets its half after the request is not an error of ours: only H3 errors count.
      void this.drainBody(r).catch((e) => e instanceof H3Error && this.onError(e, w, r));
      const res = await this.respond(head, w);
      status = res.status;
      bytes = res.bytes;
      error = res.error;
      await w.close();
    } catch (e) {
      error = (e as Error).message;
      this.onError(e, w, r);
    } finally {
      this.options.onRequest?.({
        alpn: 'h3',
        method: head?.method ?? '?',
        path: head?.path ?? '?',
        status,
        bytes,
        remote: this.conn.session.remoteAddress,
        ...(error !== undefined ? { error } : {}),
      });
    }
  }

  /** Reads what the client sends after its HEADERS (a GET sends nothing): DATA, trailers, FIN. */
  private async drainBody(r: StreamReader): Promise<void> {
    let trailers = false;
    for (let h = await nextMessageFrame(r); h; h = await nextMessageFrame(r)) {
      // §4.1: after trailers, nothing but unknown frames may come.
      if (trailers) throw new H3Error(H3_FRAME_UNEXPECTED, 'a frame after the trailers');
      if (h.type === FRAME_HEADERS) {
        trailers = true;
        await readHeaderSection(r, h);
      } else {
        await skip(r, h.length);
      }
    }
  }

  private async respond(head: RequestHead, w: WritableStreamDefaultWriter<Uint8Array>): Promise<{ status: number; bytes: number; error?: string }> {
    const sendHead = (status: number, fields: HeaderField[]): Promise<void> =>
      w.write(encodeFrame(FRAME_HEADERS, encodeFieldSection([{ name: ':status', value: String(status) }, ...fields])));
    const sendError = async (status: number, why: string): Promise<{ status: number; bytes: number; error: string }> => {
      const body = new TextEncoder().encode(`${status} ${why}\n`);
      await sendHead(status, [
        { name: 'content-type', value: 'text/plain; charset=utf-8' },
        { name: 'content-length', value: String(body.length) },
      ]);
      if (head.method !== 'HEAD') await w.write(encodeFrame(FRAME_DATA, body));
      return { status, bytes: 0, error: why };
    };
    if (head.method !== 'GET' && head.method !== 'HEAD') return sendError(405, `method ${head.method} not allowed`);
    let file: string;
    try {
      file = await resolveFile(this.options.root, head.path);
    } catch (e) {
      if (e instanceof FileLookupError) return sendError(e.status, e.message);
      throw e;
    }
    const f = await openFile(file);
    try {
      await sendHead(200, [
        { name: 'content-length', value: String(f.size) },
        { name: 'content-type', value: 'application/octet-stream' },
      ]);
      if (head.method === 'HEAD' || f.size === 0) return { status: 200, bytes: 0 };
      await w.write(encodeFrameHeader(FRAME_DATA, f.size));
      await f.pipe(w);
      return { status: 200, bytes: f.size };
    } finally {
      await f.close();
    }
  }

  private onError(e: unknown, w: WritableStreamDefaultWriter<Uint8Array>, r: StreamReader): void {
    if (e instanceof H3Error && e.scope === 'connection') {
      this.conn.fail(e);
      return;
    }
    // A stream error: reset our half and stop theirs with its code (§8), leaving the connection.
    const code = e instanceof H3Error ? e.code : H3_INTERNAL_ERROR;
    void w.abort(code).catch(() => {});
    r.cancel(code);
  }
}
