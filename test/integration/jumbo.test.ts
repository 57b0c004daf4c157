import assert from 'node:assert/strict';
import { Endpoint } from '../../src/session/endpoint.js';
import type { Session } from '../../src/session/session.js';
import { SeededRandom } from '../../src/tls/random.js';
import { bytesEqual } from '../../src/codec/bytes.js';
import { LOOPBACK_MAX_UDP_PAYLOAD_V4, LOOPBACK_MAX_UDP_PAYLOAD_V6 } from '../../src/quic/connection/mtu.js';
import { Loopback, readAll, sleep, within, writeAll } from './util.js';

const JUMBO = { transport: { maxUdpPayloadSize: 65527 } };

/** Waits until both ends' path MTU is `mtu` (the search runs once the handshake is confirmed). */
async function mtuReaches(a: Session, b: Session, mtu: number): Promise<void> {
  for (let i = 0; i < 200 && (a.getStats().mtu !== mtu || b.getStats().mtu !== mtu); i++) await sleep(10);
  assert.equal(a.getStats().mtu, mtu, 'client path MTU');
  assert.equal(b.getStats().mtu, mtu, 'server path MTU');
}

/** `bytes` client -> server on one stream; returns what the server read. */
async function upload(s: Session, peer: Session, bytes: Uint8Array): Promise<Uint8Array> {
  const { writable } = await s.createBidirectionalStream();
  const written = writeAll(writable, bytes, 256 * 1024);
  const st = await within(peer.nextBidiStream(), 5_000, 'accept');
  assert.ok(st);
  const [got] = await Promise.all([within(readAll(st.readable), 15_000, 'read'), within(written, 15_000, 'write')]);
  return got;
}

/**
 * Packets past 1452 bytes over real UDP: with maxUdpPayloadSize 65527 on both ends, the path MTU
 * search reaches the loopback interface's 64 KiB (RFC 9000 §14.3), streams and datagrams cross in
 * datagrams of that size, and without the option nothing changes.
 */
describe('Jumbo packets over UDP loopback', function () {
  this.timeout(30_000);
  const net = new Loopback();
  afterEach(() => net.close());

  it('both ends allowing 64 KiB on 127.0.0.1: the path MTU reaches 65507, 8 MB and a 60 KB datagram cross intact', async () => {
    const server = await net.bind(JUMBO);
    const client = await net.bind({ acceptIncoming: false, ...JUMBO });
    const { s, peer } = await net.connect(client, server);
    await mtuReaches(s, peer, LOOPBACK_MAX_UDP_PAYLOAD_V4);
    const data = new SeededRandom(1).fill(new Uint8Array(8_000_000));
    assert.ok(bytesEqual(await upload(s, peer, data), data));
    const st = s.getStats();
    assert.equal(st.mtu, LOOPBACK_MAX_UDP_PAYLOAD_V4, 'no black hole on the way');
    // 8 MB in 64 KiB datagrams: a few hundred at most (~5,600 at 1452 bytes).
    assert.ok(st.packetsSent < 1_500, `${st.packetsSent} packets`);
    const max = s.maxDatagramSize()!;
    assert.ok(max > 60_000, `maxDatagramSize ${max}`);
    const dg = new SeededRandom(2).fill(new Uint8Array(60_000));
    const got = peer.recvDatagram();
    await s.sendDatagram(dg);
    const back = await within(got, 5_000, "datagram");
    assert.ok(back && bytesEqual(back, dg));
  });

  it('without the option (default 1452) the path MTU stays 1452 on loopback too', async () => {
    const server = await net.bind();
    const client = await net.bind({ acceptIncoming: false });
    const { s, peer } = await net.connect(client, server);
    await mtuReaches(s, peer, 1452);
    const data = new SeededRandom(3).fill(new Uint8Array(1_000_000));
    assert.ok(bytesEqual(await upload(s, peer, data), data));
    assert.equal(s.getStats().mtu, 1452);
  });

  it('one end allowing 64 KiB, the other not: the smaller max_udp_payload_size wins both ways', async () => {
    const server = await net.bind();
    const client = await net.bind({ acceptIncoming: false, ...JUMBO });
    const { s, peer } = await net.connect(client, server);
    await mtuReaches(s, peer, 1452);
    const data = new SeededRandom(4).fill(new Uint8Array(1_000_000));
    assert.ok(bytesEqual(await upload(s, peer, data), data));
  });

  it('over ::1: the path MTU reaches 65488 (skipped without IPv6 loopback)', async function () {
    let server: Endpoint;
    try {
      server = await Endpoint.bind({ bind: '[::1]:0', ...JUMBO });
    } catch {
      this.skip();
    }
    net.endpoints.push(server);
    const client = await Endpoint.bind({ bind: '[::1]:0', acceptIncoming: false, ...JUMBO });
    net.endpoints.push(client);
    const { s, peer } = await net.connect(client, server);
    await mtuReaches(s, peer, LOOPBACK_MAX_UDP_PAYLOAD_V6);
    const data = new SeededRandom(5).fill(new Uint8Array(2_000_000));
    assert.ok(bytesEqual(await upload(s, peer, data), data));
  });
});
