/**
 * Running a case to a result, and the runner-style results table (what `npm run interop-cases`
 * prints and test/cases/README.md shows).
 */
import { runCase } from './harness.js';
import type { InteropCase } from './cases.js';

export type Result = 'succeeded' | 'failed' | 'unsupported';

export interface CaseResult {
  readonly name: string;
  readonly runnerName: string;
  readonly result: Result;
  readonly ms: number;
  readonly goodputKbps?: number;
  readonly failures: string[];
  readonly notes: string[];
  /** The relay's counters, one line. */
  readonly relay: string;
}

/** Runs one case (full or quick) with `seed`; never throws (a crash is a failure). */
export async function runInteropCase(c: InteropCase, quick: boolean, seed: number): Promise<CaseResult> {
  const base = { name: c.name, runnerName: c.runnerName };
  if (c.unsupported) return { ...base, result: 'unsupported', ms: 0, failures: [], notes: [c.unsupported], relay: '' };
  const t0 = performance.now();
  try {
    const o = await runCase(c.setup(quick), seed);
    const v = c.check(o, quick);
    return {
      ...base,
      result: v.failures.length === 0 ? 'succeeded' : 'failed',
      ms: o.ms,
      ...(v.goodputKbps !== undefined ? { goodputKbps: v.goodputKbps } : {}),
      failures: v.failures,
      notes: v.notes,
      relay: o.relay.describe(),
    };
  } catch (e) {
    return { ...base, result: 'failed', ms: performance.now() - t0, failures: [`crashed: ${(e as Error).stack ?? String(e)}`], notes: [], relay: '' };
  }
}

/** The table: case, runner name, result, time, goodput. */
export function formatTable(results: readonly CaseResult[]): string {
  const rows = [['case', 'runner name', 'result', 'time', 'goodput'], ...results.map((r) => [
    r.name,
    r.runnerName,
    r.result,
    r.result === 'unsupported' ? '-' : `${(r.ms / 1000).toFixed(1)} s`,
    r.goodputKbps !== undefined ? `${r.goodputKbps} kbit/s` : '',
  ])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
