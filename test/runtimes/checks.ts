/**
 * The runtime checks: each runs quic-peer's built dist under one runtime (Node, Bun or Deno) from
 * a temporary project whose node_modules/quic-peer links to this repository, as a user's project
 * would import it, and answers one line. Every check binds and dials loopback only (and Deno's
 * --allow-net enforces it, see install.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BulkResult } from './bulk.js';
import { RUNTIME_ENV, type Runtime } from './install.js';

export interface CheckResult {
  readonly ok: boolean;
  /** One line: what was shown, or why it failed. */
  readonly detail: string;
  /** The bulk check's throughput, for the summary table. */
  readonly mbps?: number;
}

export interface CheckContext {
  readonly repo: string;
  /** The temporary project (its node_modules/quic-peer is the repository). */
  readonly project: string;
  readonly runtime: Runtime;
  readonly bulkBytes: number;
  /** The bulk check fails below this throughput; `why` says where the figure comes from. */
  readonly floor: { readonly mbps: number; readonly why: string };
  readonly cliBytes: number;
}

export type CheckName = 'readme' | 'bulk' | 'cli';
export const CHECKS: readonly CheckName[] = ['readme', 'bulk', 'cli'];

/** Makes the temporary project; `bulkScript` is the compiled bulk.js, copied into it. */
export function makeProject(repo: string, bulkScript: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'quic-peer-runtimes-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules', 'quic-peer'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'runtime-check', private: true, type: 'module' }, null, 2));
  copyFileSync(bulkScript, join(dir, 'bulk-lib.mjs'));
  // The entry point imports the package as a user's code would (see bulk.ts).
  writeFileSync(
    join(dir, 'bulk.mjs'),
    [
      `import * as quicPeer from 'quic-peer';`,
      `import { runBulk } from './bulk-lib.mjs';`,
      `const result = await runBulk(quicPeer, Number(process.argv[2]));`,
      'process.stdout.write(`RESULT ${JSON.stringify(result)}\\n`);',
      '',
    ].join('\n'),
  );
  return dir;
}

export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Starts `script args` under the runtime in the project folder. */
function start(ctx: CheckContext, script: string, args: readonly string[], stdio: { stdin?: number | 'ignore'; stdout?: number | 'pipe' } = {}): ChildProcess {
  return spawn(ctx.runtime.command, [...ctx.runtime.prefix, script, ...args], {
    cwd: ctx.project,
    env: { ...process.env, ...RUNTIME_ENV },
    stdio: [stdio.stdin ?? 'ignore', stdio.stdout ?? 'pipe', 'pipe'],
  });
}

/** Waits for a child to exit, killing it after `timeoutMs`; collects what it printed. */
function finish(child: ChildProcess, timeoutMs: number): Promise<Exit> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Why a process failed, in one line. */
function failure(what: string, e: Exit, timeoutMs: number): string {
  if (e.timedOut) return `${what} did not finish within ${timeoutMs / 1000} s`;
  const last = e.stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
  return `${what} exited ${e.code ?? e.signal}${last ? `: ${last.slice(0, 200)}` : ''}`;
}

const seconds = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/**
 * The README's "Using it" example as written: the first ts/js code block after that heading,
 * run as readme-example.ts (Bun and Deno run TypeScript; Node 20 runs it as .mjs, the example
 * being plain JavaScript). It must exit 0 by itself, print the echoed 'hello' and a clean close.
 */
export async function readmeCheck(ctx: CheckContext): Promise<CheckResult> {
  const readme = readFileSync(join(ctx.repo, 'README.md'), 'utf8');
  const m = /^## Using it\n[\s\S]*?^```(?:ts|js|typescript|javascript)\n([\s\S]*?)^```/m.exec(readme);
  if (!m?.[1]) return { ok: false, detail: `README.md has no code block under '## Using it'` };
  const code = m[1];
  // The loopback rule, checked before anything runs: the example may name loopback and wildcard
  // addresses only (Deno enforces the same at run time; Bun and Node would not).
  const v4 = (code.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? []).filter((a) => !a.startsWith('127.') && a !== '0.0.0.0');
  const v6 = [...code.matchAll(/\[([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)\]/g)].map((x) => x[1] ?? '').filter((a) => a !== '::1' && a !== '::');
  const foreign = [...v4, ...v6];
  if (foreign.length > 0) return { ok: false, detail: `the README example names a non-loopback address (${foreign.join(', ')}); not run` };
  const file = ctx.runtime.name === 'node' ? 'readme-example.mjs' : 'readme-example.ts';
  writeFileSync(join(ctx.project, file), code);
  const t0 = performance.now();
  const timeoutMs = 30_000;
  const e = await finish(start(ctx, file, []), timeoutMs);
  if (e.timedOut || e.code !== 0) return { ok: false, detail: failure('the example', e, timeoutMs) };
  const lines = e.stdout.split('\n').map((l) => l.trim());
  if (!lines.includes('hello')) return { ok: false, detail: `the example did not print the echoed 'hello': ${JSON.stringify(e.stdout.slice(0, 300))}` };
  if (!lines.some((l) => l.startsWith('talking to '))) return { ok: false, detail: `the example did not print 'talking to <id>'` };
  // Each runtime formats the closed value its own way ({ closeCode: 0, reason: 'bye' } in
  // Node, double quotes in Deno, one field a line in Bun).
  if (!/closeCode:\s*0,\s*reason:\s*["']bye["']/.test(e.stdout)) return { ok: false, detail: `the example did not print the clean close { closeCode: 0, reason: 'bye' }` };
  return { ok: true, detail: `echoed 'hello', closed { closeCode: 0, reason: 'bye' }, exited 0 (${seconds(t0)})` };
}

/** 20 MB one way between two endpoints in one process (bulk.ts), SHA-256 compared, throughput. */
export async function bulkCheck(ctx: CheckContext): Promise<CheckResult> {
  const first = await bulkOnce(ctx);
  // A figure is of this machine's load as much as of the runtime: below the floor, measure once
  // more before failing (a runtime that is really slow is slow both times).
  if (first.ok || first.mbps === undefined || first.mbps >= ctx.floor.mbps) return first;
  const second = await bulkOnce(ctx);
  return second.ok ? { ...second, detail: `${second.detail} (the first run: ${first.mbps.toFixed(0)} Mbit/s)` } : second;
}

async function bulkOnce(ctx: CheckContext): Promise<CheckResult> {
  // Generous: ~1 Mbit/s plus startup; a slow runtime shows up in the floor below, not here.
  const timeoutMs = 30_000 + (ctx.bulkBytes * 8) / 1e3;
  const e = await finish(start(ctx, 'bulk.mjs', [String(ctx.bulkBytes)]), timeoutMs);
  const line = e.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (e.timedOut || e.code !== 0 || !line) return { ok: false, detail: failure('the transfer', e, timeoutMs) };
  const r = JSON.parse(line.slice('RESULT '.length)) as BulkResult;
  const figures = `${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s: ${r.mbps.toFixed(0)} Mbit/s; ${r.packetsSent} packets, ${((100 * r.packetsLost) / Math.max(1, r.packetsSent)).toFixed(2)}% lost; path MTU ${r.mtu}`;
  if (!r.match) return { ok: false, detail: `SHA-256 differs (sent ${r.sent.slice(0, 16)}…, received ${r.received.slice(0, 16)}…); ${figures}`, mbps: r.mbps };
  if (r.mbps < ctx.floor.mbps) return { ok: false, detail: `below the floor of ${ctx.floor.mbps.toFixed(0)} Mbit/s (${ctx.floor.why}): ${figures}`, mbps: r.mbps };
  return { ok: true, detail: `SHA-256 equal, ${figures}`, mbps: r.mbps };
}

/** Waits until the listener's stderr shows `listening <id>@127.0.0.1:<port>`. */
function listeningAddress(child: ChildProcess, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let seen = '';
    const timer = setTimeout(() => done(null), timeoutMs);
    // finish() set the stream's encoding, so chunks arrive as strings.
    const onData = (s: string | Buffer): void => {
      seen += typeof s === 'string' ? s : s.toString('utf8');
      const m = /^listening (\S+@127\.0\.0\.1:\d+)$/m.exec(seen);
      if (m?.[1]) done(m[1]);
    };
    const onExit = (): void => done(null);
    function done(v: string | null): void {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      resolve(v);
    }
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Whether `quic-peer <sub> --help` lists --bind (it did not always for connect). */
async function hasBind(ctx: CheckContext, cli: string, sub: string): Promise<boolean> {
  const e = await finish(start(ctx, cli, [sub, '--help']), 30_000);
  return /--bind\b/.test(e.stdout);
}

/**
 * The dumbpipe-style pair of the README as two processes under the runtime: `quic-peer listen`
 * (stdout to a file, stdin empty) and `quic-peer connect <id@127.0.0.1:port>` with a random file
 * on stdin; both must exit 0 and the received file must equal the sent one.
 */
export async function cliCheck(ctx: CheckContext): Promise<CheckResult> {
  const pkg = JSON.parse(readFileSync(join(ctx.repo, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['quic-peer'];
  if (!bin) return { ok: false, detail: `package.json has no 'quic-peer' bin` };
  const cli = join('node_modules', 'quic-peer', bin);
  const input = join(ctx.project, 'cli-input.bin');
  const output = join(ctx.project, 'cli-received.bin');
  const data = randomBytes(ctx.cliBytes);
  writeFileSync(input, data);
  const want = createHash('sha256').update(data).digest('hex');
  const connectBind = (await hasBind(ctx, cli, 'connect')) ? ['--bind', '127.0.0.1:0'] : [];

  const t0 = performance.now();
  const outFd = openSync(output, 'w');
  const listener = start(ctx, cli, ['listen', '--bind', '127.0.0.1:0'], { stdout: outFd });
  closeSync(outFd);
  const timeoutMs = 60_000;
  const listenerExit = finish(listener, timeoutMs);
  const addr = await listeningAddress(listener, 30_000);
  if (!addr) {
    listener.kill('SIGKILL');
    return { ok: false, detail: failure('quic-peer listen (no listening line)', await listenerExit, timeoutMs) };
  }
  const inFd = openSync(input, 'r');
  const dialer = start(ctx, cli, ['connect', ...connectBind, addr], { stdin: inFd });
  closeSync(inFd);
  const [l, d] = await Promise.all([listenerExit, finish(dialer, timeoutMs)]);
  if (d.timedOut || d.code !== 0) {
    listener.kill('SIGKILL');
    return { ok: false, detail: failure('quic-peer connect', d, timeoutMs) };
  }
  if (l.timedOut || l.code !== 0) return { ok: false, detail: failure('quic-peer listen', l, timeoutMs) };
  const got = createHash('sha256').update(readFileSync(output)).digest('hex');
  const size = readFileSync(output).length;
  if (got !== want) return { ok: false, detail: `the received file differs: ${size} of ${ctx.cliBytes} bytes, SHA-256 ${got.slice(0, 16)}… vs ${want.slice(0, 16)}…` };
  return { ok: true, detail: `listen + connect piped ${(ctx.cliBytes / 1e6).toFixed(1)} MB, SHA-256 equal, both exited 0 (${seconds(t0)})` };
}

export const RUN: Readonly<Record<CheckName, (ctx: CheckContext) => Promise<CheckResult>>> = { readme: readmeCheck, bulk: bulkCheck, cli: cliCheck };
