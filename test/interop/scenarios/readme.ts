/**
 * Scenario (runs INSIDE a loopback-only namespace): a README example, as written, dials a real
 * iroh echo node by its ticket.
 *
 *   args: <example.mjs path> [--relay-only]
 *   prints: { stdout, stderr, code, irohId }
 *
 * Plain: the "Interop with iroh" example, with the ticket the iroh node printed (its direct
 * addresses). `--relay-only`: the "From the relay to a direct path" example; the iroh node's home
 * relay is our `RelayServer` on loopback and the ticket names only that relay (no address), so
 * the session starts on the relay and iroh's NAT traversal must find the direct path.
 */
import { spawn } from 'node:child_process';
import { RelayServer } from '../../../src/relay/server.js';
import { encodeEndpointTicket } from '../../../src/session/addressing.js';
import { EndpointId } from '../../../src/tls/identity.js';
import { assertIsolated } from '../netns.js';
import { emitResult, startIrohNode } from '../iroh.js';

assertIsolated();
const example = process.argv[2]!;
const relayOnly = process.argv.includes('--relay-only');
const relay = relayOnly ? await RelayServer.listen({ bind: '127.0.0.1:0' }) : null;
const server = startIrohNode(
  ['echo', '--alpn', 'my-app/1', '--bind', '127.0.0.1:0', '--timeout-ms', '30000', ...(relay ? ['--relay', relay.url] : [])],
  { readyTimeoutMs: 20_000 },
);
try {
  const ready = await server.ready;
  const ticket = relay ? encodeEndpointTicket({ id: EndpointId.parse(ready.id), addrs: [], relays: [relay.url] }) : ready.ticket;
  if (!ticket) throw new Error('the iroh node printed no ticket');
  // Not spawnSync: the relay server lives in this process and must keep serving meanwhile.
  const r = await run(process.execPath, [example, ticket, 'my-app/1'], 20_000);
  emitResult({ ...r, irohId: ready.id });
} finally {
  await server.stop().catch(() => undefined);
  server.child.kill('SIGKILL');
  await relay?.close();
}

/** Runs a child to its end (killed after `timeoutMs`): its output and exit code. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}
