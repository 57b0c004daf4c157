/**
 * The reference WebTransport servers of test/webtransport/refs: wtgo (Go, on Debian's quic-go 0.29),
 * built into a temporary GOPATH on first use (offline: Debian's golang-go and
 * golang-github-lucas-clemente-quic-go-dev, installed by .ci/run), and mushi's (npm mushi 0.0.12:
 * quinn, rustls and web-transport-quinn in a prebuilt native binary), installed outside the
 * repository into QP_WT_REFS_DIR (default $TMPDIR/qp-wt-refs) by .ci/run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const SRC = fileURLToPath(new URL('../../../test/webtransport/refs/wtgo/', import.meta.url));
const WORK = join(tmpdir(), 'qp-wtgo');
/** Where mushi is installed (`npm install --prefix DIR mushi@0.0.12`). */
export const REFS_DIR = process.env['QP_WT_REFS_DIR'] ?? join(tmpdir(), 'qp-wt-refs');
const MUSHI_SERVER = fileURLToPath(new URL('../../../test/webtransport/refs/mushi/wtserver.mjs', import.meta.url));

/** Why mushi's server cannot run here, or undefined when it can. */
export function mushiMissing(): string | undefined {
  if (!existsSync(join(REFS_DIR, 'node_modules', 'mushi'))) return `mushi is not installed in ${REFS_DIR} (npm install --prefix ${REFS_DIR} mushi@0.0.12; .ci/run does)`;
  return undefined;
}

/** Starts mushi's echo server on 127.0.0.1; `spki` is its key's SHA-256 pin (base64). */
export async function startMushi(): Promise<RefServer & { spki: string }> {
  const child = spawn(process.execPath, [MUSHI_SERVER, '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MUSHI_DIR: REFS_DIR } });
  return started(child, 'mushi');
}

/** Why wtgo cannot be built here, or undefined when it can. */
export function wtgoMissing(): string | undefined {
  if (!existsSync('/usr/bin/go')) return 'go is missing (apt-get install golang-go)';
  if (!existsSync('/usr/share/gocode/src/github.com/lucas-clemente/quic-go')) return "Debian's quic-go is missing (apt-get install golang-github-lucas-clemente-quic-go-dev)";
  return undefined;
}

/** Builds wtgo (once per source change) and returns the binary's path. */
export function buildWtgo(): string {
  const dir = join(WORK, 'src', 'wtgo');
  mkdirSync(dir, { recursive: true });
  for (const f of ['main.go', 'signal.go']) copyFileSync(join(SRC, f), join(dir, f));
  const bin = join(WORK, 'wtgo');
  const newest = Math.max(...['main.go', 'signal.go'].map((f) => statSync(join(SRC, f)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs > newest) return bin;
  execFileSync('go', ['build', '-o', bin, '.'], {
    cwd: dir,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${WORK}:/usr/share/gocode`, GOFLAGS: '', GOCACHE: join(WORK, 'cache') },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
  return bin;
}

export interface RefServer {
  child: ChildProcess;
  port: number;
  log: () => string;
  stop: () => Promise<void>;
}

/** Starts wtgo on 127.0.0.1 with a certificate and key (PEM files). */
export async function startWtgo(bin: string, certFile: string, keyFile: string, args: string[] = []): Promise<RefServer> {
  const child = spawn(bin, ['-listen', '127.0.0.1:0', '-cert', certFile, '-key', keyFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return started(child, 'wtgo');
}

/** Waits for a reference server's first stdout line ({"port": N, ...}). */
async function started(child: ChildProcess, name: string): Promise<RefServer & { spki: string }> {
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', res);
    child.once('exit', (c) => rej(new Error(`${name} exited ${c}: ${err}`)));
    setTimeout(() => rej(new Error(`${name} did not start: ${err}`)), 10_000).unref();
  });
  const info = JSON.parse(line) as { port: number; spki?: string };
  return {
    child,
    port: info.port,
    spki: info.spki ?? '',
    log: () => err,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

