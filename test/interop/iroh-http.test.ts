import assert from 'node:assert/strict';
import { runScenario } from './iroh.js';
import { requireIsolation } from './netns.js';

/**
 * Issue #5: iroh-http compatibility (scenarios/iroh-http.ts) and the CLI against iroh
 * (scenarios/cli.ts, the compiled build/src/cli/main.js run as child processes in the namespace).
 */
interface Exchange {
  ourAlpn: string;
  irohAlpn: string;
  irohStream: { requestEqual: boolean; reply: string };
  irohDatagram: boolean;
  ourStream: { size: number; equal: boolean };
  ourUni: string | null;
  ourDatagram: boolean;
  irohClosed: string;
}
interface IrohHttpResult {
  fatal?: { message: string };
  fatalStack?: string;
  defaultAlpn: string;
  dial: Exchange;
  accept: Exchange;
  httpAlpn: { ok: boolean; error?: { message: string } };
}
interface CliResult {
  fatal?: { message: string };
  fatalStack?: string;
  connect: { code: number | null; stderr: string; outLen: number; equal: boolean; irohAccepted: { alpn: string } | null; irohClosed: { reason: string } | null };
  listen: {
    listenerId: string;
    dial: { ok: boolean; remoteId: string; alpn: string; equal: boolean; echoBytes: number; datagramEcho: string; uniEcho: string; closeCode: number } | null;
    dialStderr: string;
    listenExit: number | null;
    listenStderr: string;
  };
}

async function run<T extends { fatal?: { message: string }; fatalStack?: string }>(script: string): Promise<T> {
  const { result } = await runScenario<T>(new URL(`./scenarios/${script}`, import.meta.url), { timeoutMs: 45_000 });
  if (result.fatal) throw new Error(`scenario failed: ${result.fatal.message}\n${result.fatalStack ?? ''}`);
  return result;
}

describe('interop: iroh-http sessions and the CLI against real iroh', function () {
  this.timeout(60_000);
  let http: Promise<IrohHttpResult>;
  let cli: Promise<CliResult>;

  before(async function () {
    await requireIsolation(this);
    // Both scenarios at once, each in its own namespace.
    http = run<IrohHttpResult>('iroh-http.js');
    cli = run<CliResult>('cli.js');
    http.catch(() => {});
    cli.catch(() => {});
  });

  for (const direction of ['dial', 'accept'] as const) {
    it(`iroh-http session (${direction === 'dial' ? 'quic-peer dials' : 'iroh dials'}): default ALPN iroh-http/2-duplex, streams and datagrams both ways, close code`, async () => {
      const r = await http;
      assert.equal(r.defaultAlpn, 'iroh-http/2-duplex');
      const x = r[direction];
      assert.equal(x.ourAlpn, 'iroh-http/2-duplex');
      assert.equal(x.irohAlpn, 'iroh-http/2-duplex');
      assert.deepEqual(x.irohStream, { requestEqual: true, reply: 'got 10000 bytes' });
      assert.equal(x.irohDatagram, true);
      assert.deepEqual(x.ourStream, { ...x.ourStream, size: 100_000, equal: true });
      assert.equal(x.ourUni, 'uni over iroh-http');
      assert.equal(x.ourDatagram, true);
      assert.equal(x.irohClosed, 'closed by peer: session done (code 7)');
    });
  }

  it("a default quic-peer endpoint refuses iroh-http's HTTP ALPN (iroh-http/2): it serves sessions only", async () => {
    const r = await http;
    assert.equal(r.httpAlpn.ok, false);
    assert.match(r.httpAlpn.error?.message ?? '', /error 120: no_application_protocol/);
  });

  it('`quic-peer connect <ticket>` pipes stdin to an iroh echo node and its echo to stdout', async () => {
    const c = (await cli).connect;
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.outLen, 200_000);
    assert.equal(c.equal, true);
    assert.equal(c.irohAccepted?.alpn, 'iroh-http/2-duplex');
    assert.equal(c.irohClosed?.reason, 'closed by peer: done (code 0)');
  });

  it('an iroh node against `quic-peer listen --echo`: bidi echo, datagram, uni stream; SIGTERM exits 143', async () => {
    const l = (await cli).listen;
    assert.ok(l.dial, `no dial result: ${l.dialStderr}`);
    assert.equal(l.dial.ok, true, l.dialStderr);
    assert.equal(l.dial.remoteId, l.listenerId);
    assert.equal(l.dial.alpn, 'iroh-http/2-duplex');
    assert.equal(l.dial.echoBytes, 200_000);
    assert.equal(l.dial.equal, true);
    assert.equal(l.dial.datagramEcho, 'dg to quic-peer');
    assert.equal(l.dial.uniEcho, 'uni to quic-peer');
    assert.equal(l.listenExit, 143, l.listenStderr);
  });
});
