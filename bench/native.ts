/**
 * The native anchors of the benchmark ([perf2]): ngtcp2 (C), quic-go (Go) and quinn (Rust), the
 * stacks test/peers/install.sh builds into QP_PEERS_DIR, each downloading one file of BYTES over
 * loopback with its own client from its own server, and quic-peer against each of them both ways.
 *
 *   node build/bench/native.js BYTES          (inside a loopback-only namespace: run.ts uses nativeAnchors)
 *
 * Prints one JSON line: {"results": {key: Mbit/s | null}, "notes": {key: text}, "details": {...}}.
 *
 * Each cell is one download of the file (hq-interop for quic-go and quinn, HTTP/3 for ngtcp2: what
 * their example programs serve, test/peers/stacks.ts), timed from the client's start to its end:
 * a native client's whole process (start, handshake, download, writing the file to disk), our
 * client's endpoint bind, handshake and download into memory. The saved or received size is
 * checked. The fixed ports of the stacks' command lines are why this runs in its own namespace
 * (no other test's matrix meets them), as the interop matrix does.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertIsolated, probeIsolation, runIsolated } from '../test/interop/netns.js';
import { runClient, startServer, waitUdp, waitUdpFree } from '../test/peers/procs.js';
import { OurServer, runOurClient } from '../test/peers/ours.js';
import { readManifest } from '../test/peers/run.js';
import { OUR_PORT, SERVER_PORT, stacks, type Env, type Stack } from '../test/peers/stacks.js';
import { repoRoot } from '../test/interop/iroh.js';

/** The stacks measured, by the prefix of their name in stacks.ts, and their key's name. */
const NATIVE = [
  ['ngtcp2', 'ngtcp2'],
  ['quic-go', 'quicgo'],
  ['quinn', 'quinn'],
] as const;

/** The keys this module fills: per stack, native <-> native, quic-peer <- stack, stack <- quic-peer. */
export const NATIVE_KEYS = NATIVE.flatMap(([, k]) => [`${k}_bulk_mbps`, `qp_from_${k}_bulk_mbps`, `${k}_from_qp_bulk_mbps`] as const);

/** What the isolated run reports. */
export interface NativeReport {
  results: Record<string, number | null>;
  notes: Record<string, string>;
  details: Record<string, unknown>;
}

const CELL_MS = 90_000;
const mbps = (bytes: number, ms: number): number => (bytes * 8) / (ms * 1000);

/**
 * Runs the native anchors in a loopback-only namespace (parent side). Every key is null with a
 * note when the peers are not installed or no namespace can be made.
 */
export async function nativeAnchors(bytes: number): Promise<NativeReport> {
  const skip = (why: string): NativeReport => ({
    results: Object.fromEntries(NATIVE_KEYS.map((k) => [k, null])),
    notes: Object.fromEntries(NATIVE_KEYS.map((k) => [k, `not measured: ${why}`])),
    details: {},
  });
  const { manifest, reason } = readManifest();
  if (!manifest) return skip(`${reason ?? 'no peers'} (bash test/peers/install.sh)`);
  const probe = await probeIsolation();
  if (!probe.ok) return skip(`cannot make a loopback-only namespace (${probe.reason})`);
  const out = await runIsolated([process.execPath, join(repoRoot(), 'build', 'bench', 'native.js'), String(bytes)], {
    timeoutMs: 9 * CELL_MS + 30_000,
    cwd: repoRoot(),
  });
  const last = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0) throw new Error(`native anchors failed (${out.timedOut ? 'timeout' : `exit ${out.code ?? out.signal}`}): ${out.stderr.slice(-1500)}`);
  return JSON.parse(last) as NativeReport;
}

// ---------------------------------------------------------------------------------------------
// Inside the namespace

/** The stack's client command, pointed at the stack's own server rather than at ours. */
function towardOwnServer(argv: readonly string[]): string[] {
  return argv.map((a) => a.split(String(OUR_PORT)).join(String(SERVER_PORT)));
}

/** A native client's download; returns ms from its start to its exit. */
async function nativeClient(stack: Stack, env: Env, bytes: number, ownServer: boolean): Promise<number> {
  const cmd = stack.client!('transfer', env);
  const argv = ownServer ? towardOwnServer(cmd.argv) : cmd.argv;
  rmSync(env.out, { recursive: true, force: true });
  mkdirSync(env.out, { recursive: true });
  const t0 = performance.now();
  const run = await runClient(argv, CELL_MS, { ...(cmd.cwd ? { cwd: cmd.cwd } : {}), ...(cmd.env ? { env: cmd.env } : {}) });
  const ms = performance.now() - t0;
  if (run.timedOut || run.code !== 0) throw new Error(`${argv[0]?.split('/').pop()} client ${run.timedOut ? 'timed out' : `exited ${run.code ?? run.signal}`}: ${`${run.stdout}\n${run.stderr}`.trim().slice(-600)}`);
  const saved = statSync(join(env.out, env.paths[0]!.slice(1)), { throwIfNoEntry: false })?.size ?? 0;
  if (saved !== bytes) throw new Error(`the client saved ${saved} bytes of ${bytes}`);
  return ms;
}

/** Runs `f` against the stack's server on SERVER_PORT. */
async function withStackServer<T>(stack: Stack, env: Env, f: () => Promise<T>): Promise<T> {
  const cmd = stack.server!('transfer', env);
  const server = startServer(cmd.argv, { ...(cmd.cwd ? { cwd: cmd.cwd } : {}), ...(cmd.env ? { env: cmd.env } : {}) });
  try {
    await waitUdp(SERVER_PORT, server, 10_000);
    return await f();
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server: ${server.output().slice(-600)}`);
  } finally {
    await server.stop();
    await waitUdpFree(SERVER_PORT, 3_000);
  }
}

async function inside(bytes: number): Promise<NativeReport> {
  assertIsolated();
  const { manifest, reason } = readManifest();
  if (!manifest) throw new Error(reason);
  const work = mkdtempSync(join(tmpdir(), 'qp-bench-native-'));
  const report: NativeReport = { results: {}, notes: {}, details: {} };
  try {
    const www = join(work, 'www');
    mkdirSync(www, { recursive: true });
    const data = new Uint8Array(randomBytes(bytes));
    writeFileSync(join(www, 'bulk.bin'), data);
    const env: Env = { certs: manifest.certs, www, out: join(work, 'out'), paths: ['/bulk.bin'], echo: { streams: 1, size: 0 }, quick: false };
    const expect = new Map([['/bulk.bin', data]]);
    const all = stacks(manifest);
    const size = `${bytes / 1e6} MB`;
    for (const [prefix, k] of NATIVE) {
      const stack = all.find((s) => s.name.startsWith(prefix));
      const cell = async (key: string, note: string, f: () => Promise<number>): Promise<void> => {
        if (!stack) {
          report.results[key] = null;
          report.notes[key] = `not measured: ${prefix} is not installed (peers.json)`;
          return;
        }
        try {
          const ms = await f();
          report.results[key] = mbps(bytes, ms);
          report.notes[key] = `${stack.name}: ${note}, one ${size} file over ${stack.app('transfer') === 'h3' ? 'HTTP/3' : 'hq-interop'} on 127.0.0.1`;
          report.details[key] = { ms: Math.round(ms) };
        } catch (e) {
          report.results[key] = null;
          report.notes[key] = `failed: ${(e as Error).message.slice(0, 400)}`;
        }
      };
      await cell(`${k}_bulk_mbps`, 'its own client downloading from its own server, timed over the client process (start, handshake, download to a file)', () =>
        withStackServer(stack!, env, () => nativeClient(stack!, env, bytes, true)),
      );
      await cell(`qp_from_${k}_bulk_mbps`, "quic-peer's client downloading from its server (X.509), timed from our endpoint's bind to the last byte in memory", () =>
        withStackServer(stack!, env, async () => {
          const t0 = performance.now();
          const ac = new AbortController();
          const timer = setTimeout(() => ac.abort(new Error(`not done within ${CELL_MS} ms`)), CELL_MS);
          try {
            await runOurClient('transfer', stack!.app('transfer'), env, expect, ac.signal);
          } finally {
            clearTimeout(timer);
          }
          return performance.now() - t0;
        }),
      );
      await cell(`${k}_from_qp_bulk_mbps`, "its client downloading from quic-peer's file server (X.509), timed over the client process", async () => {
        const ours = await OurServer.start('transfer', env);
        try {
          return await nativeClient(stack!, env, bytes, false);
        } finally {
          await ours.stop();
        }
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return report;
}

if (process.argv[1] !== undefined && /native\.js$/.test(process.argv[1])) {
  const bytes = Number(process.argv[2]);
  const deadline = setTimeout(() => process.exit(2), 9 * CELL_MS + 20_000);
  deadline.unref();
  inside(bytes).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`bench native: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
