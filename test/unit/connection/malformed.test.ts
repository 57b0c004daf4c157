import assert from 'node:assert/strict';
import { Pair, type Side, type TransportOptions } from '../../harness/pair.js';
import { frameBytes, injectPacket } from '../../harness/inject.js';
import { testSeed } from '../../harness/seed.js';
import { TransportErrorCode as E } from '../../../src/quic/errors.js';
import { PacketSpace } from '../../../src/quic/packet/space.js';
import { fromHex } from '../../../src/codec/bytes.js';
import type { Frame } from '../../../src/quic/frames/frame.js';
import { DEFAULT_STREAM_LIMITS } from '../../../src/quic/streams/stream-types.js';

/** The default windows the flow-control cases overrun. */
const STREAM_WINDOW = DEFAULT_STREAM_LIMITS.initialStreamWindow;
/** Client bidi stream ids, enough full stream windows to exceed the connection window. */
const CONNECTION_OVERFLOW_STREAMS = Array.from(
  { length: Math.floor(DEFAULT_STREAM_LIMITS.initialConnectionWindow / STREAM_WINDOW) + 1 },
  (_, i) => 4 * i,
);

/**
 * A peer that sends what the RFC forbids gets the connection closed with the RFC's error code
 * (RFC 9000 §20). Each case injects one authenticated packet (sealed with the offender's current
 * keys, test/harness/inject.ts) and checks both ends: the victim closes with the code (closeInfo
 * transport, remote false) and the offender receives that code in a CONNECTION_CLOSE (remote true),
 * then both terminate after their closing/draining periods.
 */
interface Case {
  readonly name: string;
  readonly from: Side;
  readonly code: number;
  /** Packet number space of the injected packet (default 1-RTT). */
  readonly space?: PacketSpace;
  /** Runs before the injection (e.g. open a stream so the frame targets existing state). */
  readonly setup?: (p: Pair) => void;
  /** The frame bytes (may depend on the live connection state). */
  readonly frames: (p: Pair) => Uint8Array;
  /** Inject during the handshake (after the offender has Handshake keys) instead of after it. */
  readonly duringHandshake?: boolean;
  readonly serverTransport?: TransportOptions;
  /** Transport options of both sides (over `serverTransport` for the server). */
  readonly transport?: TransportOptions;
}

const cid8 = (b: number) => new Uint8Array(8).fill(b);
const token16 = (b: number) => new Uint8Array(16).fill(b);
const data = (n: number) => new Uint8Array(n).fill(7);

const CASES: readonly Case[] = [
  {
    name: 'STREAM on a server-initiated unidirectional stream (the client cannot send on it)',
    from: 'client', code: E.STREAM_STATE_ERROR,
    frames: () => frameBytes({ kind: 'stream', streamId: 3, offset: 0, data: data(10), fin: false }),
  },
  {
    name: 'STREAM on a stream the receiver initiated but never opened',
    from: 'client', code: E.STREAM_STATE_ERROR,
    frames: () => frameBytes({ kind: 'stream', streamId: 1, offset: 0, data: data(10), fin: false }),
  },
  {
    name: 'STREAM data beyond the stream flow-control limit',
    from: 'client', code: E.FLOW_CONTROL_ERROR,
    frames: () => frameBytes({ kind: 'stream', streamId: 0, offset: STREAM_WINDOW, data: data(10), fin: false }),
  },
  {
    name: 'STREAM data beyond the connection flow-control limit (over several streams)',
    from: 'client', code: E.FLOW_CONTROL_ERROR,
    frames: () =>
      frameBytes(
        // Each stream within its window, all of them together beyond the connection's.
        ...CONNECTION_OVERFLOW_STREAMS.map((streamId) => ({ kind: 'stream' as const, streamId, offset: STREAM_WINDOW - 10, data: data(10), fin: false })),
      ),
  },
  {
    name: 'a stream beyond the advertised stream limit',
    from: 'client', code: E.STREAM_LIMIT_ERROR,
    frames: () => frameBytes({ kind: 'stream', streamId: 4 * 100, offset: 0, data: data(1), fin: false }),
  },
  {
    name: 'RESET_STREAM with a final size below the data received',
    from: 'client', code: E.FINAL_SIZE_ERROR,
    frames: () =>
      frameBytes(
        { kind: 'stream', streamId: 0, offset: 0, data: data(100), fin: false },
        { kind: 'resetStream', streamId: 0, errorCode: 1, finalSize: 50 },
      ),
  },
  {
    name: 'STREAM data past a known final size',
    from: 'client', code: E.FINAL_SIZE_ERROR,
    frames: () =>
      frameBytes(
        { kind: 'stream', streamId: 0, offset: 0, data: data(100), fin: true },
        { kind: 'stream', streamId: 0, offset: 100, data: data(1), fin: false },
      ),
  },
  {
    name: 'STOP_SENDING for a stream the receiver only receives on',
    from: 'client', code: E.STREAM_STATE_ERROR,
    frames: () => frameBytes({ kind: 'stopSending', streamId: 2, errorCode: 9 }),
  },
  {
    name: 'MAX_STREAM_DATA for a stream the receiver only receives on',
    from: 'server', code: E.STREAM_STATE_ERROR,
    frames: () => frameBytes({ kind: 'maxStreamData', streamId: 3, maximum: 1_000_000 }),
  },
  {
    name: 'NEW_TOKEN sent to a server',
    from: 'client', code: E.PROTOCOL_VIOLATION,
    frames: () => frameBytes({ kind: 'newToken', token: data(8) }),
  },
  {
    name: 'HANDSHAKE_DONE sent to a server',
    from: 'client', code: E.PROTOCOL_VIOLATION,
    frames: () => frameBytes({ kind: 'handshakeDone' }),
  },
  {
    name: 'a STREAM frame in a Handshake packet (not allowed in that packet type)',
    from: 'server', code: E.PROTOCOL_VIOLATION, space: PacketSpace.Handshake, duringHandshake: true,
    frames: () => frameBytes({ kind: 'stream', streamId: 0, offset: 0, data: data(4), fin: false }),
  },
  {
    name: 'a MAX_DATA frame in an Initial packet (not allowed in that packet type)',
    from: 'client', code: E.PROTOCOL_VIOLATION, space: PacketSpace.Initial, duringHandshake: true,
    frames: () => frameBytes({ kind: 'maxData', maximum: 1 << 20 }),
  },
  {
    name: 'HANDSHAKE_DONE in a Handshake packet (only allowed at 1-RTT)',
    from: 'server', code: E.PROTOCOL_VIOLATION, space: PacketSpace.Handshake, duringHandshake: true,
    frames: () => frameBytes({ kind: 'handshakeDone' }),
  },
  {
    name: 'a truncated frame (MAX_DATA cut in its value)',
    from: 'client', code: E.FRAME_ENCODING_ERROR,
    // PINGs (so no padding follows), then MAX_DATA whose 8-byte varint is cut short.
    frames: () => fromHex('010101' + '10' + 'c0'),
  },
  {
    name: 'a STREAM frame whose Length runs past the packet',
    from: 'server', code: E.FRAME_ENCODING_ERROR,
    frames: () => fromHex('0a00' + '4400' + '0102'), // STREAM with LEN: stream 0, Length 1024, 2 bytes follow
  },
  {
    name: 'an unknown frame type',
    from: 'client', code: E.FRAME_ENCODING_ERROR,
    frames: () => fromHex('21'), // no frame type 0x21 in RFC 9000 or RFC 9221
  },
  {
    name: 'NEW_CONNECTION_ID whose Retire Prior To exceeds its sequence number',
    from: 'server', code: E.FRAME_ENCODING_ERROR,
    frames: () => frameBytes({ kind: 'newConnectionId', sequence: 10, retirePriorTo: 11, connectionId: cid8(9), resetToken: token16(9) }),
  },
  {
    name: 'an ACK of a packet number never sent',
    from: 'client', code: E.PROTOCOL_VIOLATION,
    frames: (p) => {
      const largest = p.server!.internals.spaces.at(PacketSpace.Application).nextPn + 1000;
      return frameBytes({ kind: 'ack', largest, ackDelay: 0, ranges: [largest, largest], ecn: null });
    },
  },
  {
    name: 'RETIRE_CONNECTION_ID of the CID the packet is sent to',
    from: 'client', code: E.PROTOCOL_VIOLATION,
    frames: () => frameBytes({ kind: 'retireConnectionId', sequence: 0 }),
  },
  {
    name: 'RETIRE_CONNECTION_ID of a sequence number never issued',
    from: 'client', code: E.PROTOCOL_VIOLATION,
    frames: () => frameBytes({ kind: 'retireConnectionId', sequence: 1000 }),
  },
  {
    name: 'more NEW_CONNECTION_IDs than active_connection_id_limit',
    from: 'server', code: E.CONNECTION_ID_LIMIT_ERROR,
    frames: () =>
      frameBytes(
        ...[20, 21, 22, 23, 24, 25].map((s) => ({
          kind: 'newConnectionId' as const, sequence: s, retirePriorTo: 0, connectionId: cid8(s), resetToken: token16(s),
        })),
      ),
  },
  {
    name: 'a DATAGRAM larger than max_datagram_frame_size',
    from: 'client', code: E.PROTOCOL_VIOLATION,
    serverTransport: { maxDatagramFrameSize: 100 },
    frames: () => frameBytes({ kind: 'datagram', data: data(200) }),
  },
  {
    name: 'MAX_STREAMS above 2^60',
    from: 'server', code: E.FRAME_ENCODING_ERROR,
    frames: () => fromHex('12' + 'd000000000000001'), // MAX_STREAMS (bidi) 2^60 + 1
  },
  {
    name: 'CRYPTO data at 1-RTT that TLS does not expect (unexpected_message alert)',
    from: 'client', code: 0x100 + 10,
    frames: () => frameBytes({ kind: 'crypto', offset: 0, data: fromHex('0f000004deadbeef') }),
  },
  // draft-ietf-quic-multipath §2 / noq: multipath frames need multipath negotiated (neither side
  // sent initial_max_path_id here: `multipath: false`, multipath being on by default), and n0 NAT
  // traversal frames need its parameters.
  ...([
    { kind: 'pathAck', pathId: 0, largest: 0, ackDelay: 0, ranges: [0, 0], ecn: null },
    { kind: 'pathAbandon', pathId: 1, errorCode: 0 },
    { kind: 'pathStatus', pathId: 0, status: 'backup', sequence: 1 },
    { kind: 'pathNewConnectionId', pathId: 1, sequence: 0, retirePriorTo: 0, connectionId: cid8(9), resetToken: token16(9) },
    { kind: 'pathRetireConnectionId', pathId: 0, sequence: 0 },
    { kind: 'maxPathId', maximum: 3 },
    { kind: 'pathsBlocked', maximum: 0 },
    { kind: 'pathCidsBlocked', pathId: 0, nextSequence: 1 },
    { kind: 'addAddress', sequence: 0, ip: fromHex('7f000001'), port: 4433 },
    { kind: 'reachOut', round: 1, ip: fromHex('7f000001'), port: 4433 },
    { kind: 'removeAddress', sequence: 0 },
  ] as const satisfies readonly Frame[]).flatMap((f): Case[] =>
    (['client', 'server'] as const).map((from) => ({
      name: `${f.kind} from the ${from} without multipath negotiated`,
      from, code: E.PROTOCOL_VIOLATION,
      transport: { multipath: false },
      frames: () => frameBytes(f),
    })),
  ),
];

describe('connection: malformed frames close with the RFC error code (RFC 9000 §20)', () => {
  for (const k of CASES) {
    it(`${k.name} -> 0x${k.code.toString(16)}`, () => {
      const p = new Pair({
        seed: testSeed(31),
        link: { delayMs: 5 },
        ...(k.transport ? { clientTransport: k.transport } : {}),
        ...(k.serverTransport || k.transport ? { serverTransport: { ...k.transport, ...k.serverTransport } } : {}),
      });
      const offender = k.from;
      const victim: Side = offender === 'client' ? 'server' : 'client';
      if (k.duringHandshake) {
        // The offender can write the packet type and the victim read it, before it completed.
        const space = k.space ?? PacketSpace.Application;
        p.drive(() => {
          const o = p.conn(offender);
          const v = p.conn(victim);
          return !!o && !!v && o.internals.keys.canWrite(space) && v.internals.keys.canRead(space);
        });
        assert.ok(!p.conn(victim)!.handshakeConfirmed);
      } else {
        p.handshake();
        // Let the handshake settle (HANDSHAKE_DONE, NEW_CONNECTION_IDs, ACKs).
        p.runFor(100);
      }
      k.setup?.(p);
      injectPacket(p, offender, k.frames(p), k.space ?? PacketSpace.Application);
      p.drive(() => p.conn(victim)!.isClosed, 5_000);
      const v = p.conn(victim)!.closeInfo!;
      assert.equal(v.kind, 'transport', `victim closeInfo ${JSON.stringify(v)}`);
      assert.equal(Number(v.code), k.code, `victim closed with ${v.code} (${v.reason})`);
      assert.equal(v.remote, false);
      p.drive(() => p.conn(offender)!.isClosed, 5_000);
      const o = p.conn(offender)!.closeInfo!;
      assert.equal(o.kind, 'transport', `offender closeInfo ${JSON.stringify(o)}`);
      assert.equal(Number(o.code), k.code);
      assert.equal(o.remote, true);
      p.driveToTermination(10_000);
    });
  }
});
