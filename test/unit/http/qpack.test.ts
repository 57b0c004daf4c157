import assert from 'node:assert/strict';
import { fromHex, toHex, utf8, fromUtf8 } from '../../../src/codec/bytes.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { H3Error, QPACK_DECOMPRESSION_FAILED } from '../../../src/http/errors.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../../../src/http/huffman.js';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from '../../../src/http/qpack.js';
import { QPACK_STATIC_TABLE } from '../../../src/http/qpack-static-table.js';
import { seededRandom } from './rand.js';

const hex = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''));

describe('http/huffman (RFC 7541 §5.2, Appendix B)', () => {
  // RFC 7541 Appendix C.4.1-C.4.3 and C.6.1: request and response strings, Huffman-coded.
  const vectors: Array<[string, string]> = [
    ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
    ['no-cache', 'a8eb 1064 9cbf'],
    ['custom-key', '25a8 49e9 5ba9 7d7f'],
    ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
    ['302', '6402'],
    ['private', 'aec3 771a 4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
    ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
  ];
  for (const [text, code] of vectors) {
    it(`encodes and decodes '${text}' as the RFC's vector`, () => {
      assert.equal(toHex(huffmanEncode(utf8(text))), code.replace(/\s+/g, ''));
      assert.equal(huffmanEncodedLength(utf8(text)), hex(code).length);
      assert.equal(fromUtf8(huffmanDecode(hex(code))), text);
    });
  }

  it('round-trips every byte value and random strings', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
    const rand = seededRandom(7);
    for (let n = 0; n < 200; n++) {
      const s = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
      assert.deepEqual(huffmanDecode(huffmanEncode(s)), s);
    }
  });

  it('refuses padding over 7 bits, padding that is not all ones, and EOS (§5.2)', () => {
    // 'a' is 00011 (5 bits); 0x1f = 00011 111: valid with 3 bits of padding.
    assert.equal(fromUtf8(huffmanDecode(hex('1f'))), 'a');
    assert.throws(() => huffmanDecode(hex('18')), DecodeError, 'padding of zeros'); // 00011 000
    assert.throws(() => huffmanDecode(hex('1fff')), /longer than 7 bits/); // 'a' then 11 one-bits
    assert.throws(() => huffmanDecode(hex('ffffffff')), /EOS/); // 30 ones = EOS, then 2 padding bits
  });
});

describe('http/qpack (RFC 9204, static table only)', () => {
  it('has the 99 entries of Appendix A at their indexes', () => {
    assert.equal(QPACK_STATIC_TABLE.length, 99);
    assert.deepEqual(QPACK_STATIC_TABLE[0], [':authority', '']);
    assert.deepEqual(QPACK_STATIC_TABLE[1], [':path', '/']);
    assert.deepEqual(QPACK_STATIC_TABLE[17], [':method', 'GET']);
    assert.deepEqual(QPACK_STATIC_TABLE[25], [':status', '200']);
    assert.deepEqual(QPACK_STATIC_TABLE[98], ['x-frame-options', 'sameorigin']);
  });

  it('decodes RFC 9204 Appendix B.1 (Literal Field Line with Name Reference, static)', () => {
    // B.1: "0000 510b 2f69 6e64 6578 2e68 746d 6c" = :path=/index.html
    assert.deepEqual(decodeFieldSection(hex('0000 510b 2f69 6e64 6578 2e68 746d 6c')), [{ name: ':path', value: '/index.html' }]);
  });

  it('encodes B.1\'s field, Huffman-coding the value (8 bytes instead of 11)', () => {
    const fields: HeaderField[] = [{ name: ':path', value: '/index.html' }];
    // '/index.html' Huffman-coded is 8 bytes < 11, so we Huffman-code it: 0x51, 0x88 | 8, ...
    const enc = encodeFieldSection(fields);
    assert.equal(toHex(enc.subarray(0, 4)), '00005188');
    assert.deepEqual(decodeFieldSection(enc), fields);
  });

  it('decodes indexed static lines and literal names', () => {
    // d1 = 1 T=1 index 17 (:method GET); df = index 31; 23 = 001 N=0 H=0 name length 3 'x-a', 01 'b'
    assert.deepEqual(decodeFieldSection(hex('0000 d1 df 23 782d61 01 62')), [
      { name: ':method', value: 'GET' },
      { name: QPACK_STATIC_TABLE[31]![0], value: QPACK_STATIC_TABLE[31]![1] },
      { name: 'x-a', value: 'b' },
    ]);
  });

  it('round-trips requests and responses, with exact, name-only and unknown fields', () => {
    const cases: HeaderField[][] = [
      [
        { name: ':method', value: 'GET' },
        { name: ':scheme', value: 'https' },
        { name: ':authority', value: 'localhost:4433' },
        { name: ':path', value: '/file100k.bin' },
        { name: 'user-agent', value: 'quic-peer' },
      ],
      [
        { name: ':status', value: '200' },
        { name: 'content-length', value: '10000000' },
        { name: 'x-custom-header', value: 'value with spaces and UTF-8: é' },
        { name: 'x-empty', value: '' },
      ],
      [{ name: 'a'.repeat(300), value: 'b'.repeat(5000) }],
    ];
    for (const fields of cases) assert.deepEqual(decodeFieldSection(encodeFieldSection(fields)), fields);
  });

  it('refuses every dynamic table reference and a nonzero Required Insert Count (§2.2.3)', () => {
    const bad: Array<[string, string]> = [
      ['0100 80', 'Required Insert Count 1'],
      ['0000 80', 'indexed field line, dynamic (T=0)'],
      ['0000 40 00', 'literal with dynamic name reference'],
      ['0000 10', 'indexed post-base'],
      ['0000 00 00', 'literal with post-base name reference'],
      ['0000 ff 44', 'static index 63 + 68 = 131, out of range'],
      ['0000 51 05 2f', 'value shorter than its length'],
      ['0000 23 782d', 'literal name truncated'],
      ['00', 'prefix truncated'],
      ['0000 51 ff ff ff ff ff 7f', 'length integer too large'],
      ['0000 51 81 00', 'a Huffman value with bad padding'],
    ];
    for (const [block, what] of bad) {
      assert.throws(
        () => decodeFieldSection(hex(block)),
        (e: unknown) => e instanceof H3Error && e.code === QPACK_DECOMPRESSION_FAILED && e.scope === 'connection',
        what,
      );
    }
  });

  it('every truncated prefix of an encoded section fails or decodes fewer fields, never throws otherwise', () => {
    const enc = encodeFieldSection([
      { name: ':method', value: 'GET' },
      { name: ':path', value: '/some/long/path/to/a/file.bin' },
      { name: 'x-literal', value: 'some value' },
    ]);
    for (let n = 0; n < enc.length; n++) {
      try {
        const got = decodeFieldSection(enc.subarray(0, n));
        assert.ok(got.length < 3, `prefix of ${n} bytes decoded all fields`);
      } catch (e) {
        assert.ok(e instanceof H3Error && e.code === QPACK_DECOMPRESSION_FAILED, `prefix ${n}: ${String(e)}`);
      }
    }
  });

  it('random bytes never throw anything but QPACK_DECOMPRESSION_FAILED', () => {
    const rand = seededRandom(11);
    for (let n = 0; n < 2000; n++) {
      const b = Uint8Array.from({ length: 1 + Math.floor(rand() * 30) }, () => Math.floor(rand() * 256));
      try {
        decodeFieldSection(b);
      } catch (e) {
        assert.ok(e instanceof H3Error && e.code === QPACK_DECOMPRESSION_FAILED, String(e));
      }
    }
  });
});
