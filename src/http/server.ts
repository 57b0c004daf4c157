/**
 * A file server on an endpoint: every incoming session is served by the application protocol its
 * ALPN names (h3 or hq-interop). `stop()` ends each HTTP/3 session with GOAWAY.
 */
import type { Endpoint, Session } from '../index.js';
import { H3_ALPN } from './h3-connection.js';
import { serveH3, type H3ServerSession } from './h3-server.js';
import { HQ_ALPN, serveHq } from './hq.js';
import type { FileServerOptions } from './serve-files.js';

/** The ALPNs a file server speaks, in our order of preference. */
export const FILE_SERVER_ALPNS: readonly string[] = [H3_ALPN, HQ_ALPN];

export class FileServer {
  private readonly h3 = new Set<H3ServerSession>();
  private readonly sessions = new Set<Session>();
  private readonly done: Promise<void>;

  /**
   * Serves `endpoint`'s incoming sessions: h3 and hq-interop ones with files, those of another
   * ALPN with `handlers[alpn]` when given (else they are closed).
   */
  constructor(endpoint: Endpoint, options: FileServerOptions & { onSession?: (s: Session) => void; handlers?: Record<string, (s: Session) => void> }) {
    this.done = (async () => {
      for await (const s of endpoint) {
        options.onSession?.(s);
        void this.serve(s, options);
      }
    })();
  }

  private async serve(s: Session, options: FileServerOptions & { handlers?: Record<string, (s: Session) => void> }): Promise<void> {
    this.sessions.add(s);
    void s.closed.then(() => this.sessions.delete(s), () => this.sessions.delete(s));
    try {
      if (s.alpn === H3_ALPN) {
        const h = await serveH3(s, options);
        this.h3.add(h);
        void s.closed.then(() => this.h3.delete(h), () => this.h3.delete(h));
      } else if (s.alpn === HQ_ALPN) {
        await serveHq(s, options);
      } else if (options.handlers?.[s.alpn]) {
        options.handlers[s.alpn]!(s);
      } else {
        s.close({ closeCode: 0, reason: `no file service for ALPN ${s.alpn}` });
      }
    } catch {
      // the session closed while starting
    }
  }

  /** Sends GOAWAY on every HTTP/3 session and closes every session; the endpoint stays open. */
  async stop(): Promise<void> {
    await Promise.all([...this.h3].map((h) => h.stop()));
    for (const s of this.sessions) s.close({ closeCode: 0, reason: 'server stopping' });
  }

  /** Resolves when the endpoint stops giving sessions (it closed). */
  get finished(): Promise<void> {
    return this.done;
  }
}
