import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { testSeed } from '../../harness/seed.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { SeededRandom } from '../../../src/tls/random.js';

/**
 * A peer that stops acknowledging (RFC 9000 §21.7, second paragraph: "An adversarial receiver
 * might intentionally not acknowledge packets ... to force the sender to store the unacknowledged
 * stream data"). Here every datagram from the server is dropped after the handshake, so the client
 * sees no ACK at all while its application writes as fast as `writeStream` accepts, on several
 * streams, and queues datagrams. What the client holds must stay within its configuration:
 * per stream the send buffer (streams.sendBufferSize), in flight the congestion window, and the
 * datagram queue its count; then the idle timeout ends it.
 */
describe('limits: a peer that stops acknowledging', () => {
  it('cannot make the sender buffer more than its configured send buffer per stream, nor put more than cwnd (plus PTO probes) in flight', () => {
    const sendBufferSize = 48 * 1024;
    const streams = 4;
    const datagramSendQueue = 32;
    const p = new Pair({
      seed: testSeed(75),
      link: { delayMs: 10 },
      // Large peer windows: flow control never binds, only the send buffer can.
      clientTransport: { streams: { sendBufferSize }, datagramSendQueue, maxIdleTimeoutMs: 20_000 },
      serverTransport: { streams: { initialStreamWindow: 16 << 20, maxStreamWindow: 16 << 20, initialConnectionWindow: 64 << 20, maxConnectionWindow: 64 << 20 } },
    });
    p.handshake();
    p.runFor(200);
    p.s2c.set({ blackhole: () => true });
    const ids = Array.from({ length: streams }, () => p.client.openStream('bidi')!);
    const chunk = new SeededRandom(1).fill(new Uint8Array(16 * 1024));
    let written = 0;
    let most = { buffered: 0, total: 0, inFlight: 0, outstanding: 0, datagrams: 0 };
    const dg = new Uint8Array(200);
    p.drive(() => {
      const c = p.client;
      if (!c.isClosed) {
        for (const id of ids) for (let n = c.writeStream(id, chunk); n > 0; n = c.writeStream(id, chunk)) written += n;
        for (let k = 0; k < 8; k++) c.sendDatagram(dg);
      }
      let total = 0;
      for (const id of ids) {
        const b = c.internals.streams.get(id)?.send?.buffered ?? 0;
        total += b;
        most.buffered = Math.max(most.buffered, b);
      }
      const st = c.getStats();
      // PTO probes may exceed cwnd (RFC 9002 §7.5): at most two datagrams per expiry.
      const probes = 2 * (st.ptoCount + 1) * st.mtu;
      assert.ok(st.bytesInFlight <= st.cwnd + probes, `in flight ${st.bytesInFlight} > cwnd ${st.cwnd} + probes ${probes}`);
      most = {
        buffered: most.buffered,
        total: Math.max(most.total, total),
        inFlight: Math.max(most.inFlight, st.bytesInFlight),
        outstanding: Math.max(most.outstanding, c.internals.loss.outstanding(PacketSpace.Application)),
        datagrams: Math.max(most.datagrams, c.internals.datagrams.queuedCount),
      };
      return c.isClosed;
    }, 60_000);
    console.log(`      (written ${written} B; most buffered per stream ${most.buffered} B, total ${most.total} B, in flight ${most.inFlight} B, ` +
      `${most.outstanding} packets outstanding, ${most.datagrams} datagrams queued)`);
    assert.equal(p.client.closeInfo?.kind, 'idle', JSON.stringify(p.client.closeInfo));
    assert.ok(most.buffered <= sendBufferSize, `a stream buffered ${most.buffered} > ${sendBufferSize}`);
    assert.equal(most.buffered, sendBufferSize, 'the buffers did fill up (the writer was stopped by them)');
    assert.ok(most.total <= streams * sendBufferSize);
    assert.equal(written, streams * sendBufferSize, 'nothing beyond the send buffers was ever accepted');
    assert.ok(most.datagrams <= datagramSendQueue);
    assert.ok(most.outstanding < 200, `${most.outstanding} packets tracked`);
  });
});
