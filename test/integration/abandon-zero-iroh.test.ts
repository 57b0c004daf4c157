import assert from 'node:assert/strict';
import { runScenario } from '../interop/iroh.js';
import { requireIsolation } from '../interop/netns.js';

/**
 * Issue #16: real iroh 1.0.2 abandons path 0 of its connection to quic-peer, and the connection
 * goes on (scenario: test/interop/scenarios/abandon-zero-iroh.ts, in a loopback-only namespace).
 * iroh dials our 127.0.0.1 address; its n0 NAT traversal opens path 1 to our [::1] candidate,
 * selects it and abandons path 0. We used to close with "the peer abandoned path 0".
 */
interface Result {
  error?: unknown;
  ourAddress?: string[];
  closedDuringWatch?: number | null;
  closedBeforeClose?: number | null;
  pathZeroAbandoned?: boolean;
  finalPaths?: Array<{ id: number; remoteAddress: string; selected: boolean }>;
  finalIrohPaths?: Array<{ id: string; remoteAddr: string; isSelected: boolean }>;
  remoteAddress?: string;
  echo?: { size: number; equal: boolean };
  irohClosed?: string;
}

describe('interop: real iroh abandons path 0 (issue #16), the connection goes on', function () {
  this.timeout(90_000);
  let r: Result;

  before(async function () {
    await requireIsolation(this);
    ({ result: r } = await runScenario<Result>(new URL('../interop/scenarios/abandon-zero-iroh.js', import.meta.url), { timeoutMs: 80_000, args: ['--watch-ms', '2000', '--bytes', '1000000'] }));
  });

  it('iroh moves to path 1 ([::1]) and abandons path 0: the session stays open 2 s, its address and paths follow path 1', () => {
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.closedDuringWatch, null, JSON.stringify(r));
    assert.equal(r.pathZeroAbandoned, true, JSON.stringify(r));
    const v6 = r.ourAddress!.find((a) => a.startsWith('[::1]'))!;
    const irohSel = r.finalIrohPaths!.find((p) => p.isSelected)!;
    assert.equal(irohSel.remoteAddr, v6, JSON.stringify(r.finalIrohPaths));
    assert.equal(r.finalPaths!.some((p) => p.id === 0), false, 'path 0 is gone from session.paths()');
    const sel = r.finalPaths!.find((p) => p.selected)!;
    assert.ok(sel.id >= 1 && sel.remoteAddress.startsWith('[::1]'), JSON.stringify(r.finalPaths));
    assert.equal(r.remoteAddress, sel.remoteAddress);
  });

  it('a 1 MB stream echo through iroh after path 0 is gone is byte-exact, and our close reaches iroh', () => {
    assert.deepEqual(r.echo, { size: 1_000_000, equal: true }, JSON.stringify(r));
    assert.equal(r.closedBeforeClose, null);
    assert.match(r.irohClosed ?? '', /done/);
  });
});
