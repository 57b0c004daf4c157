import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { StreamResetError } from '../../../src/quic/streams/stream-error.js';
import type { ConnectionEvent } from '../../../src/quic/events.js';

function payload(n: number, seed = 5): Uint8Array {
  return new SeededRandom(seed).fill(new Uint8Array(n));
}

function count(events: readonly ConnectionEvent[], type: ConnectionEvent['type']): number {
  return events.filter((e) => e.type === type).length;
}

/** Both sides emitted 'connected', 'closed' and 'terminated' exactly once. */
function assertLifecycleEventsOnce(p: Pair): void {
  for (const [side, events] of [['client', p.clientEvents], ['server', p.serverEvents]] as const) {
    for (const type of ['connected', 'closed', 'terminated'] as const) {
      assert.equal(count(events, type), 1, `${side} '${type}' events`);
    }
    // 'terminated' is the last word.
    assert.equal(events[events.length - 1]!.type, 'terminated', `${side} last event`);
  }
}

describe('connection: key update, idle, close, stream resets, datagrams (virtual time)', () => {
  for (const initiator of ['client', 'server'] as const) {
    it(`key update initiated by the ${initiator} during a transfer (RFC 9001 §6)`, () => {
      const p = new Pair({ seed: testSeed(60), link: { delayMs: 10, dropRate: 0.01 } });
      p.handshake();
      const data = payload(2_000_000);
      const tx = new StreamSender(p.client, data);
      const rx = new StreamReceiver(() => p.server);
      let updated = false;
      const updater = {
        pump: () => {
          if (!updated && (rx.streams.get(tx.id)?.bytes ?? 0) > 500_000) updated = p.conn(initiator)!.initiateKeyUpdate(p.now);
        },
      };
      run(p, [tx, rx, updater], () => rx.streams.get(tx.id)?.ended === true);
      assert.ok(updated);
      assert.ok(bytesEqual(rx.data(tx.id), data));
      assert.ok(p.client.getStats().keyUpdates >= 1);
      assert.ok(p.server!.getStats().keyUpdates >= 1);
      assert.equal(p.client.getStats().keyUpdates, p.server!.getStats().keyUpdates);
      assert.ok(!p.client.isClosed && !p.server!.isClosed);
    });
  }

  it('a second update may not start before the first is acknowledged (RFC 9001 §6.1)', () => {
    const p = new Pair({ seed: testSeed(61), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(100);
    assert.equal(p.client.initiateKeyUpdate(p.now), true);
    assert.equal(p.client.initiateKeyUpdate(p.now), false);
    p.client.ping();
    p.runFor(100);
    assert.equal(p.client.initiateKeyUpdate(p.now), true);
    p.client.ping();
    p.runFor(100);
    assert.equal(p.client.getStats().keyUpdates, 2);
    assert.equal(p.server!.getStats().keyUpdates, 2);
  });

  it('automatic key updates every keyUpdateIntervalPackets packets keep a transfer intact', () => {
    const p = new Pair({ seed: testSeed(62), link: { delayMs: 10, dropRate: 0.02, jitterMs: 2 }, clientTransport: { keyUpdateIntervalPackets: 100 } });
    p.handshake();
    const data = payload(1_000_000);
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    const updates = p.client.getStats().keyUpdates;
    assert.ok(updates >= 5, `${updates} key updates`);
    assert.equal(p.server!.getStats().keyUpdates, updates);
  });

  it('idle timeout: both sides close silently with the smaller of the two timeouts (RFC 9000 §10.1)', () => {
    const p = new Pair({
      seed: testSeed(63),
      link: { delayMs: 10 },
      clientTransport: { maxIdleTimeoutMs: 5000 },
      serverTransport: { maxIdleTimeoutMs: 3000 },
    });
    p.handshake();
    p.runFor(200);
    const lastSent = p.now;
    p.driveToTermination(20_000);
    for (const c of [p.client, p.server!]) {
      assert.equal(c.closeInfo?.kind, 'idle');
      assert.equal(c.closeInfo?.remote, false);
      assert.equal(c.internals.idle.timeout, 3000);
    }
    // Silent: nothing was sent after the settle, and both stopped within ~3 s of the last packet.
    assert.ok(p.now <= lastSent + 3000, `terminated at ${p.now}`);
    assert.ok(p.now >= 3000);
    assertLifecycleEventsOnce(p);
  });

  it('keep-alive PINGs hold an idle connection open past the idle timeout', () => {
    const p = new Pair({ seed: testSeed(64), link: { delayMs: 10 }, clientTransport: { maxIdleTimeoutMs: 3000, keepAliveIntervalMs: 1000 } });
    p.handshake();
    p.runFor(20_000);
    assert.ok(p.client.isConnected && p.server!.isConnected);
  });

  it('close with an application code and reason reaches the peer; both terminate after the closing/draining period', () => {
    const p = new Pair({ seed: testSeed(65), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(100);
    p.client.close(p.now, 42, 'bye now');
    const closedAt = p.now;
    assert.deepEqual(p.client.closeInfo, { kind: 'application', code: 42, reason: 'bye now', remote: false });
    p.drive(() => p.server!.isClosed);
    assert.deepEqual(p.server!.closeInfo, { kind: 'application', code: 42, reason: 'bye now', remote: true });
    assert.equal(p.now, closedAt + 10, 'the CONNECTION_CLOSE went out at once');
    p.driveToTermination();
    // RFC 9000 §10.2: three times the PTO (about 3 * (20 + 4 * rttvar + 25) ms here), from the
    // close for the client, from its arrival for the server: both ended when the later one did.
    const pto = p.client.currentPto();
    const last = Math.max(closedAt + 3 * pto, closedAt + 10 + 3 * p.server!.currentPto());
    assert.ok(p.now >= closedAt + 3 * pto - 1 && p.now <= last + 1, `terminated at ${p.now}`);
    assertLifecycleEventsOnce(p);
    assert.throws(() => p.client.openStream('bidi'), /connection closed/);
  });

  it('closing: packets that crossed our CONNECTION_CLOSE are not answered, a later one is (RFC 9000 §10.2.1)', () => {
    for (const loseClose of [false, true]) {
      const p = new Pair({ seed: testSeed(66), link: { delayMs: 10 } });
      p.handshake();
      p.runFor(200);
      // The client closes as the server sends a burst: both leave in one flush (the client's
      // first), so the burst reaches the closing client 10 ms after its close left.
      const id = p.server!.openStream('uni')!;
      p.server!.writeStream(id, new Uint8Array(6_000));
      const clientSends: number[] = [];
      p.onSend = (from, _bytes, now) => {
        if (from === 'client') clientSends.push(now);
      };
      if (loseClose) p.c2s.set({ dropIndices: new Set([p.c2s.sentCount]) });
      const before = p.c2s.sentCount;
      const burstBefore = p.s2c.sentCount;
      p.client.close(p.now, 9, 'gone');
      p.flush();
      assert.equal(clientSends.length, 1, 'the close left');
      assert.ok(p.s2c.sentCount > burstBefore, 'and the burst with it');
      p.drive(() => p.server!.isClosed);
      const remote = p.server!.closeInfo;
      assert.deepEqual({ code: remote?.code, remote: remote?.remote }, { code: 9, remote: true });
      const heardAt = p.now;
      p.driveToTermination();
      const closes = p.c2s.sentCount - before;
      assert.equal(closes, clientSends.length);
      if (!loseClose) {
        // The burst reached the client within a round trip of its close: one close, not one more per burst.
        assert.equal(closes, 1, `${closes} datagrams from the closing client`);
        assert.equal(heardAt, clientSends[0]! + 10);
      } else {
        // The first close was lost: the server's PTO probe, a round trip or more later, got the answer.
        assert.equal(closes, 2, `${closes} datagrams from the closing client at ${clientSends.join(', ')}`);
        assert.ok(clientSends[1]! - clientSends[0]! > 20, `the second close ${clientSends[1]! - clientSends[0]!} ms after the first`);
        assert.equal(heardAt, clientSends[1]! + 10);
      }
    }
  });

  it('a CONNECTION_CLOSE carries the pending ACK: a FIN read just before the close is acknowledged (first-hour item 12)', () => {
    const p = new Pair({ seed: testSeed(67), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(200);
    const id = p.client.openStream('bidi')!;
    assert.equal(p.client.writeStream(id, payload(100)), 100);
    p.client.finishStream(id);
    // Deliver the data; the server reads it to the end and closes at once, before its delayed ACK.
    let read = 0;
    p.drive(() => {
      const s = p.server!;
      const got = s.acceptStream('bidi') ?? (read > 0 || s.isClosed ? id : null);
      if (got === null) return false;
      for (let d = s.readStream(id); d; d = s.readStream(id)) read += d.length;
      return read === 100;
    });
    p.server!.close(p.now, 0, 'done');
    p.drive(() => p.client.isClosed);
    const types = p.clientEvents.map((e) => e.type);
    const done = p.clientEvents.findIndex((e) => e.type === 'sendDone' && e.id === id);
    assert.ok(done >= 0, `the client's FIN was acknowledged: ${types.join(', ')}`);
    // One ordered event queue: the ACK came before the CONNECTION_CLOSE in the same packet.
    assert.ok(done < types.indexOf('closed'), `acknowledged before the close: ${types.join(', ')}`);
  });

  it('a server close with a bigint code (up to 2^62-1) reaches the client exactly', () => {
    const p = new Pair({ seed: testSeed(66), link: { delayMs: 10 } });
    p.handshake();
    const code = 2n ** 62n - 1n;
    p.server!.close(p.now, code, 'x'.repeat(2000));
    p.driveToTermination();
    assert.equal(p.client.closeInfo?.kind, 'application');
    assert.equal(BigInt(p.client.closeInfo!.code), code);
    assert.ok(p.client.closeInfo!.reason.length > 0 && p.client.closeInfo!.reason.length < 1200);
    assertLifecycleEventsOnce(p);
  });

  for (const from of ['client', 'server'] as const) {
    it(`RESET_STREAM from the ${from}: the peer's read surfaces the code`, () => {
      const p = new Pair({ seed: testSeed(67), link: { delayMs: 10 } });
      p.handshake();
      const sender = p.conn(from)!;
      const receiver = p.conn(from === 'client' ? 'server' : 'client')!;
      const id = sender.openStream('uni')!;
      sender.writeStream(id, payload(5000));
      p.runFor(50);
      sender.resetStream(id, 77);
      p.runFor(50);
      assert.equal(receiver.acceptStream('uni'), id);
      let err: unknown;
      try {
        while (receiver.readStream(id) !== null);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof StreamResetError, String(err));
      assert.equal(err.code, 77);
      assert.equal(err.byPeer, true);
    });

    it(`STOP_SENDING from the ${from}: the peer sees 'stopped' with the code, its writes fail, and it resets with that code`, () => {
      const p = new Pair({ seed: testSeed(68), link: { delayMs: 10 } });
      p.handshake();
      const stopper = p.conn(from)!;
      const writer = p.conn(from === 'client' ? 'server' : 'client')!;
      const id = writer.openStream('bidi')!;
      writer.writeStream(id, payload(1000));
      p.runFor(50);
      assert.equal(stopper.acceptStream('bidi'), id);
      stopper.stopSending(id, 99);
      p.runFor(50);
      const events = from === 'client' ? p.serverEvents : p.clientEvents;
      assert.ok(events.some((e) => e.type === 'stopped' && e.id === id && e.code === 99), 'stopped event');
      assert.throws(() => writer.writeStream(id, payload(10)), (e: unknown) => e instanceof StreamResetError && e.code === 99 && e.byPeer);
      // RFC 9000 §3.5: the writer answered with RESET_STREAM carrying the code.
      assert.equal(stopper.internals.streams.get(id)?.recv?.resetCode ?? 99, 99);
    });
  }

  it('datagrams are delivered or counted lost, never retransmitted (RFC 9221 §5.2)', () => {
    const p = new Pair({ seed: testSeed(69), link: { delayMs: 10, dropRate: 0.1 } });
    p.handshake();
    const n = 300;
    const got = new Set<number>();
    let duplicates = 0;
    let sent = 0;
    const app = {
      pump: () => {
        // A few per step so the queue never drops any.
        for (let k = 0; k < 3 && sent < n; k++) {
          const d = new Uint8Array(200).fill(sent & 0xff);
          d[0] = sent >> 8;
          d[1] = sent & 0xff;
          p.client.sendDatagram(d);
          sent++;
        }
        for (let d = p.server!.recvDatagram(); d; d = p.server!.recvDatagram()) {
          const i = (d[0]! << 8) | d[1]!;
          if (got.has(i)) duplicates++;
          got.add(i);
        }
      },
    };
    run(p, [app], () => {
      const s = p.client.getStats().datagrams;
      return sent === n && s.sent === n && s.acked + s.lost === n;
    });
    p.runFor(1000);
    app.pump();
    const s = p.client.getStats().datagrams;
    assert.equal(s.sent, n);
    assert.equal(s.acked + s.lost, n);
    assert.ok(s.lost > 0, 'some were lost');
    assert.equal(duplicates, 0);
    assert.equal(p.server!.getStats().datagrams.received, got.size);
    // The receiver got exactly the ones acknowledged (none lost was retransmitted).
    assert.equal(got.size, s.acked);
    assert.equal(p.client.getStats().packetsRetransmitted, 0);
  });

  it('datagrams left queued make the flow not app-limited (RFC 9002 §7.8): the window may grow', () => {
    const p = new Pair({ seed: testSeed(71), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(3000); // MTU search done
    // A packet whose build ends with inflight under half the window and nothing else to send
    // marks the flow app-limited; with datagrams still queued it must not.
    p.client.sendDatagram(new Uint8Array(100));
    p.runFor(50);
    assert.equal(p.client.internals.paths.recovery.cc.appLimited, true, 'a lone datagram: app-limited');
    // Two full packets' worth offered, the pacer and window let both out, the rest waits...
    for (let k = 0; k < 40; k++) p.client.sendDatagram(new Uint8Array(1000));
    const out = new Uint8Array(1500);
    assert.ok(p.client.pollTransmit(p.now, out) > 0, 'a packet was built');
    assert.ok(p.client.getStats().datagrams.sent < 40, 'datagrams are still queued');
    assert.equal(p.client.internals.paths.recovery.cc.appLimited, false, 'queued datagrams: not app-limited');
  });

  it('an idle connection stays silent: no ACK answers an ACK (RFC 9000 §13.2.1)', () => {
    const p = new Pair({ seed: testSeed(70), link: { delayMs: 10 }, trace: true });
    p.handshake();
    p.runFor(3000); // handshake done, MTU search done
    const before = p.trace.length;
    p.runFor(10_000);
    assert.equal(p.trace.length, before, `datagrams while idle: ${p.trace.slice(before).map((d) => `${d.from}@${d.at}:${d.bytes.length}`).join(' ')}`);
    // A single PING is answered by exactly one ACK, and that ACK by nothing.
    p.client.ping();
    p.runFor(1000);
    assert.deepEqual(p.trace.slice(before).map((d) => d.from), ['client', 'server']);
  });

  it('a bulk receiver acknowledges often enough (RFC 9000 §13.2.2: every second ack-eliciting packet)', () => {
    const p = new Pair({ seed: testSeed(71), link: { delayMs: 10 } });
    p.handshake();
    const c0 = p.client.getStats().packetsSent;
    const s0 = p.server!.getStats().packetsSent;
    const data = payload(2_000_000);
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    const sent = p.client.getStats().packetsSent - c0;
    const acks = p.server!.getStats().packetsSent - s0;
    // Every other packet, except that datagrams arriving together are acknowledged together (the
    // simulator delivers a burst at one instant, as recvmmsg would).
    assert.ok(acks >= sent / 4 && acks <= sent, `${acks} ACK packets for ${sent} data packets`);
  });

  it('a stream blocked on flow control does not spin: nothing to send and no timer due (the Pair fails on livelock)', () => {
    const small = { streams: { initialStreamWindow: 8192, initialConnectionWindow: 16384 } };
    const p = new Pair({ seed: testSeed(72), link: { delayMs: 10 }, serverTransport: small });
    p.handshake();
    const id = p.client.openStream('bidi')!;
    let written = 0;
    const data = payload(100_000);
    // The server never reads: the client fills the stream window and is blocked.
    const writer = { pump: () => { written += p.client.writeStream(id, data.subarray(written)); } };
    const end = p.now + 2000;
    while (p.step(end)) writer.pump();
    assert.ok(p.client.isConnected);
    assert.equal(p.client.pollTransmit(p.now, new Uint8Array(1500)), 0);
    assert.ok(p.client.pollTimeout() > p.now);
    const st = p.client.internals.streams.get(id)!.send!;
    assert.equal(st.sentOffset, 8192);
    // The application reads: the window opens and the rest flows.
    const rx = new StreamReceiver(() => p.server);
    run(p, [writer, rx], () => (rx.streams.get(id)?.bytes ?? 0) === data.length);
  });
});
