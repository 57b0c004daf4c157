import assert from 'node:assert/strict';
import { runScenario } from '../interop/iroh.js';
import { requireIsolation } from '../interop/netns.js';

/**
 * iroh's n0 NAT traversal between quic-peer and real iroh 1.0.2 (@number0/iroh), both directions,
 * started through our relay by addresses that carry only the relay URL, in one loopback-only
 * namespace (scenario: test/interop/scenarios/nat-iroh.ts). Both sides offer multipath with
 * initial_max_path_id 7 (iroh's) and NAT traversal.
 *
 * Proven: NAT traversal is negotiated both ways; iroh's candidates reach us (ADD_ADDRESS) and ours
 * reach iroh (REACH_OUT as the client, ADD_ADDRESS as the server); probes both ways are answered;
 * a direct path is opened (by us as the client, by iroh as the client) and selected on both sides
 * (iroh's `conn.paths()`, our `session.paths()`) within 5 s; a 20 MB transfer started on the relay
 * is byte-exact and most of its bytes went direct (the relay forwarded less than half of them).
 * With direct datagrams blocked nothing is answered, and the session stays on the relay and works.
 */
interface Frame { t: number; dir: 'in' | 'out'; frame: { frame_type: string } }
interface OurPath { id: number; kind: string; selected: boolean; remoteAddress: string }
interface IrohPath { id: string; isSelected: boolean; isIp: boolean; remoteAddr: string }
interface Direction {
  error?: unknown;
  ourAddress?: string[];
  multipath?: { natTraversal: unknown };
  nat?: { rounds: number; probesSent: number; probesAnswered: number; pathsOpened: number; framesSent: number };
  firstDirect?: { iroh: number | null; ours: number | null };
  transferEqual?: boolean;
  relayBytes?: number;
  pathsAtStart?: OurPath[];
  finalPaths?: OurPath[];
  finalIrohPaths?: IrohPath[];
  frames?: Frame[];
}
interface Result { toIroh: Direction & { killed?: { at: number; paths: OurPath[] } | null }; fromIroh: Direction & { killed?: { at: number; paths: OurPath[] } | null }; payloadBytes: number }

const count = (d: Direction, dir: 'in' | 'out', type: string): number => (d.frames ?? []).filter((f) => f.dir === dir && f.frame.frame_type === type).length;
const NAT = { maxRemoteAddresses: 32, maxLocalAddresses: 32 };
const run = (args: string[]): Promise<{ result: Result }> =>
  runScenario<Result>(new URL('../interop/scenarios/nat-iroh.js', import.meta.url), { timeoutMs: 140_000, args: ['--max-path-id', '7', ...args] });

/** The checks of one direction with the direct path open. */
function direct(r: Direction, payloadBytes: number): void {
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.deepEqual(r.multipath?.natTraversal, NAT);
  assert.ok(r.nat!.probesAnswered >= 1, JSON.stringify(r.nat));
  assert.ok(count(r, 'in', 'path_challenge') >= 1 && count(r, 'out', 'path_response') >= 1, 'iroh probed us and we answered');
  // The transfer started on the relay alone...
  assert.deepEqual(r.pathsAtStart?.map((p) => [p.id, p.kind, p.selected]), [[0, 'relay', true]]);
  // ... a direct path was selected on both sides within 5 s ...
  const fd = r.firstDirect!;
  assert.ok(fd.ours !== null && fd.ours <= 5_000, `ours: ${JSON.stringify(fd)}`);
  assert.ok(fd.iroh !== null && fd.iroh <= 5_000, `iroh's: ${JSON.stringify(fd)}`);
  const ours = r.finalPaths!.find((p) => p.selected)!;
  assert.equal(ours.kind, 'direct', JSON.stringify(r.finalPaths));
  assert.ok(r.finalPaths!.some((p) => p.id === 0 && p.kind === 'relay'), 'the relay path stays open');
  const irohSelected = r.finalIrohPaths!.find((p) => p.isSelected)!;
  assert.equal(irohSelected.isIp, true, JSON.stringify(r.finalIrohPaths));
  assert.equal(irohSelected.remoteAddr, r.ourAddress![0], 'iroh sends to our socket directly');
  // ... and the 20 MB arrived byte-exact, most of them direct.
  assert.equal(r.transferEqual, true);
  assert.ok((r.relayBytes ?? Infinity) < payloadBytes / 2, `the relay forwarded ${r.relayBytes} bytes of ${payloadBytes}`);
}

describe('interop: n0 NAT traversal, quic-peer <-> real iroh, started on our relay (relay URL only, both directions)', function () {
  this.timeout(150_000);
  let result: Result;

  before(async function () {
    await requireIsolation(this);
    ({ result } = await run(['--bytes', '20000000', '--watch-ms', '6000']));
  });

  it('quic-peer dials iroh: iroh announces its candidates, we reach out, probe, open path 1 to it; direct selected on both sides within 5 s; 20 MB byte-exact, most direct', () => {
    const r = result.toIroh;
    assert.ok(count(r, 'in', 'add_address') >= 1, 'ADD_ADDRESS from iroh');
    assert.ok(count(r, 'out', 'reach_out') >= 1, 'our REACH_OUT');
    assert.equal(r.nat?.pathsOpened, 1, JSON.stringify(r.nat));
    direct(r, result.payloadBytes);
  });

  it('iroh dials quic-peer: we announce our candidate, iroh reaches out, probes, opens path 1 to us; direct selected on both sides within 5 s; 20 MB byte-exact, most direct', () => {
    const r = result.fromIroh;
    assert.ok(count(r, 'out', 'add_address') >= 1, 'our ADD_ADDRESS');
    assert.ok(count(r, 'in', 'reach_out') >= 1, 'REACH_OUT from iroh');
    direct(r, result.payloadBytes);
  });
});

describe('interop: n0 NAT traversal with the direct path blocked, quic-peer <-> real iroh: the session stays on the relay and works', function () {
  this.timeout(150_000);
  let result: Result;

  before(async function () {
    await requireIsolation(this);
    ({ result } = await run(['--bytes', '2000000', '--watch-ms', '3000', '--block-direct']));
  });

  for (const side of ['toIroh', 'fromIroh'] as const) {
    it(`${side === 'toIroh' ? 'quic-peer dials iroh' : 'iroh dials quic-peer'}: probes go unanswered, the only path is the relay (both sides), 2 MB byte-exact through it`, () => {
      const r = result[side];
      assert.equal(r.error, undefined, JSON.stringify(r));
      assert.deepEqual(r.multipath?.natTraversal, NAT);
      assert.equal(r.nat!.probesAnswered, 0, JSON.stringify(r.nat));
      assert.equal(r.nat!.pathsOpened, 0);
      assert.equal(count(r, 'in', 'path_challenge') + count(r, 'in', 'path_response'), 0, 'nothing direct reached us');
      assert.deepEqual(r.finalPaths?.map((p) => [p.id, p.kind, p.selected]), [[0, 'relay', true]]);
      assert.deepEqual(r.firstDirect, { iroh: null, ours: null });
      assert.equal(r.finalIrohPaths?.find((p) => p.isSelected)?.isIp, false, JSON.stringify(r.finalIrohPaths));
      assert.equal(r.transferEqual, true);
      assert.ok((r.relayBytes ?? 0) >= result.payloadBytes, `the relay carried it all (${r.relayBytes} bytes)`);
    });
  }
});

describe('interop: n0 NAT traversal, quic-peer <-> real iroh: the direct path dies mid-transfer, the rest goes through the relay', function () {
  this.timeout(150_000);
  let result: Result;

  before(async function () {
    await requireIsolation(this);
    // 200 ms after our side selected the direct path, our endpoint stops sending and receiving
    // direct datagrams (both ways), the 20 MB transfer still running.
    ({ result } = await run(['--bytes', '20000000', '--watch-ms', '8000', '--kill-direct-at-ms', '200']));
  });

  for (const side of ['toIroh', 'fromIroh'] as const) {
    it(`${side === 'toIroh' ? 'quic-peer dials iroh, sends' : 'iroh dials quic-peer, sends'} 20 MB: the direct path carried it when it died, the relay carries the rest, byte-exact`, () => {
      const r = result[side];
      assert.equal(r.error, undefined, JSON.stringify(r));
      assert.ok(r.killed, 'the direct path was selected, then killed');
      assert.equal(r.killed.paths.find((p) => p.selected)?.kind, 'direct', JSON.stringify(r.killed.paths));
      assert.equal(r.transferEqual, true);
      assert.ok((r.relayBytes ?? 0) > 0, 'the relay carried the rest');
      assert.equal(r.finalPaths?.find((p) => p.selected)?.kind, 'relay', JSON.stringify(r.finalPaths));
    });
  }
});
