import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { ConnectError, Session, type Endpoint } from '../index.js';
import { H3Client, HttpRequestError, hqGet } from '../http/index.js';
import { UsageError, intOpt, opt, parseArgs } from './args.js';
import { bindEndpoint, noMultipathHelp, stderr } from './common.js';
import { CliError, EXIT_STATUS_HELP, systemReason } from './exit.js';

export const GET_HELP = `quic-peer get: download files from an HTTP/3 or hq-interop server (X.509)

Usage: quic-peer get [options] https://host:port/path...

Dials each origin once (host:port) and fetches its files at once, one stream per file. Each file
is saved under --out by its last path segment; one line per file, then a summary.

Options:
  --alpn h3|hq-interop  application protocol (default h3; hq-interop is HTTP/0.9 as the
                        QUIC interop runner speaks it)
  --ca FILE             trust the CA certificate(s) in FILE (PEM) instead of the system's
  --insecure            accept any server certificate: NO authentication (tests only)
  --out DIR             where to save the files (default: the current directory)
  --bind ip:port        local address to bind (default 0.0.0.0:0 and [::]:0)
  --keylog FILE         append TLS secrets to FILE in NSS key log format (for Wireshark)
  --qlog DIR            write a qlog trace of each connection into DIR
  --timeout-ms N        give up on a server whose handshake has not completed after N ms
                        (default 10000)
${noMultipathHelp(24)}

${EXIT_STATUS_HELP}`;

export const GET_SPEC = {
  alpn: { value: true },
  ca: { value: true },
  insecure: {},
  out: { value: true },
  bind: { value: true, repeat: true },
  keylog: { value: true },
  qlog: { value: true },
  'timeout-ms': { value: true },
  'no-multipath': {},
  help: {},
} as const;

/** One URL to fetch: origin and path. */
interface Target {
  url: string;
  host: string;
  port: number;
  path: string;
}

export async function runGet(argv: string[], signal: AbortSignal): Promise<number> {
  const p = parseArgs(argv, GET_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${GET_HELP}\n`);
    return 0;
  }
  if (p.positionals.length === 0) throw new UsageError('expected at least one URL (https://host:port/path)');
  const alpn = opt(p, 'alpn') ?? 'h3';
  if (alpn !== 'h3' && alpn !== 'hq-interop') throw new UsageError(`option '--alpn' takes h3 or hq-interop, got '${alpn}'`);
  const caFile = opt(p, 'ca');
  const insecure = p.flags.has('insecure');
  if (caFile !== undefined && insecure) throw new UsageError(`options '--ca' and '--insecure' exclude each other`);
  const timeoutMs = intOpt(p, 'timeout-ms', 10_000);
  const targets = p.positionals.map(parseUrl);
  const outDir = opt(p, 'out') ?? '.';
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new CliError(`--out ${outDir}: cannot create the directory: ${systemReason(e)}`);
  }
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new CliError(`--ca ${caFile}: cannot read: ${systemReason(e)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`--ca ${caFile}: no PEM certificate in the file`);
  }
  const tls = insecure ? { insecureSkipVerify: true } : ca !== undefined ? { ca } : {};
  const ep = await bindEndpoint(p, { acceptIncoming: false });
  const sessions = new Set<Session>();
  const stop = (): void => {
    for (const s of sessions) s.close({ closeCode: alpn === 'h3' ? 0x10c : 0, reason: 'interrupted' });
    void ep.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  const t0 = performance.now();
  let files = 0;
  let bytes = 0;
  const failures: string[] = [];
  try {
    const origins = new Map<string, Target[]>();
    for (const t of targets) {
      const key = `${t.host}:${t.port}`;
      origins.set(key, [...(origins.get(key) ?? []), t]);
    }
    await Promise.all(
      [...origins.values()].map(async (list) => {
        const { host, port } = list[0]!;
        let s: Session;
        try {
          s = await dial(ep, host, port, alpn, tls, timeoutMs);
        } catch (e) {
          for (const t of list) failures.push(`${t.url}: ${(e as Error).message.split('\n')[0]}`);
          return;
        }
        sessions.add(s);
        const fetch = alpn === 'h3' ? await h3Fetcher(s, host, port) : (path: string) => hqGet(s, path);
        await Promise.all(
          list.map(async (t) => {
            try {
              const body = await fetch(t.path);
              const file = join(outDir, basename(t.path.split('?')[0]!) || 'index.html');
              try {
                writeFileSync(file, body);
              } catch (e) {
                throw new CliError(`cannot write ${file}: ${systemReason(e)}`);
              }
              files++;
              bytes += body.length;
              const digest = createHash('sha256').update(body).digest('hex').slice(0, 16);
              process.stdout.write(`${t.url} -> ${file}, ${body.length} bytes, sha256 ${digest}…\n`);
            } catch (e) {
              failures.push(`${t.url}: ${e instanceof HttpRequestError ? e.message.slice(e.path.length + 2) : (e as Error).message}`);
            }
          }),
        );
        s.close({ closeCode: alpn === 'h3' ? 0x100 : 0, reason: '' });
      }),
    );
  } finally {
    signal.removeEventListener('abort', stop);
    await ep.close();
  }
  if (signal.aborted) return 0;
  const secs = (performance.now() - t0) / 1000;
  for (const f of failures) stderr(`quic-peer get: ${f}`);
  process.stdout.write(`${files} of ${targets.length} file(s), ${bytes} bytes in ${secs.toFixed(2)} s\n`);
  if (failures.length > 0) throw new CliError(`${failures.length} of ${targets.length} file(s) failed`);
  return 0;
}

/** https://host[:port]/path (port 443 by default); an IPv6 host in brackets. */
function parseUrl(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`'${url}' is not a URL (https://host:port/path)`);
  }
  if (u.protocol !== 'https:') throw new UsageError(`'${url}': only https:// URLs (QUIC carries TLS)`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url, host, port: u.port === '' ? 443 : Number(u.port), path: `${u.pathname}${u.search}` };
}

async function dial(ep: Endpoint, host: string, port: number, alpn: string, tls: object, timeoutMs: number): Promise<Session> {
  const where = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  try {
    return await Session.connect(ep, where, { alpn, timeoutMs, ...(isIP(host) === 0 ? { serverName: host } : {}), tls });
  } catch (e) {
    if (e instanceof ConnectError && e.kind === 'timeout') throw new CliError(`no answer from ${where} within ${timeoutMs} ms`);
    throw new CliError(`${where}: ${(e as Error).message}`);
  }
}

async function h3Fetcher(s: Session, host: string, port: number): Promise<(path: string) => Promise<Uint8Array>> {
  const h3 = await H3Client.start(s);
  const authority = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  return async (path) => {
    const r = await h3.get(path, { authority });
    if (r.status !== 200) throw new HttpRequestError(path, `HTTP status ${r.status}`, r.status);
    return r.body;
  };
}
