import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { toHex } from '../../src/codec/bytes.js';
import { publicKeyOf } from '../../src/tls/identity.js';
import { RelayClient, RelayError, probeRelay, type RelayClientOptions, type RelayState } from '../../src/relay/client.js';
import { RelayServer, type RelayServerOptions } from '../../src/relay/server.js';
import {
  RelayStatus,
  decodeHandshake,
  decodeRelayToClient,
  encodeClientToRelay,
  encodeHandshake,
  signChallenge,
  type RelayToClientMsg,
} from '../../src/relay/protocol.js';
import { sleep, within } from './util.js';

/**
 * Our RelayClient against our RelayServer on 127.0.0.1 (real TCP, bounded waits). Every fault
 * test checks that the other clients keep working.
 */

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const idOf = (n: number): Uint8Array => publicKeyOf(seed(n));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not true within ${ms} ms`);
    await sleep(5);
  }
}

/** A client with an inbox, started and connected. */
class Peer {
  readonly inbox: Array<{ src: string; data: Uint8Array }> = [];
  readonly gone: string[] = [];
  readonly statuses: number[] = [];
  readonly states: Array<[RelayState, RelayError | undefined]> = [];
  readonly client: RelayClient;
  constructor(
    url: string,
    readonly n: number,
    extra: Partial<RelayClientOptions> = {},
  ) {
    this.client = new RelayClient({
      url,
      secretKey: seed(n),
      onDatagram: (src, data) => this.inbox.push({ src: toHex(src), data: data.slice() }),
      onEndpointGone: (id) => this.gone.push(toHex(id)),
      onStatus: (s) => this.statuses.push(s),
      onStateChange: (s, e) => this.states.push([s, e]),
      ...extra,
    });
  }
  get id(): Uint8Array {
    return idOf(this.n);
  }
  static async connect(url: string, n: number, extra: Partial<RelayClientOptions> = {}): Promise<Peer> {
    const p = new Peer(url, n, extra);
    p.client.start();
    await within(p.client.connected(), 5000, `client ${n} connects`);
    return p;
  }
}

/** A raw WebSocket to the relay that does the handshake by hand (for faults the client never makes). */
async function rawClient(url: string, n: number, opts: { badSignature?: boolean } = {}): Promise<{ ws: WebSocket; frames: RelayToClientMsg[]; result: string }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/relay', ['iroh-relay-v2']);
  const frames: RelayToClientMsg[] = [];
  ws.on('error', () => {});
  const result = await within(
    new Promise<string>((resolve) => {
      let authed = false;
      ws.on('message', (data: Buffer) => {
        const b = new Uint8Array(data);
        if (authed) return frames.push(decodeRelayToClient(b));
        const msg = decodeHandshake(b);
        if (msg.type === 'challenge') {
          const auth = signChallenge(seed(n), msg.challenge);
          if (opts.badSignature) auth.signature[0]! ^= 1;
          ws.send(encodeHandshake(auth));
        } else if (msg.type === 'confirms') {
          authed = true;
          resolve('ok');
        } else if (msg.type === 'denies') resolve(`denied: ${msg.reason}`);
      });
      ws.on('close', () => resolve('closed'));
    }),
    5000,
    'raw handshake',
  );
  return { ws, frames, result };
}

function closedOf(ws: WebSocket): Promise<number> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve(0);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('relay: our client <-> our server on loopback', function () {
  this.timeout(30_000);
  let server: RelayServer;
  const peers: Peer[] = [];
  const servers: RelayServer[] = [];

  async function listen(opts: RelayServerOptions = {}): Promise<RelayServer> {
    const s = await RelayServer.listen({ bind: '127.0.0.1:0', ...opts });
    servers.push(s);
    return s;
  }
  async function peer(n: number, url = server.url, extra: Partial<RelayClientOptions> = {}): Promise<Peer> {
    const p = await Peer.connect(url, n, extra);
    peers.push(p);
    return p;
  }
  async function exchange(a: Peer, b: Peer, tag: number): Promise<void> {
    const before = b.inbox.length;
    assert.ok(a.client.send(b.id, Uint8Array.of(tag, 1, 2, 3)));
    await until(() => b.inbox.length > before, 5000, `datagram ${tag} from ${a.n} to ${b.n}`);
    const got = b.inbox[b.inbox.length - 1]!;
    assert.equal(got.src, toHex(a.id));
    assert.deepEqual([...got.data], [tag, 1, 2, 3]);
  }

  beforeEach(async () => {
    server = await listen();
  });
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.client.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('answers GET /ping (probeRelay), and a probe of a closed port fails naming the relay', async () => {
    const rtt = await probeRelay(server.url);
    assert.ok(rtt >= 0);
    const dead = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(probeRelay(dead), (e: unknown) => e instanceof RelayError && e.reason === 'ping' && e.message.includes(dead) && /refused/.test(e.message));
  });

  it('two clients exchange datagrams, single and batched (a batch is one frame, split on receipt)', async () => {
    const a = await peer(1);
    const b = await peer(2);
    await exchange(a, b, 10);
    await exchange(b, a, 11);
    const framesBefore = server.metrics.framesForwarded;
    // Five equal-size datagrams and a shorter one in one turn: one type-5 batch, six datagrams out.
    for (let i = 0; i < 5; i++) assert.ok(a.client.send(b.id, new Uint8Array(1200).fill(i)));
    assert.ok(a.client.send(b.id, new Uint8Array(700).fill(5)));
    const start = b.inbox.length;
    await until(() => b.inbox.length === start + 6, 5000, 'batch');
    assert.deepEqual(b.inbox.slice(start).map((d) => [d.data.length, d.data[0]]), [[1200, 0], [1200, 1], [1200, 2], [1200, 3], [1200, 4], [700, 5]]);
    const m = server.metrics;
    assert.equal(m.framesForwarded - framesBefore, 1);
    assert.equal(m.clients, 2);
    assert.ok(m.datagramsForwarded >= 8);
    // The caller's buffer may be reused at once: send copies.
    const buf = new Uint8Array(100).fill(7);
    a.client.send(b.id, buf);
    buf.fill(0);
    await until(() => b.inbox.length === start + 7, 5000, 'copied datagram');
    assert.equal(b.inbox[start + 6]!.data[0], 7);
  });

  it('EndpointGone for an unknown id, and for a peer that leaves', async () => {
    const a = await peer(1);
    const unknown = idOf(99);
    a.client.send(unknown, Uint8Array.of(1));
    await until(() => a.gone.length === 1, 5000, 'EndpointGone');
    assert.equal(a.gone[0], toHex(unknown));
    assert.equal(server.metrics.drops.unknownDestination, 1);
    // iroh Clients::unregister: a leaving client's EndpointGone goes to the ids it had sent to.
    const b = await peer(2);
    await exchange(b, a, 1);
    await b.client.close();
    await until(() => a.gone.includes(toHex(b.id)), 5000, 'EndpointGone of a leaving peer');
  });

  it('a wrong signature is denied (frame 3) and the other clients keep working', async () => {
    const a = await peer(1);
    const b = await peer(2);
    const bad = await rawClient(server.url, 3, { badSignature: true });
    assert.equal(bad.result, 'denied: signature invalid');
    await closedOf(bad.ws);
    assert.equal(server.metrics.drops.denied, 1);
    await exchange(a, b, 1);
  });

  it('denial reaches RelayClient.connected() as reason "denied"', async () => {
    // A relay that denies everyone: a raw server answering the challenge with a denial.
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'iroh-relay-v2' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => ws.send(encodeHandshake({ type: 'denies', reason: 'not on the list' })));
    const url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const c = new RelayClient({ url, secretKey: seed(1), onDatagram: () => {} });
    c.start();
    await assert.rejects(c.connected({ timeoutMs: 5000 }), (e: unknown) => e instanceof RelayError && e.reason === 'denied' && e.message.includes('not on the list') && e.message.includes(url));
    await c.close();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('a relay that does not echo the subprotocol is refused (reason "handshake")', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => false });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const c = new RelayClient({ url, secretKey: seed(1), onDatagram: () => {} });
    c.start();
    await assert.rejects(c.connected({ timeoutMs: 5000 }), (e: unknown) => e instanceof RelayError && e.reason === 'handshake');
    await c.close();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('connected() to a closed port rejects "unreachable", naming the relay; the client keeps retrying until closed', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const c = new RelayClient({ url, secretKey: seed(1), onDatagram: () => {} });
    c.start();
    await assert.rejects(c.connected({ timeoutMs: 5000 }), (e: unknown) => e instanceof RelayError && e.reason === 'unreachable' && e.message.includes(url) && /refused/.test(e.message));
    assert.equal(c.send(idOf(2), Uint8Array.of(1)), false, 'send while not connected drops');
    await c.close();
    assert.equal(c.state, 'closed');
    await assert.rejects(c.connected(), (e: unknown) => e instanceof RelayError && e.reason === 'closed');
  });

  it('oversized and malformed frames cost only their sender its connection', async () => {
    const a = await peer(1);
    const b = await peer(2);
    const cases: Array<[string, Uint8Array | string]> = [
      ['unknown frame type', Uint8Array.of(0x0e)],
      ['handshake frame after the handshake', Uint8Array.of(2)],
      ['truncated datagram frame', Uint8Array.of(4, 1, 2, 3)],
      ['Ping of 3 bytes', Uint8Array.of(9, 1, 2, 3)],
      ['payload over 64 KiB', (() => {
        const f = new Uint8Array(1 + 32 + 1 + 65_536);
        f[0] = 4;
        return f;
      })()],
      ['message over 1 MiB', new Uint8Array(1024 * 1024 + 10).fill(4, 0, 1)],
      ['text message', 'hello'],
    ];
    let malformed = server.metrics.drops.malformed;
    for (const [name, frame] of cases) {
      const raw = await rawClient(server.url, 3);
      assert.equal(raw.result, 'ok', name);
      raw.ws.send(frame);
      await within(closedOf(raw.ws), 5000, `${name}: the relay closes that client`);
      await until(() => server.metrics.drops.malformed === malformed + 1, 2000, `${name}: counted`);
      malformed++;
      await exchange(a, b, 1);
    }
  });

  it('a flooding client is throttled by the rate limit; the others` datagrams still flow', async () => {
    await server.close();
    server = await listen({ limits: { clientRxBytesPerSecond: 256 * 1024, clientRxBurstBytes: 64 * 1024 } });
    const a = await peer(1);
    const b = await peer(2);
    const victim = await peer(3);
    const flooder = await rawClient(server.url, 4);
    const frame = encodeClientToRelay({ type: 'datagrams', dst: victim.id, datagrams: { ecn: 0, segmentSize: 0, contents: new Uint8Array(60_000) } });
    let flooding = true;
    const pump = (async () => {
      while (flooding && flooder.ws.readyState === flooder.ws.OPEN) {
        if (flooder.ws.bufferedAmount < 4 * 1024 * 1024) flooder.ws.send(frame);
        else await sleep(1);
        if (Math.random() < 0.05) await sleep(0);
      }
    })();
    await until(() => server.metrics.rateLimited > 0, 5000, 'the flooder is rate-limited');
    for (let i = 0; i < 20; i++) {
      await exchange(a, b, i);
      await exchange(b, a, i);
    }
    flooding = false;
    await pump;
    assert.equal(flooder.frames.filter((f) => f.type === 'status' && f.status === RelayStatus.RateLimited).length, 1);
    flooder.ws.terminate();
  });

  it('a second connection with the same id takes over; the older hears Status SameEndpointIdConnected, then Healthy', async () => {
    const a = await peer(1);
    const first = await peer(2);
    const second = await Peer.connect(server.url, 2);
    await until(() => first.statuses.includes(RelayStatus.SameEndpointIdConnected), 5000, 'Status to the older connection');
    assert.deepEqual(second.statuses, []);
    await exchange(a, second, 1);
    assert.equal(first.inbox.length, 0, 'the older connection receives nothing more');
    await second.client.close();
    await until(() => first.statuses.includes(RelayStatus.Healthy), 5000, 'Healthy when the newer leaves');
    await exchange(a, first, 2);
  });

  it('server killed and restarted on the same port: the client reconnects with backoff and datagrams flow again', async () => {
    const port = server.port;
    const a = await peer(1);
    const b = await peer(2);
    await exchange(a, b, 1);
    await server.close();
    await until(() => a.client.state !== 'connected' && b.client.state !== 'connected', 5000, 'clients see the relay go');
    await sleep(200); // a few failed attempts, backing off
    assert.ok(a.states.some(([s, e]) => s === 'disconnected' && e?.reason === 'unreachable'), 'a failed reconnect attempt was reported');
    server = await listen({ bind: `127.0.0.1:${port}` });
    await within(Promise.all([a.client.connected(), b.client.connected()]), 20_000, 'reconnect');
    await exchange(a, b, 2);
    await exchange(b, a, 3);
  });

  it('a Restarting frame is honoured: the client waits its delay before reconnecting', async () => {
    const port = server.port;
    const a = await peer(1);
    await server.close({ restartInMs: 300, tryForMs: 5000 });
    await until(() => a.client.state === 'disconnected', 5000, 'disconnected');
    assert.equal(a.client.retryInMs, 300);
    assert.ok(a.states.some(([, e]) => e?.message.includes('restarting')));
    server = await listen({ bind: `127.0.0.1:${port}` });
    await within(a.client.connected(), 10_000, 'reconnect after Restarting');
    const b = await peer(2);
    await exchange(b, a, 1);
  });

  it('bounds: max clients (HTTP 503), handshake timeout, per-client send queue', async () => {
    await server.close();
    server = await listen({ limits: { maxClients: 2, handshakeTimeoutMs: 300, sendQueueFrames: 8, clientRxBytesPerSecond: 0 } });
    const a = await peer(1);
    // A raw connection that never answers the challenge is cut at the handshake timeout.
    const slow = new WebSocket(server.url.replace('http', 'ws') + '/relay', ['iroh-relay-v2']);
    slow.on('error', () => {});
    await within(closedOf(slow), 5000, 'handshake timeout');
    assert.equal(server.metrics.drops.handshakeTimeout, 1);
    const b = await peer(2);
    // A third connection is refused while two are open.
    const c = new RelayClient({ url: server.url, secretKey: seed(3), onDatagram: () => {} });
    c.start();
    await assert.rejects(c.connected({ timeoutMs: 5000 }), (e: unknown) => e instanceof RelayError && e.reason === 'handshake' && /503/.test(e.message));
    await c.close();
    assert.ok(server.metrics.drops.tooManyClients >= 1);
    await b.client.close();
    await until(() => server.metrics.connections === 1, 5000, 'b gone');
    // A receiver that does not read: its queue fills and the relay drops, without blocking the sender.
    const stuck = await rawClient(server.url, 5);
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = new Uint8Array(60_000);
    for (let i = 0; i < 400; i++) {
      a.client.send(idOf(5), big);
      await sleep(0);
    }
    await until(() => server.metrics.drops.queueFull > 0, 10_000, 'queue-full drops');
    stuck.ws.terminate();
  });

  it('keep-alive: the server cuts a client that answers no Ping; the client reconnects when the relay answers no Ping', async () => {
    await server.close();
    server = await listen({ limits: { pingIntervalMs: 100, pongTimeoutMs: 200 } });
    const a = await peer(1);
    // A raw client that never answers the relay's Ping is cut after the Pong timeout.
    const mute = await rawClient(server.url, 2);
    await within(closedOf(mute.ws), 5000, 'the relay cuts a client without Pongs');
    assert.ok(mute.frames.some((f) => f.type === 'ping'));
    assert.equal(server.metrics.drops.pongTimeout, 1);
    // Our client answers the relay's Pings and stays.
    await sleep(400);
    assert.equal(a.client.state, 'connected');
    // A relay that completes the handshake but never answers our Ping: the client gives up on it.
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'iroh-relay-v2' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => ws.send(encodeHandshake({ type: 'confirms' })));
    const url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const states: Array<RelayError | undefined> = [];
    const c = new RelayClient({ url, secretKey: seed(3), onDatagram: () => {}, pongTimeoutMs: 200, onStateChange: (_s, e) => states.push(e) });
    c.start();
    await within(c.connected(), 5000, 'connects to the mute relay');
    await until(() => states.some((e) => e?.reason === 'timeout' && /no Pong within 200 ms/.test(e.message)), 5000, 'Pong timeout');
    await c.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('protocol v1: a client offering only v1 gets v1 (and Health text instead of Status); no known version gets HTTP 400', async () => {
    const a = await peer(1);
    const v1 = new WebSocket(server.url.replace('http', 'ws') + '/relay', ['iroh-relay-v1']);
    v1.on('error', () => {});
    const frames: Uint8Array[] = [];
    v1.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
    await within(new Promise<void>((r) => v1.once('open', () => r())), 5000, 'v1 upgrade');
    assert.equal(v1.protocol, 'iroh-relay-v1');
    await until(() => frames.length >= 1, 5000, 'challenge');
    const ch = decodeHandshake(frames[0]!);
    assert.ok(ch.type === 'challenge');
    v1.send(encodeHandshake(signChallenge(seed(2), ch.challenge)));
    await until(() => frames.length >= 2, 5000, 'confirmation');
    // A second connection of id 2 takes over: the v1 one hears a Health frame (type 11), not Status.
    const second = await peer(2);
    await until(() => frames.length >= 3, 5000, 'Health');
    const health = decodeRelayToClient(frames[2]!, 1);
    assert.ok(health.type === 'health' && /same endpoint id/i.test(health.problem), JSON.stringify(health));
    await exchange(a, second, 1);
    v1.terminate();
    // No version we know: refused before the upgrade.
    const none = new WebSocket(server.url.replace('http', 'ws') + '/relay', ['iroh-relay-v9']);
    const status = await within(
      new Promise<number>((resolve) => {
        none.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        none.on('error', () => resolve(-1));
      }),
      5000,
      'refusal',
    );
    assert.equal(status, 400);
  });

  it('a malformed frame from the relay: the client drops that connection (reason "protocol") and reconnects', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'iroh-relay-v2' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.send(encodeHandshake({ type: 'confirms' }));
      if (connections === 1) setTimeout(() => ws.send(Uint8Array.of(0x0d)), 20); // an empty Status frame
    });
    const url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
    const errors: RelayError[] = [];
    const c = new RelayClient({ url, secretKey: seed(3), onDatagram: () => {}, onStateChange: (_s, e) => e && errors.push(e) });
    c.start();
    await until(() => connections >= 2 && c.state === 'connected', 5000, 'reconnected');
    assert.equal(errors[0]?.reason, 'protocol');
    assert.match(errors[0]!.message, /malformed frame from the relay: empty Status frame/);
    await c.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('probe: true probes GET /ping first; a relay failing it is refused with reason "ping"', async () => {
    const { createServer: createHttp } = await import('node:http');
    const http = createHttp((_req, res) => res.writeHead(500).end());
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    const c = new RelayClient({ url, secretKey: seed(1), onDatagram: () => {}, probe: true });
    c.start();
    await assert.rejects(c.connected({ timeoutMs: 5000 }), (e: unknown) => e instanceof RelayError && e.reason === 'ping' && /HTTP 500/.test(e.message));
    await c.close();
    await new Promise<void>((r) => http.close(() => r()));
    // Against our relay the probe passes.
    await peer(2, server.url, { probe: true });
  });

  it('https with a self-signed certificate: the keying-material header authenticates (no challenge)', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ], { stdio: 'ignore' });
      const cert = readFileSync(join(dir, 'cert.pem'));
      const key = readFileSync(join(dir, 'key.pem'));
      await server.close();
      server = await listen({ cert, key });
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok((await probeRelay(server.url, { ca: cert })) >= 0);
      const a = await peer(1, server.url, { ca: cert });
      const b = await peer(2, server.url.replace('https', 'wss'), { ca: cert });
      await exchange(a, b, 1);
      assert.equal(server.metrics.authKeyingMaterial, 2);
      assert.equal(server.metrics.authChallenge, 0);
      // Without the CA the certificate is refused: reason unreachable, naming the relay.
      const c = new RelayClient({ url: server.url, secretKey: seed(3), onDatagram: () => {} });
      c.start();
      await assert.rejects(c.connected({ timeoutMs: 5000 }), (e: unknown) => e instanceof RelayError && e.reason === 'unreachable' && e.message.includes(server.url));
      await c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
