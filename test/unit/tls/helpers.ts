import assert from 'node:assert/strict';
import { Level, type TlsConfig, type TlsEngine, type TlsEvent } from '../../../src/tls/engine.js';
import { TlsAlert } from '../../../src/tls/alerts.js';
import { TlsClient } from '../../../src/tls/client.js';
import { TlsServer } from '../../../src/tls/server.js';
import { ed25519PublicKey } from '../../../src/tls/crypto.js';
import { SeededRandom } from '../../../src/tls/random.js';

/** Test helpers for in-memory handshakes between our client and server. */

export const CLIENT_SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const SERVER_SEED = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
export const CLIENT_KEY = ed25519PublicKey(CLIENT_SEED);
export const SERVER_KEY = ed25519PublicKey(SERVER_SEED);
export const CLIENT_TP = Uint8Array.of(0x0f, 0x04, 1, 2, 3, 4);
export const SERVER_TP = Uint8Array.of(0x0f, 0x08, 9, 8, 7, 6, 5, 4, 3, 2);

export function clientConfig(over: Partial<TlsConfig> = {}, seed = 1): TlsConfig {
  return {
    secretKey: CLIENT_SEED,
    certificateType: 'rawPublicKey',
    alpnProtocols: ['test/1'],
    transportParameters: CLIENT_TP,
    expectedPeerKey: SERVER_KEY,
    random: new SeededRandom(seed),
    ...over,
  };
}

export function serverConfig(over: Partial<TlsConfig> = {}, seed = 2): TlsConfig {
  return {
    secretKey: SERVER_SEED,
    certificateType: 'rawPublicKey',
    alpnProtocols: ['test/1'],
    transportParameters: SERVER_TP,
    random: new SeededRandom(seed),
    ...over,
  };
}

/** Drains an engine's events. */
export function drain(e: TlsEngine): TlsEvent[] {
  const out: TlsEvent[] = [];
  for (let ev = e.pollEvent(); ev; ev = e.pollEvent()) out.push(ev);
  return out;
}

/** A compact description of an event for order assertions. */
export function describe_(ev: TlsEvent): string {
  const lv = ['Initial', 'EarlyData', 'Handshake', 'Application'];
  switch (ev.kind) {
    case 'writeData':
    case 'readSecret':
    case 'writeSecret':
      return `${ev.kind}(${lv[ev.level]})`;
    default:
      return ev.kind;
  }
}

/** Rewrites bytes in flight: return the bytes to deliver instead. */
export type Tamper = (from: 'client' | 'server', level: Level, data: Uint8Array, index: number) => Uint8Array;

export interface RunResult {
  client: TlsClient;
  server: TlsServer;
  clientEvents: TlsEvent[];
  serverEvents: TlsEvent[];
  /** The alert that stopped the handshake, and on which side it was raised. */
  error?: { side: 'client' | 'server'; alert: TlsAlert };
}

/**
 * Runs a handshake in memory. `chunk` splits each flight into pieces of that many bytes (1:
 * byte by byte). Returns every event each side emitted, in order.
 */
export function runHandshake(
  cc: TlsConfig,
  sc: TlsConfig,
  opts: { chunk?: number; tamper?: Tamper } = {},
): RunResult {
  const client = new TlsClient(cc);
  const server = new TlsServer(sc);
  const res: RunResult = { client, server, clientEvents: [], serverEvents: [] };
  const queue: Array<{ to: 'client' | 'server'; level: Level; data: Uint8Array }> = [];
  let index = 0;
  const collect = (side: 'client' | 'server'): void => {
    const e = side === 'client' ? client : server;
    for (const ev of drain(e)) {
      (side === 'client' ? res.clientEvents : res.serverEvents).push(ev);
      if (ev.kind === 'writeData') {
        const data = opts.tamper ? opts.tamper(side, ev.level, ev.data, index++) : ev.data;
        queue.push({ to: side === 'client' ? 'server' : 'client', level: ev.level, data });
      }
    }
  };
  client.start();
  collect('client');
  while (queue.length > 0) {
    const m = queue.shift()!;
    const target = m.to === 'client' ? client : server;
    const step = opts.chunk ?? m.data.length;
    try {
      for (let i = 0; i < m.data.length; i += Math.max(1, step)) {
        target.handleData(m.level, m.data.subarray(i, i + Math.max(1, step)));
      }
    } catch (e) {
      assert.ok(e instanceof TlsAlert, `non-TlsAlert thrown: ${String(e)}`);
      collect(m.to);
      res.error = { side: m.to, alert: e };
      return res;
    }
    collect(m.to);
  }
  return res;
}

/** Runs a handshake expected to fail; returns the alert. */
export function expectFailure(cc: TlsConfig, sc: TlsConfig, opts: { tamper?: Tamper } = {}): { side: string; alert: number } {
  const r = runHandshake(cc, sc, opts);
  assert.ok(r.error, 'handshake unexpectedly succeeded');
  return { side: r.error.side, alert: r.error.alert.alert };
}

/** A ClientHello message (as the client's Initial-level writeData carries it), taken apart and put back. */
export interface ParsedHello {
  prefix: Uint8Array; // version+random
  sid: Uint8Array;
  middle: Uint8Array; // suites + compression
  exts: Array<[number, Uint8Array]>;
}

export function parseHello(data: Uint8Array): ParsedHello {
  const body = data.subarray(4);
  let p = 34;
  const sidLen = body[p]!;
  const sid = body.subarray(p + 1, p + 1 + sidLen);
  p += 1 + sidLen;
  const csLen = (body[p]! << 8) | body[p + 1]!;
  const compLen = body[p + 2 + csLen]!;
  const middle = body.subarray(p, p + 2 + csLen + 1 + compLen);
  p += 2 + csLen + 1 + compLen;
  const exts: Array<[number, Uint8Array]> = [];
  const end = p + 2 + ((body[p]! << 8) | body[p + 1]!);
  p += 2;
  while (p < end) {
    const t = (body[p]! << 8) | body[p + 1]!;
    const l = (body[p + 2]! << 8) | body[p + 3]!;
    exts.push([t, body.subarray(p + 4, p + 4 + l)]);
    p += 4 + l;
  }
  return { prefix: body.subarray(0, 34), sid, middle, exts };
}

export function buildHello(h: ParsedHello): Uint8Array {
  const extBytes: number[] = [];
  for (const [t, d] of h.exts) extBytes.push(t >> 8, t & 0xff, d.length >> 8, d.length & 0xff, ...d);
  const body = [...h.prefix, h.sid.length, ...h.sid, ...h.middle, extBytes.length >> 8, extBytes.length & 0xff, ...extBytes];
  return Uint8Array.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff, ...body]);
}

export function dropExtension(data: Uint8Array, type: number): Uint8Array {
  const h = parseHello(data);
  h.exts = h.exts.filter(([t]) => t !== type);
  return buildHello(h);
}

export function replaceExtension(data: Uint8Array, type: number, body: Uint8Array): Uint8Array {
  const h = parseHello(data);
  h.exts = h.exts.map(([t, d]) => [t, t === type ? body : d]);
  return buildHello(h);
}
