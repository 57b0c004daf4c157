import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './iroh.js';
import type { Captured } from './wire.js';
import { Writer } from '../../src/codec/writer.js';
import { AeadPacketKey } from '../../src/quic/crypto/aead.js';
import { headerProtectionKey, protectHeader } from '../../src/quic/crypto/header-protection.js';
import { writeFrame } from '../../src/quic/frames/encode.js';
import type { Frame as QuicFrame } from '../../src/quic/frames/frame.js';
import { cipherSuite } from '../../src/tls/suites.js';
import {
  KeyLogSecrets,
  cryptoStream,
  frameName,
  openPacket,
  packetKeys,
  handshakeMessages,
  helloExtensions,
  isGreaseParameter,
  nextTrafficSecret,
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

  it('parses and names every multipath, n0 NAT traversal and OBSERVED_ADDRESS frame, as quic-peer encodes them', () => {
    const cid = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const ip4 = Uint8Array.from([127, 0, 0, 1]);
    const ip6 = new Uint8Array(16).fill(0xfe);
    const frames: QuicFrame[] = [
      { kind: 'pathAck', pathId: 3, largest: 9, ackDelay: 2, ranges: [9, 7, 4, 1], ecn: null },
      { kind: 'pathAck', pathId: 1, largest: 0, ackDelay: 0, ranges: [0, 0], ecn: { ect0: 1, ect1: 2, ce: 3 } },
      { kind: 'pathAbandon', pathId: 2, errorCode: 0x3e75 },
      { kind: 'pathStatus', pathId: 0, status: 'backup', sequence: 1 },
      { kind: 'pathStatus', pathId: 4, status: 'available', sequence: 2 },
      { kind: 'pathNewConnectionId', pathId: 5, sequence: 3, retirePriorTo: 1, connectionId: cid, resetToken: new Uint8Array(16) },
      { kind: 'pathRetireConnectionId', pathId: 5, sequence: 0 },
      { kind: 'maxPathId', maximum: 70 },
      { kind: 'pathsBlocked', maximum: 7 },
      { kind: 'pathCidsBlocked', pathId: 6, nextSequence: 4 },
      { kind: 'addAddress', sequence: 0, ip: ip4, port: 4433 },
      { kind: 'addAddress', sequence: 1, ip: ip6, port: 443 },
      { kind: 'reachOut', round: 1, ip: ip4, port: 1 },
      { kind: 'reachOut', round: 2, ip: ip6, port: 65535 },
      { kind: 'removeAddress', sequence: 1 },
      { kind: 'observedAddress', sequence: 2, ip: ip4, port: 5000 },
      { kind: 'observedAddress', sequence: 3, ip: ip6, port: 5001 },
      { kind: 'ping' },
    ];
    const w = Writer.growable();
    for (const f of frames) writeFrame(w, f);
    const parsed = parseFrames(w.bytes().slice());
    assert.deepEqual(parsed.map(frameName), [
      'PATH_ACK',
      'PATH_ACK_ECN',
      'PATH_ABANDON',
      'PATH_STATUS_BACKUP',
      'PATH_STATUS_AVAILABLE',
      'PATH_NEW_CONNECTION_ID',
      'PATH_RETIRE_CONNECTION_ID',
      'MAX_PATH_ID',
      'PATHS_BLOCKED',
      'PATH_CIDS_BLOCKED',
      'ADD_ADDRESS',
      'ADD_ADDRESS',
      'REACH_OUT',
      'REACH_OUT',
      'REMOVE_ADDRESS',
      'OBSERVED_ADDRESS',
      'OBSERVED_ADDRESS',
      'ping',
    ]);
    assert.deepEqual(parsed[5], { type: 'pathNewConnectionId', pathId: 5, seq: 3, cid });
    assert.deepEqual(parsed.map((f) => (f.type === 'other' ? f.pathId : undefined)).slice(0, 10), [3, 1, 2, 0, 4, undefined, 5, undefined, undefined, 6]);
  });

  it('opens a 1-RTT packet of path id 1 with that path\'s nonce (openConversation learns the path of a DCID from PATH_NEW_CONNECTION_ID), not with path 0\'s', () => {
    // A short-header packet sealed by quic-peer's own AEAD and header protection for path id 1.
    const keys = packetKeys(new Uint8Array(32).fill(7), 0x1301);
    const suite = cipherSuite(0x1301);
    const dcid = Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9]);
    const pn = 5;
    const payload = Uint8Array.from([0x01, ...new Array<number>(40).fill(0)]); // PING, PADDING
    const buf = new Uint8Array(1 + dcid.length + 1 + payload.length + 16);
    buf[0] = 0x40; // short header, fixed bit, 1-byte packet number
    buf.set(dcid, 1);
    const pnOffset = 1 + dcid.length;
    buf[pnOffset] = pn;
    buf.set(payload, pnOffset + 1);
    new AeadPacketKey(suite, keys.key, keys.iv).seal(pn, buf, 0, pnOffset + 1, pnOffset + 1 + payload.length, 1);
    protectHeader(buf, 0, pnOffset, 1, headerProtectionKey(suite, keys.hp));
    const open = (pathId: number): ReturnType<typeof openPacket> => openPacket(buf, 0, () => keys, 8, () => pathId);
    const r = open(1);
    assert.equal(r.packet?.pathId, 1);
    assert.equal(r.packet?.pn, pn);
    assert.deepEqual(r.packet?.payload, payload);
    assert.throws(() => open(0), /auth|Unsupported state/);
  });

  it('opens a packet after a key update with the next phase\'s keys ("quic ku", RFC 9001 §6) and expands a truncated packet number (RFC 9000 §A.3)', () => {
    const secret = new Uint8Array(32).fill(7);
    const keys0 = packetKeys(secret, 0x1301);
    const keys1 = { ...packetKeys(nextTrafficSecret(secret, 0x1301), 0x1301), hp: keys0.hp };
    const suite = cipherSuite(0x1301);
    const dcid = Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9]);
    const pn = 300; // sent with a 1-byte encoding: 300 & 0xff = 44
    const payload = Uint8Array.from([0x01, ...new Array<number>(40).fill(0)]);
    const buf = new Uint8Array(1 + dcid.length + 1 + payload.length + 16);
    buf[0] = 0x40 | 0x04; // short header, key phase 1, 1-byte packet number
    buf.set(dcid, 1);
    const pnOffset = 1 + dcid.length;
    buf[pnOffset] = pn & 0xff;
    buf.set(payload, pnOffset + 1);
    new AeadPacketKey(suite, keys1.key, keys1.iv).seal(pn, buf, 0, pnOffset + 1, pnOffset + 1 + payload.length, 0);
    protectHeader(buf, 0, pnOffset, 1, headerProtectionKey(suite, keys0.hp));
    const r = openPacket(buf, 0, () => keys0, 8, () => 0, { phaseKeys: (bit) => (bit === 1 ? keys1 : undefined), largestPn: () => 290 });
    assert.equal(r.packet?.keyPhase, 1);
    assert.equal(r.packet?.pn, 300);
    assert.deepEqual(r.packet?.payload, payload);
    // Without the next phase's keys (or the expansion) it does not open.
    assert.throws(() => openPacket(buf, 0, () => keys0, 8, () => 0, { largestPn: () => 290 }), /auth|Unsupported state/);
    assert.throws(() => openPacket(buf, 0, () => keys0, 8, () => 0, { phaseKeys: () => keys1 }), /auth|Unsupported state/);
  });

  it('a flipped bit in the first client Initial makes it fail to open', () => {
    const bad = captured.map((d, i) => (i === 0 ? { ...d, bytes: Uint8Array.from(d.bytes, (b, j) => (j === 200 ? b ^ 1 : b)) } : d));
    assert.throws(() => openConversation(bad, new KeyLogSecrets()), /auth|Unsupported state/);
  });
});
