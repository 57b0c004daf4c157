import assert from 'node:assert/strict';
import { DEFAULT_QAD_PORT, QAD_ALPN, RelayQad, type QadHost } from '../../../src/session/relay-qad.js';
import type { CloseInfo, SessionState } from '../../../src/session/session-state.js';
import type { DialOptions } from '../../../src/session/session-host.js';

/** A dial the test settles by hand. */
interface FakeDial {
  remote: string;
  options: DialOptions;
  state: SessionState;
  close(info: CloseInfo): void;
}

/** A QadHost whose dials succeed or fail as `outcomes` says, in order ('fail' rejects). */
function fakeHost(outcomes: Array<'ok' | 'fail' | 'handshake-fails'>): { host: QadHost & { isClosing: boolean }; dials: FakeDial[] } {
  const dials: FakeDial[] = [];
  const host = {
    isClosing: false,
    dial(remote: string, options: DialOptions): Promise<SessionState> {
      const outcome = outcomes.shift() ?? 'fail';
      if (outcome === 'fail') return Promise.reject(new Error(`cannot dial ${remote}`));
      let close!: (info: CloseInfo) => void;
      const closed = new Promise<CloseInfo>((r) => (close = r));
      const ready = outcome === 'ok' ? Promise.resolve() : Promise.reject(new Error('certificate not trusted'));
      ready.catch(() => {});
      const state = { ready, closed } as unknown as SessionState;
      dials.push({ remote, options, state, close });
      return Promise.resolve(state);
    },
  };
  return { host, dials };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !f(); i++) await tick(5);
  assert.ok(f(), what);
}

describe('RelayQad: the QAD connection to the home relay (relay-qad.ts)', () => {
  it('dials the relay host on port 7842 with ALPN /iroh-qad/0 and the host as server name; the report, the close and the dial again', async () => {
    const { host, dials } = fakeHost(['fail', 'ok', 'ok']);
    const q = new RelayQad(host, 'http://127.0.0.1:3340/', true, undefined, 20);
    q.start();
    await until(() => q.status.connection === 'failed', 'the first dial failed');
    assert.deepEqual(q.status, { relay: 'http://127.0.0.1:3340/', server: `127.0.0.1:${DEFAULT_QAD_PORT}`, connection: 'failed', observed: null, error: `cannot dial 127.0.0.1:${DEFAULT_QAD_PORT}` });
    // Dialled again redialMs later.
    await until(() => q.status.connection === 'connected', 'the second dial connected');
    const d = dials[0]!;
    assert.equal(d.remote, '127.0.0.1:7842');
    assert.deepEqual(d.options, { alpn: QAD_ALPN, timeoutMs: 3_000, x509: { serverName: '127.0.0.1', tls: {} } });
    assert.equal(q.owns(d.state), true);
    q.onObserved('203.0.113.7:4500');
    assert.equal(q.status.observed, '203.0.113.7:4500');
    // The relay (or an idle timeout) ends it: dialled again; what was observed stays known.
    d.close({ closeCode: 1, reason: 'finished' });
    await until(() => q.status.connection === 'failed', 'closed');
    assert.equal(q.status.error, 'closed: finished');
    assert.equal(q.owns(d.state), false);
    await until(() => dials.length === 2 && q.status.connection === 'connected', 'dialled again');
    assert.equal(q.status.observed, '203.0.113.7:4500');
    q.stop();
    host.isClosing = true;
    dials[1]!.close({ closeCode: 0, reason: 'endpoint closing' });
    await tick(60);
    assert.equal(q.status.connection, 'closed');
    assert.equal(dials.length, 2, 'no dial after the endpoint closed');
  });

  it('a handshake that fails (an untrusted certificate) is a failure with its reason; nothing is dialled once the endpoint closes', async () => {
    const { host, dials } = fakeHost(['handshake-fails', 'ok']);
    const q = new RelayQad(host, 'https://127.0.0.2:443', { port: 9000 }, undefined, 20);
    q.start();
    await until(() => q.status.connection === 'failed', 'failed');
    assert.equal(q.status.error, 'certificate not trusted');
    assert.equal(q.status.server, '127.0.0.2:9000');
    host.isClosing = true;
    q.stop();
    await tick(60);
    assert.equal(dials.length, 1);
    assert.equal(q.status.connection, 'closed');
  });

  it('an IPv6 relay: the server address in brackets, the name without; relayCa joins Node\'s roots; an explicit tls wins', () => {
    const { host } = fakeHost([]);
    const q = new RelayQad(host, 'https://[::1]:8443/', true, 'PEM', 20);
    assert.equal(q.status.server, `[::1]:${DEFAULT_QAD_PORT}`);
    const tls = (q as unknown as { tls: { ca: string[] } }).tls;
    assert.equal(tls.ca[tls.ca.length - 1], 'PEM');
    assert.ok(tls.ca.length > 1);
    const explicit = new RelayQad(host, 'https://[::1]:8443/', { tls: { insecureSkipVerify: true } }, 'PEM', 20);
    assert.deepEqual((explicit as unknown as { tls: unknown }).tls, { insecureSkipVerify: true });
  });
});
