/**
 * Scenario (runs INSIDE a loopback-only namespace): the README's "Interop with iroh" example, as
 * written, dials a real iroh echo node by the ticket it printed.
 *
 *   args: <example.mjs path>
 *   prints: { stdout, stderr, code, irohId }
 */
import { spawnSync } from 'node:child_process';
import { assertIsolated } from '../netns.js';
import { emitResult, startIrohNode } from '../iroh.js';

assertIsolated();
const example = process.argv[2]!;
const server = startIrohNode(['echo', '--alpn', 'my-app/1', '--bind', '127.0.0.1:0', '--timeout-ms', '30000']);
try {
  const ready = await server.ready;
  if (!ready.ticket) throw new Error('the iroh node printed no ticket');
  const r = spawnSync(process.execPath, [example, ready.ticket, 'my-app/1'], { encoding: 'utf8', timeout: 20_000 });
  emitResult({ stdout: r.stdout, stderr: r.stderr, code: r.status, irohId: ready.id });
} finally {
  await server.stop().catch(() => undefined);
  server.child.kill('SIGKILL');
}
