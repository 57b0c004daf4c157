/**
 * What one full handshake costs, in counts that load distorts little ([perf2]): a server and a
 * client Endpoint in THIS process on loopback, N sequential full handshakes (no session cache),
 * after a warm-up of 100 (`--warmup N`; a warm process needs ~2,500, bench/README.md "Warm-up"):
 *
 *   node build/bench/handshake-cost.js [--n N] [--warmup N] [--alloc] [--interval BYTES] [--top K] [--no-multipath]
 *   node build/bench/handshake-cost.js --curve K [--n N] [--warmup 0]
 *
 * prints one JSON line: CPU ms per handshake (both ends, `process.cpuUsage`), and with `--alloc`
 * the JS heap allocated per handshake (both ends; V8's sampling heap profiler every 512 bytes or `--interval`,
 * objects collected since included) with the K largest allocating functions. The profiler slows
 * the run: take the CPU figure from a run without `--alloc`. `--no-multipath`: both ends with
 * `transport: { multipath: false }` (no multipath, NAT traversal or address discovery), to see
 * what those cost a handshake. `--curve K`: K batches of N handshakes, one JSON line each with the
 * CPU per handshake of that batch: the JIT's warm-up as it happens (bench/README.md, "Warm-up").
 * Compare builds by alternating runs
 * (bench/README.md, "Handshake CPU and idle heap").
 */
import { Session as InspectorSession } from 'node:inspector/promises';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { BENCH_ALPN } from './common.js';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const n = Number(opt('--n', '300'));
const warmup = Number(opt('--warmup', '100'));
const curve = Number(opt('--curve', '0'));
const top = Number(opt('--top', '15'));
const alloc = args.includes('--alloc');
/** Bytes between samples of the heap profiler: smaller is finer and slower. */
const interval = Number(opt('--interval', '512'));
const transport = args.includes('--no-multipath') ? { multipath: false } : {};

/** `function file:line`, native frames named after their caller (`slice <- hkdfExpandLabel ...`). */
function frameName(node: SamplingNode, parent: string): string {
  const f = node.callFrame;
  const own = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/(src|bench|node_modules)\//, '$1/')}:${f.lineNumber}`;
  return f.url === '' && parent !== '' ? `${own} <- ${parent}` : own;
}

async function main(): Promise<void> {
  const hard = setTimeout(() => process.exit(2), 300_000);
  hard.unref();
  const server = await Endpoint.bind({ bind: '127.0.0.1:0', alpns: [BENCH_ALPN], retry: 'never', maxHandshakes: 1024, transport });
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: false, transport });
  void (async () => {
    for (let s = await Session.accept(server); s !== null; s = await Session.accept(server)) s.close(0, 'bye');
  })().catch(() => {});
  const ticket = server.ticket();
  const once = async (): Promise<void> => (await Session.connect(client, ticket, { alpn: BENCH_ALPN, timeoutMs: 10_000 })).close(0, 'bye');
  try {
    for (let i = 0; i < warmup; i++) await once();
    const inspector = alloc ? new InspectorSession() : undefined;
    if (inspector) {
      inspector.connect();
      await inspector.post('HeapProfiler.startSampling', {
        samplingInterval: interval,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    for (let k = 0; k < curve; k++) {
      const b0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await once();
      const b = process.cpuUsage(b0);
      console.log(JSON.stringify({ batch: k, handshakes_so_far: warmup + (k + 1) * n, cpu_ms_per_handshake_both_ends: Math.round(((b.user + b.system) / 1000 / n) * 1000) / 1000 }));
    }
    if (curve > 0) return;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await once();
    const cpu = process.cpuUsage(c0);
    const out: Record<string, unknown> = { handshakes: n, cpu_ms_per_handshake_both_ends: Math.round(((cpu.user + cpu.system) / 1000 / n) * 1000) / 1000 };
    if (inspector) {
      const { profile } = (await inspector.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: SamplingNode } };
      inspector.disconnect();
      const by = new Map<string, number>();
      let total = 0;
      const walk = (node: SamplingNode, parent: string): void => {
        const name = frameName(node, parent);
        total += node.selfSize;
        by.set(name, (by.get(name) ?? 0) + node.selfSize);
        for (const c of node.children) walk(c, frameName(node, ''));
      };
      walk(profile.head, '');
      out['alloc_kib_per_handshake_both_ends'] = Math.round((total / n / 1024) * 10) / 10;
      out['top_kib_per_handshake'] = [...by]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, v]) => [Math.round((v / n / 1024) * 100) / 100, k]);
    }
    console.log(JSON.stringify(out));
  } finally {
    await client.close();
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`handshake-cost: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
