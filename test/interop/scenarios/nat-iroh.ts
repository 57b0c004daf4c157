/**
 * Scenario (runs INSIDE a loopback-only namespace, see ../iroh.ts): iroh's n0 NAT traversal
 * between quic-peer and a real iroh node, started through OUR relay with addresses that carry
 * only the relay URL, both directions. quic-peer offers multipath and NAT traversal
 * (TransportConfig.multipath; natTraversal follows it).
 *
 *  1. quic-peer dials an iroh rpc node (home relay ours) by a relay-only ticket and, as soon as
 *     the session is up, writes `--bytes` (default 256 KiB) on a stream that iroh reads and hashes;
 *  2. the iroh node dials a quic-peer endpoint (home relay ours) by id and relay URL, and writes
 *     `--bytes` on a stream that quic-peer reads to the end.
 *
 * Each direction watches both sides' paths for `--watch-ms` (default 6000) from the moment the
 * connection is up (iroh's `conn.paths()`, our `session.paths()`), the transfer running
 * meanwhile, then reports: what NAT traversal negotiated, the NAT traversal frames and
 * PATH_CHALLENGE / PATH_RESPONSE frames each way with their time (from our qlog), our NAT
 * traversal counters, both sides' paths over time and when each first had a direct path
 * selected, whether the transfer was byte-exact, and how many bytes the relay forwarded.
 * `--max-path-id N` is our initial_max_path_id (default 0: neither side may open another path).
 * `--block-direct` drops every datagram our endpoint receives from a direct (UDP) address: a NAT
 * that lets nothing in, the connection must stay on the relay.
 * `--kill-direct-at-ms N`: N ms after our side first selected a direct path (the transfer running
 * on it), our endpoint stops sending and receiving direct (UDP) datagrams, both ways: the direct
 * path dies mid-transfer and the rest must go through the relay, byte-exact (`killed`: when, ms
 * from the start of the transfer, and our paths at that moment).
 *
 *   prints: { url, toIroh: {...}, fromIroh: {...}, elapsedMs }
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayServer } from '../../../src/relay/server.js';
import { encodeEndpointTicket } from '../../../src/session/addressing.js';
import { Endpoint } from '../../../src/session/endpoint.js';
import { Session } from '../../../src/session/session.js';
import { readAll, writeAll } from '../../../src/session/stream-io.js';
import { EndpointId } from '../../../src/tls/identity.js';
import { assertIsolated } from '../netns.js';
import { emitResult } from '../iroh.js';
import { IrohRpc, type IrohInfo } from '../iroh-rpc.js';
import { errorInfo, withTimeout } from '../peer.js';

assertIsolated(); // before anything binds an iroh endpoint

const alpn = 'quic-peer/nat';
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const watchMs = Number(arg('--watch-ms', '6000'));
const payloadBytes = Number(arg('--bytes', String(256 * 1024)));
const blocked = process.argv.includes('--block-direct');
const killAtMs = Number(arg('--kill-direct-at-ms', '-1'));
/** Our initial_max_path_id (TransportConfig.multipathMaxPathId): iroh opens path ids up to it. */
const maxPathId = Number(arg('--max-path-id', '0'));
const transport = { multipath: true, multipathMaxPathId: maxPathId };
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
interface CreditView { used: number; limit: number }
interface StreamsView {
  connSend: CreditView;
  streams: Map<number, { send?: { writeOffset: number; sentOffset: number; ackedOffset: number; buffered: number; hasDataToSend: boolean; credit: CreditView; state: unknown } }>;
}
interface Conn { getStats(): { natTraversal: unknown; bytesSent: number; packetsLost: number; packetsDropped: number; paths?: unknown }; internals: { handshake: { multipath: unknown } } }
const connOf = (s: Session): Conn => (s as unknown as { state: { conn: Conn } }).state.conn;

interface PathFigures { pathId: number; bytesSent: number; bytesReceived: number; ptoCount: number; bytesInFlight: number; cwnd: number; abandoned: boolean }
/**
 * Every 250 ms until `stop()`, each path's figures as one compact string per sample (KB sent /
 * received, PTO count, KB in flight / congestion window): a stalled transfer shows which path
 * waited and on what (a backed-off PTO, a full window).
 */
function timeline(s: Session): { stop(): string[] } {
  const out: string[] = [];
  const t0 = performance.now();
  const kb = (n: number): number => Math.round(n / 1024);
  const timer = setInterval(() => {
    const paths = (connOf(s).getStats().paths ?? []) as PathFigures[];
    const each = paths.map((x) => `${x.pathId}${x.abandoned ? 'x' : ''}:${kb(x.bytesSent)}/${kb(x.bytesReceived)} pto${x.ptoCount} ${kb(x.bytesInFlight)}/${kb(x.cwnd)}`);
    out.push(`${Math.round(performance.now() - t0)} ${each.join(' | ')}`);
  }, 250);
  return { stop: () => (clearInterval(timer), out) };
}

/** NAT traversal and path frames in our qlog (sent and received), with ms since the trace began. */
function natFrames(dir: string): Array<{ t: number; dir: 'in' | 'out'; frame: Record<string, unknown> }> {
  const out: Array<{ t: number; dir: 'in' | 'out'; frame: Record<string, unknown> }> = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\x1e')) {
      if (!line.includes('packet_')) continue;
      const e = JSON.parse(line) as { time: number; name: string; data?: { frames?: Array<Record<string, unknown>> } };
      const d = e.name === 'transport:packet_received' ? 'in' : e.name === 'transport:packet_sent' ? 'out' : undefined;
      if (d === undefined) continue;
      for (const fr of e.data?.frames ?? []) {
        if (/^(add_address|reach_out|remove_address|path_challenge|path_response|path_abandon|path_status_[a-z]+|max_stream_data|stream_data_blocked|max_data|data_blocked)$/.test(String(fr['frame_type']))) out.push({ t: Math.round(e.time), dir: d, frame: fr });
      }
    }
  }
  return out;
}

interface PathSample { t: number; iroh: IrohInfo['paths']; ours: ReturnType<Session['paths']> }

/**
 * Samples both sides' paths for `ms`: ours every 50 ms, iroh's as fast as its rpc answers (it
 * answers late while its JS thread encodes a large write), each stamped with its own time.
 */
async function watch(iroh: IrohRpc, conn: number, s: Session, ms: number): Promise<PathSample[]> {
  const seen: PathSample[] = [];
  const t0 = performance.now();
  const elapsed = (): number => Math.round(performance.now() - t0);
  const ours = (async () => {
    while (elapsed() < ms) {
      seen.push({ t: elapsed(), iroh: [], ours: s.paths() });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  while (elapsed() < ms) {
    const info = await iroh.call<IrohInfo>('info', { conn }).catch(() => undefined);
    seen.push({ t: elapsed(), iroh: info?.paths ?? [], ours: [] });
    await new Promise((r) => setTimeout(r, 50));
  }
  await ours;
  return seen.sort((a, b) => a.t - b.t);
}

/** When each side first had a direct path selected (ms from the start of the watch), or null. */
function firstDirect(samples: PathSample[]): { iroh: number | null; ours: number | null } {
  const iroh = samples.find((x) => x.iroh.some((p) => p.isSelected && p.isIp));
  const ours = samples.find((x) => x.ours.some((p) => p.selected && p.kind === 'direct'));
  return { iroh: iroh?.t ?? null, ours: ours?.t ?? null };
}

/** Sparse timeline: the samples where either side's paths changed (ids, selection, kind). */
function changes(samples: PathSample[]): unknown[] {
  const out: unknown[] = [];
  const last = new Map<string, string>();
  for (const x of samples) {
    const side = x.iroh.length > 0 ? 'iroh' : 'ours';
    const key = side + JSON.stringify(side === 'iroh' ? x.iroh.map((p) => [p.id, p.isIp, p.isSelected]) : x.ours.map((p) => [p.id, p.kind, p.selected]));
    if (key === last.get(side)) continue;
    last.set(side, key);
    out.push(side === 'iroh' ? { t: x.t, iroh: x.iroh.map((p) => ({ id: p.id, addr: p.remoteAddr, ip: p.isIp, selected: p.isSelected, rttMs: p.rttMs })) } : { t: x.t, ours: x.ours });
  }
  return out;
}

/** Drops every datagram the endpoint receives from a direct (UDP) address (test-only patch). */
function blockDirect(ep: Endpoint): void {
  const driver = (ep as unknown as { driver: { receive(address: string, d: Uint8Array): void } }).driver;
  const receive = driver.receive.bind(driver);
  driver.receive = (address, d) => {
    if (address.startsWith('relay:')) receive(address, d);
  };
}

/**
 * One direction's `transfer`, watched: both sides' paths sampled for `--watch-ms` (and the direct
 * path killed with `--kill-direct-at-ms`), our paths' timeline kept (`onTimeline` gets its stop,
 * for a failure's report). Returns what the transfer gave and the report both directions share.
 */
async function observe<T>(ep: Endpoint, iroh: IrohRpc, irohConn: number, s: Session, transfer: Promise<T>, onTimeline: (stop: () => string[]) => void): Promise<{ got: T; report: Record<string, unknown> }> {
  const tl = timeline(s);
  onTimeline(tl.stop);
  const t = performance.now();
  const killed = killDirectLater(ep, s);
  const samples = await watch(iroh, irohConn, s, watchMs);
  const got = await transfer;
  const transferMs = Math.round(performance.now() - t);
  const conn = connOf(s);
  return {
    got,
    report: {
      transferMs,
      timeline: tl.stop(),
      ourAddress: ep.boundAddresses,
      irohAddrs: iroh.ready.addrs,
      multipath: conn.internals.handshake.multipath,
      nat: conn.getStats().natTraversal,
      firstDirect: firstDirect(samples),
      paths: changes(samples),
      finalIrohPaths: samples.filter((x) => x.iroh.length > 0).pop()?.iroh,
      finalPaths: s.paths(),
      killed: await killed,
    },
  };
}

/**
 * With `--kill-direct-at-ms N`: N ms after the session first selected a direct path (polled every
 * 10 ms, for at most 10 s) the endpoint drops every direct datagram it sends or receives (test-only
 * patch of the driver's sockets and receive path); resolves then, with the paths at that moment.
 */
async function killDirectLater(ep: Endpoint, s: Session): Promise<{ at: number; paths: ReturnType<Session['paths']> } | null> {
  if (killAtMs < 0) return null;
  const t = performance.now();
  while (!s.paths().some((p) => p.kind === 'direct' && p.selected) && performance.now() - t < 10_000) await new Promise((r) => setTimeout(r, 10));
  return new Promise((resolve) =>
    setTimeout(() => {
      blockDirect(ep);
      const driver = (ep as unknown as { driver: { sockets: Array<{ socket: { send: (...a: unknown[]) => void } }> } }).driver;
      for (const b of driver.sockets) {
        b.socket.send = (...a: unknown[]) => {
          const cb = a[a.length - 1];
          if (typeof cb === 'function') queueMicrotask(() => (cb as (e: Error | null) => void)(null));
        };
      }
      resolve({ at: Math.round(performance.now() - t), paths: s.paths() });
    }, killAtMs),
  );
}

const t0 = performance.now();
const relay = await RelayServer.listen({ bind: '127.0.0.1:0' });
const url = relay.url;
const result: Record<string, unknown> = { url, watchMs, payloadBytes, blocked, killAtMs };
const payload = new Uint8Array(payloadBytes).map((_, i) => (i * 7 + (i >> 11)) & 0xff);

// 1. quic-peer -> iroh, through the relay only.
{
  const iroh = await IrohRpc.start(['--alpn', alpn, '--relay', url]);
  const qlogDir = mkdtempSync(join(tmpdir(), 'qp-nat-qlog-'));
  const ep = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, transport, qlogDir });
  if (blocked) blockDirect(ep);
  /** Our side when something failed: its paths and counters, and its paths over time. */
  let ours: () => unknown = () => undefined;
  let stopTimeline: () => string[] = () => [];
  try {
    const ticket = encodeEndpointTicket({ id: EndpointId.parse(iroh.id), addrs: [], relays: [url] });
    const accepted = iroh.accept(20_000);
    const s = await Session.connect(ep, ticket, { alpn, timeoutMs: 15_000 });
    ours = () => {
      const st = connOf(s).getStats();
      // Flow control and each sending stream: where a stalled transfer waits.
      const sm = (connOf(s) as unknown as { internals: { streams: StreamsView } }).internals.streams;
      const credit = (c: CreditView): string => `${c.used}/${c.limit}`;
      const streams = [...sm.streams.values()].filter((x) => x.send).map((x) => {
        const t = x.send!;
        return { write: t.writeOffset, sent: t.sentOffset, acked: t.ackedOffset, buffered: t.buffered, hasData: t.hasDataToSend, credit: credit(t.credit), state: t.state };
      });
      return { paths: s.paths(), sent: st.bytesSent, lost: st.packetsLost, dropped: st.packetsDropped, perPath: st.paths, connCredit: credit(sm.connSend), streams };
    };
    const c = await accepted;
    const relayBefore = relay.metrics.bytesForwarded;
    // One way, 20 MB to iroh (its echo stops at 16 MiB): iroh reads it to the end and hashes it.
    const irohStream = iroh.acceptBi(c.conn);
    const st = await s.createBidirectionalStream();
    const pathsAtStart = s.paths();
    // iroh reads while we write (its flow-control windows hold ~1 MB only).
    const read = irohStream.then((stream) => iroh.call<{ len: number; sha256: string }>('read', { stream, max: payload.length + 1 }, 60_000));
    // Both at once: a read that times out while we still write reaches the catch below with its
    // diagnostics (it ended the process as an unhandled rejection, once in CI).
    const transfer = Promise.all([writeAll(st.writable, payload), read]).then(([, r]) => r);
    const { got, report } = await observe(ep, iroh, c.conn, s, transfer, (stop) => (stopTimeline = stop));
    result['toIroh'] = {
      ...report,
      pathsAtStart,
      transferEqual: got.sha256 === sha(payload) && got.len === payload.length,
      relayBytes: relay.metrics.bytesForwarded - relayBefore,
    };
    s.close({ closeCode: 7, reason: 'done' });
    await s.closed;
  } catch (e) {
    result['toIroh'] = { error: errorInfo(e), events: iroh.events.slice(-10), ours: ours(), timeline: stopTimeline() };
  } finally {
    await ep.close();
    await iroh.shutdown().catch(() => undefined);
  }
  (result['toIroh'] as Record<string, unknown>)['frames'] = natFrames(qlogDir);
  // A failed run keeps its qlog (named in the result) for a look at the whole connection.
  if ((result['toIroh'] as Record<string, unknown>)['error'] !== undefined && process.env['QP_KEEP_QLOG']) (result['toIroh'] as Record<string, unknown>)['qlogDir'] = qlogDir;
  else rmSync(qlogDir, { recursive: true, force: true });
}

// 2. iroh -> quic-peer, through the relay only.
{
  const iroh = await IrohRpc.start(['--alpn', alpn, '--relay', url]);
  const qlogDir = mkdtempSync(join(tmpdir(), 'qp-nat-qlog-'));
  const ep = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: [alpn], relays: [url], transport, qlogDir });
  if (blocked) blockDirect(ep);
  let stopTimeline: () => string[] = () => [];
  try {
    await ep.online({ timeoutMs: 10_000 });
    const accepted = Session.accept(ep);
    const c = await iroh.call<{ conn: number }>('connect', { nodeId: ep.id.toString(), addrs: [], relayUrl: url, alpn }, 20_000);
    const s = (await accepted)!;
    const relayBefore = relay.metrics.bytesForwarded;
    const pathsAtStart = s.paths();
    // One way, 20 MB from iroh: we read it to the end.
    const received = (async () => {
      const st = await s.nextBidiStream();
      return st ? readAll(st.readable, payload.length + 1) : new Uint8Array(0);
    })();
    const transfer = (async () => {
      const stream = await iroh.openBi(c.conn);
      // In 1 MB writes: the rpc node's JS thread stays free to answer `info` between them.
      for (let off = 0; off < payload.length; off += 1 << 20) await iroh.write(stream, payload.subarray(off, off + (1 << 20)));
      await iroh.finish(stream);
      return withTimeout(received, 60_000, 'the stream from iroh');
    })();
    const { got, report } = await observe(ep, iroh, c.conn, s, transfer, (stop) => (stopTimeline = stop));
    result['fromIroh'] = {
      ...report,
      pathsAtStart,
      transferEqual: sha(got) === sha(payload),
      relayBytes: relay.metrics.bytesForwarded - relayBefore,
    };
    await iroh.close(c.conn, 9, 'iroh done');
  } catch (e) {
    result['fromIroh'] = { error: errorInfo(e), events: iroh.events.slice(-10), timeline: stopTimeline() };
  } finally {
    await ep.close();
    await iroh.shutdown().catch(() => undefined);
  }
  (result['fromIroh'] as Record<string, unknown>)['frames'] = natFrames(qlogDir);
  if ((result['fromIroh'] as Record<string, unknown>)['error'] !== undefined && process.env['QP_KEEP_QLOG']) (result['fromIroh'] as Record<string, unknown>)['qlogDir'] = qlogDir;
  else rmSync(qlogDir, { recursive: true, force: true });
}

await relay.close();
result['elapsedMs'] = Math.round(performance.now() - t0);
emitResult(result);
