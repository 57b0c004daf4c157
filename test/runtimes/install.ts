/**
 * Finds or installs the runtimes the runtime checks run under. Bun and Deno come from npm as
 * packages that carry their binaries (`bun` and `deno`, each with one optional package per
 * platform), pinned with a lock in test/runtimes/tools/ and installed there with `npm ci`, apart
 * from the project's own dependencies: ~200 MB of binaries that `npm install` for the library
 * does not need.
 *
 * When a runtime cannot be had, the answer says whether the cause lies outside the project (the
 * registry unreachable, no build for this platform, a binary this machine cannot run): CI counts
 * those as skipped and says why, and anything else (a bad pin, a broken lock) as failed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type RuntimeName = 'node' | 'bun' | 'deno';

export interface Runtime {
  readonly name: RuntimeName;
  readonly version: string;
  /** The executable and the arguments that come before a script's path. */
  readonly command: string;
  readonly prefix: readonly string[];
}

export type Located = { readonly ok: true; readonly runtime: Runtime } | { readonly ok: false; readonly outside: boolean; readonly reason: string };

/**
 * Deno checks every address it binds or sends to against --allow-net: loopback, plus the wildcard
 * addresses a socket may bind (a wildcard is never a destination off this machine). So under Deno
 * no check can send anywhere else, whatever the code under test does.
 */
const DENO_NET = '--allow-net=127.0.0.1,[::1],0.0.0.0,[::]';

/** Arguments for each runtime before the script; Deno needs `run` and its permissions. */
function prefixFor(name: RuntimeName): string[] {
  // --cached-only: Deno never fetches a module (everything is on disk, in node_modules);
  // --no-lock: it writes no deno.lock into the temporary project.
  return name === 'deno' ? ['run', '--cached-only', '--no-lock', DENO_NET] : [];
}

/** What each runtime's environment needs so it sends nothing off this machine by itself. */
export const RUNTIME_ENV: Readonly<Record<string, string>> = {
  // Deno checks for a new release at startup unless told not to.
  DENO_NO_UPDATE_CHECK: '1',
  // Bun sends crash reports and usage data unless told not to.
  DO_NOT_TRACK: '1',
  NO_COLOR: '1',
};

function versionOf(command: string, prefixArgs: readonly string[] = []): { ok: true; version: string } | { ok: false; reason: string } {
  const r = spawnSync(command, [...prefixArgs, '--version'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...RUNTIME_ENV } });
  if (r.error) return { ok: false, reason: `${command}: ${r.error.message}` };
  if (r.signal) return { ok: false, reason: `${command} --version was killed by ${r.signal}${r.signal === 'SIGILL' ? ' (an instruction this CPU lacks)' : ''}` };
  if (r.status !== 0) return { ok: false, reason: `${command} --version exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}` };
  // "1.4.5" (Bun), "deno 2.9.6 (stable, ...)" (Deno), "v20.20.2" (Node).
  const m = /(\d+\.\d+\.\d+)/.exec(r.stdout);
  return { ok: true, version: m?.[1] ?? r.stdout.trim() };
}

/** The versions pinned in the tools folder's package.json. */
export function pinnedVersions(toolsDir: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(toolsDir, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  return pkg.devDependencies ?? {};
}

/**
 * The binaries to try, best first: npm's link in .bin (the package's postinstall replaces a
 * placeholder with the platform binary), then the platform package's binary itself, which works
 * even where install scripts were not run (`--ignore-scripts`, or an npm that blocks them).
 */
function candidates(toolsDir: string, name: 'bun' | 'deno'): string[] {
  const nm = join(toolsDir, 'node_modules');
  const out = [join(nm, '.bin', name)];
  const scope = join(nm, name === 'bun' ? '@oven' : '@deno');
  if (existsSync(scope)) {
    for (const d of readdirSync(scope).sort()) out.push(name === 'bun' ? join(scope, d, 'bin', 'bun') : join(scope, d, 'deno'));
  }
  return out.filter((p) => existsSync(p));
}

/** Network failures and registry outages are npm's words for "not this project's fault". */
const OUTSIDE_NPM = /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|socket hang up|network|fetch failed|E5\d\d|E429|ENOSPC|EBADPLATFORM/i;

type CiResult = { ok: true } | { ok: false; outside: boolean; reason: string };
/** One `npm ci` per folder and run: Bun and Deno share the lock. */
const ciDone = new Map<string, CiResult>();

function npmCi(toolsDir: string): CiResult {
  let r = ciDone.get(toolsDir);
  if (!r) ciDone.set(toolsDir, (r = runNpmCi(toolsDir)));
  return r;
}

function runNpmCi(toolsDir: string): CiResult {
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--no-progress', '--loglevel=error'], {
    cwd: toolsDir,
    encoding: 'utf8',
    timeout: 5 * 60_000,
    env: { ...process.env, ...RUNTIME_ENV },
  });
  if (r.error) return { ok: false, outside: true, reason: `npm could not be run: ${r.error.message}` };
  if (r.signal) return { ok: false, outside: true, reason: `npm ci did not finish within 5 minutes (${r.signal}): the registry did not answer` };
  if (r.status === 0) return { ok: true };
  const text = `${r.stdout}\n${r.stderr}`;
  const lines = text
    .split('\n')
    .filter((l) => /ERR|error/i.test(l))
    .slice(0, 4)
    .join(' | ');
  const outside = OUTSIDE_NPM.test(text);
  const why = outside ? 'the npm registry could not be reached or refused the install' : 'the pins or the lock in that folder are wrong';
  return { ok: false, outside, reason: `npm ci in ${toolsDir} failed (${why}): ${lines || `exit ${r.status}`}` };
}

/**
 * The runtime called `name`: Node is the one running this; Bun and Deno come from the env
 * variable QUIC_PEER_BUN / QUIC_PEER_DENO when set (a binary the developer already has), else
 * from test/runtimes/tools, installed with `npm ci` when missing or not the pinned version.
 */
export function locate(name: RuntimeName, toolsDir: string, log: (line: string) => void): Located {
  if (name === 'node') {
    return { ok: true, runtime: { name, version: process.versions.node, command: process.execPath, prefix: [] } };
  }
  const override = process.env[name === 'bun' ? 'QUIC_PEER_BUN' : 'QUIC_PEER_DENO'];
  if (override) {
    const v = versionOf(override);
    if (!v.ok) return { ok: false, outside: false, reason: `${name === 'bun' ? 'QUIC_PEER_BUN' : 'QUIC_PEER_DENO'}=${override} does not run: ${v.reason}` };
    return { ok: true, runtime: { name, version: v.version, command: override, prefix: prefixFor(name) } };
  }
  const pinned = pinnedVersions(toolsDir)[name];
  if (!pinned) return { ok: false, outside: false, reason: `${join(toolsDir, 'package.json')} pins no ${name}` };
  const find = (): Runtime | string => {
    const reasons: string[] = [];
    for (const c of candidates(toolsDir, name)) {
      const v = versionOf(c);
      if (v.ok && v.version === pinned) return { name, version: v.version, command: c, prefix: prefixFor(name) };
      reasons.push(v.ok ? `${c} is ${v.version}, not ${pinned}` : v.reason);
    }
    return reasons.join('; ');
  };
  const found = find();
  if (typeof found !== 'string') return { ok: true, runtime: found };
  log(`installing ${name}@${pinned} from npm into ${toolsDir} (npm ci)`);
  const ci = npmCi(toolsDir);
  if (!ci.ok) return ci;
  const after = find();
  if (typeof after !== 'string') return { ok: true, runtime: after };
  // npm installed the lock, so what is missing is a binary for this machine.
  const platform = `${process.platform}-${process.arch}`;
  if (after === '') return { ok: false, outside: true, reason: `npm has no ${name}@${pinned} build for ${platform} (no platform package was installed)` };
  return { ok: false, outside: true, reason: `the ${name}@${pinned} binary for ${platform} does not run on this machine: ${after}` };
}
