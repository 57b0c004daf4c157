import { bytesEqual } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { FrameIterator } from '../frames/decode.js';
import type { Frame } from '../frames/frame.js';
import { LongPacketType, tryParsePacketHeader, type LongHeader, type PacketHeader, type RetryHeader } from '../packet/header.js';
import { openPayload, removeHeaderProtection } from '../packet/protection.js';
import { PacketSpace } from '../packet/space.js';
import type { ConnectionKeys } from './keys.js';
import { qlogPacketBuffered, qlogPacketDropped, qlogPacketReceived, qlogStatelessReceived, type QlogTracer } from './qlog.js';
import type { PacketSpaces } from './spaces.js';

/** Undecryptable packets kept until their keys arrive (RFC 9001 §5.7). */
export const MAX_BUFFERED_PACKETS = 16;

/** What the receive path hands to the connection, which decides what each thing means. */
export interface ReceiveHandler {
  /** A Version Negotiation packet (RFC 9000 §6.2). */
  onVersionNegotiation(now: number, versions: readonly number[]): void;
  /** A Retry packet (RFC 9000 §17.2.5). */
  onRetry(now: number, datagram: Uint8Array, h: RetryHeader): void;
  /** A long-header packet opened, before its frames (connection IDs and addresses learnt from it). */
  onLongHeader(now: number, h: LongHeader, space: PacketSpace): void;
  /** One frame of an opened packet. */
  onFrame(now: number, f: Frame, frameType: number, space: PacketSpace): void;
  /**
   * An opened packet's frames were handled. `largestBefore`: the largest packet number of its
   * space received before it; `probingOnly`: it held only probing frames (RFC 9000 §9.1).
   */
  onPacketProcessed(now: number, space: PacketSpace, pn: number, largestBefore: number, probingOnly: boolean): void;
  /** No packet of the datagram opened and it ends with one of the peer's reset tokens (RFC 9000 §10.3.1). */
  onStatelessReset(now: number): void;
}

/** What the receive path reads of the rest of the connection. */
export interface ReceiveDeps {
  readonly localCidLength: number;
  readonly keys: ConnectionKeys;
  readonly spaces: PacketSpaces;
  readonly handler: ReceiveHandler;
  /** Keys of `space` may be used for received packets now (a server reads no 1-RTT before the handshake completes). */
  canOpen(space: PacketSpace): boolean;
  /** The connection still processes frames (not draining or terminated). */
  isOpen(): boolean;
  /** Whether `datagram` ends with the stateless reset token of one of the peer's CIDs. */
  isStatelessReset(datagram: Uint8Array): boolean;
  /** The current PTO (a peer's key update schedules the discard of the old read key, RFC 9001 §6.5). */
  pto(): number;
  /** The ack_delay_exponent of the peer's ACK frames in `space` (qlog only). */
  peerAckDelayExponent(space: PacketSpace): number;
  qlog(): QlogTracer | undefined;
}

/** Counters of the receive path. */
export interface ReceiveStats {
  readonly packetsReceived: number;
  readonly bytesReceived: number;
  /** Packets dropped on receipt (undecryptable, duplicate, malformed header, unknown address). */
  readonly packetsDropped: number;
}

/**
 * The receive path of a connection: datagram -> packets -> header protection removed -> opened ->
 * deduplicated -> frames handed to the connection (RFC 9000 §12, §13; RFC 9001 §5). It owns what
 * only receiving needs: packets buffered until their keys arrive (RFC 9001 §5.7), the frame
 * iterator, the DCID of the packet being processed, and its counters.
 */
export class Receiver {
  private readonly d: ReceiveDeps;
  private readonly frames = new FrameIterator();
  private readonly buffered: Array<{ readonly bytes: Uint8Array; readonly space: PacketSpace }> = [];
  /** A packet's frames are being dispatched: a replay of `buffered` waits for the end. */
  private inFrames = false;
  private replayDeferred = false;
  private dcid: Uint8Array = new Uint8Array(0);
  private received = 0;
  private bytes = 0;
  private dropped = 0;

  constructor(deps: ReceiveDeps) {
    this.d = deps;
  }

  get stats(): ReceiveStats {
    return { packetsReceived: this.received, bytesReceived: this.bytes, packetsDropped: this.dropped };
  }

  /** Packets that opened so far. */
  get packetsReceived(): number {
    return this.received;
  }

  /** Packets waiting for their keys. */
  get bufferedCount(): number {
    return this.buffered.length;
  }

  /** The DCID of the packet being processed (RETIRE_CONNECTION_ID may not retire it, RFC 9000 §19.16). */
  get packetDcid(): Uint8Array {
    return this.dcid;
  }

  /** A datagram was refused unread (its source address, or the connection is closing). */
  onDatagramDropped(size: number): void {
    this.bytes += size;
    this.dropped++;
  }

  /** A datagram that counts but is not processed (the connection is closing: RFC 9000 §10.2.1). */
  onDatagramIgnored(size: number): void {
    this.bytes += size;
  }

  /** Processes every packet of a datagram. Throws TransportError on a protocol violation. */
  handleDatagram(now: number, data: Uint8Array): void {
    this.bytes += data.length;
    const q = this.d.qlog();
    let at = 0;
    let firstDcid: Uint8Array | undefined;
    let anyProcessed = false;
    while (at < data.length) {
      const h = tryParsePacketHeader(data, at, this.d.localCidLength);
      if (h.kind === 'invalid') {
        this.dropped++;
        if (q) qlogPacketDropped(q, undefined, data.length - at, 'invalid');
        break;
      }
      at = h.end;
      if (h.kind === 'versionNegotiation' || h.kind === 'retry') {
        if (q) qlogStatelessReceived(q, h, h.end - h.start);
        if (h.kind === 'retry') this.d.handler.onRetry(now, data, h);
        else this.d.handler.onVersionNegotiation(now, h.versions);
        return;
      }
      if (h.kind === 'unsupportedVersion') {
        this.drop(h, 'unsupported');
        continue;
      }
      // RFC 9000 §12.2: coalesced packets with another DCID than the first are ignored.
      if (firstDcid === undefined) firstDcid = h.dcid;
      else if (!bytesEqual(firstDcid, h.dcid)) {
        this.drop(h, 'rejected');
        continue;
      }
      if (this.processPacket(now, data, h)) anyProcessed = true;
    }
    // RFC 9000 §10.3.1: a datagram none of whose packets opened may be a Stateless Reset.
    if (!anyProcessed && data.length > 0 && (data[0]! & 0x80) === 0 && this.d.isStatelessReset(data)) {
      this.d.handler.onStatelessReset(now);
    }
  }

  /** New read keys arrived: process the packets that waited for them. */
  onReadKeys(now: number): void {
    if (this.buffered.length === 0) return;
    if (this.inFrames) {
      // A CRYPTO frame installed the keys: replaying now would reuse the frame iterator and skip
      // the rest of the current packet. Replayed once it is done.
      this.replayDeferred = true;
      return;
    }
    const pending = this.buffered.splice(0);
    for (const b of pending) {
      const h = tryParsePacketHeader(b.bytes, 0, this.d.localCidLength);
      if (h.kind === 'long' || h.kind === 'short') this.processPacket(now, b.bytes, h);
    }
  }

  /** Keys of `space` were discarded: its waiting packets can never open. */
  discardBuffered(space: PacketSpace): void {
    if (this.buffered.length === 0) return;
    const keep = this.buffered.filter((b) => b.space !== space);
    this.buffered.splice(0, this.buffered.length, ...keep);
  }

  /** Opens and processes one packet; returns false when it was dropped. */
  private processPacket(now: number, data: Uint8Array, h: Extract<PacketHeader, { kind: 'long' | 'short' }>): boolean {
    const d = this.d;
    const q = d.qlog();
    let space: PacketSpace;
    if (h.kind === 'long') {
      if (h.type === LongPacketType.ZeroRtt) {
        this.drop(h, 'unsupported'); // we never accept 0-RTT
        return false;
      }
      space = h.type === LongPacketType.Initial ? PacketSpace.Initial : PacketSpace.Handshake;
    } else {
      space = PacketSpace.Application;
    }
    const sp = d.spaces.at(space);
    if (sp.discarded) {
      this.drop(h, 'key_unavailable');
      return false;
    }
    // RFC 9001 §5.7: keys not there yet (reordering): keep a copy for later, bounded.
    if (!d.keys.canRead(space) || !d.canOpen(space)) {
      if (this.buffered.length < MAX_BUFFERED_PACKETS) {
        this.buffered.push({ bytes: data.slice(h.start, h.end), space });
        if (q) qlogPacketBuffered(q, h, h.end - h.start);
      } else {
        this.drop(h, 'key_unavailable');
      }
      return false;
    }
    const u = removeHeaderProtection(data, h, d.keys.readHeaderKey(space));
    if (u === null) {
      this.drop(h, 'invalid');
      return false;
    }
    const largest = sp.ack.largestReceived;
    const opened = openPayload(data, h, u, largest, space === PacketSpace.Application ? d.keys.selectReadKey : d.keys.readPacketKey(space));
    if (opened === null) {
      this.drop(h, 'decryption_failure');
      // RFC 9001 §6.6: the integrity limit of the AEAD.
      if (d.keys.onAuthFailure()) throw new TransportError(TransportErrorCode.AEAD_LIMIT_REACHED, 'too many packets failed authentication');
      return false;
    }
    if (sp.ack.isDuplicate(opened.pn)) {
      this.drop(h, 'duplicate');
      return true;
    }
    this.received++;
    if (q) qlogPacketReceived(q, h, space, opened.pn, opened.payload, h.end - h.start, d.peerAckDelayExponent(space));
    if (space === PacketSpace.Application && d.keys.onOneRttOpened(opened.keyPhase, opened.pn, now, d.pto())) {
      q?.remoteKeyUpdate(d.keys.updates); // RFC 9001 §6.2: the peer's key update
    }
    if (h.kind === 'long') d.handler.onLongHeader(now, h, space);
    this.dcid = h.dcid;
    const it = this.frames;
    it.reset(opened.payload, sp.frameContext);
    this.inFrames = true;
    try {
      for (let f = it.next(); f !== null; f = it.next()) {
        if (!d.isOpen()) break;
        d.handler.onFrame(now, f, it.frameType, space);
      }
    } finally {
      this.inFrames = false;
    }
    d.handler.onPacketProcessed(now, space, opened.pn, largest, it.probingOnly);
    sp.ack.onPacketReceived(opened.pn, it.ackEliciting, now);
    if (this.replayDeferred) {
      this.replayDeferred = false;
      if (d.isOpen()) this.onReadKeys(now); // unless the packet ended the connection
    }
    return true;
  }

  private drop(h: PacketHeader, trigger: Parameters<typeof qlogPacketDropped>[3]): void {
    this.dropped++;
    const q = this.d.qlog();
    if (q) qlogPacketDropped(q, h, h.end - h.start, trigger);
  }
}
