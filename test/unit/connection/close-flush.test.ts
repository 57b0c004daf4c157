import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { MIN_DATAGRAM_SIZE } from '../../../src/quic/packet/size.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';

/**
 * What an application queued before closing: datagrams report whether they left, and a close
 * with `flush` sends the queued datagrams and stream data before the CONNECTION_CLOSE
 * ([first-hour] item 4). Sans-IO, virtual time.
 */
describe('connection: queued data at close, datagram send reports', () => {
  it('a datagram queued just before close(flush) reaches the peer ahead of the CONNECTION_CLOSE; without flush it does not', () => {
    for (const flush of [true, false]) {
      const p = new Pair({ seed: testSeed(81), link: { delayMs: 10 } });
      p.handshake();
      const id = p.client.sendDatagram(new Uint8Array([1, 2, 3]));
      p.client.close(p.now, 7, 'bye', { flush });
      p.driveToTermination();
      assert.equal(p.server!.closeInfo?.kind, 'application');
      assert.equal(p.server!.closeInfo?.code, 7);
      const got = p.server!.recvDatagram();
      if (flush) {
        assert.deepEqual(got, new Uint8Array([1, 2, 3]));
        assert.ok(p.clientEvents.some((e) => e.type === 'datagramsSent'));
        assert.deepEqual(p.client.takeDatagramSendReport(), { settledBelow: id + 1, dropped: [] });
      } else {
        assert.equal(got, undefined, 'an immediate close discards the queue');
      }
    }
  });

  it('close(flush) sends the stream data already written, then closes; the peer holds every byte', () => {
    const p = new Pair({ seed: testSeed(82), link: { delayMs: 10 } });
    p.handshake();
    const data = new SeededRandom(3).fill(new Uint8Array(100_000));
    const id = p.client.openStream('uni')!;
    assert.equal(p.client.writeStream(id, data), data.length);
    p.client.finishStream(id);
    p.client.close(p.now, 0, 'done', { flush: true });
    assert.equal(p.client.isClosed, false, 'still established while the queue drains');
    const closedAt = (): number | undefined => (p.client.isClosed ? p.now : undefined);
    p.drive(() => closedAt() !== undefined);
    // Slow start from the initial window needs a few round trips (RTT 20 ms), not the deadline.
    assert.ok(p.now < 200, `closed at ${p.now} ms`);
    p.driveToTermination();
    assert.equal(p.server!.closeInfo?.reason, 'done');
    const got = p.server!.readStream(id);
    assert.ok(got && bytesEqual(got, data), `the peer holds ${got?.length ?? 0} of ${data.length} bytes`);
  });

  it("close(flush) the moment the client's handshake completes sends its Finished first: the server sees the handshake complete, then the close", () => {
    for (const flush of [true, false]) {
      const p = new Pair({ seed: testSeed(85), link: { delayMs: 10 } });
      // Close inside the input that completed the handshake, before anything was sent: the Finished
      // is written (TLS) and not yet packed.
      const receive = p.client.handleDatagram.bind(p.client);
      p.client.handleDatagram = (now, data, from) => {
        receive(now, data, from);
        if (p.client.isConnected && !p.client.isClosed) p.client.close(now, 9, 'at once', { flush });
      };
      p.driveToTermination();
      const serverConnected = p.serverEvents.some((e) => e.type === 'connected');
      if (flush) {
        assert.ok(serverConnected, "the server's handshake completed before the close");
        assert.equal(p.server!.closeInfo?.code, 9, 'the application close, in a 1-RTT packet');
      } else {
        assert.ok(!serverConnected, 'an immediate close does not send the Finished');
        // RFC 9000 §10.2.3: in a Handshake packet an application close is APPLICATION_ERROR (0x0c).
        assert.equal(p.server!.closeInfo?.code, 0x0c);
      }
    }
  });

  it('close(flush) gives up at three PTOs when nothing can leave (blackholed path)', () => {
    const p = new Pair({ seed: testSeed(83), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(100);
    p.c2s.set({ dropRate: 1 });
    const id = p.client.openStream('uni')!;
    p.client.writeStream(id, new Uint8Array(500_000));
    const pto = p.client.currentPto();
    const t0 = p.now;
    p.client.close(p.now, 0, 'bye', { flush: true });
    p.drive(() => p.client.isClosed);
    assert.ok(p.now - t0 <= 3 * pto + 1 && p.now - t0 > 2 * pto, `closed ${p.now - t0} ms after the request (PTO ${pto} ms)`);
    assert.equal(p.client.closeInfo?.reason, 'bye');
  });

  it('a close while a flush waits carries out the waiting close (its code and reason) at once', () => {
    const p = new Pair({ seed: testSeed(84), link: { delayMs: 10 } });
    p.handshake();
    const id = p.client.openStream('uni')!;
    p.client.writeStream(id, new Uint8Array(500_000));
    p.client.close(p.now, 5, 'first', { flush: true });
    p.client.close(p.now, 0, 'endpoint closing');
    assert.equal(p.client.isClosed, true);
    p.driveToTermination();
    assert.equal(p.server!.closeInfo?.code, 5);
    assert.equal(p.server!.closeInfo?.reason, 'first');
  });

  it('a largest datagram queued while a PTO probe is owed waits for a full-size packet instead of being dropped as too large', () => {
    const p = new Pair({ seed: testSeed(85), link: { delayMs: 10 } });
    p.handshake();
    p.runFor(3000); // the path MTU search is done
    assert.equal(p.client.getStats().mtu, 1452);
    p.c2s.set({ dropRate: 1 });
    const stream = p.client.openStream('uni')!;
    p.client.writeStream(stream, new Uint8Array(100));
    p.flush(); // lost
    // Fire the client's timers by hand, without transmitting, until the PTO owes probes: they go
    // in base-size (1200-byte) datagrams, smaller than the largest datagram the path takes.
    const app = p.client.internals.spaces.at(PacketSpace.Application);
    for (let i = 0; i < 10 && app.probesOwed === 0; i++) {
      p.now = p.client.pollTimeout();
      p.client.handleTimeout(p.now);
    }
    assert.ok(app.probesOwed > 0);
    const max = p.client.maxDatagramSize()!;
    assert.ok(max > MIN_DATAGRAM_SIZE);
    const id = p.client.sendDatagram(new Uint8Array(max).fill(9));
    p.c2s.set({ dropRate: 0 });
    p.runFor(500);
    assert.deepEqual(p.client.takeDatagramSendReport(), { settledBelow: id + 1, dropped: [] });
    assert.equal(p.server!.recvDatagram()?.length, max);
  });
});
