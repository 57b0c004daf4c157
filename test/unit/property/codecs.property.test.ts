import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reader } from '../../../src/codec/reader.js';
import { Writer } from '../../../src/codec/writer.js';
import { DecodeError } from '../../../src/codec/errors.js';
import { VARINT_SATURATED, sizeVarintExact } from '../../../src/codec/varint.js';
import { TransportError, TransportErrorCode } from '../../../src/quic/errors.js';
import { decodeFrames } from '../../../src/quic/frames/decode.js';
import { sizeFrame, writeFrame } from '../../../src/quic/frames/encode.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { FrameContext, isFrameAllowed } from '../../../src/quic/frames/types.js';
import { frameTypeOf } from '../../../src/quic/frames/encode.js';
import { LongPacketType, parsePacketHeader, tryParsePacketHeader, writeLongHeader, writeShortHeader } from '../../../src/quic/packet/header.js';
import { QUIC_VERSION_1 } from '../../../src/quic/packet/version.js';
import { bytes, fcParams, varintBig, varintNum } from './fc.js';

/**
 * fast-check properties of the QUIC codecs (varint, frames, packet headers). The seeded tests
 * next to each codec (test/unit/frames, codec, packet) sample random values; these add shrinking
 * (a failure is reported as its smallest counterexample), boundary-weighted arbitraries, and
 * properties those do not state: the frame-type table against decoding in every packet type,
 * every prefix of a frame list, and header fields surviving a write/parse round trip.
 */
const CONTEXTS = [FrameContext.Initial, FrameContext.ZeroRtt, FrameContext.Handshake, FrameContext.OneRtt] as const;

const code: fc.Arbitrary<number | bigint> = varintBig.map((v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v));
const cid = bytes(20, 1);
/** A multipath path id: 0..2^32-1 (draft-ietf-quic-multipath §2). */
const pathId: fc.Arbitrary<number> = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 63, 64, 16383, 16384, 0x3fffffff, 0x40000000, 0xffffffff));

/** Valid ACK ranges: [largest, smallest, ...] descending, gaps of at least one packet (RFC 9000 §19.3.1). */
const ackRanges: fc.Arbitrary<number[]> = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 20 }))
  .map(([top, steps]) => {
    const out: number[] = [];
    let hi = top;
    for (const [len, gap] of [[0, 0] as [number, number], ...steps]) {
      if (hi < 0) break;
      const lo = Math.max(0, hi - len);
      out.push(hi, lo);
      hi = lo - gap - 2;
    }
    return out;
  });

export const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.constant<Frame>({ kind: 'ping' }),
  fc.integer({ min: 1, max: 50 }).map((length): Frame => ({ kind: 'padding', length })),
  fc.tuple(ackRanges, varintNum, fc.option(fc.tuple(varintNum, varintNum, varintNum), { nil: null })).map(
    ([ranges, ackDelay, e]): Frame => ({ kind: 'ack', largest: ranges[0]!, ackDelay, ranges, ecn: e ? { ect0: e[0], ect1: e[1], ce: e[2] } : null }),
  ),
  fc.record({ streamId: varintNum, errorCode: code, finalSize: varintNum }).map((r): Frame => ({ kind: 'resetStream', ...r })),
  fc.record({ streamId: varintNum, errorCode: code }).map((r): Frame => ({ kind: 'stopSending', ...r })),
  fc.record({ offset: fc.integer({ min: 0, max: 2 ** 50 }), data: bytes(64) }).map((r): Frame => ({ kind: 'crypto', ...r })),
  bytes(64, 1).map((token): Frame => ({ kind: 'newToken', token })),
  fc.record({ streamId: varintNum, offset: fc.integer({ min: 0, max: 2 ** 52 }), data: bytes(64), fin: fc.boolean() }).map((r): Frame => ({ kind: 'stream', ...r })),
  varintNum.map((maximum): Frame => ({ kind: 'maxData', maximum })),
  fc.record({ streamId: varintNum, maximum: varintNum }).map((r): Frame => ({ kind: 'maxStreamData', ...r })),
  fc.record({ bidi: fc.boolean(), maximum: fc.integer({ min: 0, max: 2 ** 50 }) }).map((r): Frame => ({ kind: 'maxStreams', ...r })),
  varintNum.map((maximum): Frame => ({ kind: 'dataBlocked', maximum })),
  fc.record({ streamId: varintNum, maximum: varintNum }).map((r): Frame => ({ kind: 'streamDataBlocked', ...r })),
  fc.record({ bidi: fc.boolean(), maximum: fc.integer({ min: 0, max: 2 ** 50 }) }).map((r): Frame => ({ kind: 'streamsBlocked', ...r })),
  fc.tuple(varintNum, fc.nat(), cid, bytes(16, 16)).map(
    ([sequence, k, connectionId, resetToken]): Frame => ({ kind: 'newConnectionId', sequence, retirePriorTo: sequence === 0 ? 0 : k % (sequence + 1), connectionId, resetToken }),
  ),
  varintNum.map((sequence): Frame => ({ kind: 'retireConnectionId', sequence })),
  bytes(8, 8).map((data): Frame => ({ kind: 'pathChallenge', data })),
  bytes(8, 8).map((data): Frame => ({ kind: 'pathResponse', data })),
  fc.record({ application: fc.boolean(), errorCode: code, frameType: fc.integer({ min: 0, max: 0x30 }), reason: bytes(40) }).map(
    (r): Frame => ({ kind: 'connectionClose', ...r, frameType: r.application ? 0 : r.frameType }),
  ),
  fc.constant<Frame>({ kind: 'handshakeDone' }),
  bytes(64).map((data): Frame => ({ kind: 'datagram', data })),
  // draft-ietf-quic-multipath §4 and n0 NAT traversal.
  fc.tuple(pathId, ackRanges, varintNum, fc.option(fc.tuple(varintNum, varintNum, varintNum), { nil: null })).map(
    ([id, ranges, ackDelay, e]): Frame => ({ kind: 'pathAck', pathId: id, largest: ranges[0]!, ackDelay, ranges, ecn: e ? { ect0: e[0], ect1: e[1], ce: e[2] } : null }),
  ),
  fc.record({ pathId, errorCode: code }).map((r): Frame => ({ kind: 'pathAbandon', ...r })),
  fc.record({ pathId, status: fc.constantFrom('backup' as const, 'available' as const), sequence: varintNum }).map((r): Frame => ({ kind: 'pathStatus', ...r })),
  fc.tuple(pathId, varintNum, fc.nat(), cid, bytes(16, 16)).map(
    ([id, sequence, k, connectionId, resetToken]): Frame => ({
      kind: 'pathNewConnectionId', pathId: id, sequence, retirePriorTo: sequence === 0 ? 0 : k % (sequence + 1), connectionId, resetToken,
    }),
  ),
  fc.record({ pathId, sequence: varintNum }).map((r): Frame => ({ kind: 'pathRetireConnectionId', ...r })),
  pathId.map((maximum): Frame => ({ kind: 'maxPathId', maximum })),
  pathId.map((maximum): Frame => ({ kind: 'pathsBlocked', maximum })),
  fc.record({ pathId, nextSequence: varintNum }).map((r): Frame => ({ kind: 'pathCidsBlocked', ...r })),
  fc.record({ sequence: varintNum, ip: fc.oneof(bytes(4, 4), bytes(16, 16)), port: fc.integer({ min: 0, max: 0xffff }) }).map((r): Frame => ({ kind: 'addAddress', ...r })),
  fc.record({ round: varintNum, ip: fc.oneof(bytes(4, 4), bytes(16, 16)), port: fc.integer({ min: 0, max: 0xffff }) }).map((r): Frame => ({ kind: 'reachOut', ...r })),
  varintNum.map((sequence): Frame => ({ kind: 'removeAddress', sequence })),
);

/** A comparable text form (bigints, byte views). */
function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Array.from(x).join(',') : x));
}

function encode(frames: readonly Frame[]): Uint8Array {
  const w = Writer.growable(256);
  for (const f of frames) writeFrame(w, f);
  return w.buf.slice(0, w.pos);
}

/** Adjacent PADDING runs decode as one: merge them in the expectation. */
function mergePadding(frames: readonly Frame[]): Frame[] {
  const out: Frame[] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (f.kind === 'padding' && last?.kind === 'padding') out[out.length - 1] = { kind: 'padding', length: last.length + f.length };
    else out.push(f);
  }
  return out;
}

describe('property (fast-check): varints, RFC 9000 §16', () => {
  it('every value 0..2^62-1 round-trips in its shortest encoding; varint() saturates above 2^53-1', () => {
    fc.assert(
      fc.property(varintBig, (v) => {
        const w = Writer.growable(8);
        w.varintExact(v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        assert.equal(w.pos, sizeVarintExact(v));
        const b = w.buf.slice(0, w.pos);
        assert.equal(new Reader(b).varintBig(), v);
        const exact = new Reader(b).varintExact();
        assert.equal(BigInt(exact), v);
        const sat = new Reader(b).varint();
        assert.equal(sat, v > BigInt(Number.MAX_SAFE_INTEGER) ? VARINT_SATURATED : Number(v));
      }),
      fcParams(0x7a1, 400),
    );
  });

  it('any bytes: a varint read consumes 1, 2, 4 or 8 bytes as the prefix says, or throws DecodeError', () => {
    fc.assert(
      fc.property(bytes(9), (b) => {
        const r = new Reader(b);
        try {
          r.varint();
        } catch (e) {
          assert.ok(e instanceof DecodeError);
          assert.ok(b.length < 1 << (b[0]! >> 6) || b.length === 0);
          return;
        }
        assert.equal(r.pos, 1 << (b[0]! >> 6));
      }),
      fcParams(0x7a2, 300),
    );
  });
});

describe('property (fast-check): frames, RFC 9000 §19 / §12.4', () => {
  it('a frame encodes to exactly sizeFrame bytes and decodes to itself, in exactly the packet types the table allows', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const b = encode([f]);
        assert.equal(b.length, sizeFrame(f));
        for (const ctx of CONTEXTS) {
          const allowed = isFrameAllowed(frameTypeOf(f), ctx);
          try {
            const back = decodeFrames(b, ctx);
            assert.ok(allowed, `decoded in context ${ctx} though not allowed`);
            assert.equal(show(back), show([f]));
          } catch (e) {
            if (e instanceof assert.AssertionError) throw e;
            assert.ok(e instanceof TransportError, String(e));
            assert.ok(!allowed, `context ${ctx}: ${String(e)}`);
            assert.equal(e.code, TransportErrorCode.PROTOCOL_VIOLATION);
          }
        }
      }),
      fcParams(0xf1, 500),
    );
  });

  it('a list of frames round-trips, and every strict prefix of it decodes to fewer frames or fails with FRAME_ENCODING_ERROR', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.nat(), (frames, cutSeed) => {
        const b = encode(frames);
        assert.equal(show(decodeFrames(b, FrameContext.OneRtt)), show(mergePadding(frames)));
        const cut = cutSeed % b.length;
        if (cut === 0) return;
        try {
          const part = decodeFrames(b.subarray(0, cut), FrameContext.OneRtt);
          // A cut inside a PADDING run or a DATAGRAM without length can still decode: never to more.
          assert.ok(part.length <= mergePadding(frames).length);
        } catch (e) {
          assert.ok(e instanceof TransportError, String(e));
          assert.equal(e.code, TransportErrorCode.FRAME_ENCODING_ERROR);
        }
      }),
      fcParams(0xf2, 300),
    );
  });

  it('any bytes in any packet type: frames, or a TransportError with an RFC 9000 §20 code', () => {
    fc.assert(
      fc.property(bytes(48, 1), fc.constantFrom(...CONTEXTS), (b, ctx) => {
        try {
          decodeFrames(b, ctx);
        } catch (e) {
          assert.ok(e instanceof TransportError, String(e));
          assert.ok(
            [TransportErrorCode.FRAME_ENCODING_ERROR, TransportErrorCode.PROTOCOL_VIOLATION, TransportErrorCode.CRYPTO_BUFFER_EXCEEDED].includes(
              e.code as 7,
            ),
            `code ${e.code}`,
          );
        }
      }),
      fcParams(0xf3, 500),
    );
  });
});

describe('property (fast-check): packet headers, RFC 9000 §17', () => {
  it('long and short headers parse back to the fields written', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(LongPacketType.Initial, LongPacketType.ZeroRtt, LongPacketType.Handshake, -1),
        bytes(20),
        bytes(20),
        bytes(30),
        fc.integer({ min: 0, max: 2 ** 32 }),
        fc.constantFrom(1, 2, 3, 4),
        fc.integer({ min: 0, max: 200 }),
        (type, dcid, scid, token, pn, pnLen, payloadLen) => {
          const out = new Uint8Array(400);
          const w = new Writer(out);
          const plen = pnLen as 1 | 2 | 3 | 4;
          const marks =
            type < 0
              ? writeShortHeader(w, dcid, pn, plen, 0)
              : writeLongHeader(w, { type: type as 0 | 1 | 2, version: QUIC_VERSION_1, dcid, scid, ...(type === 0 ? { token } : {}) }, pn, plen, 2);
          w.zeros(payloadLen + 4);
          const end = w.pos;
          if (marks.lengthWidth !== 0) {
            const len = end - marks.pnOffset;
            w.buf[marks.lengthAt] = 0x40 | (len >> 8);
            w.buf[marks.lengthAt + 1] = len & 0xff;
          }
          const h = parsePacketHeader(out, 0, dcid.length, end);
          assert.equal(h.kind, type < 0 ? 'short' : 'long');
          if (h.kind === 'short') {
            assert.deepEqual(h.dcid, dcid);
            assert.equal(h.pnOffset, marks.pnOffset);
          } else if (h.kind === 'long') {
            assert.equal(h.type, type);
            assert.deepEqual([h.dcid, h.scid], [dcid, scid]);
            assert.deepEqual(h.token, type === 0 ? token : new Uint8Array(0));
            assert.equal(h.pnOffset, marks.pnOffset);
            assert.equal(h.end, end);
          }
        },
      ),
      fcParams(0x4ead, 300),
    );
  });

  it('any bytes: tryParsePacketHeader never throws, parsePacketHeader throws only DecodeError, headers stay in bounds', () => {
    fc.assert(
      fc.property(bytes(80), fc.integer({ min: 0, max: 20 }), (b, cidLen) => {
        const h = tryParsePacketHeader(b, 0, cidLen);
        if (h.kind !== 'invalid') assert.ok(h.end <= b.length && h.start === 0);
        try {
          parsePacketHeader(b, 0, cidLen);
        } catch (e) {
          assert.ok(e instanceof DecodeError, String(e));
        }
      }),
      fcParams(0x4eae, 500),
    );
  });
});
