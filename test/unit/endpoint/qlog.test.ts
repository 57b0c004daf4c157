import assert from 'node:assert/strict';
import { bytesEqual, toHex } from '../../../src/codec/bytes.js';
import type { QlogConnectionInfo } from '../../../src/quic/endpoint/endpoint-core.js';
import { QlogRecorder } from '../../../src/quic/connection/qlog.js';
import { Identities, Net } from './net.js';
import { buildInitial, incoming } from './helpers.js';

const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';

/** A qlog factory that records what it was asked and hands out recorders. */
function factory(): { asked: QlogConnectionInfo[]; sinks: QlogRecorder[]; make: (i: QlogConnectionInfo) => QlogRecorder } {
  const asked: QlogConnectionInfo[] = [];
  const sinks: QlogRecorder[] = [];
  return {
    asked,
    sinks,
    make: (i) => {
      asked.push(i);
      const r = new QlogRecorder();
      sinks.push(r);
      return r;
    },
  };
}

describe('endpoint core: qlog sinks per connection', () => {
  it('one sink per connection on each side, same ODCID, the server\'s from its first datagram on', () => {
    const ids = new Identities(31);
    const net = new Net(31);
    const sf = factory();
    const cf = factory();
    net.add(S, ids.server({ qlog: sf.make }));
    const client = net.add(C, ids.client({ qlog: cf.make }));
    net.now = 5;
    const { handle, connection } = client.connect(net.now, S, { tls: ids.clientTls() });
    net.drive(() => connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    assert.equal(cf.asked.length, 1);
    assert.equal(sf.asked.length, 1);
    assert.deepEqual({ ...cf.asked[0]!, odcid: toHex(cf.asked[0]!.odcid) }, { handle, role: 'client', odcid: toHex(connection.originalDestinationCid), now: 5 });
    assert.equal(sf.asked[0]!.role, 'server');
    assert.equal(sf.asked[0]!.handle, incoming(net, S)[0]!.handle);
    assert.ok(bytesEqual(sf.asked[0]!.odcid, cf.asked[0]!.odcid), 'both traces carry the client\'s first DCID');
    // The server's trace starts before the factory was asked: the first Initial's events were replayed.
    const s = sf.sinks[0]!;
    assert.equal(s.events[0]!.name, 'transport:parameters_set');
    const firstRx = s.named('transport:packet_received')[0]!;
    assert.equal(firstRx.data.header.packet_type, 'initial');
    assert.equal(firstRx.data.header.packet_number, 0);
    assert.equal(s.named('transport:packet_received').length, incoming(net, S)[0]!.connection.getStats().packetsReceived);
    assert.equal(cf.sinks[0]!.named('transport:packet_sent').length, connection.getStats().packetsSent);

    connection.close(net.now, 0, 'done');
    net.drive(() => client.connectionCount === 0);
    assert.equal(cf.sinks[0]!.closed, true, 'the sink closes when the connection terminates');
  });

  it('a forged Initial asks for no sink; a factory returning undefined traces nothing', () => {
    const ids = new Identities(32);
    const sf = factory();
    const server = ids.server({ qlog: sf.make });
    const d = buildInitial(new Uint8Array(8).fill(3), new Uint8Array(8).fill(4), 1200);
    d[600]! ^= 1;
    server.handleDatagram(0, C, d);
    assert.equal(server.connectionCount, 0);
    assert.equal(sf.asked.length, 0);

    const net = new Net(33);
    net.add(S, ids.server({ qlog: () => undefined }));
    const client = net.add(C, ids.client({ qlog: () => undefined }));
    const { connection } = client.connect(net.now, S, { tls: ids.clientTls() });
    net.drive(() => connection.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
    assert.equal(connection.internals.qlog, undefined);
    assert.equal(incoming(net, S)[0]!.connection.internals.qlog, undefined, 'the early recorder was detached');
  });
});
