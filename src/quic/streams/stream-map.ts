/**
 * All the streams of one connection, RFC 9000 §2-4: opening within the peer's MAX_STREAMS limit,
 * implicit creation of peer streams (with every lower-numbered stream of the type, §2.1/§3.2),
 * the STREAM_STATE_ERROR / STREAM_LIMIT_ERROR rules of each stream frame (§19.4-19.13), the
 * connection-level flow controllers, fair scheduling of sendable streams, removal of finished
 * streams, MAX_STREAMS credit, and the stream-related control frames the packet builder drains.
 *
 * Use by the connection:
 *   frames in:  onStreamFrame / onResetStream / onStopSending / onMaxStreamData /
 *               onStreamDataBlocked / onMaxData / onDataBlocked / onMaxStreams / onStreamsBlocked
 *   building:   pollControlFrame(now, srtt) until null (record each in the packet's sent
 *               record), then `s = nextSendable()`, `s.nextFrame(room)`, `s.writeData(...)`
 *   recovery:   onControlAcked / onControlLost (a control frame that did not fit in the packet may
 *               be handed back through onControlLost too), onStreamFrameAcked / onStreamFrameLost
 *   app:        open, accept, get, pollEvent, setPriority; reading and writing go through
 *               stream.send / stream.recv directly.
 */
import { TransportError, TransportErrorCode } from '../errors.js';
import { ReceiveWindow, SendCredit } from './flow-control.js';
import { RecvStream } from './recv-stream.js';
import type { RecvStreamOwner } from './recv-stream.js';
import { Scheduler } from './scheduler.js';
import { SendStream } from './send-stream.js';
import type { SendStreamOwner } from './send-stream.js';
import { isBidi, isLocallyInitiated, isUni, streamId, streamIndex, peerRole } from './stream-id.js';
import type { Direction, Role } from './stream-id.js';
import { DEFAULT_STREAM_LIMITS, Stream } from './stream-types.js';
import type { OpenResult, PeerStreamParams, StreamControlFrame, StreamEvent, StreamLimits } from './stream-types.js';

export { DEFAULT_STREAM_LIMITS, Stream };
export type { OpenResult, PeerStreamParams, StreamControlFrame, StreamEvent, StreamLimits };

/**
 * The streams of every StreamMap that has none yet: one shared empty map, never written (a
 * StreamMap makes its own with its first stream), so an idle connection holds no map.
 */
const NO_STREAMS = new Map<number, Stream>();

/** RFC 9000 §19.11: a stream count above 2^60 cannot be expressed as stream ids. */
const MAX_STREAMS_LIMIT = 2 ** 60;
const FT = {
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  STREAM: 0x08,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
} as const;
const DIRS: readonly Direction[] = ['bidi', 'uni'];
const D01 = [0, 1] as const;
const di = (d: Direction): 0 | 1 => (d === 'bidi' ? 0 : 1);

export class StreamMap implements SendStreamOwner, RecvStreamOwner {
  readonly role: Role;
  readonly limits: Readonly<StreamLimits>;
  /** Connection-level credit from the peer (initial_max_data / MAX_DATA). */
  readonly connSend = new SendCredit(0);
  /** Connection-level credit we grant (initial_max_data / MAX_DATA). */
  readonly connRecv: ReceiveWindow;

  private streams: Map<number, Stream> = NO_STREAMS;
  private readonly scheduler = new Scheduler<Stream>();
  private readonly connBlockedStreams: Stream[] = [];
  private readonly ctlQueue: Stream[] = [];
  /** Own event queue, used when no sink was given (`pollEvent`). */
  private readonly events: StreamEvent[] | undefined;
  private readonly sink: { push(e: StreamEvent): void };
  /** Streams the peer opened that the application has not accepted, per direction (made by the first). */
  private readonly incoming: [Stream[] | undefined, Stream[] | undefined] = [undefined, undefined];
  private peer: PeerStreamParams | null = null;
  private dataBlockedPending = false;
  /** 0-RTT was rejected and the server's new parameters are not applied yet. */
  private rewound = false;
  /**
   * Streams we opened in a rejected 0-RTT beyond the server's new MAX_STREAMS (RFC 9000 §4.6: no
   * frame may name them yet): nothing of them is sent until the limit covers them; null when no
   * stream can be beyond it (always, but after such a rejection).
   */
  private held: Stream[] | null = null;
  /** Per direction [bidi, uni] (two objects, not ten two-element arrays: heap per idle connection). */
  private readonly dirs: readonly [DirState, DirState];

  /**
   * `sink`: where events go (the connection's ordered event queue, which must then call
   * `eventTaken` for each stream event it hands out); without one they wait for `pollEvent`.
   */
  constructor(role: Role, limits: Partial<StreamLimits> = {}, sink?: { push(e: StreamEvent): void }) {
    this.role = role;
    if (sink === undefined) this.events = [];
    this.sink = sink ?? this.events!;
    // A resolved transport configuration's limits are complete and frozen: shared, not copied.
    this.limits = Object.isFrozen(limits) && hasEveryLimit(limits) ? limits : Object.freeze({ ...DEFAULT_STREAM_LIMITS, ...limits });
    this.connRecv = new ReceiveWindow(this.limits.initialConnectionWindow, this.limits.maxConnectionWindow);
    this.dirs = [new DirState(this.limits.maxConcurrentBidiStreams), new DirState(this.limits.maxConcurrentUniStreams)];
  }

  /** Our transport parameters for streams (what the limits above advertise). */
  localParams(): PeerStreamParams {
    const w = this.limits.initialStreamWindow;
    return {
      initialMaxData: this.limits.initialConnectionWindow,
      initialMaxStreamDataBidiLocal: w,
      initialMaxStreamDataBidiRemote: w,
      initialMaxStreamDataUni: w,
      initialMaxStreamsBidi: this.limits.maxConcurrentBidiStreams,
      initialMaxStreamsUni: this.limits.maxConcurrentUniStreams,
    };
  }

  /** Applies the peer's transport parameters (also to streams created before they were known). */
  setPeerParams(p: PeerStreamParams): void {
    if (p.initialMaxStreamsBidi > MAX_STREAMS_LIMIT || p.initialMaxStreamsUni > MAX_STREAMS_LIMIT) {
      throw new TransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, 'initial_max_streams above 2^60');
    }
    this.peer = p;
    this.raiseConnSend(p.initialMaxData);
    this.raisePeerMaxStreams(0, p.initialMaxStreamsBidi);
    this.raisePeerMaxStreams(1, p.initialMaxStreamsUni);
    if (this.rewound) {
      this.rewound = false;
      // RFC 9001 §4.6.2: the server that rejected 0-RTT may now allow fewer streams than we opened
      // in it. Those beyond its limit wait (held: `isHeld`) for MAX_STREAMS, announced wanted with
      // STREAMS_BLOCKED; the application keeps writing to them, nothing is lost.
      for (const d of D01) {
        const dir = this.dirs[d]!;
        if (dir.nextLocal > dir.peerMaxStreams) {
          this.held ??= [];
          dir.streamsBlockedAt = dir.peerMaxStreams;
          dir.streamsBlockedPending = true;
        }
      }
    }
    for (const s of this.streams.values()) s.send?.onMaxStreamData(this.initialSendCredit(s.id));
  }

  /**
   * 0-RTT was rejected (RFC 9001 §4.6.2: "MUST reset the state of all streams"): the peer never
   * saw our streams, so the limits of the remembered parameters are forgotten (credit and stream
   * counts start over at zero; the server's new parameters, applied next, set them) and every
   * stream of ours is rewound to send all its data again. Streams stay the same ids and objects:
   * the application keeps writing to what it opened. Throws when more streams were opened than
   * the new limits will allow (checked by `checkStreamsAfterRewind` once they are known).
   */
  rewindForRejectedEarlyData(): void {
    this.peer = null;
    this.connSend.restart(0);
    this.dirs[0]!.peerMaxStreams = 0;
    this.dirs[1]!.peerMaxStreams = 0;
    this.dirs[0]!.streamsBlockedAt = -1;
    this.dirs[1]!.streamsBlockedAt = -1;
    this.dirs[0]!.streamsBlockedPending = false;
    this.dirs[1]!.streamsBlockedPending = false;
    this.dataBlockedPending = false;
    for (const s of this.connBlockedStreams) s.connBlocked = false;
    this.connBlockedStreams.length = 0;
    this.rewound = true;
    for (const s of this.streams.values()) s.send?.rewind(0);
  }

  /** Number of streams held (open or not yet fully closed). */
  get size(): number {
    return this.streams.size;
  }

  get(id: number): Stream | undefined {
    return this.streams.get(id);
  }

  /**
   * Opens a local stream within the peer's MAX_STREAMS limit (RFC 9000 §4.6). When the limit is
   * reached, returns `blocked` and queues one STREAMS_BLOCKED per limit (RFC 9000 §19.14); a
   * 'streams-available' event follows when the peer raises the limit.
   */
  open(direction: Direction, priority = 0): OpenResult {
    const d = di(direction);
    const limit = this.dirs[d]!.peerMaxStreams!;
    if (this.dirs[d]!.nextLocal! >= limit) {
      this.dirs[d]!.openWaiting = true;
      // Before the peer's transport parameters are known there is no limit to report yet.
      if (this.peer !== null && this.dirs[d]!.streamsBlockedAt !== limit) {
        this.dirs[d]!.streamsBlockedAt = limit;
        this.dirs[d]!.streamsBlockedPending = true;
      }
      return { kind: 'blocked', limit };
    }
    const s = this.create(streamId(this.dirs[d]!.nextLocal!, this.role, direction));
    s.priority = priority;
    this.dirs[d]!.nextLocal!++;
    return { kind: 'opened', stream: s };
  }

  /** Next peer-initiated stream not yet accepted by the application, or null. */
  accept(direction: Direction): Stream | null {
    return this.incoming[di(direction)]?.shift() ?? null;
  }

  /** Changes a stream's scheduling priority (higher is served first). */
  setPriority(id: number, priority: number): void {
    const s = this.streams.get(id);
    if (s === undefined || s.priority === priority) return;
    const queued = s.queuedAt !== null;
    if (queued) this.scheduler.remove(s);
    s.priority = priority;
    if (queued) this.scheduler.push(s);
  }

  // ---- frames received (RFC 9000 §19.4-19.14) ----

  onStreamFrame(id: number, offset: number, data: Uint8Array, fin: boolean): void {
    this.lookup(id, FT.STREAM, true)?.recv!.onStreamFrame(offset, data, fin);
  }

  onResetStream(id: number, code: number | bigint, finalSize: number): void {
    this.lookup(id, FT.RESET_STREAM, true)?.recv!.onResetStream(code, finalSize);
  }

  onStreamDataBlocked(id: number, _limit: number): void {
    // Informational (RFC 9000 §4.1: credit is never withheld waiting for it); creates the stream.
    this.lookup(id, FT.STREAM_DATA_BLOCKED, true);
  }

  onMaxStreamData(id: number, maximum: number): void {
    this.lookup(id, FT.MAX_STREAM_DATA, false)?.send!.onMaxStreamData(maximum);
  }

  onStopSending(id: number, code: number | bigint): void {
    const send = this.lookup(id, FT.STOP_SENDING, false)?.send;
    if (send === undefined || send === null) return;
    const before = send.resetCode;
    send.onStopSending(code);
    if (before === undefined && send.resetCode !== undefined) this.sink.push({ type: 'stopped', id, code });
  }

  onMaxData(maximum: number): void {
    this.raiseConnSend(maximum);
  }

  onDataBlocked(_limit: number): void {
    // Informational, like STREAM_DATA_BLOCKED.
  }

  onMaxStreams(direction: Direction, maximum: number): void {
    if (maximum > MAX_STREAMS_LIMIT) {
      throw new TransportError(TransportErrorCode.FRAME_ENCODING_ERROR, 'MAX_STREAMS above 2^60', FT.MAX_STREAMS_BIDI + di(direction));
    }
    this.raisePeerMaxStreams(di(direction), maximum);
  }

  onStreamsBlocked(direction: Direction, limit: number): void {
    if (limit > MAX_STREAMS_LIMIT) {
      throw new TransportError(TransportErrorCode.FRAME_ENCODING_ERROR, 'STREAMS_BLOCKED above 2^60', FT.STREAMS_BLOCKED_BIDI + di(direction));
    }
  }

  // ---- sending ----

  /**
   * The stream to take the next STREAM frame from (priority, then round-robin), or null. The
   * stream rotates to the back of its level when `nextFrame` produces a frame. Streams whose new
   * data waits only for connection credit are parked until MAX_DATA, with one DATA_BLOCKED per
   * limit.
   */
  nextSendable(): SendStream | null {
    for (;;) {
      const s = this.scheduler.front();
      if (s === null) return null;
      if (this.held !== null && this.isHeld(s)) {
        this.scheduler.dropFront(s);
        this.hold(s);
        continue;
      }
      const send = s.send!;
      if (send.hasDataToSend) return send;
      this.scheduler.dropFront(s);
      if (send.blockedByConnection && !s.connBlocked) {
        s.connBlocked = true;
        this.connBlockedStreams.push(s);
        if (this.connSend.markBlocked()) this.dataBlockedPending = true;
      }
    }
  }

  onStreamFrameAcked(id: number, offset: number, length: number, fin: boolean): void {
    this.streams.get(id)?.send?.onAcked(offset, length, fin);
  }

  onStreamFrameLost(id: number, offset: number, length: number, fin: boolean): void {
    this.streams.get(id)?.send?.onLost(offset, length, fin);
  }

  // ---- control frames ----

  /** True when pollControlFrame may return a frame. */
  get hasControlFrames(): boolean {
    return (
      this.connRecv.updateDue ||
      this.dataBlockedPending ||
      this.dirs[0]!.maxStreamsPending! ||
      this.dirs[1]!.maxStreamsPending! ||
      this.dirs[0]!.streamsBlockedPending! ||
      this.dirs[1]!.streamsBlockedPending! ||
      this.ctlQueue.length > 0
    );
  }

  /**
   * The next due control frame with CURRENT values (a lost frame is re-sent with the latest limit,
   * not the old one), or null. `now` and `smoothedRtt` (ms) drive window auto-tuning.
   */
  pollControlFrame(now: number, smoothedRtt: number): StreamControlFrame | null {
    if (this.connRecv.updateDue) return { kind: 'max_data', maximum: this.connRecv.advertise(now, smoothedRtt) };
    for (const d of D01) {
      if (this.dirs[d]!.maxStreamsPending) {
        this.dirs[d]!.maxStreamsPending = false;
        const target = Math.min(MAX_STREAMS_LIMIT, this.dirs[d]!.peerClosed! + this.concurrency(d));
        if (target > this.dirs[d]!.localMaxStreams) this.dirs[d]!.localMaxStreams = target;
        return { kind: 'max_streams', direction: DIRS[d]!, maximum: this.dirs[d]!.localMaxStreams };
      }
    }
    if (this.dataBlockedPending) {
      this.dataBlockedPending = false;
      if (this.connSend.isBlocked) return { kind: 'data_blocked', limit: this.connSend.limit };
    }
    for (const d of D01) {
      if (this.dirs[d]!.streamsBlockedPending) {
        this.dirs[d]!.streamsBlockedPending = false;
        const limit = this.dirs[d]!.peerMaxStreams!;
        if (this.dirs[d]!.streamsBlockedAt === limit) return { kind: 'streams_blocked', direction: DIRS[d]!, limit };
      }
    }
    while (this.ctlQueue.length > 0) {
      const s = this.ctlQueue[0]!;
      if (this.held !== null && !s.removed && this.isHeld(s)) {
        this.ctlQueue.shift();
        s.ctlQueued = false;
        this.hold(s);
        continue;
      }
      const f = s.removed ? null : this.streamControl(s, now, smoothedRtt);
      if (f !== null) return f; // the stream stays at the front until it has nothing left
      this.ctlQueue.shift();
      s.ctlQueued = false;
    }
    return null;
  }

  onControlAcked(f: StreamControlFrame): void {
    switch (f.kind) {
      case 'max_data':
        this.connRecv.onAdvertisedAcked(f.maximum);
        break;
      case 'max_stream_data':
        this.streams.get(f.streamId)?.recv?.onMaxStreamDataAcked(f.maximum);
        break;
      case 'reset_stream':
        this.streams.get(f.streamId)?.send?.onResetAcked();
        break;
      case 'max_streams': {
        const d = di(f.direction);
        if (f.maximum > this.dirs[d]!.localMaxStreamsAcked!) this.dirs[d]!.localMaxStreamsAcked = f.maximum;
        break;
      }
      default:
        break; // BLOCKED frames and STOP_SENDING need nothing on ack
    }
  }

  /** Re-queues a lost control frame only if it is still needed (recovery, RFC 9000 §13.3). */
  onControlLost(f: StreamControlFrame): void {
    switch (f.kind) {
      case 'max_data':
        this.connRecv.onAdvertisedLost(f.maximum);
        break;
      case 'data_blocked':
        if (this.connSend.blockedStillValid(f.limit)) this.dataBlockedPending = true;
        break;
      case 'max_stream_data':
        this.streams.get(f.streamId)?.recv?.onMaxStreamDataLost(f.maximum);
        break;
      case 'stream_data_blocked':
        this.streams.get(f.streamId)?.send?.onBlockedLost(f.limit);
        break;
      case 'reset_stream':
        this.streams.get(f.streamId)?.send?.onResetLost();
        break;
      case 'stop_sending':
        this.streams.get(f.streamId)?.recv?.onStopSendingLost();
        break;
      case 'max_streams': {
        const d = di(f.direction);
        if (f.maximum === this.dirs[d]!.localMaxStreams && f.maximum > this.dirs[d]!.localMaxStreamsAcked!) this.dirs[d]!.maxStreamsPending = true;
        break;
      }
      case 'streams_blocked': {
        const d = di(f.direction);
        if (this.dirs[d]!.peerMaxStreams === f.limit && this.dirs[d]!.nextLocal! >= f.limit) this.dirs[d]!.streamsBlockedPending = true;
        break;
      }
    }
  }

  /** Next application notification, or null (when no sink was given to the constructor). */
  pollEvent(): StreamEvent | null {
    const e = this.events?.shift();
    if (e === undefined) return null;
    this.eventTaken(e);
    return e;
  }

  /**
   * An event left for the application: 'readable' and 'writable' are announced once until then
   * (a sink's owner calls this as it hands each stream event out).
   */
  eventTaken(e: { readonly type: string; readonly id?: number }): void {
    if ((e.type === 'readable' || e.type === 'writable') && e.id !== undefined) {
      const s = this.streams.get(e.id);
      if (s !== undefined) {
        if (e.type === 'readable') s.readableQueued = false;
        else s.writableQueued = false;
      }
    }
  }

  // ---- owner callbacks from the stream parts (not for the application) ----

  onSendable(id: number): void {
    const s = this.streams.get(id);
    if (s !== undefined && !s.removed) this.scheduler.push(s);
  }

  onFrameTaken(id: number): void {
    const s = this.streams.get(id);
    if (s !== undefined) this.scheduler.rotate(s);
  }

  onSendControl(id: number): void {
    this.queueControl(id);
  }

  onRecvControl(id: number): void {
    this.queueControl(id);
  }

  onWritable(id: number): void {
    const s = this.streams.get(id);
    if (s === undefined || s.writableQueued) return;
    s.writableQueued = true;
    this.sink.push({ type: 'writable', id });
  }

  onReadable(id: number): void {
    const s = this.streams.get(id);
    if (s === undefined || s.readableQueued) return;
    s.readableQueued = true;
    this.sink.push({ type: 'readable', id });
  }

  onSendTerminal(id: number): void {
    // The sending part is done: every byte and the FIN acknowledged (or the reset acknowledged).
    // A writer waiting for its data to be delivered (a graceful close) wakes on this.
    if (this.streams.has(id)) this.sink.push({ type: 'sendDone', id });
    this.maybeRemove(id);
  }

  onRecvTerminal(id: number): void {
    this.maybeRemove(id);
  }

  // ---- internals ----

  /**
   * Finds the stream a frame refers to, creating peer streams implicitly. Returns null for a
   * stream that existed and was removed (late frame: ignored). `toRecvPart`: the frame concerns
   * our receiving part (STREAM, RESET_STREAM, STREAM_DATA_BLOCKED) or our sending part
   * (MAX_STREAM_DATA, STOP_SENDING).
   */
  private lookup(id: number, frameType: number, toRecvPart: boolean): Stream | null {
    const local = isLocallyInitiated(id, this.role);
    // RFC 9000 §19.4, §19.8, §19.13: STREAM / RESET_STREAM / STREAM_DATA_BLOCKED for a send-only
    // stream; §19.5, §19.10: STOP_SENDING / MAX_STREAM_DATA for a receive-only stream.
    if (isUni(id) && toRecvPart && local) throw streamStateError(id, 'frame for our send-only stream', frameType);
    if (isUni(id) && !toRecvPart && !local) throw streamStateError(id, 'frame for our receive-only stream', frameType);
    const found = this.streams.get(id);
    if (found !== undefined) return found;
    const d = isBidi(id) ? 0 : 1;
    const index = streamIndex(id);
    if (local) {
      // RFC 9000 §19.5, §19.8, §19.10: a locally initiated stream that has not yet been created.
      if (index >= this.dirs[d]!.nextLocal!) throw streamStateError(id, 'locally initiated stream not yet opened', frameType);
      return null;
    }
    if (index < this.dirs[d]!.nextPeer!) return null;
    // RFC 9000 §4.6: a stream id beyond the limit we advertised.
    if (index >= this.dirs[d]!.localMaxStreams) {
      throw new TransportError(
        TransportErrorCode.STREAM_LIMIT_ERROR,
        `stream ${id} beyond our limit of ${this.dirs[d]!.localMaxStreams} ${DIRS[d]} streams`,
        frameType,
      );
    }
    // RFC 9000 §3.2: "Before a stream is created, all streams of the same type with lower-numbered
    // stream IDs MUST be created."
    let s: Stream | null = null;
    const peer = peerRole(this.role);
    for (let i = this.dirs[d]!.nextPeer!; i <= index; i++) {
      s = this.create(streamId(i, peer, DIRS[d]!));
      (this.incoming[d] ??= []).push(s);
      this.sink.push({ type: 'incoming', id: s.id, direction: DIRS[d]! });
    }
    this.dirs[d]!.nextPeer = index + 1;
    return s;
  }

  private create(id: number): Stream {
    const local = isLocallyInitiated(id, this.role);
    const hasSend = isBidi(id) || local;
    const hasRecv = isBidi(id) || !local;
    const send = hasSend
      ? new SendStream(id, new SendCredit(this.initialSendCredit(id)), {
          conn: this.connSend,
          owner: this,
          bufferSize: this.limits.sendBufferSize,
        })
      : null;
    const recv = hasRecv
      ? new RecvStream(id, new ReceiveWindow(this.limits.initialStreamWindow, this.limits.maxStreamWindow), {
          conn: this.connRecv,
          owner: this,
        })
      : null;
    const s = new Stream(id, send, recv);
    if (this.streams === NO_STREAMS) this.streams = new Map();
    this.streams.set(id, s);
    return s;
  }

  /**
   * RFC 9000 §18.2: initial_max_stream_data_bidi_local applies to bidi streams opened by the
   * sender of the parameter (the peer), _bidi_remote to bidi streams opened by us, _uni to our uni
   * streams.
   */
  private initialSendCredit(id: number): number {
    const p = this.peer;
    if (p === null) return 0;
    if (isUni(id)) return p.initialMaxStreamDataUni;
    return isLocallyInitiated(id, this.role) ? p.initialMaxStreamDataBidiRemote : p.initialMaxStreamDataBidiLocal;
  }

  private concurrency(d: 0 | 1): number {
    return d === 0 ? this.limits.maxConcurrentBidiStreams : this.limits.maxConcurrentUniStreams;
  }

  private raiseConnSend(limit: number): void {
    if (!this.connSend.raise(limit)) return;
    // Streams parked for connection credit become schedulable again.
    for (const s of this.connBlockedStreams) {
      s.connBlocked = false;
      if (!s.removed) this.scheduler.push(s);
    }
    this.connBlockedStreams.length = 0;
  }

  private raisePeerMaxStreams(d: 0 | 1, maximum: number): void {
    const old = this.dirs[d]!.peerMaxStreams!;
    if (!(maximum > old)) return; // RFC 9000 §19.11: MUST ignore non-increasing limits
    this.dirs[d]!.peerMaxStreams = maximum;
    if (this.held !== null) this.release();
    if (this.dirs[d]!.openWaiting) {
      this.dirs[d]!.openWaiting = false;
      this.sink.push({ type: 'streams-available', direction: DIRS[d]! });
    }
  }

  /** Whether `s` is one of ours beyond the peer's stream limit (only after a rejected 0-RTT). */
  private isHeld(s: Stream): boolean {
    return isLocallyInitiated(s.id, this.role) && streamIndex(s.id) >= this.dirs[isBidi(s.id) ? 0 : 1]!.peerMaxStreams;
  }

  /** Keeps `s` aside until the peer's limit covers it. */
  private hold(s: Stream): void {
    if (!this.held!.includes(s)) this.held!.push(s);
  }

  /** The peer's limit was raised: held streams it now covers send what they have. */
  private release(): void {
    const held = this.held!;
    for (let i = 0; i < held.length; ) {
      const s = held[i]!;
      if (!s.removed && this.isHeld(s)) {
        i++;
        continue;
      }
      held.splice(i, 1);
      if (s.removed) continue;
      if (s.send?.hasDataToSend) this.scheduler.push(s);
      this.queueControl(s.id);
    }
    if (held.length === 0 && this.dirs[0].nextLocal <= this.dirs[0].peerMaxStreams && this.dirs[1].nextLocal <= this.dirs[1].peerMaxStreams) this.held = null;
  }

  private queueControl(id: number): void {
    const s = this.streams.get(id);
    if (s === undefined || s.ctlQueued) return;
    s.ctlQueued = true;
    this.ctlQueue.push(s);
  }

  /** One due control frame of stream `s`, or null when it has none left. */
  private streamControl(s: Stream, now: number, srtt: number): StreamControlFrame | null {
    const send = s.send;
    const recv = s.recv;
    if (send !== null && send.resetDue) {
      const r = send.takeReset();
      if (r !== null) return { kind: 'reset_stream', streamId: s.id, code: r.code, finalSize: r.finalSize };
    }
    if (recv !== null && recv.stopSendingDue) {
      const code = recv.takeStopSending();
      if (code !== undefined) return { kind: 'stop_sending', streamId: s.id, code };
    }
    if (recv !== null && recv.maxStreamDataDue) {
      const maximum = recv.takeMaxStreamData(now, srtt);
      if (maximum >= 0) return { kind: 'max_stream_data', streamId: s.id, maximum };
    }
    if (send !== null && send.blockedDue) {
      const limit = send.takeBlocked();
      if (limit >= 0) return { kind: 'stream_data_blocked', streamId: s.id, limit };
    }
    return null;
  }

  /**
   * Removes a stream whose parts are all terminal, so memory does not grow with the number of
   * streams ever opened; a closed peer stream frees MAX_STREAMS credit (RFC 9000 §4.6), announced
   * when an eighth of the concurrency limit (at least one stream) was freed since the last update.
   */
  private maybeRemove(id: number): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    if ((s.send !== null && !s.send.isTerminal) || (s.recv !== null && !s.recv.isTerminal)) return;
    this.streams.delete(id);
    s.removed = true;
    if (s.queuedAt !== null) this.scheduler.remove(s);
    this.sink.push({ type: 'streamClosed', id });
    if (isLocallyInitiated(id, this.role)) return;
    const d = isBidi(id) ? 0 : 1;
    this.dirs[d]!.peerClosed!++;
    const target = Math.min(MAX_STREAMS_LIMIT, this.dirs[d]!.peerClosed! + this.concurrency(d));
    const step = Math.max(1, Math.floor(this.concurrency(d) / 8));
    if (target - this.dirs[d]!.localMaxStreams >= step) this.dirs[d]!.maxStreamsPending = true;
  }
}

/** STREAM_STATE_ERROR for a frame about stream `id` (a function, not a closure per frame). */
function streamStateError(id: number, why: string, frameType: number): TransportError {
  return new TransportError(TransportErrorCode.STREAM_STATE_ERROR, `stream ${id}: ${why}`, frameType);
}

/** The stream-count state of one direction (bidi or uni). */
class DirState {
  nextLocal = 0;
  peerMaxStreams = 0;
  streamsBlockedAt = -1;
  streamsBlockedPending = false;
  /** open() returned blocked since the last raise: announce 'streams-available'. */
  openWaiting = false;
  nextPeer = 0;
  peerClosed = 0;
  localMaxStreams: number;
  localMaxStreamsAcked = 0;
  maxStreamsPending = false;

  constructor(localMaxStreams: number) {
    this.localMaxStreams = localMaxStreams;
  }
}

/** Whether `l` sets every stream limit (then it needs no defaults). */
function hasEveryLimit(l: Partial<StreamLimits>): l is StreamLimits {
  for (const k of Object.keys(DEFAULT_STREAM_LIMITS) as Array<keyof StreamLimits>) if (l[k] === undefined) return false;
  return true;
}
