import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';
import { RemoteCids } from '../../../src/quic/connection/cids.js';
import { Trace } from '../../../src/quic/connection/qlog.js';
import { PathSet } from '../../../src/quic/connection/paths.js';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { LossDetector } from '../../../src/quic/recovery/loss.js';
import { resolveTransportConfig } from '../../../src/quic/transport-config.js';
import { SeededRandom } from '../../../src/tls/random.js';

/** A server's path set toward `address`, validated or not. */
function pathSet(address: string, validated: boolean): PathSet {
  const config = resolveTransportConfig();
  return new PathSet(address, validated, {
    role: 'server',
    config,
    random: new SeededRandom(1),
    remoteCids: new RemoteCids(new Uint8Array(8).fill(1), config.activeConnectionIdLimit),
    loss: new LossDetector({ isServer: true }),
    handshake: { isConfirmed: true, peerParams: undefined },
    trace: new Trace(),
  });
}

describe('connection: the path set (RFC 9000 §8.2, §9)', () => {
  it('a validation that fails with no validated path left reports it (§9.3.2): the connection has no viable path', () => {
    const ps = pathSet('192.0.2.9:1000', false);
    ps.validateCurrent(0, 100);
    const deadline = ps.current.deadline;
    assert.ok(Number.isFinite(deadline) && ps.current.challengePending);
    // RFC 9000 §8.2.4: three times the larger PTO, kInitialRtt's here: 3 x (3 x 333 + 25).
    assert.equal(deadline, 3 * (3 * 333 + 25));
    assert.equal(ps.onTimeout(deadline - 1), undefined);
    assert.match(ps.onTimeout(deadline) ?? '', /path validation of 192\.0\.2\.9:1000 failed and no validated path remains/);
    assert.equal(ps.stats.pathValidationFailures, 1);
  });

  it('a reachability check of a validated path that goes unanswered leaves the path in use', () => {
    const ps = pathSet('192.0.2.9:1000', true);
    ps.validateCurrent(0, 100);
    assert.equal(ps.onTimeout(ps.current.deadline), undefined);
    assert.ok(ps.current.validated);
    assert.equal(ps.stats.pathValidationFailures, 0);
  });

  it('a connection with no viable path ends silently with NO_VIABLE_PATH (0x10), not as idle', () => {
    const p = new Pair({ seed: testSeed(84), link: { delayMs: 5 } });
    p.handshake();
    const s = p.server!;
    const { paths } = s.internals;
    // Force the path set's verdict (a real one needs an unvalidated current path and no fallback).
    Object.defineProperty(paths, 'timeout', { get: () => p.now });
    paths.onTimeout = () => 'no validated path remains';
    s.handleTimeout(p.now);
    assert.deepEqual(s.closeInfo, { kind: 'transport', code: TransportErrorCode.NO_VIABLE_PATH, reason: 'no validated path remains', remote: false });
    assert.equal(s.state, 'terminated', 'silently: no closing period');
    assert.equal(s.pollTransmit(p.now, new Uint8Array(1500)), 0, 'nothing is sent');
  });
});
