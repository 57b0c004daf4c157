/**
 * WebTransport benchmark keys: `wt_node_bulk_mbps` (quic-peer's WebTransport client -> quic-peer's
 * server, in this process, one bidirectional stream) and `wt_browser_bulk_mbps` (headless Chromium
 * -> quic-peer, 20 MB on one bidirectional stream, inside a loopback-only namespace: see
 * wt-browser-child.ts). Each: the sender writes N bytes and its FIN, the server counts them and
 * answers with one byte and its FIN; the time is from the first write to that answer.
 */
import { join } from 'node:path';
import { WebTransportServer, connectWebTransport, type WebTransportSession } from '../src/http/index.js';
import { probeIsolation, runIsolated } from '../test/interop/netns.js';
import { chromiumAvailable } from '../test/webtransport/chromium.js';

/** Serves a sink on every session: each stream's bytes counted, then one byte back and the FIN. */
export function sinkServer(server: WebTransportServer): void {
  void (async () => {
    for await (const s of server) void sinkSession(s);
  })();
}

async function sinkSession(s: WebTransportSession): Promise<void> {
  for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
    const stream = st;
    void (async () => {
      const r = stream.readable.getReader();
      for (;;) if ((await r.read()).done) break;
      const w = stream.writable.getWriter();
      await w.write(new Uint8Array([1]));
      await w.close();
    })().catch(() => {});
  }
}

/** Mbit/s of `bytes` from quic-peer's WebTransport client to its server on loopback. */
export async function wtNodeBulk(bytes: number): Promise<number> {
  const server = await WebTransportServer.listen({ bind: '127.0.0.1:0' });
  sinkServer(server);
  try {
    const s = await connectWebTransport(server.url('/bulk'), { serverCertificateHashes: [{ algorithm: 'sha-256', value: server.certificateHash as string }] });
    const st = await s.createBidirectionalStream();
    const w = st.writable.getWriter();
    const chunk = new Uint8Array(64 * 1024);
    const t0 = performance.now();
    const writing = (async () => {
      for (let off = 0; off < bytes; off += chunk.length) await w.write(off + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - off));
      await w.close();
    })();
    const r = st.readable.getReader();
    while (!(await r.read()).done);
    await writing;
    const ms = performance.now() - t0;
    s.close();
    return (bytes * 8) / (ms / 1000) / 1e6;
  } finally {
    await server.close();
  }
}

/** Mbit/s of `bytes` from headless Chromium to quic-peer, or a reason it was not measured. */
export async function wtBrowserBulk(bytes: number, here: string): Promise<number | string> {
  if (!chromiumAvailable()) return 'not measured: chromium is missing (apt-get install chromium)';
  const probe = await probeIsolation();
  if (!probe.ok) return `not measured: cannot make a loopback-only namespace for Chromium (${probe.reason})`;
  const out = await runIsolated([process.execPath, join(here, 'wt-browser-child.js'), String(bytes)], { timeoutMs: 90_000 });
  const last = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0) throw new Error(`browser bench failed (${out.timedOut ? 'timeout' : `exit ${out.code ?? out.signal}`}): ${out.stderr.slice(-1500)} ${last}`);
  return (JSON.parse(last) as { mbps: number }).mbps;
}
