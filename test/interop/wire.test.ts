import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './iroh.js';
import type { Captured } from './wire.js';
import {
  KeyLogSecrets,
  cryptoStream,
  handshakeMessages,
  helloExtensions,
  isGreaseParameter,
  openConversation,
  parseFrames,
  rawTransportParameters,
  varintValue,
} from './wire.js';

/**
 * The wire reader (wire.ts) that the session scenarios use to check what crossed the relay,
 * proven on the recorded iroh <-> iroh fixture (test/fixtures/iroh-capture.json): without a key
 * log only the Initials open, which is enough to read iroh's ClientHello and ServerHello.
 */
interface Fixture {
  datagrams: Array<{ dir: 'c2s' | 's2c'; n: number; ms: number; len: number; hex: string }>;
}

const fixture = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'iroh-capture.json'), 'utf8')) as Fixture;
const captured: Captured[] = fixture.datagrams.map((d) => ({ dir: d.dir, ms: d.ms, bytes: new Uint8Array(Buffer.from(d.hex, 'hex')) }));

describe('interop wire reader (wire.ts) on the recorded iroh <-> iroh capture', () => {
  it("opens the Initials and reads iroh's ClientHello transport parameters", () => {
    const conv = openConversation(captured, new KeyLogSecrets());
    assert.equal(conv.suite, 0x1302, 'iroh <-> iroh: the client offers AES-256-GCM first and gets it');
    assert.ok(conv.packets.some((p) => p.dir === 'c2s' && p.packet.space === 'initial'));
    assert.ok(conv.packets.some((p) => p.dir === 's2c' && p.packet.space === 'initial'));
    assert.ok(conv.unopened > 0, 'Handshake and 1-RTT packets stay closed without a key log');
    const ch = handshakeMessages(conv.crypto('c2s', 'initial')).find((m) => m.type === 1);
    assert.ok(ch, 'a ClientHello');
    const tp = helloExtensions(1, ch.body).ext.get(0x39);
    assert.ok(tp, 'quic_transport_parameters');
    const params = rawTransportParameters(tp);
    const ids = params.map((p) => p.id);
    for (const id of [0x3en, 0x3d7f91120401n, 0xff04de1bn, 0x0fn, 0x20n]) assert.ok(ids.includes(id), `0x${id.toString(16)}`);
    assert.equal(ids.filter(isGreaseParameter).length, 1, 'one GREASE parameter');
    const maxData = params.find((p) => p.id === 0x04n);
    assert.equal(maxData?.value.length, 8);
    assert.equal(varintValue(maxData.value), (1n << 62n) - 1n);
  });

  it('GREASE ids are 31 * N + 27', () => {
    assert.equal(isGreaseParameter(27n), true);
    assert.equal(isGreaseParameter(27n + 31n * 1000n), true);
    assert.equal(isGreaseParameter(0x3en), false);
    assert.equal(isGreaseParameter(0n), false);
  });

  it('parses frames and reassembles CRYPTO data out of order', () => {
    // PADDING x3, PING, CRYPTO(offset 3, "def"), CRYPTO(offset 0, "abc"), HANDSHAKE_DONE
    const payload = Uint8Array.from([0, 0, 0, 1, 6, 3, 3, 100, 101, 102, 6, 0, 3, 97, 98, 99, 0x1e]);
    const frames = parseFrames(payload);
    assert.deepEqual(
      frames.map((f) => f.type),
      ['padding', 'ping', 'crypto', 'crypto', 'handshakeDone'],
    );
    const crypto = frames.filter((f): f is Extract<typeof f, { type: 'crypto' }> => f.type === 'crypto');
    assert.equal(Buffer.from(cryptoStream(crypto)).toString(), 'abcdef');
    assert.throws(() => parseFrames(Uint8Array.from([0x40, 0x50])), /unknown frame type 0x50/);
  });

  it('a flipped bit in the first client Initial makes it fail to open', () => {
    const bad = captured.map((d, i) => (i === 0 ? { ...d, bytes: Uint8Array.from(d.bytes, (b, j) => (j === 200 ? b ^ 1 : b)) } : d));
    assert.throws(() => openConversation(bad, new KeyLogSecrets()), /auth|Unsupported state/);
  });
});
