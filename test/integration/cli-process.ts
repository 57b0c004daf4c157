import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The command's compiled entry point (`quic-peer` as a user runs it). */
export const CLI_MAIN = join(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

/** A `quic-peer` child process: its stdout chunks, its stderr so far, and its exit. */
export interface CliProcess {
  child: ChildProcess;
  out: Buffer[];
  err: () => string;
  exited: Promise<number | null>;
}

/** Starts `quic-peer ARGS` with piped stdio. */
export function startCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, err: () => err, exited };
}

/** The first value `f` returns that is not undefined, polled every 20 ms for at most `ms`. */
export async function untilValue<T>(f: () => T | undefined, ms: number, what: string): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SHA-256 of `b`, hex. */
export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
