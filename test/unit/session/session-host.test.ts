import assert from 'node:assert/strict';
import { Session } from '../../../src/session/session.js';
import { SessionState } from '../../../src/session/session-state.js';
import type { SessionHost } from '../../../src/session/session-host.js';
import { ConnectError, InvalidArgumentError } from '../../../src/session/errors.js';
import type { Connection } from '../../../src/quic/connection/connection.js';
import type { ConnectionHandle } from '../../../src/quic/endpoint/endpoint-core.js';
import { EndpointId } from '../../../src/tls/identity.js';

/**
 * A Session runs on any SessionHost, not only on an Endpoint: these tests drive `connect` and
 * `accept` against a host made of stubs, with no socket and no endpoint module loaded. (Why the
 * interface exists: session.ts and endpoint.ts must not import each other.)
 */

const PEER = EndpointId.fromSecretKey(new Uint8Array(32).fill(7));

/** The one part of a Connection these paths touch: `close`, recorded. */
function fakeConnection(): { conn: Connection; closes: Array<[number, number | bigint, string]> } {
  const closes: Array<[number, number | bigint, string]> = [];
  const stub = {
    close(now: number, code: number | bigint, reason: string): void {
      closes.push([now, code, reason]);
    },
  };
  return { conn: stub as unknown as Connection, closes };
}

interface StubHost extends SessionHost {
  /** How many times a transmit was asked for. */
  readonly scheduled: { count: number };
  readonly dialled: unknown[];
}

function stubHost(overrides: Partial<SessionHost> = {}): StubHost {
  const scheduled = { count: 0 };
  const dialled: unknown[] = [];
  const host: StubHost = {
    scheduled,
    dialled,
    dialTimeoutMs: 10_000,
    now: () => 42,
    schedule: () => void scheduled.count++,
    remoteAddress: () => '127.0.0.1:4433',
    dial: (remote) => {
      dialled.push(remote);
      throw new ConnectError('no-address', 'stub: no address');
    },
    acceptNext: () => Promise.resolve(null),
    ...overrides,
  };
  return host;
}

describe('Session over a SessionHost (no endpoint)', () => {
  it('accept resolves null when the host has no more sessions', async () => {
    assert.equal(await Session.accept(stubHost()), null);
  });

  it('accept passes the abort signal to the host and wraps the state it returns', async () => {
    const { conn } = fakeConnection();
    let seen: AbortSignal | undefined;
    const host = stubHost({
      acceptNext: (signal) => {
        seen = signal;
        return Promise.resolve(new SessionState(3 as ConnectionHandle, conn, 'peer@test', () => host.schedule()));
      },
    });
    const ac = new AbortController();
    const s = await Session.accept(host, { signal: ac.signal });
    assert.ok(s);
    assert.equal(seen, ac.signal);
    assert.equal(s.remoteAddress, '127.0.0.1:4433');
    assert.equal(s.state.handle, 3);
    // A command on the session asks its host for a transmit.
    s.state.flush();
    assert.equal(host.scheduled.count, 1);
  });

  it("connect reports the host's dial failure as is", async () => {
    const host = stubHost();
    await assert.rejects(Session.connect(host, PEER), (e: unknown) => e instanceof ConnectError && e.kind === 'no-address');
    assert.deepEqual(host.dialled, [PEER]);
  });

  it("connect hands the dial timeout to the host (the connection's handshake timeout), whatever its value", async () => {
    const seen: unknown[] = [];
    const host = stubHost({
      dialTimeoutMs: 2500,
      dial: (_remote, options) => {
        seen.push(options);
        throw new ConnectError('no-address', 'stub');
      },
    });
    await assert.rejects(Session.connect(host, PEER, { timeoutMs: 60_000.5, alpn: 'x/1' }), ConnectError);
    await assert.rejects(Session.connect(host, PEER), ConnectError);
    assert.deepEqual(seen, [{ alpn: 'x/1', timeoutMs: 60_001 }, { timeoutMs: 2500 }]);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100']) {
      await assert.rejects(Session.connect(host, PEER, { timeoutMs: bad as number }), InvalidArgumentError);
    }
    assert.equal(seen.length, 2, 'a bad timeout dials nothing');
  });

  it('connect resolves once the connection reports connected', async () => {
    const { conn } = fakeConnection();
    let state: SessionState | undefined;
    const host = stubHost({
      dial: () => Promise.resolve((state = new SessionState(9 as ConnectionHandle, conn, 'peer@test', () => {}))),
    });
    const connecting = Session.connect(host, PEER);
    assert.ok(state, 'connect dials at once');
    state.onEvent({ type: 'connected' });
    const s = await connecting;
    assert.equal(s.state, state);
  });
});
