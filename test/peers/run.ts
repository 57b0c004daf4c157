/**
 * `npm run matrix`: the interop matrix against the stacks test/peers/install.sh installed.
 *
 *   node build/test/peers/run.js [--quick] [--stack quic-go,quinn] [--case handshake,transfer]
 *                                [--json FILE] [--md FILE] [--readme]
 *   node build/test/peers/run.js --from-json FILE [--md FILE] [--readme]   (the table of an earlier run)
 *
 * The run happens inside a loopback-only network namespace (unshare -rn, test/interop/netns.ts):
 * no packet can leave the machine, and the fixed ports of the cells meet no other test's. It
 * prints one line per cell (QP_MATRIX_VERBOSE=1: with the peer's output) and `matrix: N passed, N failed, N unsupported`; exit status 1 when a
 * cell failed, 2 when the peers are not installed or no namespace can be made.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertIsolated, isolatedCommand, probeIsolation } from '../interop/netns.js';
import { runMatrix, type CellResult } from './matrix.js';
import { CASES, stacks, type CaseName, type Manifest } from './stacks.js';
import { markdownTable } from './table.js';

/** Where install.sh put the peers. */
export function peersDir(): string {
  return process.env['QP_PEERS_DIR'] ?? join(process.env['TMPDIR'] ?? tmpdir(), 'quic-peer-peers');
}

/** The manifest, or why there is none. */
export function readManifest(): { manifest?: Manifest; reason?: string } {
  const f = join(peersDir(), 'peers.json');
  if (!existsSync(f)) return { reason: `no ${f}: run 'bash test/peers/install.sh' first` };
  try {
    const manifest = JSON.parse(readFileSync(f, 'utf8')) as Manifest;
    if (Object.keys(manifest.stacks).length === 0) return { reason: `${f} lists no stack: install.sh failed?` };
    return { manifest };
  } catch (e) {
    return { reason: `${f}: ${(e as Error).message}` };
  }
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

const repoRoot = (): string => resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function inside(argv: string[]): Promise<number> {
  assertIsolated();
  const { manifest, reason } = readManifest();
  if (!manifest) {
    console.log(`matrix: ${reason}`);
    return 2;
  }
  const quick = argv.includes('--quick');
  const cases = arg(argv, 'case')?.split(',') as CaseName[] | undefined;
  for (const c of cases ?? []) if (!CASES.includes(c)) throw new Error(`unknown case ${c} (cases: ${CASES.join(', ')})`);
  const work = mkdtempSync(join(tmpdir(), 'qp-matrix-'));
  let results: CellResult[];
  try {
    results = await runMatrix(manifest, {
      quick,
      work,
      ...(cases ? { cases } : {}),
      ...(arg(argv, 'stack') ? { stacks: arg(argv, 'stack')!.split(',') } : {}),
      log: (l) => console.log(l),
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  const notes = Object.fromEntries(stacks(manifest).map((s) => [s.name, s.notes]));
  const json = arg(argv, 'json');
  if (json) writeFileSync(json, JSON.stringify({ date, quick, stacks: manifest.stacks, notes, results }, null, 1));
  publish(argv, results, markdownTable(results, { date, quick, notes }));
  const pass = results.filter((r) => r.status === 'pass').length;
  const fail = results.filter((r) => r.status === 'fail').length;
  console.log(`matrix: ${pass} passed, ${fail} failed, ${results.length - pass - fail} unsupported`);
  return fail > 0 ? 1 : 0;
}

/** `--from-json FILE`: the table (and README section) of an earlier run, without running anything. */
function fromJson(argv: string[], file: string): number {
  const run = JSON.parse(readFileSync(file, 'utf8')) as { date: string; quick: boolean; results: CellResult[]; notes?: Record<string, string> };
  publish(argv, run.results, markdownTable(run.results, { date: run.date, quick: run.quick, notes: run.notes ?? {} }));
  return 0;
}

/** Writes the markdown table where the options say (--md FILE, --readme). */
function publish(argv: string[], _results: CellResult[], md: string): void {
  const mdFile = arg(argv, 'md');
  if (mdFile) writeFileSync(mdFile, md + '\n');
  if (argv.includes('--readme')) {
    const readme = join(repoRoot(), 'README.md');
    const text = readFileSync(readme, 'utf8');
    const [a, b] = ['<!-- matrix:begin -->', '<!-- matrix:end -->'];
    if (!text.includes(a) || !text.includes(b)) throw new Error(`README.md has no ${a} ... ${b} section`);
    writeFileSync(readme, text.slice(0, text.indexOf(a) + a.length) + '\n' + md + '\n' + text.slice(text.indexOf(b)));
  }
}

async function outside(argv: string[]): Promise<number> {
  const json = arg(argv, 'from-json');
  if (json) return fromJson(argv, json);
  const { reason } = readManifest();
  if (reason) {
    console.log(`matrix: ${reason}`);
    return 2;
  }
  const p = await probeIsolation();
  if (!p.ok) {
    console.log(`matrix: cannot make a loopback-only network namespace: ${p.reason}`);
    return 2;
  }
  const out = join(repoRoot(), 'build', 'matrix');
  mkdirSync(out, { recursive: true });
  const extra = [...(arg(argv, 'json') ? [] : ['--json', join(out, 'matrix.json')]), ...(arg(argv, 'md') ? [] : ['--md', join(out, 'matrix.md')])];
  const cmd = isolatedCommand([process.execPath, fileURLToPath(import.meta.url), '--inside', ...argv, ...extra]);
  return new Promise((resolveCode) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolveCode(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const main = argv.includes('--inside') ? inside(argv.filter((a) => a !== '--inside')) : outside(argv);
  main.then(
    (code) => process.exit(code),
    (e) => {
      console.error(`matrix: ${(e as Error).stack ?? e}`);
      process.exit(2);
    },
  );
}
