import assert from 'node:assert/strict';
import { StreamReceiver, StreamSender } from '../../harness/apps.js';
import { HeaderProtectionBatch, HeaderProtectionPrimer } from '../../../src/quic/crypto/header-protection.js';
import { Identities, Net } from './net.js';
import { incoming, payload } from './helpers.js';

/**
 * Header protection by the burst, as the UDP driver does it, on endpoint cores: masks computed
 * for a burst of datagrams to send (HeaderProtectionBatch) and for a burst received
 * (EndpointCore.primeHeaderProtection + HeaderProtectionPrimer). Either way the wire and the
 * outcome are those of protection packet by packet. Virtual time, a simulated network.
 */
const S = '10.0.0.1:443';
const C = '10.0.0.2:5000';

function transfer(seed: number, bursts: boolean): { net: Net; received: number; primer: HeaderProtectionPrimer | null } {
  const ids = new Identities(seed);
  // 50 Mbit/s: several datagrams arrive per step (a burst to prime).
  const net = new Net(seed, { delayMs: 2, bandwidthBps: 50e6, dropRate: 0.01 });
  const primer = bursts ? new HeaderProtectionPrimer() : null;
  if (bursts) {
    net.headerProtection = new HeaderProtectionBatch();
    net.primer = primer;
  }
  net.add(S, ids.server());
  const cep = net.add(C, ids.client());
  const { connection: cc } = cep.connect(0, S, { tls: ids.clientTls() });
  net.drive(() => cc.isConnected && incoming(net, S)[0]?.connection.isConnected === true);
  const sc = incoming(net, S)[0]!.connection;
  const data = payload(300_000, seed);
  const tx = new StreamSender(cc, data, 'uni');
  const rx = new StreamReceiver(() => sc);
  net.onStep.push(() => tx.pump(), () => rx.pump());
  net.drive(() => rx.streams.get(tx.id)?.ended === true);
  return { net, received: rx.streams.get(tx.id)!.bytes, primer };
}

describe('header protection by the burst on endpoint cores ([perf2])', () => {
  for (const seed of [41, 42]) {
    it(`the same datagrams on the wire and the same bytes delivered as packet by packet (seed ${seed}, 1% loss); received masks come from the primer`, () => {
      const a = transfer(seed, false);
      const b = transfer(seed, true);
      assert.equal(a.received, 300_000);
      assert.equal(b.received, 300_000);
      assert.equal(b.net.sent.length, a.net.sent.length);
      for (let i = 0; i < a.net.sent.length; i++) assert.deepEqual(b.net.sent[i]!.bytes, a.net.sent[i]!.bytes, `datagram ${i}`);
      const shortHeaders = b.net.sent.filter((d) => (d.bytes[0]! & 0x80) === 0).length;
      // Most short-header datagrams reach a core with 1-RTT keys and are primed (lost ones are not).
      assert.ok(b.primer!.hits > 0.8 * shortHeaders, `${b.primer!.hits} primed masks for ${shortHeaders} short-header datagrams`);
    });
  }
});
