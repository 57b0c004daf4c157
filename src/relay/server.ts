import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { WebSocket, WebSocketServer } from 'ws';
import {
  CLIENT_AUTH_HEADER,
  MAX_FRAME_SIZE,
  PROBE_PATH,
  RELAY_PATH,
  RelayProtocolError,
  SUBPROTOCOL_V1,
  SUBPROTOCOL_V2,
  decodeHandshake,
  encodeHandshake,
  encodeRelayToClient,
  verifyChallenge,
  verifyKeyMaterialAuthHeader,
  type ProtocolVersion,
} from './protocol.js';
import { ClientRegistry, RelayConnection, type RelayMetrics } from './server-conn.js';
import { loadWs, toBytes } from './ws.js';
import { DEFAULT_RELAY_LIMITS, checkLimits, type RelayLimits } from './limits.js';

export { DEFAULT_RELAY_LIMITS, type RelayLimits } from './limits.js';

export type { RelayMetrics } from './server-conn.js';

/** Options of `RelayServer.listen`. */
export interface RelayServerOptions {
  /** `ip:port` or `[ipv6]:port` to listen on; default `127.0.0.1:0` (a free port on loopback). */
  bind?: string;
  /** PEM certificate chain: with `key`, the relay serves https (and wss). */
  cert?: string | Buffer;
  /** PEM private key of `cert`. */
  key?: string | Buffer;
  /** Bounds (defaults: `DEFAULT_RELAY_LIMITS`). */
  limits?: Partial<RelayLimits>;
  /** Diagnostics, one line each (default: none). */
  log?: (line: string) => void;
}

/** How `close` ends the relay. */
export interface RelayCloseOptions {
  /** Send every client a Restarting frame first: reconnect in this many ms... */
  restartInMs?: number;
  /** ...and keep trying for this many ms. */
  tryForMs?: number;
}

/**
 * An iroh relay server (the iroh-relay v2 protocol, v1 accepted): `GET /ping` answers 200 and
 * `GET /relay` upgrades to a WebSocket that authenticates a client by its Ed25519 key (signed
 * challenge, or over TLS the keying-material header) and then forwards datagrams between the
 * clients by endpoint id. Real iroh nodes use it through `RelayMode.customFromUrls([server.url])`.
 */
export class RelayServer {
  /** `http://HOST:PORT` (or `https://`): the URL clients and iroh nodes are given (an all-interfaces bind shows its loopback address). */
  readonly url: string;
  /** The port listened on. */
  readonly port: number;
  private readonly registry: ClientRegistry;
  private readonly connections = new Set<RelayConnection>();
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private readonly sweep: NodeJS.Timeout;

  private constructor(
    private readonly http: HttpServer,
    private readonly wss: WebSocketServer,
    private readonly limits: RelayLimits,
    private readonly log: (line: string) => void,
    url: string,
    port: number,
  ) {
    this.url = url;
    this.port = port;
    this.registry = new ClientRegistry(limits, log);
    // One timer for every client's keep-alive (RelayConnection.tick): cheap, and nothing per client.
    this.sweep = setInterval(() => this.tick(), Math.min(1000, Math.max(50, Math.floor(limits.pongTimeoutMs / 4))));
    this.sweep.unref();
  }

  /** Listens and resolves once the port is bound. Throws on a bad option or a bind failure. */
  static async listen(opts: RelayServerOptions = {}): Promise<RelayServer> {
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`RelayServer.listen: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
    const limits = checkLimits({ ...DEFAULT_RELAY_LIMITS, ...opts.limits });
    const { host, port } = parseBind(opts.bind ?? '127.0.0.1:0');
    if ((opts.cert === undefined) !== (opts.key === undefined)) throw new TypeError('RelayServer: cert and key go together');
    const tls = opts.cert !== undefined && opts.key !== undefined;
    const { WebSocketServer: Wss } = await loadWs();
    const wss = new Wss({ noServer: true, maxPayload: MAX_FRAME_SIZE, perMessageDeflate: false, clientTracking: false });
    const http = tls ? createHttpsServer({ cert: opts.cert, key: opts.key }) : createHttpServer();
    // The HTTP part of the handshake is bounded too (slowloris): headers within the handshake timeout.
    http.headersTimeout = limits.handshakeTimeoutMs;
    http.requestTimeout = limits.handshakeTimeoutMs;
    http.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const addr = http.address() as AddressInfo;
    // An all-interfaces bind is named by its loopback address (the URL must be dialable).
    const ip = addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address === '::' ? '::1' : addr.address;
    const shownHost = ip.includes(':') ? `[${ip}]` : ip;
    const server = new RelayServer(http, wss, limits, opts.log ?? (() => {}), `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}`, addr.port);
    http.on('request', (req, res) => server.onRequest(req, res));
    http.on('upgrade', (req, socket, head) => server.onUpgrade(req, socket, head));
    http.on('connection', (s: Socket) => {
      server.sockets.add(s);
      s.once('close', () => server.sockets.delete(s));
    });
    http.on('tlsClientError', (err) => server.log(`tls: ${err.message}`));
    return server;
  }

  /** A snapshot of the counters (clients, frames and bytes forwarded, drops by cause). */
  get metrics(): RelayMetrics {
    return this.registry.snapshot(this.connections.size);
  }

  /**
   * Stops listening and disconnects every client (after a Restarting frame when asked: iroh's
   * clients ignore it, ours reconnect after `restartInMs`). Resolves once the port is free.
   */
  async close(opts: RelayCloseOptions = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.sweep);
    const restarting =
      opts.restartInMs !== undefined
        ? encodeRelayToClient({ type: 'restarting', reconnectInMs: opts.restartInMs, tryForMs: opts.tryForMs ?? 0 })
        : undefined;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    const conns = [...this.connections];
    for (const c of conns) c.shutdown(restarting);
    // The clients get a moment to read the Restarting and close frames and answer the close; then
    // every socket left (a slow client, a /ping keep-alive, a half-done upgrade) is cut.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(conns.map((c) => c.whenClosed())), new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    this.http.closeAllConnections?.();
    await closed;
  }

  // -------------------------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === PROBE_PATH) {
      // iroh's relays answer the probe with 200 and an empty body.
      res.writeHead(200, { 'content-length': '0' }).end();
    } else if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('quic-peer relay: an iroh relay server\n');
    } else if (path === RELAY_PATH) {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('upgrade to a WebSocket\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}); // a reset during the upgrade must not become an uncaught error
    const path = (req.url ?? '/').split('?')[0];
    if (this.closing) return refuse(socket, 503, 'relay closing');
    if (path !== RELAY_PATH) return refuse(socket, 404, 'not found');
    if (this.connections.size >= this.limits.maxClients) {
      this.registry.countDrop('tooManyClients');
      return refuse(socket, 503, 'too many clients');
    }
    const version = chooseVersion(req.headers['sec-websocket-protocol']);
    if (version === undefined) return refuse(socket, 400, 'no supported relay protocol (iroh-relay-v2, iroh-relay-v1) offered');
    const started = performance.now();
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const tlsSocket = (req.socket as Partial<TLSSocket>).exportKeyingMaterial ? (req.socket as TLSSocket) : undefined;
      this.onWebSocket(ws, version, req.headers[CLIENT_AUTH_HEADER], tlsSocket, started);
    });
  }

  private onWebSocket(ws: WebSocket, version: ProtocolVersion, authHeader: string | string[] | undefined, tls: TLSSocket | undefined, started: number): void {
    const conn = new RelayConnection(ws, version, this.registry, this.limits, this.log);
    this.connections.add(conn);
    ws.once('close', () => {
      this.connections.delete(conn);
      conn.onClosed();
    });
    ws.on('error', (err) => conn.onError(err));
    const timeout = setTimeout(() => {
      this.registry.countDrop('handshakeTimeout');
      conn.terminate(`handshake not done within ${this.limits.handshakeTimeoutMs} ms`);
    }, Math.max(0, this.limits.handshakeTimeoutMs - (performance.now() - started)));
    ws.once('close', () => clearTimeout(timeout));
    const accept = (id: Uint8Array, byKeyingMaterial: boolean): void => {
      clearTimeout(timeout);
      conn.send(encodeHandshake({ type: 'confirms' }));
      conn.authenticated(id, byKeyingMaterial);
    };
    // Over TLS a valid keying-material header skips the challenge (iroh handshake::serverside);
    // an invalid one falls back to the challenge.
    if (tls && typeof authHeader === 'string') {
      try {
        const id = verifyKeyMaterialAuthHeader(authHeader, (len, label, ctx) => new Uint8Array(tls.exportKeyingMaterial(len, label, Buffer.from(ctx))));
        return accept(id, true);
      } catch (e) {
        this.log(`keying-material auth failed (${e instanceof Error ? e.message : String(e)}), using the challenge`);
      }
    }
    const challenge = new Uint8Array(randomBytes(16));
    conn.send(encodeHandshake({ type: 'challenge', challenge }));
    ws.once('message', (data, isBinary) => {
      if (conn.closed) return;
      try {
        if (!isBinary) throw new RelayProtocolError('invalid', 'text message during the handshake');
        const msg = decodeHandshake(toBytes(data));
        if (msg.type !== 'clientAuth') throw new RelayProtocolError('unexpected-type', `expected ClientAuth, got ${msg.type}`);
        if (!verifyChallenge(msg.publicKey, msg.signature, challenge)) {
          clearTimeout(timeout);
          this.registry.countDrop('denied');
          conn.deny('signature invalid');
          return;
        }
        accept(msg.publicKey.slice(), false);
      } catch (e) {
        clearTimeout(timeout);
        this.registry.countDrop('malformed');
        conn.terminate(`bad handshake: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  private tick(): void {
    const now = performance.now();
    for (const c of this.connections) c.tick(now);
  }
}

/** The version to answer: v2 when offered, else v1 (iroh's servers prefer the newest). */
function chooseVersion(header: string | undefined): ProtocolVersion | undefined {
  const offered = (header ?? '').split(',').map((s) => s.trim());
  if (offered.includes(SUBPROTOCOL_V2)) return 2;
  if (offered.includes(SUBPROTOCOL_V1)) return 1;
  return undefined;
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** `ip:port`, `[ipv6]:port` or `:port` (all interfaces). */
export function parseBind(bind: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(bind.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TypeError(`RelayServer: bind "${bind}" is not ip:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
