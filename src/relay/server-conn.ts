import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { toHex } from '../codec/bytes.js';
import {
  RelayProtocolError,
  RelayStatus,
  decodeClientToRelay,
  encodeHandshake,
  encodeRelayToClient,
  splitDatagrams,
  type ProtocolVersion,
} from './protocol.js';
import type { RelayLimits } from './limits.js';
import { toBytes } from './ws.js';

/**
 * The relay server's per-client state (`RelayConnection`) and the map of clients by endpoint id
 * (`ClientRegistry`), after iroh-relay's `server/{client,clients}.rs`: one active connection per
 * id (a newer one takes over and the older is told Status SameEndpointIdConnected, kept as
 * inactive, and promoted back with Status Healthy when the newer leaves); datagrams forwarded to
 * the destination's active connection; EndpointGone sent to the peers a leaving client had sent
 * to, and (as tailscale's DERP "peer gone, not here", which iroh 1.0 no longer does) to a client
 * sending to an id that is not connected.
 */

/** Counters of a relay server, as `RelayServer.metrics` returns them. */
export interface RelayMetrics {
  /** WebSocket connections open now (handshaking or authenticated). */
  connections: number;
  /** Authenticated clients now (active and inactive). */
  clients: number;
  /** Clients accepted (authenticated) since the start. */
  accepts: number;
  /** Authenticated clients gone since the start. */
  disconnects: number;
  /** Datagram frames forwarded (one batch = one frame). */
  framesForwarded: number;
  /** Datagrams forwarded (a batch counts its datagrams). */
  datagramsForwarded: number;
  /** Datagram bytes forwarded (contents only). */
  bytesForwarded: number;
  /** Times a client was paused by the rate limit. */
  rateLimited: number;
  /** Clients authenticated by a signed challenge. */
  authChallenge: number;
  /** Clients authenticated by the TLS keying-material header (no challenge). */
  authKeyingMaterial: number;
  /** What was dropped, by cause. */
  drops: {
    /** Datagram frames to an id that is not connected. */
    unknownDestination: number;
    /** Datagram frames to a client whose send queue was full. */
    queueFull: number;
    /** Connections closed for a malformed, oversized or unexpected frame. */
    malformed: number;
    /** Clients whose signature did not verify. */
    denied: number;
    /** Upgrades refused at maxClients. */
    tooManyClients: number;
    /** Connections that did not finish the handshake in time. */
    handshakeTimeout: number;
    /** Connections closed because no Pong came back. */
    pongTimeout: number;
  };
}

type DropCause = keyof RelayMetrics['drops'];

/** The clients by id, and the counters they share. */
export class ClientRegistry {
  private readonly byId = new Map<string, { active: RelayConnection; inactive: RelayConnection[] }>();
  private readonly m: Omit<RelayMetrics, 'connections' | 'clients'> = {
    accepts: 0,
    disconnects: 0,
    framesForwarded: 0,
    datagramsForwarded: 0,
    bytesForwarded: 0,
    rateLimited: 0,
    authChallenge: 0,
    authKeyingMaterial: 0,
    drops: { unknownDestination: 0, queueFull: 0, malformed: 0, denied: 0, tooManyClients: 0, handshakeTimeout: 0, pongTimeout: 0 },
  };
  private authenticated = 0;

  constructor(
    readonly limits: RelayLimits,
    readonly log: (line: string) => void,
  ) {}

  snapshot(connections: number): RelayMetrics {
    return { connections, clients: this.authenticated, ...this.m, drops: { ...this.m.drops } };
  }

  countDrop(cause: DropCause): void {
    this.m.drops[cause]++;
  }

  countRateLimited(): void {
    this.m.rateLimited++;
  }

  /** A client finished the handshake: it becomes the active connection of its id. */
  register(conn: RelayConnection, byKeyingMaterial: boolean): void {
    this.authenticated++;
    this.m.accepts++;
    if (byKeyingMaterial) this.m.authKeyingMaterial++;
    else this.m.authChallenge++;
    const state = this.byId.get(conn.key);
    if (!state) {
      this.byId.set(conn.key, { active: conn, inactive: [] });
      return;
    }
    // iroh Clients::register: the newer connection wins; the older hears SameEndpointIdConnected
    // and receives nothing more, but stays connected (and may still send) until it leaves.
    const old = state.active;
    state.active = conn;
    state.inactive.push(old);
    old.sendStatus(RelayStatus.SameEndpointIdConnected);
    this.log(`client ${conn.key.slice(0, 10)}: a second connection of the same id took over`);
  }

  /** An authenticated client left. */
  unregister(conn: RelayConnection): void {
    this.authenticated--;
    this.m.disconnects++;
    const state = this.byId.get(conn.key);
    if (!state) return;
    if (state.active !== conn) {
      state.inactive = state.inactive.filter((c) => c !== conn);
      return;
    }
    const next = state.inactive.pop();
    if (next) {
      state.active = next;
      next.sendStatus(RelayStatus.Healthy);
      return;
    }
    this.byId.delete(conn.key);
    // iroh Clients::unregister: tell the peers this client had sent to that it is gone.
    for (const peerKey of conn.sentTo) {
      this.byId.get(peerKey)?.active.sendControl(encodeRelayToClient({ type: 'endpointGone', id: conn.id }));
    }
  }

  /** Forwards datagrams from `src` to the active connection of `dst`; false when `dst` is not here. */
  forward(src: RelayConnection, dst: Uint8Array, ecn: number, segmentSize: number, contents: Uint8Array): boolean {
    const key = toHex(dst);
    const target = this.byId.get(key)?.active;
    if (!target) {
      this.m.drops.unknownDestination++;
      return false;
    }
    const frame = encodeRelayToClient({ type: 'datagrams', src: src.id, datagrams: { ecn, segmentSize, contents } });
    if (!target.sendDatagrams(frame)) {
      this.m.drops.queueFull++;
      return true;
    }
    src.noteSentTo(key);
    this.m.framesForwarded++;
    this.m.datagramsForwarded += segmentSize > 0 ? splitDatagrams({ ecn, segmentSize, contents }).length : 1;
    this.m.bytesForwarded += contents.length;
    return true;
  }
}

/** Most peers remembered per client for EndpointGone on its departure (iroh keeps them all). */
const MAX_SENT_TO = 4096;

/** One WebSocket connection of the relay server, from the upgrade to its close. */
export class RelayConnection {
  /** The endpoint id once authenticated (empty before). */
  id: Uint8Array = new Uint8Array(0);
  key = '';
  closed = false;
  /** Ids this client sent datagrams to (told EndpointGone when it leaves). */
  readonly sentTo = new Set<string>();
  private registered = false;
  private queued = 0;
  private tokens: number;
  private lastRefill = performance.now();
  private paused = false;
  private rateLimitTold = false;
  private lastRx = performance.now();
  private pingSentAt: number | undefined;
  private pingData: Uint8Array | undefined;
  /** Unknown destination -> when we last sent EndpointGone for it. */
  private goneSent = new Map<string, number>();

  constructor(
    private readonly ws: WebSocket,
    readonly version: ProtocolVersion,
    private readonly registry: ClientRegistry,
    private readonly limits: RelayLimits,
    private readonly log: (line: string) => void,
  ) {
    this.tokens = limits.clientRxBurstBytes;
  }

  /** The handshake succeeded: register and start relaying. */
  authenticated(id: Uint8Array, byKeyingMaterial: boolean): void {
    if (this.closed) return;
    this.id = id;
    this.key = toHex(id);
    this.registered = true;
    this.registry.register(this, byKeyingMaterial);
    this.lastRx = performance.now();
    this.ws.on('message', (data, isBinary) => this.onMessage(toBytes(data), isBinary));
  }

  /** Denies the client (frame 3 with a reason) and closes. */
  deny(reason: string): void {
    this.log(`denied a client: ${reason}`);
    this.send(encodeHandshake({ type: 'denies', reason }));
    this.close(1008, 'denied');
  }

  /** Sends a frame regardless of the queue (handshake frames). */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.queued++;
    this.ws.send(frame, { binary: true }, () => this.queued--);
  }

  /** Control frames (Pong, Status, EndpointGone): bounded at twice the datagram queue. */
  sendControl(frame: Uint8Array): void {
    if (this.queued < 2 * this.limits.sendQueueFrames) this.send(frame);
  }

  /** Datagram frames: dropped (false) when the client's queue is full, never blocking anyone. */
  sendDatagrams(frame: Uint8Array): boolean {
    if (this.closed || this.queued >= this.limits.sendQueueFrames) return false;
    this.send(frame);
    return true;
  }

  /** Status (v2) or its text as a Health frame (v1), as iroh's `try_send_health`. */
  sendStatus(status: number): void {
    if (this.version === 2) return this.sendControl(encodeRelayToClient({ type: 'status', status }));
    const text = status === RelayStatus.SameEndpointIdConnected ? 'Another endpoint connected with the same endpoint id. No more messages will be received.' : 'The connection is healthy';
    this.sendControl(encodeRelayToClient({ type: 'health', problem: text }));
  }

  noteSentTo(key: string): void {
    if (this.sentTo.size < MAX_SENT_TO || this.sentTo.has(key)) this.sentTo.add(key);
  }

  /** Keep-alive (called by the server's sweep): Ping after an idle interval, close without a Pong. */
  tick(now: number): void {
    if (this.closed || !this.registered) return;
    if (this.pingSentAt !== undefined) {
      if (now - this.pingSentAt > this.limits.pongTimeoutMs) {
        this.registry.countDrop('pongTimeout');
        this.terminate(`no Pong within ${this.limits.pongTimeoutMs} ms`);
      }
      return;
    }
    if (now - this.lastRx >= this.limits.pingIntervalMs) {
      this.pingData = new Uint8Array(randomBytes(8));
      this.pingSentAt = now;
      this.sendControl(encodeRelayToClient({ type: 'ping', data: this.pingData }));
    }
  }

  /** Closes with a Restarting frame first when given one. */
  shutdown(restarting: Uint8Array | undefined): void {
    if (restarting && this.registered) this.send(restarting);
    this.close(1001, 'relay shutting down');
  }

  /** Closes abruptly (a protocol violation or a timeout): the peer gets no more data. */
  terminate(why: string): void {
    if (this.closed) return;
    this.log(`closing client ${this.key.slice(0, 10) || '(unauthenticated)'}: ${why}`);
    this.closed = true;
    this.ws.terminate();
  }

  /** Resolves once the WebSocket is closed. */
  whenClosed(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
  }

  onError(err: Error): void {
    // ws reports oversized messages (over maxPayload) and bad WebSocket framing here, then closes.
    if (!this.closed) {
      this.registry.countDrop('malformed');
      this.log(`client ${this.key.slice(0, 10) || '(unauthenticated)'}: ${err.message}`);
    }
    this.closed = true;
  }

  onClosed(): void {
    this.closed = true;
    if (this.registered) {
      this.registered = false;
      this.registry.unregister(this);
    }
  }

  // -------------------------------------------------------------------------------------------

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(code, reason);
    // A peer that never completes the close handshake is cut after a while.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    this.lastRx = performance.now();
    this.chargeRateLimit(bytes.length);
    let msg;
    try {
      if (!isBinary) throw new RelayProtocolError('invalid', 'text WebSocket message');
      msg = decodeClientToRelay(bytes);
    } catch (e) {
      // A malformed or oversized frame costs this client its connection, nobody else anything.
      this.registry.countDrop('malformed');
      this.terminate(e instanceof Error ? e.message : String(e));
      return;
    }
    switch (msg.type) {
      case 'ping':
        this.sendControl(encodeRelayToClient({ type: 'pong', data: msg.data }));
        break;
      case 'pong':
        if (this.pingData && Buffer.compare(msg.data, this.pingData) === 0) this.pingSentAt = undefined;
        break;
      case 'datagrams': {
        const { ecn, segmentSize, contents } = msg.datagrams;
        if (!this.registry.forward(this, msg.dst, ecn, segmentSize, contents)) this.tellGone(msg.dst);
        break;
      }
    }
  }

  private tellGone(dst: Uint8Array): void {
    const key = toHex(dst);
    const now = performance.now();
    const last = this.goneSent.get(key);
    if (last !== undefined && now - last < this.limits.endpointGoneIntervalMs) return;
    if (this.goneSent.size >= 1024) this.goneSent.clear(); // bounded: forgetting only allows one more frame
    this.goneSent.set(key, now);
    this.sendControl(encodeRelayToClient({ type: 'endpointGone', id: dst }));
  }

  /** Token bucket over received bytes: over budget, stop reading this client until it refills. */
  private chargeRateLimit(n: number): void {
    const rate = this.limits.clientRxBytesPerSecond;
    if (rate === 0) return;
    const now = performance.now();
    this.tokens = Math.min(this.limits.clientRxBurstBytes, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    this.tokens -= n;
    if (this.tokens >= 0 || this.paused) return;
    this.paused = true;
    this.registry.countRateLimited();
    if (!this.rateLimitTold && this.version === 2) {
      this.rateLimitTold = true;
      this.sendControl(encodeRelayToClient({ type: 'status', status: RelayStatus.RateLimited }));
    }
    this.ws.pause();
    const waitMs = Math.ceil((-this.tokens * 1000) / rate);
    setTimeout(() => {
      this.paused = false;
      if (!this.closed) this.ws.resume();
    }, waitMs).unref();
  }
}
