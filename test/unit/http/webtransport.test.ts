/**
 * WebTransport's wire pieces (src/http/wt-protocol.ts): the error code mapping of draft-02 §4.3
 * (both ends of the range, the reserved points skipped, every code round-trips), capsules split
 * across arbitrary chunk boundaries, CLOSE_WEBTRANSPORT_SESSION's limits, HTTP datagrams' quarter
 * stream id, stream prefixes as Chromium writes them, and the draft the peer's SETTINGS choose.
 */
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/codec/errors.js';
import {
  CAPSULE_CLOSE_WEBTRANSPORT_SESSION,
  CapsuleParser,
  decodeCloseCapsule,
  decodeDatagram,
  encodeCapsule,
  encodeCloseCapsule,
  encodeDatagram,
  encodeStreamPrefix,
  httpCodeToWt,
  wtCodeToHttp,
  WT_BIDI_SIGNAL,
  WT_UNI_STREAM_TYPE,
} from '../../../src/http/wt-protocol.js';
import { negotiateDraft } from '../../../src/http/wt-connection.js';
import { parseRequestHead } from '../../../src/http/h3-message.js';
import { H3Error } from '../../../src/http/errors.js';

describe('webtransport wire: error codes, capsules, datagrams, settings', () => {
  it('maps WebTransport codes into the HTTP/3 range and back (draft-02 §4.3)', () => {
    assert.equal(wtCodeToHttp(0), 0x52e4a40fa8db);
    assert.equal(wtCodeToHttp(0xffffffff), 0x52e5ac983162);
    assert.equal(wtCodeToHttp(0x1e), 0x52e4a40fa8db + 0x1e + 1); // skips the reserved 0x...8f9
    for (const n of [0, 1, 29, 30, 31, 77, 123, 4242, 0xfffffffe, 0xffffffff]) assert.equal(httpCodeToWt(wtCodeToHttp(n)), n);
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      assert.equal(httpCodeToWt(BigInt(wtCodeToHttp(seed))), seed);
    }
    assert.equal(httpCodeToWt(0x52e4a40fa8db + 0x1e), undefined); // a reserved point
    assert.equal(httpCodeToWt(0x10c), undefined);
    assert.equal(httpCodeToWt(0x52e5ac983163), undefined);
    assert.throws(() => wtCodeToHttp(2 ** 32), RangeError);
    assert.throws(() => wtCodeToHttp(-1), RangeError);
  });

  it('splits capsules whatever the chunking, and refuses oversized ones', () => {
    const stream = Buffer.concat([encodeCapsule(0x17 + 0x29 * 3, new Uint8Array([1, 2])), encodeCloseCapsule(4242, 'done'), encodeCapsule(0x78ae, new Uint8Array(0))]);
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new CapsuleParser();
      const got = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
      assert.deepEqual(got.map((c) => c.type), [0x17 + 0x29 * 3, CAPSULE_CLOSE_WEBTRANSPORT_SESSION, 0x78ae]);
      assert.deepEqual(decodeCloseCapsule(got[1]!.value), { code: 4242, reason: 'done' });
      assert.equal(p.buffered, 0);
    }
    assert.throws(() => new CapsuleParser(100).push(encodeCapsule(1, new Uint8Array(101))), DecodeError);
  });

  it('CLOSE_WEBTRANSPORT_SESSION: reasons cut at 1024 bytes on a character, short or bad values refused', () => {
    const long = 'é'.repeat(600); // 1200 bytes
    const c = new CapsuleParser().push(encodeCloseCapsule(1, long))[0]!;
    const { reason } = decodeCloseCapsule(c.value);
    assert.equal(reason, 'é'.repeat(512));
    assert.throws(() => decodeCloseCapsule(new Uint8Array(3)), DecodeError);
    assert.throws(() => decodeCloseCapsule(new Uint8Array(4 + 1025)), DecodeError);
    assert.throws(() => decodeCloseCapsule(new Uint8Array([0, 0, 0, 1, 0xff])), DecodeError);
  });

  it('HTTP datagrams carry the quarter stream id (RFC 9297 §2.1)', () => {
    assert.deepEqual(encodeDatagram(0, new Uint8Array([9])), new Uint8Array([0, 9]));
    assert.deepEqual(encodeDatagram(8, new Uint8Array([9])), new Uint8Array([2, 9]));
    const d = decodeDatagram(encodeDatagram(4 * 1000, new Uint8Array([1, 2])));
    assert.equal(d.sessionId, 4000);
    assert.deepEqual(d.payload, new Uint8Array([1, 2]));
    assert.throws(() => decodeDatagram(new Uint8Array(0)), DecodeError);
  });

  it('stream prefixes are written as Chromium does: 0x41 / 0x54 on two bytes, then the session id', () => {
    assert.deepEqual(encodeStreamPrefix(WT_BIDI_SIGNAL, 0), new Uint8Array([0x40, 0x41, 0]));
    assert.deepEqual(encodeStreamPrefix(WT_UNI_STREAM_TYPE, 4), new Uint8Array([0x40, 0x54, 4]));
  });

  it("negotiates the draft from the peer's SETTINGS, as Chromium does", () => {
    assert.equal(negotiateDraft(new Map([[0x33, 1], [0x2b603742, 1]])), 'draft-02'); // Chromium 156 by default
    assert.equal(negotiateDraft(new Map([[0xffd277, 1], [0x2b603742, 1]])), 'draft-02');
    assert.equal(negotiateDraft(new Map([[0x33, 1], [0x2b603742, 1], [0xc671706a, 16]])), 'draft-07');
    assert.match(negotiateDraft(new Map([[0x2b603742, 1]])) as string, /H3_DATAGRAM/);
    assert.match(negotiateDraft(new Map([[0x33, 1]])) as string, /did not enable WebTransport/);
  });

  it('extended CONNECT: :protocol only on a CONNECT with :authority (RFC 9220 §3)', () => {
    const f = (pairs: Array<[string, string]>) => pairs.map(([name, value]) => ({ name, value }));
    const head = parseRequestHead(f([[':method', 'CONNECT'], [':scheme', 'https'], [':authority', '127.0.0.1:4433'], [':path', '/echo'], [':protocol', 'webtransport'], ['origin', 'http://localhost']]));
    assert.equal(head.protocol, 'webtransport');
    assert.equal(head.path, '/echo');
    assert.throws(() => parseRequestHead(f([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a'], [':path', '/'], [':protocol', 'webtransport']])), H3Error);
    assert.throws(() => parseRequestHead(f([[':method', 'CONNECT'], [':scheme', 'https'], [':path', '/'], [':protocol', 'webtransport']])), H3Error);
  });
});
