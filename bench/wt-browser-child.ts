/**
 * Runs inside a loopback-only namespace (webtransport.ts): quic-peer's WebTransport sink server and
 * headless Chromium, whose page sends N bytes on one bidirectional stream and waits for the
 * server's answer. Prints {"mbps": X}, measured in the page.
 */
import { WebTransportServer } from '../src/http/index.js';
import { assertIsolated } from '../test/interop/netns.js';
import { launchChromium, pageServer } from '../test/webtransport/chromium.js';
import { sinkServer } from './webtransport.js';

declare const WebTransport: new (url: string, options?: unknown) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function main(): Promise<void> {
  assertIsolated();
  const bytes = Number(process.argv[2] ?? 20_000_000);
  const server = await WebTransportServer.listen({ bind: '127.0.0.1:0' });
  sinkServer(server);
  const page = await pageServer('<!doctype html><meta charset=utf-8><title>bench</title>');
  const browser = await launchChromium();
  try {
    const p = await browser.newPage();
    await p.goto(page.url);
    const mbps = await p.evaluate(
      async (url: string, hashHex: string, n: number) => {
        const hash = new Uint8Array((hashHex.match(/../g) as string[]).map((x) => parseInt(x, 16)));
        const wt = new WebTransport(url, { serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }] });
        await wt.ready;
        const st = await wt.createBidirectionalStream();
        const w = st.writable.getWriter();
        const chunk = new Uint8Array(64 * 1024);
        const t0 = performance.now();
        const writing = (async () => {
          for (let off = 0; off < n; off += chunk.length) await w.write(off + chunk.length <= n ? chunk : chunk.subarray(0, n - off));
          await w.close();
        })();
        const r = st.readable.getReader();
        while (!(await r.read()).done);
        await writing;
        const ms = performance.now() - t0;
        wt.close();
        return (n * 8) / (ms / 1000) / 1e6;
      },
      server.url('/bulk'),
      server.certificateHash as string,
      bytes,
    );
    process.stdout.write(`${JSON.stringify({ mbps })}\n`);
  } finally {
    await browser.close();
    page.server.close();
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
    process.exit(1);
  },
);
