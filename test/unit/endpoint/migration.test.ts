import assert from 'node:assert/strict';
import { bytesEqual } from '../../../src/codec/bytes.js';
import type { Connection } from '../../../src/quic/connection/connection.js';
import type { EndpointConfig } from '../../../src/quic/endpoint/endpoint-core.js';
import { QlogRecorder } from '../../../src/quic/connection/qlog.js';
import { StreamReceiver, StreamSender } from '../../harness/apps.js';
import { Identities, Net } from './net.js';
import { closeReason, incoming, payload } from './helpers.js';

/**
 * The peer's address changes, as the server sees them (RFC 9000 §8.2, §9; src/quic/connection/paths.ts):
 * endpoint cores on a simulated network with a NAT (`Net.rebind`), virtual time.
 */
const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';
/** The client's NAT rebound to a new port (same IP). */
const C_PORT = '10.0.0.2:5001';
/** The client's NAT rebound to a new IP. */
const C_IP = '10.0.0.9:5000';
/** An attacker's address. */
const X = '10.0.0.66:7000';

function setup(seed: number, server: Partial<EndpointConfig> = {}) {
  const ids = new Identities(seed);
  const net = new Net(seed);
  const sep = net.add(S, ids.server(server));
  const cep = net.add(C, ids.client());
  const { handle, connection: cc } = cep.connect(0, S, { tls: ids.clientTls() });
  net.drive(() => cc.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
  const inc = incoming(net, S)[0]!;
  const sc = inc.connection;
  const q = new QlogRecorder();
  sc.setQlog(q, net.now);
  // Let the NEW_CONNECTION_IDs settle (the server needs spare client CIDs to rotate, §9.5).
  net.runFor(200);
  return { ids, net, server: sep, client: cep, ch: handle, cc, sc, sh: inc.handle, q };
}

/** A server-to-client download of `n` bytes, pumped between steps. */
function download(net: Net, sc: Connection, cc: Connection, n: number, seed = 1) {
  const data = payload(n, seed);
  const tx = new StreamSender(sc, data, 'uni');
  const rx = new StreamReceiver(() => cc);
  net.onStep.push(() => {
    tx.pump();
    rx.pump();
  });
  return {
    data,
    received: () => rx.streams.get(tx.id)?.bytes ?? 0,
    done: () => rx.streams.get(tx.id)?.ended === true,
    bytes: () => rx.data(tx.id),
  };
}

/** Bytes the network carried from `from` to `to` that had arrived by `t` (links: 10 ms, no jitter). */
function arrivedBy(net: Net, from: string, to: string, t: number): number {
  let n = 0;
  for (const d of net.sent) if (d.from === from && d.to === to && d.at + 10 <= t) n += d.bytes.length;
  return n;
}

describe('migration: the server follows its client to a new address with path validation (RFC 9000 §9)', () => {
  it('port rebinding mid-transfer: byte-exact, PATH_CHALLENGE answered, path validated, congestion state kept, CID rotated', () => {
    const { net, server, cc, sc, sh, q } = setup(31);
    const t = download(net, sc, cc, 1_500_000);
    net.drive(() => t.received() > 300_000);
    const ccBefore = sc.internals.paths.recovery.cc;
    const seqBefore = sc.internals.remoteCids.currentSequence;
    const cidBefore = sc.internals.remoteCids.current.slice();
    assert.ok(sc.internals.remoteCids.activeCount > 1, 'the client gave spare CIDs');
    let validatedAt = Number.POSITIVE_INFINITY;
    let rttKept = true;
    net.onStep.push(() => {
      if (!sc.internals.paths.recovery.rtt.hasSample) rttKept = false;
      if (validatedAt === Number.POSITIVE_INFINITY && sc.getStats().pathValidations > 0) validatedAt = net.now;
    });
    // The interop runner's rebinding check: the first server datagram to each new destination
    // carries a PATH_CHALLENGE (the counter moves while that datagram is written).
    let lastTo = C;
    let challenges = sc.getStats().pathChallengesSent;
    const firstToNewCarriesChallenge: boolean[] = [];
    net.tap = (d) => {
      if (d.from === S) {
        const n = sc.getStats().pathChallengesSent;
        if (d.to !== lastTo) firstToNewCarriesChallenge.push(n > challenges);
        challenges = n;
        lastTo = d.to;
      }
      return [d.bytes];
    };
    net.rebind(C, C_PORT);
    net.drive(() => t.done());
    assert.ok(bytesEqual(t.bytes(), t.data));
    assert.ok(firstToNewCarriesChallenge.length >= 1 && firstToNewCarriesChallenge.every((x) => x), String(firstToNewCarriesChallenge));

    const st = sc.getStats();
    assert.equal(server.remoteAddress(sh), C_PORT);
    assert.equal(st.migrations, 1);
    assert.equal(st.migrationsReverted, 0);
    assert.equal(st.pathValidationFailures, 0);
    assert.ok(st.pathChallengesSent >= 1 && st.pathResponsesReceived >= 1 && st.pathValidations >= 1, JSON.stringify(st));
    assert.ok(sc.internals.paths.current.validated && sc.internals.paths.fallback === undefined);
    // §9.4, port-only: the controller and the RTT estimate are kept.
    assert.equal(sc.internals.paths.recovery.cc, ccBefore);
    assert.ok(rttKept);
    // §9.5: a fresh client CID toward the new address; the old one retired at the client.
    assert.notEqual(sc.internals.remoteCids.currentSequence, seqBefore);
    assert.ok(!cc.internals.localCids.isActive(cidBefore), 'old CID retired');
    assert.equal(cc.internals.localCids.activeCids().length, 5, 'and replaced');
    // §8.2.1, §9.3.1: before validation, never more than 3x what arrived from the new address.
    let sentToNew = 0;
    for (const d of net.sent) {
      if (d.from !== S || d.to !== C_PORT || d.at >= validatedAt) continue;
      sentToNew += d.bytes.length;
      assert.ok(sentToNew <= 3 * arrivedBy(net, C_PORT, S, d.at), `at ${d.at}: ${sentToNew} bytes sent for ${arrivedBy(net, C_PORT, S, d.at)} received`);
    }
    assert.ok(sentToNew > 0);
    // The first challenge was limited by the budget, so a full-size one followed (§8.2.1).
    assert.ok(net.sent.some((d) => d.from === S && d.to === C_PORT && d.bytes.length === 1200));
    // §9.3.3: the old path was probed too.
    assert.ok(net.sent.some((d) => d.from === S && d.to === C && d.at >= validatedAt - 100 && d.bytes.length >= 150));
    // qlog: the interop runner's "validated the new path with PATH_CHALLENGE".
    const states = q.named('connectivity:migration_state_updated').map((e) => e.data.new);
    assert.ok(states.includes('migration_started') && states.includes('migration_complete'), states.join());
    assert.ok(q.named('transport:packet_sent').some((e) => e.data.frames?.some((f) => f.frame_type === 'path_challenge')));
    assert.ok(q.named('transport:packet_received').some((e) => e.data.frames?.some((f) => f.frame_type === 'path_response')));
    assert.equal(q.named('connectivity:connection_id_updated')[0]?.data.owner, 'remote');
    assert.equal(server.stats.internalErrors, 0);
  });

  it('address rebinding: a new IP resets congestion control and the RTT estimate (§9.4)', () => {
    const { net, server, cc, sc, sh } = setup(32);
    const t = download(net, sc, cc, 800_000);
    net.drive(() => t.received() > 300_000);
    const ccBefore = sc.internals.paths.recovery.cc;
    assert.ok(ccBefore.window > ccBefore.initialWindow, 'the window grew before');
    let atMigration: { window: number; initial: number; hasSample: boolean; smoothed: number } | undefined;
    net.onStep.push(() => {
      if (!atMigration && sc.getStats().migrations === 1) {
        atMigration = { window: sc.internals.paths.recovery.cc.window, initial: sc.internals.paths.recovery.cc.initialWindow, hasSample: sc.internals.paths.recovery.rtt.hasSample, smoothed: sc.internals.paths.recovery.rtt.smoothed };
      }
    });
    net.rebind(C, C_IP);
    net.drive(() => t.done());
    assert.ok(bytesEqual(t.bytes(), t.data));
    assert.equal(server.remoteAddress(sh), C_IP);
    assert.ok(atMigration);
    assert.equal(atMigration.window, atMigration.initial);
    assert.equal(atMigration.hasSample, false);
    assert.equal(atMigration.smoothed, 333);
    assert.notEqual(sc.internals.paths.recovery.cc, ccBefore);
    assert.ok(sc.internals.paths.recovery.rtt.hasSample);
    assert.equal(sc.getStats().pathValidationFailures, 0);
    assert.ok(sc.internals.paths.current.validated);
  });

  it('a forwarded copy from another address that arrives first does not steal the path: the genuine peer brings it back', () => {
    const { net, server, cc, sc, sh } = setup(33);
    const t = download(net, sc, cc, 800_000);
    net.drive(() => t.received() > 300_000);
    const ccBefore = sc.internals.paths.recovery.cc;
    let copied = 0;
    net.link(X, S).set({ delayMs: 1 }); // the attacker's path is faster (§9.3.3)
    net.tap = (d) => {
      if (d.from === C && copied === 0) {
        copied = d.bytes.length;
        net.inject(X, S, d.bytes.slice());
      }
      return [d.bytes];
    };
    net.drive(() => sc.getStats().migrations === 1);
    assert.equal(server.remoteAddress(sh), X);
    net.drive(() => t.done());
    assert.ok(bytesEqual(t.bytes(), t.data));
    const st = sc.getStats();
    assert.equal(server.remoteAddress(sh), C);
    assert.equal(st.migrationsReverted, 1, 'back on the old path');
    assert.equal(sc.internals.paths.recovery.cc, ccBefore, 'its congestion state restored (§9.3.2)');
    const toX = net.sent.filter((d) => d.from === S && d.to === X).reduce((n, d) => n + d.bytes.length, 0);
    assert.ok(toX > 0 && toX <= 3 * copied, `${toX} bytes sent to the attacker for ${copied} received`);
    assert.ok(!sc.isClosed);
  });

  it('validation timeout: an unanswered challenge reverts to the last validated address, within the 3x limit, and the connection survives', () => {
    const { net, server, cc, sc, sh } = setup(34);
    const t = download(net, sc, cc, 600_000);
    net.drive(() => t.received() > 200_000);
    let copied = 0;
    let t0 = 0;
    net.tap = (d) => {
      // An ACK-sized datagram replayed from X; then the genuine client is silenced for 5 s, so
      // nothing but the timer can bring the server back.
      if (d.from === C && copied === 0 && d.bytes.length < 100) {
        copied = d.bytes.length;
        t0 = net.now;
        net.link(C, S).set({ blackhole: (now) => now >= t0 && now < t0 + 5000 });
        net.inject(X, S, d.bytes.slice());
        return null;
      }
      return [d.bytes];
    };
    net.drive(() => sc.getStats().migrations === 1);
    const movedAt = net.now;
    const timeout = sc.internals.paths.validationTimeout(sc.currentPto());
    assert.ok(timeout >= 6 * 333, `validation timeout ${timeout} ms`);
    net.drive(() => server.remoteAddress(sh) === C, 10_000);
    const st = sc.getStats();
    assert.equal(st.pathValidationFailures, 1);
    assert.equal(st.migrationsReverted, 1);
    assert.ok(net.now >= movedAt + timeout - 1 && net.now < t0 + 5000, `reverted at ${net.now - movedAt} ms after the move`);
    // Anti-amplification toward the unvalidated address: a 150-byte budget for a small copy.
    const toX = net.sent.filter((d) => d.from === S && d.to === X).reduce((n, d) => n + d.bytes.length, 0);
    assert.ok(toX > 0 && toX <= 3 * copied, `${toX} bytes sent to X for ${copied} received`);
    net.drive(() => t.done(), 60_000);
    assert.ok(bytesEqual(t.bytes(), t.data));
    assert.ok(!sc.isClosed);
  });

  it('a probing packet from a new address is answered there, without migrating (§9.1, §9.3)', () => {
    const { net, server, cc, sc, sh } = setup(35);
    net.runFor(1000);
    net.tap = (d) => {
      if (d.from === C) {
        net.inject(X, S, d.bytes.slice());
        return null;
      }
      if (d.to === X) {
        net.inject(S, C, d.bytes.slice());
        return null;
      }
      return [d.bytes];
    };
    cc.validatePath(net.now); // a PATH_CHALLENGE in a padded, probing-only datagram
    net.flush();
    net.tap = (d) => {
      if (d.to === X) {
        net.inject(S, C, d.bytes.slice());
        return null;
      }
      return [d.bytes];
    };
    net.drive(() => cc.getStats().pathValidations === 1);
    const st = sc.getStats();
    assert.equal(st.migrations, 0);
    assert.equal(st.pathChallengesReceived, 1);
    assert.equal(st.pathResponsesSent, 1);
    assert.equal(server.remoteAddress(sh), C);
    const toX = net.sent.filter((d) => d.from === S && d.to === X);
    assert.deepEqual(toX.map((d) => d.bytes.length), [1200], 'one response, expanded to 1200 bytes (§8.2.2)');
    assert.equal(cc.getStats().pathChallengesSent, 1);
  });

  it('reordering across a rebind: an older packet from the old address does not move the path back (§9.3)', () => {
    const { net, server, cc, sc, sh } = setup(36);
    const data = payload(600_000, 3);
    const tx = new StreamSender(cc, data, 'uni');
    const rx = new StreamReceiver(() => sc);
    net.onStep.push(() => {
      tx.pump();
      rx.pump();
    });
    net.drive(() => (rx.streams.get(tx.id)?.bytes ?? 0) > 200_000);
    let held: Uint8Array | undefined;
    let deliveredBefore = -1;
    const link = net.link(C, S);
    net.tap = (d) => {
      if (d.from === C && !held && d.bytes.length > 1000) {
        held = d.bytes.slice();
        net.rebind(C, C_PORT);
        return null;
      }
      if (d.from === C_PORT && held && deliveredBefore < 0) {
        // The held packet arrives 2 ms after the first packet from the new port.
        link.set({ delayMs: 12 });
        net.inject(C, S, held);
        deliveredBefore = link.stats.sent - 1; // delivered in order: all up to the held one

      }
      return [d.bytes];
    };
    const dropped = sc.getStats().packetsDropped;
    net.drive(() => deliveredBefore >= 0 && link.stats.delivered > deliveredBefore);
    net.tap = undefined;
    // It came while the new path was being validated (the old one is the fallback), and it was
    // processed, not dropped, yet the path stays.
    assert.ok(sc.internals.paths.fallback?.address === C && !sc.internals.paths.current.validated);
    assert.equal(sc.getStats().packetsDropped, dropped, 'the late packet opened');
    assert.equal(sc.getStats().migrations, 1);
    assert.equal(server.remoteAddress(sh), C_PORT);
    net.drive(() => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    assert.equal(server.remoteAddress(sh), C_PORT);
    assert.equal(sc.getStats().migrationsReverted, 0);
    assert.equal(sc.getStats().migrations, 1);
  });

  it('disable_active_migration without multipath: the server drops packets from the new address, without a Stateless Reset (§9)', () => {
    // RFC 9000 alone; with n0 NAT traversal (the default) the server hears other addresses: below.
    const { net, server, cc, sc, sh } = setup(37, { transport: { disableActiveMigration: true, maxIdleTimeoutMs: 3000, multipath: false } });
    assert.equal(cc.peerTransportParameters?.disableActiveMigration, true);
    net.rebind(C, C_PORT);
    net.unreachable.add(C); // the old mapping is gone
    cc.ping();
    net.drive(() => sc.isClosed, 20_000);
    assert.equal(closeReason(net, S, sh)?.kind, 'idle');
    const st = sc.getStats();
    assert.ok(st.datagramsFromUnknownAddress > 0);
    assert.equal(st.migrations, 0);
    assert.equal(st.pathChallengesSent, 0);
    assert.equal(server.stats.statelessResetsSent, 0);
  });

  it('disable_active_migration with multipath and n0 NAT traversal (the default): the new address is heard (probes come from there) but path 0 never moves to it', () => {
    const { net, server, cc, sc, sh } = setup(39, { transport: { disableActiveMigration: true, maxIdleTimeoutMs: 3000 } });
    assert.equal(cc.peerTransportParameters?.disableActiveMigration, true);
    assert.notEqual(sc.internals.handshake.multipath?.natTraversal ?? null, null, 'NAT traversal negotiated');
    net.rebind(C, C_PORT);
    net.unreachable.add(C);
    cc.ping();
    net.drive(() => sc.isClosed, 20_000);
    assert.equal(closeReason(net, S, sh)?.kind, 'idle');
    const st = sc.getStats();
    assert.equal(st.datagramsFromUnknownAddress, 0);
    assert.equal(st.migrations, 0);
    assert.equal(sc.remoteAddress, C);
    assert.equal(server.stats.statelessResetsSent, 0);
  });

  it('a client without multipath discards datagrams from any address but its server’s (§9; §9.6 preferred address is not supported)', () => {
    // With n0 NAT traversal (the default) a client hears its server's probes from other addresses:
    // the next test.
    const { net, client, ch, cc } = setup(38, { transport: { multipath: false } });
    const S2 = '10.0.0.1:444';
    let copied = false;
    net.tap = (d) => {
      if (d.from === S && !copied) {
        copied = true;
        net.inject(S2, C, d.bytes.slice());
        return null;
      }
      return [d.bytes];
    };
    cc.ping();
    net.drive(() => copied);
    net.runFor(500);
    assert.equal(cc.getStats().datagramsFromUnknownAddress, 1);
    assert.equal(client.remoteAddress(ch), S);
    assert.ok(!cc.isClosed);
  });

  it('a client with n0 NAT traversal (the default) reads its server’s packet from another address but never follows it there (§9)', () => {
    const { net, client, ch, cc } = setup(40);
    const S2 = '10.0.0.1:444';
    let copied = false;
    net.tap = (d) => {
      if (d.from === S && !copied) {
        copied = true;
        net.inject(S2, C, d.bytes.slice());
        return null;
      }
      return [d.bytes];
    };
    const received = cc.getStats().packetsReceived;
    cc.ping();
    net.drive(() => copied);
    net.runFor(500);
    assert.equal(cc.getStats().datagramsFromUnknownAddress, 0);
    assert.ok(cc.getStats().packetsReceived > received);
    assert.equal(client.remoteAddress(ch), S);
    assert.equal(cc.remoteAddress, S);
    assert.ok(!cc.isClosed);
    // Nothing but PATH_RESPONSEs (none owed here) ever goes to S2 from a client.
    assert.equal(net.sent.filter((d) => d.from === C && d.to === S2).length, 0);
  });
});
