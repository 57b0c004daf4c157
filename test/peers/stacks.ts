/**
 * The stacks of the matrix and how each is driven: its server's and its client's command line for
 * each case, which cases it supports in which direction, and which application protocol carries
 * the files (hq-interop, h3 or the recipes' raw "echo"). The programs come from install.sh's
 * peers.json; the command lines follow the shared recipes (test/peers/README.md).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../interop/iroh.js';

/** The interop runner's cases we run (testcases_quic.py names), plus h3 and mutual X.509 auth. */
export const CASES = [
  'handshake',
  'transfer',
  'multiplexing',
  'retry',
  'chacha20',
  'keyupdate',
  'keyupdate-s',
  'datagrams',
  'mutual',
  'h3',
  'cert-ed25519',
  'cert-rsa',
  'versionnegotiation',
  'resumption',
  'zerortt',
] as const;
export type CaseName = (typeof CASES)[number];

/** What each case checks, for the README and the table's legend. */
export const CASE_INFO: Record<CaseName, string> = {
  handshake: 'one connection, one small file',
  transfer: 'files of 1 KB to 10 MB (quick: to 1 MB), SHA-256 checked',
  multiplexing: 'many files at once on one connection',
  retry: 'the server sends a Retry; the client follows it',
  chacha20: 'the client offers only TLS_CHACHA20_POLY1305_SHA256',
  keyupdate: 'the client initiates key updates during a transfer',
  'keyupdate-s': 'the server initiates key updates during a transfer',
  datagrams: 'RFC 9221 DATAGRAM frames echoed (ALPN echo)',
  mutual: 'the server requires a client certificate (mutual X.509)',
  h3: 'HTTP/3 GET of files (RFC 9114, QPACK static table)',
  'cert-ed25519': 'the server presents a self-signed Ed25519 certificate (the client trusts it as its CA)',
  'cert-rsa': 'the server presents a self-signed RSA-2048 certificate (the client trusts it as its CA)',
  versionnegotiation: 'the client starts with QUIC v2 (draft 0x709a50c4), the server answers Version Negotiation, the client falls back to v1',
  resumption: 'the client connects twice; the second handshake resumes the TLS session with a ticket of the first (PSK, no certificate)',
  zerortt: 'the client connects twice; the second sends its requests in 0-RTT packets with a ticket of the first, and the server accepts the early data',
};

/**
 * The server's certificate, key and the CA a client trusts for it (file names in the certs dir):
 * the CA-signed P-256 leaf, or in the cert-* cases a self-signed one of that key type.
 */
export function serverCert(c: CaseName): { crt: string; key: string; ca: string } {
  if (c === 'cert-ed25519') return { crt: 'ed25519.crt', key: 'ed25519.key', ca: 'ed25519.crt' };
  if (c === 'cert-rsa') return { crt: 'rsa.crt', key: 'rsa.key', ca: 'rsa.crt' };
  return { crt: 'server.crt', key: 'server.key', ca: 'ca.crt' };
}

/** The application protocol a cell uses on the wire. */
export type App = 'hq' | 'h3' | 'echo';

export const SERVER_PORT = 4433; // the stack's server
export const OUR_PORT = 4443; // quic-peer's server

/** Where the certificates, the served files and the downloads are. */
export interface Env {
  certs: string;
  www: string;
  /** A fresh directory for this cell's downloads. */
  out: string;
  /** Files of the cell, as URL paths (`/name`). */
  paths: string[];
  /** For echo cells: streams and bytes per stream. */
  echo: { streams: number; size: number };
  quick: boolean;
}

export interface Command {
  argv: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** One stack: the cases it supports with quic-peer as client (`asServer`) and as server (`asClient`). */
export interface Stack {
  readonly name: string;
  /** Cases where the stack is the server and quic-peer the client. */
  readonly asServer: ReadonlySet<CaseName>;
  /** Cases where the stack is the client and quic-peer the server. */
  readonly asClient: ReadonlySet<CaseName>;
  /** The protocol carrying the files of handshake/transfer/multiplexing/... */
  readonly app: (c: CaseName) => App;
  /** Why the unsupported cells are unsupported (for the table's legend). */
  readonly notes: string;
  server?(c: CaseName, e: Env): Command;
  client?(c: CaseName, e: Env): Command;
}

/** peers.json, as written by install.sh. */
export interface Manifest {
  dir: string;
  certs: string;
  stacks: Partial<Record<'ngtcp2' | 'quic-go' | 'quinn' | 'quiche' | 'caddy', { version: string; program?: string; server?: string; client?: string; dir?: string }>>;
}

const all = (...except: CaseName[]): Set<CaseName> => new Set(CASES.filter((c) => !except.includes(c)));
const cert = (e: Env, name: string): string => join(e.certs, name);
const NGTCP2_QUIET = ['-q', '--no-quic-dump', '--no-http-dump'];
const NGTCP2_CHACHA = '--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305';

/** The stacks whose programs the manifest lists, in table order. */
export function stacks(m: Manifest): Stack[] {
  const out: Stack[] = [];
  const qg = m.stacks['quic-go'];
  if (qg?.program) {
    const p = qg.program;
    out.push({
      name: `quic-go ${qg.version.replace(/-.*/, '')}`,
      asServer: all('versionnegotiation'), // our client speaks only v1: nothing to negotiate
      asClient: all(),
      app: (c) => (c === 'datagrams' ? 'echo' : c === 'h3' ? 'h3' : 'hq'),
      notes: 'qgpeer (test/peers/quic-go): hq-interop, h3 (quic-go http3) and echo; versionnegotiation only against our server (our client speaks v1 only)',
      server: (c, e) => ({
        argv: [p, 'server', '-listen', `127.0.0.1:${SERVER_PORT}`, '-cert', cert(e, serverCert(c).crt), '-key', cert(e, serverCert(c).key), '-www', e.www,
          ...(c === 'retry' ? ['-retry'] : []), ...(c === 'datagrams' ? ['-datagrams'] : []), ...(c === 'keyupdate-s' ? ['-ku', '50'] : []),
          ...(c === 'mutual' ? ['-client-auth'] : [])],
      }),
      client: (c, e) => ({
        // Go's flag package stops at the first positional: the paths come last.
        argv: [p, 'client', '-addr', `127.0.0.1:${OUR_PORT}`, '-timeout', e.quick ? '20s' : '60s',
          ...(c === 'chacha20' ? ['-chacha'] : []), ...(c === 'keyupdate' ? ['-ku', '50'] : []), ...(c === 'versionnegotiation' ? ['-v2'] : []),
          ...(c === 'resumption' ? ['-resume'] : []), ...(c === 'zerortt' ? ['-resume', '-0rtt'] : []),
          ...(c === 'mutual' ? ['-cert', cert(e, 'client.crt'), '-key', cert(e, 'client.key')] : []),
          ...(c === 'datagrams' ? ['-alpn', 'echo', '-datagram', '-streams', '1', '-size', '10000']
            : ['-alpn', c === 'h3' ? 'h3' : 'hq-interop', '-out', e.out, ...e.paths])],
      }),
    });
  }
  const qn = m.stacks.quinn;
  if (qn?.program) {
    const p = qn.program;
    out.push({
      name: `quinn ${qn.version.replace(/-.*/, '')}`,
      asServer: all('h3', 'versionnegotiation'),
      asClient: all('h3', 'versionnegotiation'),
      app: (c) => (c === 'datagrams' ? 'echo' : 'hq'),
      notes: 'qnpeer (test/peers/quinn): hq-interop and echo; no h3 in Debian\'s quinn 0.9',
      server: (c, e) => ({
        argv: [p, 'server', '--listen', `127.0.0.1:${SERVER_PORT}`, '--cert', cert(e, serverCert(c).crt), '--key', cert(e, serverCert(c).key), '--www', e.www,
          '--alpn', 'hq-interop,echo', ...(c === 'retry' ? ['--retry'] : []), ...(c === 'keyupdate-s' ? ['--ku'] : []),
          ...(c === 'mutual' ? ['--client-ca', cert(e, 'ca.crt')] : [])],
      }),
      client: (c, e) => ({
        argv: [p, 'client', '--addr', `127.0.0.1:${OUR_PORT}`,
          ...(c === 'chacha20' ? ['--chacha'] : []), ...(c === 'keyupdate' ? ['--ku'] : []), ...(c === 'resumption' ? ['--resume'] : []), ...(c === 'zerortt' ? ['--0rtt'] : []),
          ...(c === 'mutual' ? ['--cert', cert(e, 'client.crt'), '--key', cert(e, 'client.key')] : []),
          ...(c === 'datagrams' ? ['--alpn', 'echo', '--datagram', '--streams', '1', '--size', '10000'] : ['--alpn', 'hq-interop', '--out', e.out, ...e.paths])],
      }),
    });
  }
  const ng = m.stacks.ngtcp2;
  if (ng?.server && ng.client) {
    const [srv, cli] = [ng.server, ng.client];
    out.push({
      name: `ngtcp2 ${ng.version.replace(/[-+].*/, '')}`,
      // The example programs speak only h3: every cell is HTTP/3. No DATAGRAM support, and the
      // server cannot initiate a key update.
      asServer: all('datagrams', 'keyupdate-s', 'versionnegotiation'),
      // Its example client does not fall back after Version Negotiation (nor against quinn):
      // ERR_RECV_VERSION_NEGOTIATION, no download.
      // Its example client resumes only across two runs (--session-file): not as one cell.
      asClient: all('datagrams', 'keyupdate-s', 'versionnegotiation', 'resumption', 'zerortt'),
      app: () => 'h3',
      notes: 'gtlsserver/gtlsclient (Debian ngtcp2 examples, GnuTLS): h3 only, no DATAGRAM, no server-initiated key update, no fallback after Version Negotiation',
      server: (c, e) => ({
        argv: [srv, ...NGTCP2_QUIET, ...(c === 'retry' ? ['-V'] : []), ...(c === 'mutual' ? ['--verify-client'] : []),
          '127.0.0.1', String(SERVER_PORT), cert(e, serverCert(c).key), cert(e, serverCert(c).crt)],
        cwd: e.www,
      }),
      client: (c, e) => ({
        argv: [cli, ...NGTCP2_QUIET, '--exit-on-all-streams-close', `--download=${e.out}`, '--timeout=20s',
          ...(c === 'chacha20' ? [NGTCP2_CHACHA] : []), ...(c === 'keyupdate' ? ['--key-update=1ms'] : []),
          ...(c === 'mutual' ? [`--key=${cert(e, 'client.key')}`, `--cert=${cert(e, 'client.crt')}`] : []),
          '127.0.0.1', String(OUR_PORT), ...e.paths.map((p) => `https://localhost:${OUR_PORT}${p}`)],
      }),
    });
  }
  const qc = m.stacks.quiche;
  if (qc?.program && qc.dir) {
    // mxpeer.mjs is a source file of this checkout: use ours, not the one of whichever checkout
    // last ran install.sh (the manifest in the shared work dir may name another, since deleted).
    const own = join(repoRoot(), 'test', 'peers', 'matrixai', 'mxpeer.mjs');
    const [p, dir] = [existsSync(own) ? own : qc.program, qc.dir];
    out.push({
      name: 'quiche 0.18',
      // @matrixai/quic: echo of bidirectional streams only; its server always sends a Retry;
      // no knob for cipher suites or key updates, no DATAGRAM in its JS API.
      asServer: new Set<CaseName>(['handshake', 'transfer', 'multiplexing', 'retry', 'chacha20', 'keyupdate', 'mutual', 'cert-ed25519', 'cert-rsa']),
      asClient: new Set<CaseName>(['handshake', 'transfer', 'multiplexing', 'keyupdate-s', 'retry', 'mutual', 'cert-ed25519', 'cert-rsa']),
      app: () => 'echo',
      notes: '@matrixai/quic 2.0.9 (quiche + BoringSSL), mxpeer (test/peers/matrixai): echo of bidirectional streams; its server always sends Retry; no cipher or key update knob, no DATAGRAM in its JS API',
      server: (c, e) => ({
        argv: [process.execPath, p, 'server', '--port', String(SERVER_PORT), '--cert', cert(e, serverCert(c).crt), '--key', cert(e, serverCert(c).key),
          ...(c === 'mutual' ? ['--verify-client'] : [])],
        env: { MX_DIR: dir },
      }),
      client: (c, e) => ({
        argv: [process.execPath, p, 'client', '--port', String(OUR_PORT), '--ca', cert(e, serverCert(c).ca),
          '--streams', String(e.echo.streams), '--size', String(e.echo.size),
          ...(c === 'mutual' ? ['--cert', cert(e, 'client.crt'), '--key', cert(e, 'client.key')] : [])],
        env: { MX_DIR: dir },
      }),
    });
  }
  const cd = m.stacks.caddy;
  if (cd?.program) {
    out.push({
      name: `Caddy ${cd.version.replace(/-.*/, '')}`,
      asServer: new Set<CaseName>(['handshake', 'transfer', 'multiplexing', 'h3', 'cert-ed25519', 'cert-rsa', 'resumption', 'zerortt']),
      asClient: new Set<CaseName>(),
      app: () => 'h3',
      notes: 'Caddy (Debian; HTTP/3 by quic-go 0.29) serving files (file_server), every cell over h3; a server only',
    });
  }
  return out;
}
