import assert from 'node:assert/strict';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8 } from '../../../src/codec/bytes.js';
import { TransportErrorCode } from '../../../src/quic/errors.js';
import { LongPacketType } from '../../../src/quic/packet/header.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { StreamReceiver, StreamSender } from '../../harness/apps.js';
import { Identities, Net } from './net.js';
import { buildInitial, buildShort, closeReason, header, incoming, payload } from './helpers.js';

const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';

function retriesFrom(net: Net, from: string): Uint8Array[] {
  return net.sent.filter((d) => d.from === from && header(d.bytes).kind === 'retry').map((d) => d.bytes);
}

describe('endpoint core: Retry and address-validation tokens (RFC 9000 §8.1)', () => {
  it("retry 'always': one Retry, the client's next Initials carry its token, the server connection starts validated", () => {
    const ids = new Identities(11);
    const net = new Net(11);
    const server = net.add(S, ids.server({ retry: 'always' }));
    const client = net.add(C, ids.client());
    const { connection } = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => incoming(net, S).length > 0);
    const sc = incoming(net, S)[0]!.connection;
    assert.equal(sc.internals.paths.current.validated, true, 'validated by the token before the client sent any Handshake packet');
    assert.equal(sc.isConnected, false);
    net.drive(() => connection.isConnected && sc.isConnected);

    const retries = retriesFrom(net, S);
    assert.equal(retries.length, 1);
    assert.equal(server.stats.retriesSent, 1);
    const rh = header(retries[0]!);
    assert.ok(rh.kind === 'retry');
    const retryAt = net.sent.findIndex((d) => d.bytes === retries[0]);
    const clientInitials = net.sent.filter((d) => d.from === C).map((d) => header(d.bytes)).filter((h) => h.kind === 'long' && h.type === LongPacketType.Initial);
    assert.ok(clientInitials.length >= 2);
    const first = clientInitials[0]!;
    assert.ok(first.kind === 'long' && first.token.length === 0, 'the first Initial has no token');
    const after = net.sent.slice(retryAt).filter((d) => d.from === C).map((d) => header(d.bytes)).filter((h) => h.kind === 'long' && h.type === LongPacketType.Initial);
    assert.ok(after.length >= 1);
    for (const h of after) {
      assert.ok(h.kind === 'long');
      assert.ok(bytesEqual(h.token, rh.token), 'every Initial after the Retry repeats its token');
    }
    const next = after[0]!;
    assert.ok(next.kind === 'long' && bytesEqual(next.dcid, rh.scid), 'the Initial answering the Retry uses its SCID as DCID');
    assert.equal(server.connectionCount, 1);
    // Data flows after a Retry like after any handshake.
    const data = payload(30_000);
    const tx = new StreamSender(connection, data);
    const rx = new StreamReceiver(() => sc);
    net.onStep.push(() => [tx, rx].forEach((x) => x.pump()));
    net.drive(() => rx.streams.get(tx.id)?.ended === true);
    assert.ok(bytesEqual(rx.data(tx.id), data));
  });

  it('a forged Retry token is answered with INVALID_TOKEN and creates nothing', () => {
    const ids = new Identities(12);
    const net = new Net(12);
    const server = net.add(S, ids.server({ retry: 'always' }));
    const client = net.add(C, ids.client());
    const first = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => first.connection.isConnected);
    const rh = header(retriesFrom(net, S)[0]!);
    assert.ok(rh.kind === 'retry');
    const forged = rh.token.slice();
    forged[forged.length - 1]! ^= 0x01;
    const { handle, connection } = client.connect(net.now, S, { tls: ids.clientTls(), token: forged });
    net.drive(() => connection.isClosed);
    const reason = closeReason(net, C, handle);
    assert.equal(reason?.kind, 'transport');
    assert.equal(reason?.code, TransportErrorCode.INVALID_TOKEN);
    assert.equal(reason?.remote, true);
    assert.equal(server.stats.invalidTokens, 1);
    assert.equal(server.connectionCount, 1, 'only the first connection');
    assert.equal(incoming(net, S).length, 1);
  });

  it('an expired Retry token is rejected with INVALID_TOKEN', () => {
    const ids = new Identities(13);
    const net = new Net(13);
    const server = net.add(S, ids.server({ retry: 'always', retryTokenLifetimeMs: 10_000 }));
    const client = net.add(C, ids.client({ transport: { handshakeTimeoutMs: 120_000, maxIdleTimeoutMs: 120_000 } }));
    let held: Uint8Array | undefined;
    net.tap = (d) => {
      if (d.from !== C) return [d.bytes];
      const h = header(d.bytes);
      if (h.kind === 'long' && h.token.length > 0) {
        held ??= d.bytes.slice(); // the Initial answering the Retry is delayed 11 s
        return null;
      }
      return [d.bytes];
    };
    const { handle, connection } = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => held !== undefined);
    net.tap = undefined;
    const before = server.stats.invalidTokens;
    net.now += 11_000;
    server.handleDatagram(net.now, C, held!);
    assert.equal(server.stats.invalidTokens, before + 1);
    assert.equal(server.connectionCount, 0);
    net.drive(() => connection.isClosed);
    assert.equal(closeReason(net, C, handle)?.code, TransportErrorCode.INVALID_TOKEN);
  });

  it('a damaged Initial with a bad Retry token is dropped, not answered with INVALID_TOKEN (RFC 9000 §8.1.2 "otherwise valid")', () => {
    const ids = new Identities(14);
    const server = ids.server({ retry: 'always' });
    const dcid = new SeededRandom(5).fill(new Uint8Array(8));
    const bad = buildInitial(dcid, new Uint8Array(8).fill(1), 1200, new Uint8Array([0x01, ...new Uint8Array(40)]));
    bad[900]! ^= 0xff;
    server.handleDatagram(0, C, bad);
    assert.equal(server.pollTransmit(0, new Uint8Array(1500)), null);
    assert.equal(server.stats.invalidTokens, 1);
    assert.equal(server.stats.droppedUnauthenticated, 1);
  });

  it('an invalid token that does not claim to be a Retry token is ignored: the client gets a Retry (RFC 9000 §8.1.3)', () => {
    const ids = new Identities(15);
    const net = new Net(15);
    const server = net.add(S, ids.server({ retry: 'always' }));
    const client = net.add(C, ids.client());
    const { connection } = client.connect(0, S, { tls: ids.clientTls(), token: new Uint8Array(40).fill(0x02) });
    net.drive(() => connection.isConnected);
    assert.equal(server.stats.invalidTokens, 1);
    assert.equal(server.stats.retriesSent, 1);
  });

  it('a NEW_TOKEN token from this endpoint skips the Retry and validates the address', () => {
    const ids = new Identities(16);
    const net = new Net(16);
    const server = net.add(S, ids.server({ retry: 'always' }));
    const client = net.add(C, ids.client());
    const first = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => first.connection.isConnected);
    const token = server.issueNewToken(net.now, incoming(net, S)[0]!.handle)!;
    const retries = server.stats.retriesSent;
    const second = client.connect(net.now, S, { tls: ids.clientTls(), token });
    net.drive(() => incoming(net, S).length === 2);
    assert.equal(incoming(net, S)[1]!.connection.internals.paths.current.validated, true);
    net.drive(() => second.connection.isConnected);
    assert.equal(server.stats.retriesSent, retries, 'no Retry for the second connection');
  });
});

describe('endpoint core: stateless reset (RFC 9000 §10.3)', () => {
  it('a short-header packet for an unknown CID gets a smaller reset ending with HMAC(key, cid)', () => {
    const ids = new Identities(21);
    const key = ids.staticKey();
    const ep = ids.server({}, key);
    const out = new Uint8Array(1500);
    const sub = hkdf(sha256, key, utf8('quic-peer endpoint'), utf8('stateless reset token'), 32);
    for (const [n, expect] of [[22, 21], [43, 42], [44, -1], [1200, -1]] as const) {
      const cid = new SeededRandom(n).fill(new Uint8Array(8));
      ep.handleDatagram(n, C, buildShort(cid, n, n));
      const t = ep.pollTransmit(n, out);
      assert.ok(t, `a reset for ${n} bytes`);
      assert.equal(t.address, C);
      if (expect > 0) assert.equal(t.length, expect);
      else assert.ok(t.length >= 42 && t.length <= 64);
      assert.ok(t.length < n, 'strictly smaller than the trigger');
      assert.equal(out[0]! & 0xc0, 0x40, 'looks like a short header');
      assert.deepEqual(out.subarray(t.length - 16, t.length), hmac(sha256, sub, cid).subarray(0, 16));
    }
    for (const n of [1, 9, 15, 21]) ep.handleDatagram(100, C, buildShort(new Uint8Array(8), n));
    assert.equal(ep.pollTransmit(100, out), null, 'no reset for 21 bytes or fewer');
    const noFixed = buildShort(new Uint8Array(8), 100);
    noFixed[0]! &= 0x3f;
    ep.handleDatagram(100, C, noFixed);
    assert.equal(ep.pollTransmit(100, out), null, 'no reset for a packet without the fixed bit');
    assert.equal(ep.stats.statelessResetsSent, 4);
  });

  it('is rate-limited (statelessResetRate)', () => {
    const ids = new Identities(22);
    const ep = ids.server({ statelessResetRate: { perSecond: 10, burst: 5 } });
    const out = new Uint8Array(1500);
    const count = (now: number, n: number): number => {
      for (let i = 0; i < n; i++) ep.handleDatagram(now, C, buildShort(new SeededRandom(i + now).fill(new Uint8Array(8)), 100, i));
      let k = 0;
      while (ep.pollTransmit(now, out)) k++;
      return k;
    };
    assert.equal(count(0, 20), 5, 'the burst');
    assert.equal(ep.stats.statelessResetsRateLimited, 15);
    assert.equal(count(500, 20), 5, '10/s for half a second');
    assert.equal(count(10_000, 50), 5, 'never more than the burst');
  });

  it("a restarted server (same static key) resets the client's connection: draining with kind 'reset'", () => {
    const ids = new Identities(23);
    const net = new Net(23);
    const key = ids.staticKey();
    net.add(S, ids.server({}, key));
    const client = net.add(C, ids.client());
    const { handle, connection } = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    net.settle(200);
    // The server loses its state; a fresh endpoint with the same secret takes its address.
    const restarted = net.add(S, ids.server({}, key));
    const mark = net.sent.length;
    const id = connection.openStream('bidi')!;
    connection.writeStream(id, payload(3000));
    net.drive(() => connection.isClosed);
    const reason = closeReason(net, C, handle);
    assert.equal(reason?.kind, 'reset');
    assert.equal(reason?.remote, true);
    assert.ok(client.stats.statelessResetsReceived >= 1);
    assert.ok(restarted.stats.statelessResetsSent >= 1);
    const resets = net.sent.slice(mark).filter((d) => d.from === S);
    const triggers = net.sent.slice(mark).filter((d) => d.from === C);
    assert.ok(resets.length >= 1);
    assert.ok(resets[0]!.bytes.length < triggers[0]!.bytes.length);
    net.drive(() => client.connectionCount === 0);
    assert.equal(client.connection(handle), undefined);
  });
});
