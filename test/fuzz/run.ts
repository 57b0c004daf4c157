import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runFuzz, replay, type FindingRecord } from './engine.js';
import { TARGET_NAMES, makeTarget } from './targets.js';

/**
 * `npm run fuzz -- [--seconds N | --executions N] [--seed S] [--target T[,T...]] [--replay FILE]`
 *
 * Runs the structure-aware mutation fuzzer (test/fuzz/README.md): prints executions per second and
 * the distinct outcomes (close codes) per target; on a finding writes a reproducer to
 * fuzz-findings/ and exits 1. `--replay FILE` replays a reproducer and exits 1 if it still fails.
 */
interface Args {
  seconds: number | undefined;
  executions: number | undefined;
  seed: number;
  targets: string[];
  replay: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { seconds: undefined, executions: undefined, seed: Date.now() >>> 0, targets: [...TARGET_NAMES], replay: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    const num = (): number => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < 0) throw new TypeError(`${k} needs a non-negative number, got ${String(v)}`);
      i++;
      return n;
    };
    if (k === '--seconds') a.seconds = num();
    else if (k === '--executions') a.executions = Math.floor(num());
    else if (k === '--seed') a.seed = Math.floor(num()) >>> 0;
    else if (k === '--target') {
      if (!v) throw new TypeError('--target needs a name');
      a.targets = v.split(',');
      i++;
    } else if (k === '--replay') {
      if (!v) throw new TypeError('--replay needs a file');
      a.replay = v;
      i++;
    } else if (k === '--help' || k === '-h') {
      console.log(`usage: npm run fuzz -- [--seconds N | --executions N] [--seed S] [--target ${TARGET_NAMES.join(',')}] [--replay FILE]`);
      process.exit(0);
    } else throw new TypeError(`unknown argument ${k}`);
  }
  if (a.seconds === undefined && a.executions === undefined) a.seconds = 30;
  for (const t of a.targets) makeTarget(t); // validate names early
  return a;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay) {
    const f = JSON.parse(readFileSync(args.replay, 'utf8')) as FindingRecord;
    const again = replay(makeTarget(f.target), f);
    if (again) {
      console.log(`reproduced (${f.target}, ${f.inputs.length} inputs): ${again.message}\n${again.stack}`);
      return 1;
    }
    console.log(`no longer reproduces (${f.target}, ${f.inputs.length} inputs)`);
    return 0;
  }
  const targets = args.targets.map(makeTarget);
  const budget = args.seconds !== undefined ? `${args.seconds} s` : `${args.executions} executions per target`;
  console.log(`fuzz: seed ${args.seed}, targets ${targets.map((t) => t.name).join(', ')}, ${budget}`);
  const findings: string[] = [];
  const reports = runFuzz({
    seed: args.seed,
    targets,
    ...(args.seconds !== undefined ? { seconds: args.seconds } : {}),
    ...(args.executions !== undefined ? { executions: args.executions } : {}),
    onFinding: (f) => {
      mkdirSync('fuzz-findings', { recursive: true });
      const file = join('fuzz-findings', `${f.target}-${f.kind}-${args.seed}-${f.epochSeed}.json`);
      writeFileSync(file, JSON.stringify(f, null, 1) + '\n');
      findings.push(file);
      console.log(`FINDING in ${f.target} (${f.kind}): ${f.message.split('\n')[0]}\n  reproducer: ${file} (npm run fuzz -- --replay ${file})`);
    },
  });
  let total = 0;
  for (const t of targets) {
    const r = reports.get(t.name)!;
    total += r.executions;
    const rate = r.ms > 0 ? (r.executions / r.ms) * 1000 : 0;
    const outcomes = [...r.outcomes.entries()].sort((x, y) => y[1] - x[1]);
    console.log(`\n${t.name}: ${r.executions} executions in ${r.epochs} epochs, ${rate.toFixed(0)} exec/s, ${outcomes.length} unique outcomes, ${r.findings.length} finding(s)`);
    console.log(`  (${t.description})`);
    for (const [o, n] of outcomes) console.log(`  ${String(n).padStart(7)}  ${o}`);
  }
  console.log(`\ntotal: ${total} executions, ${findings.length} finding(s)`);
  return findings.length > 0 ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 2;
}
