import assert from 'node:assert/strict';
import { Reader } from '../../../src/codec/reader.js';
import { Writer } from '../../../src/codec/writer.js';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';
import {
  ALL_FRAME_TYPES,
  FrameContext,
  FrameType,
  decodeFrame,
  decodeFrames,
  frameTypeInfo,
  frameTypeOf,
  sizeFrame,
  writeDatagramFrameHeader,
  writeFrame,
  writeStreamFrameHeader,
  type Frame,
} from '../../../src/quic/frames/index.js';
import { FRAME_KINDS, randFrame } from './gen.js';

const { OneRtt } = FrameContext;

function encode(f: Frame): Uint8Array {
  const out = new Uint8Array(sizeFrame(f));
  const w = new Writer(out); // fixed: throws if sizeFrame under-counts
  writeFrame(w, f);
  assert.equal(w.pos, out.length, `sizeFrame(${f.kind}) == bytes written`);
  return out;
}

function decodeOne(bytes: Uint8Array, context: FrameContext = OneRtt): Frame {
  const r = new Reader(bytes);
  const f = decodeFrame(r, context);
  assert.ok(r.atEnd, 'decoder consumed the whole encoding');
  return f;
}

const b = (hex: string): Uint8Array => fromHex(hex);
/** The frame type an encoding starts with (a varint: multipath and NAT traversal types are longer). */
const typeOf = (bytes: Uint8Array): number => new Reader(bytes).varint();
/** How many bytes that type takes. */
const typeLen = (bytes: Uint8Array): number => 1 << (bytes[0]! >> 6);
const token16 = b('00112233445566778899aabbccddeeff');

/** At least one frame of every wire type `writeFrame` produces, with its expected encoding. */
const SAMPLES: Array<[string, Frame]> = [
  ['000000', { kind: 'padding', length: 3 }],
  ['01', { kind: 'ping' }],
  ['02 05 01 00 01', { kind: 'ack', largest: 5, ackDelay: 1, ranges: [5, 4], ecn: null }],
  [
    // largest 100, first range 100..98, gap 1 -> 95..90, gap 0 -> 88..88; ECN 1/2/3
    '03 4064 0a 02 02 01 05 00 00 01 02 03',
    { kind: 'ack', largest: 100, ackDelay: 10, ranges: [100, 98, 95, 90, 88, 88], ecn: { ect0: 1, ect1: 2, ce: 3 } },
  ],
  ['04 04 4100 8000c000', { kind: 'resetStream', streamId: 4, errorCode: 256, finalSize: 49152 }],
  [
    '04 04 ffffffffffffffff 00',
    { kind: 'resetStream', streamId: 4, errorCode: (1n << 62n) - 1n, finalSize: 0 },
  ],
  ['05 08 11', { kind: 'stopSending', streamId: 8, errorCode: 0x11 }],
  ['06 00 03 616263', { kind: 'crypto', offset: 0, data: b('616263') }],
  ['06 4400 01 ff', { kind: 'crypto', offset: 1024, data: b('ff') }],
  ['07 02 abcd', { kind: 'newToken', token: b('abcd') }],
  ['0a 00 02 6869', { kind: 'stream', streamId: 0, offset: 0, data: b('6869'), fin: false }],
  ['0b 04 00', { kind: 'stream', streamId: 4, offset: 0, data: b(''), fin: true }],
  ['0e 01 05 01 aa', { kind: 'stream', streamId: 1, offset: 5, data: b('aa'), fin: false }],
  ['0f 01 05 00', { kind: 'stream', streamId: 1, offset: 5, data: b(''), fin: true }],
  ['10 80100000', { kind: 'maxData', maximum: 1048576 }],
  ['11 03 4400', { kind: 'maxStreamData', streamId: 3, maximum: 1024 }],
  ['12 4064', { kind: 'maxStreams', bidi: true, maximum: 100 }],
  ['13 0a', { kind: 'maxStreams', bidi: false, maximum: 10 }],
  ['14 4400', { kind: 'dataBlocked', maximum: 1024 }],
  ['15 02 10', { kind: 'streamDataBlocked', streamId: 2, maximum: 16 }],
  ['16 05', { kind: 'streamsBlocked', bidi: true, maximum: 5 }],
  ['17 06', { kind: 'streamsBlocked', bidi: false, maximum: 6 }],
  [
    '18 02 01 04 01020304 00112233445566778899aabbccddeeff',
    { kind: 'newConnectionId', sequence: 2, retirePriorTo: 1, connectionId: b('01020304'), resetToken: token16 },
  ],
  ['19 03', { kind: 'retireConnectionId', sequence: 3 }],
  ['1a 0102030405060708', { kind: 'pathChallenge', data: b('0102030405060708') }],
  ['1b 0807060504030201', { kind: 'pathResponse', data: b('0807060504030201') }],
  [
    '1c 0a 08 03 626164',
    { kind: 'connectionClose', application: false, errorCode: 0x0a, frameType: 8, reason: b('626164') },
  ],
  [
    '1d ffffffffffffffff 00',
    { kind: 'connectionClose', application: true, errorCode: (1n << 62n) - 1n, frameType: 0, reason: b('') },
  ],
  ['1e', { kind: 'handshakeDone' }],
  ['31 03 010203', { kind: 'datagram', data: b('010203') }],
  // draft-ietf-quic-multipath §4.
  ['3e 01 05 01 00 01', { kind: 'pathAck', pathId: 1, largest: 5, ackDelay: 1, ranges: [5, 4], ecn: null }],
  [
    '3f 80ffffff 4064 0a 01 02 01 05 01 02 03',
    { kind: 'pathAck', pathId: 0xffffff, largest: 100, ackDelay: 10, ranges: [100, 98, 95, 90], ecn: { ect0: 1, ect1: 2, ce: 3 } },
  ],
  ['7e75 02 4100', { kind: 'pathAbandon', pathId: 2, errorCode: 256 }],
  ['7e76 03 07', { kind: 'pathStatus', pathId: 3, status: 'backup', sequence: 7 }],
  ['7e77 03 08', { kind: 'pathStatus', pathId: 3, status: 'available', sequence: 8 }],
  [
    '7e78 07 02 01 04 01020304 00112233445566778899aabbccddeeff',
    { kind: 'pathNewConnectionId', pathId: 7, sequence: 2, retirePriorTo: 1, connectionId: b('01020304'), resetToken: token16 },
  ],
  ['7e79 07 03', { kind: 'pathRetireConnectionId', pathId: 7, sequence: 3 }],
  ['7e7a c0000000ffffffff', { kind: 'maxPathId', maximum: 0xffffffff }],
  ['7e7b 07', { kind: 'pathsBlocked', maximum: 7 }],
  ['7e7c 05 02', { kind: 'pathCidsBlocked', pathId: 5, nextSequence: 2 }],
  // n0 NAT traversal (noq's n0_nat_traversal frames).
  ['803d7f90 01 c0a80001 1f90', { kind: 'addAddress', sequence: 1, ip: b('c0a80001'), port: 8080 }],
  ['803d7f91 02 20010db8000000000000000000000001 01bb', { kind: 'addAddress', sequence: 2, ip: b('20010db8000000000000000000000001'), port: 443 }],
  ['803d7f92 03 7f000001 ffff', { kind: 'reachOut', round: 3, ip: b('7f000001'), port: 65535 }],
  ['803d7f93 04 00000000000000000000000000000001 0000', { kind: 'reachOut', round: 4, ip: b('00000000000000000000000000000001'), port: 0 }],
  ['803d7f94 01', { kind: 'removeAddress', sequence: 1 }],
  ['809f81a6 05 c0a80001 1151', { kind: 'observedAddress', sequence: 5, ip: b('c0a80001'), port: 0x1151 }],
  [`809f81a7 01 ${'00'.repeat(15)}01 0050`, { kind: 'observedAddress', sequence: 1, ip: b(`${'00'.repeat(15)}01`), port: 80 }],
];

/** Encodings writeFrame never produces (no Length field: valid only as the last frame). */
const LAST_FRAME_SAMPLES: Array<[string, Frame]> = [
  ['08 00 616263', { kind: 'stream', streamId: 0, offset: 0, data: b('616263'), fin: false }],
  ['09 04', { kind: 'stream', streamId: 4, offset: 0, data: b(''), fin: true }],
  ['0c 04 4400 ff', { kind: 'stream', streamId: 4, offset: 1024, data: b('ff'), fin: false }],
  ['0d 04 01 ffee', { kind: 'stream', streamId: 4, offset: 1, data: b('ffee'), fin: true }],
  ['30 010203', { kind: 'datagram', data: b('010203') }],
  ['30', { kind: 'datagram', data: b('') }],
];

describe('frames: codec (RFC 9000 §19, RFC 9221 §4)', () => {
  it('encodes every sample exactly as the RFC lays it out, and decodes it back', () => {
    for (const [hex, f] of SAMPLES) {
      const bytes = encode(f);
      assert.equal(toHex(bytes), hex.replace(/ /g, ''), f.kind);
      assert.deepEqual(decodeOne(bytes), f, hex);
      assert.equal(frameTypeOf(f), typeOf(bytes), `frameTypeOf(${f.kind})`);
    }
  });

  it('decodes the Length-less encodings that end a packet', () => {
    for (const [hex, f] of LAST_FRAME_SAMPLES) assert.deepEqual(decodeOne(b(hex)), f, hex);
    // The header helpers produce them.
    const w = Writer.growable();
    writeStreamFrameHeader(w, 4, 1024, 1, false, false);
    w.u8(0xff);
    assert.equal(toHex(w.bytes()), '0c044400ff');
    const d = Writer.growable();
    writeDatagramFrameHeader(d, 3, false);
    d.bytesOf(b('010203'));
    assert.equal(toHex(d.bytes()), '30010203');
  });

  it('covers every wire type of the table', () => {
    const seen = new Set<number>();
    for (const [hex] of [...SAMPLES, ...LAST_FRAME_SAMPLES]) seen.add(typeOf(b(hex)));
    const all = ALL_FRAME_TYPES.map((info) => info.type);
    assert.deepEqual([...seen].sort((x, y) => x - y), all);
    // RFC 9000 and 9221, PATH_ACK(_ECN), the eight longer multipath types, five NAT traversal
    // types, two of address discovery.
    assert.equal(all.length, 0x1f + 2 + 2 + 8 + 5 + 2);
  });

  it('every truncated prefix fails with FRAME_ENCODING_ERROR carrying the frame type', () => {
    for (const [hex, f] of SAMPLES) {
      if (f.kind === 'padding') continue; // a shorter run of zeros is still PADDING
      const bytes = b(hex);
      for (let k = 1; k < bytes.length; k++) {
        // A cut inside a longer frame type leaves no type to name (0).
        const type = k < typeLen(bytes) ? 0 : typeOf(bytes);
        assert.throws(
          () => decodeFrame(new Reader(bytes.subarray(0, k)), OneRtt),
          (e: unknown) =>
            e instanceof TransportError &&
            e.code === TransportErrorCode.FRAME_ENCODING_ERROR &&
            e.frameType === type,
          `${hex} cut at ${k}`,
        );
      }
    }
    // An empty input has no frame type at all.
    assert.throws(() => decodeFrame(new Reader(new Uint8Array(0)), OneRtt), isCode(TransportErrorCode.FRAME_ENCODING_ERROR));
  });

  it('Length-less frames take the rest of the packet, so a cut leaves a shorter frame', () => {
    for (const [hex, f] of LAST_FRAME_SAMPLES) {
      const bytes = b(hex);
      if (f.kind !== 'stream' && f.kind !== 'datagram') continue;
      const headerLen = bytes.length - f.data.length;
      for (let k = headerLen; k < bytes.length; k++) {
        const g = decodeOne(bytes.subarray(0, k));
        assert.ok(g.kind === f.kind && 'data' in g);
        assert.equal(g.data.length, k - headerLen);
      }
      for (let k = 1; k < headerLen; k++) {
        assert.throws(() => decodeFrame(new Reader(bytes.subarray(0, k)), OneRtt), isCode(TransportErrorCode.FRAME_ENCODING_ERROR));
      }
    }
  });

  it('decoded byte fields are views into the packet, not copies', () => {
    const bytes = b('0e 01 05 02 aabb');
    const f = decodeOne(bytes);
    assert.ok(f.kind === 'stream');
    assert.equal(f.data.buffer, bytes.buffer);
    bytes[bytes.length - 1] = 0xcc;
    assert.equal(f.data[1], 0xcc);
  });

  it('a huge but legal STREAM offset and a 2^60 stream count saturate instead of failing', () => {
    // offset = 2^62-1 with no data: the sum is exactly the limit (RFC 9000 §19.8).
    const s = decodeOne(b('0e 00 ffffffffffffffff 00'));
    assert.deepEqual(s, { kind: 'stream', streamId: 0, offset: Number.MAX_SAFE_INTEGER, data: b(''), fin: false });
    const m = decodeOne(b('12 d000000000000000'));
    assert.deepEqual(m, { kind: 'maxStreams', bidi: true, maximum: Number.MAX_SAFE_INTEGER });
    const c = decodeOne(b('06 ffffffffffffffff 00'));
    assert.ok(c.kind === 'crypto' && c.offset === Number.MAX_SAFE_INTEGER);
  });

  it('property: random frames of every kind round-trip with exact sizes (seeded)', () => {
    const seed = 0xf4a3e5;
    const rng = new SeededRandom(seed);
    for (let i = 0; i < 4000; i++) {
      const kind = FRAME_KINDS[i % FRAME_KINDS.length]!;
      const f = randFrame(rng, kind);
      const bytes = encode(f);
      assert.deepEqual(decodeOne(bytes), f, `seed ${seed} iteration ${i}`);
      assert.equal(frameTypeOf(f), typeOf(bytes), `seed ${seed} iteration ${i}`);
    }
  });

  it('property: a packet of random frames decodes to the same frames (seeded)', () => {
    const seed = 77;
    const rng = new SeededRandom(seed);
    for (let i = 0; i < 500; i++) {
      const frames: Frame[] = [];
      const n = 1 + rng.int(8);
      for (let j = 0; j < n; j++) {
        let f = randFrame(rng, FRAME_KINDS[rng.int(FRAME_KINDS.length)]!);
        // Two PADDING runs in a row decode as one run: merge them up front.
        const prev = frames[frames.length - 1];
        if (f.kind === 'padding' && prev?.kind === 'padding') {
          frames.pop();
          f = { kind: 'padding', length: prev.length + f.length };
        }
        frames.push(f);
      }
      const w = Writer.growable();
      for (const f of frames) writeFrame(w, f);
      assert.equal(w.pos, frames.reduce((s, f) => s + sizeFrame(f), 0));
      assert.deepEqual(decodeFrames(w.bytes(), OneRtt), frames, `seed ${seed} iteration ${i}`);
    }
  });

  it('FrameType constants match the table', () => {
    for (const [name, type] of Object.entries(FrameType)) {
      const info = frameTypeInfo(type);
      assert.ok(info, name);
      assert.equal(info.type, type);
      if (type < 0x08 || type > 0x0f) assert.equal(info.name, name);
    }
  });
});

function isCode(code: number): (e: unknown) => boolean {
  return (e: unknown) => e instanceof TransportError && e.code === code;
}
