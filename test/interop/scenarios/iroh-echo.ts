/**
 * Scenario (runs INSIDE a loopback-only namespace, see ../iroh.ts): two real iroh nodes, an echo
 * server and a dialer, echo the bytes this script receives on stdin over one bidi stream.
 *
 *   args: [alpn] (default 'quic-peer/interop-echo')
 *   prints: { isolation, server: IrohReady, dial: IrohDialResult (with echoHex), dialExit,
 *             serverEvents, serverExit, elapsedMs }
 */
import { assertIsolated, isolationStatus } from '../netns.js';
import { emitResult, readStdin, runIrohNode, startIrohNode } from '../iroh.js';

assertIsolated(); // before anything binds an iroh endpoint

const alpn = process.argv[2] ?? 'quic-peer/interop-echo';
const t0 = performance.now();
const payload = await readStdin();
const server = startIrohNode(['echo', '--alpn', alpn, '--bind', '127.0.0.1:0', '--timeout-ms', '60000']);
try {
  const ready = await server.ready;
  const addr = ready.addrs.find((a) => a.startsWith('127.0.0.1:'));
  if (addr === undefined) throw new Error(`echo node has no 127.0.0.1 address: ${JSON.stringify(ready.addrs)}`);
  const dial = await runIrohNode(
    ['dial', '--id', ready.id, '--addr', addr, '--alpn', alpn, '--stdin', '--hex', '--close-code', '7', '--close-reason', 'done'],
    { input: payload, timeoutMs: 30_000 },
  );
  // The server reports the close with the dialer's code and reason before we stop it.
  await server.waitFor((e) => e.event === 'closed', 5_000).catch(() => undefined);
  const serverExit = await server.stop();
  emitResult({
    isolation: isolationStatus(),
    server: ready,
    dial: dial.events.find((e) => e.event === 'result') ?? null,
    dialExit: dial.code,
    dialStderr: dial.stderr.slice(-2000),
    serverEvents: server.events.filter((e) => e.event !== 'ready'),
    serverExit,
    elapsedMs: Math.round(performance.now() - t0),
  });
} finally {
  server.child.kill('SIGKILL'); // no-op when it already exited
}
