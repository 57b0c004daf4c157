import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader } from '../../src/codec/reader.js';
import { repoRoot } from './iroh.js';
import {
  cryptoStream,
  handshakeMessages,
  helloExtensions,
  initialKeys,
  openPacket,
  parseFrames,
  type Dir,
  type Frame,
  type Packet,
  type PacketKeys,
} from './wire.js';

/**
 * test/fixtures/iroh-capture.json: the first UDP datagrams between two real iroh 1.0.2 endpoints,
 * recorded by test/interop/iroh-capture.cjs (a UDP relay inside a loopback-only namespace). There
 * is no keylog in @number0/iroh, but Initial packets are protected with keys derived from the
 * client's first Destination Connection ID (RFC 9001 §5.2), so they can be opened. This test opens
 * them with a small independent implementation (node:crypto AES, not the quic-peer code), so the
 * fixture can later serve as a real-iroh oracle for the packet protection and TLS code.
 */
interface Capture {
  alpn: string;
  server: { id: string; secretKey: string };
  client: { id: string; secretKey: string };
  datagrams: Array<{ dir: 'c2s' | 's2c'; n: number; len: number; hex: string }>;
}

const capture = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'iroh-capture.json'), 'utf8')) as Capture;
const datagram = (dir: 'c2s' | 's2c', n: number): Uint8Array => {
  const d = capture.datagrams.find((x) => x.dir === dir && x.n === n);
  if (d === undefined) throw new Error(`no ${dir} datagram ${n} in the fixture`);
  const b = Buffer.from(d.hex, 'hex');
  assert.equal(b.length, d.len);
  return b;
};

const hex = (b: Uint8Array | undefined): string => (b === undefined ? '(absent)' : Buffer.from(b).toString('hex'));

/**
 * Opens the Initial at the start of `dgram` with the Initial keys of `dir` (wire.ts: an opener
 * independent of our packet code) and returns it with the first TLS message of its CRYPTO data.
 */
function openInitial(dgram: Uint8Array, keys: Record<Dir, PacketKeys>, dir: Dir): { packet: Packet; next: number; hello: { type: number; body: Uint8Array } } {
  const { packet, next } = openPacket(dgram, 0, (s) => (s === 'initial' ? keys[dir] : undefined), 8);
  assert.ok(packet, 'an Initial');
  const crypto = parseFrames(packet.payload).filter((f): f is Extract<Frame, { type: 'crypto' }> => f.type === 'crypto');
  const hello = handshakeMessages(cryptoStream(crypto))[0];
  assert.ok(hello, 'a TLS message at CRYPTO offset 0');
  return { packet, next, hello };
}

describe('interop fixture: captured iroh <-> iroh datagrams (iroh-capture.json)', () => {
  const c1 = datagram('c2s', 1);
  const s1 = datagram('s2c', 1);
  const keys = initialKeys(new Reader(c1, 5).vec8()); // the client's first DCID

  it('starts with a padded client Initial with a 20-byte DCID and an 8-byte SCID (IROH.md)', () => {
    assert.ok(c1.length >= 1200, `client Initial datagram is ${c1.length} bytes`);
    const { packet: p } = openInitial(c1, keys, 'c2s');
    assert.equal(p.dcid.length, 20);
    assert.equal(p.scid.length, 8);
    assert.equal(p.pn, 0);
  });

  it("the client Initial carries iroh's ClientHello: RPK both ways, the ALPN, transport parameters", () => {
    const { hello } = openInitial(c1, keys, 'c2s');
    assert.equal(hello.type, 0x01, 'ClientHello');
    const ch = helloExtensions(hello.type, hello.body);
    assert.equal(ch.sessionId?.length, 0, 'no middlebox compatibility mode (RFC 9001 §8.4)');
    // RFC 7250: client_certificate_type (19) and server_certificate_type (20) = [RawPublicKey (2)].
    assert.equal(hex(ch.ext.get(19)), '0102');
    assert.equal(hex(ch.ext.get(20)), '0102');
    const alpn = Buffer.from(capture.alpn);
    assert.equal(hex(ch.ext.get(16)), hex(Buffer.concat([Buffer.from([0, alpn.length + 1, alpn.length]), alpn])));
    assert.ok(ch.ext.has(0x39), 'quic_transport_parameters (0x39)');
    assert.ok(ch.ext.has(45), 'psk_key_exchange_modes');
  });

  it('the ServerHello carries only key_share and supported_versions, with an empty session id echo', () => {
    const { hello } = openInitial(s1, keys, 's2c');
    assert.equal(hello.type, 0x02, 'ServerHello');
    const sh = helloExtensions(hello.type, hello.body);
    assert.equal(sh.sessionId?.length, 0);
    assert.deepEqual([...sh.ext.keys()].sort((a, b) => a - b), [43, 51]);
    assert.equal(hex(sh.ext.get(43)), '0304', 'TLS 1.3');
  });

  it("the server's first datagram is 1200 bytes: an Initial with the ServerHello, then a Handshake packet", () => {
    assert.equal(s1.length, 1200);
    const clientScid = openInitial(c1, keys, 'c2s').packet.scid;
    const { packet: p, next, hello } = openInitial(s1, keys, 's2c');
    assert.deepEqual(Buffer.from(p.dcid), Buffer.from(clientScid), "the server answers to the client's SCID");
    assert.equal(p.scid.length, 8);
    assert.equal(hello.type, 0x02, 'ServerHello');
    // Coalesced after it: a long-header Handshake packet (type 2) filling the datagram.
    assert.ok(next < s1.length);
    const b0 = s1[next] as number;
    assert.equal(b0 & 0xc0, 0xc0);
    assert.equal((b0 & 0x30) >> 4, 2, 'Handshake');
  });

  it('a flipped ciphertext bit makes the Initial fail to open (the oracle is not vacuous)', () => {
    const bad = Buffer.from(c1);
    bad[100] = (bad[100] as number) ^ 0x01;
    assert.throws(() => openInitial(bad, keys, 'c2s'), /auth|Unsupported state/);
  });

  it('records the identities used (secret keys and ids)', () => {
    assert.match(capture.server.secretKey, /^[0-9a-f]{64}$/);
    assert.match(capture.client.secretKey, /^[0-9a-f]{64}$/);
    assert.match(capture.server.id, /^[0-9a-f]{64}$/);
    assert.match(capture.client.id, /^[0-9a-f]{64}$/);
  });
});
