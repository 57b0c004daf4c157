import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { StreamReceiver, StreamSender, run } from '../../harness/apps.js';
import { bytesEqual } from '../../../src/codec/bytes.js';
import { resolveTransportConfig } from '../../../src/quic/transport-config.js';

/** TransportConfig.insecureNullKeys: the benchmark mode that measures protocol logic alone. */
describe('connection: insecure null keys (benchmarks only)', () => {
  const marker = new TextEncoder().encode('PLAINTEXT-MARKER-0123456789');

  function transfer(p: Pair): boolean {
    p.handshake();
    const data = new Uint8Array(200_000);
    for (let i = 0; i < data.length; i += marker.length) data.set(marker.subarray(0, Math.min(marker.length, data.length - i)), i);
    const tx = new StreamSender(p.client, data, 'uni');
    const rx = new StreamReceiver(() => p.server);
    run(p, [tx, rx], () => rx.streams.get(tx.id)?.ended === true);
    return bytesEqual(rx.data(tx.id), data);
  }

  function seen(p: Pair): { plain: boolean } {
    const r = { plain: false };
    p.onSend = (_from, bytes) => {
      for (let i = 0; i + marker.length <= bytes.length && !r.plain; i++) {
        if (bytes[i] === marker[0] && bytesEqual(bytes.subarray(i, i + marker.length), marker)) r.plain = true;
      }
    };
    return r;
  }

  it('both ends with null keys: the handshake authenticates, data flows in clear, key updates work', () => {
    const p = new Pair({ clientTransport: { insecureNullKeys: true }, serverTransport: { insecureNullKeys: true } });
    const wire = seen(p);
    assert.ok(transfer(p), 'byte for byte');
    assert.equal(wire.plain, true, 'stream bytes are visible on the wire');
    assert.equal(p.server!.peerPublicKey?.length, 32, 'TLS still authenticated the client');
    assert.ok(p.client.initiateKeyUpdate(p.now));
    p.runFor(500);
    assert.ok(p.client.getStats().keyUpdates >= 1);
  });

  it('real keys never put stream bytes on the wire in clear (the check above can fail)', () => {
    const p = new Pair();
    const wire = seen(p);
    assert.ok(transfer(p));
    assert.equal(wire.plain, false);
  });

  it('one end with null keys cannot talk to one with real keys', () => {
    const p = new Pair({ clientTransport: { insecureNullKeys: true, handshakeTimeoutMs: 2000 } });
    assert.throws(() => p.handshake(5_000));
    assert.equal(p.client.isConnected, false);
  });

  it('is off by default and validated', () => {
    assert.equal(resolveTransportConfig().insecureNullKeys, false);
    assert.throws(() => resolveTransportConfig({ insecureNullKeys: 'yes' as unknown as boolean }), /insecureNullKeys: must be a boolean/);
  });
});
