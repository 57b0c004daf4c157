import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { Writer } from '../../../src/codec/writer.js';
import {
  QUIC_VERSION_1,
  encodeRetry,
  encodeVersionNegotiation,
  parsePacketHeader,
  sizeRetry,
  sizeVersionNegotiation,
  verifyRetry,
  writeRetry,
  writeVersionNegotiation,
} from '../../../src/quic/packet/index.js';

describe('Version Negotiation (RFC 9000 §17.2.1)', () => {
  it('round-trips; size == bytes written; fixed bit set; CIDs up to 255 bytes', () => {
    const f = { dcid: new Uint8Array(255).fill(7), scid: fromHex('0a0b'), versions: [QUIC_VERSION_1, 0x1a2a3a4a, 0xff00001d] };
    const pkt = encodeVersionNegotiation(f, 0x2b);
    assert.equal(pkt.length, sizeVersionNegotiation(f));
    assert.equal(pkt[0], 0x80 | 0x40 | 0x2b);
    assert.equal(toHex(pkt.subarray(1, 5)), '00000000');
    const h = parsePacketHeader(pkt, 0, 8);
    assert.ok(h.kind === 'versionNegotiation');
    assert.equal(h.dcid.length, 255);
    assert.equal(toHex(h.scid), '0a0b');
    assert.deepEqual(h.versions, f.versions);
    assert.equal(h.end, pkt.length);
  });

  it('defaults to the supported versions and writes into a caller buffer', () => {
    const buf = new Uint8Array(64);
    const w = new Writer(buf, 3);
    writeVersionNegotiation(w, { dcid: fromHex('01'), scid: fromHex('02') });
    assert.equal(w.pos - 3, sizeVersionNegotiation({ dcid: fromHex('01'), scid: fromHex('02') }));
    assert.equal(toHex(buf.subarray(3, w.pos)), 'c0' + '00000000' + '0101' + '0102' + '00000001');
    const h = parsePacketHeader(buf, 3, 0, w.pos);
    assert.ok(h.kind === 'versionNegotiation');
    assert.deepEqual(h.versions, [1]);
  });

  it('every prefix cutting a field or a version fails; prefixes at version boundaries parse fewer versions', () => {
    const pkt = encodeVersionNegotiation({ dcid: fromHex('0102'), scid: fromHex('03'), versions: [1, 2] });
    const headerLen = 1 + 4 + 1 + 2 + 1 + 1;
    for (let n = 0; n < pkt.length; n++) {
      const cut = pkt.subarray(0, n);
      if (n >= headerLen && (n - headerLen) % 4 === 0) {
        const h = parsePacketHeader(cut, 0, 0);
        assert.ok(h.kind === 'versionNegotiation');
        assert.equal(h.versions.length, (n - headerLen) / 4);
      } else {
        assert.throws(() => parsePacketHeader(cut, 0, 0), DecodeError, `prefix ${n}`);
      }
    }
  });
});

describe('Retry (RFC 9000 §17.2.5)', () => {
  const odcid = fromHex('1122334455667788');
  const f = { version: QUIC_VERSION_1, dcid: fromHex('aabb'), scid: fromHex('ccddeeff00112233'), token: new Uint8Array(40).fill(0x42) };

  it('round-trips with a valid integrity tag; size == bytes written; fixed bit set', () => {
    const pkt = encodeRetry(f, odcid);
    assert.equal(pkt.length, sizeRetry(f));
    assert.equal(pkt[0], 0xf0);
    const h = parsePacketHeader(pkt, 0, 8);
    assert.ok(h.kind === 'retry');
    assert.equal(toHex(h.dcid), 'aabb');
    assert.equal(toHex(h.scid), toHex(f.scid));
    assert.equal(toHex(h.token), toHex(f.token));
    assert.equal(h.integrityTag.length, 16);
    assert.ok(verifyRetry(pkt, h, odcid));
    assert.ok(!verifyRetry(pkt, h, fromHex('1122334455667789')));
  });

  it('writes at an offset inside a caller buffer and verifies there', () => {
    const buf = new Uint8Array(200);
    const w = new Writer(buf, 10);
    writeRetry(w, f, odcid, 0x05);
    const h = parsePacketHeader(buf, 10, 0, w.pos);
    assert.ok(h.kind === 'retry');
    assert.equal(buf[10], 0xf5);
    assert.ok(verifyRetry(buf, h, odcid));
  });

  it('prefixes: too short for the tag fails; longer prefixes parse but fail verification', () => {
    const pkt = encodeRetry(f, odcid);
    const fixedLen = 1 + 4 + 1 + 2 + 1 + 8;
    for (let n = 0; n < pkt.length; n++) {
      const cut = pkt.subarray(0, n);
      if (n < fixedLen + 16) {
        assert.throws(() => parsePacketHeader(cut, 0, 0), DecodeError, `prefix ${n}`);
      } else {
        const h = parsePacketHeader(cut, 0, 0);
        assert.ok(h.kind === 'retry');
        assert.ok(!verifyRetry(cut, h, odcid), `prefix ${n} must not verify`);
      }
    }
  });

  it('rejects connection ids over 20 bytes when writing', () => {
    assert.throws(() => encodeRetry({ ...f, scid: new Uint8Array(21) }, odcid), RangeError);
  });
});
