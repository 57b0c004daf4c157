/**
 * Throughput over message size (PERF.md: "the README can show ... a plot of throughput over
 * message size").
 *
 *   npm run bench:sweep [-- --quick | --smoke] [--json]
 *
 * For each write size, one quic-peer stream (a fresh stream on one connection to a server child,
 * real AES-128-GCM, UDP loopback) and one node:tls connection over TCP loopback (the anchor) each
 * carry the same number of bytes in writes of that size; goodput is bytes / time until the server
 * confirmed the count, after a warm-up upload. Writes bench/results/sweep-<timestamp>[-quick].json and
 * bench/results/throughput.svg (smoke runs: $TMPDIR/quic-peer-bench/, not measurements).
 */
import { connect as tlsConnect } from 'node:tls';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { repoRoot } from '../test/interop/iroh.js';
import { BENCH_ALPN } from './common.js';
import { killChildren, machineInfo, mbps, median, startChild, withTimeout, type Child } from './proc.js';
import { bytesLabel, lineChartSvg } from './plot.js';
import { streamUpload } from './upload.js';

type Mode = 'full' | 'quick' | 'smoke';
const MB = 1_000_000;
const SIZES = [64, 256, 1024, 4096, 16384, 65536, 262144];
/** Bytes per point: enough writes to be steady, bounded so small writes don't take minutes. */
const PLAN: Record<Mode, { maxBytes: number; maxWrites: number; runs: number; budgetMs: number }> = {
  full: { maxBytes: 40 * MB, maxWrites: 60_000, runs: 3, budgetMs: 10 * 60_000 },
  quick: { maxBytes: 10 * MB, maxWrites: 20_000, runs: 1, budgetMs: 110_000 },
  smoke: { maxBytes: 256 * 1024, maxWrites: 400, runs: 1, budgetMs: 55_000 },
};

export interface SweepPoint {
  readonly size: number;
  readonly bytes: number;
  readonly quic_mbps: number;
  readonly tls_mbps: number;
}

function u64(answer: Uint8Array): number {
  return Number(Buffer.from(answer).readBigUInt64BE(0));
}

async function tlsUpload(child: Child, bytes: number, size: number): Promise<number> {
  const sock = tlsConnect({ host: '127.0.0.1', port: Number(child.ready['port']), ca: String(child.ready['certPem']), servername: 'bench.local', minVersion: 'TLSv1.3' });
  await new Promise<void>((resolve, reject) => (sock.once('secureConnect', resolve), sock.once('error', reject)));
  const chunk = Buffer.alloc(size, 0x74);
  const answer: Buffer[] = [];
  sock.on('data', (b: Buffer) => answer.push(b));
  const ended = new Promise<void>((r) => sock.on('end', r));
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += size) {
    if (!sock.write(sent + size <= bytes ? chunk : chunk.subarray(0, bytes - sent))) await new Promise((r) => sock.once('drain', r));
  }
  sock.end();
  await ended;
  const ms = performance.now() - t0;
  const counted = u64(Buffer.concat(answer));
  if (counted !== bytes) throw new Error(`tls server counted ${counted}, sent ${bytes} (writes of ${size})`);
  return ms;
}

export function sweepSvg(points: readonly SweepPoint[], subtitle: string): string {
  return lineChartSvg({
    title: 'Throughput over message size (one connection, loopback)',
    subtitle,
    xLabel: 'bytes per write',
    yLabel: 'goodput, Mbit/s',
    xTick: bytesLabel,
    series: [
      { name: 'quic-peer (UDP)', color: '#d9480f', points: points.map((p) => [p.size, p.quic_mbps] as const) },
      { name: 'node:tls (TCP)', color: '#1864ab', points: points.map((p) => [p.size, p.tls_mbps] as const) },
    ],
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const mode: Mode = argv.includes('--smoke') ? 'smoke' : argv.includes('--quick') ? 'quick' : 'full';
  const plan = PLAN[mode];
  const started = Date.now();
  const hard = setTimeout(() => {
    process.stderr.write('bench sweep: hard deadline reached\n');
    killChildren();
    process.exit(2);
  }, plan.budgetMs);
  hard.unref();

  const points: SweepPoint[] = [];
  const quicServer = await startChild('quic-server', []);
  const tlsServer = await startChild('tls-server', []);
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false });
  try {
    const session = await Session.connect(client, String(quicServer.ready['ticket']), { alpn: BENCH_ALPN, timeoutMs: 10_000 });
    // Warm-up (not measured): the first point would otherwise measure JIT compilation of the
    // write path (~15 us per write cold vs ~4 us warm) and a connection still growing its windows.
    await streamUpload(session, Math.min(plan.maxBytes, 64 * plan.maxWrites), 64, true);
    await streamUpload(session, plan.maxBytes / 4, 64 * 1024, true);
    for (const size of SIZES) {
      const bytes = Math.min(plan.maxBytes, size * plan.maxWrites);
      const q: number[] = [];
      const t: number[] = [];
      for (let r = 0; r < plan.runs; r++) {
        q.push(mbps(bytes, await withTimeout(streamUpload(session, bytes, size, true), 120_000, `quic ${size}`)));
        t.push(mbps(bytes, await withTimeout(tlsUpload(tlsServer, bytes, size), 120_000, `tls ${size}`)));
      }
      const p: SweepPoint = { size, bytes, quic_mbps: Math.round(median(q) * 10) / 10, tls_mbps: Math.round(median(t) * 10) / 10 };
      points.push(p);
      if (!json) process.stderr.write(`  ${bytesLabel(size).padStart(8)}: quic-peer ${p.quic_mbps} Mbit/s, node:tls ${p.tls_mbps} Mbit/s (${(bytes / MB).toFixed(2)} MB, median of ${plan.runs})\n`);
    }
    session.close(0, 'done');
  } finally {
    await withTimeout(client.close(), 3000, 'client close').catch(() => {});
    await quicServer.stop();
    await tlsServer.stop();
  }

  const machine = machineInfo();
  const stamp = new Date(started).toISOString();
  const record = { mode, date: stamp, duration_ms: Date.now() - started, machine, points };
  const dir = mode === 'smoke' ? join(tmpdir(), 'quic-peer-bench') : join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `sweep-${stamp.replace(/[:.]/g, '-')}${mode === 'full' ? '' : '-' + mode}.json`);
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  const svg = join(dir, 'throughput.svg');
  writeFileSync(svg, sweepSvg(points, `${stamp.slice(0, 10)}, ${mode} run, ${machine.cpu} x${machine.cores}, node ${machine.node}; median of ${plan.runs} per point`));
  process.stdout.write(`size        quic-peer Mbit/s   node:tls Mbit/s\n${points.map((p) => `${bytesLabel(p.size).padEnd(10)} ${String(p.quic_mbps).padStart(16)} ${String(p.tls_mbps).padStart(17)}`).join('\n')}\n  written to ${file} and ${svg}\n`);
  if (json) process.stdout.write(JSON.stringify(record) + '\n');
  clearTimeout(hard);
  killChildren();
  process.exit(0);
}

// Run only as the entry point (the test imports sweepSvg).
if (process.argv[1] !== undefined && /sweep\.js$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench sweep: ${(e as Error).stack ?? String(e)}\n`);
    killChildren();
    process.exit(1);
  });
}
