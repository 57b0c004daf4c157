import assert from 'node:assert/strict';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { LongPacketType } from '../../../src/quic/packet/header.js';
import { Identities, Net } from './net.js';
import { header, incoming } from './helpers.js';

const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';

/** The NEW_TOKEN tokens the client at C got (its connection events). */
function tokensAt(net: Net, at: string): Uint8Array[] {
  return net.eventsOf(at).flatMap((e) => (e.type === 'connection' && e.event.type === 'newToken' ? [e.event.token] : []));
}

function retries(net: Net): number {
  return net.sent.filter((d) => d.from === S && header(d.bytes).kind === 'retry').length;
}

describe('endpoint core: NEW_TOKEN (RFC 9000 §8.1.3)', () => {
  it("the server sends one after the handshake; presented on the next connection, retry 'always' sends no Retry", () => {
    const ids = new Identities(21);
    const net = new Net(21);
    const server = net.add(S, ids.server({ retry: 'always' }));
    const client = net.add(C, ids.client());
    const first = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => first.connection.isConnected && tokensAt(net, C).length > 0);
    assert.equal(retries(net), 1, 'the first connection had no token: one Retry');
    const [token] = tokensAt(net, C);
    assert.equal(tokensAt(net, C).length, 1);
    const sentBefore = net.sent.length;
    const second = client.connect(net.now, S, { tls: ids.clientTls(), token: token! });
    net.drive(() => second.connection.isConnected);
    assert.equal(retries(net), 1, 'no second Retry');
    const initials = net.sent.slice(sentBefore).filter((d) => d.from === C).map((d) => header(d.bytes)).filter((h) => h.kind === 'long' && h.type === LongPacketType.Initial);
    assert.ok(initials.length > 0 && initials.every((h) => h.kind === 'long' && bytesEqual(h.token, token!)));
    const sc = incoming(net, S)[1]!.connection;
    assert.equal(sc.internals.paths.current.validated, true, 'the token validated the address at once');
    assert.equal(server.stats.invalidTokens, 0);
  });

  it('a lost NEW_TOKEN is sent again', () => {
    const ids = new Identities(22);
    const net = new Net(22);
    net.add(S, ids.server());
    const client = net.add(C, ids.client());
    let dropped = 0;
    net.tap = (d) => {
      // Drop the server's 1-RTT packets for a while once the handshake is done on its side.
      if (d.from === S && header(d.bytes).kind === 'short' && dropped < 3) {
        dropped++;
        return null;
      }
      return [d.bytes];
    };
    const { connection } = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => connection.isConnected && tokensAt(net, C).length > 0);
    assert.ok(dropped >= 1);
    assert.equal(tokensAt(net, C).length, 1);
  });

  it('a token presented from another host is not a validated address (a Retry then)', () => {
    const ids = new Identities(23);
    const net = new Net(23);
    net.add(S, ids.server({ retry: 'always' }));
    const client = net.add(C, ids.client());
    const first = client.connect(0, S, { tls: ids.clientTls() });
    net.drive(() => first.connection.isConnected && tokensAt(net, C).length > 0);
    const other = '10.0.0.3:6000';
    const c2 = net.add(other, ids.client());
    const second = c2.connect(net.now, S, { tls: ids.clientTls(), token: tokensAt(net, C)[0]! });
    net.drive(() => second.connection.isConnected);
    assert.equal(retries(net), 2);
  });
});
