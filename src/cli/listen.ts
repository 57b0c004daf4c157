import { DEFAULT_ALPN, Session, type Endpoint } from '../index.js';
import { echoSession, type Traffic } from './echo.js';
import { runListenWebTransport } from './listen-wt.js';
import { readFileSync } from 'node:fs';
import { UsageError, alpnOpts, intOpt, opt, parseArgs, relayOpts } from './args.js';
import { bindEndpoint, noMultipathHelp, releaseStdin, stderr, stdinIsTerminal, stdinToStream, streamToStdout, transferFailure } from './common.js';
import { watchPaths } from './path-log.js';
import { CliError, EXIT_STATUS_HELP, systemReason } from './exit.js';

/** How long `listen` waits for its home relay before printing the ticket anyway. */
const RELAY_WAIT_MS = 5_000;
/** How long it waits for the relay's address discovery (its dial gives up after 3 s). */
const RELAY_QAD_WAIT_MS = 4_000;

export const LISTEN_HELP = `quic-peer listen: accept sessions from quic-peer or iroh peers

Usage: quic-peer listen [options]

Prints 'listening <id>@<ip:port>' for each address a peer can dial, 'relay <url>' once connected
to the home relay (with --relay), and 'ticket <endpoint…>' on stderr, then:
  without --echo  accepts ONE session and pipes its first bidirectional stream to stdout and
                  stdin into it (like iroh's dumbpipe); exits when both directions are done.
                  A terminal is not read: with stdin a terminal the listener only receives, so
                  'quic-peer listen > file &' works in an interactive shell (a background job
                  reading its terminal is stopped); pipe or redirect stdin to send
                  ('quic-peer listen < file', 'cat | quic-peer listen')
  with --echo     serves any number of sessions, echoing every bidirectional stream, every
                  unidirectional stream (on a new unidirectional stream back) and every datagram,
                  until interrupted (Ctrl-C)
Each session is logged on stderr: who (id, address, ALPN) when it starts; each change of its
paths ('session 1 path 1 direct 127.0.0.1:5000 selected': a direct path found while on a relay,
with multipath and iroh's NAT traversal); how it ended and the bytes received and sent when it ends.

Options:
  --bind ip:port    address to bind (repeatable; default every interface, 0.0.0.0:0 and
                    [::]:0; 127.0.0.1:0 stays on this host)
  --alpn A          ALPN to serve (repeatable; default ${DEFAULT_ALPN})
  --secret-file F   load the Ed25519 secret key from F, or create F with a new one (keeps the id)
  --echo            echo server mode (see above)
  --keylog FILE     append TLS secrets to FILE in NSS key log format (for Wireshark)
  --qlog DIR        write a qlog trace (JSON-SEQ, qvis) of every connection into DIR,
                    one file <odcid>-server.sqlog each
  --max-sessions N  most sessions at once (default 4096)
  --webtransport    serve WebTransport over HTTP/3 to browsers instead (X.509): prints
                    'webtransport https://HOST:PORT/' and 'cert-hash sha-256 <hex>' (for the page's
                    serverCertificateHashes) and 'demo page http://localhost:P/', a page that
                    connects back and shows RTT, throughput and datagrams; with --echo, echoes as
                    above; without, logs sessions and closes each after its first stream's echo
  --cert F --key F  with --webtransport: serve this certificate (PEM) rather than a new ECDSA
                    P-256 one valid 13 days (browsers take a hash only for such certificates)
  --page-port N     with --webtransport: the demo page's port on localhost (default any free one)
  --relay URL       use this relay (iroh relay protocol: http:// or https://; repeatable, the
                    first to answer becomes the home relay): peers reach us through it with
                    the printed ticket, which carries it, even with no direct address
  --relay-ca F      trust the CA certificate(s) in F (PEM) for https relays (a private relay)
  --relay-qad-port P
                    ask the home relay's QUIC Address Discovery service on UDP port P (iroh's
                    relays: 7842; 'quic-peer relay --qad-port') where our packets come from: a
                    NAT's mapping, offered to peers as a hole-punching candidate; said on stderr
                    ('relay address discovery: observed <ip:port>')
${noMultipathHelp(20)}

${EXIT_STATUS_HELP}`;

export const LISTEN_SPEC = {
  alpn: { value: true, repeat: true },
  bind: { value: true, repeat: true },
  'secret-file': { value: true },
  echo: {},
  keylog: { value: true },
  qlog: { value: true },
  'max-sessions': { value: true },
  webtransport: {},
  cert: { value: true },
  key: { value: true },
  'page-port': { value: true },
  relay: { value: true, repeat: true },
  'relay-ca': { value: true },
  'relay-qad-port': { value: true },
  'no-multipath': {},
  help: {},
} as const;

export async function runListen(argv: string[], signal: AbortSignal): Promise<number> {
  const p = parseArgs(argv, LISTEN_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${LISTEN_HELP}\n`);
    return 0;
  }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  if (p.flags.has('webtransport')) return runListenWebTransport(p, signal);
  for (const o of ['cert', 'key', 'page-port'] as const) if (p.options.has(o)) throw new UsageError(`option '--${o}' goes with '--webtransport'`);
  const maxSessions = intOpt(p, 'max-sessions', 4096);
  const relays = relayOpts(p);
  const relayCaFile = opt(p, 'relay-ca');
  const qadPort = p.options.has('relay-qad-port') ? intOpt(p, 'relay-qad-port', 0) : undefined;
  if (qadPort !== undefined && (qadPort < 1 || qadPort > 65535)) throw new UsageError(`option '--relay-qad-port' takes a UDP port (1 to 65535), got ${qadPort}`);
  if ((relayCaFile !== undefined || qadPort !== undefined) && relays === undefined) throw new UsageError(`option '--${relayCaFile !== undefined ? 'relay-ca' : 'relay-qad-port'}' goes with '--relay'`);
  const relayCa = relayCaFile === undefined ? undefined : readText('--relay-ca', relayCaFile);
  const ep = await bindEndpoint(p, {
    alpns: alpnOpts(p, 'alpn') ?? [DEFAULT_ALPN],
    maxSessions,
    ...(relays ? { relays } : {}),
    ...(relayCa !== undefined ? { relayCa } : {}),
    ...(qadPort !== undefined ? { relayAddressDiscovery: { port: qadPort } } : {}),
  });
  const log = new SessionLog();
  // Ctrl-C: close every session (the peers see why) and the endpoint: pending accepts and
  // streams then end, and the serving functions return.
  const stop = (): void => {
    log.closeAll('interrupted');
    releaseStdin();
    void ep.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    if (signal.aborted) return 0;
    for (const a of ep.addr().addrs) stderr(`listening ${ep.id.toString()}@${a}`);
    const home = ep.homeRelay();
    if (home !== undefined) {
      // The ticket carries the relay either way; say whether peers can reach us through it yet.
      try {
        await ep.online({ timeoutMs: RELAY_WAIT_MS, signal });
        stderr(`relay ${home}`);
      } catch (e) {
        if (signal.aborted) return 0;
        stderr(`relay ${home}: not connected yet (${(e as Error).message}); retrying in the background`);
      }
      if (qadPort !== undefined) await reportRelayQad(ep, signal);
    }
    stderr(`ticket ${ep.ticket()}`);
    return p.flags.has('echo') ? await serveEcho(ep, log) : await pipeOne(ep, log);
  } finally {
    signal.removeEventListener('abort', stop);
    await ep.close();
    await log.ended();
  }
}

/** How long the listener of a pipe waits for the dialer to close the session once both sides are done. */
const PEER_CLOSE_WAIT_MS = 3_000;

/** Accepts one session and pipes its first bidi stream with stdin/stdout. */
async function pipeOne(ep: Endpoint, log: SessionLog): Promise<number> {
  const s = await Session.accept(ep);
  if (!s) return 1;
  const t = log.started(s);
  const st = await s.nextBidiStream();
  if (!st) throw new CliError(`the session from ${s.remoteId.toShortString()} closed before opening a stream`);
  let sending: Promise<void>;
  if (stdinIsTerminal()) {
    // A background job that reads its terminal is stopped (SIGTTIN), and the README's
    // 'quic-peer listen > received &' hung there. Receive only: our side of the stream ends at once.
    stderr('stdin is a terminal: receiving only (pipe or redirect stdin to send)');
    sending = st.writable.close();
  } else {
    sending = stdinToStream(st.writable, (n) => (t.sent += n));
  }
  try {
    await Promise.all([streamToStdout(st.readable, (n) => (t.received += n)), sending]);
  } catch (e) {
    throw await transferFailure(s, e);
  }
  // The dialer closes the session once its own FIN is acknowledged. Closing first would race that
  // acknowledgment: our ACK of its last bytes may still be delayed, or its data re-sent after a
  // spurious loss may still be on the way, and its writer's close() would then fail with our
  // CONNECTION_CLOSE although we hold every byte. So we wait for its close, for a bounded time.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([s.closed, new Promise((resolve) => (timer = setTimeout(resolve, PEER_CLOSE_WAIT_MS)))]);
  clearTimeout(timer);
  s.close({ closeCode: 0, reason: 'done' });
  return 0;
}

/** Echoes everything of every session until the endpoint closes (Ctrl-C). */
async function serveEcho(ep: Endpoint, log: SessionLog): Promise<number> {
  for (let s = await Session.accept(ep); s; s = await Session.accept(ep)) void echoSession(s, log.started(s));
  return 0;
}

/**
 * The listener's log of sessions on stderr: one line when a session starts (number, peer id and
 * address, ALPN), one when it ends (how, and the application bytes each way).
 */
class SessionLog {
  private count = 0;
  private readonly live = new Set<Session>();
  private readonly ending = new Set<Promise<void>>();

  /** Logs the start of `s` and, once it is closed, its end; returns its byte counters. */
  started(s: Session): Traffic {
    const n = ++this.count;
    const t: Traffic = { received: 0, sent: 0 };
    this.live.add(s);
    stderr(`session ${n} from ${s.remoteId.toString()}@${s.remoteAddress ?? '?'} (ALPN ${s.alpn})`);
    watchPaths(s, (line) => stderr(`session ${n} ${line}`));
    const done = s.closed.then((info) => {
      this.live.delete(s);
      this.ending.delete(done);
      const why = `code ${String(info.closeCode)}${info.reason ? `: ${info.reason}` : ''}`;
      stderr(`session ${n} closed (${why}): received ${t.received} bytes, sent ${t.sent} bytes`);
    });
    this.ending.add(done);
    return t;
  }

  /** Closes every live session with code 0 and `reason`. */
  closeAll(reason: string): void {
    for (const s of this.live) s.close({ closeCode: 0, reason });
  }

  /**
   * Resolves once every session started has been logged as closed, or after `ms` (a session
   * whose close was never reported must not keep the command from exiting).
   */
  async ended(ms = 1_000): Promise<void> {
    await Promise.race([Promise.all([...this.ending]), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  }
}

/** Says on stderr what the home relay's address discovery reported (or why it did not). */
async function reportRelayQad(ep: Endpoint, signal: AbortSignal): Promise<void> {
  const until = Date.now() + RELAY_QAD_WAIT_MS;
  const pending = (): boolean => {
    const s = ep.relayAddressDiscovery;
    return s !== undefined && s.observed === null && s.connection !== 'failed' && s.connection !== 'closed';
  };
  while (pending() && Date.now() < until && !signal.aborted) await new Promise((r) => setTimeout(r, 20));
  const s = ep.relayAddressDiscovery;
  if (s === undefined || signal.aborted) return;
  if (s.observed !== null) stderr(`relay address discovery: observed ${s.observed}`);
  else stderr(`relay address discovery: ${s.server}: ${s.error ?? 'no report yet'}${s.connection === 'failed' ? '; trying again later' : ''}`);
}

function readText(option: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${option} ${file}: ${systemReason(e)}`);
  }
}
