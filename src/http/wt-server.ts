/**
 * A WebTransport server: an endpoint speaking HTTP/3 with X.509 whose incoming extended CONNECTs
 * on the served paths become `Session`s of kind 'webtransport' (`for await (const s of server)`), others 404.
 * `WebTransportServer.listen()` makes the endpoint and, without a certificate, one browsers accept
 * by hash (`serverCertificateHashes`): ECDSA P-256 valid 13 days (W3C WebTransport §4.3 asks at
 * most 14 and an ECDSA key; Chromium refuses RSA and longer ones).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { Endpoint, generateSelfSigned, type EndpointOptions, type Session } from '../index.js';
import { H3_ALPN } from './h3-connection.js';
import { WtConnection } from './wt-connection.js';
import type { WebTransportRequest, WebTransportSession } from './wt-session.js';

export interface WebTransportServerOptions {
  /** The paths served (query strings ignored), or a predicate; default every path. */
  readonly paths?: readonly string[] | ((path: string, request: WebTransportRequest) => boolean);
  /** WEBTRANSPORT_MAX_SESSIONS we announce (draft-07); default 16. */
  readonly maxSessions?: number;
}

export interface WebTransportListenOptions extends WebTransportServerOptions {
  /** Address(es) to bind; default '127.0.0.1:0'. */
  readonly bind?: string | readonly string[];
  /** A certificate chain and key (PEM) to serve; default a generated one for `names`. */
  readonly cert?: string;
  readonly key?: string;
  /** Names of the generated certificate; default localhost, 127.0.0.1 and ::1. */
  readonly names?: readonly string[];
  /** Other endpoint options (transport, keylog...). */
  readonly endpoint?: Omit<EndpointOptions, 'bind' | 'tls' | 'alpns'>;
}

/** The certificate a browser accepts by hash: ECDSA P-256, valid 13 days. */
export async function generateWebTransportCertificate(names: readonly string[] = ['localhost', '127.0.0.1', '::1']): Promise<{ cert: string; key: string; hash: string }> {
  const g = await generateSelfSigned({ names, keyType: 'ecdsa-p256', validDays: 13 });
  return { cert: g.cert, key: g.key, hash: certificateHash(g.cert) };
}

/** SHA-256 of a PEM certificate's DER, hex (what `serverCertificateHashes` takes, as bytes). */
export function certificateHash(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

export class WebTransportServer {
  readonly endpoint: Endpoint;
  /** SHA-256 of the served certificate (hex), when `listen` knows it. */
  readonly certificateHash: string | undefined;
  private readonly queue: WebTransportSession[] = [];
  private readonly waiters: Array<(s: WebTransportSession | null) => void> = [];
  private readonly connections = new Set<WtConnection>();
  private ended = false;
  private readonly loop: Promise<void>;

  /** Serves WebTransport on every incoming h3 session of `endpoint` (bound with alpns ['h3'] and X.509). */
  constructor(endpoint: Endpoint, options: WebTransportServerOptions = {}, certificateHashHex?: string) {
    this.endpoint = endpoint;
    this.certificateHash = certificateHashHex;
    const paths = options.paths;
    const route = (req: WebTransportRequest): number => {
      const path = req.path.split('?')[0] ?? '';
      if (paths === undefined) return 200;
      if (typeof paths === 'function') return paths(path, req) ? 200 : 404;
      return paths.includes(path) ? 200 : 404;
    };
    this.loop = (async () => {
      try {
        for await (const quic of endpoint) void this.serve(quic, route, options.maxSessions);
      } finally {
        this.ended = true;
        for (const w of this.waiters.splice(0)) w(null);
      }
    })();
  }

  /** Binds an endpoint for WebTransport (h3, X.509) and serves it. */
  static async listen(options: WebTransportListenOptions = {}): Promise<WebTransportServer> {
    let cert = options.cert;
    let key = options.key;
    if ((cert === undefined) !== (key === undefined)) throw new TypeError('WebTransportServer.listen: give both cert and key, or neither');
    if (cert === undefined) ({ cert, key } = await generateWebTransportCertificate(options.names));
    const ep = await Endpoint.bind({
      ...options.endpoint,
      // A page opens many streams at once (and the CONNECT stream counts): more than QUIC's default 100.
      transport: { ...options.endpoint?.transport, streams: { maxConcurrentBidiStreams: 1000, maxConcurrentUniStreams: 1000, ...options.endpoint?.transport?.streams } },
      bind: options.bind ?? '127.0.0.1:0',
      alpns: [H3_ALPN],
      tls: { mode: 'x509', cert, key: key as string },
    });
    return new WebTransportServer(ep, options, certificateHash(cert));
  }

  private async serve(quic: Session, route: (r: WebTransportRequest) => number, maxSessions: number | undefined): Promise<void> {
    if (quic.alpn !== H3_ALPN) return quic.close({ closeCode: 0x10b, reason: `ALPN ${quic.alpn} is not served` });
    try {
      const c = await WtConnection.start(quic, 'server', { route, onSession: (s) => this.push(s), ...(maxSessions !== undefined ? { maxSessions } : {}) });
      this.connections.add(c);
      void quic.closed.then(() => this.connections.delete(c));
    } catch {
      // the connection closed while starting
    }
  }

  private push(s: WebTransportSession): void {
    const w = this.waiters.shift();
    if (w) w(s);
    else this.queue.push(s);
  }

  /** The next session, or null once the endpoint closed. */
  accept(): Promise<WebTransportSession | null> {
    const s = this.queue.shift();
    if (s) return Promise.resolve(s);
    if (this.ended) return Promise.resolve(null);
    return new Promise((r) => this.waiters.push(r));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WebTransportSession> {
    for (let s = await this.accept(); s; s = await this.accept()) yield s;
  }

  /** `https://host:port/` of the first bound address (`[::1]` bracketed). */
  url(path = '/'): string {
    const a = this.endpoint.boundAddresses[0] ?? '127.0.0.1:0';
    return `https://${a}${path}`;
  }

  /** Closes every connection and the endpoint. */
  async close(): Promise<void> {
    for (const c of this.connections) void c.h3.close();
    await this.endpoint.close();
    await this.loop.catch(() => {});
  }
}
