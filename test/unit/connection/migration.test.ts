import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';

function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

/**
 * NAT rebinding of the client seen by the server connection (RFC 9000 §9; src/quic/connection/paths.ts), on a
 * Pair with addresses (`Pair.rebindClient`) over seeded lossy, reordering links.
 */
describe('connection: the client NAT-rebinds mid-transfer (virtual time)', () => {
  it('port rebinding on a lossy, reordering link, the old mapping gone: byte-exact, validated, controller kept', () => {
    const p = new Pair({ seed: testSeed(71), link: { delayMs: 15, jitterMs: 4, dropRate: 0.02 } });
    p.handshake();
    const data = payload(2_000_000);
    const tx = new StreamSender(p.server!, data, 'uni');
    const rx = new StreamReceiver(() => p.client);
    run(p, [tx, rx], () => (rx.streams.get(tx.id)?.bytes ?? 0) > 500_000);
    const s = p.server!;
    const cc = s.internals.paths.recovery.cc;
    p.rebindClient('192.0.2.2:6001', false);
    // A NAT rebinds on the client's next packet. This client only receives: when it happens to
    // have nothing ack-eliciting in flight and no ACK pending, it sends nothing and nothing reaches
    // it (the old mapping is gone): the connection then idles out, which no QUIC stack can avoid
    // without keep-alives. So the client says something, as its next ACK or MAX_DATA would.
    p.client.ping();
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    const st = s.getStats();
    assert.equal(s.remoteAddress, '192.0.2.2:6001');
    assert.equal(st.migrations, 1);
    assert.ok(st.pathValidations >= 1 && s.internals.paths.current.validated, JSON.stringify(st));
    assert.equal(s.internals.paths.recovery.cc, cc, 'port-only: the congestion controller is kept (§9.4)');
    assert.ok(p.serverDatagramsUnreachable > 0, 'packets in flight to the old mapping were lost');
  });

  it('per-path recovery: after a move to a new IP, the old path\'s packets are credited to the old path\'s controller and RTT, the new path starts fresh (RFC 9000 §9.4)', () => {
    const p = new Pair({ seed: testSeed(75), link: { delayMs: 15 } });
    p.handshake();
    const data = payload(2_000_000, 7);
    const tx = new StreamSender(p.server!, data, 'uni');
    const rx = new StreamReceiver(() => p.client);
    run(p, [tx, rx], () => (rx.streams.get(tx.id)?.bytes ?? 0) > 500_000);
    const { paths } = p.server!.internals;
    const oldPath = paths.current;
    const oldRecovery = paths.recovery;
    assert.ok(oldRecovery.cc.bytesInFlight > 0, 'packets in flight on the old path when the client moves');
    // Count the RTT samples the old path's estimator takes after the move.
    let oldSamplesAfterSwitch = 0;
    const update = oldRecovery.rtt.update.bind(oldRecovery.rtt);
    oldRecovery.rtt.update = (...a: Parameters<typeof update>): void => {
      if (paths.recovery !== oldRecovery) oldSamplesAfterSwitch++;
      update(...a);
    };
    // The old mapping keeps delivering: the packets in flight there are acknowledged after the move.
    p.rebindClient('203.0.113.5:7000', true);
    let atSwitch: { old: number; fresh: number; newHasSample: boolean } | undefined;
    let oldGrew = false;
    let last = Number.POSITIVE_INFINITY;
    const watch = {
      pump: (): void => {
        const r = paths.recovery;
        if (r === oldRecovery) return;
        atSwitch ??= { old: oldRecovery.cc.bytesInFlight, fresh: r.cc.bytesInFlight, newHasSample: r.rtt.hasSample };
        // Nothing new is sent on the old path: its bytes in flight only drain.
        if (oldRecovery.cc.bytesInFlight > last) oldGrew = true;
        last = oldRecovery.cc.bytesInFlight;
      },
    };
    run(p, [tx, rx, watch], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    assert.ok(atSwitch, 'the server moved to the new address');
    assert.notEqual(paths.current, oldPath);
    assert.notEqual(paths.recovery, oldRecovery, 'a new IP gets its own recovery state');
    assert.equal(atSwitch.newHasSample, false, 'the new path starts without an RTT sample');
    assert.ok(atSwitch.old > 0, 'the old path still had packets in flight at the switch');
    assert.equal(oldGrew, false, 'no packet was charged to the old path after the switch');
    assert.equal(oldRecovery.cc.bytesInFlight, 0, 'every old-path packet was acknowledged or lost on the old path\'s controller');
    assert.ok(oldSamplesAfterSwitch > 0, 'acknowledgments of old-path packets sampled the old path\'s RTT, not the new one\'s');
    assert.ok(paths.recovery.rtt.hasSample, 'the new path has RTT samples of its own');
    assert.equal(p.server!.getStats().migrations, 1);
  });

  it('three rebindings in quick succession, the old mappings gone: ends on the last address, validated, CIDs replenished', () => {
    const p = new Pair({ seed: testSeed(72), link: { delayMs: 20 } });
    p.handshake();
    p.runFor(200);
    const data = payload(1_500_000, 6);
    const tx = new StreamSender(p.client, data, 'uni');
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => (rx.streams.get(tx.id)?.bytes ?? 0) > 300_000);
    const s = p.server!;
    for (const addr of ['198.51.100.7:7000', '198.51.100.7:7001', '203.0.113.9:7002']) {
      p.rebindClient(addr, false);
      run(p, [tx, rx], () => s.remoteAddress === addr);
      assert.ok(!s.internals.paths.current.validated, `${addr}: moved before validating`);
    }
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    const st = s.getStats();
    assert.equal(st.migrations, 3);
    assert.equal(st.migrationsReverted, 0);
    assert.ok(s.internals.paths.current.validated);
    // The last old path goes once its own check (§9.3.3) times out: its mapping is gone.
    p.drive(() => s.internals.paths.fallback === undefined, 10_000);
    p.runFor(1000);
    // Each abandoned path's CID was retired and the client issued replacements (RFC 9000 §5.1.2).
    assert.equal(p.client.internals.localCids.activeCids().length, 5);
    assert.ok(s.internals.remoteCids.currentSequence >= 3, `sending with client CID ${s.internals.remoteCids.currentSequence}`);
  });

  it('a forged move to a silent address: the 3x limit blocks ACKs and keep-alives without a busy timer, then the validation times out and reverts', () => {
    const p = new Pair({ seed: testSeed(74), serverTransport: { keepAliveIntervalMs: 300 }, trace: true });
    p.handshake();
    p.runFor(500);
    const s = p.server!;
    let copy: Uint8Array | undefined;
    p.onSend = (from, bytes) => {
      if (from === 'client' && !copy) copy = bytes.slice();
    };
    // The genuine client goes silent; a copy of its last packet arrives from elsewhere first.
    p.c2s.set({ blackhole: () => true });
    p.client.ping();
    p.flush();
    assert.ok(copy && copy.length < 100);
    p.c2s.set({ blackhole: () => false });
    p.c2s.send(p.now, copy, '198.51.100.99:9999');
    p.c2s.set({ blackhole: () => true });
    p.drive(() => s.getStats().migrations === 1);
    assert.equal(s.remoteAddress, '198.51.100.99:9999');
    // Pair.step throws on a timer that fires at `now` without effect: none here for ~3 s.
    p.drive(() => s.remoteAddress === p.clientAddress, 10_000);
    const st = s.getStats();
    assert.equal(st.pathValidationFailures, 1);
    assert.equal(st.migrationsReverted, 1);
    const toForged = p.trace.filter((d) => d.from === 'server' && d.clientAddress === '198.51.100.99:9999').reduce((n, d) => n + d.bytes.length, 0);
    assert.ok(toForged > 0 && toForged <= 3 * copy.length, `${toForged} bytes sent for ${copy.length}`);
    assert.ok(!s.isClosed);
  });

  it('a driver without addresses sees no migration (the path is whatever the datagrams come from)', () => {
    const p = new Pair({ seed: testSeed(73) });
    p.handshake();
    const s = p.server!;
    s.handleDatagram(p.now, new Uint8Array(30)); // no address: the current path
    assert.equal(s.getStats().migrations, 0);
    assert.equal(s.getStats().datagramsFromUnknownAddress, 0);
  });
});
