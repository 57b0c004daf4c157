import assert from 'node:assert/strict';
import { Pair } from '../../harness/pair.js';
import { sealFrom, frameBytes } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';
import { initialKeys, openPacket, parseFrames, cryptoStream } from '../../interop/wire.js';
import { tryParsePacketHeader } from '../../../src/quic/packet/header.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';

/**
 * A CRYPTO frame that installs new read keys makes the connection process the packets it had
 * buffered for them (RFC 9001 §5.7) while the packet holding that CRYPTO frame is still being
 * read. The frames after the CRYPTO frame in that packet must still be processed.
 */
describe('connection: frames after a key-installing CRYPTO frame', () => {
  it('a CONNECTION_CLOSE after the ServerHello is processed, although buffered Handshake packets were replayed in between', () => {
    const p = new Pair({ seed: testSeed(91), serverToClient: { dropRate: 1 } });
    const serverDatagrams: Uint8Array[] = [];
    p.onSend = (from, bytes) => {
      if (from === 'server') serverDatagrams.push(bytes.slice());
    };
    p.drive(() => serverDatagrams.length > 0, 5_000);
    const server = p.server!;
    const client = p.client;

    // The server's first datagram: its Initial (ServerHello), then its Handshake packet(s).
    const first = serverDatagrams[0]!;
    const keys = initialKeys(client.originalDestinationCid);
    const { packet, next } = openPacket(first, 0, (s) => (s === 'initial' ? keys.s2c : undefined), 8);
    assert.equal(packet?.space, 'initial');
    const sh = cryptoStream(parseFrames(packet!.payload).flatMap((f) => (f.type === 'crypto' ? [{ offset: f.offset, data: f.data }] : [])));
    const hsHeader = tryParsePacketHeader(first, next, 8);
    assert.equal(hsHeader.kind, 'long');
    const handshakePacket = first.slice(next);

    // The Handshake packet first: the client has no Handshake keys yet and buffers it.
    client.handleDatagram(p.now, handshakePacket);
    assert.equal(client.isClosed, false);
    // Then an Initial whose CRYPTO frame (the ServerHello) is followed by a CONNECTION_CLOSE.
    const payload = frameBytes(
      { kind: 'crypto', offset: 0, data: sh },
      { kind: 'connectionClose', application: false, errorCode: 0x0a, frameType: 0, reason: new TextEncoder().encode('after the hello') },
    );
    const sealed = sealFrom(server, p.now, PacketSpace.Initial, payload);
    assert.ok(sealed);
    client.handleDatagram(p.now, sealed);
    assert.ok(client.internals.keys.canRead(PacketSpace.Handshake), 'the ServerHello installed the Handshake keys');
    assert.equal(client.isClosed || client.state === 'draining', true, `state ${client.state}`);
    assert.equal(Number(client.closeInfo?.code), 0x0a);
    assert.equal(client.closeInfo?.remote, true);
  });
});
