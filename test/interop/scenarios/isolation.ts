/**
 * Scenario (runs INSIDE a loopback-only namespace): reports what this namespace looks like, as
 * seen by netns.ts and by the self-check of iroh-node.cjs (its `check` command never loads iroh).
 *
 *   prints: { status: IsolationStatus, nodeCheck: { isolated, problems } | null, nodeCheckExit }
 */
import { isolationStatus } from '../netns.js';
import { emitResult, runIrohNode } from '../iroh.js';

const check = await runIrohNode(['check'], { timeoutMs: 10_000 });
emitResult({
  status: isolationStatus(),
  nodeCheck: check.events[0] ?? null,
  nodeCheckExit: check.code,
});
