import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import { bytesEqual, toHex } from '../codec/bytes.js';
import {
  CLIENT_AUTH_HEADER,
  MAX_DATAGRAM_CONTENTS,
  MAX_FRAME_SIZE,
  PROBE_PATH,
  RELAY_PATH,
  RelayProtocolError,
  RelayStatus,
  SUBPROTOCOLS,
  decodeHandshake,
  decodeRelayToClient,
  encodeClientToRelay,
  encodeHandshake,
  keyMaterialAuthHeader,
  packDatagrams,
  protocolVersionOf,
  signChallenge,
  splitDatagrams,
  type ProtocolVersion,
  type RelayToClientMsg,
} from './protocol.js';
import { loadWs, toBytes } from './ws.js';

/**
 * The iroh relay client (iroh-relay 1.0.2's `client.rs` and iroh's relay actor, read, not
 * copied): one connection to one relay, kept up with reconnects, that sends and receives QUIC
 * datagrams addressed by endpoint id.
 *
 * How the connection is made: TCP, and TLS for `https`/`wss` URLs, then `GET /relay` upgraded to a
 * WebSocket with `sec-websocket-protocol: iroh-relay-v2, iroh-relay-v1` (the server must echo one).
 * For TLS the client opens the TLS socket itself and hands it to `ws` through its
 * `createConnection` option: the keying-material header (`x-iroh-relay-client-auth-v1`) needs the
 * finished TLS session BEFORE the upgrade request is written, and `ws` would only open its socket
 * while writing it. Without the header (plain http, or a server that rejects it) the server's
 * challenge is signed. Then frames: datagrams both ways (batches split on receipt, runs of
 * equal-size datagrams to one destination sent as one batch), Ping every 15 s with a 5 s Pong
 * deadline, Pong to the server's Pings, EndpointGone, Status, Restarting.
 */

/** The state of a relay client. */
export type RelayState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Why a relay connection failed. */
export type RelayErrorReason = 'unreachable' | 'ping' | 'handshake' | 'denied' | 'protocol' | 'timeout' | 'closed';

/** A relay connection failure: it names the relay URL and the cause. */
export class RelayError extends Error {
  /** Always `'RelayError'`. */
  override readonly name = 'RelayError';
  /** The relay's URL. */
  readonly url: string;
  /**
   * `unreachable` (TCP/TLS failed: refused, no route, certificate), `ping` (the `/ping` probe
   * failed), `handshake` (the HTTP upgrade or the protocol version was refused), `denied` (the
   * relay refused our key), `protocol` (a malformed frame from the relay), `timeout`, `closed`
   * (the client was closed).
   */
  readonly reason: RelayErrorReason;
  constructor(url: string, reason: RelayErrorReason, detail: string, options?: { cause?: unknown }) {
    super(`relay ${url}: ${detail}`, options);
    this.url = url;
    this.reason = reason;
  }
}

/** Options of a `RelayClient`. */
export interface RelayClientOptions {
  /** `http://127.0.0.1:3340` or `https://relay.example` (iroh's relay URL form); `ws://` and `wss://` too. The path is ignored: the client always asks for `/relay`. */
  url: string;
  /** Our 32-byte Ed25519 seed (the endpoint's secret key): the relay knows us by its public key. */
  secretKey: Uint8Array;
  /** One call per received QUIC datagram (batches are split). `datagram` may be kept: it is a view of a buffer of its own message. */
  onDatagram(src: Uint8Array, datagram: Uint8Array): void;
  /** The relay says `id` is not (or no longer) connected to it. */
  onEndpointGone?(id: Uint8Array): void;
  /** Every state change; `error` says why a connection attempt or a connection ended. */
  onStateChange?(state: RelayState, error?: RelayError): void;
  /** A Status frame (v2): 0 Healthy, 1 SameEndpointIdConnected (another connection of our id took over), 2 RateLimited. */
  onStatus?(status: number): void;
  /** Extra trust anchors (PEM) for https relays; default the system's roots. */
  ca?: string | Buffer;
  /** Probe `GET /ping` before each connection attempt (iroh probes before choosing a home relay). Default false. */
  probe?: boolean;
  /** Ping the relay this often (iroh: 15 s). */
  pingIntervalMs?: number;
  /** Reconnect when a Ping gets no Pong within this (iroh: 5 s). */
  pongTimeoutMs?: number;
  /** One connection attempt (TCP, TLS, upgrade, handshake) within this (iroh: 10 s). */
  connectTimeoutMs?: number;
  /** Reconnect backoff: first delay (iroh: 10 ms), doubling with jitter up to `backoffMaxMs` (iroh: 16 s). */
  backoffMinMs?: number;
  /** The longest reconnect delay (iroh: 16 s). */
  backoffMaxMs?: number;
  /** Datagrams queued for the end of the event-loop turn beyond which `send` drops (default 4096). */
  maxQueuedDatagrams?: number;
  /** Bytes buffered in the socket beyond which `send` drops (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Diagnostics, one line each. */
  log?: (line: string) => void;
}

const DEFAULTS = {
  pingIntervalMs: 15_000,
  pongTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  backoffMinMs: 10,
  backoffMaxMs: 16_000,
  maxQueuedDatagrams: 4096,
  maxBufferedBytes: 8 * 1024 * 1024,
};

interface Queued {
  dst: Uint8Array;
  key: string;
  data: Uint8Array;
}

/** A connection to one iroh relay, reconnected until `close()`. */
export class RelayClient {
  /** The relay URL, as given. */
  readonly url: string;
  private readonly opts: RelayClientOptions & typeof DEFAULTS;
  private readonly target: { tls: boolean; host: string; port: number };
  private st: RelayState = 'disconnected';
  private started = false;
  private ws: WebSocket | undefined;
  private version: ProtocolVersion = 2;
  private queue: Queued[] = [];
  private flushScheduled = false;
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private pingData: Uint8Array | undefined;
  private attempt = 0;
  private nextDelayMs = 0;
  private lastRetryMs = 0;
  private closedPromise: Promise<void> | undefined;

  constructor(opts: RelayClientOptions) {
    if (!(opts.secretKey instanceof Uint8Array) || opts.secretKey.length !== 32) throw new TypeError('RelayClient: secretKey must be 32 bytes');
    if (typeof opts.onDatagram !== 'function') throw new TypeError('RelayClient: onDatagram must be a function');
    this.url = opts.url;
    this.target = parseRelayUrl(opts.url);
    const o = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const v = opts[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`RelayClient: ${k} must be a non-negative number`);
      o[k] = v;
    }
    this.opts = { ...opts, ...o, secretKey: opts.secretKey.slice() };
  }

  /** The current state. */
  get state(): RelayState {
    return this.st;
  }

  /** The delay of the last reconnect scheduled (ms): for logs and tests. */
  get retryInMs(): number {
    return this.lastRetryMs;
  }

  /** Connects, and reconnects with exponential backoff (with jitter) until `close()`. Idempotent. */
  start(): void {
    if (this.started || this.st === 'closed') return;
    this.started = true;
    void this.connectOnce();
  }

  /**
   * Resolves once connected (at once when connected now). Rejects with a `RelayError` naming the
   * relay and the cause when the attempt under way (or the next one) fails, with reason `timeout`
   * after `timeoutMs`, `closed` when the client closes, or with the signal's reason on abort. The
   * client keeps reconnecting after a rejection.
   */
  connected(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    if (this.st === 'connected') return Promise.resolve();
    if (this.st === 'closed') return Promise.reject(new RelayError(this.url, 'closed', 'client closed'));
    const { signal, timeoutMs } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const w = {
        resolve: () => (done(), resolve()),
        reject: (e: unknown) => (done(), reject(e)),
      };
      const onAbort = (): void => w.reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => w.reject(new RelayError(this.url, 'timeout', `not connected within ${timeoutMs} ms`)), timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  /**
   * Queues one datagram for `dst` (a 32-byte endpoint id), copying it now (the caller may reuse
   * its buffer at once). Frames leave at the end of the event-loop turn; several equal-size
   * datagrams to one destination go as one batch frame. Returns false when the datagram is
   * dropped: not connected, or the queue or the socket's buffer is full.
   */
  send(dst: Uint8Array, datagram: Uint8Array): boolean {
    if (this.st !== 'connected' || !this.ws) return false;
    if (dst.length !== 32) throw new TypeError('RelayClient.send: dst must be a 32-byte endpoint id');
    if (this.queue.length >= this.opts.maxQueuedDatagrams || this.ws.bufferedAmount > this.opts.maxBufferedBytes) return false;
    if (datagram.length === 0 || datagram.length > MAX_DATAGRAM_CONTENTS) return false;
    this.queue.push({ dst: dst.slice(), key: toHex(dst), data: datagram.slice() });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Stops reconnecting and closes the connection. Resolves once the socket is closed. */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    this.setState('closed');
    this.stopTimers();
    clearTimeout(this.retryTimer);
    this.queue = [];
    for (const w of [...this.waiters]) w.reject(new RelayError(this.url, 'closed', 'client closed'));
    const ws = this.ws;
    this.ws = undefined;
    this.closedPromise = new Promise<void>((resolve) => {
      if (!ws || ws.readyState === ws.CLOSED) return resolve();
      const t = setTimeout(() => ws.terminate(), 1000);
      ws.once('close', () => (clearTimeout(t), resolve()));
      if (ws.readyState === ws.CONNECTING) ws.terminate();
      else ws.close(1000, 'closing');
    });
    return this.closedPromise;
  }

  // -------------------------------------------------------------------------------------------
  // Connecting

  private async connectOnce(): Promise<void> {
    if (this.st === 'closed') return;
    this.setState('connecting');
    const attempt = ++this.attempt;
    let ws: WebSocket | undefined;
    const deadline = setTimeout(() => {
      if (attempt === this.attempt && this.st === 'connecting') this.fail(new RelayError(this.url, 'timeout', `no connection within ${this.opts.connectTimeoutMs} ms`), ws);
    }, this.opts.connectTimeoutMs);
    try {
      if (this.opts.probe) await probeRelay(this.url, { timeoutMs: this.opts.connectTimeoutMs, ...(this.opts.ca !== undefined ? { ca: this.opts.ca } : {}) });
      const upgraded = await this.upgrade();
      ws = upgraded.ws;
      if (attempt !== this.attempt || this.st !== 'connecting') {
        ws.terminate();
        return;
      }
      this.ws = ws;
      await this.handshake(ws, upgraded.early);
      if (attempt !== this.attempt || this.st !== 'connecting') return;
      clearTimeout(deadline);
      this.onConnected(ws);
    } catch (e) {
      clearTimeout(deadline);
      if (attempt !== this.attempt || this.st !== 'connecting') return;
      this.fail(toRelayError(this.url, e), ws);
    }
  }

  /** TCP (+TLS), then the WebSocket upgrade; resolves with the open socket. */
  private async upgrade(): Promise<{ ws: WebSocket; early: Array<[Buffer | ArrayBuffer | Buffer[], boolean]> }> {
    const { WebSocket: Ws } = await loadWs();
    const { tls, host, port } = this.target;
    const headers: Record<string, string> = {};
    let tlsSocket: TLSSocket | undefined;
    if (tls) {
      tlsSocket = await openTls(host, port, this.opts.ca);
      const header = keyMaterialAuthHeader(this.opts.secretKey, (len, label, ctx) => {
        try {
          return new Uint8Array(tlsSocket!.exportKeyingMaterial(len, label, Buffer.from(ctx)));
        } catch {
          return undefined;
        }
      });
      if (header) headers[CLIENT_AUTH_HEADER] = header;
    }
    const hostPart = isIP(host) === 6 ? `[${host}]` : host;
    const wsUrl = `${tls ? 'wss' : 'ws'}://${hostPart}:${port}${RELAY_PATH}`;
    const socket = tlsSocket;
    const ws = new Ws(wsUrl, [...SUBPROTOCOLS], {
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_SIZE,
      headers,
      ...(socket ? { createConnection: () => socket } : {}),
    });
    // Errors are handled by the listeners of each phase; this one only keeps a late second error
    // (after a listener was removed) from becoming an uncaught exception.
    ws.on('error', () => {});
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.off('error', onError);
        ws.removeAllListeners('unexpected-response');
        // The server's challenge may come in the same read as the 101: keep what arrives before
        // the handshake listens (ws emits it before our continuation runs).
        const early: Array<[Buffer | ArrayBuffer | Buffer[], boolean]> = [];
        ws.on('message', (data, isBinary) => early.push([data, isBinary]));
        const version = protocolVersionOf(ws.protocol);
        if (version === undefined) {
          ws.terminate();
          reject(new RelayError(this.url, 'handshake', `the relay answered an unknown protocol version "${ws.protocol}"`));
          return;
        }
        this.version = version;
        resolve({ ws, early });
      });
      ws.once('unexpected-response', (_req, res) => {
        reject(new RelayError(this.url, 'handshake', `the upgrade was refused: HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim()));
        ws.terminate();
      });
      const onError = (err: Error): void => {
        // ws rejects a 101 without (or with an unrequested) sec-websocket-protocol here too.
        const subprotocol = /subprotocol/i.test(err.message);
        reject(subprotocol ? new RelayError(this.url, 'handshake', `bad version header: ${err.message}`) : toRelayError(this.url, err));
      };
      ws.on('error', onError);
    });
  }

  /** The relay handshake: a signed challenge, or a confirmation at once after the keying-material header. */
  private handshake(ws: WebSocket, early: Array<[Buffer | ArrayBuffer | Buffer[], boolean]>): Promise<void> {
    ws.removeAllListeners('message');
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        ws.off('message', onMessage);
        ws.off('close', onClose);
        ws.off('error', onError);
      };
      const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
        try {
          if (!isBinary) throw new RelayProtocolError('invalid', 'text message from the relay');
          const msg = decodeHandshake(toBytes(data));
          if (msg.type === 'challenge') {
            ws.send(encodeHandshake(signChallenge(this.opts.secretKey, msg.challenge)));
            return;
          }
          cleanup();
          if (msg.type === 'confirms') resolve();
          else if (msg.type === 'denies') reject(new RelayError(this.url, 'denied', `denied: ${msg.reason}`));
          else reject(new RelayError(this.url, 'protocol', `unexpected ${msg.type} from the relay`));
        } catch (e) {
          cleanup();
          reject(toRelayError(this.url, e));
        }
      };
      const onClose = (code: number): void => {
        cleanup();
        reject(new RelayError(this.url, 'handshake', `the relay closed the connection during the handshake (code ${code})`));
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(toRelayError(this.url, err));
      };
      ws.on('message', onMessage);
      ws.once('close', onClose);
      ws.once('error', onError);
      for (const [data, isBinary] of early.splice(0)) onMessage(data, isBinary);
    });
  }

  private onConnected(ws: WebSocket): void {
    ws.on('message', (data, isBinary) => this.onMessage(ws, toBytes(data), isBinary));
    ws.once('close', (code, reason) => {
      if (this.ws === ws) this.fail(new RelayError(this.url, 'closed', `connection closed by the relay (code ${code}${reason.length ? `, ${reason.toString()}` : ''})`), undefined);
    });
    ws.on('error', (err) => {
      if (this.ws === ws) this.fail(toRelayError(this.url, err), ws);
    });
    this.setState('connected');
    for (const w of [...this.waiters]) w.resolve();
    // A first Ping at once: its Pong proves the connection (iroh resets its backoff on a Pong).
    this.sendPing();
    this.pingTimer = setInterval(() => this.sendPing(), this.opts.pingIntervalMs);
    this.pingTimer.unref?.();
  }

  /** A connection attempt or a connection ended: report, and schedule the next attempt. */
  private fail(err: RelayError, ws: WebSocket | undefined, delayMs?: number): void {
    if (this.st === 'closed') return;
    this.stopTimers();
    this.attempt++;
    const current = this.ws;
    this.ws = undefined;
    for (const s of [ws, current]) if (s && s.readyState !== s.CLOSED) s.terminate();
    this.queue = [];
    this.opts.log?.(err.message);
    for (const w of [...this.waiters]) w.reject(err);
    this.setState('disconnected', err);
    this.scheduleRetry(delayMs);
  }

  private scheduleRetry(delayMs?: number): void {
    if (delayMs === undefined) {
      // Exponential backoff with full jitter on top (backon's with_jitter adds up to one delay).
      const base = this.nextDelayMs === 0 ? this.opts.backoffMinMs : Math.min(this.opts.backoffMaxMs, this.nextDelayMs * 2);
      this.nextDelayMs = base;
      delayMs = Math.min(this.opts.backoffMaxMs, base + Math.random() * base);
    } else {
      this.nextDelayMs = 0;
    }
    const wait = Math.round(delayMs);
    this.retryTimer = setTimeout(() => void this.connectOnce(), wait);
    this.lastRetryMs = wait;
  }

  // -------------------------------------------------------------------------------------------
  // Connected

  private onMessage(ws: WebSocket, bytes: Uint8Array, isBinary: boolean): void {
    if (this.ws !== ws) return;
    let msg: RelayToClientMsg;
    try {
      if (!isBinary) throw new RelayProtocolError('invalid', 'text message from the relay');
      msg = decodeRelayToClient(bytes, this.version);
    } catch (e) {
      this.fail(toRelayError(this.url, e), ws);
      return;
    }
    switch (msg.type) {
      case 'datagrams':
        for (const d of splitDatagrams(msg.datagrams)) this.callback(() => this.opts.onDatagram(msg.src, d));
        break;
      case 'endpointGone':
        this.callback(() => this.opts.onEndpointGone?.(msg.id.slice()));
        break;
      case 'ping':
        ws.send(encodeClientToRelay({ type: 'pong', data: msg.data }));
        break;
      case 'pong':
        if (this.pingData && bytesEqual(msg.data, this.pingData)) {
          clearTimeout(this.pongTimer);
          this.pongTimer = undefined;
          this.pingData = undefined;
          this.nextDelayMs = 0; // the connection works: the next failure backs off from the start
        }
        break;
      case 'status':
        this.opts.log?.(`relay ${this.url}: status ${statusText(msg.status)}`);
        this.callback(() => this.opts.onStatus?.(msg.status));
        break;
      case 'health':
        this.opts.log?.(`relay ${this.url}: ${msg.problem}`);
        break;
      case 'restarting':
        // Reconnect after its delay; iroh's own client ignores this frame and backs off from 10 ms.
        this.fail(new RelayError(this.url, 'closed', `the relay is restarting (reconnect in ${msg.reconnectInMs} ms, for ${msg.tryForMs} ms)`), ws, msg.reconnectInMs);
        break;
    }
  }

  private sendPing(): void {
    const ws = this.ws;
    if (!ws || this.pongTimer) return;
    this.pingData = new Uint8Array(randomBytes(8));
    ws.send(encodeClientToRelay({ type: 'ping', data: this.pingData }));
    this.pongTimer = setTimeout(() => {
      if (this.ws === ws) this.fail(new RelayError(this.url, 'timeout', `no Pong within ${this.opts.pongTimeoutMs} ms`), ws);
    }, this.opts.pongTimeoutMs);
  }

  private flush(): void {
    this.flushScheduled = false;
    const ws = this.ws;
    const queue = this.queue;
    this.queue = [];
    if (!ws || this.st !== 'connected' || queue.length === 0) return;
    // Group by destination (first-seen order), keeping each destination's datagrams in order.
    const byDst = new Map<string, { dst: Uint8Array; data: Uint8Array[] }>();
    for (const q of queue) {
      const g = byDst.get(q.key);
      if (g) g.data.push(q.data);
      else byDst.set(q.key, { dst: q.dst, data: [q.data] });
    }
    for (const { dst, data } of byDst.values()) {
      for (const datagrams of packDatagrams(data)) ws.send(encodeClientToRelay({ type: 'datagrams', dst, datagrams }));
    }
  }

  private callback(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.opts.log?.(`relay ${this.url}: a callback threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private setState(state: RelayState, err?: RelayError): void {
    if (this.st === state && !err) return;
    this.st = state;
    this.callback(() => (err ? this.opts.onStateChange?.(state, err) : this.opts.onStateChange?.(state)));
  }

  private stopTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
    this.pingData = undefined;
  }
}

/**
 * Probes a relay with `GET /ping` (iroh probes before choosing a home relay, and never uses a
 * relay that does not answer 200). Resolves with the round-trip time in ms; rejects with a
 * `RelayError` (reason `ping`, or `timeout`).
 */
export async function probeRelay(url: string, opts: { timeoutMs?: number; ca?: string | Buffer; signal?: AbortSignal } = {}): Promise<number> {
  const { tls, host, port } = parseRelayUrl(url);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const request = tls ? httpsRequest : httpRequest;
    const req = request(
      {
        host,
        port,
        path: PROBE_PATH,
        method: 'GET',
        timeout: timeoutMs,
        agent: false,
        ...(tls && isIP(host) === 0 ? { servername: host } : {}),
        ...(tls && opts.ca !== undefined ? { ca: opts.ca } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (res) => {
        res.resume();
        res.once('end', () => {
          if (res.statusCode === 200) resolve(performance.now() - started);
          else reject(new RelayError(url, 'ping', `GET ${PROBE_PATH} answered HTTP ${res.statusCode ?? '?'}`));
        });
        res.once('error', (e) => reject(new RelayError(url, 'ping', `GET ${PROBE_PATH} failed: ${e.message}`, { cause: e })));
      },
    );
    req.once('timeout', () => {
      req.destroy();
      reject(new RelayError(url, 'timeout', `GET ${PROBE_PATH}: no answer within ${timeoutMs} ms`));
    });
    req.once('error', (e) => {
      if (opts.signal?.aborted) reject(opts.signal.reason);
      else reject(new RelayError(url, 'ping', `GET ${PROBE_PATH} failed: ${describeNetError(e)}`, { cause: e }));
    });
    req.end();
  });
}

/** `http(s)://` or `ws(s)://` host and port; throws TypeError on anything else. */
export function parseRelayUrl(url: string): { tls: boolean; host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`not a relay URL: "${url}"`);
  }
  const tls = u.protocol === 'https:' || u.protocol === 'wss:';
  if (!tls && u.protocol !== 'http:' && u.protocol !== 'ws:') throw new TypeError(`relay URL "${url}": the scheme must be http, https, ws or wss`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (host === '') throw new TypeError(`relay URL "${url}" has no host`);
  return { tls, host, port: u.port === '' ? (tls ? 443 : 80) : Number(u.port) };
}

function openTls(host: string, port: number, ca: string | Buffer | undefined): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({
      host,
      port,
      ALPNProtocols: ['http/1.1'],
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(ca !== undefined ? { ca } : {}),
    });
    s.once('secureConnect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function toRelayError(url: string, e: unknown): RelayError {
  if (e instanceof RelayError) return e;
  if (e instanceof RelayProtocolError) return new RelayError(url, 'protocol', `malformed frame from the relay: ${e.message}`, { cause: e });
  const err = e instanceof Error ? e : new Error(String(e));
  return new RelayError(url, 'unreachable', describeNetError(err), { cause: err });
}

function describeNetError(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return `connection refused (${e.message})`;
  if (code === 'ECONNRESET') return `connection reset (${e.message})`;
  return e.message;
}

function statusText(status: number): string {
  if (status === RelayStatus.Healthy) return 'healthy';
  if (status === RelayStatus.SameEndpointIdConnected) return 'another connection of our endpoint id took over';
  if (status === RelayStatus.RateLimited) return 'rate-limited';
  return `unknown (${status})`;
}
