import { protocolViolation } from '../errors.js';
import { RangeSet } from '../range-set.js';
import { DEFAULT_MAX_ACK_DELAY, K_PACKET_THRESHOLD } from './constants.js';
import { PACKET_SPACES, PacketSpace } from '../packet/space.js';
import type { RttEstimator } from './rtt.js';
import { SentPacketQueue } from './sent-packets.js';
import type { SentPacket } from './sent-packets.js';

/**
 * Loss detection and the loss detection / PTO timer, RFC 9002 §6 and Appendix A, for the three
 * packet number spaces of one connection. Deterministic: every time is an argument (ms).
 *
 * RTT: the detector owns no estimator. Every call that needs one takes `rtt`, the estimator of the
 * path packets are sent on now: its PTO and loss delay govern the timer. An RTT sample goes to
 * the estimator of the path the acknowledged packet left on (`SentPacket.pathRtt`, falling back
 * to `rtt`): RFC 9000 §9.4, "packets sent on the old path MUST NOT contribute to ... RTT
 * estimation for the new path".
 *
 * Bytes in flight: the congestion controller owns the authoritative count it checks cwnd
 * against (RFC 9002 Appendix B layout: it is told of sends, acks, losses and discards). This
 * detector keeps its own per-space count too (`bytesInFlight`), needed to report what a discarded
 * space removes; the two must agree, which a debug build of the connection can assert.
 *
 * The connection's duties:
 * - `onPacketSent` for every packet (ACK-only ones too, with inFlight = false);
 * - `onAckReceived` for every ACK frame, then hand `newlyAcked`/`lost` to the controller and
 *   `persistentCongestion` to `controller.onPersistentCongestion` and the path's
 *   `RttEstimator.onPersistentCongestion` (§5.2);
 * - keep the inputs current: `onHandshakeConfirmed`, `onHandshakeKeys` (client),
 *   `setAmplificationBlocked`, `setMaxAckDelay` (each rearms the timer);
 * - arm its timer at `timeout` and call `onLossTimeout(now)` when it fires;
 * - `discardSpace` when Initial/Handshake keys are dropped.
 *
 * Persistent congestion (§7.6.2) is judged within the space that was acknowledged (allowed by
 * §7.6.2 "MAY use state for just the packet number space that was acknowledged").
 */
export interface LossDetectorOptions {
  /** Servers never need the client anti-deadlock PTO (Appendix A.6). */
  readonly isServer: boolean;
  /** The PEER's max_ack_delay in ms (RFC 9000 §18.2). Default 25; update from its parameters. */
  readonly maxAckDelay?: number;
}

/** Result of `onAckReceived`. The object and its arrays are REUSED by the next call. */
export interface AckResult<T> {
  /** Newly acknowledged packets, ascending packet numbers. */
  readonly newlyAcked: SentPacket<T>[];
  /** Packets declared lost by this ACK, ascending packet numbers. */
  readonly lost: SentPacket<T>[];
  /**
   * Packets declared lost EARLIER that this ACK acknowledges after all (a spurious loss: reordering,
   * or an ACK that came late). Their frames reached the peer: the caller tells the frames' owners
   * (a stream then counts those bytes as received rather than waiting for the copy it re-sent).
   * They left flight when declared lost, so congestion and RTT ignore them.
   */
  readonly lateAcked: SentPacket<T>[];
  /** An RTT sample was taken (RFC 9002 §5.1). */
  rttUpdated: boolean;
  /** The losses establish persistent congestion (RFC 9002 §7.6.2). */
  persistentCongestion: boolean;
}

/** What the loss detection timer asked for. */
export type LossTimeoutResult<T> =
  /** Called early or with no timer armed: nothing to do. */
  | { readonly kind: 'none' }
  /** Time threshold losses in `space` (RFC 9002 §6.1.2). */
  | {
      readonly kind: 'loss';
      readonly space: PacketSpace;
      readonly lost: SentPacket<T>[];
      readonly persistentCongestion: boolean;
    }
  /**
   * PTO (RFC 9002 §6.2.4): send up to `probes` ack-eliciting packets in `space` (the content is the
   * connection's choice: new data, else retransmitted data, else PING; probes bypass cwnd). With
   * `antiDeadlock` (client, §6.2.2.1): one Handshake packet, or an Initial in a datagram of at
   * least 1200 bytes when `space` is Initial.
   */
  | { readonly kind: 'pto'; readonly space: PacketSpace; readonly probes: 1 | 2; readonly antiDeadlock: boolean };

const NONE = Object.freeze({ kind: 'none' as const });

export class LossDetector<T> {
  private pto = 0;
  private peerMaxAckDelay: number;
  private confirmed = false;
  private handshakeKeys = false;
  private blocked = false;
  private peerValidated: boolean;
  private readonly spaces: SentSpace<T>[];
  private timer = Number.POSITIVE_INFINITY;
  // +Infinity before the first sample: no packet counts toward persistent congestion (§7.6.2).
  private firstRttSample = Number.POSITIVE_INFINITY;
  private ackElicitingInFlightTotal = 0;
  private readonly result: AckResult<T> = { newlyAcked: [], lost: [], lateAcked: [], rttUpdated: false, persistentCongestion: false };
  // Output of ptoTimeAndSpace (avoids allocating a pair).
  private ptoSpace: PacketSpace = PacketSpace.Initial;

  constructor(options: LossDetectorOptions) {
    this.peerMaxAckDelay = options.maxAckDelay ?? DEFAULT_MAX_ACK_DELAY;
    this.peerValidated = options.isServer;
    this.spaces = PACKET_SPACES.map(() => new SentSpace<T>());
  }

  /** pto_count: consecutive PTO expirations without an acknowledgment (§6.2.1). */
  get ptoCount(): number {
    return this.pto;
  }

  /** The peer's max_ack_delay, ms (RFC 9000 §18.2). */
  get maxAckDelay(): number {
    return this.peerMaxAckDelay;
  }

  /** RFC 9001 §4.1.2 (set by `onHandshakeConfirmed`). */
  get handshakeConfirmed(): boolean {
    return this.confirmed;
  }

  /** Client: Handshake keys are installed (the anti-deadlock probe space, Appendix A.9). */
  get hasHandshakeKeys(): boolean {
    return this.handshakeKeys;
  }

  /** The anti-amplification limit stops sending on the current path: no PTO is armed (§6.2.2.1). */
  get amplificationBlocked(): boolean {
    return this.blocked;
  }

  /**
   * Appendix A.6 PeerCompletedAddressValidation(): always true for a server; for a client, true
   * once a Handshake ACK was received or the handshake is confirmed.
   */
  get peerCompletedAddressValidation(): boolean {
    return this.peerValidated;
  }

  /** The peer's transport parameters arrived with its max_ack_delay (ms). */
  setMaxAckDelay(ms: number, now: number, rtt: RttEstimator): void {
    this.peerMaxAckDelay = ms;
    this.setTimer(now, rtt);
  }

  /** Client: Handshake keys are installed; an anti-deadlock probe now goes in a Handshake packet. */
  onHandshakeKeys(now: number, rtt: RttEstimator): void {
    this.handshakeKeys = true;
    this.setTimer(now, rtt);
  }

  /**
   * Whether the anti-amplification limit of the current path stops us from sending (RFC 9002
   * §6.2.2.1: no PTO armed meanwhile; Appendix A.6: rearmed when a datagram unblocks us).
   */
  setAmplificationBlocked(blocked: boolean, now: number, rtt: RttEstimator): void {
    if (blocked === this.blocked) return;
    this.blocked = blocked;
    this.setTimer(now, rtt);
  }

  /** When the loss detection timer fires: Infinity when not armed. May lie in the past. */
  get timeout(): number {
    return this.timer;
  }

  /** Sum of in-flight bytes over the spaces (mirror of the controller's count). */
  get bytesInFlight(): number {
    let n = 0;
    for (const s of this.spaces) n += s.bytesInFlight;
    return n;
  }

  /** Time of the first RTT sample, Infinity before it (Appendix A.3 first_rtt_sample). */
  get firstRttSampleTime(): number {
    return this.firstRttSample;
  }

  bytesInFlightIn(space: PacketSpace): number {
    return this.state(space).bytesInFlight;
  }

  /** RFC 9002 §6.2.4: also probe spaces with ack-eliciting data in flight. */
  hasAckElicitingInFlight(space: PacketSpace): boolean {
    return this.state(space).ackElicitingInFlight > 0;
  }

  /** Packets neither acknowledged nor lost in `space`. */
  outstanding(space: PacketSpace): number {
    return this.state(space).sent.count;
  }

  /** largest_acked_packet, -1 before any ACK. */
  largestAcked(space: PacketSpace): number {
    return this.state(space).largestAcked;
  }

  /** Largest packet number sent, -1 before any. */
  largestSent(space: PacketSpace): number {
    return this.state(space).sent.largestSent;
  }

  /** loss_time of `space`, Infinity when unset. */
  lossTime(space: PacketSpace): number {
    return this.state(space).lossTime;
  }

  /**
   * RFC 9002 Appendix A.5 OnPacketSent. Packet numbers must increase within a space; numbers left
   * out (skipped on purpose, RFC 9000 §21.4) are remembered so an ACK of them is refused.
   */
  onPacketSent(space: PacketSpace, packet: SentPacket<T>, rtt: RttEstimator): void {
    const st = this.state(space);
    if (st.discarded) throw new Error(`packet sent in discarded space ${space}`);
    const next = st.sent.largestSent + 1;
    if (packet.pn > next) (st.skipped ??= new RangeSet(32)).insert(next, packet.pn);
    st.sent.push(packet);
    if (!packet.inFlight) return;
    st.bytesInFlight += packet.size;
    if (packet.ackEliciting) {
      st.timeOfLastAckEliciting = packet.timeSent;
      st.ackElicitingInFlight++;
      this.ackElicitingInFlightTotal++;
    }
    this.setTimer(packet.timeSent, rtt);
  }

  /**
   * RFC 9002 Appendix A.7 OnAckReceived for one ACK frame.
   *
   * @param ranges     flat pairs, largest first: [largest0, smallest0, largest1, smallest1, ...]
   *                   (the frames module's `AckFrame.ranges`)
   * @param ackDelayMs the decoded ACK Delay (field * 2^peer's ack_delay_exponent / 1000)
   * @throws TransportError PROTOCOL_VIOLATION when a range covers a packet number never sent
   *         (RFC 9000 §13.1), checked before any state changes.
   */
  onAckReceived(space: PacketSpace, ranges: readonly number[], ackDelayMs: number, now: number, rtt: RttEstimator): AckResult<T> {
    const st = this.state(space);
    const r = this.result;
    r.newlyAcked.length = 0;
    r.lost.length = 0;
    r.lateAcked.length = 0;
    r.rttUpdated = false;
    r.persistentCongestion = false;
    // Keys discarded: nothing of it is outstanding, and DISCARDED_SPACE must stay untouched.
    if (ranges.length < 2 || st.discarded) return r;
    const largest = ranges[0]!;
    if (largest > st.sent.largestSent) throw protocolViolation(`ACK of unsent packet ${largest}`, 0x02);
    const skipped = st.skipped;
    if (skipped !== undefined && !skipped.isEmpty) {
      for (let k = 0; k + 1 < ranges.length; k += 2) {
        if (intersects(skipped, ranges[k + 1]!, ranges[k]!)) throw protocolViolation('ACK of a skipped packet number', 0x02);
      }
    }
    if (space === PacketSpace.Handshake) this.peerValidated = true;
    if (largest > st.largestAcked) st.largestAcked = largest;

    // DetectAndRemoveAckedPackets, smallest range first so `newlyAcked` ascends.
    const q = st.sent;
    let ackElicitingAcked = false;
    for (let k = ranges.length - 2; k >= 0; k -= 2) {
      const hi = ranges[k]!;
      for (let i = q.lowerBound(ranges[k + 1]!); i < q.end && q.pnAt(i) <= hi; i++) {
        if (q.at(i) === undefined) continue;
        const p = q.remove(i);
        this.onLeftFlight(st, p);
        if (p.ackEliciting) ackElicitingAcked = true;
        r.newlyAcked.push(p);
      }
    }
    if (st.recentlyLost !== undefined) takeLateAcked(st, ranges, now - RECENTLY_LOST_PTOS * rtt.pto(space, this.peerMaxAckDelay), r.lateAcked);
    const n = r.newlyAcked.length;
    if (n === 0) {
      q.compact();
      return r;
    }
    // RFC 9002 §5.1: sample only if the largest is newly acked and something ack-eliciting was.
    const newest = r.newlyAcked[n - 1]!;
    if (newest.pn === largest && ackElicitingAcked) {
      const target = newest.pathRtt ?? rtt;
      if (this.firstRttSample === Number.POSITIVE_INFINITY) this.firstRttSample = now;
      // RFC 9002 §5.3: the ack delay of Initial ACKs MAY be ignored (they are never delayed).
      const ackDelay = space === PacketSpace.Initial ? 0 : ackDelayMs;
      target.update(now - newest.timeSent, ackDelay, this.confirmed, this.peerMaxAckDelay);
      r.rttUpdated = true;
    }
    r.persistentCongestion = this.detectAndRemoveLost(st, now, r.lost, rtt);
    q.compact();
    // RFC 9002 §6.2.1: a client unsure of address validation keeps its backoff.
    if (this.peerValidated) this.pto = 0;
    this.setTimer(now, rtt);
    return r;
  }

  /**
   * RFC 9002 Appendix A.9 OnLossDetectionTimeout. Call when `timeout` has passed; an early call
   * returns `none`. A PTO increments `ptoCount`; the probes then sent go through `onPacketSent`.
   */
  onLossTimeout(now: number, rtt: RttEstimator): LossTimeoutResult<T> {
    if (now < this.timer) return NONE;
    let lossSpace: PacketSpace = PacketSpace.Initial;
    let lossTime = Number.POSITIVE_INFINITY;
    for (const space of PACKET_SPACES) {
      const t = this.spaces[space]!.lossTime;
      if (t < lossTime) {
        lossTime = t;
        lossSpace = space;
      }
    }
    if (lossTime !== Number.POSITIVE_INFINITY) {
      // Time threshold loss detection.
      const st = this.spaces[lossSpace]!;
      const lost: SentPacket<T>[] = [];
      const persistentCongestion = this.detectAndRemoveLost(st, now, lost, rtt);
      st.sent.compact();
      this.setTimer(now, rtt);
      return { kind: 'loss', space: lossSpace, lost, persistentCongestion };
    }
    let result: LossTimeoutResult<T>;
    if (this.ackElicitingInFlightTotal === 0) {
      // RFC 9002 §6.2.2.1: client anti-deadlock probe (the timer is only armed for it when the
      // peer has not completed address validation).
      const space = this.handshakeKeys ? PacketSpace.Handshake : PacketSpace.Initial;
      result = { kind: 'pto', space, probes: 1, antiDeadlock: true };
    } else {
      this.ptoTimeAndSpace(now, rtt);
      result = { kind: 'pto', space: this.ptoSpace, probes: 2, antiDeadlock: false };
    }
    this.pto++;
    this.setTimer(now, rtt);
    return result;
  }

  /**
   * RFC 9002 §6.4 / Appendix A.11: keys of `space` are discarded. Its packets leave flight (the
   * returned bytes must be removed from the controller: `onPacketsDiscarded`), its loss time
   * and PTO state reset, pto_count = 0. Later packets in the space are refused.
   */
  discardSpace(space: PacketSpace, now: number, rtt: RttEstimator): number {
    if (this.state(space).discarded) return 0;
    const bytes = this.forgetSent(space);
    // The space's own record goes (an idle connection kept two, ~0.2 KB each with their queues,
    // [perf2]): every discarded space shares one, which nothing writes (onPacketSent refuses it,
    // onAckReceived returns before its first write, its loss time stays +Infinity).
    this.spaces[space] = DISCARDED_SPACE as SentSpace<T>;
    this.pto = 0;
    this.setTimer(now, rtt);
    return bytes;
  }

  /**
   * The PTO backoff starts over (pto_count = 0) without an acknowledgment, and the timer is set
   * again from the last ack-eliciting packet sent: a PTO already past its base period fires at
   * once. Multipath: another path failed, and the peer may have been sending this path's
   * acknowledgments there (iroh acknowledges every path on the one it selected), so this path's
   * silence says nothing of it. Without the restart, a backed-off PTO (seconds) held back the
   * PATH_ABANDON that moves the peer's acknowledgments off the dead path.
   */
  restartPtoBackoff(now: number, rtt: RttEstimator): void {
    if (this.pto === 0) return;
    this.pto = 0;
    this.setTimer(now, rtt);
  }

  /**
   * RFC 9002 §6.3: a client that receives a Retry resets loss recovery: the Initial packets sent
   * so far are forgotten (neither acknowledged nor lost: the caller re-queues their content), and
   * the PTO backoff starts over; `rtt` must have been reset by the caller (its path owns it).
   * Unlike a discard, the space stays usable and its packet numbers continue (RFC 9000
   * §17.2.5.3). Returns the bytes that left flight.
   */
  resetForRetry(now: number, rtt: RttEstimator): number {
    const bytes = this.forgetSent(PacketSpace.Initial);
    this.firstRttSample = Number.POSITIVE_INFINITY;
    this.pto = 0;
    this.setTimer(now, rtt);
    return bytes;
  }

  /**
   * RFC 9002 §6.4: 0-RTT was rejected: the packets sent in `space` so far (all 0-RTT) leave
   * flight, neither acknowledged nor lost (the caller rewinds what they carried). The space stays
   * usable and its packet numbers continue. Returns the bytes that left flight.
   */
  forgetSpace(space: PacketSpace, now: number, rtt: RttEstimator): number {
    const bytes = this.forgetSent(space);
    this.pto = 0;
    this.setTimer(now, rtt);
    return bytes;
  }

  /**
   * Every outstanding packet of `space` is declared lost at once (multipath: its path was
   * abandoned or failed, draft-ietf-quic-multipath §3.4: the caller re-queues their frames for
   * another path); the timers of the space stop. Returns the packets, ascending (a new array).
   */
  declareAllLost(space: PacketSpace, now: number, rtt: RttEstimator): SentPacket<T>[] {
    const st = this.state(space);
    const q = st.sent;
    const lost: SentPacket<T>[] = [];
    for (let i = q.start; i < q.end; i++) {
      if (q.at(i) === undefined) continue;
      const p = q.remove(i);
      this.onLeftFlight(st, p);
      lost.push(p);
      rememberLost(st, p);
    }
    q.compact();
    st.lossTime = Number.POSITIVE_INFINITY;
    this.setTimer(now, rtt);
    return lost;
  }

  /** RFC 9001 §4.1.2: the handshake is confirmed; Application PTOs may now be armed. */
  onHandshakeConfirmed(now: number, rtt: RttEstimator): void {
    this.confirmed = true;
    this.peerValidated = true;
    this.setTimer(now, rtt);
  }

  /**
   * Recomputes the timer when something it depends on changed outside this detector: the current
   * path (another RTT estimator: RFC 9000 §9.4), or its RTT. If the timer is then in the past,
   * call `onLossTimeout` at once (Appendix A.6).
   */
  rearm(now: number, rtt: RttEstimator): void {
    this.setTimer(now, rtt);
  }

  /**
   * The caller is done with `onAckReceived`'s result: its arrays let go of the packets, so an
   * idle connection does not keep its last acknowledged packets (and their frames) alive.
   */
  releaseAckResult(): void {
    this.result.newlyAcked.length = 0;
    this.result.lost.length = 0;
    this.result.lateAcked.length = 0;
  }

  private state(space: PacketSpace): SentSpace<T> {
    const st = this.spaces[space];
    if (st === undefined) throw new RangeError(`bad packet number space ${space}`);
    return st;
  }

  /** Drops every outstanding packet of `space` (keeping its packet number sequence); returns their in-flight bytes. */
  private forgetSent(space: PacketSpace): number {
    const st = this.state(space);
    const bytes = st.bytesInFlight;
    this.ackElicitingInFlightTotal -= st.ackElicitingInFlight;
    st.sent.clear();
    st.bytesInFlight = 0;
    st.ackElicitingInFlight = 0;
    st.lossTime = Number.POSITIVE_INFINITY;
    st.timeOfLastAckEliciting = 0;
    st.recentlyLost = undefined;
    return bytes;
  }

  private onLeftFlight(st: SentSpace<T>, p: SentPacket<T>): void {
    if (!p.inFlight) return;
    st.bytesInFlight -= p.size;
    if (p.ackEliciting) {
      st.ackElicitingInFlight--;
      this.ackElicitingInFlightTotal--;
    }
  }

  /**
   * RFC 9002 Appendix A.10 DetectAndRemoveLostPackets, plus §7.6.2 persistent congestion over the
   * packets lost now: a run of CONSECUTIVELY SENT packets (no packet in between acknowledged,
   * still outstanding or lost earlier) whose ack-eliciting members sent after the first RTT
   * sample span more than the persistent congestion duration. Returns that verdict.
   */
  private detectAndRemoveLost(st: SentSpace<T>, now: number, lost: SentPacket<T>[], rtt: RttEstimator): boolean {
    st.lossTime = Number.POSITIVE_INFINITY;
    const largestAcked = st.largestAcked;
    if (largestAcked < 0) return false;
    const lossDelay = rtt.lossDelay();
    const pcDuration = rtt.persistentCongestionDuration(this.peerMaxAckDelay);
    const q = st.sent;
    let persistent = false;
    let prevLost = -2;
    let runStart = Number.NaN;
    for (let i = q.start; i < q.end; i++) {
      if (q.pnAt(i) > largestAcked) break;
      const p = q.at(i);
      if (p === undefined) continue;
      // Appendix A.10 compares time_sent <= now - loss_delay; the same sum that sets loss_time
      // is compared here instead, so a timer armed at that sum always finds the packet lost
      // (with now - loss_delay, rounding can leave it just short and the timer firing forever).
      const lostAt = p.timeSent + lossDelay;
      if (lostAt <= now || largestAcked >= p.pn + K_PACKET_THRESHOLD) {
        q.remove(i);
        this.onLeftFlight(st, p);
        lost.push(p);
        rememberLost(st, p);
        if (i !== prevLost + 1) runStart = Number.NaN;
        prevLost = i;
        if (p.ackEliciting && p.timeSent > this.firstRttSample) {
          if (Number.isNaN(runStart)) runStart = p.timeSent;
          else if (p.timeSent - runStart > pcDuration) persistent = true;
        }
      } else if (lostAt < st.lossTime) {
        st.lossTime = lostAt;
      }
    }
    return persistent;
  }

  /** RFC 9002 Appendix A.8 SetLossDetectionTimer. */
  private setTimer(now: number, rtt: RttEstimator): void {
    let earliestLoss = Number.POSITIVE_INFINITY;
    // Indexed loops here: this runs for every packet sent.
    const spaces = this.spaces;
    for (let i = 0; i < spaces.length; i++) if (spaces[i]!.lossTime < earliestLoss) earliestLoss = spaces[i]!.lossTime;
    if (earliestLoss !== Number.POSITIVE_INFINITY) {
      this.timer = earliestLoss; // time threshold loss detection
      return;
    }
    if (this.blocked) {
      this.timer = Number.POSITIVE_INFINITY; // the server could not send a probe anyway
      return;
    }
    if (this.ackElicitingInFlightTotal === 0 && this.peerValidated) {
      this.timer = Number.POSITIVE_INFINITY; // nothing to detect lost
      return;
    }
    this.timer = this.ptoTimeAndSpace(now, rtt);
  }

  /** RFC 9002 Appendix A.8 GetPtoTimeAndSpace: returns the time, leaves the space in ptoSpace. */
  private ptoTimeAndSpace(now: number, rtt: RttEstimator): number {
    const backoff = 2 ** this.pto;
    if (this.ackElicitingInFlightTotal === 0) {
      // Anti-deadlock PTO (§6.2.2.1): counted from now.
      this.ptoSpace = this.handshakeKeys ? PacketSpace.Handshake : PacketSpace.Initial;
      return now + rtt.pto(this.ptoSpace, 0) * backoff;
    }
    let best = Number.POSITIVE_INFINITY;
    this.ptoSpace = PacketSpace.Initial;
    for (let i = 0; i < PACKET_SPACES.length; i++) {
      const space = PACKET_SPACES[i]!;
      const st = this.spaces[space]!;
      if (st.ackElicitingInFlight === 0) continue;
      // RFC 9002 §6.2.1: no Application PTO before the handshake is confirmed.
      if (space === PacketSpace.Application && !this.confirmed) break;
      const t = st.timeOfLastAckEliciting + rtt.pto(space, this.peerMaxAckDelay) * backoff;
      if (t < best) {
        best = t;
        this.ptoSpace = space;
      }
    }
    return best;
  }
}

/** The sent packets of one packet number space and their loss state (RFC 9002 Appendix A.1-A.3). */
class SentSpace<T> {
  readonly sent = new SentPacketQueue<T>();
  /**
   * Packet numbers we skipped; an ACK covering one is a PROTOCOL_VIOLATION (RFC 9000 §13.1).
   * Made by the first skip ([perf2]: most spaces never skip one, and an idle connection kept three).
   */
  skipped: RangeSet | undefined;
  /**
   * The last packets declared lost (at most RECENTLY_LOST, ascending by when they were declared),
   * so that an ACK arriving for one later still credits its frames (`AckResult.lateAcked`). Made
   * by the first loss; emptied as ACKs come and entries age past RECENTLY_LOST_PTOS PTOs.
   */
  recentlyLost: SentPacket<T>[] | undefined;
  largestAcked = -1;
  lossTime = Number.POSITIVE_INFINITY;
  timeOfLastAckEliciting = 0;
  ackElicitingInFlight = 0;
  bytesInFlight = 0;
  discarded = false;
}

/** What every discarded space of every connection is: empty, its loss time +Infinity, never written. */
const DISCARDED_SPACE = new SentSpace<unknown>();
DISCARDED_SPACE.discarded = true;

/** Lost packets remembered per space for a late ACK (a window's worth of a burst is not needed: a late ACK is rare). */
const RECENTLY_LOST = 64;
/** How long a lost packet is remembered, in PTO periods from when it was sent. */
const RECENTLY_LOST_PTOS = 3;

function rememberLost<T>(st: SentSpace<T>, p: SentPacket<T>): void {
  if (!p.ackEliciting) return; // nothing in it needs crediting
  const list = (st.recentlyLost ??= []);
  if (list.length >= RECENTLY_LOST) list.shift();
  list.push(p);
}

/**
 * Moves the remembered lost packets that `ranges` acknowledge to `out`, and forgets those sent
 * before `oldest` (their copies were re-sent long ago).
 */
function takeLateAcked<T>(st: SentSpace<T>, ranges: readonly number[], oldest: number, out: SentPacket<T>[]): void {
  const list = st.recentlyLost!;
  let kept = 0;
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (covers(ranges, p.pn)) out.push(p);
    else if (p.timeSent >= oldest) list[kept++] = p;
  }
  list.length = kept;
  if (kept === 0) st.recentlyLost = undefined;
}

/** Whether the ACK ranges (flat pairs, largest first) hold `pn`. */
function covers(ranges: readonly number[], pn: number): boolean {
  for (let k = 0; k + 1 < ranges.length; k += 2) if (pn <= ranges[k]! && pn >= ranges[k + 1]!) return true;
  return false;
}

/** True when the set holds a value in [lo, hi] (inclusive). */
function intersects(set: RangeSet, lo: number, hi: number): boolean {
  for (let i = set.size - 1; i >= 0 && set.endAt(i) > lo; i--) {
    if (set.startAt(i) <= hi) return true;
  }
  return false;
}
