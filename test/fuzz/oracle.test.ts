import assert from 'node:assert/strict';
import { toHex } from '../../src/codec/bytes.js';
import { PacketSpace } from '../../src/quic/packet/space.js';
import { Pair } from '../harness/pair.js';
import { corpus } from './corpus.js';
import { serialize, tokenize } from './fields.js';
import { Finding, checkBounds, closeOutcome, sealFrom, service } from './oracle.js';

/** The fuzzer's own parts, checked so that a quiet fuzz run means something. */
describe('fuzz harness: corpus, field view, sealing and oracles', () => {
  it('the corpus holds real packets of every space and the TLS messages of both handshakes', () => {
    const c = corpus();
    for (const space of [PacketSpace.Initial, PacketSpace.Handshake, PacketSpace.Application]) {
      assert.ok(c.payloads.some((p) => p.space === space && p.source === 'pair'), `space ${space}`);
    }
    assert.ok(c.payloads.some((p) => p.source === 'iroh'), 'iroh Initials');
    const types = new Set(c.tls.map((t) => t.message[0]));
    for (const t of [1, 2, 8, 11, 15, 20]) assert.ok(types.has(t), `TLS message type ${t}`);
    assert.ok(c.tls.some((t) => t.source === 'iroh' && t.message[0] === 1), "iroh's ClientHello");
    assert.ok(c.transportParams.length >= 2);
  });

  it('the field view of every captured payload writes back byte for byte', () => {
    for (const p of corpus().payloads) {
      const t = tokenize(p.payload);
      assert.equal(t.tail.length, 0, `untokenized tail in a ${p.source} payload`);
      assert.equal(toHex(serialize(t)), toHex(p.payload));
    }
  });

  it('a packet sealed from the client with its live keys is opened and processed by the server', () => {
    const p = new Pair({ seed: 3 });
    p.handshake();
    const s = p.server!;
    const before = s.packetsReceived;
    const bytes = sealFrom(p.client, p.now, PacketSpace.Application, Uint8Array.of(0x01), 5)!;
    s.handleDatagram(p.now, bytes);
    assert.equal(s.packetsReceived, before + 1);
    assert.equal(closeOutcome(s, 'server'), undefined);
    // A dry run leaves the sender's packet numbers alone.
    const app = p.client.internals.spaces.at(PacketSpace.Application);
    const pn = app.nextPn;
    sealFrom(p.client, p.now, PacketSpace.Application, Uint8Array.of(0x01), 0, 0, true);
    assert.equal(app.nextPn, pn);
  });

  it('closing with INTERNAL_ERROR (an exception inside the core) is a finding; a defined code is an outcome', () => {
    const p = new Pair({ seed: 4 });
    p.handshake();
    // An exception inside the core: the receive path throws a TypeError on the next datagram.
    const rx = p.server!.internals.receiver;
    rx.handleDatagram = () => {
      throw new TypeError('boom');
    };
    p.server!.handleDatagram(p.now, new Uint8Array(100));
    assert.throws(() => closeOutcome(p.server!, 'server'), (e: unknown) => e instanceof Finding && e.kind === 'internal-error');
    const q = new Pair({ seed: 5 });
    q.handshake();
    q.server!.handleDatagram(q.now, sealFrom(q.client, q.now, PacketSpace.Application, Uint8Array.of(0x1e))!); // HANDSHAKE_DONE to a server
    service(q.server!, q.now, new Uint8Array(1500));
    assert.equal(closeOutcome(q.server!, 'server'), 'server:PROTOCOL_VIOLATION/HANDSHAKE_DONE');
  });

  it('state over a cap is a finding', () => {
    const p = new Pair({ seed: 6 });
    p.handshake();
    checkBounds(p.server!, 'server');
    for (let i = 0; i < 5; i++) p.server!.internals.paths.current.queueResponse(new Uint8Array(8), 10);
    assert.throws(() => checkBounds(p.server!, 'server'), (e: unknown) => e instanceof Finding && e.kind === 'unbounded');
  });
});
