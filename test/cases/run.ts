/**
 * `npm run interop-cases [-- --case NAME[,NAME]] [--seed N] [--quick] [--verbose]`: runs the
 * interop runner's cases (test/cases/cases.ts) over the impairing relay and prints the table.
 * Exit code 1 when any case failed (unsupported is not a failure).
 */
import { CASES, caseByName, type InteropCase } from './cases.js';
import { formatTable, runInteropCase, type CaseResult } from './table.js';

function parseArgs(argv: string[]): { cases: InteropCase[]; seed: number; quick: boolean; verbose: boolean } {
  let cases: InteropCase[] = [...CASES];
  let seed = 1;
  let quick = false;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--case') {
      cases = value().split(',').map((n) => {
        const c = caseByName(n);
        if (!c) throw new Error(`unknown case ${n}; cases: ${CASES.map((x) => x.name).join(', ')}`);
        return c;
      });
    } else if (a === '--seed') {
      seed = Number(value());
      if (!Number.isSafeInteger(seed)) throw new Error('--seed needs an integer');
    } else if (a === '--quick') quick = true;
    else if (a === '--verbose' || a === '-v') verbose = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run interop-cases -- [--case NAME[,NAME...]] [--seed N] [--quick] [--verbose]');
      console.log(`cases: ${CASES.map((c) => c.name).join(', ')}`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return { cases, seed, quick, verbose };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const results: CaseResult[] = [];
  const t0 = performance.now();
  console.log(`interop cases (${args.quick ? 'quick' : 'full'}), seed ${args.seed}`);
  for (const c of args.cases) {
    const r = await runInteropCase(c, args.quick, args.seed);
    results.push(r);
    const mark = r.result === 'succeeded' ? 'ok  ' : r.result === 'failed' ? 'FAIL' : 'n/a ';
    console.log(`${mark} ${c.name.padEnd(20)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.notes.join('; ')}`);
    for (const f of r.failures) console.log(`       ! ${f}`);
    if (args.verbose && r.relay) console.log(`       relay: ${r.relay}`);
  }
  console.log('');
  console.log(formatTable(results));
  const failed = results.filter((r) => r.result === 'failed');
  console.log(`\n${results.length - failed.length}/${results.length} not failed (${results.filter((r) => r.result === 'unsupported').length} unsupported) in ${((performance.now() - t0) / 1000).toFixed(0)} s, seed ${args.seed}`);
  process.exit(failed.length > 0 ? 1 : 0);
}

void main();
