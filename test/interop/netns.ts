/**
 * Loopback-only network namespaces for the interop suite.
 *
 * An iroh endpoint starts port mapping (PCP / NAT-PMP / UPnP) toward the default gateway as soon
 * as it binds, even with relays disabled, and traffic to any non-loopback address is forbidden on
 * the machines this suite runs on (IROH.md, "Isolation is mandatory"). So every process that binds
 * an iroh endpoint runs inside a fresh network namespace that has only `lo`:
 *
 *     unshare -rn sh -c 'ip link set lo up && exec CMD...'
 *
 * `-r` maps the caller to root inside a new user namespace, so this works unprivileged (where the
 * kernel allows user namespaces) and as root alike. The namespace belongs to the child and its
 * descendants: everything that must talk to an iroh node (the iroh nodes themselves, and later the
 * quic-peer endpoint under test) has to live in the SAME isolated process tree. Tests therefore run
 * a scenario script inside one namespace and assert on the JSON it prints (see iroh.ts).
 *
 * Two sides:
 * - outside (the mocha process): `canIsolate`, `runIsolated`, `isolationDecision`,
 *   `requireIsolation` (skip locally, fail in CI when isolation is impossible);
 * - inside (a child in the namespace): `isolationStatus`, `assertIsolated`, to be called before
 *   anything binds an iroh endpoint.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** The shell script that runs inside the new namespace: bring loopback up, then exec the command. */
export const ISOLATE_SCRIPT = 'ip link set lo up && exec "$@"';

/** Options of {@link runIsolated}. */
export interface RunIsolatedOptions {
  /** Hard limit: the whole process group is killed (SIGKILL) when it runs out. */
  timeoutMs: number;
  /** Extra environment variables, merged over `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Bytes (or UTF-8 text) written to the child's stdin, which is then closed. */
  input?: string | Uint8Array;
  cwd?: string;
}

/** What an isolated child did. `code` is null when it died by a signal (e.g. on timeout). */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The argv that runs `cmd` inside a fresh loopback-only network namespace. */
export function isolatedCommand(cmd: readonly string[]): string[] {
  if (cmd.length === 0) throw new Error('isolatedCommand: empty command');
  // `sh -c SCRIPT NAME ARGS...`: NAME becomes $0, ARGS become "$@" and are never re-parsed.
  return ['unshare', '-rn', 'sh', '-c', ISOLATE_SCRIPT, 'isolated', ...cmd];
}

/**
 * Runs `cmd` inside a fresh loopback-only network namespace and collects its output.
 *
 * The child leads its own process group; on timeout the whole group is killed, and any member
 * still alive when the leader exits is killed too, so no iroh node outlives its test.
 */
export function runIsolated(cmd: readonly string[], opts: RunIsolatedOptions): Promise<RunResult> {
  return runGrouped(isolatedCommand(cmd), opts);
}

/**
 * Runs `argv` as the leader of its own process group and collects its output; on timeout, or when
 * the leader exits, the whole group is killed (the same guarantee, without the namespace, for
 * tests whose children never leave loopback on their own, e.g. the packed-tarball test).
 */
export function runGrouped(argv: readonly string[], opts: RunIsolatedOptions): Promise<RunResult> {
  if (argv.length === 0) throw new Error('runGrouped: empty command');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can kill every descendant at once
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // EPIPE when the child exits without reading its input: its exit status tells the story.
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'exit' fires when the leader exits; stragglers would hold the pipes open and delay 'close'.
    child.on('exit', killGroup);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** The result of probing whether this machine can make a loopback-only namespace. */
export interface IsolationProbe {
  ok: boolean;
  /** Why not (or 'isolated' when ok), for skip/fail messages. */
  reason: string;
}

let probe: Promise<IsolationProbe> | undefined;

/**
 * Tries once (the answer is cached) to start a child in a fresh namespace and checks, with
 * {@link isolationStatus} run inside it, that it sees only a working loopback interface.
 */
export function probeIsolation(): Promise<IsolationProbe> {
  probe ??= (async (): Promise<IsolationProbe> => {
    const code =
      `import { isolationStatus } from ${JSON.stringify(import.meta.url)};` +
      'process.stdout.write(JSON.stringify(isolationStatus()));';
    let run: RunResult;
    try {
      run = await runIsolated([process.execPath, '--input-type=module', '-e', code], { timeoutMs: 15_000 });
    } catch (e) {
      return { ok: false, reason: `cannot spawn unshare: ${(e as Error).message}` };
    }
    if (run.code !== 0) {
      const why = run.timedOut ? 'timed out' : `exit ${run.code ?? run.signal}`;
      return { ok: false, reason: `unshare -rn failed (${why}): ${run.stderr.trim().slice(0, 500)}` };
    }
    try {
      const status = JSON.parse(run.stdout) as IsolationStatus;
      if (status.isolated) return { ok: true, reason: 'isolated' };
      return { ok: false, reason: `namespace is not isolated: ${status.problems.join('; ')}` };
    } catch {
      return { ok: false, reason: `unexpected probe output: ${run.stdout.slice(0, 200)}` };
    }
  })();
  return probe;
}

/** True when tests can run iroh inside a loopback-only namespace on this machine. */
export async function canIsolate(): Promise<boolean> {
  return (await probeIsolation()).ok;
}

export type IsolationDecision = 'run' | 'skip' | 'fail';

/**
 * The suite's policy: when isolation is impossible, interop tests are skipped on a developer's
 * machine but FAIL in CI (`CI=true`), so CI can never go green without having run them.
 */
export function isolationDecision(isolated: boolean, env: NodeJS.ProcessEnv = process.env): IsolationDecision {
  if (isolated) return 'run';
  return env['CI'] === 'true' ? 'fail' : 'skip';
}

/**
 * For a mocha `before` hook: returns when isolation works, skips the suite locally, throws in CI.
 *
 *     before(async function () { await requireIsolation(this); });
 */
export async function requireIsolation(ctx: Mocha.Context): Promise<void> {
  const p = await probeIsolation();
  switch (isolationDecision(p.ok)) {
    case 'run':
      return;
    case 'skip':
      console.warn(`      (interop skipped: ${p.reason}; install util-linux and iproute2)`);
      ctx.skip();
      return;
    case 'fail':
      throw new Error(`interop tests need a loopback-only network namespace and CI=true forbids skipping: ${p.reason}`);
  }
}

/** What the current process sees of its network namespace. */
export interface IsolationStatus {
  isolated: boolean;
  /** Every interface of the namespace (/proc/net/dev), up or down. */
  interfaces: string[];
  /** Interfaces that have an address (os.networkInterfaces()). */
  addressed: string[];
  /** Number of IPv4 + IPv6 routes (main tables) that leave through something other than lo. */
  foreignRoutes: number;
  /** True when lo is up with 127.0.0.1. */
  loopbackUp: boolean;
  problems: string[];
}

/**
 * Inside a child: inspects this process's network namespace. Isolated means: `lo` is the only
 * interface, no route leaves through another device (so no default route), and lo carries
 * 127.0.0.1. /proc/net is per network namespace (unlike /sys/class/net, which shows the namespace
 * sysfs was mounted in), so it is the source of truth here.
 */
export function isolationStatus(): IsolationStatus {
  const problems: string[] = [];
  const read = (path: string, required = true): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      if (required) problems.push(`cannot read ${path}`);
      return undefined;
    }
  };
  const dev = read('/proc/net/dev');
  const interfaces = dev === undefined ? [] : parseProcNetDev(dev);
  const v4 = read('/proc/net/route');
  const v6 = read('/proc/net/ipv6_route', false); // absent when the kernel runs without IPv6
  const routeDevs = [...(v4 === undefined ? [] : parseRouteV4(v4)), ...(v6 === undefined ? [] : parseRouteV6(v6))];
  const foreignRoutes = routeDevs.filter((d) => d !== 'lo').length;
  const nics = networkInterfaces();
  const addressed = Object.keys(nics).sort();
  const loopbackUp = (nics['lo'] ?? []).some((a) => a.family === 'IPv4' && a.address === '127.0.0.1');

  const others = interfaces.filter((i) => i !== 'lo');
  if (dev !== undefined && !interfaces.includes('lo')) problems.push('no lo interface');
  if (others.length > 0) problems.push(`interfaces other than lo: ${others.join(', ')}`);
  const otherAddressed = addressed.filter((i) => i !== 'lo');
  if (otherAddressed.length > 0) problems.push(`addresses on ${otherAddressed.join(', ')}`);
  if (foreignRoutes > 0) problems.push(`${foreignRoutes} route(s) through a device other than lo`);
  if (!loopbackUp) problems.push('lo is down or has no 127.0.0.1');
  return { isolated: problems.length === 0, interfaces, addressed, foreignRoutes, loopbackUp, problems };
}

/** Inside a child: throws unless this process is in a loopback-only namespace. Call before iroh binds. */
export function assertIsolated(): void {
  const s = isolationStatus();
  if (!s.isolated) {
    throw new Error(`refusing to start iroh: not in a loopback-only network namespace (${s.problems.join('; ')})`);
  }
}

/** Interface names from /proc/net/dev (two header lines, then `name: counters...`). */
export function parseProcNetDev(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.push(line.slice(0, colon).trim());
  }
  return names;
}

/** The device of each IPv4 route in /proc/net/route (a header line, then `Iface\tDestination...`). */
export function parseRouteV4(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((d) => d !== '');
}

/** The device of each IPv6 route in /proc/net/ipv6_route (no header; the device is the last field). */
export function parseRouteV6(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 10)
    .map((f) => f[f.length - 1] ?? '');
}
