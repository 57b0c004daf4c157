import assert from 'node:assert/strict';
import { StreamReceiver, StreamSender } from '../../harness/apps.js';
import { Identities, Net } from './net.js';
import { incoming, payload } from './helpers.js';
import { HeaderProtectionBatch } from '../../../src/quic/crypto/header-protection.js';

/**
 * A dial with several addresses of one server (direct ones, relay paths: src/quic/connection/paths.ts
 * `alternateAddresses`): every datagram goes to each until the server answers on one, which the
 * connection keeps; the others get nothing more. Endpoint cores on a simulated network, virtual time.
 */
const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';
/** Addresses of the server that reach nobody (a stale address, a host behind a NAT). */
const DEAD1 = '192.0.2.1:443';
const DEAD2 = '192.0.2.2:443';
/** A second address of the same server (its NAT's public side, a relay path...). */
const S2 = '10.0.0.3:443';

function dial(seed: number, first: string, others: string[], extra?: (net: Net) => void, server: Parameters<Identities['server']>[0] = {}, batchHeaderProtection = false) {
  const ids = new Identities(seed);
  const net = new Net(seed);
  if (batchHeaderProtection) net.headerProtection = new HeaderProtectionBatch();
  net.add(S, ids.server(server));
  const cep = net.add(C, ids.client());
  extra?.(net);
  const { connection: cc } = cep.connect(0, first, { tls: ids.clientTls(), alternateAddresses: others });
  net.drive(() => cc.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
  return { net, cc, sc: incoming(net, S)[0]!.connection };
}

function sentTo(net: Net, to: string): number {
  return net.sent.filter((d) => d.from === C && d.to === to).length;
}

describe('dialling several addresses of one server: the first to answer wins', () => {
  it('the first address is dead: the handshake completes on the second at once (no timeout), and the dead one gets only the first flight', () => {
    const { net, cc } = dial(5, DEAD1, [S, DEAD2]);
    assert.equal(cc.remoteAddress, S);
    assert.ok(net.now < 200, `connected at ${net.now} ms: no waiting for a timeout`);
    const deadBefore = sentTo(net, DEAD1);
    assert.ok(deadBefore >= 1, 'the first flight went to every address');
    assert.equal(sentTo(net, DEAD2), deadBefore, 'each address got the same copies');
    assert.deepEqual(cc.copyAddresses, [], 'no more copies once the server answered');
    // A transfer afterwards never touches the dead addresses.
    const data = payload(200_000, 3);
    const tx = new StreamSender(cc, data, 'bidi');
    net.onStep.push(() => tx.pump());
    net.runFor(1_000);
    assert.equal(sentTo(net, DEAD1), deadBefore);
    assert.equal(sentTo(net, DEAD2), deadBefore);
    assert.ok(sentTo(net, S) > 100);
  });

  it('with header protection batched by the driver, the copies are of the protected datagram: the same bytes to every address, and the dial succeeds on the live one', () => {
    const { net, cc } = dial(5, DEAD1, [S, DEAD2], undefined, {}, true);
    assert.equal(cc.remoteAddress, S);
    const first = (to: string): Uint8Array => net.sent.find((d) => d.from === C && d.to === to)!.bytes;
    assert.deepEqual(first(DEAD1), first(S));
    assert.deepEqual(first(DEAD2), first(S));
    // The same seed without the batch puts the same first datagram on the wire.
    assert.deepEqual(dial(5, DEAD1, [S, DEAD2]).net.sent.find((d) => d.from === C && d.to === S)!.bytes, first(S));
  });

  it('without multipath, datagrams from an address that is not one of the server\'s are still discarded', () => {
    const { net, cc } = dial(8, DEAD1, [S], undefined, { transport: { multipath: false } });
    const before = cc.getStats().datagramsFromUnknownAddress;
    const fromServer = net.sent.filter((d) => d.from === S && d.to === C).at(-1)!;
    net.inject('10.0.0.66:9', C, fromServer.bytes);
    net.runFor(50);
    assert.equal(cc.getStats().datagramsFromUnknownAddress, before + 1);
    assert.equal(cc.remoteAddress, S);
  });

  it('with n0 NAT traversal (the default), a datagram from an address that is not one of the server\'s is not dropped unread (a probe may come from there) but never followed', () => {
    const { net, cc } = dial(8, DEAD1, [S]);
    const fromServer = net.sent.filter((d) => d.from === S && d.to === C).at(-1)!;
    net.inject('10.0.0.66:9', C, fromServer.bytes);
    net.runFor(50);
    assert.equal(cc.getStats().datagramsFromUnknownAddress, 0);
    assert.equal(cc.remoteAddress, S);
    assert.equal(sentTo(net, '10.0.0.66:9'), 0);
  });

  it('a forged datagram from another of the addresses does not pick the path: only a packet that opens does', () => {
    const ids = new Identities(9);
    const net = new Net(9);
    net.add(S, ids.server());
    const cep = net.add(C, ids.client());
    // A datagram that claims to come from DEAD1 (a spoofed source), arriving before the server's
    // answer: a copy of that answer with everything past its first header corrupted, so it routes
    // to the client's connection but no packet of it opens.
    net.link(DEAD1, C).config.delayMs = 1;
    let forged = false;
    net.tap = (d) => {
      if (!forged && d.from === S && d.to === C) {
        forged = true;
        const bad = d.bytes.slice();
        for (let i = 80; i < bad.length; i++) bad[i]! ^= 0x5a;
        net.inject(DEAD1, C, bad);
      }
      return [d.bytes];
    };
    const { connection: cc } = cep.connect(0, S, { tls: ids.clientTls(), alternateAddresses: [DEAD1] });
    net.drive(() => cc.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    assert.ok(forged, 'the forged datagram was sent');
    assert.equal(cc.remoteAddress, S, 'the path is the address a packet opened from');
  });

  it('two live addresses of the same server: one connection (the copies are duplicates of one Initial), on the address that answered first', () => {
    const { net, cc, sc } = dial(6, S2, [S], (n) => {
      // S2 reaches the same server, 40 ms further away than S (links are 10 ms); it answers from S.
      n.alias(S2, S);
      n.link(C, S2).config.delayMs = 50;
    });
    assert.equal(incoming(net, S).length, 1, 'the server accepted one connection');
    assert.equal(cc.remoteAddress, S, 'the address the server answered from');
    assert.deepEqual(cc.copyAddresses, []);
    const rx = new StreamReceiver(() => sc);
    const data = payload(100_000, 4);
    const tx = new StreamSender(cc, data, 'bidi');
    net.onStep.push(() => {
      tx.pump();
      rx.pump();
    });
    net.drive(() => rx.streams.get(tx.id)?.ended === true);
    assert.deepEqual(rx.data(tx.id), data);
  });

  it('a server never copies: alternates are a client option only, and a single-address dial sends nothing elsewhere', () => {
    const { net, cc } = dial(7, S, []);
    assert.deepEqual(cc.copyAddresses, []);
    assert.deepEqual([...new Set(net.sent.filter((d) => d.from === C).map((d) => d.to))], [S]);
  });
});
