/**
 * Scenario (runs INSIDE a loopback-only namespace): the compiled `quic-peer` CLI as child
 * processes of this namespace, against real iroh nodes, with the CLI's default ALPN
 * (`iroh-http/2-duplex`):
 * - `quic-peer connect <iroh ticket>` against `iroh-node.cjs echo`: stdin out, the echo back on stdout;
 * - `iroh-node.cjs dial` against `quic-peer listen --echo`: a bidi echo, a datagram, a uni stream.
 *
 *   prints: { connect: {...}, listen: {...} }
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertIsolated } from '../netns.js';
import { emitResult, runIrohNode, startIrohNode } from '../iroh.js';
import { errorInfo, withTimeout } from '../peer.js';
import { sha256Hex } from '../iroh-rpc.js';
import { SeededRandom } from '../../../src/tls/random.js';

assertIsolated();

const ALPN = 'iroh-http/2-duplex';
const CLI = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const payload = new SeededRandom(0xc11).fill(new Uint8Array(200_000));
const result: Record<string, unknown> = {};

try {
  const [connect, listen] = await Promise.all([connectToIroh(), irohToListen()]);
  result['connect'] = connect;
  result['listen'] = listen;
} catch (e) {
  result['fatal'] = errorInfo(e);
  result['fatalStack'] = e instanceof Error ? e.stack : undefined;
}
emitResult(result);

async function connectToIroh(): Promise<Record<string, unknown>> {
  const echo = startIrohNode(['echo', '--alpn', ALPN, '--bind', '127.0.0.1:0', '--timeout-ms', '30000']);
  try {
    const ready = await echo.ready;
    const run = await runCli(['connect', ready.ticket], payload, 20_000);
    const closed = await echo.waitFor((e) => e.event === 'closed', 5000).catch(() => null);
    return {
      code: run.code,
      stderr: run.stderr.slice(-1000),
      outLen: run.stdout.length,
      equal: Buffer.compare(run.stdout, Buffer.from(payload)) === 0,
      irohAccepted: echo.events.find((e) => e.event === 'accepted') ?? null,
      irohClosed: closed,
    };
  } finally {
    await echo.stop().catch(() => undefined);
  }
}

async function irohToListen(): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [CLI, 'listen', '--echo', '--bind', '127.0.0.1:0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const listening = new Promise<{ id: string; addr: string }>((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      const m = /listening ([0-9a-f]{64})@(127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve({ id: m[1] as string, addr: m[2] as string });
    });
  });
  child.stdout.resume();
  try {
    const { id, addr } = await withTimeout(listening, 10_000, `quic-peer listen starting (stderr: ${stderr})`);
    const dial = await runIrohNode(
      ['dial', '--id', id, '--addr', addr, '--alpn', ALPN, '--stdin', '--datagram', 'dg to quic-peer', '--uni', 'uni to quic-peer', '--close-code', '7', '--close-reason', 'bye'],
      { input: payload, timeoutMs: 20_000 },
    );
    child.kill('SIGTERM');
    const code = await withTimeout(exited, 5000, 'quic-peer listen exiting on SIGTERM');
    const res = dial.events.find((e) => e.event === 'result') ?? null;
    return { listenerId: id, dial: res, dialStderr: dial.stderr.slice(-1000), listenExit: code, listenStderr: stderr.slice(-1000), payloadSha: sha256Hex(payload) };
  } finally {
    child.kill('SIGKILL');
  }
}

function runCli(args: string[], input: Uint8Array, timeoutMs: number): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
