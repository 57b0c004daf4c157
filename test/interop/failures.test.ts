import assert from 'node:assert/strict';
import { runScenario } from './iroh.js';
import { requireIsolation } from './netns.js';

/**
 * Issue #5: how sessions with a real iroh endpoint fail (scenarios/failures.ts, one run, ~8 s):
 * the idle timeout when iroh vanishes, and the rejection paths in both directions.
 */
type Attempt<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string; kind?: string } };
interface IdleResult {
  echoed: string;
  aliveAfterIdlePeriod: boolean;
  closeMs: number;
  closed: { closeCode: number; reason: string };
  kind: string;
}
interface FailuresResult {
  fatal?: { message: string };
  fatalStack?: string;
  idle: { dial: IdleResult; accept: IdleResult };
  reject: {
    wrongId: Attempt<unknown>;
    wrongIdIroh: Attempt<unknown>;
    wrongAlpn: Attempt<unknown>;
    wrongAlpnIroh: Attempt<unknown>;
    irohWrongAlpn: Attempt<unknown>;
    irohWrongId: Attempt<unknown>;
    acceptAfterRefusals: { irohConnect: boolean; firstSession: { remoteId: string; alpn: string }; irohId: string };
    dialAfterRefusals: Attempt<string>;
  };
}

const errorOf = (a: Attempt<unknown>): { name: string; message: string; kind?: string } => {
  assert.equal(a.ok, false, 'expected a failure');
  return (a as { ok: false; error: { name: string; message: string; kind?: string } }).error;
};

describe('interop: failures against real iroh (idle timeout, rejections)', function () {
  this.timeout(60_000);
  let result: FailuresResult | Error;

  before(async function () {
    await requireIsolation(this);
    try {
      result = (await runScenario<FailuresResult>(new URL('./scenarios/failures.js', import.meta.url), { timeoutMs: 45_000 })).result;
    } catch (e) {
      result = e as Error;
    }
  });

  const get = (): FailuresResult => {
    if (result instanceof Error) throw result;
    if (result.fatal) throw new Error(`scenario failed: ${result.fatal.message}\n${result.fatalStack ?? ''}`);
    return result;
  };

  for (const direction of ['dial', 'accept'] as const) {
    it(`idle timeout (${direction === 'dial' ? 'we dialled' : 'iroh dialled'}): iroh's process killed, our session closes within our 3 s idle timeout (+ one keep-alive)`, () => {
      const r = get().idle[direction];
      assert.equal(r.echoed, 'ping');
      assert.equal(r.aliveAfterIdlePeriod, true, 'keep-alives held the live session past the idle timeout');
      assert.equal(r.kind, 'idle');
      assert.deepEqual(r.closed, { closeCode: 0, reason: 'idle timeout: the peer stopped answering' });
      // RFC 9000 §10.1: min(ours 3 s, iroh's 30 s), restarted by our first keep-alive (1 s) after
      // the last packet from iroh; never more (a keep-alive must not keep a dead peer "alive").
      assert.ok(r.closeMs >= 2000 && r.closeMs <= 4500, `closed ${r.closeMs} ms after the kill`);
    });
  }

  it('dialling with the wrong expected id fails with an authentication error (iroh sees bad_certificate)', () => {
    const r = get().reject;
    const e = errorOf(r.wrongId);
    assert.equal(e.name, 'ConnectError');
    assert.equal(e.kind, 'authentication');
    assert.match(errorOf(r.wrongIdIroh).message, /error 42: bad_certificate/);
  });

  it('dialling with an ALPN iroh does not serve fails with kind alpn (iroh: crypto(78) = 0x178)', () => {
    const r = get().reject;
    const e = errorOf(r.wrongAlpn);
    assert.equal(e.name, 'ConnectError');
    assert.equal(e.kind, 'alpn');
    assert.match(errorOf(r.wrongAlpnIroh).message, /crypto\(78\).*NoApplicationProtocol/);
  });

  it('iroh dialling us with an ALPN we do not serve gets no_application_protocol (0x178)', () => {
    const r = get().reject;
    // iroh reports our CONNECTION_CLOSE 0x178 as "aborted by peer: ... error 120: no_application_protocol".
    assert.match(errorOf(r.irohWrongAlpn).message, /aborted by peer.*error 120: no_application_protocol/);
  });

  it('iroh dialling us expecting another id fails on its side; refused handshakes never become sessions', () => {
    const r = get().reject;
    assert.match(errorOf(r.irohWrongId).message, /invalid peer certificate/);
    assert.equal(r.acceptAfterRefusals.irohConnect, true);
    assert.deepEqual(r.acceptAfterRefusals.firstSession, { remoteId: r.acceptAfterRefusals.irohId, alpn: 'quic-peer/interop' });
    assert.deepEqual(r.dialAfterRefusals, { ok: true, value: r.acceptAfterRefusals.irohId });
  });
});
