/**
 * Runs quic-peer's built dist under Node, Bun and Deno: the README's "Using it" example, a 20 MB
 * transfer between two endpoints (SHA-256 compared, throughput printed) and the `quic-peer
 * listen` / `quic-peer connect` pair as two processes. One line per check, then
 * `runtimes: N passed, N failed[, N skipped]` (.ci/run adds these to its own count).
 *
 * Usage: node build/test/runtimes/run.js [--runtime node|bun|deno]... [--check readme|bulk|cli]...
 *        [--bytes N] [--cli-bytes N] [--min-mbps N] [--min-ratio R]
 * The bulk check fails below --min-mbps (default 10) or below --min-ratio (default 0.2) times
 * Node's figure in the same run (twice in a row: it measures once more before failing): a ratio,
 * because this machine's speed varies with its load while a runtime's slowdown (Deno's was 1/10
 * of Node's, see the README's "Runtimes") does not.
 * Needs `npm run build` (dist) and `npm run build:test` (this file). Bun and Deno are installed
 * from npm into test/runtimes/tools (install.ts) unless QUIC_PEER_BUN / QUIC_PEER_DENO name a
 * binary. A runtime that cannot be had is skipped with the reason, except under CI=true when
 * the reason lies in the project (then its checks fail).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKS, RUN, makeProject, removeProject, type CheckName, type CheckResult } from './checks.js';
import { locate, type RuntimeName } from './install.js';

const here = dirname(fileURLToPath(import.meta.url));
/** build/test/runtimes -> the repository. */
const repo = resolve(here, '..', '..', '..');
const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];

interface Options {
  runtimes: RuntimeName[];
  checks: CheckName[];
  bulkBytes: number;
  cliBytes: number;
  minMbps: number;
  minRatio: number;
}

function parse(argv: string[]): Options {
  const o: Options = { runtimes: [], checks: [], bulkBytes: 20_000_000, cliBytes: 5_000_000, minMbps: 10, minRatio: 0.2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const value = (): string => {
      if (v === undefined) throw new Error(`${a} needs a value`);
      i++;
      return v;
    };
    if (a === '--runtime') {
      const r = value();
      if (!RUNTIMES.includes(r as RuntimeName)) throw new Error(`unknown runtime '${r}' (${RUNTIMES.join(', ')})`);
      o.runtimes.push(r as RuntimeName);
    } else if (a === '--check') {
      const c = value();
      if (!CHECKS.includes(c as CheckName)) throw new Error(`unknown check '${c}' (${CHECKS.join(', ')})`);
      o.checks.push(c as CheckName);
    } else if (a === '--bytes') o.bulkBytes = Number(value());
    else if (a === '--cli-bytes') o.cliBytes = Number(value());
    else if (a === '--min-mbps') o.minMbps = Number(value());
    else if (a === '--min-ratio') o.minRatio = Number(value());
    else throw new Error(`unknown argument '${a}'`);
  }
  if (o.runtimes.length === 0) o.runtimes = [...RUNTIMES];
  if (o.checks.length === 0) o.checks = [...CHECKS];
  return o;
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  const ci = process.env.CI === 'true';
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['quic-peer'];
  if (!bin || !existsSync(join(repo, bin))) {
    console.log(`runtimes: the package is not built (${bin ?? 'no bin'} missing): run npm run build first`);
    console.log(`runtimes: 0 passed, ${o.runtimes.length * o.checks.length} failed`);
    return 1;
  }
  const project = makeProject(repo, join(here, 'bulk.js'));
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const figures: string[] = [];
  const width = Math.max(...o.checks.map((c) => c.length));
  let nodeMbps: number | undefined;
  const floor = (): { mbps: number; why: string } => {
    const relative = nodeMbps === undefined ? 0 : nodeMbps * o.minRatio;
    return relative > o.minMbps ? { mbps: relative, why: `${o.minRatio} x Node's ${(nodeMbps ?? 0).toFixed(0)}` } : { mbps: o.minMbps, why: 'the absolute floor' };
  };
  try {
    for (const name of o.runtimes) {
      const found = locate(name, join(repo, 'test', 'runtimes', 'tools'), (l) => console.log(`${name}: ${l}`));
      if (!found.ok) {
        // A project fault (a bad pin, a broken lock) fails under CI; a cause outside the project
        // (no registry, no build for this platform, a CPU the binary cannot run on) is skipped.
        const fail = ci && !found.outside;
        console.log(`${name}: ${fail ? 'FAILED' : 'skipped'}: ${name} could not be had: ${found.reason}${found.outside ? ' (outside the project)' : ''}`);
        for (const c of o.checks) console.log(`${name.padEnd(4)} ${c.padEnd(width)}  ${fail ? 'FAILED' : 'skipped'}  (no ${name})`);
        if (fail) failed += o.checks.length;
        else skipped += o.checks.length;
        continue;
      }
      const runtime = found.runtime;
      console.log(`== ${name} ${runtime.version} (${[runtime.command, ...runtime.prefix].join(' ')})`);
      for (const c of o.checks) {
        let r: CheckResult;
        try {
          r = await RUN[c]({ repo, project, runtime, bulkBytes: o.bulkBytes, cliBytes: o.cliBytes, floor: floor() });
        } catch (e) {
          r = { ok: false, detail: `the runner failed: ${e instanceof Error ? e.message : String(e)}` };
        }
        console.log(`${name.padEnd(4)} ${c.padEnd(width)}  ${r.ok ? 'passed' : 'FAILED'}  ${r.detail}`);
        if (r.ok) passed++;
        else failed++;
        if (r.mbps !== undefined) figures.push(`${name} ${runtime.version}: ${r.mbps.toFixed(0)} Mbit/s`);
        if (name === 'node' && r.ok && r.mbps !== undefined) nodeMbps = r.mbps;
      }
    }
  } finally {
    removeProject(project);
  }
  if (figures.length > 0) console.log(`bulk (${(o.bulkBytes / 1e6).toFixed(0)} MB one way, one process): ${figures.join(', ')}`);
  console.log(`runtimes: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`runtimes: ${e instanceof Error ? e.message : String(e)}`);
    console.log('runtimes: 0 passed, 1 failed');
    process.exitCode = 1;
  },
);
