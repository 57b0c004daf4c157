/**
 * An HTTP/3 client on one session (RFC 9114): GET requests, one request stream each, any number
 * at once. A request is HEADERS (:method, :scheme https, :authority, :path) then FIN; the response
 * is interim 1xx sections (skipped), HEADERS, DATA frames, optional trailers. The body must match
 * content-length when the server sent one (§4.1.2).
 */
import { H3Error, HttpRequestError, H3_FRAME_UNEXPECTED, H3_MESSAGE_ERROR, H3_REQUEST_CANCELLED, h3ErrorName } from './errors.js';
import { FRAME_DATA, FRAME_HEADERS, encodeFrame } from './h3-frames.js';
import { H3Connection } from './h3-connection.js';
import { contentLength, nextMessageFrame, parseResponseHead, readHeaderSection, skip } from './h3-message.js';
import { encodeFieldSection } from './qpack.js';
import { StreamReader } from './stream-reader.js';
import type { Session } from '../index.js';
import type { HeaderField } from './qpack.js';

/** A response: status, fields (pseudo-headers removed) and the whole body. */
export interface H3Response {
  readonly status: number;
  readonly fields: readonly HeaderField[];
  readonly body: Uint8Array;
}

/** Options of {@link H3Client.get}. */
export interface H3GetOptions {
  /** `:authority` (host[:port]) of the request. */
  readonly authority: string;
  /** The most body bytes accepted (default 1 GiB): beyond it the request is cancelled. */
  readonly maxBodyBytes?: number;
}

export class H3Client {
  readonly conn: H3Connection;

  private constructor(conn: H3Connection) {
    this.conn = conn;
  }

  /** Opens our control and QPACK streams on a session whose ALPN is h3. */
  static async start(session: Session): Promise<H3Client> {
    return new H3Client(await H3Connection.start(session, 'client'));
  }

  /** GET `path`; rejects with an HttpRequestError (status, reset, closed connection...). */
  async get(path: string, options: H3GetOptions): Promise<H3Response> {
    const limit = options.maxBodyBytes ?? 2 ** 30;
    let st;
    try {
      st = await this.conn.session.createBidirectionalStream();
    } catch (e) {
      throw new HttpRequestError(path, `cannot open a request stream: ${(e as Error).message}`);
    }
    const request: HeaderField[] = [
      { name: ':method', value: 'GET' },
      { name: ':scheme', value: 'https' },
      { name: ':authority', value: options.authority },
      { name: ':path', value: path },
      { name: 'user-agent', value: 'quic-peer' },
    ];
    const w = st.writable.getWriter();
    const r = new StreamReader(st.readable);
    try {
      await w.write(encodeFrame(FRAME_HEADERS, encodeFieldSection(request)));
      void w.close().catch(() => {});
      return await this.readResponse(r, path, limit);
    } catch (e) {
      if (e instanceof H3Error) {
        if (e.scope === 'connection') this.conn.fail(e);
        else {
          r.cancel(e.code);
          void w.abort(e.code).catch(() => {});
        }
        throw new HttpRequestError(path, e.message);
      }
      if (e instanceof HttpRequestError) {
        r.cancel(H3_REQUEST_CANCELLED);
        throw e;
      }
      const code = (e as { code?: unknown }).code;
      const why = this.conn.error ? this.conn.error.message : typeof code === 'number' || typeof code === 'bigint' ? `${(e as Error).message} (${h3ErrorName(code)})` : (e as Error).message;
      throw new HttpRequestError(path, why);
    }
  }

  private async readResponse(r: StreamReader, path: string, limit: number): Promise<H3Response> {
    let head;
    for (;;) {
      const h = await nextMessageFrame(r);
      if (h === null) throw new H3Error(H3_MESSAGE_ERROR, 'response stream ended before HEADERS', 'stream');
      if (h.type !== FRAME_HEADERS) throw new H3Error(H3_FRAME_UNEXPECTED, 'DATA before HEADERS in a response');
      head = parseResponseHead(await readHeaderSection(r, h));
      if (head.status >= 200) break; // §4.1: 1xx interim responses precede the final one
    }
    const expected = contentLength(head.fields);
    const chunks: Uint8Array[] = [];
    let total = 0;
    let trailers = false;
    for (let h = await nextMessageFrame(r); h; h = await nextMessageFrame(r)) {
      if (trailers) throw new H3Error(H3_FRAME_UNEXPECTED, 'a frame after the trailers');
      if (h.type === FRAME_HEADERS) {
        trailers = true;
        await readHeaderSection(r, h);
        continue;
      }
      if (h.type !== FRAME_DATA) {
        await skip(r, h.length);
        continue;
      }
      if (total + h.length > limit) throw new HttpRequestError(path, `body over the limit of ${limit} bytes`, head.status);
      let left = h.length;
      while (left > 0) {
        const c = await r.readSome(left);
        if (c === null) throw new H3Error(H3_MESSAGE_ERROR, 'the stream ended inside a DATA frame', 'stream');
        chunks.push(c);
        left -= c.length;
        total += c.length;
      }
    }
    if (expected !== undefined && expected !== total) {
      throw new H3Error(H3_MESSAGE_ERROR, `content-length ${expected} but ${total} body bytes`, 'stream');
    }
    const body = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      body.set(c, off);
      off += c.length;
    }
    return { status: head.status, fields: head.fields, body };
  }

  /** Closes the session: GOAWAY (push id 0: we allow no pushes) and H3_NO_ERROR. */
  close(): Promise<void> {
    return this.conn.close(0);
  }
}
