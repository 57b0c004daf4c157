/**
 * Scenario (runs INSIDE a loopback-only namespace, see ../iroh.ts): real iroh nodes through OUR
 * relay server (src/relay/server.ts) on 127.0.0.1, used by iroh as
 * `RelayMode.customFromUrls([url])` with addresses that carry ONLY the relay URL.
 *
 *  1. Two iroh nodes through `quic-peer relay` (the command, a child process): an echo node whose
 *     home relay it is, and a dialer given only the echo node's id and relay URL: a stream echo of
 *     the stdin payload and a datagram round trip; the command's final metrics line after SIGINT.
 *  2. Our RelayClient holding the key of an id X, and an iroh node dialling X through the relay:
 *     the client receives iroh's QUIC Initial datagrams (batched by iroh, split by us), with the
 *     dialer's id as source.
 *
 *   prints: { isolation, url, echo: {ready, dial, dialExit, serverEvents}, cli: {code, metrics},
 *             bridge: {...}, metrics, elapsedMs }
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { toHex } from '../../../src/codec/bytes.js';
import { publicKeyOf } from '../../../src/tls/identity.js';
import { RelayClient } from '../../../src/relay/client.js';
import { RelayServer } from '../../../src/relay/server.js';
import { assertIsolated, isolationStatus } from '../netns.js';
import { emitResult, readStdin, runIrohNode, startIrohNode } from '../iroh.js';

assertIsolated(); // before anything binds an iroh endpoint

const alpn = 'quic-peer/relay-echo';
const t0 = performance.now();
const payload = await readStdin();

// 1. iroh <-> iroh through `quic-peer relay`.
const cli = spawn(process.execPath, [fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url)), 'relay', '--bind', '127.0.0.1:0', '--metrics-interval', '0'], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let cliOut = '';
let cliErr = '';
cli.stderr.setEncoding('utf8').on('data', (d: string) => (cliErr += d));
const cliExit = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
const cliUrl = await new Promise<string>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`quic-peer relay printed no URL; stderr: ${cliErr}`)), 10_000);
  cli.stdout.setEncoding('utf8').on('data', (d: string) => {
    cliOut += d;
    const m = /^(http:\/\/\S+)\n/.exec(cliOut);
    if (m) {
      clearTimeout(t);
      resolve(m[1]!);
    }
  });
});
const url = cliUrl;
const server = startIrohNode(['echo', '--alpn', alpn, '--bind', '127.0.0.1:0', '--relay', url, '--timeout-ms', '60000'], { readyTimeoutMs: 20_000 });
let echo: Record<string, unknown>;
try {
  const ready = (await server.ready) as unknown as { id: string; relay?: string };
  const dial = await runIrohNode(
    ['dial', '--id', ready.id, '--relay', url, '--alpn', alpn, '--stdin', '--datagram', 'relayed datagram', '--close-code', '7', '--close-reason', 'done', '--timeout-ms', '30000'],
    { input: payload, timeoutMs: 40_000 },
  );
  await server.waitFor((e) => e.event === 'closed', 5_000).catch(() => undefined);
  await server.stop();
  echo = {
    ready,
    dial: dial.events.find((e) => e.event === 'result') ?? null,
    dialExit: dial.code,
    dialStderr: dial.stderr.slice(-2000),
    serverEvents: server.events.filter((e) => e.event !== 'ready'),
  };
} finally {
  server.child.kill('SIGKILL');
}
cli.kill('SIGINT');
const cliCode = await cliExit;
const cliMetrics = cliErr.split('\n').filter((l) => l.startsWith('metrics ')).pop() ?? '';

// 2. Our RelayClient as id X; an iroh node dials X through an in-process RelayServer.
const relayLog: string[] = [];
const relay = await RelayServer.listen({ bind: '127.0.0.1:0', log: (l) => relayLog.push(l) });
const xSeed = new Uint8Array(32).fill(0x58);
const xId = toHex(publicKeyOf(xSeed));
const received: Array<{ src: string; len: number; first: number }> = [];
const client = new RelayClient({ url: relay.url, secretKey: xSeed, onDatagram: (src, d) => received.push({ src: toHex(src), len: d.length, first: d[0] ?? -1 }) });
client.start();
await client.connected({ timeoutMs: 10_000 });
const batchesBefore = relay.metrics;
const dialX = await runIrohNode(['dial', '--id', xId, '--relay', relay.url, '--alpn', alpn, '--message', 'x', '--timeout-ms', '3000'], { timeoutMs: 10_000 });
const dialXResult = dialX.events.find((e) => e.event === 'result') ?? null;
await client.close();
const metrics = relay.metrics;
await relay.close();

emitResult({
  isolation: isolationStatus(),
  url,
  echo,
  cli: { code: cliCode, metrics: cliMetrics, stderr: cliErr.slice(-2000) },
  bridge: {
    xId,
    dial: dialXResult,
    received: received.slice(0, 20),
    count: received.length,
    batchesForwarded: metrics.framesForwarded - batchesBefore.framesForwarded,
    datagramsForwarded: metrics.datagramsForwarded - batchesBefore.datagramsForwarded,
  },
  metrics,
  relayLog: relayLog.slice(-20),
  elapsedMs: Math.round(performance.now() - t0),
});
