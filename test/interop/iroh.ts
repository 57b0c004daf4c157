/**
 * Running real iroh nodes (test/interop/iroh-node.cjs) for interop scenarios.
 *
 * The network namespace made by netns.ts belongs to one child process and its descendants, so a
 * test cannot start an iroh node in one namespace and talk to it from the mocha process. Instead:
 *
 *   mocha test --runScenario--> [unshare -rn] node scenarios/X.js --spawn--> iroh-node.cjs echo
 *                                                                 \-------> iroh-node.cjs dial
 *                                                                 (later: the quic-peer endpoint,
 *                                                                  in the scenario process itself)
 *
 * A scenario script calls `assertIsolated()` first, does its work with the "inside" helpers below
 * (`startIrohNode`, `runIrohNode`, `readStdin`), and ends with `emitResult(obj)`: one JSON line on
 * stdout that `runScenario` (outside) parses and the test asserts on.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIsolated } from './netns.js';
import type { RunResult } from './netns.js';

/** The first line an `iroh-node.cjs echo` prints. */
export interface IrohReady {
  event: 'ready';
  /** Endpoint id, 64 lowercase hex chars. */
  id: string;
  /** Direct addresses, IPv4 first (e.g. ['127.0.0.1:40000', '[::1]:40001']). */
  addrs: string[];
  /** What iroh bound: the --bind socket and its own [::]:PORT socket. */
  sockets: string[];
  ticket: string;
  alpns: string[];
}

/** The line an `iroh-node.cjs dial` prints (fields after `error` are present on success). */
export interface IrohDialResult {
  event: 'result';
  ok: boolean;
  alpn: string;
  remoteId: string | null;
  localId?: string;
  error?: string;
  connectMs?: number;
  echoMs?: number;
  sentBytes?: number;
  echoBytes?: number;
  equal?: boolean;
  sentSha256?: string;
  echoSha256?: string;
  echo?: string;
  echoHex?: string;
  datagramEcho?: string;
  uniEcho?: string;
  maxDatagramSize?: number | null;
  closeCode?: number;
}

/** Any JSON line from an iroh node: 'ready', 'accepted', 'handshake-failed', 'bi', 'closed', ... */
export type IrohEvent = Record<string, unknown> & { event?: string };

/** The repository root (the folder whose package.json is quic-peer's), from build/ or .build-X/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'quic-peer') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repoRoot: no quic-peer package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Absolute path of the iroh node program (a source file: it is not compiled). */
export function irohNodeScript(): string {
  return join(repoRoot(), 'test', 'interop', 'iroh-node.cjs');
}

// ---------------------------------------------------------------------------------------------
// Outside: run a scenario in a fresh namespace.

export interface ScenarioOptions {
  args?: string[];
  input?: string | Uint8Array;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

export interface ScenarioRun<T> {
  /** The last JSON line the scenario printed. */
  result: T;
  run: RunResult;
}

/**
 * Runs a compiled scenario script (`node SCRIPT ARGS`) inside one loopback-only namespace and
 * returns the last JSON line of its stdout. Throws, with the tails of stdout and stderr, when it
 * times out, exits non-zero or prints no JSON.
 */
export async function runScenario<T = Record<string, unknown>>(
  script: string | URL,
  opts: ScenarioOptions,
): Promise<ScenarioRun<T>> {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  const run = await runIsolated([process.execPath, '--enable-source-maps', path, ...(opts.args ?? [])], {
    timeoutMs: opts.timeoutMs,
    cwd: repoRoot(),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
  });
  const lines = jsonLines(run.stdout);
  const last = lines[lines.length - 1];
  if (run.timedOut || run.code !== 0 || last === undefined) {
    const why = run.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exit ${run.code ?? run.signal}`;
    throw new Error(
      `scenario ${path} failed (${why})\n--- stdout (tail)\n${run.stdout.slice(-3000)}\n--- stderr (tail)\n${run.stderr.slice(-3000)}`,
    );
  }
  return { result: last as T, run };
}

// ---------------------------------------------------------------------------------------------
// Inside: helpers for scenario scripts (call assertIsolated() first).

/** A running `iroh-node.cjs` child. */
export interface IrohNodeProcess {
  /** Resolves with the 'ready' line (rejects if the node exits or times out first). */
  ready: Promise<IrohReady>;
  /** Every JSON line seen so far, in order. */
  events: IrohEvent[];
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Closes its stdin (the node's signal to stop), waits up to `graceMs`, then SIGKILLs it. */
  stop(graceMs?: number): Promise<number | null>;
  /** Resolves with the first event matching `pred` (already seen or future), or rejects on exit/timeout. */
  waitFor(pred: (e: IrohEvent) => boolean, timeoutMs: number): Promise<IrohEvent>;
  stderr(): string;
  child: ChildProcessWithoutNullStreams;
}

/**
 * Starts `node iroh-node.cjs ARGS` (typically `echo --alpn X`) and follows its JSON lines. The
 * child inherits this process's namespace, so this must only run inside an isolated scenario.
 */
export function startIrohNode(args: readonly string[], opts: { readyTimeoutMs?: number } = {}): IrohNodeProcess {
  const child = spawn(process.execPath, [irohNodeScript(), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: IrohEvent[] = [];
  const waiters: Array<{ pred: (e: IrohEvent) => boolean; resolve: (e: IrohEvent) => void }> = [];
  let err = '';
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const e = parseJsonLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (e === null) continue;
      events.push(e);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w !== undefined && w.pred(e)) {
          waiters.splice(i, 1);
          w.resolve(e);
        }
      }
    }
  });
  child.stdin.on('error', () => {});
  // 'close' (not 'exit'): fires once stdout is fully read, so no line can arrive after it.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

  const waitFor = (pred: (e: IrohEvent) => boolean, timeoutMs: number): Promise<IrohEvent> => {
    const seen = events.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: IrohEvent): void => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`iroh node: no matching event within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`));
      }, timeoutMs);
      waiters.push(w);
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`iroh node exited (${code}) before the event; stderr: ${err.slice(-2000)}`));
      });
    });
  };

  const ready = waitFor((e) => e.event === 'ready', opts.readyTimeoutMs ?? 10_000) as Promise<unknown> as Promise<IrohReady>;
  ready.catch(() => {}); // the caller awaits it; avoid an unhandled rejection if it does not

  const stop = async (graceMs = 3000): Promise<number | null> => {
    child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return { ready, events, exited, stop, waitFor, stderr: () => err, child };
}

/** Runs `node iroh-node.cjs ARGS` to completion (e.g. a `dial`), feeding `input` on stdin. */
export async function runIrohNode(
  args: readonly string[],
  opts: { input?: string | Uint8Array; timeoutMs: number },
): Promise<{ code: number | null; events: IrohEvent[]; stderr: string }> {
  const node = startIrohNode(args);
  node.ready.catch(() => {});
  node.child.stdin.end(opts.input ?? '');
  const t = setTimeout(() => node.child.kill('SIGKILL'), opts.timeoutMs);
  const code = await node.exited;
  clearTimeout(t);
  return { code, events: node.events, stderr: node.stderr() };
}

/** Reads all of this process's stdin. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Prints the scenario's result: one JSON line, the last one on stdout. */
export function emitResult(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** Parses the JSON object lines of a text; other lines (logs) are ignored. */
export function jsonLines(text: string): IrohEvent[] {
  return text
    .split('\n')
    .map(parseJsonLine)
    .filter((e): e is IrohEvent => e !== null);
}

function parseJsonLine(line: string): IrohEvent | null {
  const t = line.trim();
  if (!t.startsWith('{')) return null;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as IrohEvent) : null;
  } catch {
    return null;
  }
}
