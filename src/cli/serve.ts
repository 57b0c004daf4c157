import { readFileSync, statSync } from 'node:fs';
import { Endpoint, generateSelfSigned, type EndpointOptions } from '../index.js';
import { FileServer, FILE_SERVER_ALPNS, type ServedRequest } from '../http/index.js';
import { UsageError, opt, parseArgs } from './args.js';
import { bindEndpoint, noMultipathHelp, stderr } from './common.js';
import { CliError, EXIT_STATUS_HELP, systemReason } from './exit.js';

export const SERVE_HELP = `quic-peer serve: serve a directory over HTTP/3 and hq-interop (X.509)

Usage: quic-peer serve (--cert FILE --key FILE | --self-signed) [options] DIR

Serves the files under DIR (nothing outside it: '..' and links leading out are refused) to
HTTP/3 (GET, HEAD) and hq-interop (HTTP/0.9) clients, until interrupted (Ctrl-C). Prints where
it listens, then one line per request.

Options:
  --cert FILE           the certificate chain (PEM, leaf first)
  --key FILE            its private key (PEM: ECDSA P-256/P-384, Ed25519 or RSA)
  --self-signed         make a self-signed ECDSA P-256 certificate for localhost, 127.0.0.1
                        and ::1 (and --name), and print its SPKI SHA-256 pin
  --name NAME           with --self-signed: one more DNS name or IP address (repeatable)
  --client-ca FILE      require client certificates issued by the CA(s) in FILE (mutual auth)
  --bind ip:port        address to bind (repeatable; default 0.0.0.0:443 and [::]:443)
  --alpn LIST           ALPNs to serve, comma-separated (default h3,hq-interop)
  --retry               validate every client's address with a Retry first
  --keylog FILE         append TLS secrets to FILE in NSS key log format (for Wireshark)
  --qlog DIR            write a qlog trace of every connection into DIR
${noMultipathHelp(24)}

${EXIT_STATUS_HELP}`;

export const SERVE_SPEC = {
  cert: { value: true },
  key: { value: true },
  'self-signed': {},
  name: { value: true, repeat: true },
  'client-ca': { value: true },
  bind: { value: true, repeat: true },
  alpn: { value: true },
  retry: {},
  keylog: { value: true },
  qlog: { value: true },
  'no-multipath': {},
  help: {},
} as const;

export async function runServe(argv: string[], signal: AbortSignal): Promise<number> {
  const p = parseArgs(argv, SERVE_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 1) throw new UsageError(`expected one directory to serve, got ${p.positionals.length}`);
  const root = p.positionals[0]!;
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch (e) {
    throw new CliError(`${root}: ${systemReason(e)}`);
  }
  if (!isDir) throw new CliError(`${root}: not a directory`);
  const alpns = (opt(p, 'alpn') ?? FILE_SERVER_ALPNS.join(',')).split(',');
  for (const a of alpns) if (!FILE_SERVER_ALPNS.includes(a)) throw new UsageError(`option '--alpn' takes ${FILE_SERVER_ALPNS.join(' and/or ')}, got '${a}'`);
  const certFile = opt(p, 'cert');
  const keyFile = opt(p, 'key');
  const selfSigned = p.flags.has('self-signed');
  if (selfSigned && (certFile !== undefined || keyFile !== undefined)) throw new UsageError(`option '--self-signed' excludes '--cert' and '--key'`);
  if (!selfSigned && (certFile === undefined || keyFile === undefined)) throw new UsageError(`options '--cert' and '--key' are needed (PEM files), or '--self-signed'`);
  if (!selfSigned && p.options.has('name')) throw new UsageError(`option '--name' goes with '--self-signed'`);
  let cert: string;
  let key: string;
  if (selfSigned) {
    const names = ['localhost', '127.0.0.1', '::1', ...(p.options.get('name') ?? [])];
    const g = await generateSelfSigned({ names });
    [cert, key] = [g.cert, g.key];
    stderr(`self-signed certificate for ${names.join(', ')}; pin: sha256/${g.spkiSha256}`);
  } else {
    cert = readPem('--cert', certFile!, 'CERTIFICATE');
    key = readPem('--key', keyFile!, 'PRIVATE KEY');
  }
  const clientCaFile = opt(p, 'client-ca');
  const clientCa = clientCaFile !== undefined ? readPem('--client-ca', clientCaFile, 'CERTIFICATE') : undefined;
  const options: EndpointOptions = {
    alpns,
    retry: p.flags.has('retry') ? 'always' : 'underLoad',
    tls: { mode: 'x509', cert, key, ...(clientCa !== undefined ? { clientCa } : {}) },
    ...(p.options.has('bind') ? {} : { bind: ['0.0.0.0:443', '[::]:443'] }),
  };
  let ep: Endpoint;
  try {
    ep = await bindEndpoint(p, options);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot start: ${(e as Error).message}`);
  }
  const server = new FileServer(ep, { root, onRequest: (r) => stderr(requestLine(r)) });
  const stop = (): void => {
    void server.stop().then(() => ep.close());
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (const a of ep.boundAddresses) stderr(`serving ${root} on ${a} (${alpns.join(', ')})`);
    await server.finished;
    return 0;
  } finally {
    signal.removeEventListener('abort', stop);
    await ep.close();
  }
}

/** The text of a PEM file, checked to hold a block of `kind`; errors name the option and file. */
function readPem(option: string, file: string, kind: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`${option} ${file}: cannot read: ${systemReason(e)}`);
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(text)) throw new CliError(`${option} ${file}: no PEM ${kind} in the file`);
  return text;
}

function requestLine(r: ServedRequest): string {
  const what = r.status === 200 ? `${r.status}, ${r.bytes} bytes` : `${r.status}${r.error ? ` (${r.error})` : ''}`;
  return `${r.remote ?? '?'} ${r.alpn} ${r.method} ${r.path} -> ${what}`;
}
