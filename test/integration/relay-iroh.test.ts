import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runScenario } from '../interop/iroh.js';
import { requireIsolation } from '../interop/netns.js';

/**
 * Real iroh 1.0.2 nodes (@number0/iroh) through OUR relay server (`quic-peer relay`, then an
 * in-process RelayServer), inside one loopback-only namespace (scenario:
 * test/interop/scenarios/relay-iroh.ts, ~5 s): iroh's own relay client validates our server. The
 * iroh nodes know each other only by id + relay URL.
 */
interface Metrics {
  accepts: number;
  framesForwarded: number;
  datagramsForwarded: number;
  authChallenge: number;
  drops: Record<string, number>;
}
interface RelayIrohResult {
  url: string;
  echo: {
    ready: { id: string; relay?: string };
    dial: { ok: boolean; equal?: boolean; echoBytes?: number; datagramEcho?: string; remoteId: string | null; localId?: string; error?: string } | null;
    dialExit: number | null;
    dialStderr: string;
    serverEvents: Array<{ event: string; from?: string; remoteId?: string; reason?: string }>;
  };
  cli: { code: number | null; metrics: string; stderr: string };
  bridge: { xId: string; dial: { localId?: string } | null; received: Array<{ src: string; len: number; first: number }>; count: number };
  metrics: Metrics;
}

describe('relay: real iroh nodes through our RelayServer (loopback-only namespace)', function () {
  this.timeout(90_000);
  let result: RelayIrohResult;
  const payload = randomBytes(200_000);

  before(async function () {
    await requireIsolation(this);
    ({ result } = await runScenario<RelayIrohResult>(new URL('../interop/scenarios/relay-iroh.js', import.meta.url), {
      input: payload,
      timeoutMs: 80_000,
    }));
  });

  it('an iroh node makes our relay its home relay (ep.online()) and advertises it', () => {
    assert.equal(result.echo.ready.relay, `${result.url}/`);
  });

  it('a second iroh node, given only the id and the relay URL, connects through it: stream echo and datagram', () => {
    const dial = result.echo.dial;
    assert.ok(dial, `no dial result; stderr: ${result.echo.dialStderr}`);
    assert.equal(dial.ok, true, dial.error);
    assert.equal(dial.remoteId, result.echo.ready.id);
    assert.equal(dial.equal, true);
    assert.equal(dial.echoBytes, payload.length);
    assert.equal(dial.datagramEcho, 'relayed datagram');
    // The echo node accepted the connection from the relay path (iroh reports the relay URL).
    const accepted = result.echo.serverEvents.find((e) => e.event === 'accepted');
    assert.equal(accepted?.from, `${result.url}/`);
    assert.equal(accepted?.remoteId, dial.localId);
    assert.match(result.echo.serverEvents.find((e) => e.event === 'closed')?.reason ?? '', /code 7/);
  });

  it('the relay (`quic-peer relay`) accepted both iroh clients, forwarded their packets, dropped nothing, and exited on SIGINT', () => {
    const line = result.cli.metrics;
    assert.match(line, /accepts=2 disconnects=2 /, result.cli.stderr);
    const forwarded = Number(/forwarded_frames=(\d+)/.exec(line)?.[1]);
    assert.ok(forwarded > 0, line);
    assert.deepEqual([...line.matchAll(/drop_\w+=(\d+)/g)].map((m) => Number(m[1])).filter((n) => n > 0), [], line);
    assert.equal(result.cli.code, 130);
  });

  it('our in-process RelayServer authenticated the iroh client by the challenge', () => {
    assert.equal(result.metrics.authChallenge, 2);
    assert.ok(result.metrics.accepts >= 2);
  });

  it('our RelayClient holding id X receives the QUIC Initials an iroh node sends to X via the relay', () => {
    const b = result.bridge;
    assert.ok(b.count >= 1, 'no datagram reached our client');
    const first = b.received[0]!;
    assert.equal(first.src, b.dial?.localId);
    assert.ok(first.len >= 1200, `an Initial is padded to 1200 bytes, got ${first.len}`);
    assert.equal(first.first & 0xc0, 0xc0, 'a long-header packet');
  });
});
