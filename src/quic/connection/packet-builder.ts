import { Writer } from '../../codec/writer.js';
import { sizeVarint } from '../../codec/varint.js';
import type { DirectionalKeys } from '../crypto/keys.js';
import {
  maxCryptoDataThatFits,
  maxStreamDataThatFits,
  sizeDatagramFrameHeader,
  writeAckFrame,
  writePathAckFrame,
  ackRangesThatFit,
  writeCryptoFrameHeader,
  writeDatagramFrameHeader,
  writeFrame,
  writeStreamFrameHeader,
  sizeFrame,
} from '../frames/encode.js';
import type { Frame, ObservedAddressFrame } from '../frames/frame.js';
import { FrameType } from '../frames/types.js';
import { LongPacketType, writeLongHeader, writeShortHeader, type MutablePacketMarks, type PacketMarks } from '../packet/header.js';
import { packetNumberLength } from '../packet/number.js';
import { sealPacket } from '../packet/protection.js';
import type { HeaderProtectionBatch } from '../crypto/header-protection.js';
import { QUIC_VERSION_1 } from '../packet/version.js';
import type { AckFrameData } from '../recovery/ack-tracker.js';
import { PacketSpace } from '../packet/space.js';
import type { SendStream } from '../streams/send-stream.js';
import type { StreamControlFrame } from '../streams/stream-types.js';

/** Every AEAD here appends a 16-byte tag (RFC 9001 §5.3). */
const TAG_LENGTH = 16;

/**
 * Writes QUIC packets into one UDP datagram (RFC 9000 §12.2 coalescing): a header per packet
 * (long for Initial/Handshake, short for 1-RTT, which must come last), frames written in place
 * into the caller's buffer, then sealing and header protection.
 *
 * It decides nothing about WHAT to send (that is the transmitter's job); it knows how much room is
 * left and writes frames exactly. Room always accounts for the AEAD tag of the open packet.
 */
export class PacketBuilder {
  /** Our Source Connection ID for long headers. */
  readonly scid: Uint8Array;
  private readonly w: Writer = new Writer(new Uint8Array(0));
  private limit = 0;
  private dcid: Uint8Array = new Uint8Array(0);
  private marks: PacketMarks | undefined;
  /** The marks of every short-header packet (reused: one packet is open at a time). */
  private readonly shortMarks: MutablePacketMarks = { start: 0, lengthAt: -1, lengthWidth: 0, pnOffset: 0, pnLen: 1 };
  private packetSpace: PacketSpace = PacketSpace.Initial;
  private pn = 0;
  private frameStart = 0;
  private spacesInDatagram = 0;
  /** Whether the last finished packet carried PADDING (it then counts in flight, RFC 9002 §2). */
  lastPacketPadded = false;
  private padded = false;
  /**
   * Observer of every sealed packet, set by its owner (the transmitter) only while qlog tracing:
   * its space, number, plaintext frames (a copy) and size. Unset, it costs one test per packet.
   */
  onSealed: ((space: PacketSpace, pn: number, plaintext: Uint8Array, size: number) => void) | undefined;
  /**
   * Where header protection goes while its owner (the connection's `pollTransmit`) says so: a
   * batch the caller applies before the datagram leaves (`HeaderProtectionBatch`). Null: at once.
   */
  headerProtection: HeaderProtectionBatch | null = null;

  constructor(scid: Uint8Array) {
    this.scid = scid;
  }

  /** Starts a datagram in `out`, at most `limit` bytes, toward `dcid`. */
  beginDatagram(out: Uint8Array, limit: number, dcid: Uint8Array): void {
    this.w.reset(out, 0, Math.min(limit, out.length));
    this.limit = Math.min(limit, out.length);
    this.dcid = dcid;
    this.marks = undefined;
    this.spacesInDatagram = 0;
  }

  /** Bytes of the datagram written so far (finished packets). */
  get length(): number {
    return this.w.pos;
  }

  /** Whether a packet was finished in this datagram. */
  get hasPackets(): boolean {
    return this.spacesInDatagram !== 0;
  }

  sentInDatagram(space: PacketSpace): boolean {
    return (this.spacesInDatagram & (1 << space)) !== 0;
  }

  /** Room left for frames in the open packet (or for a new packet when none is open), after the tag. */
  get remaining(): number {
    return this.limit - this.w.pos - TAG_LENGTH;
  }

  /** Whether `n` more bytes of frames fit in the open packet. */
  room(n: number): boolean {
    return this.remaining >= n;
  }

  /** Whether the open packet has frames yet. */
  get packetHasFrames(): boolean {
    return this.marks !== undefined && this.w.pos > this.frameStart;
  }

  /**
   * Opens a packet of `space` with packet number `pn`. Returns false (and writes nothing) when
   * the datagram has no room for a useful packet. `zeroRtt`: an Application packet in a 0-RTT
   * long header (RFC 9000 §17.2.3) rather than a 1-RTT short one.
   */
  beginPacket(space: PacketSpace, pn: number, largestAcked: number, keyPhase: 0 | 1, token: Uint8Array | undefined, zeroRtt = false): boolean {
    const pnLen = packetNumberLength(pn, largestAcked);
    const headerLen =
      space === PacketSpace.Application && !zeroRtt
        ? 1 + this.dcid.length + pnLen
        : 1 + 4 + 1 + this.dcid.length + 1 + this.scid.length + (space === PacketSpace.Initial ? sizeVarint(token?.length ?? 0) + (token?.length ?? 0) : 0) + 2 + pnLen;
    // A packet needs its header, a few bytes of frames (at least 4 with the pn for the HP sample) and the tag.
    if (this.limit - this.w.pos < headerLen + 8 + TAG_LENGTH) return false;
    this.packetSpace = space;
    this.pn = pn;
    this.padded = false;
    if (space === PacketSpace.Application && !zeroRtt) {
      this.marks = writeShortHeader(this.w, this.dcid, pn, pnLen, keyPhase, false, this.shortMarks);
    } else {
      this.marks = writeLongHeader(
        this.w,
        {
          type: space === PacketSpace.Initial ? LongPacketType.Initial : zeroRtt ? LongPacketType.ZeroRtt : LongPacketType.Handshake,
          version: QUIC_VERSION_1,
          dcid: this.dcid,
          scid: this.scid,
          ...(space === PacketSpace.Initial && token ? { token } : {}),
        },
        pn,
        pnLen,
        2,
      );
    }
    this.frameStart = this.w.pos;
    return true;
  }

  /** Drops the open packet (nothing was worth sending). */
  abandonPacket(): void {
    if (this.marks) this.w.pos = this.marks.start;
    this.marks = undefined;
  }

  /** Pads with PADDING frames so the datagram reaches `size` bytes once this packet is sealed. */
  padTo(size: number): void {
    const target = Math.min(size, this.limit) - TAG_LENGTH;
    if (this.w.pos < target) {
      this.w.zeros(target - this.w.pos);
      this.padded = true;
    }
  }

  /**
   * Seals the open packet; returns its size in bytes. `pathId`: the multipath path id of a 1-RTT
   * packet, which enters the AEAD nonce (draft-ietf-quic-multipath; 0 is RFC 9001's nonce).
   */
  finishPacket(keys: DirectionalKeys, pathId = 0): number {
    const m = this.marks!;
    const plaintext = this.onSealed ? this.w.buf.slice(m.pnOffset + m.pnLen, this.w.pos) : undefined;
    const end = sealPacket(this.w, m, this.pn, keys, pathId, this.headerProtection);
    this.marks = undefined;
    this.spacesInDatagram |= 1 << this.packetSpace;
    this.lastPacketPadded = this.padded;
    if (plaintext) this.onSealed!(this.packetSpace, this.pn, plaintext, end - m.start);
    return end - m.start;
  }

  /** Ends the datagram; returns its length (0 when no packet was written). */
  finishDatagram(): number {
    if (this.marks) this.abandonPacket();
    return this.spacesInDatagram === 0 ? 0 : this.w.pos;
  }

  // ------------------------------------------------------------------ frames

  /** Writes an ACK frame, dropping the oldest ranges to fit; false when not even one fits. */
  writeAck(a: AckFrameData): boolean {
    const n = ackRangesThatFit(a.ranges, a.ackDelay, null, this.remaining);
    if (n === 0) return false;
    writeAckFrame(this.w, a.ranges, a.ackDelay, null, n);
    return true;
  }

  /**
   * Writes a PATH_ACK frame of path id `pathId` (draft-ietf-quic-multipath §4.1), dropping the
   * oldest ranges to fit in `room` bytes (default: what the packet has left); false when not even
   * one fits.
   */
  writePathAck(pathId: number, a: AckFrameData, room = this.remaining): boolean {
    const n = ackRangesThatFit(a.ranges, a.ackDelay, null, Math.min(room, this.remaining) - sizeVarint(pathId));
    if (n === 0) return false;
    writePathAckFrame(this.w, pathId, a.ranges, a.ackDelay, null, n);
    return true;
  }

  /** Most CRYPTO data bytes that fit (conservatively assuming an 8-byte offset). */
  cryptoRoom(): number {
    return Math.max(0, maxCryptoDataThatFits(this.remaining, 2 ** 32));
  }

  writeCrypto(offset: number, data: Uint8Array): void {
    writeCryptoFrameHeader(this.w, offset, data.length);
    this.w.bytesOf(data);
  }

  writePing(): void {
    this.w.u8(FrameType.PING);
  }

  writeHandshakeDone(): void {
    this.w.u8(FrameType.HANDSHAKE_DONE);
  }

  writeNewToken(token: Uint8Array): void {
    writeFrame(this.w, { kind: 'newToken', token });
  }

  writePathChallenge(data: Uint8Array): void {
    this.w.u8(FrameType.PATH_CHALLENGE);
    this.w.bytesOf(data);
  }

  writePathResponse(data: Uint8Array): void {
    this.w.u8(FrameType.PATH_RESPONSE);
    this.w.bytesOf(data);
  }

  writeNewConnectionId(seq: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    writeFrame(this.w, { kind: 'newConnectionId', sequence: seq, retirePriorTo, connectionId: cid, resetToken });
  }

  writeRetireConnectionId(seq: number): void {
    writeFrame(this.w, { kind: 'retireConnectionId', sequence: seq });
  }

  writeConnectionClose(f: Extract<Frame, { kind: 'connectionClose' }>): void {
    // Trim the reason rather than fail: a close must always go out.
    const max = this.remaining - 24;
    const frame = f.reason.length > max ? { ...f, reason: f.reason.subarray(0, Math.max(0, max)) } : f;
    writeFrame(this.w, frame);
  }

  /** A multipath frame other than PATH_ACK (draft-ietf-quic-multipath §4.2-§4.8). */
  writeMultipathFrame(
    f: Extract<Frame, { kind: 'pathNewConnectionId' | 'pathRetireConnectionId' | 'pathAbandon' | 'pathStatus' | 'maxPathId' | 'pathsBlocked' | 'pathCidsBlocked' }>,
  ): void {
    writeFrame(this.w, f);
  }

  /** An n0 NAT traversal frame (ADD_ADDRESS, REMOVE_ADDRESS, REACH_OUT) when it fits; false otherwise. */
  writeNatFrame(f: Extract<Frame, { kind: 'addAddress' | 'reachOut' | 'removeAddress' }>): boolean {
    if (sizeFrame(f) > this.remaining) return false;
    writeFrame(this.w, f);
    return true;
  }

  /** An OBSERVED_ADDRESS (QUIC Address Discovery); false when it does not fit. */
  writeObservedAddress(f: ObservedAddressFrame): boolean {
    if (sizeFrame(f) > this.remaining) return false;
    writeFrame(this.w, f);
    return true;
  }

  /** A stream or connection flow-control frame from the stream map. */
  writeStreamControl(f: StreamControlFrame): void {
    writeFrame(this.w, controlToFrame(f));
  }

  /** Writes a DATAGRAM frame (with a Length, so more frames may follow); false when it does not fit. */
  writeDatagram(d: Uint8Array): boolean {
    if (sizeDatagramFrameHeader(d.length, true) + d.length > this.remaining) return false;
    writeDatagramFrameHeader(this.w, d.length, true);
    this.w.bytesOf(d);
    return true;
  }

  /** Most STREAM data bytes that fit for a frame of `id` at `offset` (-1: not even an empty frame). */
  streamRoom(id: number, offset: number): number {
    return maxStreamDataThatFits(this.remaining, id, Math.max(0, offset), true);
  }

  /** Writes a STREAM frame whose bytes are copied straight from the stream's send buffer. */
  writeStream(s: SendStream, offset: number, length: number, fin: boolean): void {
    writeStreamFrameHeader(this.w, s.id, offset, length, fin, true);
    const at = this.w.reserve(length);
    if (length > 0) s.writeData(this.w.buf, at, offset, length);
  }
}

/** The wire frame for a stream-map control frame. */
function controlToFrame(f: StreamControlFrame): Frame {
  switch (f.kind) {
    case 'max_data':
      return { kind: 'maxData', maximum: f.maximum };
    case 'data_blocked':
      return { kind: 'dataBlocked', maximum: f.limit };
    case 'max_stream_data':
      return { kind: 'maxStreamData', streamId: f.streamId, maximum: f.maximum };
    case 'stream_data_blocked':
      return { kind: 'streamDataBlocked', streamId: f.streamId, maximum: f.limit };
    case 'reset_stream':
      return { kind: 'resetStream', streamId: f.streamId, errorCode: f.code, finalSize: f.finalSize };
    case 'stop_sending':
      return { kind: 'stopSending', streamId: f.streamId, errorCode: f.code };
    case 'max_streams':
      return { kind: 'maxStreams', bidi: f.direction === 'bidi', maximum: f.maximum };
    case 'streams_blocked':
      return { kind: 'streamsBlocked', bidi: f.direction === 'bidi', maximum: f.limit };
  }
}

/** Exact size of a control frame (for tests). */
export function sizeStreamControl(f: StreamControlFrame): number {
  return sizeFrame(controlToFrame(f));
}
