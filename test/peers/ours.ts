/**
 * quic-peer's side of a matrix cell, through the public API only: an X.509 server endpoint serving
 * files (h3, hq-interop) and echo, and a client that dials a stack's server, fetches or echoes,
 * and checks what came back.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Endpoint, Session, type ConnectionStats, type TransportOptions } from '../../src/index.js';
import { FileServer, H3Client, hqGet } from '../../src/http/index.js';
import { echoDatagrams, echoStreams, serveEcho } from './echo.js';
import { OUR_PORT, SERVER_PORT, serverCert, type App, type CaseName, type Env } from './stacks.js';

export const CHACHA20 = 0x1303;
/** Our key update interval in the key update cases: often enough to see several in 1 MB. */
export const KEY_UPDATE_PACKETS = 20;

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const pem = (e: Env, name: string): string => readFileSync(join(e.certs, name), 'utf8');

/** Transport options of our side in case `c`, when our side is `role`. */
export function transportFor(c: CaseName, role: 'client' | 'server'): TransportOptions {
  return {
    ...(c === 'chacha20' && role === 'client' ? { cipherSuites: [CHACHA20] } : {}),
    ...((c === 'keyupdate' && role === 'client') || (c === 'keyupdate-s' && role === 'server') ? { keyUpdateIntervalPackets: KEY_UPDATE_PACKETS } : {}),
  };
}

/** Our server for a cell: every ALPN the stacks' clients speak, on 127.0.0.1:OUR_PORT. */
export class OurServer {
  readonly sessions: Session[] = [];
  private constructor(
    readonly endpoint: Endpoint,
    private readonly files: FileServer,
  ) {}

  static async start(c: CaseName, e: Env): Promise<OurServer> {
    const endpoint = await Endpoint.bind({
      bind: `127.0.0.1:${OUR_PORT}`,
      alpns: ['h3', 'hq-interop', 'echo'],
      retry: c === 'retry' ? 'always' : 'never',
      transport: transportFor(c, 'server'),
      tls: { mode: 'x509', cert: pem(e, serverCert(c).crt), key: pem(e, serverCert(c).key), ...(c === 'mutual' ? { clientCa: pem(e, 'ca.crt') } : {}) },
    });
    let server: OurServer | undefined;
    const files = new FileServer(endpoint, {
      root: e.www,
      onSession: (s) => server?.sessions.push(s),
      handlers: { echo: serveEcho },
    });
    server = new OurServer(endpoint, files);
    return server;
  }

  /** What the endpoint sent statelessly: Retry and Version Negotiation packets (its core's counters). */
  endpointStats(): { retriesSent: number; versionNegotiationsSent: number } {
    return this.endpoint.core.stats;
  }

  /** Stats of every session served (key updates are counted there). */
  stats(): ConnectionStats[] {
    return this.sessions.map((s) => s.getStats());
  }

  async stop(): Promise<void> {
    await this.files.stop().catch(() => {});
    await this.endpoint.close();
  }
}

/** What our client saw: a one-line summary and its session's stats. */
export interface ClientResult {
  detail: string;
  /** The server made us follow a Retry (read from the connection's internals: a test may). */
  retried: boolean;
  stats: ConnectionStats;
  peerCertificates: number;
  /** The resumption case: the second session resumed. */
  resumed: boolean;
  /** The zerortt case: the second session's early data was accepted. */
  earlyAccepted: boolean;
}

/** Dials the stack's server at 127.0.0.1:SERVER_PORT and runs the cell's application. */
export async function runOurClient(c: CaseName, app: App, e: Env, expect: Map<string, Uint8Array>, signal: AbortSignal): Promise<ClientResult> {
  const qlogDir = process.env['QP_MATRIX_QLOG']; // a qlog of our client's connections, for debugging a cell
  const endpoint = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, transport: transportFor(c, 'client'), ...(qlogDir ? { qlogDir } : {}) });
  const progress: string[] = [];
  try {
    return await abortable(clientWork(endpoint, c, app, e, expect, progress), signal);
  } catch (err) {
    if (signal.aborted && err === signal.reason) throw new Error(`${(err as Error).message}; done so far: ${progress.join(', ') || 'nothing'}`);
    throw err;
  } finally {
    await endpoint.close();
  }
}

/** `p`, or the signal's reason once it aborts (what `p` was doing is left to the caller's cleanup). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function clientWork(endpoint: Endpoint, c: CaseName, app: App, e: Env, expect: Map<string, Uint8Array>, progress: string[]): Promise<ClientResult> {
  // The resumption case: the same work twice from one endpoint; the second must resume.
  if (c === 'resumption') {
    const first = await sessionWork(endpoint, c, app, e, expect, progress);
    const second = await sessionWork(endpoint, c, app, e, expect, progress);
    return { ...second, detail: `${second.detail}; resumed: 1st ${first.resumed}, 2nd ${second.resumed}` };
  }
  // The zerortt case: the second connection's requests go in 0-RTT with a ticket of the first.
  if (c === 'zerortt') {
    await sessionWork(endpoint, c, app, e, expect, progress);
    const second = await sessionWork(endpoint, c, app, e, expect, progress, true);
    return { ...second, detail: `${second.detail}; 2nd: resumed ${second.resumed}, early data accepted ${second.earlyAccepted}` };
  }
  return sessionWork(endpoint, c, app, e, expect, progress);
}

async function sessionWork(endpoint: Endpoint, c: CaseName, app: App, e: Env, expect: Map<string, Uint8Array>, progress: string[], earlyData = false): Promise<ClientResult> {
  {
    const alpn = app === 'hq' ? 'hq-interop' : app;
    const s = await Session.connect(endpoint, `127.0.0.1:${SERVER_PORT}`, {
      alpn,
      serverName: 'localhost',
      timeoutMs: 10_000,
      ...(earlyData ? { earlyData } : {}),
      tls: { ca: pem(e, serverCert(c).ca), ...(c === 'mutual' ? { cert: pem(e, 'client.crt'), key: pem(e, 'client.key') } : {}) },
    });
    progress.push('connected');
    let detail: string;
    if (app === 'echo') {
      detail = c === 'datagrams' ? await echoDatagrams(s, 3) : await echoStreams(s, e.echo.streams, e.echo.size, progress);
    } else {
      const get =
        app === 'h3'
          ? await (async () => {
              const h3 = await H3Client.start(s);
              return async (p: string) => {
                const r = await h3.get(p, { authority: `localhost:${SERVER_PORT}` });
                if (r.status !== 200) throw new Error(`GET ${p}: status ${r.status}`);
                return r.body;
              };
            })()
          : (p: string) => hqGet(s, p);
      const bodies = await Promise.all(
        e.paths.map(async (p) => {
          const body = await get(p);
          progress.push(`${p} (${body.length} B)`);
          return [p, body] as const;
        }),
      );
      let bytes = 0;
      for (const [p, body] of bodies) {
        const want = expect.get(p);
        if (!want) throw new Error(`no expected content for ${p}`);
        if (sha(body) !== sha(want)) throw new Error(`${p}: ${body.length} bytes whose SHA-256 differs from the file's (${want.length} bytes)`);
        bytes += body.length;
      }
      detail = `${bodies.length} file(s), ${bytes} B, SHA-256 equal`;
    }
    const stats = s.getStats();
    const retried = s.state.conn.internals.handshake.retryScid !== undefined;
    const peerCertificates = s.peerCertificates?.length ?? 0;
    const resumed = s.resumed;
    await s.ready;
    const earlyAccepted = s.earlyDataAccepted;
    s.close({ closeCode: app === 'h3' ? 0x100 : 0, reason: '' });
    await Promise.race([s.closed, new Promise((r) => setTimeout(r, 500))]);
    return { detail, stats, peerCertificates, retried, resumed, earlyAccepted };
  }
}
