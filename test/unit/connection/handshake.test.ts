import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';

describe('connection: handshake (sans-IO, virtual time)', () => {
  it('completes a handshake with mutual raw-public-key authentication', () => {
    const p = new Pair({ link: { delayMs: 10 } });
    p.handshake();
    assert.ok(p.client.isConnected);
    assert.ok(p.server!.isConnected);
    assert.equal(p.client.alpn, 'test/1');
    assert.equal(p.server!.peerPublicKey?.length, 32);
  });
});
