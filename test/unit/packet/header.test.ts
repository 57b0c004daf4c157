import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { Writer } from '../../../src/codec/writer.js';
import {
  LongPacketType,
  QUIC_VERSION_1,
  isLongHeader,
  isReservedVersion,
  parsePacketHeader,
  peekVersion,
  sizeLongHeader,
  sizeShortHeader,
  tryParsePacketHeader,
  writeLongHeader,
  writeShortHeader,
  type LongHeaderFields,
  type PacketHeader,
  type ProtectedLongPacketType,
} from '../../../src/quic/packet/index.js';
import { SeededRandom } from '../../../src/tls/random.js';

const CID8 = fromHex('0102030405060708');
const CID4 = fromHex('a1a2a3a4');

/** A long-header packet with a `bodyLen`-byte body after the packet number, Length back-patched. */
function longPacket(f: LongHeaderFields, pnLen: 1 | 2 | 3 | 4, bodyLen: number, lengthWidth: 1 | 2 | 4 | 8 = 2): Uint8Array {
  const w = Writer.growable();
  const m = writeLongHeader(w, f, 7, pnLen, lengthWidth);
  w.zeros(bodyLen);
  w.endVarint(m.lengthAt, lengthWidth);
  return w.bytes().slice();
}

function shortPacket(dcid: Uint8Array, bodyLen: number): Uint8Array {
  const w = Writer.growable();
  writeShortHeader(w, dcid, 300, 2, 1, true);
  w.zeros(bodyLen);
  return w.bytes().slice();
}

describe('packet headers (RFC 9000 §17)', () => {
  describe('long header writer and parser', () => {
    const types: ProtectedLongPacketType[] = [LongPacketType.Initial, LongPacketType.ZeroRtt, LongPacketType.Handshake];
    for (const type of types) {
      it(`round-trips type ${type}; size == bytes written; every Length width`, () => {
        for (const lengthWidth of [1, 2, 4, 8] as const) {
          for (const pnLen of [1, 2, 3, 4] as const) {
            const f: LongHeaderFields = {
              type,
              version: QUIC_VERSION_1,
              dcid: CID8,
              scid: CID4,
              ...(type === LongPacketType.Initial ? { token: fromHex('deadbeef') } : {}),
            };
            const w = Writer.growable();
            const m = writeLongHeader(w, f, 0x01020304, pnLen, lengthWidth);
            assert.equal(w.pos, sizeLongHeader(f, pnLen, lengthWidth), 'size == bytes written');
            assert.equal(m.pnOffset + pnLen, w.pos);
            assert.equal(m.lengthAt + lengthWidth, m.pnOffset);
            const first = w.buf[0]!;
            assert.equal(first & 0xc0, 0xc0, 'header form and fixed bit set');
            assert.equal((first >> 4) & 3, type);
            assert.equal((first & 3) + 1, pnLen);
            assert.equal(first & 0x0c, 0, 'reserved bits 0');
            w.zeros(30);
            w.endVarint(m.lengthAt, lengthWidth);
            const pkt = w.bytes().slice();
            const h = parsePacketHeader(pkt, 0, 0);
            assert.equal(h.kind, 'long');
            if (h.kind !== 'long') return;
            assert.equal(h.type, type);
            assert.equal(h.version, QUIC_VERSION_1);
            assert.equal(toHex(h.dcid), toHex(CID8));
            assert.equal(toHex(h.scid), toHex(CID4));
            assert.equal(toHex(h.token), type === LongPacketType.Initial ? 'deadbeef' : '');
            assert.equal(h.pnOffset, m.pnOffset);
            assert.equal(h.end, pkt.length);
            assert.equal(toHex(pkt.subarray(h.pnOffset, h.pnOffset + pnLen)), toHex(fromHex('01020304').subarray(4 - pnLen)));
          }
        }
      });
    }

    it('rejects connection ids over 20 bytes and tokens on non-Initial packets when writing', () => {
      const w = Writer.growable();
      assert.throws(() => writeLongHeader(w, { type: 0, version: 1, dcid: new Uint8Array(21), scid: CID4 }, 0, 1), RangeError);
      assert.throws(() => writeLongHeader(w, { type: 2, version: 1, dcid: CID4, scid: CID4, token: CID4 }, 0, 1), RangeError);
      assert.throws(() => writeShortHeader(w, new Uint8Array(21), 0, 1, 0), RangeError);
    });

    it('iterates coalesced packets by their Length fields (RFC 9000 §12.2)', () => {
      const a = longPacket({ type: 0, version: 1, dcid: CID8, scid: CID4 }, 4, 40);
      const b = longPacket({ type: 2, version: 1, dcid: CID8, scid: CID4 }, 2, 25, 1);
      const c = shortPacket(CID8, 30);
      const dg = new Uint8Array(a.length + b.length + c.length);
      dg.set(a);
      dg.set(b, a.length);
      dg.set(c, a.length + b.length);
      const kinds: string[] = [];
      const ends: number[] = [];
      for (let at = 0; at < dg.length;) {
        const h = parsePacketHeader(dg, at, CID8.length);
        kinds.push(h.kind === 'long' ? `long${h.type}` : h.kind);
        assert.equal(h.start, at);
        ends.push(h.end);
        at = h.end;
      }
      assert.deepEqual(kinds, ['long0', 'long2', 'short']);
      assert.deepEqual(ends, [a.length, a.length + b.length, dg.length]);
    });
  });

  describe('short header', () => {
    it('round-trips: fixed bit, spin, key phase, pn length; size == bytes written', () => {
      for (const keyPhase of [0, 1] as const) {
        for (const spin of [false, true]) {
          for (const pnLen of [1, 2, 3, 4] as const) {
            const w = Writer.growable();
            const m = writeShortHeader(w, CID8, 0xaabbccdd, pnLen, keyPhase, spin);
            assert.equal(w.pos, sizeShortHeader(8, pnLen));
            assert.equal(m.lengthAt, -1);
            const first = w.buf[0]!;
            assert.equal(first & 0x80, 0);
            assert.equal(first & 0x40, 0x40, 'fixed bit always set');
            assert.equal((first & 0x20) !== 0, spin);
            assert.equal((first & 0x04) >> 2, keyPhase);
            assert.equal(first & 0x18, 0);
            assert.equal((first & 3) + 1, pnLen);
            w.zeros(20);
            const h = parsePacketHeader(w.bytes(), 0, 8);
            assert.ok(h.kind === 'short');
            assert.equal(toHex(h.dcid), toHex(CID8));
            assert.equal(h.pnOffset, 9);
            assert.equal(h.end, w.pos);
          }
        }
      }
    });

    it('a zero-length connection id works', () => {
      const h = parsePacketHeader(fromHex('4000'), 0, 0);
      assert.ok(h.kind === 'short');
      assert.equal(h.dcid.length, 0);
      assert.equal(h.pnOffset, 1);
    });
  });

  describe('every truncated prefix fails with DecodeError', () => {
    it('Initial, 0-RTT and Handshake packets: every strict prefix (the Length field covers the rest)', () => {
      for (const f of [
        { type: 0, version: 1, dcid: CID8, scid: CID4, token: fromHex('0badf00d') },
        { type: 1, version: 1, dcid: CID8, scid: new Uint8Array(0) },
        { type: 2, version: 1, dcid: new Uint8Array(0), scid: CID8 },
      ] as LongHeaderFields[]) {
        const pkt = longPacket(f, 4, 30);
        parsePacketHeader(pkt, 0, 8);
        for (let n = 0; n < pkt.length; n++) {
          assert.throws(() => parsePacketHeader(pkt.subarray(0, n), 0, 8), DecodeError, `type ${f.type} prefix ${n}`);
          const r = tryParsePacketHeader(pkt.subarray(0, n), 0, 8);
          assert.equal(r.kind, 'invalid');
        }
      }
    });

    it('short header: every prefix shorter than first byte + DCID', () => {
      const pkt = shortPacket(CID8, 30);
      for (let n = 0; n < 9; n++) assert.throws(() => parsePacketHeader(pkt.subarray(0, n), 0, 8), DecodeError, `prefix ${n}`);
      parsePacketHeader(pkt.subarray(0, 9), 0, 8);
    });
  });

  describe('malformed headers', () => {
    // Each row: description, hex, expected (a DecodeError message fragment).
    const table: Array<[string, string, RegExp]> = [
      ['long header, fixed bit 0', '80' + '00000001' + '00' + '00' + '00' + '01' + '00', /fixed bit/],
      ['short header, fixed bit 0', '00' + '0102030405060708' + '00', /fixed bit/],
      ['v1 DCID length 21', 'c0' + '00000001' + '15' + '00'.repeat(21) + '00' + '00' + '01' + '00', /exceeds 20/],
      ['v1 SCID length 21', 'c0' + '00000001' + '00' + '15' + '00'.repeat(21) + '00' + '01' + '00', /exceeds 20/],
      ['Length beyond datagram end', 'e0' + '00000001' + '00' + '00' + '05' + '00000000', /past the datagram/],
      ['Length varint truncated', 'e0' + '00000001' + '00' + '00' + '40', /truncated/],
      ['huge Length (8-byte varint)', 'e0' + '00000001' + '00' + '00' + 'ffffffffffffffff' + '00', /past the datagram/],
      ['token length beyond end', 'c0' + '00000001' + '00' + '00' + '0a' + '0102', /truncated/],
      ['huge token length', 'c0' + '00000001' + '00' + '00' + 'c000000000001000' + '01', /truncated/],
      ['DCID beyond end', 'c0' + '00000001' + '08' + '0102', /truncated/],
      ['Retry without room for its tag', 'f0' + '00000001' + '00' + '00' + '00'.repeat(15), /integrity tag/],
      ['VN with a partial version', '80' + '00000000' + '00' + '00' + '000000', /multiple of 4/],
      ['VN DCID beyond end', '80' + '00000000' + 'ff' + '00', /truncated/],
      ['unknown version, SCID beyond end', 'c0' + 'ff00001d' + '00' + '04' + '01', /truncated/],
      ['empty datagram', '', /truncated/],
      ['long header cut in the version', 'c0000000', /truncated/],
    ];
    for (const [what, hex, re] of table) {
      it(what, () => {
        const buf = fromHex(hex);
        assert.throws(() => parsePacketHeader(buf, 0, 8), (e: unknown) => e instanceof DecodeError && re.test(e.message));
        const r = tryParsePacketHeader(buf, 0, 8);
        assert.ok(r.kind === 'invalid');
        assert.match(r.reason, re);
      });
    }

    it('an unknown version is reported as such, with invariant CIDs up to 255 bytes and no fixed bit required', () => {
      const buf = fromHex('80' + 'ff00001d' + '21' + '11'.repeat(33) + '00' + '0000');
      const h = parsePacketHeader(buf, 0, 8);
      assert.ok(h.kind === 'unsupportedVersion');
      assert.equal(h.version, 0xff00001d);
      assert.equal(h.dcid.length, 33);
      assert.equal(h.end, buf.length);
      assert.equal(peekVersion(buf), 0xff00001d);
      assert.equal(peekVersion(fromHex('4000')), null);
      assert.equal(peekVersion(fromHex('c00000')), null);
      assert.ok(isLongHeader(0x80));
      assert.ok(!isLongHeader(0x40));
      assert.ok(isReservedVersion(0x1a2a3a4a));
      assert.ok(!isReservedVersion(QUIC_VERSION_1));
    });
  });

  it('property: random bytes only ever yield a header or DecodeError (seed 17)', () => {
    const rnd = new SeededRandom(17);
    const counts = new Map<string, number>();
    for (let i = 0; i < 30000; i++) {
      const buf = rnd.fill(new Uint8Array(rnd.int(80)));
      // Bias towards plausible headers: a third get version 1 (with a DCID length near the limit),
      // a sixth version 0 (Version Negotiation).
      const mode = rnd.int(6);
      if (buf.length > 6 && mode < 3) {
        buf[0] = buf[0]! | 0xc0;
        buf.set([0, 0, 0, 1], 1);
        buf[5] = buf[5]! % 24;
      } else if (buf.length > 6 && mode === 3) {
        buf[0] = buf[0]! | 0x80;
        buf.set([0, 0, 0, 0], 1);
        buf[5] = buf[5]! % 24;
      }
      const cidLen = rnd.int(21);
      let h: PacketHeader | undefined;
      try {
        h = parsePacketHeader(buf, 0, cidLen);
      } catch (e) {
        assert.ok(e instanceof DecodeError, `seed 17 iteration ${i}: ${String(e)}`);
      }
      const t = tryParsePacketHeader(buf, 0, cidLen);
      assert.equal(t.kind, h?.kind ?? 'invalid');
      counts.set(t.kind, (counts.get(t.kind) ?? 0) + 1);
      if (h && 'pnOffset' in h) {
        assert.ok(h.pnOffset <= h.end && h.end <= buf.length, `seed 17 iteration ${i}: offsets in range`);
      }
    }
    // The generator reaches every outcome, so the test can fail on any of them.
    for (const k of ['invalid', 'long', 'short', 'retry', 'versionNegotiation', 'unsupportedVersion']) {
      assert.ok((counts.get(k) ?? 0) > 0, `seed 17 produced no '${k}'`);
    }
  });
});
