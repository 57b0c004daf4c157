import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runScenario } from '../interop/iroh.js';
import { requireIsolation } from '../interop/netns.js';

/**
 * quic-peer <-> real iroh 1.0.2 (@number0/iroh) THROUGH A RELAY (our `RelayServer`), both
 * directions, with addresses that carry only the relay URL, inside one loopback-only namespace
 * (scenario: test/interop/scenarios/relay-sessions.ts).
 */
interface Result {
  url: string;
  toIroh: {
    error?: unknown;
    path?: string;
    echoBytes?: number;
    equal?: boolean;
    datagram?: unknown;
    irohAccepted?: { from?: string; remoteId?: string } | null;
    irohClosed?: { reason?: string } | null;
    multipath?: unknown;
    multipathFramesFromIroh?: Record<string, number>;
  };
  fromIroh: {
    error?: unknown;
    dial?: { ok: boolean; equal?: boolean; echoBytes?: number; datagramEcho?: string; remoteId?: string | null; localId?: string; error?: string } | null;
    dialExit?: number | null;
    dialStderr?: string;
    multipathFramesFromIroh?: Record<string, number>;
    server?: { error?: unknown; path?: string; remoteId?: string; multipath?: unknown; received?: number; equal?: boolean; closed?: { closeCode: number; reason: string } };
  };
  metrics: { accepts: number; drops: Record<string, number> };
}

describe('interop: quic-peer <-> real iroh through our relay (relay URL only, both directions)', function () {
  this.timeout(150_000);
  let result: Result;
  const payload = randomBytes(10 * 1024 * 1024);

  before(async function () {
    await requireIsolation(this);
    ({ result } = await runScenario<Result>(new URL('../interop/scenarios/relay-sessions.js', import.meta.url), { input: payload, timeoutMs: 140_000 }));
  });

  it('quic-peer dials iroh by a ticket with only the relay: 10 MB stream echo byte-exact, datagram echo, close code seen by iroh', () => {
    const r = result.toIroh;
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.match(r.path ?? '', /^relay:[0-9a-f]{64}@http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(r.echoBytes, payload.length);
    assert.equal(r.equal, true);
    assert.equal(r.datagram, 'datagram via relay');
    assert.equal(r.irohAccepted?.from, `${result.url}/`, 'iroh saw the connection arrive from the relay');
    assert.match(r.irohClosed?.reason ?? '', /code 7/);
  });

  it('iroh dials quic-peer by id and relay URL only: 10 MB stream echo byte-exact, datagram round trip, close code seen by quic-peer', () => {
    const r = result.fromIroh;
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.ok(r.dial, `no dial result (exit ${r.dialExit}): ${r.dialStderr}`);
    assert.equal(r.dial.ok, true, r.dial.error);
    assert.equal(r.dial.equal, true);
    assert.equal(r.dial.echoBytes, payload.length);
    assert.equal(r.dial.datagramEcho, 'iroh datagram via relay');
    const s = r.server!;
    assert.equal(s.error, undefined, JSON.stringify(s));
    assert.equal(s.remoteId, r.dial.localId);
    assert.match(s.path ?? '', new RegExp(`^relay:${r.dial.localId}@`));
    assert.equal(s.received, payload.length);
    assert.equal(s.equal, true);
    assert.equal(s.closed?.closeCode, 9);
    assert.equal(s.closed?.reason, 'iroh done');
  });

  it('the relay dropped nothing', () => {
    assert.deepEqual(Object.entries(result.metrics.drops).filter(([, n]) => n > 0), []);
  });
});

describe('interop: quic-peer offering multipath (initial_max_path_id 7) <-> real iroh through our relay (path 0 only, both directions)', function () {
  this.timeout(150_000);
  let result: Result;
  const payload = randomBytes(4 * 1024 * 1024);

  before(async function () {
    await requireIsolation(this);
    ({ result } = await runScenario<Result>(new URL('../interop/scenarios/relay-sessions.js', import.meta.url), { input: payload, timeoutMs: 140_000, args: ['--multipath'] }));
  });

  it('quic-peer dials iroh: multipath negotiated (iroh sends initial_max_path_id 7), 4 MB echo byte-exact on path 0, datagram echo, clean close', () => {
    const r = result.toIroh;
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.deepEqual(r.multipath, { localMaxPathId: 7, remoteMaxPathId: 7, natTraversal: null });
    // noq speaks multipath to us once negotiated (read from our qlog): path 0's acknowledgments
    // come as PATH_ACK, and PATH_STATUS_AVAILABLE, PATH_NEW/RETIRE_CONNECTION_ID for path 0 too.
    const frames = r.multipathFramesFromIroh ?? {};
    assert.ok((frames['path_ack'] ?? 0) > 0, JSON.stringify(frames));
    assert.equal(r.echoBytes, payload.length);
    assert.equal(r.equal, true);
    assert.equal(r.datagram, 'datagram via relay');
    assert.match(r.irohClosed?.reason ?? '', /code 7/);
  });

  it('iroh dials quic-peer: multipath negotiated, 4 MB echo byte-exact on path 0, datagram round trip, clean close', () => {
    const r = result.fromIroh;
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.ok(r.dial, `no dial result (exit ${r.dialExit}): ${r.dialStderr}`);
    assert.equal(r.dial.ok, true, r.dial.error);
    assert.equal(r.dial.equal, true);
    assert.equal(r.dial.datagramEcho, 'iroh datagram via relay');
    const s = r.server!;
    assert.equal(s.error, undefined, JSON.stringify(s));
    assert.deepEqual(s.multipath, { localMaxPathId: 7, remoteMaxPathId: 7, natTraversal: null });
    const frames = r.multipathFramesFromIroh ?? {};
    assert.ok((frames['path_ack'] ?? 0) > 0, JSON.stringify(frames));
    assert.equal(s.received, payload.length);
    assert.equal(s.equal, true);
    assert.equal(s.closed?.closeCode, 9);
  });

  it('the relay dropped nothing', () => {
    assert.deepEqual(Object.entries(result.metrics.drops).filter(([, n]) => n > 0), []);
  });
});
