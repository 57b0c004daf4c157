/**
 * Runs inside a loopback-only network namespace (browser.test.ts): a quic-peer WebTransport server
 * and headless Chromium, whose page opens sessions to it with `serverCertificateHashes` (no browser
 * flags) and checks: a 1 MB bidirectional echo, 100 concurrent streams, unidirectional streams both
 * ways, datagrams, close code and reason both ways, a reset stream's code both ways, and a 404 path
 * refused; and the README's example (its Node server and its page, as written). Prints one JSON
 * line: what the page saw and what the server saw.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertIsolated } from '../interop/netns.js';
import { WebTransportServer, type WebTransportSession } from '../../src/http/index.js';
import { launchChromium, pageServer } from './chromium.js';
import { echoSession, newEchoLog } from './echo.js';
import { startWtListener } from './cli.js';

declare const WebTransport: new (url: string, options?: unknown) => any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const WebTransportError: new (init?: { streamErrorCode?: number; message?: string }) => Error;

async function main(): Promise<void> {
  assertIsolated();
  const server = await WebTransportServer.listen({ bind: '127.0.0.1:0', paths: ['/echo', '/close', '/reset', '/stop'] });
  const log = newEchoLog();
  const serverSide: { closes: Array<{ path: string; closeCode: number | bigint; reason: string }>; connectionEndMs: Record<string, number>; drafts: string[] } = { closes: [], connectionEndMs: {}, drafts: [] };
  void (async () => {
    for await (const s of server) {
      const path = s.webTransport.request.path;
      serverSide.drafts.push(s.webTransport.draft);
      void s.closed.then((c) => {
        serverSide.closes.push({ path, closeCode: c.closeCode, reason: c.reason });
        // The browser closes its QUIC connection silently after its capsule: ours must end by itself.
        const t0 = Date.now();
        void s.webTransport.connection.closed.then(() => (serverSide.connectionEndMs[path] = Date.now() - t0));
      });
      if (path === '/echo') echoSession(s, log);
      else if (path === '/close') void serverClose(s);
      else if (path === '/reset') void resetEach(s);
      else if (path === '/stop') void stopEach(s);
    }
  })();
  const page = await pageServer('<!doctype html><meta charset=utf-8><title>wt</title><p>quic-peer WebTransport test page</p>');
  const browser = await launchChromium();
  let result: unknown;
  let demo: unknown;
  let draft07: unknown;
  let readme: unknown;
  try {
    const p = await browser.newPage();
    await p.goto(page.url);
    result = await p.evaluate(pageTest, server.url(), server.certificateHash as string);
    await new Promise((r) => setTimeout(r, 300)); // the server hears the last close
    demo = await demoPage(browser);
    readme = await readmeExample(browser, page.url);
  } finally {
    await browser.close();
  }
  // Chromium with its draft-07 feature on: both ends announce WEBTRANSPORT_MAX_SESSIONS.
  const b07 = await launchChromium(['--enable-features=EnableWebTransportDraft07']);
  try {
    const before = serverSide.drafts.length;
    const p = await b07.newPage();
    await p.goto(page.url);
    const echoed = await p.evaluate(async (base: string, hashHex: string) => {
      const hash = new Uint8Array((hashHex.match(/../g) as string[]).map((x) => parseInt(x, 16)));
      const wt = new WebTransport(`${base}echo`, { serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }] });
      await wt.ready;
      const bs = await wt.createBidirectionalStream();
      const w = bs.writable.getWriter();
      await w.write(new TextEncoder().encode('draft-07 echo'));
      await w.close();
      let text = '';
      const r = bs.readable.getReader();
      for (;;) {
        const { value, done } = await r.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      wt.close();
      return text;
    }, server.url(), server.certificateHash as string).catch((e: unknown) => `error: ${String(e)}`);
    draft07 = { echoed, serverDraft: serverSide.drafts[before] };
  } finally {
    await b07.close();
    page.server.close();
    await server.close();
  }
  process.stdout.write(`${JSON.stringify({ page: result, demo, draft07, readme, server: { ...serverSide, log } })}\n`);
}

/** `quic-peer listen --webtransport --echo`'s demo page: it loads, connects and shows a measured RTT. */
async function demoPage(browser: Awaited<ReturnType<typeof launchChromium>>): Promise<unknown> {
  const l = await startWtListener(['--echo']);
  try {
    const p = await browser.newPage();
    await p.goto(l.page);
    await p.waitForFunction(
      "document.getElementById('rtt').dataset.ms && document.getElementById('throughput').dataset.mbps && Number(document.getElementById('datagrams').dataset.echoed) > 0",
      { timeout: 30_000 },
    );
    return await p.evaluate(() => {
      const d = (id: string): Record<string, string> => document.getElementById(id).dataset;
      return { status: document.getElementById('status').textContent as string, rttMs: Number(d('rtt')['ms']), mbps: Number(d('throughput')['mbps']), echoed: Number(d('datagrams')['echoed']) };
    });
  } catch (e) {
    return { error: String(e), listener: l.stderr() };
  } finally {
    await l.stop();
  }
}

/**
 * The README's WebTransport example as written: its Node block runs in a child process (the
 * package import pointed at the build; it binds 127.0.0.1:4433, free in this namespace) and prints
 * the URL and the hash; its page block runs in a page with HASH set to that hash. Returns what the
 * page logged.
 */
async function readmeExample(browser: Awaited<ReturnType<typeof launchChromium>>, pageUrl: string): Promise<unknown> {
  const root = join(fileURLToPath(import.meta.url), '../../../..');
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const section = md.slice(md.indexOf('## WebTransport: a browser talks to Node'));
  const [node, page] = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  if (!node || !page) return { error: 'the README has no two js blocks in its WebTransport section' };
  const dir = mkdtempSync(join(tmpdir(), 'qp-readme-wt-'));
  const file = join(dir, 'server.mjs');
  writeFileSync(file, node.replace("from 'quic-peer/http'", `from '${join(root, 'build/src/http/index.js')}'`));
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    let m: RegExpExecArray | null = null;
    for (let i = 0; i < 300 && !m && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      m = /^(https:\/\/\S+) ([0-9a-f]{64})$/m.exec(out);
    }
    if (!m) return { error: `the README's server printed no URL and hash: ${out} ${err}` };
    const p = await browser.newPage();
    const logged: string[] = [];
    p.on('console', (msg) => logged.push(msg.text()));
    await p.goto(pageUrl);
    const code = page.trim();
    await p.evaluate((body: string, hash: string) => new Function('HASH', `return (async () => {\n${body}\n})();`)(hash) as Promise<void>, code, m[2] as string);
    return { url: m[1], logged };
  } catch (e) {
    return { error: String(e), stderr: err };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Server-initiated close: as soon as the session is ready. */
async function serverClose(s: WebTransportSession): Promise<void> {
  await s.ready;
  await new Promise((r) => setTimeout(r, 50));
  s.close({ closeCode: 7, reason: 'server says bye' });
}

/** Every stream of the session is reset (RESET_STREAM) with WebTransport code 123 after its first bytes. */
async function resetEach(s: WebTransportSession): Promise<void> {
  for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
    const r = st.readable.getReader();
    await r.read().catch(() => {});
    await st.writable.abort(123).catch(() => {});
  }
}

/** Every stream of the session is stopped (STOP_SENDING) with WebTransport code 66 after its first bytes. */
async function stopEach(s: WebTransportSession): Promise<void> {
  for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
    const r = st.readable.getReader();
    await r.read().catch(() => {});
    await r.cancel(66).catch(() => {});
  }
}

/** Runs in the page. */
async function pageTest(base: string, hashHex: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const hash = new Uint8Array((hashHex.match(/../g) as string[]).map((x) => parseInt(x, 16)));
  const opts = { serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }] };
  const timeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
    Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);
  const readAllBytes = async (rs: ReadableStream<Uint8Array>): Promise<Uint8Array> => {
    const parts: Uint8Array[] = [];
    let n = 0;
    const r = rs.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
    const all = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return all;
  };
  const echo = async (wt: any, data: Uint8Array): Promise<Uint8Array> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const bs = await wt.createBidirectionalStream();
    const w = bs.writable.getWriter();
    const wrote = (async () => {
      await w.write(data);
      await w.close();
    })();
    const got = await readAllBytes(bs.readable);
    await wrote;
    return got;
  };
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  try {
    const wt = new WebTransport(`${base}echo`, opts);
    const t0 = performance.now();
    await timeout(wt.ready, 15000, 'ready');
    out['readyMs'] = Math.round(performance.now() - t0);
    out['maxDatagramSize'] = wt.datagrams.maxDatagramSize;
    // 1 MB bidirectional echo.
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 255;
    out['bulkEqual'] = same(await timeout(echo(wt, big), 30000, '1 MB echo'), big);
    // 100 concurrent streams.
    const many = await timeout(
      Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const d = new TextEncoder().encode(`stream ${i} `.repeat(50));
          return same(await echo(wt, d), d);
        }),
      ),
      30000,
      '100 streams',
    );
    out['concurrentOk'] = many.filter(Boolean).length;
    // Unidirectional both ways: ours, answered by one of the server's with the same bytes.
    const uniReader = wt.incomingUnidirectionalStreams.getReader();
    const us = await wt.createUnidirectionalStream();
    const uw = us.getWriter();
    await uw.write(new TextEncoder().encode('hello over a uni stream'));
    await uw.close();
    const { value: incoming } = await timeout(uniReader.read(), 10000, 'incoming uni') as { value: ReadableStream<Uint8Array> };
    out['uniEcho'] = new TextDecoder().decode(await readAllBytes(incoming));
    // Datagrams: send until one comes back (they are unreliable).
    const dw = wt.datagrams.writable.getWriter();
    const dr = wt.datagrams.readable.getReader();
    const msg = new TextEncoder().encode('datagram ping');
    const back = dr.read();
    let got: { value?: Uint8Array } | null = null;
    for (let i = 0; i < 40 && !got; i++) {
      await dw.write(msg);
      got = await Promise.race([back, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
    }
    out['datagramEcho'] = got?.value ? new TextDecoder().decode(got.value) : null;
    // Our reset: the server sees code 77.
    const rs = await wt.createBidirectionalStream();
    const rw = rs.writable.getWriter();
    await rw.write(new Uint8Array([1, 2, 3]));
    // Once the echo came back, the stream's header reached the server (a reset before it would
    // leave the server unable to tell which session the stream belonged to).
    await timeout(rs.readable.getReader().read(), 5000, 'echo before the reset');
    await rw.abort(new WebTransportError({ streamErrorCode: 77, message: 'page resets' }));
    // Our STOP_SENDING: the server's echo fails to write with code 55 (it writes what we send next).
    const ss = await wt.createBidirectionalStream();
    const sw = ss.writable.getWriter();
    const sr = ss.readable.getReader();
    await sw.write(new Uint8Array([4]));
    await timeout(sr.read(), 5000, 'echo before the stop');
    await sr.cancel(new WebTransportError({ streamErrorCode: 55, message: 'page stops' }));
    for (let i = 0; i < 6; i++) {
      await sw.write(new Uint8Array([5])).catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    // Browser-initiated close with a code and reason.
    wt.close({ closeCode: 4242, reason: 'page says done' });
    out['pageCloseSeen'] = await timeout(wt.closed, 5000, 'closed');
  } catch (e) {
    out['error'] = String(e);
  }
  // Server-initiated close.
  try {
    const wt2 = new WebTransport(`${base}close`, opts);
    await timeout(wt2.ready, 15000, 'ready /close');
    out['serverClose'] = await timeout(wt2.closed, 10000, 'closed by the server');
  } catch (e) {
    out['serverCloseError'] = String(e);
  }
  // The server's reset: our read fails with its code.
  try {
    const wt3 = new WebTransport(`${base}reset`, opts);
    await timeout(wt3.ready, 15000, 'ready /reset');
    const bs = await wt3.createBidirectionalStream();
    const w = bs.writable.getWriter();
    await w.write(new Uint8Array([9]));
    try {
      await timeout(readAllBytes(bs.readable), 10000, 'read of a reset stream');
      out['resetRead'] = 'ended without error';
    } catch (e) {
      out['resetRead'] = { name: (e as Error).name, streamErrorCode: (e as { streamErrorCode?: number }).streamErrorCode ?? null, message: String(e) };
    }
    wt3.close();
  } catch (e) {
    out['resetError'] = String(e);
  }
  // The server's STOP_SENDING: our writes fail with its code.
  try {
    const wt5 = new WebTransport(`${base}stop`, opts);
    await timeout(wt5.ready, 15000, 'ready /stop');
    const bs = await wt5.createBidirectionalStream();
    const w = bs.writable.getWriter();
    try {
      for (let i = 0; i < 200; i++) {
        await w.write(new Uint8Array([i]));
        await new Promise((r) => setTimeout(r, 25));
      }
      out['stopWrite'] = 'never failed';
    } catch (e) {
      out['stopWrite'] = { name: (e as Error).name, streamErrorCode: (e as { streamErrorCode?: number }).streamErrorCode ?? null };
    }
    wt5.close();
  } catch (e) {
    out['stopError'] = String(e);
  }
  // A path the server does not serve: the session fails.
  try {
    const wt4 = new WebTransport(`${base}nope`, opts);
    wt4.closed.catch(() => {});
    await timeout(wt4.ready, 15000, 'ready /nope');
    out['notFound'] = 'opened';
  } catch (e) {
    out['notFound'] = { name: (e as Error).name, message: String(e) };
  }
  return out;
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(`${JSON.stringify({ error: String((e as Error).stack ?? e) })}\n`);
    process.exit(1);
  },
);
