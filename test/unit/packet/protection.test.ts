import assert from 'node:assert/strict';
import { toHex } from '../../../src/codec/bytes.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { Writer } from '../../../src/codec/writer.js';
import {
  OneRttKeys,
  deriveDirectionalKeys,
  initialKeys,
  nullDirectionalKeys,
  type DirectionalKeys,
} from '../../../src/quic/crypto/index.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import {
  LongPacketType,
  QUIC_VERSION_1,
  openPacket,
  packetNumberLength,
  parsePacketHeader,
  removeHeaderProtection,
  openPayload,
  sealPacket,
  writeLongHeader,
  writeShortHeader,
  type PacketMarks,
  type ProtectedHeader,
} from '../../../src/quic/packet/index.js';
import { SeededRandom } from '../../../src/tls/random.js';
import { CIPHER_SUITES } from '../../../src/tls/suites.js';

const DCID = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const SCID = Uint8Array.from([9, 10, 11, 12]);

function keysFor(suiteId: number, seed: number): DirectionalKeys {
  const suite = CIPHER_SUITES.get(suiteId)!;
  return deriveDirectionalKeys(suite, new SeededRandom(seed).fill(new Uint8Array(suite.hashLen)));
}

function asProtected(h: ReturnType<typeof parsePacketHeader>): ProtectedHeader {
  assert.ok(h.kind === 'long' || h.kind === 'short', `expected a protected packet, got ${h.kind}`);
  return h;
}

/** Builds one packet at `w.pos` with `payload`, returns [start, end). */
function build(
  w: Writer,
  form: 'long' | 'short',
  pn: number,
  payload: Uint8Array,
  keys: DirectionalKeys,
  keyPhase: 0 | 1 = 0,
): [number, number] {
  const start = w.pos;
  const pnLen = packetNumberLength(pn, pn - 10);
  const marks: PacketMarks = form === 'long'
    ? writeLongHeader(w, { type: LongPacketType.Handshake, version: QUIC_VERSION_1, dcid: DCID, scid: SCID }, pn, pnLen)
    : writeShortHeader(w, DCID, pn, pnLen, keyPhase);
  w.bytesOf(payload);
  const end = sealPacket(w, marks, pn, keys);
  return [start, end];
}

describe('packet protection pipeline (RFC 9001 §5)', () => {
  for (const suite of CIPHER_SUITES.values()) {
    for (const form of ['long', 'short'] as const) {
      it(`${suite.name}, ${form} header: seal then open round-trips and hides the packet number`, () => {
        const rnd = new SeededRandom(suite.id + (form === 'long' ? 0 : 1));
        const keys = keysFor(suite.id, 11);
        for (const len of [4, 5, 50, 1100]) {
          const pn = 1000 + rnd.int(100000);
          const payload = rnd.fill(new Uint8Array(len));
          const buf = new Uint8Array(1300);
          const w = new Writer(buf);
          const [, end] = build(w, form, pn, payload, keys, 1);
          const h = asProtected(parsePacketHeader(buf.subarray(0, end), 0, DCID.length));
          assert.equal(h.end, end);
          const opened = openPacket(buf, h, keys.header, keys.packet, pn - 1);
          assert.ok(opened, `len ${len}`);
          assert.equal(opened.pn, pn);
          assert.equal(toHex(opened.payload), toHex(payload));
          assert.equal(opened.keyPhase, form === 'short' ? 1 : 0);
        }
      });
    }
  }

  it('pads a too-short payload with PADDING so the header protection sample exists (RFC 9001 §5.4.2)', () => {
    const keys = keysFor(0x1301, 1);
    for (const pnLen of [1, 2, 3, 4] as const) {
      const buf = new Uint8Array(100);
      const w = new Writer(buf);
      const m = writeShortHeader(w, DCID, 5, pnLen, 0);
      w.u8(0x01); // PING
      const end = sealPacket(w, m, 5, keys);
      // pn + payload >= 4, then the 16-byte tag.
      assert.equal(end, 1 + 8 + Math.max(4, pnLen + 1) + 16);
      const h = asProtected(parsePacketHeader(buf.subarray(0, end), 0, 8));
      const opened = openPacket(buf, h, keys.header, keys.packet, 4);
      assert.ok(opened);
      assert.equal(opened.pnLen, pnLen);
      assert.equal(opened.payload[0], 0x01);
      assert.ok(opened.payload.subarray(1).every((b) => b === 0));
    }
  });

  it('seals and opens coalesced Initial + Handshake + 1-RTT packets in one datagram', () => {
    const initial = initialKeys(DCID, true);
    const server = initialKeys(DCID, false);
    const hs = keysFor(0x1302, 2);
    const app = keysFor(0x1303, 3);
    const dg = new Uint8Array(1200);
    const w = new Writer(dg);
    const m0 = writeLongHeader(w, { type: LongPacketType.Initial, version: 1, dcid: DCID, scid: SCID, token: Uint8Array.from([7, 7]) }, 0, 1);
    w.bytesOf(Uint8Array.from([6, 0, 3, 1, 2, 3]));
    sealPacket(w, m0, 0, initial.write);
    build(w, 'long', 3, Uint8Array.from([1, 1, 1, 1, 1]), hs);
    build(w, 'short', 9, Uint8Array.from([1, 2, 3, 4, 5, 6]), app);
    const total = w.pos;

    const payloads: string[] = [];
    const keysByKind = [server.read, hs, app];
    let i = 0;
    for (let at = 0; at < total; i++) {
      const h = asProtected(parsePacketHeader(dg, at, DCID.length, total));
      const k = keysByKind[i]!;
      const o = openPacket(dg, h, k.header, k.packet, -1);
      assert.ok(o, `packet ${i}`);
      payloads.push(toHex(o.payload));
      at = h.end;
    }
    assert.deepEqual(payloads, ['060003010203', '0101010101', '010203040506']);
  });

  it('tampering with the header, the ciphertext or the tag makes open return null', () => {
    const keys = keysFor(0x1301, 4);
    const buf = new Uint8Array(200);
    const [, end] = build(new Writer(buf), 'long', 77, new SeededRandom(1).fill(new Uint8Array(40)), keys);
    const sealed = buf.slice(0, end);
    const pnOffset = asProtected(parsePacketHeader(sealed, 0, 8)).pnOffset;
    // The first byte (a protected bit), DCID and SCID bytes, the packet number, payload and tag.
    for (const at of [0, 6, 10, 15, pnOffset, pnOffset + 1, pnOffset + 10, end - 17, end - 1]) {
      const bad = sealed.slice();
      bad[at]! ^= 0x01;
      const h = asProtected(parsePacketHeader(bad, 0, 8));
      assert.equal(openPacket(bad, h, keys.header, keys.packet, 76), null, `flip at ${at}`);
    }
    // Wrong keys, wrong header protection key.
    const other = keysFor(0x1301, 5);
    const h = asProtected(parsePacketHeader(sealed, 0, 8));
    assert.equal(openPacket(sealed.slice(), h, keys.header, other.packet, 76), null);
    assert.equal(openPacket(sealed.slice(), h, other.header, keys.packet, 76), null);
    assert.ok(openPacket(sealed.slice(), h, keys.header, keys.packet, 76));
  });

  it('a packet too short for the header protection sample is dropped (null)', () => {
    const keys = nullDirectionalKeys();
    // Short header, 8-byte DCID, then only 19 bytes: pnOffset + 4 + 16 > end.
    const buf = new Uint8Array(1 + 8 + 19);
    buf[0] = 0x40;
    const h = asProtected(parsePacketHeader(buf, 0, 8));
    assert.equal(removeHeaderProtection(buf, h, keys.header), null);
    assert.equal(openPacket(buf, h, keys.header, keys.packet, -1), null);
  });

  it('exposes the key phase after header protection removal and lets a selector pick the key (key update)', () => {
    const suite = CIPHER_SUITES.get(0x1301)!;
    const rnd = new SeededRandom(6);
    const cs = rnd.fill(new Uint8Array(32));
    const ss = rnd.fill(new Uint8Array(32));
    const client = new OneRttKeys(suite, ss, cs);
    const server = new OneRttKeys(suite, cs, ss);
    const send = (pn: number): Uint8Array => {
      const buf = new Uint8Array(100);
      const w = new Writer(buf);
      const m = writeShortHeader(w, DCID, pn, 2, client.keyPhase);
      w.bytesOf(Uint8Array.from([1, 0, 0, 0, pn & 0xff]));
      return buf.subarray(0, sealPacket(w, m, pn, { packet: client.write, header: client.writeHeader }));
    };
    const receive = (pkt: Uint8Array): number | null => {
      const h = asProtected(parsePacketHeader(pkt, 0, 8));
      const u = removeHeaderProtection(pkt, h, server.readHeader);
      assert.ok(u);
      const o = openPayload(pkt, h, u, 9, (phase) => server.readKeyForPhase(phase));
      if (o === null) return null;
      if (o.keyPhase !== server.keyPhase) server.update(); // peer-initiated update confirmed
      return o.keyPhase;
    };
    assert.equal(receive(send(10)), 0);
    const late = send(11); // sent in phase 0, delivered after the update
    client.update();
    assert.equal(receive(send(12)), 1);
    assert.equal(server.keyPhase, 1);
    // The late phase-0 packet opens only with the previous read key.
    const h = asProtected(parsePacketHeader(late, 0, 8));
    const u = removeHeaderProtection(late, h, server.readHeader)!;
    assert.equal(u.keyPhase, 0);
    assert.equal(openPayload(late.slice(), h, u, 12, server.read), null);
    assert.ok(openPayload(late, h, u, 12, server.previousRead!));
    // A selector with no key drops the packet.
    const p = send(13);
    assert.equal(openPacket(p, asProtected(parsePacketHeader(p, 0, 8)), server.readHeader, () => null, 12), null);
  });

  it('reserved bits set on an authentic packet -> TransportError(PROTOCOL_VIOLATION) (RFC 9000 §17.3.1)', () => {
    for (const form of ['long', 'short'] as const) {
      const keys = keysFor(0x1303, 7);
      const buf = new Uint8Array(100);
      const w = new Writer(buf);
      const m = form === 'long'
        ? writeLongHeader(w, { type: LongPacketType.Handshake, version: 1, dcid: DCID, scid: SCID }, 3, 1)
        : writeShortHeader(w, DCID, 3, 1, 0);
      buf[0] = buf[0]! | (form === 'long' ? 0x04 : 0x10); // a reserved bit, before sealing
      w.bytesOf(Uint8Array.from([1, 0, 0, 0]));
      const end = sealPacket(w, m, 3, keys);
      const h = asProtected(parsePacketHeader(buf.subarray(0, end), 0, 8));
      assert.throws(
        () => openPacket(buf, h, keys.header, keys.packet, 2),
        (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION,
      );
    }
  });

  it('null keys: the pipeline runs with headers in clear and a zero tag', () => {
    const keys = nullDirectionalKeys();
    const buf = new Uint8Array(100);
    const w = new Writer(buf);
    const m = writeShortHeader(w, DCID, 0x1234, 2, 1);
    w.bytesOf(Uint8Array.from([1, 2, 3, 4]));
    const end = sealPacket(w, m, 0x1234, keys);
    assert.equal(toHex(buf.subarray(0, end)), '45' + toHex(DCID) + '1234' + '01020304' + '00'.repeat(16));
    const o = openPacket(buf, asProtected(parsePacketHeader(buf.subarray(0, end), 0, 8)), keys.header, keys.packet, 0x1233);
    assert.ok(o);
    assert.equal(o.pn, 0x1234);
    assert.equal(o.keyPhase, 1);
  });

  it('property: corrupted sealed datagrams only ever yield DecodeError or a dropped packet (seed 23)', () => {
    const rnd = new SeededRandom(23);
    const keys = keysFor(0x1301, 8);
    const buf = new Uint8Array(300);
    const w = new Writer(buf);
    build(w, 'long', 500, rnd.fill(new Uint8Array(60)), keys);
    build(w, 'short', 501, rnd.fill(new Uint8Array(60)), keys);
    const sealed = buf.slice(0, w.pos);
    let dropped = 0;
    for (let i = 0; i < 3000; i++) {
      const bad = sealed.slice();
      const flips = 1 + rnd.int(3);
      for (let f = 0; f < flips; f++) bad[rnd.int(bad.length)]! ^= 1 << rnd.int(8);
      try {
        for (let at = 0; at < bad.length;) {
          const h = parsePacketHeader(bad, at, 8);
          if (h.kind !== 'long' && h.kind !== 'short') break;
          if (openPacket(bad, h, keys.header, keys.packet, 499) === null) dropped++;
          at = h.end;
        }
      } catch (e) {
        assert.ok(e instanceof DecodeError, `seed 23 iteration ${i}: ${String(e)}`);
      }
    }
    assert.ok(dropped > 1000, `drops observed: ${dropped}`);
  });
});
