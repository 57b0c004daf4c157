/**
 * The median of several full runs, the figure the README's table shows (issue [perf2]: "the median
 * of at least three full runs ... with their spreads"):
 *
 *   node build/bench/median.js bench/results/A.json bench/results/B.json bench/results/C.json
 *
 * Writes `bench/results/median-<first run>--<last run>.json` (their dates to the minute; before
 * 2026-12-05 11:20 the name held the last run's date alone, so a median of a subset ending with the
 * same run overwrote another's): each numeric key's median over the runs
 * that measured it (null when none did), `spread` ([min, max] per key), `runs` (the file names),
 * the last run's `notes`, `machine` and `details`, with the details' cold handshake figures
 * (`handshake_warmup.cold_p50_ms`, `iroh.cold_p50_ms`, `bulk_warmup.cold_mbps`, `bulk_default_reader.mbps`,
 * `bulk_shared_server.mbps`) and CPU per packet (`bulk_cpu.sender_us_per_packet`,
 * `bulk_cpu.receiver_us_per_packet`, `pipeline.sender_us_per_packet`) replaced by their medians too. Prints the
 * path; `node build/bench/table.js <path>` then prints the table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { repoRoot } from '../test/interop/iroh.js';
import { median } from './proc.js';

type Run = Record<string, unknown> & { details?: Record<string, unknown>; date?: string };

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The median run of `runs` (their order: oldest first). */
export function medianRun(runs: readonly Run[], names: readonly string[]): Run {
  if (runs.length === 0) throw new Error('median: no runs');
  const last = runs[runs.length - 1]!;
  const out: Run = {};
  const spread: Record<string, [number, number]> = {};
  const keys = new Set<string>();
  for (const r of runs) for (const [k, v] of Object.entries(r)) if (isNum(v) || v === null) keys.add(k);
  for (const k of keys) {
    const vals = runs.map((r) => r[k]).filter(isNum);
    out[k] = vals.length === 0 ? null : median(vals);
    if (vals.length > 0) spread[k] = [Math.min(...vals), Math.max(...vals)];
  }
  const details: Record<string, unknown> = { ...(last.details ?? {}) };
  // The cold handshake figures and CPU per packet live in details: their medians too, with spreads.
  const fields = [
    ['handshake_warmup', 'cold_p50_ms'],
    ['iroh', 'cold_p50_ms'],
    ['bulk_warmup', 'cold_mbps'],
    ['bulk_default_reader', 'mbps'],
    ['bulk_shared_server', 'mbps'],
    ['bulk_cpu', 'sender_us_per_packet'],
    ['bulk_cpu', 'receiver_us_per_packet'],
    ['pipeline', 'sender_us_per_packet'],
    ['pipeline_unconnected', 'mbps'],
    ['pipeline_unconnected', 'sender_us_per_packet'],
    ['pipeline_jumbo', 'mbps'],
    ['bulk_jumbo', 'sender_us_per_packet'],
    ['bulk_jumbo', 'receiver_us_per_packet'],
  ] as const;
  for (const [section, field] of fields) {
    const vals = runs.map((r) => (r.details?.[section] as Record<string, unknown> | undefined)?.[field]).filter(isNum);
    if (vals.length === 0) continue;
    details[section] = { ...(details[section] as Record<string, unknown> | undefined), [field]: median(vals) };
    spread[`details.${section}.${field}`] = [Math.min(...vals), Math.max(...vals)];
  }
  return { ...out, mode: 'median', ...(last.date === undefined ? {} : { date: last.date }), runs: [...names], notes: last['notes'], machine: last['machine'], details, spread };
}

/**
 * The file name of the median of `runs` (oldest first): both ends' dates to the minute, so medians
 * of different sets never share a name and the same set always gets the same one.
 */
export function medianFileName(runs: readonly Run[]): string {
  const stamp = (r: Run | undefined): string => String(r?.date ?? new Date().toISOString()).slice(0, 16).replace(':', '-');
  return `median-${stamp(runs[0])}--${stamp(runs[runs.length - 1])}.json`;
}

if (process.argv[1] !== undefined && /median\.js$/.test(process.argv[1])) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node build/bench/median.js RESULTS.json [RESULTS.json ...]\n');
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);
  const m = medianRun(
    runs,
    files.map((f) => basename(f)),
  );
  const path = join(repoRoot(), 'bench', 'results', medianFileName(runs));
  writeFileSync(path, JSON.stringify(m, null, 1) + '\n');
  process.stdout.write(`${path}\n`);
}
