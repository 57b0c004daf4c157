import type { SeededRandom } from '../../../src/tls/random.js';
import type { EcnCounts, Frame, FrameKind } from '../../../src/quic/frames/index.js';

/** Seeded generators of valid frames for the property tests. */

/** A varint value spread over every encoding width (1, 2, 4 and 8 bytes), at most `max`. */
export function randVarint(rng: SeededRandom, max = Number.MAX_SAFE_INTEGER): number {
  let v: number;
  switch (rng.int(5)) {
    case 0:
      v = rng.int(0x40);
      break;
    case 1:
      v = rng.int(0x4000);
      break;
    case 2:
      v = rng.int(0x40000000);
      break;
    case 3:
      v = rng.int(0x200000) * 0x100000000 + rng.nextU32();
      break;
    default: {
      const edges = [0, 63, 64, 16383, 16384, 0x3fffffff, 0x40000000, Number.MAX_SAFE_INTEGER];
      v = edges[rng.int(edges.length)]!;
    }
  }
  return Math.min(v, max);
}

/** An error code as the decoder returns it: a number up to 2^53-1, else a bigint up to 2^62-1. */
export function randErrorCode(rng: SeededRandom): number | bigint {
  if (rng.int(4) > 0) return randVarint(rng);
  const big = (BigInt(rng.nextU32() & 0x3fffffff) << 32n) | BigInt(rng.nextU32());
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

export function randBytes(rng: SeededRandom, n: number): Uint8Array {
  return rng.fill(new Uint8Array(n));
}

/** Descending, disjoint, non-adjacent absolute ACK ranges (flat: hi0, lo0, hi1, lo1, ...). */
export function randAckRanges(rng: SeededRandom, count = 1 + rng.int(8)): number[] {
  const out: number[] = [];
  let hi = randVarint(rng, 2 ** 40);
  for (let i = 0; i < count; i++) {
    const lo = hi - Math.min(hi, rng.int(3) === 0 ? rng.int(100000) : rng.int(10));
    out.push(hi, lo);
    const next = lo - 2 - (rng.int(3) === 0 ? rng.int(100000) : rng.int(5));
    if (next < 0) break;
    hi = next;
  }
  return out;
}

export const FRAME_KINDS: FrameKind[] = [
  'padding',
  'ping',
  'ack',
  'resetStream',
  'stopSending',
  'crypto',
  'newToken',
  'stream',
  'maxData',
  'maxStreamData',
  'maxStreams',
  'dataBlocked',
  'streamDataBlocked',
  'streamsBlocked',
  'newConnectionId',
  'retireConnectionId',
  'pathChallenge',
  'pathResponse',
  'connectionClose',
  'handshakeDone',
  'datagram',
  'pathAck',
  'pathAbandon',
  'pathStatus',
  'pathNewConnectionId',
  'pathRetireConnectionId',
  'maxPathId',
  'pathsBlocked',
  'pathCidsBlocked',
  'addAddress',
  'reachOut',
  'removeAddress',
  'observedAddress',
];

/** A path id (0..2^32-1), edges included. */
export function randPathId(rng: SeededRandom): number {
  return rng.int(4) === 0 ? [0, 63, 64, 16383, 16384, 0x3fffffff, 0x40000000, 0xffffffff][rng.int(8)]! : randVarint(rng, 0xffffffff);
}

/** A random valid frame of `kind` (as the decoder would return it). */
export function randFrame(rng: SeededRandom, kind: FrameKind): Frame {
  const data = (): Uint8Array => randBytes(rng, rng.int(3) === 0 ? rng.int(2000) : rng.int(20));
  switch (kind) {
    case 'padding':
      return { kind, length: 1 + rng.int(300) };
    case 'ping':
    case 'handshakeDone':
      return { kind };
    case 'ack': {
      const ranges = randAckRanges(rng);
      const ecn: EcnCounts | null =
        rng.int(2) === 0 ? null : { ect0: randVarint(rng), ect1: randVarint(rng), ce: randVarint(rng) };
      return { kind, largest: ranges[0]!, ackDelay: randVarint(rng), ranges, ecn };
    }
    case 'resetStream':
      return { kind, streamId: randVarint(rng), errorCode: randErrorCode(rng), finalSize: randVarint(rng) };
    case 'stopSending':
      return { kind, streamId: randVarint(rng), errorCode: randErrorCode(rng) };
    case 'crypto':
      return { kind, offset: randVarint(rng, 2 ** 40), data: data() };
    case 'newToken':
      return { kind, token: randBytes(rng, 1 + rng.int(100)) };
    case 'stream':
      return { kind, streamId: randVarint(rng), offset: randVarint(rng, 2 ** 50), data: data(), fin: rng.int(2) === 0 };
    case 'maxData':
    case 'dataBlocked':
      return { kind, maximum: randVarint(rng) };
    case 'maxStreamData':
    case 'streamDataBlocked':
      return { kind, streamId: randVarint(rng), maximum: randVarint(rng) };
    case 'maxStreams':
    case 'streamsBlocked':
      return { kind, bidi: rng.int(2) === 0, maximum: randVarint(rng) };
    case 'newConnectionId': {
      const sequence = randVarint(rng);
      return {
        kind,
        sequence,
        retirePriorTo: rng.int(sequence + 1),
        connectionId: randBytes(rng, 1 + rng.int(20)),
        resetToken: randBytes(rng, 16),
      };
    }
    case 'retireConnectionId':
      return { kind, sequence: randVarint(rng) };
    case 'pathChallenge':
    case 'pathResponse':
      return { kind, data: randBytes(rng, 8) };
    case 'connectionClose': {
      const application = rng.int(2) === 0;
      return {
        kind,
        application,
        errorCode: randErrorCode(rng),
        frameType: application ? 0 : randVarint(rng),
        reason: randBytes(rng, rng.int(40)),
      };
    }
    case 'datagram':
      return { kind, data: data() };
    case 'pathAck': {
      const ack = randFrame(rng, 'ack');
      if (ack.kind !== 'ack') throw new Error('unreachable');
      return { kind, pathId: randPathId(rng), largest: ack.largest, ackDelay: ack.ackDelay, ranges: ack.ranges, ecn: ack.ecn };
    }
    case 'pathAbandon':
      return { kind, pathId: randPathId(rng), errorCode: randErrorCode(rng) };
    case 'pathStatus':
      return { kind, pathId: randPathId(rng), status: rng.int(2) === 0 ? 'backup' : 'available', sequence: randVarint(rng) };
    case 'pathNewConnectionId': {
      const ncid = randFrame(rng, 'newConnectionId');
      if (ncid.kind !== 'newConnectionId') throw new Error('unreachable');
      return { ...ncid, kind, pathId: randPathId(rng) };
    }
    case 'pathRetireConnectionId':
      return { kind, pathId: randPathId(rng), sequence: randVarint(rng) };
    case 'maxPathId':
    case 'pathsBlocked':
      return { kind, maximum: randPathId(rng) };
    case 'pathCidsBlocked':
      return { kind, pathId: randPathId(rng), nextSequence: randVarint(rng) };
    case 'addAddress':
      return { kind, sequence: randVarint(rng), ip: randBytes(rng, rng.int(2) === 0 ? 4 : 16), port: rng.int(0x10000) };
    case 'reachOut':
      return { kind, round: randVarint(rng), ip: randBytes(rng, rng.int(2) === 0 ? 4 : 16), port: rng.int(0x10000) };
    case 'removeAddress':
      return { kind, sequence: randVarint(rng) };
    case 'observedAddress':
      return { kind, sequence: randVarint(rng), ip: randBytes(rng, rng.int(2) === 0 ? 4 : 16), port: rng.int(0x10000) };
  }
}
