import { protocolViolation } from '../errors.js';
import type { ConnectionEvent } from '../events.js';
import type { DatagramStats } from './stats.js';

export type { DatagramStats } from './stats.js';

/**
 * Unreliable datagrams (RFC 9221): a bounded send queue with a drop-oldest policy, a bounded
 * receive queue, the size limits of both directions, and the counters the stats report.
 *
 * Datagrams are never retransmitted (RFC 9221 §5.2): a packet carrying one is acknowledged or
 * lost, and that only moves a counter.
 *
 * What became of each queued datagram is reported: `send` returns its id (0, 1, 2... in queueing
 * order), and every datagram leaves the queue from its head, either written into a packet or
 * dropped, so ids settle in order. A 'datagramsSent' event (one until the report is taken) says
 * the report changed; `takeSendReport()` gives the ids settled and which of them were dropped.
 * No callback is kept per datagram: whoever waits keeps its own list of ids.
 */

import { DatagramError } from './datagram-error.js';

export { DatagramError } from './datagram-error.js';

/** Why a queued datagram was dropped before it could be sent. */
export type DatagramDropReason =
  /** Newer datagrams pushed it out of the full send queue (drop-oldest). */
  | 'queue-full'
  /** It no longer fits a packet: the path MTU shrank after it was queued. */
  | 'too-large'
  /** It left in a 0-RTT packet and the server rejected 0-RTT: it never arrived (RFC 9001 §4.6.2). */
  | 'early-data-rejected';

/** A queued datagram that never left. */
export interface DroppedDatagram {
  readonly id: number;
  readonly reason: DatagramDropReason;
}

/** What became of queued datagrams since the last report. */
export interface DatagramSendReport {
  /** Every datagram with an id below this one has left in a packet or was dropped. */
  readonly settledBelow: number;
  /** The dropped ones among those settled since the last report, in id order. */
  readonly dropped: readonly DroppedDatagram[];
}

/** The event of a changed report: one shared object (nothing is allocated per datagram). */
const SENT_EVENT: ConnectionEvent = Object.freeze({ type: 'datagramsSent' });
const NONE_DROPPED: readonly DroppedDatagram[] = Object.freeze([]);

export interface DatagramConfig {
  /** Our max_datagram_frame_size (0 = we do not accept datagrams). Default 65535 (RFC 9221 §3). */
  maxFrameSize: number;
  /** Datagrams queued for sending before the oldest is dropped. */
  sendQueueCount: number;
  /** Bytes queued for sending before the oldest is dropped. */
  sendQueueBytes: number;
  /** Received datagrams kept for the application before the oldest is dropped. */
  recvQueueCount: number;
  /** Received bytes kept for the application before the oldest is dropped. */
  recvQueueBytes: number;
}

export const DEFAULT_DATAGRAM_CONFIG: DatagramConfig = {
  maxFrameSize: 65535,
  sendQueueCount: 1024,
  sendQueueBytes: 1 << 20,
  recvQueueCount: 1024,
  recvQueueBytes: 1 << 20,
};

/**
 * Short-header packet overhead around a DATAGRAM frame: flags (1) + DCID + the longest packet
 * number (4) + AEAD tag (16) + the frame type (1). The length field is omitted when the DATAGRAM
 * frame ends the packet (type 0x30), which is how a maximum-size datagram is sent.
 */
export function datagramOverhead(dcidLength: number): number {
  return 1 + dcidLength + 4 + 16 + 1;
}

export class Datagrams {
  readonly config: DatagramConfig;
  readonly stats: DatagramStats = { sent: 0, acked: 0, lost: 0, droppedSend: 0, received: 0, droppedRecv: 0 };
  /** The peer's max_datagram_frame_size; 0 until known or when it does not accept datagrams. */
  private peerMaxFrameSize = 0;
  /** Both queues start as the shared empty one and get their own array with their first datagram. */
  private sendQueue: Uint8Array[] = NO_DATAGRAMS;
  private sendHead = 0;
  private sendBytes = 0;
  private recvQueue: Uint8Array[] = NO_DATAGRAMS;
  private recvHead = 0;
  private recvBytes = 0;
  /** The id of the next datagram queued, and of the one at the head of the send queue. */
  private nextId = 0;
  private headId = 0;
  /** Dropped since the last report (undefined: none). */
  private dropped: DroppedDatagram[] | undefined;
  /** Ids of the datagrams sent in 0-RTT, until the server accepts or rejects it (undefined: none). */
  private early: number[] | undefined;
  /** A 'datagramsSent' event was pushed and its report not yet taken. */
  private reportPending = false;
  private readonly events: { push(e: ConnectionEvent): void } | undefined;

  /** `events`: where 'datagramsSent' goes (the connection's event queue); none, no event. */
  constructor(config: Partial<DatagramConfig> = {}, events?: { push(e: ConnectionEvent): void }) {
    this.config = { ...DEFAULT_DATAGRAM_CONFIG, ...config };
    this.events = events;
  }

  /** The peer's transport parameters arrived. */
  setPeerMaxFrameSize(n: number): void {
    this.peerMaxFrameSize = n;
  }

  /**
   * Largest payload the application may send now, or undefined when the peer does not accept
   * datagrams. `maxUdpPayload` is the current path MTU for UDP payloads.
   */
  maxSize(maxUdpPayload: number, dcidLength: number): number | undefined {
    if (this.peerMaxFrameSize === 0) return undefined;
    const byPath = maxUdpPayload - datagramOverhead(dcidLength);
    // The peer's limit counts the frame type and (possibly) a length field: stay conservative
    // and assume a 1-byte type plus the length varint for a frame of that size.
    const byPeer = this.peerMaxFrameSize - 1 - (this.peerMaxFrameSize < 64 ? 1 : this.peerMaxFrameSize < 16384 ? 2 : 4);
    return Math.max(0, Math.min(byPath, byPeer));
  }

  /**
   * Queues a copy of `data` and returns its id (see the class comment). Throws DatagramError when
   * unsupported or too large. A full queue drops its oldest datagrams, which are reported.
   */
  send(data: Uint8Array, maxUdpPayload: number, dcidLength: number): number {
    const max = this.maxSize(maxUdpPayload, dcidLength);
    if (max === undefined) throw new DatagramError('unsupported', 'the peer does not accept datagrams (no max_datagram_frame_size)');
    if (data.length > max) {
      throw new DatagramError('too-large', `datagram of ${data.length} bytes exceeds the current maximum of ${max} bytes`);
    }
    if (this.sendQueue === NO_DATAGRAMS) this.sendQueue = [];
    this.sendQueue.push(data.slice());
    this.sendBytes += data.length;
    const id = this.nextId++;
    while (this.queuedCount > this.config.sendQueueCount || this.sendBytes > this.config.sendQueueBytes) this.dropOldest('queue-full');
    return id;
  }

  get queuedCount(): number {
    return this.sendQueue.length - this.sendHead;
  }

  /** The next datagram to send (not removed), or undefined. */
  peek(): Uint8Array | undefined {
    return this.sendQueue[this.sendHead];
  }

  /**
   * The datagram from `peek()` went into a packet. One sent in 0-RTT (`zeroRtt`) is settled only
   * when the server says whether it accepted 0-RTT (`onEarlyData`): until then the report holds
   * it, and every later one, back.
   */
  onSent(zeroRtt = false): void {
    if (zeroRtt) (this.early ??= []).push(this.headId);
    this.shiftSend();
    this.stats.sent++;
    this.settled();
  }

  /**
   * The datagram at the head can never be sent (the path MTU shrank below it): drop it rather
   * than block the queue.
   */
  dropHead(): void {
    this.dropOldest('too-large');
  }

  /**
   * The server accepted or rejected 0-RTT: the datagrams sent in it are settled, as sent or as
   * dropped ('early-data-rejected', also counted lost).
   */
  onEarlyData(accepted: boolean): void {
    const ids = this.early;
    this.early = undefined;
    if (!ids) return;
    if (!accepted) {
      const dropped = (this.dropped ??= []);
      for (const id of ids) dropped.push({ id, reason: 'early-data-rejected' });
      dropped.sort((a, b) => a.id - b.id);
      this.stats.lost += ids.length;
    }
    this.settled();
  }

  /** What became of queued datagrams since the last call (see the class comment). */
  takeSendReport(): DatagramSendReport {
    const hold = this.early?.[0];
    if (hold !== undefined) {
      // Datagrams from the first one sent in 0-RTT on wait for the server's answer.
      const all = this.dropped ?? NONE_DROPPED;
      const now = all.filter((d) => d.id < hold);
      const later = all.filter((d) => d.id >= hold);
      this.dropped = later.length > 0 ? later : undefined;
      this.reportPending = false;
      return { settledBelow: hold, dropped: now.length > 0 ? now : NONE_DROPPED };
    }
    const report = { settledBelow: this.headId, dropped: this.dropped ?? NONE_DROPPED };
    this.dropped = undefined;
    this.reportPending = false;
    return report;
  }

  onAcked(): void {
    this.stats.acked++;
  }

  onLost(): void {
    this.stats.lost++;
  }

  /**
   * A DATAGRAM frame arrived with `data` (a view into the packet: copied here). `frameSize` is
   * the whole frame's encoded size. RFC 9221 §3: unsolicited or oversized -> PROTOCOL_VIOLATION.
   */
  onReceived(data: Uint8Array, frameSize: number, frameType: number): void {
    if (this.config.maxFrameSize === 0) throw protocolViolation('DATAGRAM frame received but not advertised', frameType);
    if (frameSize > this.config.maxFrameSize) {
      throw protocolViolation(`DATAGRAM frame of ${frameSize} bytes exceeds max_datagram_frame_size ${this.config.maxFrameSize}`, frameType);
    }
    this.stats.received++;
    if (this.recvQueue === NO_DATAGRAMS) this.recvQueue = [];
    this.recvQueue.push(data.slice());
    this.recvBytes += data.length;
    while (this.recvQueue.length - this.recvHead > this.config.recvQueueCount || this.recvBytes > this.config.recvQueueBytes) {
      this.shiftRecv();
      this.stats.droppedRecv++;
    }
  }

  /** The oldest received datagram, or undefined. */
  recv(): Uint8Array | undefined {
    return this.shiftRecv();
  }

  get receivedCount(): number {
    return this.recvQueue.length - this.recvHead;
  }

  private dropOldest(reason: DatagramDropReason): void {
    (this.dropped ??= []).push({ id: this.headId, reason });
    this.shiftSend();
    this.stats.droppedSend++;
    this.settled();
  }

  /** The head datagram left the queue: the report changed. */
  private settled(): void {
    if (this.reportPending) return;
    this.reportPending = true;
    this.events?.push(SENT_EVENT);
  }

  private shiftSend(): Uint8Array | undefined {
    const d = this.sendQueue[this.sendHead];
    if (!d) return undefined;
    this.sendQueue[this.sendHead++] = EMPTY;
    this.headId++;
    this.sendBytes -= d.length;
    if (compact(this.sendQueue, this.sendHead)) this.sendHead = 0;
    return d;
  }

  private shiftRecv(): Uint8Array | undefined {
    const d = this.recvQueue[this.recvHead];
    if (!d) return undefined;
    this.recvQueue[this.recvHead++] = EMPTY;
    this.recvBytes -= d.length;
    if (compact(this.recvQueue, this.recvHead)) this.recvHead = 0;
    return d;
  }
}

const EMPTY = new Uint8Array(0);

/** Drops the consumed prefix of an array queue once it is large; returns true when it did. */
/** The empty queue of every connection that never queued a datagram (never written: heap per idle connection). */
const NO_DATAGRAMS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

function compact(q: Uint8Array[], head: number): boolean {
  if (head === q.length) {
    q.length = 0;
    return true;
  }
  if (head < 64 || head * 2 < q.length) return false;
  q.splice(0, head);
  return true;
}
