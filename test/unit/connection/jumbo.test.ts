import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { testSeed } from '../../harness/seed.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import {
  BASE_PLPMTU,
  LOOPBACK_MAX_UDP_PAYLOAD_V4,
  LOOPBACK_MAX_UDP_PAYLOAD_V6,
  MAX_PROBES,
  MtuDiscovery,
  pathMaxUdpPayload,
} from '../../../src/quic/connection/mtu.js';
import { ConfigError, resolveTransportConfig } from '../../../src/quic/transport-config.js';

/** Runs the search against a path that carries `pathMtu`; returns the probe sizes tried. */
function search(m: MtuDiscovery, pathMtu: number): number[] {
  const tried: number[] = [];
  for (let i = 0; i < 200; i++) {
    const size = m.pollProbe(0);
    if (size === undefined) break;
    tried.push(size);
    m.onProbeSent(size);
    if (size <= pathMtu) m.onProbeAcked(size);
    else m.onProbeLost(size);
  }
  return tried;
}

const JUMBO = { maxUdpPayloadSize: 65527, mtuUpperBound: 65527 };

/** Packets past 1452 bytes: DPLPMTUD up to 64 KiB where the path is known to carry it (RFC 9000 §14.3, RFC 8899). */
describe('connection: jumbo packets (path MTU past 1452, virtual time)', () => {
  it('knows the loopback paths (127.0.0.0/8, ::1) and bounds every other path by the configured mtuUpperBound', () => {
    assert.equal(pathMaxUdpPayload('127.0.0.1:4433', 1452), LOOPBACK_MAX_UDP_PAYLOAD_V4);
    assert.equal(pathMaxUdpPayload('127.5.6.7:1', 1452), LOOPBACK_MAX_UDP_PAYLOAD_V4);
    assert.equal(pathMaxUdpPayload('[::ffff:127.0.0.1]:9', 1452), LOOPBACK_MAX_UDP_PAYLOAD_V4);
    assert.equal(pathMaxUdpPayload('[::1]:4433', 1452), LOOPBACK_MAX_UDP_PAYLOAD_V6);
    assert.equal(LOOPBACK_MAX_UDP_PAYLOAD_V4, 65535 - 20 - 8);
    assert.equal(LOOPBACK_MAX_UDP_PAYLOAD_V6, 65536 - 40 - 8);
    for (const a of ['192.0.2.1:443', '[2001:db8::1]:443', '128.0.0.1:1', '[::10]:1', 'relay:ab@https://r.example', '']) {
      assert.equal(pathMaxUdpPayload(a, 1452), 1452, a);
      assert.equal(pathMaxUdpPayload(a, 9000), 9000, a);
    }
  });

  it('mtuUpperBound is checked like maxUdpPayloadSize: 1200..65527', () => {
    assert.equal(resolveTransportConfig().mtuUpperBound, 1452);
    assert.equal(resolveTransportConfig({ mtuUpperBound: 65527 }).mtuUpperBound, 65527);
    for (const v of [1199, 65528, 1500.5]) assert.throws(() => resolveTransportConfig({ mtuUpperBound: v }), (e: unknown) => e instanceof ConfigError && e.field === 'mtuUpperBound');
  });

  it('the probe sequence: the ceiling first (the smallest of ours, the peer\'s and the path\'s), then bisection', () => {
    const m = new MtuDiscovery(65527);
    m.enable(65527, 9000);
    assert.equal(m.ceiling, 9000, 'the path bound wins');
    const tried = search(m, 4000);
    assert.deepEqual(tried.slice(0, MAX_PROBES), [9000, 9000, 9000], 'the ceiling, MAX_PROBES times');
    assert.equal(tried[MAX_PROBES], Math.floor((BASE_PLPMTU + 8999 + 1) / 2), 'then the middle of [base, lost - 1]');
    assert.ok(m.current <= 4000 && m.current > 4000 - 16, `found ${m.current}`);

    const loop = new MtuDiscovery(65527);
    loop.enable(65527, LOOPBACK_MAX_UDP_PAYLOAD_V4);
    assert.deepEqual(search(loop, 65535), [LOOPBACK_MAX_UDP_PAYLOAD_V4], 'loopback: one probe at the 64 KiB ceiling');
    assert.equal(loop.current, LOOPBACK_MAX_UDP_PAYLOAD_V4);
  });

  it('a peer that advertises a smaller max_udp_payload_size bounds the search on a jumbo path', () => {
    const m = new MtuDiscovery(65527);
    m.enable(1500, LOOPBACK_MAX_UDP_PAYLOAD_V4);
    assert.equal(m.ceiling, 1500);
    assert.deepEqual(search(m, 65535), [1500]);

    const p = new Pair({ seed: testSeed(90), bufferSize: 65536, clientTransport: JUMBO });
    p.handshake();
    p.runFor(3_000);
    // The server kept the default: it advertises 1452, and the client's packets stay within it.
    assert.equal(p.client.internals.handshake.peerParams!.maxUdpPayloadSize, 1452);
    assert.equal(p.server!.internals.handshake.peerParams!.maxUdpPayloadSize, 65527);
    assert.equal(p.client.getStats().mtu, 1452);
    assert.equal(p.server!.getStats().mtu, 1452, 'the server\'s own maximum bounds it');
  });

  it('both ends allowing 64 KiB: one probe reaches 65527, a transfer uses 64 KiB packets, the window counts their bytes', () => {
    const p = new Pair({ seed: testSeed(91), bufferSize: 65536, link: { delayMs: 5, queuePackets: 1000 }, clientTransport: JUMBO, serverTransport: JUMBO });
    p.handshake();
    p.runFor(1_000);
    assert.equal(p.client.getStats().mtu, 65527);
    assert.equal(p.server!.getStats().mtu, 65527);
    assert.equal(p.client.internals.paths.recovery.mtu.probesSent, 1);
    const data = new SeededRandom(7).fill(new Uint8Array(4_000_000));
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    let largest = 0;
    const sentBefore = p.c2s.stats.sent;
    const watch = {
      pump: (): void => {
        const s = p.client.getStats();
        // RFC 9002 §7: bytes in flight stay within the window, but for one base-size packet
        // (the send checks ask for room for one; a datagram is cut to the room left).
        if (s.congestionEvents === 0) assert.ok(s.bytesInFlight <= s.cwnd + BASE_PLPMTU, `in flight ${s.bytesInFlight} > cwnd ${s.cwnd} + ${BASE_PLPMTU}`);
        largest = Math.max(largest, p.c2s.stats.sentBytes > 0 ? s.mtu : 0);
      },
    };
    run(p, [tx, rx, watch], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    const s = p.client.getStats();
    // RFC 9002 §7.2: the minimum window follows max_datagram_size.
    assert.ok(s.cwnd >= 2 * 65527, `cwnd ${s.cwnd}`);
    // ~4 MB in 64 KiB packets: about 62 data packets, not ~2800 of 1452 bytes.
    const packets = p.c2s.stats.sent - sentBefore;
    assert.ok(packets < 200, `${packets} datagrams`);
    assert.equal(largest, 65527);
  });

  it('black hole at 64 KiB: falls back to 1200, then finds the narrower path (9000) again', () => {
    const p = new Pair({ seed: testSeed(92), bufferSize: 65536, link: { delayMs: 10, queuePackets: 1000 }, clientTransport: JUMBO, serverTransport: JUMBO });
    p.handshake();
    const data = new SeededRandom(8).fill(new Uint8Array(20_000_000));
    const tx = new StreamSender(p.client, data);
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => p.client.getStats().mtu === 65527 && (rx.streams.get(tx.id)?.bytes ?? 0) > 2_000_000);
    p.c2s.set({ mtu: 9000 });
    let sawBase = false;
    const watch = { pump: (): void => { if (p.client.getStats().mtu === BASE_PLPMTU) sawBase = true; } };
    run(p, [tx, rx, watch], () => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
    assert.ok(sawBase, 'black hole detected: back to 1200');
    assert.ok(p.client.internals.paths.recovery.mtu.blackHoles >= 1);
    p.runFor(30_000);
    const mtu = p.client.getStats().mtu;
    assert.ok(mtu <= 9000 && mtu > 9000 - 16, `found ${mtu}`);
  });

  it('a transmit buffer smaller than the ceiling: the probe sizes that cannot be written are given up, the search bisects below the buffer', () => {
    const p = new Pair({ seed: testSeed(93), bufferSize: 1500, clientTransport: JUMBO, serverTransport: JUMBO });
    p.handshake();
    p.runFor(5_000);
    for (const c of [p.client, p.server!]) {
      const mtu = c.getStats().mtu;
      assert.ok(mtu <= 1500 && mtu > 1500 - 16, `found ${mtu}`);
    }
    assert.ok(p.client.isConnected && p.server!.isConnected);
    const m = new MtuDiscovery(65527);
    m.enable(65527, 65527);
    assert.equal(m.pollProbe(0), 65527);
    m.onProbeUnsendable(65527);
    assert.equal(m.pollProbe(0), Math.floor((BASE_PLPMTU + 65526 + 1) / 2), 'bisects at once, nothing sent');
    assert.equal(m.probesSent, 0);
  });
});
