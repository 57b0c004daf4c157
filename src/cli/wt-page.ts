/**
 * The demo page of `quic-peer listen --webtransport`: served over HTTP/1.1 on localhost (a secure
 * context, where browsers expose WebTransport), it connects back to the listener with the
 * certificate's hash and shows, live: the round-trip time on a bidirectional stream, the throughput
 * of an 8 MB echo, and datagrams sent and echoed. Elements carry their figures in data attributes
 * (`#rtt[data-ms]`, `#throughput[data-mbps]`, `#datagrams[data-echoed]`) for tests.
 */
import { createServer, type Server } from 'node:http';

export function demoPage(wtUrl: string, hashHex: string): string {
  const cfg = JSON.stringify({ url: wtUrl, hash: hashHex });
  return `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>quic-peer WebTransport</title>
<style>body{font:16px system-ui,sans-serif;margin:2em;max-width:40em}td{padding:.2em 1em}td:first-child{color:#555}</style>
<h1>quic-peer over WebTransport</h1>
<p>This page talks to a Node.js process (<code>quic-peer listen --webtransport --echo</code>) over HTTP/3.</p>
<table>
<tr><td>session</td><td id="status">connecting…</td></tr>
<tr><td>round trip</td><td id="rtt">–</td></tr>
<tr><td>throughput (8 MB echoed)</td><td id="throughput">–</td></tr>
<tr><td>datagrams</td><td id="datagrams">–</td></tr>
</table>
<script type="module">
const cfg = ${cfg};
const $ = (id) => document.getElementById(id);
const hash = new Uint8Array(cfg.hash.match(/../g).map((x) => parseInt(x, 16)));
try {
  const wt = new WebTransport(cfg.url, { serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }] });
  wt.closed.then((c) => { $('status').textContent = 'closed (code ' + c.closeCode + (c.reason ? ': ' + c.reason : '') + ')'; },
                 (e) => { $('status').textContent = 'failed: ' + e; });
  await wt.ready;
  $('status').textContent = 'connected to ' + cfg.url;
  // Datagrams: one every 100 ms, counting the echoes.
  let sent = 0, echoed = 0;
  const dw = wt.datagrams.writable.getWriter();
  (async () => { for await (const _ of wt.datagrams.readable) { echoed++; show(); } })().catch(() => {});
  const show = () => { $('datagrams').textContent = echoed + ' of ' + sent + ' echoed'; $('datagrams').dataset.echoed = String(echoed); };
  setInterval(() => { dw.write(new TextEncoder().encode('ping ' + sent)).then(() => { sent++; show(); }, () => {}); }, 100);
  // Round trips: 8 bytes out, 8 bytes back, on one stream, every 500 ms.
  const ping = await wt.createBidirectionalStream();
  const pw = ping.writable.getWriter(), pr = ping.readable.getReader();
  const rtt = async () => {
    const t0 = performance.now();
    await pw.write(new Uint8Array(8));
    for (let got = 0; got < 8; ) { const { value, done } = await pr.read(); if (done) throw new Error('stream ended'); got += value.length; }
    const ms = performance.now() - t0;
    $('rtt').textContent = ms.toFixed(2) + ' ms'; $('rtt').dataset.ms = ms.toFixed(3);
  };
  await rtt();
  setInterval(() => rtt().catch(() => {}), 500);
  // Throughput: 8 MB echoed on a new stream.
  const N = 8 << 20, bulk = await wt.createBidirectionalStream();
  const t0 = performance.now(), w = bulk.writable.getWriter();
  const writing = (async () => { for (let off = 0; off < N; off += 1 << 16) await w.write(new Uint8Array(1 << 16)); await w.close(); })();
  let back = 0;
  for await (const c of bulk.readable) back += c.length;
  await writing;
  const mbps = (back * 8) / ((performance.now() - t0) / 1000) / 1e6;
  $('throughput').textContent = mbps.toFixed(1) + ' Mbit/s each way'; $('throughput').dataset.mbps = mbps.toFixed(1);
} catch (e) {
  $('status').textContent = 'failed: ' + e;
}
</script>
</html>
`;
}

/** Serves the page at / on localhost; resolves with the server and its URL. */
export async function serveDemoPage(html: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const ok = req.url === '/' || req.url === '/index.html';
    res.writeHead(ok ? 200 : 404, { 'content-type': ok ? 'text/html; charset=utf-8' : 'text/plain', 'cache-control': 'no-store' });
    res.end(ok ? html : 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, url: `http://localhost:${(server.address() as { port: number }).port}/` };
}
