/**
 * Sending a file from a served directory on a stream: the bytes of the file are read in pieces and
 * written as they come, so a large file never sits in memory whole. Shared by hq-interop and HTTP/3.
 */
import { promises as fs } from 'node:fs';

/** Bytes read from the file per write. */
export const FILE_CHUNK = 256 * 1024;

/** What a server did with one request, for its log. */
export interface ServedRequest {
  readonly alpn: string;
  readonly method: string;
  readonly path: string;
  /** The HTTP status (hq-interop has none on the wire: 200 when the file went, else the would-be status). */
  readonly status: number;
  /** Body bytes sent. */
  readonly bytes: number;
  readonly remote: string | undefined;
  /** Why the request failed, when it did. */
  readonly error?: string;
}

/** Options of the file servers (hq-interop and HTTP/3). */
export interface FileServerOptions {
  /** The directory served; requests may not leave it. */
  readonly root: string;
  /** Called once per request, after it was answered (or failed). */
  readonly onRequest?: (r: ServedRequest) => void;
}

export interface OpenFile {
  readonly size: number;
  /** Writes the whole file to `w` (not closing it), then closes the file. */
  pipe(w: WritableStreamDefaultWriter<Uint8Array>): Promise<void>;
  /** Closes the file without sending it (idempotent). */
  close(): Promise<void>;
}

/** Opens a file to send: its size (for content-length), and a way to pour it into a writer. */
export async function openFile(path: string): Promise<OpenFile> {
  const fh = await fs.open(path, 'r');
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => {});
  };
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (e) {
    await close();
    throw e;
  }
  const pipe = async (w: WritableStreamDefaultWriter<Uint8Array>): Promise<void> => {
    try {
      let pos = 0;
      while (pos < size) {
        const buf = new Uint8Array(Math.min(FILE_CHUNK, size - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break; // the file shrank under us: the length check of the peer tells
        pos += bytesRead;
        await w.ready;
        await w.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      }
    } finally {
      await close();
    }
  };
  return { size, pipe, close };
}
