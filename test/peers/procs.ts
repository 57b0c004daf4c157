/**
 * Peer processes of the matrix: servers started in the background (their own process group,
 * killed with it), clients run to completion within a bound, and waiting for a UDP port to be bound
 * (read from /proc/net/udp{,6}, which are per network namespace). Everything here runs inside the
 * matrix's loopback-only namespace (run.ts), so fixed ports never meet another test's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runGrouped, type RunResult } from '../interop/netns.js';

export { type RunResult };

/** A server process: its output so far, and a way to stop it (SIGTERM, then SIGKILL). */
export interface ServerProc {
  readonly argv: readonly string[];
  output(): string;
  /** True while the process runs. */
  alive(): boolean;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Process groups of the servers still running: killed when this process exits, whatever the way. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function killLiveGroups(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
}

/** Starts `argv` in its own process group; stdout and stderr are kept (last 64 KiB). */
export function startServer(argv: readonly string[], opts: SpawnOptions = {}): ServerProc {
  const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killLiveGroups);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killLiveGroups();
        process.exit(128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGINT' ? 2 : 1));
      });
    }
  }
  if (child.pid !== undefined) liveGroups.add(child.pid);
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const done = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      resolve();
    });
    child.on('error', (e) => {
      keep(Buffer.from(`spawn error: ${e.message}\n`));
      exited = true;
      resolve();
    });
  });
  const kill = (sig: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  return {
    argv,
    output: () => out,
    alive: () => !exited,
    stop: async () => {
      if (exited) return;
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), 1500);
      await done;
      clearTimeout(t);
      kill('SIGKILL'); // stragglers of the group
    },
  };
}

/** Runs a client to completion; killed (its whole group) after `timeoutMs`. */
export function runClient(argv: readonly string[], timeoutMs: number, opts: SpawnOptions = {}): Promise<RunResult> {
  return runGrouped(argv, { timeoutMs, ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.env ? { env: opts.env } : {}) });
}

/** The UDP ports bound in this network namespace (IPv4 and IPv6). */
export function boundUdpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local?.split(':')[1];
      if (port) ports.add(parseInt(port, 16));
    }
  }
  return ports;
}

/** Waits until something binds UDP `port`, the server dies, or `timeoutMs` passes. */
export async function waitUdp(port: number, server: ServerProc | undefined, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (boundUdpPorts().has(port)) return;
    if (server && !server.alive()) throw new Error(`the server exited before binding UDP ${port}:\n${server.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing bound UDP ${port} within ${timeoutMs} ms${server ? `:\n${server.output().slice(-2000)}` : ''}`);
}

/** Waits until nothing binds UDP `port` any more (a stopped server's socket is gone). */
export async function waitUdpFree(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && boundUdpPorts().has(port)) await new Promise((r) => setTimeout(r, 50));
}
