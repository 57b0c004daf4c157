import assert from 'node:assert/strict';
import { LongPacketType } from '../../../src/quic/packet/header.js';
import { EARLY_HELD_MAX, EARLY_HELD_MS, EARLY_HELD_PER_KEY, EarlyHold } from '../../../src/quic/endpoint/early-hold.js';
import { TicketKeys, type ResumptionTicket } from '../../../src/tls/resumption.js';
import { StrikeRegister } from '../../../src/tls/anti-replay.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { Identities, Net } from './net.js';
import { connEvents, header, incoming } from './helpers.js';

const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';
const now = (): number => 1_000_000;

/** Packet types of the long-header packets coalesced in a datagram. */
function types(d: Uint8Array): number[] {
  const h = header(d);
  return h.kind === 'long' ? [h.type] : [];
}

describe('endpoint core: 0-RTT datagrams ahead of their Initial (RFC 9001 §4.6.1)', () => {
  it('held, then handed to the connection the Initial creates: the early data is not lost', () => {
    const ids = new Identities(31);
    const net = new Net(31);
    const tickets = { keys: new TicketKeys(new SeededRandom(3), now()), count: 2, lifetimeS: 3600, now, maxEarlyData: 0xffffffff, replay: new StrikeRegister() };
    const server = net.add(S, ids.server({ server: { tls: { ...ids.serverTls(), tickets } } }));
    const client = net.add(C, ids.client());
    const tls = ids.clientTls();
    const first = client.connect(0, S, { tls: { ...tls, now } });
    net.drive(() => first.connection.isConnected && connEvents(net, C, first.handle).some((e) => e.type === 'sessionTicket'));
    const ev = connEvents(net, C, first.handle).find((e) => e.type === 'sessionTicket');
    const ticket = (ev as { ticket: ResumptionTicket }).ticket;
    // The second connection's first flight: Initial + 0-RTT, then 0-RTT only; the link swaps them.
    let held: Uint8Array | undefined;
    net.tap = (d) => {
      if (d.from !== C) return [d.bytes];
      if (!held && types(d.bytes)[0] === LongPacketType.Initial) {
        held = d.bytes;
        return [];
      }
      if (held && types(d.bytes)[0] === LongPacketType.ZeroRtt) {
        const h = held;
        held = new Uint8Array(0);
        return [d.bytes, h];
      }
      return [d.bytes];
    };
    const second = client.connect(net.now, S, { tls: { ...tls, now, resumption: ticket, earlyData: true } });
    const c = second.connection;
    const id = c.openStream('bidi')!;
    const data = new Uint8Array(2500).map((_, i) => i & 0xff);
    c.writeStream(id, data);
    c.finishStream(id);
    net.drive(() => incoming(net, S).length === 2);
    assert.equal(server.stats.earlyDatagramsHeld, 1, 'the 0-RTT datagram that came first was held');
    const sc = incoming(net, S)[1]!.connection;
    net.drive(() => sc.earlyData !== 'none');
    assert.equal(sc.earlyData, 'accepted');
    assert.equal(sc.handshakeComplete, false);
    // Both 0-RTT datagrams' data is there before the handshake completes: nothing re-sent.
    assert.equal(sc.acceptStream('bidi'), id);
    let got = 0;
    for (let b = sc.readStream(id); b && b.length > 0; b = sc.readStream(id)) got += b.length;
    assert.equal(got, data.length);
    assert.equal(sc.handshakeComplete, false);
  });

  it('bounded: per client, in all, and in time', () => {
    const h = new EarlyHold();
    const d = new Uint8Array(1200);
    for (let i = 0; i < EARLY_HELD_PER_KEY; i++) assert.equal(h.hold(0, 'a', d), true);
    assert.equal(h.hold(0, 'a', d), false, 'per client');
    let n = EARLY_HELD_PER_KEY;
    for (let k = 0; n < EARLY_HELD_MAX; k++) for (let i = 0; i < EARLY_HELD_PER_KEY && n < EARLY_HELD_MAX; i++, n++) assert.equal(h.hold(0, `k${k}`, d), true);
    assert.equal(h.hold(0, 'other', d), false, 'in all');
    assert.equal(h.size, EARLY_HELD_MAX);
    assert.equal(h.take('a')?.length, EARLY_HELD_PER_KEY);
    assert.equal(h.take('a'), undefined);
    assert.equal(h.hold(EARLY_HELD_MS, 'late', d), true, 'expired entries make room');
    assert.equal(h.size, 1);
  });
});
