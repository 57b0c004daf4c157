/**
 * hq-interop: HTTP/0.9 over QUIC as the QUIC interop runner uses it. A client opens one
 * bidirectional stream per file and sends `GET /path\r\n` then FIN; the server answers with the
 * file's bytes then FIN, or resets the stream when there is no such file (HTTP/0.9 has no status).
 */
import type { BidirectionalStream, Session } from '../index.js';
import { HttpRequestError } from './errors.js';
import { FileLookupError, resolveFile } from './files.js';
import { openFile, type FileServerOptions } from './serve-files.js';
import { StreamReader } from './stream-reader.js';

/** The ALPN of the interop runner's HTTP/0.9. */
export const HQ_ALPN = 'hq-interop';

/** The longest request line accepted. */
const MAX_REQUEST = 8 * 1024;

/** Stream reset codes of our hq-interop server (no standard exists; as quic-go's and quinn's: 1). */
export const HQ_ERROR_NOT_FOUND = 0x1;
export const HQ_ERROR_BAD_REQUEST = 0x2;
export const HQ_ERROR_INTERNAL = 0x3;

/** Serves hq-interop on `session` until it closes. */
export async function serveHq(session: Session, options: FileServerOptions): Promise<void> {
  try {
    for (let st = await session.nextBidiStream(); st; st = await session.nextBidiStream()) void handle(session, st, options);
  } catch {
    // the session closed
  }
}

/** `GET /path` (the first line; `\r` optional, anything after it ignored). */
export function parseHqRequest(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const line = text.split('\n')[0]?.replace(/\r$/, '') ?? '';
  const m = /^GET (\/\S*)\s*$/.exec(line);
  return m?.[1];
}

async function handle(session: Session, st: BidirectionalStream, options: FileServerOptions): Promise<void> {
  const r = new StreamReader(st.readable);
  const w = st.writable.getWriter();
  let path = '?';
  let status = 500;
  let bytes = 0;
  let error: string | undefined;
  try {
    const req = await r.readToEnd(MAX_REQUEST, () => new FileLookupError(400, `request over ${MAX_REQUEST} bytes`));
    const p = parseHqRequest(req);
    if (p === undefined) throw new FileLookupError(400, `not a 'GET /path' request`);
    path = p;
    const f = await openFile(await resolveFile(options.root, p));
    try {
      await f.pipe(w);
    } finally {
      await f.close();
    }
    await w.close();
    status = 200;
    bytes = f.size;
  } catch (e) {
    error = (e as Error).message;
    if (e instanceof FileLookupError) status = e.status;
    const code = e instanceof FileLookupError ? (e.status === 404 ? HQ_ERROR_NOT_FOUND : HQ_ERROR_BAD_REQUEST) : HQ_ERROR_INTERNAL;
    void w.abort(code).catch(() => {});
    r.cancel(code);
  } finally {
    options.onRequest?.({ alpn: HQ_ALPN, method: 'GET', path, status, bytes, remote: session.remoteAddress, ...(error !== undefined ? { error } : {}) });
  }
}

/** GETs `path` on its own stream and returns the body (at most `maxBytes`, default 1 GiB). */
export async function hqGet(session: Session, path: string, maxBytes = 2 ** 30): Promise<Uint8Array> {
  let st;
  try {
    st = await session.createBidirectionalStream();
  } catch (e) {
    throw new HttpRequestError(path, `cannot open a stream: ${(e as Error).message}`);
  }
  const w = st.writable.getWriter();
  const r = new StreamReader(st.readable);
  try {
    await w.write(new TextEncoder().encode(`GET ${path}\r\n`));
    void w.close().catch(() => {});
    return await r.readToEnd(maxBytes, () => new HttpRequestError(path, `body over the limit of ${maxBytes} bytes`));
  } catch (e) {
    if (e instanceof HttpRequestError) {
      r.cancel(0);
      throw e;
    }
    throw new HttpRequestError(path, (e as Error).message);
  }
}
