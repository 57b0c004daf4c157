/**
 * `npm run soak -- --minutes N [options]`: runs the soak (soak.ts), prints a line every sample,
 * writes the samples as JSON and CSV, judges flatness (analysis.ts) and exits 1 when not flat.
 * Run node with --expose-gc (the npm script does) so memory is measured after a full gc.
 *
 * Options: --minutes N | --seconds N (duration, default 10 minutes), --sample-seconds N (10),
 * --warmup-seconds N (120, or a fifth of a run shorter than 10 minutes), --loss P (0.01),
 * --seed N (1), --heap-slope MB_PER_MIN (0.5), --count-slope PER_MIN (1),
 * --no-trend-verdict (judge only the return to baseline and errors: for short smoke runs), --out DIR
 * (default build/soak), --svg FILE (also write the plot, see plot.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CSV_HEADER, csvRow, formatCounts, formatSample, judge } from './analysis.js';
import { writePlot } from './plot.js';
import { DEFAULT_SOAK, runSoak } from './soak.js';

function parseArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const flag = a.slice(2);
    if (flag === 'no-trend-verdict' || flag === 'help') m.set(flag, 'true');
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      m.set(flag, v);
    }
  }
  return m;
}

function num(args: Map<string, string>, k: string, def: number): number {
  const v = args.get(k);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} must be a non-negative number, got ${v}`);
  return n;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('help')) {
    console.log('usage: npm run soak -- --minutes N [--sample-seconds 10] [--warmup-seconds 120] [--loss 0.01] [--seed 1] [--heap-slope 0.5] [--count-slope 1] [--no-trend-verdict] [--out DIR] [--svg FILE]');
    return 0;
  }
  const durationS = args.has('seconds') ? num(args, 'seconds', 600) : num(args, 'minutes', 10) * 60;
  const sampleS = num(args, 'sample-seconds', 10);
  const warmupS = num(args, 'warmup-seconds', Math.min(120, durationS / 5));
  const out = args.get('out') ?? 'build/soak';
  if (typeof globalThis.gc !== 'function') console.log('note: run node with --expose-gc to measure memory after gc (the npm script does)');
  console.log(`soak: ${durationS} s of mixed traffic through the impairing relay (loss ${num(args, 'loss', DEFAULT_SOAK.dropRate)}), a sample every ${sampleS} s, warm-up ${warmupS} s`);
  const r = await runSoak({
    ...DEFAULT_SOAK,
    durationMs: durationS * 1000,
    sampleMs: sampleS * 1000,
    seed: num(args, 'seed', DEFAULT_SOAK.seed),
    dropRate: num(args, 'loss', DEFAULT_SOAK.dropRate),
    onSample: (s) => console.log(formatSample(s)),
  });
  const v = judge(r, {
    warmupS,
    heapSlopeMBPerMin: num(args, 'heap-slope', 0.5),
    countSlopePerMin: num(args, 'count-slope', 1),
    judgeTrends: !args.has('no-trend-verdict'),
  });
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = join(out, `soak-${stamp}.json`);
  writeFileSync(json, JSON.stringify({ ...r, warmupS, verdict: v }, null, 1));
  writeFileSync(join(out, `soak-${stamp}.csv`), [CSV_HEADER, ...r.samples.map(csvRow)].join('\n') + '\n');
  const svg = args.get('svg');
  if (svg) writePlot({ ...r, warmupS, verdict: v }, svg);
  console.log(`relay: ${r.relay}`);
  console.log(`before the traffic: ${formatCounts(r.baseline)}`);
  console.log(`after it stopped:   ${formatCounts(r.final)}`);
  console.log(
    `after the ${v.postWarmupSamples} post-warm-up samples: heapUsed ${v.heapSlopeMBPerMin.toFixed(3)} MB/min, ` +
      `arrayBuffers ${v.arrayBuffersSlopeMBPerMin.toFixed(3)} MB/min; count slopes ` +
      Object.entries(v.countSlopes).map(([k, s]) => `${k} ${s.toFixed(2)}`).join(', '),
  );
  console.log(`samples: ${json}${svg ? `, plot: ${svg}` : ''}`);
  console.log(v.flat ? 'FLAT' : `NOT FLAT:\n  ${v.reasons.join('\n  ')}`);
  return v.flat ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : String(e));
    process.exit(2);
  },
);
