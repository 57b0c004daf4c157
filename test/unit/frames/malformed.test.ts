import assert from 'node:assert/strict';
import { Writer } from '../../../src/codec/writer.js';
import { fromHex } from '../../../src/codec/bytes.js';
import { TransportError, TransportErrorCode as E } from '../../../src/quic/errors.js';
import { SeededRandom } from '../../../src/tls/random.js';
import {
  ALL_FRAME_TYPES,
  FrameContext,
  FrameIterator,
  decodeFrames,
  isAckEliciting,
  isFrameAllowed,
  isProbing,
  writeFrame,
  type Frame,
} from '../../../src/quic/frames/index.js';
import { FRAME_KINDS, randFrame } from './gen.js';

const { Initial, ZeroRtt, Handshake, OneRtt } = FrameContext;
const TOKEN = '00112233445566778899aabbccddeeff';

/** [what, payload hex, packet type, expected code, expected frame type]. */
const MALFORMED: Array<[string, string, FrameContext, number, number]> = [
  ['empty payload (§12.4: at least one frame)', '', OneRtt, E.PROTOCOL_VIOLATION, 0],
  ['unknown type 0x1f', '1f', OneRtt, E.FRAME_ENCODING_ERROR, 0x1f],
  ['unknown type 0x2f', '2f 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x2f],
  ['unknown type 0x32', '32', OneRtt, E.FRAME_ENCODING_ERROR, 0x32],
  ['unknown two-byte type 0x100', '4100', OneRtt, E.FRAME_ENCODING_ERROR, 0x100],
  ['unknown type after a valid frame', '01 3d', OneRtt, E.FRAME_ENCODING_ERROR, 0x3d],
  ['unknown type between the multipath ones, 0x3e7d', '7e7d 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x3e7d],
  ['unknown type past the NAT traversal ones, 0x3d7f95', '803d7f95 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x3d7f95],
  ['PATH_ABANDON type in four bytes', '80003e75 00 00', OneRtt, E.PROTOCOL_VIOLATION, 0x3e75],
  // draft-ietf-quic-multipath: a path id is 32 bits (noq: FRAME_ENCODING_ERROR above).
  ['PATH_ACK path id 2^32', '3e c000000100000000 00 00 00 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x3e],
  ['PATH_ABANDON path id 2^62-1', '7e75 ffffffffffffffff 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x3e75],
  ['MAX_PATH_ID 2^32', '7e7a c000000100000000', OneRtt, E.FRAME_ENCODING_ERROR, 0x3e7a],
  ['PATHS_BLOCKED 2^32', '7e7b c000000100000000', OneRtt, E.FRAME_ENCODING_ERROR, 0x3e7b],
  ['PATH_ACK first range > largest', '3e 00 05 00 00 06', OneRtt, E.FRAME_ENCODING_ERROR, 0x3e],
  ['PATH_ACK_ECN without counts', '3f 00 05 00 00 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x3f],
  ['PATH_NEW_CONNECTION_ID zero-length id', `7e78 00 01 00 00 ${TOKEN}`, OneRtt, E.FRAME_ENCODING_ERROR, 0x3e78],
  ['PATH_NEW_CONNECTION_ID retire_prior_to > sequence', `7e78 00 01 02 04 01020304 ${TOKEN}`, OneRtt, E.FRAME_ENCODING_ERROR, 0x3e78],
  ['PATH_NEW_CONNECTION_ID short token', `7e78 00 01 00 04 01020304 0011`, OneRtt, E.FRAME_ENCODING_ERROR, 0x3e78],
  ['ADD_ADDRESS IPv6 with an IPv4 address', '803d7f91 00 7f000001 0050', OneRtt, E.FRAME_ENCODING_ERROR, 0x3d7f91],
  ['REACH_OUT without a port', '803d7f92 00 7f000001', OneRtt, E.FRAME_ENCODING_ERROR, 0x3d7f92],
  // draft-ietf-quic-multipath §4: its frames only in 1-RTT packets, else PROTOCOL_VIOLATION.
  ['PATH_ACK in Handshake', '3e 00 00 00 00 00', Handshake, E.PROTOCOL_VIOLATION, 0x3e],
  ['PATH_ACK in 0-RTT', '3e 00 00 00 00 00', ZeroRtt, E.PROTOCOL_VIOLATION, 0x3e],
  ['MAX_PATH_ID in 0-RTT', '7e7a 01', ZeroRtt, E.PROTOCOL_VIOLATION, 0x3e7a],
  ['PATH_NEW_CONNECTION_ID in Initial', `7e78 00 00 00 01 aa ${TOKEN}`, Initial, E.PROTOCOL_VIOLATION, 0x3e78],
  ['ADD_ADDRESS in 0-RTT', '803d7f90 00 7f000001 0050', ZeroRtt, E.PROTOCOL_VIOLATION, 0x3d7f90],
  ['PING type in two bytes (§12.4 shortest encoding)', '4001', OneRtt, E.PROTOCOL_VIOLATION, 0x01],
  ['PADDING type in four bytes', '80000000', OneRtt, E.PROTOCOL_VIOLATION, 0x00],
  ['unknown type 0x20 in two bytes', '4020', OneRtt, E.PROTOCOL_VIOLATION, 0x20],
  ['truncated two-byte frame type', '40', OneRtt, E.FRAME_ENCODING_ERROR, 0],
  ['ACK first range > largest', '02 05 00 00 06', OneRtt, E.FRAME_ENCODING_ERROR, 0x02],
  ['ACK gap below packet 0 (§19.3.1)', '02 05 00 01 01 03 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x02],
  ['ACK range length below packet 0', '02 05 00 01 00 01 03', OneRtt, E.FRAME_ENCODING_ERROR, 0x02],
  ['ACK huge range count', '02 05 00 bfffffff 00 00 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x02],
  ['ACK_ECN without counts', '03 05 00 00 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x03],
  ['ACK_ECN with two counts', '03 05 00 00 00 01 01', OneRtt, E.FRAME_ENCODING_ERROR, 0x03],
  ['RESET_STREAM truncated final size', '04 00 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x04],
  ['CRYPTO offset + length > 2^62-1 (§19.6)', '06 ffffffffffffffff 01 aa', OneRtt, E.CRYPTO_BUFFER_EXCEEDED, 0x06],
  ['CRYPTO data past the end', '06 00 05 aabb', Initial, E.FRAME_ENCODING_ERROR, 0x06],
  ['NEW_TOKEN empty (§19.7)', '07 00', OneRtt, E.FRAME_ENCODING_ERROR, 0x07],
  ['STREAM offset + length > 2^62-1 (§19.8)', '0e 00 ffffffffffffffff 01 aa', OneRtt, E.FRAME_ENCODING_ERROR, 0x0e],
  ['STREAM no LEN, offset + rest > 2^62-1', '0c 00 ffffffffffffffff aa', OneRtt, E.FRAME_ENCODING_ERROR, 0x0c],
  ['STREAM length past the end', '0a 00 05 aabb', OneRtt, E.FRAME_ENCODING_ERROR, 0x0a],
  ['MAX_STREAMS bidi > 2^60 (§19.11)', '12 d000000000000001', OneRtt, E.FRAME_ENCODING_ERROR, 0x12],
  ['MAX_STREAMS uni = 2^62-1', '13 ffffffffffffffff', OneRtt, E.FRAME_ENCODING_ERROR, 0x13],
  ['STREAMS_BLOCKED bidi > 2^60 (§19.14)', '16 d000000000000001', OneRtt, E.FRAME_ENCODING_ERROR, 0x16],
  ['STREAMS_BLOCKED uni > 2^60', '17 e000000000000000', OneRtt, E.FRAME_ENCODING_ERROR, 0x17],
  ['NEW_CONNECTION_ID zero-length id (§19.15)', `18 01 00 00 ${TOKEN}`, OneRtt, E.FRAME_ENCODING_ERROR, 0x18],
  ['NEW_CONNECTION_ID 21-byte id', `18 01 00 15 ${'ab'.repeat(21)} ${TOKEN}`, OneRtt, E.FRAME_ENCODING_ERROR, 0x18],
  ['NEW_CONNECTION_ID retire_prior_to > sequence', `18 01 02 04 01020304 ${TOKEN}`, OneRtt, E.FRAME_ENCODING_ERROR, 0x18],
  [
    'NEW_CONNECTION_ID retire_prior_to > sequence, both saturated',
    `18 d000000000000000 d000000000000001 04 01020304 ${TOKEN}`,
    OneRtt,
    E.FRAME_ENCODING_ERROR,
    0x18,
  ],
  ['NEW_CONNECTION_ID short token', `18 01 00 04 01020304 0011`, OneRtt, E.FRAME_ENCODING_ERROR, 0x18],
  ['PATH_CHALLENGE short', '1a 0102', OneRtt, E.FRAME_ENCODING_ERROR, 0x1a],
  ['CONNECTION_CLOSE reason past the end', '1c 00 00 05 61', OneRtt, E.FRAME_ENCODING_ERROR, 0x1c],
  ['application CONNECTION_CLOSE reason past the end', '1d 00 02 61', OneRtt, E.FRAME_ENCODING_ERROR, 0x1d],
  ['DATAGRAM length past the end', '31 05 aa', OneRtt, E.FRAME_ENCODING_ERROR, 0x31],
  // RFC 9000 §12.4 Table 3: a frame in a packet type it is not allowed in.
  ['STREAM in Initial', '0a 00 00', Initial, E.PROTOCOL_VIOLATION, 0x0a],
  ['STREAM in Handshake', '08 00', Handshake, E.PROTOCOL_VIOLATION, 0x08],
  ['ACK in 0-RTT', '02 00 00 00 00', ZeroRtt, E.PROTOCOL_VIOLATION, 0x02],
  ['CRYPTO in 0-RTT', '06 00 00', ZeroRtt, E.PROTOCOL_VIOLATION, 0x06],
  ['HANDSHAKE_DONE in Handshake', '1e', Handshake, E.PROTOCOL_VIOLATION, 0x1e],
  ['HANDSHAKE_DONE in 0-RTT', '1e', ZeroRtt, E.PROTOCOL_VIOLATION, 0x1e],
  ['NEW_TOKEN in Handshake', '07 01 aa', Handshake, E.PROTOCOL_VIOLATION, 0x07],
  ['PATH_RESPONSE in 0-RTT', '1b 0102030405060708', ZeroRtt, E.PROTOCOL_VIOLATION, 0x1b],
  ['application CONNECTION_CLOSE in Initial', '1d 00 00', Initial, E.PROTOCOL_VIOLATION, 0x1d],
  ['application CONNECTION_CLOSE in Handshake', '1d 00 00', Handshake, E.PROTOCOL_VIOLATION, 0x1d],
  ['DATAGRAM in Initial', '30 aa', Initial, E.PROTOCOL_VIOLATION, 0x30],
  ['DATAGRAM in Handshake', '31 00', Handshake, E.PROTOCOL_VIOLATION, 0x31],
  ['MAX_DATA in Initial after a PING', '01 10 00', Initial, E.PROTOCOL_VIOLATION, 0x10],
];

/** A minimal valid encoding of every wire type, for the permission table. */
const MINIMAL: Record<number, string> = {
  0x00: '00',
  0x01: '01',
  0x02: '02 00 00 00 00',
  0x03: '03 00 00 00 00 00 00 00',
  0x04: '04 00 00 00',
  0x05: '05 00 00',
  0x06: '06 00 00',
  0x07: '07 01 aa',
  0x10: '10 00',
  0x11: '11 00 00',
  0x12: '12 00',
  0x13: '13 00',
  0x14: '14 00',
  0x15: '15 00 00',
  0x16: '16 00',
  0x17: '17 00',
  0x18: `18 00 00 01 aa ${TOKEN}`,
  0x19: '19 00',
  0x1a: '1a 0000000000000000',
  0x1b: '1b 0000000000000000',
  0x1c: '1c 00 00 00',
  0x1d: '1d 00 00',
  0x1e: '1e',
  0x30: '30',
  0x31: '31 00',
  0x3e: '3e 00 00 00 00 00',
  0x3f: '3f 00 00 00 00 00 00 00 00',
  0x3e75: '7e75 00 00',
  0x3e76: '7e76 00 00',
  0x3e77: '7e77 00 00',
  0x3e78: `7e78 00 00 00 01 aa ${TOKEN}`,
  0x3e79: '7e79 00 00',
  0x3e7a: '7e7a 00',
  0x3e7b: '7e7b 00',
  0x3e7c: '7e7c 00 00',
  0x3d7f90: '803d7f90 00 7f000001 0050',
  0x3d7f91: `803d7f91 00 ${'00'.repeat(16)} 0050`,
  0x3d7f92: '803d7f92 00 7f000001 0050',
  0x3d7f93: `803d7f93 00 ${'00'.repeat(16)} 0050`,
  0x3d7f94: '803d7f94 00',
  0x9f81a6: '809f81a6 00 7f000001 0050',
  0x9f81a7: `809f81a7 00 ${'00'.repeat(16)} 0050`,
};
for (let t = 0x08; t <= 0x0f; t++) {
  MINIMAL[t] = `${t.toString(16).padStart(2, '0')} 00${t & 4 ? ' 00' : ''}${t & 2 ? ' 00' : ''}`;
}

/**
 * RFC 9000 §12.4 Table 3 "Pkts" column, copied by hand (IH01 = Initial, Handshake, 0-RTT, 1-RTT;
 * "ih" for 0x1c), plus RFC 9221 §4 for DATAGRAM.
 */
const RFC_TABLE3: Record<number, string> = {
  0x00: 'IH01',
  0x01: 'IH01',
  0x02: 'IH_1',
  0x03: 'IH_1',
  0x04: '__01',
  0x05: '__01',
  0x06: 'IH_1',
  0x07: '___1',
  0x10: '__01',
  0x11: '__01',
  0x12: '__01',
  0x13: '__01',
  0x14: '__01',
  0x15: '__01',
  0x16: '__01',
  0x17: '__01',
  0x18: '__01',
  0x19: '__01',
  0x1a: '__01',
  0x1b: '___1',
  0x1c: 'ih01',
  0x1d: '__01',
  0x1e: '___1',
  0x30: '__01',
  0x31: '__01',
};
// draft-ietf-quic-multipath §4 ("MUST only be sent in 1-RTT packets"), and n0 NAT traversal.
for (const t of [0x3e, 0x3f, 0x3e75, 0x3e76, 0x3e77, 0x3e78, 0x3e79, 0x3e7a, 0x3e7b, 0x3e7c, 0x3d7f90, 0x3d7f91, 0x3d7f92, 0x3d7f93, 0x3d7f94, 0x9f81a6, 0x9f81a7]) {
  RFC_TABLE3[t] = '___1';
}
for (let t = 0x08; t <= 0x0f; t++) RFC_TABLE3[t] = '__01';

/** Column of each packet type in the "IH01" string. */
const COLUMN: Record<FrameContext, number> = { [Initial]: 0, [Handshake]: 1, [ZeroRtt]: 2, [OneRtt]: 3 };
const CONTEXTS: FrameContext[] = [Initial, ZeroRtt, Handshake, OneRtt];

describe('frames: malformed input and the packet-type table (RFC 9000 §12.4)', () => {
  for (const [what, hex, context, code, frameType] of MALFORMED) {
    it(`${what} -> 0x${code.toString(16)}`, () => {
      assert.throws(
        () => decodeFrames(fromHex(hex), context),
        (e: unknown) => {
          assert.ok(e instanceof TransportError, `not a TransportError: ${String(e)}`);
          assert.equal(e.code, code, e.message);
          assert.equal(e.frameType, frameType, e.message);
          return true;
        },
      );
    });
  }

  it('the permission table is RFC 9000 Table 3, checked by decoding', () => {
    assert.deepEqual(
      Object.keys(RFC_TABLE3).map(Number).sort((a, b) => a - b),
      ALL_FRAME_TYPES.map((i) => i.type),
    );
    for (const [typeStr, pkts] of Object.entries(RFC_TABLE3)) {
      const type = Number(typeStr);
      for (const ctx of CONTEXTS) {
        const allowed = pkts[COLUMN[ctx]] !== '_';
        assert.equal(isFrameAllowed(type, ctx), allowed, `type 0x${type.toString(16)} ctx ${ctx}`);
        const payload = fromHex(MINIMAL[type]!);
        if (allowed) {
          const frames = decodeFrames(payload, ctx);
          assert.equal(frames.length, 1, `0x${type.toString(16)}`);
        } else {
          assert.throws(
            () => decodeFrames(payload, ctx),
            (e: unknown) => e instanceof TransportError && e.code === E.PROTOCOL_VIOLATION && e.frameType === type,
          );
        }
      }
    }
  });

  it('ack-eliciting (§13.2) and probing (§9.1) flags', () => {
    // PATH_ACK is an ACK (draft §4.1); PATH_NEW_CONNECTION_ID probes as NEW_CONNECTION_ID (noq).
    const notEliciting = [0x00, 0x02, 0x03, 0x1c, 0x1d, 0x3e, 0x3f];
    const probing = [0x00, 0x18, 0x1a, 0x1b, 0x3e78, 0x9f81a6, 0x9f81a7];
    for (const info of ALL_FRAME_TYPES) {
      assert.equal(isAckEliciting(info.type), !notEliciting.includes(info.type), info.name);
      assert.equal(isProbing(info.type), probing.includes(info.type), info.name);
    }
    assert.equal(isAckEliciting(0x1f), false);
    assert.equal(isFrameAllowed(0x1f, OneRtt), false);
  });

  it('a run of PADDING is one frame, and the iterator tracks ack-eliciting and probing', () => {
    const it = new FrameIterator();
    it.reset(fromHex('000000 01 0000'), Initial);
    const kinds: Array<[Frame, number]> = [];
    for (let f = it.next(); f !== null; f = it.next()) kinds.push([f, it.frameType]);
    assert.deepEqual(kinds, [
      [{ kind: 'padding', length: 3 }, 0x00],
      [{ kind: 'ping' }, 0x01],
      [{ kind: 'padding', length: 2 }, 0x00],
    ]);
    assert.equal(it.count, 3);
    assert.equal(it.ackEliciting, true);
    assert.equal(it.probingOnly, false);

    it.reset(fromHex('02 05 00 00 00 0000'), Handshake);
    while (it.next() !== null);
    assert.equal(it.ackEliciting, false);
    assert.equal(it.probingOnly, false);

    it.reset(fromHex('1a 0102030405060708 00000000'), OneRtt);
    while (it.next() !== null);
    assert.equal(it.ackEliciting, true);
    assert.equal(it.probingOnly, true);

    // A 1200-byte padded Initial: one PADDING object, not 1100.
    const big = new Uint8Array(1200);
    big.set(fromHex('06 00 03 616263'));
    const frames = decodeFrames(big, Initial);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[1], { kind: 'padding', length: 1194 });
    // A sub-range of a buffer: the iterator stops at `end`.
    it.reset(big, Initial, 0, 10);
    assert.equal(it.next()?.kind, 'crypto');
    assert.deepEqual(it.next(), { kind: 'padding', length: 4 });
    assert.equal(it.next(), null);
  });

  it('the empty-payload check is part of the loop', () => {
    assert.throws(() => new FrameIterator().reset(new Uint8Array(10), OneRtt, 4, 4), (e: unknown) => {
      return e instanceof TransportError && e.code === E.PROTOCOL_VIOLATION;
    });
  });

  it('property: random bytes only ever produce TransportError (seeded)', () => {
    const seed = 0xc0ffee;
    const rng = new SeededRandom(seed);
    const types = ALL_FRAME_TYPES.filter((i) => i.type < 0x40).map((i) => i.type);
    const longer = ALL_FRAME_TYPES.filter((i) => i.type >= 0x40).map((i) => i.type);
    const codes = new Set<number>([E.FRAME_ENCODING_ERROR, E.PROTOCOL_VIOLATION, E.CRYPTO_BUFFER_EXCEEDED]);
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < 30000; i++) {
      const bytes = rng.fill(new Uint8Array(rng.int(48)));
      // Half the time start with a known type so the body decoders are exercised, not just the
      // unknown-type path.
      if (bytes.length > 0 && rng.int(2) === 0) {
        // The type as a varint (the longer multipath and NAT traversal types take 2 or 4 bytes).
        const w = new Writer(bytes);
        try {
          w.varint(rng.int(4) === 0 ? longer[rng.int(longer.length)]! : types[rng.int(types.length)]!);
        } catch {
          /* too short for that type: keep the random bytes */
        }
      }
      const ctx = CONTEXTS[rng.int(4)]!;
      try {
        decodeFrames(bytes, ctx);
        ok++;
      } catch (e) {
        if (!(e instanceof TransportError) || !codes.has(e.code)) {
          assert.fail(`seed ${seed} iteration ${i}: ${String(e)} for ${Buffer.from(bytes).toString('hex')}`);
        }
        failed++;
      }
    }
    assert.ok(ok > 500 && failed > 1000, `both outcomes exercised (${ok} ok, ${failed} failed)`);
  });

  it('property: mutated valid packets only ever produce TransportError (seeded)', () => {
    const seed = 4242;
    const rng = new SeededRandom(seed);
    for (let i = 0; i < 5000; i++) {
      const w = Writer.growable();
      for (let j = 1 + rng.int(4); j > 0; j--) writeFrame(w, randFrame(rng, FRAME_KINDS[rng.int(FRAME_KINDS.length)]!));
      const bytes = w.bytes().slice();
      for (let j = 1 + rng.int(4); j > 0; j--) {
        const at = rng.int(bytes.length);
        bytes[at] = bytes[at]! ^ (1 << rng.int(8));
      }
      const cut = bytes.subarray(0, rng.int(3) === 0 ? rng.int(bytes.length + 1) : bytes.length);
      try {
        decodeFrames(cut, CONTEXTS[rng.int(4)]!);
      } catch (e) {
        if (!(e instanceof TransportError)) assert.fail(`seed ${seed} iteration ${i}: ${String(e)}`);
      }
    }
  });
});
