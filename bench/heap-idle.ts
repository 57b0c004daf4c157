/**
 * `heap_bytes_per_idle_conn_server_end` alone ([perf2]): the `heap-server` child (a server
 * Endpoint with `--expose-gc`), 8 sessions dialled from this process as a warm-up, then N more
 * (batches of 32, as run.ts); prints one JSON line with the child's heapUsed growth per session.
 *
 *   node build/bench/heap-idle.js [--n N] [--multipath | --no-multipath] [--snapshot DIR] [--top K] [--depth D]
 *
 * `--multipath` turns multipath (and n0 NAT traversal with it) on at both ends, so that both
 * negotiate it; `--no-multipath` turns it off at both; neither leaves the default of each.
 * With `--snapshot DIR` the child also writes a heap snapshot after the warm-up and after the N
 * sessions (DIR/base.heapsnapshot, DIR/after.heapsnapshot), and this prints what the second has
 * that the first had not, per connection: by constructor, and by the field of our object that
 * holds it, and D fields down from there (bench/heap-diff.ts). heapUsed is deterministic to ~0.2% between runs: a measure that
 * load does not distort.
 */
import { join } from 'node:path';
import { Endpoint } from '../src/session/endpoint.js';
import { Session } from '../src/session/session.js';
import { BENCH_ALPN } from './common.js';
import { diffSnapshots } from './heap-diff.js';
import { killChildren, startChild } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const n = Number(opt('--n', '1000'));
const snapDir = opt('--snapshot', '');
const top = Number(opt('--top', '40'));
const depth = Number(opt('--depth', '1'));
const mode = args.includes('--multipath') ? 'multipath' : args.includes('--no-multipath') ? 'no-multipath' : '';
const transport = mode === '' ? undefined : { multipath: mode === 'multipath' };

async function main(): Promise<void> {
  const hard = setTimeout(() => {
    killChildren();
    process.exit(2);
  }, 300_000);
  hard.unref();
  const child = await startChild('heap-server', mode === '' ? [] : [mode], ['--expose-gc'], 30_000);
  const client = await Endpoint.bind({ bind: '127.0.0.1:0', acceptIncoming: false, sessionCache: false, ...(transport && { transport }) });
  const held: Session[] = [];
  const base = snapDir ? join(snapDir, 'base.heapsnapshot') : '';
  const after = snapDir ? join(snapDir, 'after.heapsnapshot') : '';
  try {
    const dial = (): Promise<Session> => Session.connect(client, String(child.ready['ticket']), { alpn: BENCH_ALPN, timeoutMs: 10_000 });
    for (const s of await Promise.all(Array.from({ length: 8 }, dial))) held.push(s);
    child.proc.stdin.write(`base ${base}\n`);
    await child.next(120_000);
    for (let i = 0; i < n; i += 32) held.push(...(await Promise.all(Array.from({ length: Math.min(32, n - i) }, dial))));
    child.proc.stdin.write(`measure ${n} ${after}\n`);
    const r = await child.next(120_000);
    console.log(JSON.stringify({ heap_bytes_per_idle_conn_server_end: Math.round(Number(r['heapPerConn'])), multipath: mode || 'default', ...r }));
  } finally {
    for (const s of held) s.close(0, 'bye');
    await client.close();
    await child.stop();
  }
  if (snapDir) {
    const d = diffSnapshots(base, after, n, depth);
    const fmt = (rows: Array<[string, number, number]>): string =>
      rows
        .slice(0, top)
        .map(([k, bytes, count]) => `  ${bytes.toFixed(0).padStart(6)} B ${count.toFixed(2).padStart(7)} x  ${k}`)
        .join('\n');
    console.log(`new objects per connection: ${d.bytes.toFixed(0)} B self size in ${d.count.toFixed(1)} objects`);
    console.log(`by constructor:\n${fmt(d.byClass)}`);
    console.log(`by holder (the nearest object of a named class on the shortest path from the roots, and its field):\n${fmt(d.byHolder)}`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`heap-idle: ${(e as Error).stack ?? String(e)}\n`);
    killChildren();
    process.exit(1);
  },
);
