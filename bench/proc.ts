/**
 * What the benchmark entry points share: the child processes of bench/child.ts (start, wait for
 * a JSON line, stop, kill all on exit), timeouts, statistics and the machine's description.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpus, totalmem, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const children = new Set<ChildProcessWithoutNullStreams>();

/** The middle value; the mean of the two middle values for an even count. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The median of the figures that are there (null when none is, e.g. no /proc). */
export function medianOrNull(xs: ReadonlyArray<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length > 0 ? median(v) : null;
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export const mbps = (bytes: number, ms: number): number => (bytes * 8) / (ms * 1000);

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  ready: Record<string, unknown>;
  /** Resolves with the next JSON line after `ready`. */
  next(timeoutMs: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
  /** CPU time (user + system) the child has used so far, ms; null where /proc cannot tell. */
  cpuMs(): number | null;
  /** The same for its main thread alone (JavaScript, and the collector's pauses), ms. */
  mainThreadCpuMs(): number | null;
}

/**
 * CPU time (user + system, ms) of process `pid` from /proc (10 ms ticks), all its threads; with
 * `tid`, of that thread alone (the main thread's id is the process id); null where there is none.
 */
export function processCpuMs(pid: number | undefined, tid?: number): number | null {
  if (pid === undefined) return null;
  try {
    // The fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/** Starts `node bench/child.js ROLE ARGS` and waits for its first JSON line (its ready line). */
export async function startChild(role: string, args: string[], nodeFlags: string[] = [], timeoutMs = 15_000): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeFlags, join(here, 'child.js'), role, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(l: Record<string, unknown>) => void> = [];
  let buf = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s).length > 20_000 && (err = err.slice(-10_000)));
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const w = waiters.shift();
      if (w) w(obj);
      else lines.push(obj);
    }
  });
  proc.stdin.on('error', () => {});
  const exited = new Promise<void>((r) => proc.on('close', () => (children.delete(proc), r())));
  const next = (ms: number): Promise<Record<string, unknown>> => {
    const l = lines.shift();
    if (l) return Promise.resolve(l);
    return withTimeout(
      Promise.race([
        new Promise<Record<string, unknown>>((r) => waiters.push(r)),
        exited.then(() => Promise.reject(new Error(`child ${role} exited: ${err.slice(-2000)}`))),
      ]),
      ms,
      `child ${role}`,
    );
  };
  const stop = async (): Promise<void> => {
    proc.stdin.end();
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  try {
    const ready = await next(timeoutMs);
    return { proc, ready, next, stop, cpuMs: () => processCpuMs(proc.pid), mainThreadCpuMs: () => processCpuMs(proc.pid, proc.pid) };
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}

/** SIGKILLs every child still running (on exit, on a deadline, on failure). */
export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  total_mem_bytes: number;
  node: string;
  os: string;
  /**
   * V8/Node flags the run was given, which change its figures (`--max-semi-space-size=8` moves
   * bulk and handshakes: bench/README.md, "The shared server"): NODE_OPTIONS, which the children
   * inherit, and this process's own. Absent when there were none.
   */
  flags?: string;
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  const flags = [process.env['NODE_OPTIONS'] ? `NODE_OPTIONS=${process.env['NODE_OPTIONS']}` : '', ...process.execArgv].filter((f) => f !== '').join(' ');
  return { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, total_mem_bytes: totalmem(), node: process.version, os: `${platform()} ${release()}`, ...(flags ? { flags } : {}) };
}
