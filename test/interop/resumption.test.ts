import assert from 'node:assert/strict';
import { runScenario } from './iroh.js';
import { requireIsolation } from './netns.js';

/**
 * [resumption] step 3: TLS resumption with a real iroh 1.0.2 endpoint, both directions, and 0-RTT
 * from quic-peer to iroh
 * (scenarios/resumption.ts, inside a loopback-only namespace). iroh's rustls is the reviewer: a
 * wrong binder, ticket or key schedule fails its handshake.
 */
interface Conn {
  resumed: boolean;
  remoteId: string;
  irohSawUs: string;
}
interface Result {
  ids: { ours: string; iroh: string };
  dial: Array<Conn & { echo: string }>;
  accept: Array<Conn & { echoLen: number }>;
  early: Array<Conn & { echo: string; accepted: boolean; openedBeforeReady: boolean }>;
  fatal?: { message: string };
  fatalStack?: string;
}

describe('interop: resumption with real iroh', function () {
  this.timeout(60_000);
  let result: Result;

  before(async function () {
    await requireIsolation(this);
    const r = await runScenario<Result>(new URL('./scenarios/resumption.js', import.meta.url), { timeoutMs: 45_000 });
    result = r.result;
    if (result.fatal) throw new Error(`scenario failed: ${result.fatal.message}\n${result.fatalStack ?? ''}`);
  });

  it('quic-peer dials iroh: the first session is full, the next ones resume (PSK accepted by iroh)', () => {
    assert.deepEqual(result.dial.map((c) => c.resumed), [false, true, true]);
    for (const [i, c] of result.dial.entries()) {
      assert.equal(c.remoteId, result.ids.iroh, 'a resumed session still knows the id');
      assert.equal(c.irohSawUs, result.ids.ours);
      assert.equal(c.echo, `hello ${i}`);
    }
  });

  it('quic-peer dials iroh with 0-RTT: the request rides the first flight, iroh accepts the early data and answers', () => {
    assert.deepEqual(result.early.map((c) => [c.openedBeforeReady, c.resumed, c.accepted]), [[true, true, true], [true, true, true]]);
    for (const [i, c] of result.early.entries()) {
      assert.equal(c.remoteId, result.ids.iroh);
      assert.equal(c.irohSawUs, result.ids.ours);
      assert.equal(c.echo, `early ${i}`);
    }
  });

  it('iroh dials quic-peer: our tickets are offered back and accepted', () => {
    assert.deepEqual(result.accept.map((c) => c.resumed), [false, true, true]);
    for (const c of result.accept) {
      assert.equal(c.remoteId, result.ids.iroh, 'the client id comes from the ticket');
      assert.equal(c.irohSawUs, result.ids.ours, 'iroh knows our id on a resumed session');
      assert.equal(c.echoLen, 4);
    }
  });
});
