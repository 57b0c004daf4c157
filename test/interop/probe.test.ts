import assert from 'node:assert/strict';
import { runScenario } from './iroh.js';
import { requireIsolation } from './netns.js';

/**
 * The early proof against real iroh (DEVELOPERS.md: "prove against real peers early"): quic-peer's
 * sans-IO Connection over a minimal UDP driver, both directions, inside a loopback-only namespace.
 * The full interop suite (issue #5) replaces the minimal driver by the Endpoint and Session.
 */
interface DialResult {
  ok: boolean;
  echoedBytes: number;
  alpn: string;
  serverId: string;
  peerKey: string;
  stats: { mtu: number };
  clientEvents: string[];
  irohEvents: Array<{ event: string; reason?: string; alpn?: string }>;
}

interface AcceptResult {
  dial: { ok: boolean; equal: boolean; echoBytes: number; localId: string; closeCode: number } | null;
  dialStderr: string;
  serverAlpn: string;
  peerKey: string;
  closeInfo: { kind: string; code: number; reason: string; remote: boolean } | null;
  stats: { mtu: number } | null;
}

describe('interop probe: quic-peer Connection <-> real iroh 1.0 (minimal UDP driver)', function () {
  this.timeout(60_000);
  before(async function () {
    await requireIsolation(this);
  });

  it('quic-peer dials iroh: RPK handshake, 256 KiB bidi echo, application close seen by iroh', async () => {
    const { result } = await runScenario<DialResult>(new URL('./scenarios/quic-peer-dials-iroh.js', import.meta.url), {
      args: ['quic-peer/interop-echo', String(256 * 1024)],
      timeoutMs: 45_000,
    });
    assert.equal(result.ok, true, 'echo byte for byte');
    assert.equal(result.echoedBytes, 256 * 1024);
    assert.equal(result.alpn, 'quic-peer/interop-echo');
    assert.equal(result.peerKey, result.serverId, 'the server proved the id we dialled');
    assert.ok(result.stats.mtu > 1200, `path MTU discovery ran (mtu ${result.stats.mtu})`);
    const closed = result.irohEvents.find((e) => e.event === 'closed');
    assert.match(closed?.reason ?? '', /done \(code 7\)/);
  });

  it('iroh dials quic-peer: handshake, 100 kB bidi echo, iroh\'s close code and reason reach us', async () => {
    const { result } = await runScenario<AcceptResult>(new URL('./scenarios/iroh-dials-quic-peer.js', import.meta.url), {
      args: ['quic-peer/interop-echo', '100000'],
      timeoutMs: 45_000,
    });
    assert.ok(result.dial, `iroh printed no result: ${result.dialStderr}`);
    assert.equal(result.dial.ok, true, result.dialStderr);
    assert.equal(result.dial.equal, true);
    assert.equal(result.dial.echoBytes, 100000);
    assert.equal(result.peerKey, result.dial.localId, 'we learnt the dialler\'s id from its certificate');
    assert.equal(result.serverAlpn, 'quic-peer/interop-echo');
    assert.deepEqual(result.closeInfo, { kind: 'application', code: 42, reason: 'bye', remote: true });
  });
});
