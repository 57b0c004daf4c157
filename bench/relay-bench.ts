/**
 * The relay figures of the benchmark (run.ts): bulk throughput through `quic-peer relay` (the
 * iroh relay protocol over TCP + WebSocket, a process of its own on loopback).
 *
 * - `relay_bulk_mbps`: a quic-peer client and the quic-peer server child, the server's ticket
 *   stripped to its relay URL, so QUIC runs over the relay only.
 * - `iroh_relay_bulk_mbps`: two @number0/iroh endpoints (bench/iroh-bench.cjs, inside a
 *   loopback-only namespace) through the same relay server. iroh hole-punches onto a direct path
 *   whenever it can, so UDP is blackholed in that namespace (the relay's TCP is not): the figure
 *   is the relay's (the share of the payload bytes the relay carried is reported with it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeEndpointTicket, encodeEndpointTicket } from '../src/session/addressing.js';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { probeIsolation, runIsolated } from '../test/interop/netns.js';
import { repoRoot } from '../test/interop/iroh.js';
import { BENCH_ALPN } from './common.js';
import { mbps, median, startChild, withTimeout } from './proc.js';
import { streamUpload } from './upload.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled CLI (build/src/cli/main.js). */
export const CLI_MAIN = join(here, '..', 'src', 'cli', 'main.js');

export interface RelayProcess {
  readonly url: string;
  readonly proc: ChildProcess;
  /** Stops it (SIGINT) and resolves with its last metrics line. */
  stop(): Promise<string>;
}

/** Starts `quic-peer relay --bind 127.0.0.1:0` and resolves once it printed its URL. */
export async function startRelay(): Promise<RelayProcess> {
  const proc = spawn(process.execPath, [CLI_MAIN, 'relay', '--bind', '127.0.0.1:0', '--metrics-interval', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-20_000)));
  const exited = new Promise<void>((r) => proc.on('close', () => r()));
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      proc.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        const m = /(http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`quic-peer relay exited: ${err.slice(-1000)}`)));
    }),
    10_000,
    'quic-peer relay',
  );
  return {
    url,
    proc,
    async stop() {
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
      return err.trim().split('\n').filter((l) => l.includes('metrics')).pop() ?? '';
    },
  };
}

/** `relay_bulk_mbps`: median of `runs` uploads of `bytes` through the relay; details in the second value. */
export async function quicPeerRelayBulk(bytes: number, runs: number): Promise<{ mbps: number; details: Record<string, unknown> }> {
  const relay = await startRelay();
  try {
    const server = await startChild('quic-server', [relay.url]);
    const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
    try {
      const t = decodeEndpointTicket(String(server.ready['ticket']));
      const relayOnly = encodeEndpointTicket({ id: t.id, addrs: [], relays: t.relays ?? [] });
      const all: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = await Session.connect(client, relayOnly, { alpn: BENCH_ALPN, timeoutMs: 10_000 });
        try {
          if (!s.remoteAddress?.startsWith('relay:')) throw new Error(`not on the relay: ${s.remoteAddress}`);
          all.push(mbps(bytes, await streamUpload(s, bytes)));
        } finally {
          s.close(0, 'bye');
        }
      }
      return { mbps: median(all), details: { runs_mbps: all, bytes } };
    } finally {
      await withTimeout(client.close(), 3000, 'client close').catch(() => {});
      await server.stop();
    }
  } finally {
    await relay.stop();
  }
}

/** `iroh_relay_bulk_mbps`, or null with the reason. */
export async function irohRelayBulk(bytes: number, runs: number): Promise<{ mbps: number | null; note: string; details: Record<string, unknown> }> {
  const probe = await probeIsolation();
  if (!probe.ok) return { mbps: null, note: `not measured: cannot isolate iroh in a loopback-only namespace (${probe.reason})`, details: {} };
  const script = join(repoRoot(), 'bench', 'iroh-bench.cjs');
  const out = await runIsolated([process.execPath, script, String(bytes), '0', String(runs), join(here, '..', 'test', 'interop', 'netns.js'), CLI_MAIN], {
    timeoutMs: 90_000,
    cwd: repoRoot(),
  });
  const last = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0) throw new Error(`iroh relay bench failed (${out.timedOut ? 'timeout' : `exit ${out.code ?? out.signal}`}): ${out.stderr.slice(-1500)}`);
  const r = JSON.parse(last) as { bulkMbps: number[]; bytes: number; relayBytes: number | null; paths: unknown };
  const share = r.relayBytes === null ? null : r.relayBytes / (r.bytes * r.bulkMbps.length);
  return {
    mbps: median(r.bulkMbps),
    note: `two @number0/iroh endpoints through quic-peer relay (UDP blackholed: no direct path) inside one loopback-only namespace, ${r.bytes / 1e6} MB one stream; the relay carried ${share === null ? '?' : (share * 100).toFixed(0)}% of the payload bytes`,
    details: { runs_mbps: r.bulkMbps, relay_share: share, paths: r.paths },
  };
}
