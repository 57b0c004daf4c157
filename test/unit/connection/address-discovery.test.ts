import assert from 'node:assert/strict';
import { Pair, SERVER_ADDRESS } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';
import { AddressDiscovery, MAX_ANNOUNCED } from '../../../src/quic/connection/address-discovery.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import type { ObservedAddressFrame } from '../../../src/quic/frames/frame.js';
import type { ConnectionEvent } from '../../../src/quic/events.js';

/** QUIC Address Discovery (draft-seemann-quic-address-discovery as noq speaks it): address-discovery.ts. */

const report = (sequence: number, ip: number[], port: number): ObservedAddressFrame => ({ kind: 'observedAddress', sequence, ip: Uint8Array.from(ip), port });

function observed(events: readonly ConnectionEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'observedAddress' ? [e.address] : []));
}

describe('QUIC Address Discovery (OBSERVED_ADDRESS, transport parameter 0x9f81a176)', () => {
  it('roles: who reports to whom (0 send only, 1 receive only, 2 both)', () => {
    const cases: Array<[0 | 1 | 2, 0 | 1 | 2 | null, boolean, boolean]> = [
      [2, 2, true, true],
      [2, 0, false, true],
      [2, 1, true, false],
      [0, 1, true, false],
      [0, 0, false, false],
      [1, 1, false, false],
      [1, 0, false, true],
      [2, null, false, false],
    ];
    for (const [local, peer, sends, receives] of cases) {
      const q = new AddressDiscovery(local);
      q.start(peer);
      assert.equal(q.pending(0, '192.0.2.7:4433') !== undefined, sends, `${local}/${peer} sends`);
      if (receives) assert.equal(q.onReport(0, report(0, [198, 51, 100, 1], 9)), '198.51.100.1:9');
      else assert.throws(() => q.onReport(0, report(0, [198, 51, 100, 1], 9)), (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION, `${local}/${peer}`);
      assert.equal(q.negotiated, sends || receives);
    }
  });

  it('reports once per path and address; a lost report is owed again with a new number; relay paths get none', () => {
    const q = new AddressDiscovery(2);
    q.start(2);
    const a = q.pending(0, '192.0.2.7:4433')!;
    assert.deepEqual(a, report(0, [192, 0, 2, 7], 4433));
    q.onSent(0, '192.0.2.7:4433');
    assert.equal(q.pending(0, '192.0.2.7:4433'), undefined, 'reported');
    q.onLost(0, '192.0.2.7:4433');
    assert.equal(q.pending(0, '192.0.2.7:4433')!.sequence, 1, 'owed again, numbered anew');
    q.onSent(0, '192.0.2.7:4433');
    // A migration: the new address is owed; the loss of the old report no longer matters.
    const b = q.pending(0, '[2001:db8::1]:5000')!;
    assert.equal(b.ip.length, 16);
    assert.equal(b.sequence, 2);
    q.onSent(0, '[2001:db8::1]:5000');
    q.onLost(0, '192.0.2.7:4433');
    assert.equal(q.pending(0, '[2001:db8::1]:5000'), undefined);
    assert.equal(q.pending(1, 'relay:abcd@https://relay.example/'), undefined, 'a relay path has no IP address to report');
    assert.equal(q.pending(1, 'relay:abcd@https://relay.example/'), undefined);
    assert.equal(q.stats.reportsSent, 3);
  });

  it('received reports: per path id, only a higher sequence number counts; a report before the negotiation is dropped', () => {
    const early = new AddressDiscovery(2);
    assert.equal(early.onReport(0, report(0, [10, 0, 0, 1], 1)), null, 'before the handshake completed');
    const q = new AddressDiscovery(2);
    q.start(2);
    assert.equal(q.onReport(0, report(5, [203, 0, 113, 9], 61000)), '203.0.113.9:61000');
    assert.equal(q.onReport(0, report(5, [203, 0, 113, 10], 61000)), null, 'same number: ignored');
    assert.equal(q.onReport(0, report(4, [203, 0, 113, 10], 61000)), null, 'older: ignored');
    assert.equal(q.onReport(0, report(6, [203, 0, 113, 9], 61000)), null, 'the same address again: nothing new');
    assert.equal(q.onReport(1, report(0, [203, 0, 113, 11], 61001)), '203.0.113.11:61001', 'another path id counts on its own');
    assert.equal(q.observed, '203.0.113.11:61001');
    const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1];
    assert.equal(q.onReport(0, report(7, v6, 443)), '[2001:db8::1]:443');
    q.forgetPath(1);
    assert.equal(q.onReport(1, report(0, [203, 0, 113, 12], 1)), '203.0.113.12:1', 'a forgotten path id starts over');
    assert.equal(q.stats.reportsReceived, 5);
    // A peer that keeps reporting new addresses is heard MAX_ANNOUNCED times, then only counted.
    let announced = 4;
    for (let k = 0; k < 40; k++) if (q.onReport(0, report(100 + k, [198, 18, 0, k], 1)) !== null) announced++;
    assert.equal(announced, MAX_ANNOUNCED);
    assert.equal(q.observed, '198.18.0.39:1');
  });

  it('between two peers that offer it: each learns the address the other sees it at, and again after a NAT rebinding', () => {
    const p = new Pair({ seed: testSeed(31), link: { delayMs: 10 }, clientTransport: { addressDiscovery: true }, serverTransport: { addressDiscovery: true } });
    p.handshake();
    p.runFor(200);
    assert.deepEqual(observed(p.clientEvents), [p.clientAddress]);
    assert.deepEqual(observed(p.serverEvents), [SERVER_ADDRESS]);
    const cs = p.client.getStats().addressDiscovery!;
    assert.equal(cs.observed, p.clientAddress);
    assert.equal(cs.reportsSent, 1);
    assert.equal(p.server!.getStats().addressDiscovery!.observed, SERVER_ADDRESS);
    // The client's NAT gives it a new port: the server follows (path validation) and reports it.
    p.rebindClient('192.0.2.2:6000');
    const id = p.client.openStream('bidi')!;
    p.client.writeStream(id, new Uint8Array(100));
    p.runFor(1_000);
    assert.deepEqual(observed(p.clientEvents), ['192.0.2.2:5000', '192.0.2.2:6000']);
    assert.equal(p.client.getStats().addressDiscovery!.observed, '192.0.2.2:6000');
  });

  it('offered by one side only: not negotiated, nothing sent; the other side reporting anyway is a PROTOCOL_VIOLATION', () => {
    const p = new Pair({ seed: testSeed(32), link: { delayMs: 10 }, clientTransport: { addressDiscovery: true }, serverTransport: { addressDiscovery: false } });
    p.handshake();
    p.runFor(200);
    assert.equal(p.client.getStats().addressDiscovery, null);
    assert.equal(p.server!.getStats().addressDiscovery, null);
    assert.deepEqual(observed(p.clientEvents), []);
    assert.equal(p.client.localTransportParameters.addressDiscovery, 2);
    assert.equal(p.server!.localTransportParameters.addressDiscovery, null);
    // Each way: the receiver did not agree to reports.
    for (const from of ['server', 'client'] as const) {
      const q = new Pair({ seed: testSeed(33), link: { delayMs: 10 }, clientTransport: { addressDiscovery: true }, serverTransport: { addressDiscovery: false } });
      q.handshake();
      q.runFor(100);
      injectPacket(q, from, frameBytes(report(0, [10, 0, 0, 1], 443)), PacketSpace.Application);
      q.runFor(50);
      assert.equal(q.conn(from === 'client' ? 'server' : 'client')!.closeInfo?.code, TransportErrorCode.PROTOCOL_VIOLATION, from);
    }
  });

  it("'auto' (the default) offers it with NAT traversal only (on by default with multipath)", () => {
    const byDefault = new Pair({ seed: testSeed(34), link: { delayMs: 10 } });
    assert.equal(byDefault.client.localTransportParameters.addressDiscovery, 2);
    const off = new Pair({ seed: testSeed(34), link: { delayMs: 10 }, clientTransport: { multipath: false } });
    assert.equal(off.client.localTransportParameters.addressDiscovery, null);
    const on = new Pair({ seed: testSeed(34), link: { delayMs: 10 }, clientTransport: { multipath: true } });
    assert.equal(on.client.localTransportParameters.addressDiscovery, 2);
    const noNat = new Pair({ seed: testSeed(34), link: { delayMs: 10 }, clientTransport: { multipath: true, natTraversal: false } });
    assert.equal(noNat.client.localTransportParameters.addressDiscovery, null);
    assert.throws(() => new Pair({ clientTransport: { addressDiscovery: 'yes' as unknown as boolean } }), /addressDiscovery: must be a boolean or 'auto'/);
  });
});
