import { ConnectError, DEFAULT_ALPN, FileSessionCache, InvalidRemoteError, Session, parseRemote, type EndpointAddr } from '../index.js';
import { UsageError, alpnOpts, intOpt, opt, parseArgs, relayOpts } from './args.js';
import { bindEndpoint, noMultipathHelp, releaseStdin, stderr, stdinToStream, streamToStdout, transferFailure } from './common.js';
import { watchPaths } from './path-log.js';
import { CliError, EXIT_STATUS_HELP } from './exit.js';

export const CONNECT_HELP = `quic-peer connect: dial a quic-peer or iroh peer and pipe a stream

Usage: quic-peer connect [options] <id@ip:port | endpoint ticket | id --relay URL>

Opens one bidirectional stream, pipes stdin into it (finishing it at EOF) and the stream to
stdout, then closes the session. When the session's paths change (a direct path found while
on a relay: multipath and iroh's NAT traversal), says so on stderr: 'path 1 direct
127.0.0.1:4433 selected'.

Options:
  --bind ip:port    local address to bind (repeatable; default every interface,
                    0.0.0.0:0 and [::]:0; 127.0.0.1:0 stays on this host)
  --alpn A          ALPN to speak (default ${DEFAULT_ALPN})
  --secret-file F   load the Ed25519 secret key from F, or create F with a new one
  --keylog FILE     append TLS secrets to FILE in NSS key log format (for Wireshark)
  --qlog DIR        write a qlog trace (JSON-SEQ, qvis) of the connection into DIR
                    (<odcid>-client.sqlog)
  --timeout-ms N    give up when the handshake has not completed after N ms (default 10000)
  --relay URL       the peer's relay (iroh relay protocol: http:// or https://), tried with
                    the ticket's relays and direct addresses; the first that answers wins
                    (repeatable)
  --session-cache F keep the server's session tickets and address tokens in F (JSON, mode
                    0600, created if missing): the next connect to the same id resumes
                    (one round trip, no signatures) and skips a Retry
  --early-data      with --session-cache: send stdin's first bytes in 0-RTT when the cached
                    ticket allows it (no round trip before the request; early data can be
                    replayed by an attacker: use it only for requests safe to repeat)
${noMultipathHelp(20)}

${EXIT_STATUS_HELP}`;

export const CONNECT_SPEC = {
  bind: { value: true, repeat: true },
  alpn: { value: true },
  'secret-file': { value: true },
  keylog: { value: true },
  qlog: { value: true },
  'timeout-ms': { value: true },
  relay: { value: true, repeat: true },
  'session-cache': { value: true },
  'early-data': {},
  'no-multipath': {},
  help: {},
} as const;

export async function runConnect(argv: string[], signal: AbortSignal): Promise<number> {
  const p = parseArgs(argv, CONNECT_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${CONNECT_HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 1) throw new UsageError(`expected one remote (id@ip:port or a ticket), got ${p.positionals.length}`);
  const relays = relayOpts(p);
  const parsed = parseRemoteArg(p.positionals[0]!, relays);
  const remote: EndpointAddr = relays ? { ...parsed, relays: [...(parsed.relays ?? []), ...relays] } : parsed;
  const timeoutMs = intOpt(p, 'timeout-ms', 10_000);
  const alpn = alpnOpts(p, 'alpn')?.[0] ?? DEFAULT_ALPN;
  const cacheFile = opt(p, 'session-cache');
  const earlyData = p.flags.has('early-data');
  if (earlyData && cacheFile === undefined) throw new UsageError('--early-data needs --session-cache (the ticket of an earlier connection)');
  let sessionCache: FileSessionCache | undefined;
  if (cacheFile !== undefined) {
    try {
      sessionCache = new FileSessionCache(cacheFile);
    } catch (e) {
      throw new CliError(`--session-cache ${cacheFile}: ${(e as Error).message}`);
    }
  }
  const ep = await bindEndpoint(p, { acceptIncoming: false, ...(sessionCache ? { sessionCache } : {}) });
  let session: Session | undefined;
  // Ctrl-C: close the session (the peer sees why), stop reading stdin; the awaits below then end.
  const stop = (): void => {
    session?.close({ closeCode: 0, reason: 'interrupted' });
    releaseStdin();
    void ep.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    if (signal.aborted) return 0;
    try {
      session = await Session.connect(ep, remote, { alpn, timeoutMs, ...(earlyData ? { earlyData } : {}) });
    } catch (e) {
      throw e instanceof ConnectError ? dialFailure(e, remote, timeoutMs) : e;
    }
    watchPaths(session, stderr);
    const { readable, writable } = await session.createBidirectionalStream();
    try {
      await Promise.all([stdinToStream(writable), streamToStdout(readable)]);
    } catch (e) {
      throw await transferFailure(session, e);
    }
    // With a session cache, say what the cache bought (stdout carries only the peer's bytes).
    if (sessionCache) {
      await session.ready;
      const early = earlyData ? `, early data ${session.earlyDataAccepted ? 'accepted' : 'not accepted (sent again after the handshake)'}` : '';
      process.stderr.write(`${session.resumed ? 'resumed the TLS session (one round trip, no signatures)' : 'full handshake (no usable ticket)'}${early}\n`);
    }
    session.close({ closeCode: 0, reason: 'done' });
    return 0;
  } finally {
    signal.removeEventListener('abort', stop);
    await ep.close();
  }
}

/**
 * The remote as typed: a malformed one, or one that names no address we could dial (a bare id: we
 * have no discovery), is a usage error.
 */
function parseRemoteArg(text: string, relays: readonly string[] | undefined): EndpointAddr {
  let remote: EndpointAddr;
  try {
    remote = parseRemote(text);
  } catch (e) {
    if (e instanceof InvalidRemoteError) throw new UsageError(e.message);
    throw e;
  }
  if (remote.addrs.length === 0 && (remote.relays ?? []).length === 0 && relays === undefined) {
    throw new UsageError(`'${text}' names no address: give id@ip:port, a ticket, or the id with --relay URL`);
  }
  return remote;
}

/** One line saying why the dial failed, in the command's words. */
function dialFailure(e: ConnectError, remote: EndpointAddr, timeoutMs: number): CliError {
  if (e.kind === 'timeout') {
    const all = [...remote.addrs, ...(remote.relays ?? []).map((r) => `relay ${r}`)];
    const where = all.length === 1 && remote.addrs.length === 1 ? `${remote.id.toShortString()}@${remote.addrs[0]}` : `${remote.id.toShortString()} (at ${all.join(', ')})`;
    return new CliError(`no answer from ${where} within ${timeoutMs} ms: nothing is listening there, or the packets are lost`);
  }
  return new CliError(e.message.split('\n')[0]!);
}
