/**
 * `quic-peer listen --webtransport`: a WebTransport server browsers reach (HTTP/3, X.509), plus a
 * demo page on localhost that connects back. With --echo every session is echoed as QUIC sessions
 * are; without, what sessions send is written to stdout and nothing is echoed.
 */
import { readFileSync } from 'node:fs';
import { WebTransportServer, type WebTransportSession } from '../http/index.js';
import { UsageError, intOpt, opt, type ParsedArgs } from './args.js';
import { stderr, streamToStdout, transportOptions, writeOut } from './common.js';
import { echoSession, type Traffic } from './echo.js';
import { CliError, systemReason } from './exit.js';
import { demoPage, serveDemoPage } from './wt-page.js';

export async function runListenWebTransport(p: ParsedArgs, signal: AbortSignal): Promise<number> {
  for (const o of ['alpn', 'secret-file', 'qlog', 'relay', 'relay-ca', 'relay-qad-port'] as const) if (p.options.has(o)) throw new UsageError(`option '--${o}' does not go with '--webtransport'`);
  const certFile = opt(p, 'cert');
  const keyFile = opt(p, 'key');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError(`options '--cert' and '--key' go together`);
  const pagePort = intOpt(p, 'page-port', 0);
  const read = (option: string, f: string): string => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new CliError(`${option} ${f}: cannot read: ${systemReason(e)}`);
    }
  };
  const bind = p.options.get('bind') ?? ['127.0.0.1:4433'];
  let server: WebTransportServer;
  try {
    server = await WebTransportServer.listen({
      bind,
      ...(certFile !== undefined ? { cert: read('--cert', certFile), key: read('--key', keyFile as string) } : {}),
      endpoint: {
        maxSessions: intOpt(p, 'max-sessions', 4096),
        ...(opt(p, 'keylog') !== undefined ? { keylog: opt(p, 'keylog') as string } : {}),
        ...(p.flags.has('no-multipath') ? { transport: transportOptions(p) } : {}),
      },
    });
  } catch (e) {
    throw new CliError(`cannot start: ${(e as Error).message}`);
  }
  const urls = server.endpoint.boundAddresses.map((a) => `https://${a.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')}/`);
  for (const u of urls) stderr(`webtransport ${u}`);
  stderr(`cert-hash sha-256 ${server.certificateHash ?? '?'}`);
  let page: Awaited<ReturnType<typeof serveDemoPage>> | undefined;
  try {
    page = await serveDemoPage(demoPage(urls[0] as string, server.certificateHash ?? ''), pagePort);
    stderr(`demo page ${page.url}${p.flags.has('echo') ? '' : ' (it needs --echo)'}`);
  } catch (e) {
    stderr(`no demo page: ${(e as Error).message}`);
  }
  const live = new Set<WebTransportSession>();
  const stop = (): void => {
    for (const s of live) s.close({ closeCode: 0, reason: 'interrupted' });
    void server.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  let n = 0;
  try {
    if (signal.aborted) return 0;
    for await (const s of server) {
      const k = ++n;
      const t: Traffic = { received: 0, sent: 0 };
      live.add(s);
      const { request, draft } = s.webTransport;
      stderr(`session ${k} from ${s.remoteAddress ?? '?'} path ${request.path}${request.origin ? ` origin ${request.origin}` : ''} (${draft})`);
      void s.closed.then((c) => {
        live.delete(s);
        stderr(`session ${k} closed (code ${c.closeCode}${c.reason ? `: ${c.reason}` : ''}): received ${t.received} bytes, sent ${t.sent} bytes`);
      });
      if (p.flags.has('echo')) void echoSession(s, t);
      else void sink(s, t);
    }
    return 0;
  } finally {
    signal.removeEventListener('abort', stop);
    page?.server.close();
    await server.close();
  }
}

/** Without --echo: every stream's bytes and every datagram go to stdout. */
async function sink(s: WebTransportSession, t: Traffic): Promise<void> {
  const count = (n: number): void => {
    t.received += n;
  };
  void (async () => {
    for (let st = await s.nextBidiStream(); st; st = await s.nextBidiStream()) {
      void st.writable.close().catch(() => {});
      void streamToStdout(st.readable, count).catch(() => {});
    }
  })().catch(() => {});
  void (async () => {
    for (let r = await s.nextUniStream(); r; r = await s.nextUniStream()) void streamToStdout(r, count).catch(() => {});
  })().catch(() => {});
  for (let d = await s.recvDatagram(); d; d = await s.recvDatagram()) {
    count(d.length);
    await writeOut(d);
  }
}
