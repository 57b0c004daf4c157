import type { PacketSpace } from '../packet/space.js';
import type { RttEstimator } from '../recovery/rtt.js';
import type { SentPacket } from '../recovery/sent-packets.js';
import type { StreamMap } from '../streams/stream-map.js';
import type { StreamControlFrame } from '../streams/stream-types.js';
import type { LocalCids, RemoteCids } from './cids.js';
import type { Datagrams } from './datagrams.js';
import type { Handshake } from './handshake.js';
import type { MultipathState } from './multipath.js';
import type { NatFrame, NatLink } from './nat.js';
import type { AddressDiscovery } from './address-discovery.js';
import type { Path, RecoveredPacket } from './path.js';
import type { PacketSpaces } from './spaces.js';

/**
 * What a sent packet carried that matters when it is acknowledged or lost (STYLE.md rule 7:
 * retransmit information, not packets). The packet builder's caller records one `SentFrame` per
 * retransmittable frame; on loss the owning module re-queues what is still needed, and the next
 * packet is built with current values.
 */
export type SentFrame =
  /** CRYPTO bytes [offset, offset+length) of a packet number space. */
  | { readonly k: 'crypto'; readonly space: PacketSpace; readonly offset: number; readonly length: number }
  /** STREAM bytes (and FIN) of a stream. */
  | { readonly k: 'stream'; readonly id: number; readonly offset: number; readonly length: number; readonly fin: boolean }
  /** A stream or connection flow-control frame (MAX_DATA, RESET_STREAM, ...): re-polled with current values. */
  | { readonly k: 'control'; readonly frame: StreamControlFrame }
  /** An ACK frame whose largest acknowledged was `largest`: once acked, older ranges need not be repeated. */
  | { readonly k: 'ack'; readonly space: PacketSpace; readonly largest: number }
  | { readonly k: 'handshakeDone' }
  /** A NEW_TOKEN frame (RFC 9000 §8.1.3): sent again when lost, unless a newer one is queued. */
  | { readonly k: 'newToken'; readonly token: Uint8Array }
  | { readonly k: 'newCid'; readonly seq: number }
  | { readonly k: 'retireCid'; readonly seq: number }
  /** PATH_NEW_CONNECTION_ID / PATH_RETIRE_CONNECTION_ID of a path id other than 0 (multipath). */
  | { readonly k: 'pathNewCid' | 'pathRetireCid'; readonly pathId: number; readonly seq: number }
  /** OBSERVED_ADDRESS of path id `pathId` reporting `address` (owed again when lost while still the path's). */
  | { readonly k: 'qad'; readonly pathId: number; readonly address: string }
  /** ADD_ADDRESS, REMOVE_ADDRESS or REACH_OUT (n0 NAT traversal): sent again when lost while still true. */
  | { readonly k: 'nat'; readonly frame: NatFrame }
  /** A PATH_ACK of path id `pathId` ≥ 1 whose Largest Acknowledged was `largest` (ACK of ACK per path id). */
  | { readonly k: 'pathAck'; readonly pathId: number; readonly largest: number }
  /** A PATH_STATUS_* of path id `pathId` with sequence `seq` (re-sent when lost unless replaced). */
  | { readonly k: 'pathStatus'; readonly pathId: number; readonly seq: number }
  /** A PATH_ABANDON of `pathId` (re-sent when lost while the path's state lingers). */
  | { readonly k: 'pathAbandon'; readonly pathId: number; readonly code: number }
  /** MAX_PATH_ID (re-sent with the current value when lost). */
  | { readonly k: 'maxPathId' }
  /** A DATAGRAM: counted as acked or lost, never retransmitted (RFC 9221 §5.2). */
  | { readonly k: 'datagram' }
  /** A PATH_CHALLENGE (its loss is handled by the path's challenge timer). */
  | { readonly k: 'pathChallenge' }
  /** A path MTU probe of `size` bytes (its loss is not a congestion signal, RFC 8899 §4.4). */
  | { readonly k: 'mtuProbe'; readonly size: number };

/**
 * One sent packet with what it carried, in ONE object per packet: the SentPacket fields, the path
 * it left on, the frames every data packet carries stored inline (its first STREAM frame, its ACK
 * frame), and any other frame (CRYPTO, control frames, further STREAM frames...) in `more`.
 *
 * Records are recycled: `PacketRecord.take` hands out a blank one from a free list that
 * `PacketRecord.recycle` fills with the records of acknowledged packets. A record lives as long as
 * its packet is in flight, so fresh ones would survive the young generation's scavenges and, over
 * many transfers, make V8 grow it into the loop of mark-compacts bench/README.md describes ("The
 * sender's own fall into mark-compacts"); recycled ones stay in the old generation and allocate
 * nothing. The loss recovery recycles the records of acknowledged packets, the transmitter one it
 * took for a packet it then abandoned: only records nothing else holds (see `recycle`).
 */
export class PacketRecord implements SentPacket<PacketRecord>, RecoveredPacket {
  pn = 0;
  /** Time sent, ms. */
  timeSent = 0;
  size = 0;
  ackEliciting = false;
  inFlight = false;
  /**
   * The path it left on: its acknowledgment or loss is credited to that path's recovery state.
   * (Set by `take`; only a record in the free list has none, and nothing reads it there.)
   */
  path: Path;
  /** The first STREAM frame: stream id (-1: none), offset, length, FIN. */
  streamId = -1;
  streamOffset = 0;
  streamLength = 0;
  streamFin = false;
  /** The ACK frame: packet number space and Largest Acknowledged (-1: none). */
  ackSpace: PacketSpace = 0;
  ackLargest = -1;
  /** Whether it was a path MTU probe (its fate says nothing about congestion). */
  mtuProbe = false;
  /** The other frames, in the order they were added. */
  more: SentFrame[] | null = null;
  /** Whether it waits in the free list (a guard against recycling one twice). */
  private free = false;

  constructor(path: Path) {
    this.path = path;
  }

  /** How many blank records wait in the free list. */
  static get spare(): number {
    return FREE.length;
  }

  /** A blank record for a packet leaving on `path`: a recycled one when there is one. */
  static take(path: Path): PacketRecord {
    const r = FREE.pop();
    if (r === undefined) return new PacketRecord(path);
    r.free = false;
    r.path = path;
    return r;
  }

  /**
   * `r`'s packet is done with (acknowledged, or never sent) and NOTHING keeps a reference to it:
   * it is blanked and kept for `take` (up to FREE_MAX records, shared by every connection of the
   * thread). It must not hold on to the path (a closed connection's state would live on).
   */
  static recycle(r: PacketRecord): void {
    if (r.free || FREE.length >= FREE_MAX) return;
    r.free = true;
    r.path = NO_PATH;
    r.pn = 0;
    r.timeSent = 0;
    r.size = 0;
    r.ackEliciting = false;
    r.inFlight = false;
    r.streamId = -1;
    r.streamOffset = 0;
    r.streamLength = 0;
    r.streamFin = false;
    r.ackSpace = 0;
    r.ackLargest = -1;
    r.mtuProbe = false;
    r.more = null;
    FREE.push(r);
  }

  /** Fills in what the loss detector needs once the packet is sealed (before `onPacketSent`). */
  sent(pn: number, timeSent: number, size: number, ackEliciting: boolean, inFlight: boolean): this {
    this.pn = pn;
    this.timeSent = timeSent;
    this.size = size;
    this.ackEliciting = ackEliciting;
    this.inFlight = inFlight;
    return this;
  }

  /** The record is its own (SentPacket.record). */
  get record(): PacketRecord {
    return this;
  }

  /** SentPacket.pathRtt: an RTT sample from this packet belongs to its path (RFC 9000 §9.4). */
  get pathRtt(): RttEstimator | undefined {
    return this.path.recovery?.rtt;
  }

  /** Number of frames recorded. */
  get count(): number {
    return (this.streamId >= 0 ? 1 : 0) + (this.ackLargest >= 0 ? 1 : 0) + (this.more === null ? 0 : this.more.length);
  }

  addStream(id: number, offset: number, length: number, fin: boolean): void {
    if (this.streamId >= 0) {
      this.push({ k: 'stream', id, offset, length, fin });
      return;
    }
    this.streamId = id;
    this.streamOffset = offset;
    this.streamLength = length;
    this.streamFin = fin;
  }

  addAck(space: PacketSpace, largest: number): void {
    if (this.ackLargest >= 0) {
      this.push({ k: 'ack', space, largest });
      return;
    }
    this.ackSpace = space;
    this.ackLargest = largest;
  }

  /** Any frame (STREAM and ACK go inline when their slot is free). */
  add(f: SentFrame): void {
    if (f.k === 'stream') this.addStream(f.id, f.offset, f.length, f.fin);
    else if (f.k === 'ack') this.addAck(f.space, f.largest);
    else {
      if (f.k === 'mtuProbe') this.mtuProbe = true;
      this.push(f);
    }
  }

  /** The frames as objects (tests, debugging; allocates). */
  toArray(): SentFrame[] {
    const out: SentFrame[] = [];
    if (this.ackLargest >= 0) out.push({ k: 'ack', space: this.ackSpace, largest: this.ackLargest });
    if (this.streamId >= 0) out.push({ k: 'stream', id: this.streamId, offset: this.streamOffset, length: this.streamLength, fin: this.streamFin });
    if (this.more !== null) out.push(...this.more);
    return out;
  }

  private push(f: SentFrame): void {
    if (this.more === null) this.more = [f];
    else this.more.push(f);
  }
}

/**
 * The blank records `PacketRecord.take` hands out. Bounded: a connection's in-flight packets are
 * acknowledged a few dozen at a time, so a small list covers a busy sender, and the rest are left to
 * the collector.
 */
const FREE: PacketRecord[] = [];
const FREE_MAX = 1024;
/** What a record in the free list points to instead of a path. */
const NO_PATH = null as unknown as Path;

/** Frame objects without fields, shared. */
export const HANDSHAKE_DONE_FRAME: SentFrame = Object.freeze({ k: 'handshakeDone' });
export const DATAGRAM_FRAME: SentFrame = Object.freeze({ k: 'datagram' });
export const PATH_CHALLENGE_FRAME: SentFrame = Object.freeze({ k: 'pathChallenge' });

/** The modules whose frames a packet carries: they learn of its acknowledgment or loss. */
export interface FrameOwners {
  readonly spaces: PacketSpaces;
  readonly streams: StreamMap;
  readonly datagrams: Datagrams;
  readonly localCids: LocalCids;
  readonly remoteCids: RemoteCids;
  readonly multipath: MultipathState;
  readonly nat: NatLink | null;
  readonly qad: AddressDiscovery | null;
  readonly handshake: Handshake;
}

/**
 * A packet declared lost was acknowledged after all (`AckResult.lateAcked`): the peer holds its
 * STREAM and CRYPTO bytes, so their owners count them as received (a stream waiting to finish does
 * not wait for the copy it re-sent). Other frames were re-queued or replaced when it was lost and
 * are left alone: their owners already moved on.
 */
export function onFramesAckedLate(o: FrameOwners, p: PacketRecord): void {
  if (p.streamId >= 0) o.streams.onStreamFrameAcked(p.streamId, p.streamOffset, p.streamLength, p.streamFin);
  const more = p.more;
  if (more === null) return;
  for (let i = 0; i < more.length; i++) {
    const f = more[i]!;
    if (f.k === 'stream') o.streams.onStreamFrameAcked(f.id, f.offset, f.length, f.fin);
    else if (f.k === 'crypto') o.spaces.at(f.space).crypto.onAcked(f.offset, f.length);
  }
}

/** `p` was acknowledged: each frame's owner learns it (congestion is the path's: path.ts). */
export function onFramesAcked(o: FrameOwners, p: PacketRecord): void {
  if (p.ackLargest >= 0) o.spaces.at(p.ackSpace).ack.onAckOfAckReceived(p.ackLargest);
  if (p.streamId >= 0) o.streams.onStreamFrameAcked(p.streamId, p.streamOffset, p.streamLength, p.streamFin);
  const more = p.more;
  if (more === null) return;
  for (let i = 0; i < more.length; i++) {
    const f = more[i]!;
    switch (f.k) {
      case 'crypto':
        o.spaces.at(f.space).crypto.onAcked(f.offset, f.length);
        break;
      case 'stream':
        o.streams.onStreamFrameAcked(f.id, f.offset, f.length, f.fin);
        break;
      case 'control':
        o.streams.onControlAcked(f.frame);
        break;
      case 'ack':
        o.spaces.at(f.space).ack.onAckOfAckReceived(f.largest);
        break;
      case 'pathAck':
        o.multipath.receivedOn(f.pathId)?.onAckOfAckReceived(f.largest);
        break;
      case 'datagram':
        o.datagrams.onAcked();
        break;
      case 'mtuProbe': {
        const r = p.path.recovery;
        if (r) {
          r.mtu.onProbeAcked(f.size);
          r.onMtuChanged();
        }
        break;
      }
      case 'handshakeDone':
      case 'newToken':
      case 'newCid':
      case 'retireCid':
      case 'pathNewCid':
      case 'pathRetireCid':
      case 'pathChallenge':
      case 'nat':
      case 'qad':
      case 'pathStatus':
      case 'maxPathId':
        break;
      case 'pathAbandon':
        (f.pathId === 0 ? o.multipath.pathZeroAbandonFrame : o.multipath.pathAt(f.pathId)?.abandonFrame)?.onAcked();
        break;
    }
  }
}

/** `p` was declared lost: each frame's owner re-queues what is still needed. */
export function onFramesLost(o: FrameOwners, p: PacketRecord): void {
  if (p.streamId >= 0) o.streams.onStreamFrameLost(p.streamId, p.streamOffset, p.streamLength, p.streamFin);
  const more = p.more;
  if (more === null) return;
  for (let i = 0; i < more.length; i++) {
    const f = more[i]!;
    switch (f.k) {
      case 'crypto':
        o.spaces.at(f.space).crypto.onLost(f.offset, f.length);
        break;
      case 'stream':
        o.streams.onStreamFrameLost(f.id, f.offset, f.length, f.fin);
        break;
      case 'control':
        o.streams.onControlLost(f.frame);
        break;
      case 'handshakeDone':
        o.handshake.onHandshakeDoneLost();
        break;
      case 'newToken':
        if (!o.handshake.newTokenPending) o.handshake.queueNewToken(f.token);
        break;
      case 'newCid':
        o.localCids.onNewCidLost(f.seq);
        break;
      case 'retireCid':
        o.remoteCids.onRetireLost(f.seq);
        break;
      case 'pathNewCid':
        o.multipath.cids?.onNewCidLost(f.pathId, f.seq);
        break;
      case 'pathRetireCid':
        o.multipath.cids?.onRetireLost(f.pathId, f.seq);
        break;
      case 'nat':
        o.nat?.onFrameLost(f.frame);
        break;
      case 'qad':
        o.qad?.onLost(f.pathId, f.address);
        break;
      case 'datagram':
        o.datagrams.onLost();
        break;
      case 'mtuProbe':
        p.path.recovery?.mtu.onProbeLost(f.size);
        break;
      case 'pathStatus':
        if (f.pathId === 0) o.multipath.onPathZeroStatusLost(f.seq);
        else o.multipath.pathAt(f.pathId)?.onStatusLost(f.seq);
        break;
      case 'pathAbandon':
        (f.pathId === 0 ? o.multipath.pathZeroAbandonFrame : o.multipath.pathAt(f.pathId)?.abandonFrame)?.onLost();
        break;
      case 'maxPathId':
        o.multipath.onMaxPathIdLost();
        break;
      case 'ack':
      case 'pathAck':
      case 'pathChallenge':
        break;
    }
  }
}
