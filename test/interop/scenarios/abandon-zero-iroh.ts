/**
 * Scenario (runs INSIDE a loopback-only namespace, see ../iroh.ts): real iroh abandons path 0 of
 * a connection to quic-peer (issue #16). A quic-peer endpoint with multipath on, bound to every
 * interface (the default: 127.0.0.1 and ::1 sockets here), is dialled by an iroh rpc node on
 * 127.0.0.1: iroh's n0 NAT traversal opens path 1 to our [::1] candidate, selects it and
 * abandons path 0 (~100 ms in). We watch both sides' paths for `--watch-ms` (default 2000), then
 * iroh serves the connection as an echo and we send `--bytes` (default 1 MB) on a bidi stream.
 *
 *   prints: { ourAddress, pathZeroAbandoned, closedDuringWatch, samples, finalPaths,
 *             finalIrohPaths, remoteAddress, echo: { size, equal }, irohClosed, elapsedMs }
 */
import { Endpoint } from '../../../src/session/endpoint.js';
import type { Session } from '../../../src/session/session.js';
import { readAll, writeAll } from '../../../src/session/stream-io.js';
import { assertIsolated } from '../netns.js';
import { emitResult } from '../iroh.js';
import { IrohRpc, sha256Hex } from '../iroh-rpc.js';
import { errorInfo, withTimeout } from '../peer.js';

assertIsolated(); // before anything binds an iroh endpoint

const alpn = 'quic-peer/abandon';
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const watchMs = Number(arg('--watch-ms', '2000'));
const payloadBytes = Number(arg('--bytes', '1000000'));
interface Conn { internals: { multipath: { isPathZeroAbandoned: boolean } } }
const connOf = (s: Session): Conn => (s as unknown as { state: { conn: Conn } }).state.conn;

const t0 = performance.now();
const ep = await Endpoint.bind({ alpns: [alpn], transport: { multipath: true } });
const iroh = await IrohRpc.start(['--alpn', alpn]);
const out: Record<string, unknown> = {};
try {
  const addr = ep.addr();
  const ours = [...addr.addrs];
  out['ourAddress'] = ours;
  const accepted = (async () => {
    for await (const s of ep) return s;
    return null;
  })();
  const c = await iroh.connect(ep.id.toString(), ours.filter((a) => a.startsWith('127.')), alpn);
  const session = await withTimeout(accepted, 10_000, 'the incoming session');
  if (session === null) throw new Error('endpoint closed');
  let closedAt: number | null = null;
  void session.closed.then((i) => {
    closedAt = Math.round(performance.now() - t0);
    out['closeInfo'] = i;
  });
  const start = performance.now();
  const samples: unknown[] = [];
  while (performance.now() - start < watchMs && closedAt === null) {
    const info = await iroh.info(c.conn).catch(() => null);
    samples.push({
      t: Math.round(performance.now() - start),
      iroh: info?.paths.map((p) => `${p.id}:${p.remoteAddr}${p.isSelected ? '*' : ''}`) ?? null,
      ours: session.paths().map((p) => `${p.id}:${p.remoteAddress}${p.selected ? '*' : ''}`),
    });
    await new Promise((r) => setTimeout(r, 100));
  }
  out['samples'] = samples;
  out['closedDuringWatch'] = closedAt;
  out['pathZeroAbandoned'] = connOf(session).internals.multipath.isPathZeroAbandoned;
  out['finalPaths'] = session.paths();
  out['remoteAddress'] = session.remoteAddress;
  out['finalIrohPaths'] = (await iroh.info(c.conn)).paths.map((p) => ({ id: p.id, remoteAddr: p.remoteAddr, isSelected: p.isSelected }));
  // Path 0 is gone on both sides: a stream echo through iroh, on the path left.
  await iroh.echo(c.conn);
  const data = new Uint8Array(payloadBytes);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >>> 10)) & 0xff;
  const { readable, writable } = await session.createBidirectionalStream();
  const [echo] = await withTimeout(Promise.all([readAll(readable, data.length + 1), writeAll(writable, data)]), 30_000, 'the echo');
  out['echo'] = { size: echo.length, equal: sha256Hex(echo) === sha256Hex(data) };
  out['closedBeforeClose'] = closedAt;
  session.close({ closeCode: 7, reason: 'done' });
  out['irohClosed'] = await iroh.closed(c.conn, 5000).catch((e: unknown) => `error: ${String(e)}`);
} catch (e) {
  out['error'] = errorInfo(e);
} finally {
  await iroh.shutdown().catch(() => undefined);
  await ep.close();
}
out['elapsedMs'] = Math.round(performance.now() - t0);
emitResult(out);
