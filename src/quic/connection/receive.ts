import { bytesEqual } from '../../codec/bytes.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { FrameIterator } from '../frames/decode.js';
import type { Frame } from '../frames/frame.js';
import { LongPacketType, tryParsePacketHeader, type LongHeader, type PacketHeader, type RetryHeader } from '../packet/header.js';
import { openPayload, removeHeaderProtection } from '../packet/protection.js';
import { PacketSpace } from '../packet/space.js';
import { FrameContext } from '../frames/types.js';
import type { AckTracker } from '../recovery/ack-tracker.js';
import { currentPto, peerAckDelayExponent, type ConnectionParts } from './parts.js';
import { qlogPacketBuffered, qlogPacketDropped, qlogPacketReceived, qlogStatelessReceived } from './qlog.js';

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
  /** One frame of an opened packet; `dcid`: the packet's Destination Connection ID. */
  onFrame(now: number, f: Frame, frameType: number, space: PacketSpace, dcid: Uint8Array): void;
  /**
   * An opened packet's frames were handled. `largestBefore`: the largest packet number of its
   * space received before it; `probingOnly`: it held only probing frames (RFC 9000 §9.1);
   * `pathId`: the multipath path id its connection id belongs to (0 without multipath).
   */
  onPacketProcessed(now: number, space: PacketSpace, pn: number, largestBefore: number, probingOnly: boolean, pathId: number): void;
  /** A packet of multipath path id `pathId` ≥ 1 opened, before its frames (the path id may open with it). */
  onPathIdPacket(now: number, pathId: number, size: number): void;
  /** No packet of the datagram opened and it ends with one of the peer's reset tokens (RFC 9000 §10.3.1). */
  onStatelessReset(now: number): void;
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
 * iterator and its counters.
 *
 * Read keys only ever arrive while a packet is read (a CRYPTO frame feeds TLS), and so does the
 * completion that lets a server open 1-RTT packets: packets buffered for their keys are processed
 * once the packet being read is done, never from inside its frames (which would reuse the frame
 * iterator and skip the rest of that packet).
 */
export class Receiver {
  private readonly p: ConnectionParts;
  private readonly handler: ReceiveHandler;
  private readonly frames = new FrameIterator();
  private readonly buffered: Array<{ readonly bytes: Uint8Array; readonly space: PacketSpace; readonly zeroRtt: boolean }> = [];
  private received = 0;
  private bytes = 0;
  private dropped = 0;

  constructor(parts: ConnectionParts, handler: ReceiveHandler) {
    this.p = parts;
    this.handler = handler;
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
    const q = this.p.trace.tracer;
    let at = 0;
    let firstDcid: Uint8Array | undefined;
    let anyProcessed = false;
    while (at < data.length) {
      const h = tryParsePacketHeader(data, at, this.p.config.localCidLength);
      if (h.kind === 'invalid') {
        this.dropped++;
        if (q) qlogPacketDropped(q, undefined, data.length - at, 'invalid');
        break;
      }
      at = h.end;
      if (h.kind === 'versionNegotiation' || h.kind === 'retry') {
        if (q) qlogStatelessReceived(q, h, h.end - h.start);
        if (h.kind === 'retry') this.handler.onRetry(now, data, h);
        else this.handler.onVersionNegotiation(now, h.versions);
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
    if (!anyProcessed && data.length > 0 && (data[0]! & 0x80) === 0 && isPeerStatelessReset(this.p, data)) {
      this.handler.onStatelessReset(now);
    }
  }

  /**
   * After a packet: process the buffered packets whose keys are now there (RFC 9001 §5.7), and
   * forget those whose keys were discarded since.
   */
  private replayBuffered(now: number): void {
    const { keys, spaces } = this.p;
    let ready = false;
    for (const b of this.buffered) {
      if (spaces.at(b.space).discarded || (keys.canRead(b.space) && this.canOpen(b.space))) ready = true;
      else if (b.zeroRtt && (keys.hasZeroRtt || keys.zeroRttDone)) ready = true;
    }
    if (!ready) return;
    const pending = this.buffered.splice(0);
    for (const b of pending) {
      if (spaces.at(b.space).discarded) continue;
      const h = tryParsePacketHeader(b.bytes, 0, this.p.config.localCidLength);
      // Still without keys: processPacket buffers it again.
      if (h.kind === 'long' || h.kind === 'short') this.processPacket(now, b.bytes, h);
    }
  }

  /** Keys of `space` may be used for received packets now: a server reads no 1-RTT packet before the handshake completes (RFC 9001 §5.7). */
  private canOpen(space: PacketSpace): boolean {
    return !(space === PacketSpace.Application && this.p.role === 'server' && !this.p.handshake.isComplete);
  }

  /** Opens and processes one packet; returns false when it was dropped. */
  private processPacket(now: number, data: Uint8Array, h: Extract<PacketHeader, { kind: 'long' | 'short' }>): boolean {
    const d = this.p;
    const q = d.trace.tracer;
    let space: PacketSpace;
    const zeroRtt = h.kind === 'long' && h.type === LongPacketType.ZeroRtt;
    if (zeroRtt) {
      // RFC 9001 §4.6.2: a server opens 0-RTT only with the keys of an accepted early data; once
      // rejected or discarded (§4.9.3) they are dropped. A client never receives 0-RTT (§17.2.3).
      if (d.role === 'client' || d.keys.zeroRttDone) {
        this.drop(h, 'key_unavailable');
        return false;
      }
      space = PacketSpace.Application;
    } else if (h.kind === 'long') {
      space = h.type === LongPacketType.Initial ? PacketSpace.Initial : PacketSpace.Handshake;
    } else {
      space = PacketSpace.Application;
    }
    const sp = d.spaces.at(space);
    if (sp.discarded) {
      this.drop(h, 'key_unavailable');
      return false;
    }
    // RFC 9001 §5.7: keys not there yet (reordering; 0-RTT before the ClientHello that brings
    // its key, RFC 9001 §4.6.1): keep a copy for later, bounded.
    if (zeroRtt ? !d.keys.hasZeroRtt : !d.keys.canRead(space) || !this.canOpen(space)) {
      if (this.buffered.length < MAX_BUFFERED_PACKETS) {
        this.buffered.push({ bytes: data.slice(h.start, h.end), space, zeroRtt });
        if (q) qlogPacketBuffered(q, h, h.end - h.start);
      } else {
        this.drop(h, 'key_unavailable');
      }
      return false;
    }
    const u = removeHeaderProtection(data, h, zeroRtt ? d.keys.zeroRttKeys.header : d.keys.readHeaderKey(space));
    if (u === null) {
      this.drop(h, 'invalid');
      return false;
    }
    // draft-ietf-quic-multipath: a 1-RTT packet to one of the connection ids of path id n ≥ 1 is
    // of that path id's packet number space and its nonce mixes n in. Without multipath
    // (`cids` null) nothing is looked up: path 0, the RFC 9000 space.
    let pathId = 0;
    let pathAck: AckTracker | undefined;
    const pathCids = h.kind === 'short' ? d.multipath.cids : null;
    if (pathCids !== null) {
      const id = pathCids.pathIdOf(h.dcid);
      if (id !== undefined) {
        pathId = id;
        pathAck = d.multipath.receivedOn(id);
      }
    }
    // A path id abandoned and forgotten: its late packets are dropped (draft §3.4).
    if (pathId !== 0 && pathAck === undefined && d.multipath.wasOpened(pathId) && d.multipath.pathAt(pathId) === undefined) {
      this.drop(h, 'rejected');
      return false;
    }
    const largest = pathId === 0 ? sp.ack.largestReceived : (pathAck?.largestReceived ?? -1);
    if (space === PacketSpace.Application && !zeroRtt) d.keys.readingPath(pathId);
    const key = zeroRtt ? d.keys.zeroRttKeys.packet : space === PacketSpace.Application ? d.keys.selectReadKey : d.keys.readPacketKey(space);
    const opened = openPayload(data, h, u, largest, key, pathId);
    if (opened === null) {
      this.drop(h, 'decryption_failure');
      // RFC 9001 §6.6: the integrity limit of the AEAD.
      if (d.keys.onAuthFailure()) throw new TransportError(TransportErrorCode.AEAD_LIMIT_REACHED, 'too many packets failed authentication');
      return false;
    }
    // Made once a packet of the path id authenticated: bounded by the path ids we issued.
    if (pathId !== 0 && pathAck === undefined) {
      pathAck = d.multipath.receiveSpace(pathId, { maxRanges: d.config.maxAckRanges, maxAckDelay: d.config.maxAckDelayMs });
    }
    const ack = pathAck ?? sp.ack;
    if (ack.isDuplicate(opened.pn)) {
      this.drop(h, 'duplicate');
      return true;
    }
    this.received++;
    if (q) qlogPacketReceived(q, h, space, opened.pn, opened.payload, h.end - h.start, peerAckDelayExponent(d.handshake, space));
    // draft-ietf-quic-multipath: one key phase for the connection, whichever path id shows the
    // peer's update first; each path id's packets are told old or new by its own numbers.
    if (space === PacketSpace.Application && !zeroRtt) {
      if (d.keys.onOneRttOpened(opened.keyPhase, opened.pn, now, currentPto(d), pathId)) q?.remoteKeyUpdate(d.keys.updates); // RFC 9001 §6.2: the peer's key update
      // RFC 9001 §4.9.3: a server MAY discard 0-RTT keys once it receives a 1-RTT packet (the
      // client sends no 0-RTT after it; a reordered one is dropped and its data re-sent).
      if (d.keys.hasZeroRtt) d.keys.discardZeroRtt();
    }
    const handler = this.handler;
    if (h.kind === 'long' && !zeroRtt) handler.onLongHeader(now, h, space);
    const it = this.frames;
    if (d.multipath.cids !== null) d.multipath.setRxPathId(pathId);
    if (pathId !== 0) handler.onPathIdPacket(now, pathId, h.end - h.start);
    it.reset(opened.payload, zeroRtt ? FrameContext.ZeroRtt : sp.frameContext);
    const lifecycle = d.lifecycle;
    for (let f = it.next(); f !== null; f = it.next()) {
      if (!lifecycle.isOpen) break;
      handler.onFrame(now, f, it.frameType, space, h.dcid);
    }
    const ackEliciting = it.ackEliciting;
    it.release();
    handler.onPacketProcessed(now, space, opened.pn, largest, it.probingOnly, pathId);
    // A packet can discard its own space's keys (the server's handshake confirms on the client's
    // Finished, RFC 9001 §4.9.2): nothing is acknowledged there any more, so it is not recorded.
    if (!sp.discarded) ack.onPacketReceived(opened.pn, ackEliciting, now);
    // Unless the packet ended the connection: what waited for keys it brought.
    if (this.buffered.length > 0 && lifecycle.isOpen) this.replayBuffered(now);
    return true;
  }

  private drop(h: PacketHeader, trigger: Parameters<typeof qlogPacketDropped>[3]): void {
    this.dropped++;
    const q = this.p.trace.tracer;
    if (q) qlogPacketDropped(q, h, h.end - h.start, trigger);
  }
}

/**
 * RFC 9000 §10.3.1: whether `datagram` ends with the stateless reset token of one of the peer's
 * connection ids, those of path 0 and, with multipath, those of every other path id.
 */
export function isPeerStatelessReset(p: ConnectionParts, datagram: Uint8Array): boolean {
  if (p.remoteCids.isStatelessReset(datagram)) return true;
  const pathCids = p.multipath.cids;
  // §10.3: shorter datagrams cannot be resets we honour (as RemoteCids).
  return pathCids !== null && datagram.length >= 21 && pathCids.isStatelessReset(datagram.subarray(datagram.length - 16));
}
