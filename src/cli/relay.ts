import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { QadServer, RelayServer, type RelayMetrics } from '../index.js';
import { UsageError, opt, parseArgs, socketAddrOpts } from './args.js';
import { stderr } from './common.js';
import { CliError, EXIT_STATUS_HELP, systemReason } from './exit.js';

export const RELAY_HELP = `quic-peer relay: an iroh relay server (iroh-relay protocol v2, v1 accepted)

Usage: quic-peer relay [options]

Serves GET /ping and the GET /relay WebSocket that iroh nodes and quic-peer use to reach each
other by endpoint id when no direct path works (configure an iroh node with
RelayMode.customFromUrls([URL])). Prints the relay URL on stdout, then counters on stderr every
--metrics-interval seconds and once more on exit; runs until interrupted (Ctrl-C, SIGTERM).

Options:
  --bind ip:port            address to listen on (default 0.0.0.0:3340, iroh's dev relay port;
                            127.0.0.1:0 stays on this host, on a free port)
  --cert F --key F          serve https (and wss) with this PEM certificate chain and key
                            (default plain http: for tests and local networks; iroh nodes can
                            use an https relay only with a certificate they trust)
  --qad-port P              also serve QUIC Address Discovery on UDP port P of the --bind address
                            (iroh relays use 7842; 0 = a free port, said on stderr), with the
                            --cert certificate: iroh nodes and quic-peer endpoints with
                            relayAddressDiscovery learn from it the address their packets come from
  --metrics-interval S      seconds between metrics lines on stderr (default 10; 0 = only on exit)

${EXIT_STATUS_HELP}`;

export const RELAY_SPEC = {
  bind: { value: true },
  cert: { value: true },
  key: { value: true },
  'metrics-interval': { value: true },
  'qad-port': { value: true },
  help: {},
} as const;

export async function runRelay(argv: string[], signal: AbortSignal): Promise<number> {
  const p = parseArgs(argv, RELAY_SPEC);
  if (p.flags.has('help')) {
    process.stdout.write(`${RELAY_HELP}\n`);
    return 0;
  }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument '${p.positionals[0]}'`);
  const bind = socketAddrOpts(p, 'bind')?.[0] ?? '0.0.0.0:3340';
  const certFile = opt(p, 'cert');
  const keyFile = opt(p, 'key');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError(certFile === undefined ? "option '--key' needs '--cert'" : "option '--cert' needs '--key'");
  }
  const intervalText = opt(p, 'metrics-interval') ?? '10';
  const interval = Number(intervalText);
  if (!Number.isFinite(interval) || interval < 0) throw new UsageError(`option '--metrics-interval' takes seconds (0 or more), got '${intervalText}'`);
  const qadText = opt(p, 'qad-port');
  const qadPort = qadText === undefined ? undefined : Number(qadText);
  if (qadPort !== undefined && (!/^\d+$/.test(qadText!) || qadPort > 65535)) throw new UsageError(`option '--qad-port' takes a UDP port (0 to 65535), got '${qadText}'`);
  if (qadPort !== undefined && certFile === undefined) throw new UsageError("option '--qad-port' needs '--cert' and '--key' (QUIC needs the relay's certificate)");
  const cert = certFile === undefined ? undefined : readPem('--cert', certFile);
  const key = keyFile === undefined ? undefined : readPem('--key', keyFile);
  if (signal.aborted) return 0;

  let server: RelayServer;
  try {
    server = await RelayServer.listen({ bind, ...(cert && key ? { cert, key } : {}), log: (line) => stderr(`relay: ${line}`) });
  } catch (e) {
    throw new CliError(`cannot listen on ${bind}: ${systemReason(e)}`);
  }
  let qad: QadServer | undefined;
  if (qadPort !== undefined) {
    const qadBind = `${bind.slice(0, bind.lastIndexOf(':'))}:${qadPort}`;
    try {
      qad = await QadServer.listen({ bind: qadBind, cert: cert!.toString(), key: key!.toString() });
    } catch (e) {
      await server.close();
      throw new CliError(`cannot serve address discovery on udp ${qadBind}: ${systemReason(e)}`);
    }
  }
  process.stdout.write(`${server.url}\n`);
  if (qad) stderr(`address discovery (QAD, ALPN /iroh-qad/0) on udp ${qad.address}`);
  if (/^(0\.0\.0\.0|\[::\]):/.test(bind)) {
    const scheme = cert ? 'https' : 'http';
    for (const ip of externalAddresses()) stderr(`also reachable as ${scheme}://${ip.includes(':') ? `[${ip}]` : ip}:${server.port}`);
  }
  const timer = interval > 0 ? setInterval(() => stderr(metricsLine(server.metrics)), interval * 1000) : undefined;
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  await qad?.close();
  await server.close();
  stderr(metricsLine(server.metrics));
  return 0;
}

/** One line of counters, `name=value` pairs (greppable). */
export function metricsLine(m: RelayMetrics): string {
  const d = m.drops;
  return (
    `metrics clients=${m.clients} connections=${m.connections} accepts=${m.accepts} disconnects=${m.disconnects} ` +
    `forwarded_frames=${m.framesForwarded} forwarded_datagrams=${m.datagramsForwarded} forwarded_bytes=${m.bytesForwarded} ` +
    `rate_limited=${m.rateLimited} drop_unknown_destination=${d.unknownDestination} drop_queue_full=${d.queueFull} ` +
    `drop_malformed=${d.malformed} drop_denied=${d.denied} drop_too_many_clients=${d.tooManyClients} ` +
    `drop_handshake_timeout=${d.handshakeTimeout} drop_pong_timeout=${d.pongTimeout}`
  );
}

function readPem(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read ${option} ${file}: ${systemReason(e)}`);
  }
}

function externalAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') out.push(a.address);
  }
  return out;
}
