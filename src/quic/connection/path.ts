import { createController, type CongestionController } from '../congestion/controller.js';
import type { SentPacketInfo } from '../congestion/controller.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import { Pacer } from '../recovery/pacer.js';
import { RttEstimator } from '../recovery/rtt.js';
import type { TransportConfig } from '../transport-config.js';
import type { Random } from '../../tls/random.js';
import { MtuDiscovery } from './mtu.js';

/** The packets of one loss event that count as congestion (`PathRecovery.onPacketsLost`). */
const CONGESTION_LOST: SentPacketInfo[] = [];

/**
 * One network path toward the peer and what we know of it.
 *
 * `PathRecovery` is how fast and how large we may send on a network path (quinn's PathData): its
 * congestion controller, RTT estimator, pacer and path MTU discovery. Every sent packet records
 * the `Path` it left on, and its acknowledgment or loss is credited to that path's recovery state
 * (RFC 9000 §9.4: "packets sent on the old path MUST NOT contribute to congestion control or RTT
 * estimation for the new path").
 *
 * `Path` is one peer address ("ip:port", opaque): its validation state (RFC 9000 §8.2), its
 * anti-amplification counters (§8.1, §9.3.1), the PATH_RESPONSEs owed on it, the peer CID used
 * toward it, and its `PathRecovery`. Two `Path`s share one `PathRecovery` after a change of the
 * peer's port only (a NAT rebinding: the same network path for congestion purposes, which §9.4
 * allows and quinn does); a new IP address gets a fresh one.
 *
 * For multipath (draft-ietf-quic-multipath), each path id gets a `Path` like this one plus its
 * own packet number space; nothing here assumes there is only one path in use.
 */
/** What a path's recovery state reads of a sent packet (the connection's PacketRecord). */
export interface RecoveredPacket extends SentPacketInfo {
  /** A path MTU probe (RFC 8899): its fate says nothing about congestion. */
  readonly mtuProbe: boolean;
}

export class PathRecovery {
  readonly cc: CongestionController;
  readonly rtt: RttEstimator;
  readonly pacer: Pacer | undefined;
  readonly mtu: MtuDiscovery;
  /** Scratch list of one `onPacketsLost` call. */

  constructor(config: TransportConfig) {
    this.cc = createController(config.congestionControl, MIN_DATAGRAM_SIZE);
    this.rtt = new RttEstimator(config.initialRttMs);
    this.pacer = config.pacing ? new Pacer(this.cc.window, config.initialRttMs, MIN_DATAGRAM_SIZE, true) : undefined;
    this.mtu = new MtuDiscovery(config.maxUdpPayloadSize);
  }

  /** Whether the window and the pacer let an ack-eliciting packet of `bytes` go now (RFC 9002 §7, §7.7). */
  canSend(now: number, bytes: number): boolean {
    return this.cc.canSend(bytes) && (this.pacer === undefined || this.pacer.delayUntil(now, bytes) === 0);
  }

  /** An in-flight packet of `size` bytes left on this path. */
  onPacketSent(now: number, size: number, pto: number): void {
    this.cc.onPacketSent(now, size, pto);
    this.pacer?.onPacketSent(now, size);
  }

  /** Newly acknowledged packets sent on this path. */
  onPacketsAcked(now: number, packets: readonly RecoveredPacket[]): void {
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (!p.mtuProbe) this.mtu.onPacketAcked(p.size, p.timeSent);
    }
    this.cc.onPacketsAcked(now, packets, this.rtt);
  }

  /**
   * Packets sent on this path were declared lost. A lost MTU probe says nothing about congestion
   * (RFC 8899 §4.4): only its bytes leave flight; the others are a congestion signal and count
   * toward black-hole detection (`MtuDiscovery`).
   */
  onPacketsLost(now: number, packets: readonly RecoveredPacket[], persistentCongestion: boolean): void {
    // One scratch for every path: filled, handed to the controller (which keeps no reference) and emptied here.
    const congestion = CONGESTION_LOST;
    congestion.length = 0;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (p.mtuProbe) {
        this.cc.onPacketsDiscarded(p.inFlight ? p.size : 0);
      } else {
        congestion.push(p);
        this.mtu.onPacketLost(p.size, p.timeSent);
      }
    }
    if (congestion.length > 0) this.cc.onPacketsLost(now, congestion);
    congestion.length = 0;
    if (persistentCongestion) {
      this.cc.onPersistentCongestion(now);
      this.rtt.onPersistentCongestion(); // RFC 9002 §5.2
    }
    if (this.mtu.detectBlackHole(now)) this.onMtuChanged();
  }

  /** The path MTU changed: the controller and the pacer follow (RFC 9002 §7.2). */
  onMtuChanged(): void {
    this.cc.setMaxDatagramSize(this.mtu.current);
    this.updatePacer();
  }

  /** The window, the RTT or the datagram size changed (after every ACK frame). */
  updatePacer(): void {
    this.pacer?.update(this.cc.window, this.rtt.smoothed, this.mtu.current, this.cc.inSlowStart);
  }
}

/** One peer address we send to or have heard from (our local address never changes). */
export class Path {
  private addr: string;
  private valid: boolean;
  /** Anti-amplification (RFC 9000 §8.1, §9.3.1): bytes received from / sent to it while unvalidated. */
  private received = 0;
  private sent = 0;
  private cid: number;
  private rec: PathRecovery | undefined;
  /** Data of every PATH_CHALLENGE of the running validation (a response to any of them validates). */
  private challenges: Uint8Array[] | undefined;
  private pending = false;
  private nextAt = Number.POSITIVE_INFINITY;
  private until = Number.POSITIVE_INFINITY;
  private attempts = 0;
  private probeOnly = false;
  /** A challenge went out under 1200 bytes: after validation, one more in a full datagram (§8.2.1). */
  private mtuUnverified = false;
  /** PATH_RESPONSE data owed on this path (§8.2.2). */
  private responses: Uint8Array[] | undefined;

  constructor(address: string, validated: boolean, cidSeq: number, recovery: PathRecovery | undefined) {
    this.addr = address;
    this.valid = validated;
    this.cid = cidSeq;
    this.rec = recovery;
  }

  /** Where it leads ("ip:port", opaque). */
  get address(): string {
    return this.addr;
  }

  /**
   * The address changes only during the handshake: the address the driver first names, or the
   * latest address a client's first flight came from (RFC 9000 §9 allows no migration yet).
   */
  readdress(address: string): void {
    this.addr = address;
  }

  /** RFC 9000 §8: the address is validated (no anti-amplification limit). */
  get validated(): boolean {
    return this.valid;
  }

  markValidated(): void {
    this.valid = true;
  }

  /** Sequence of the peer CID used toward it. */
  get cidSeq(): number {
    return this.cid;
  }

  useCid(seq: number): void {
    this.cid = seq;
  }

  /**
   * Its congestion control, RTT, pacing and MTU; undefined until the path holds a packet that
   * opened (`adopt`): a forged datagram leaves no state behind.
   */
  get recovery(): PathRecovery | undefined {
    return this.rec;
  }

  /** The path is kept: it gets `recovery` (a fresh one, or shared after a NAT rebinding), once. */
  adopt(recovery: PathRecovery): void {
    this.rec ??= recovery;
  }

  /** Bytes that may still be sent to it (Infinity once validated). */
  get budget(): number {
    return this.valid ? Number.POSITIVE_INFINITY : 3 * this.received - this.sent;
  }

  /** A datagram of `size` bytes arrived from it. */
  onReceived(size: number): void {
    if (!this.valid) this.received += size;
  }

  /** A datagram of `size` bytes was sent to it. */
  onSent(size: number): void {
    if (!this.valid) this.sent += size;
  }

  // ------------------------------------------------------------------ validation (RFC 9000 §8.2)

  /** A validation is running. */
  get validating(): boolean {
    return this.until !== Number.POSITIVE_INFINITY;
  }

  /** When the running validation is abandoned (Infinity: none). */
  get deadline(): number {
    return this.until;
  }

  /** When the next PATH_CHALLENGE is due (Infinity: none). */
  get nextChallengeAt(): number {
    return this.nextAt;
  }

  /** Starts (or restarts) a validation that ends at `deadline`; `probeOnly`: a reachability check of a validated path. */
  startValidation(deadline: number, probeOnly: boolean): void {
    this.stopValidation();
    this.probeOnly = probeOnly;
    this.pending = true;
    this.until = deadline;
  }

  stopValidation(): void {
    this.challenges = undefined;
    this.pending = false;
    this.nextAt = Number.POSITIVE_INFINITY;
    this.until = Number.POSITIVE_INFINITY;
    this.attempts = 0;
    this.probeOnly = false;
  }

  /**
   * The running validation ended (answered or timed out): what it was, and whether its challenge
   * went out under 1200 bytes (§8.2.1: then the path's MTU is checked again once validated).
   */
  endValidation(): { readonly probeOnly: boolean; readonly mtuUnverified: boolean } {
    const r = { probeOnly: this.probeOnly, mtuUnverified: this.mtuUnverified };
    this.stopValidation();
    this.mtuUnverified = false;
    return r;
  }

  /** The challenge timer fired: the challenge goes out again. */
  onChallengeTimer(): void {
    this.pending = true;
    this.nextAt = Number.POSITIVE_INFINITY;
  }

  /** A PATH_CHALLENGE is owed. */
  get challengePending(): boolean {
    return this.pending;
  }

  /**
   * The data of the PATH_CHALLENGE to send now, recorded as sent. `fullSize`: its datagram is
   * 1200 bytes (else the MTU is re-checked after validation, §8.2.1).
   */
  takeChallenge(now: number, pto: number, fullSize: boolean, random: Random): Uint8Array {
    // §8.2.1: unpredictable data, drawn once per validation; a retransmission (after a PTO)
    // repeats it, so a challenge lost on the way is answered once its copy arrives (the interop
    // runner's rebind check wants every challenge value answered; quinn repeats it the same way).
    const c = (this.challenges ??= []);
    const last = c[c.length - 1];
    const data = last ?? random.fill(new Uint8Array(8));
    if (last === undefined) c.push(data);
    this.pending = false;
    // §8.2.1 "no more frequently than it would send an Initial": again after a PTO, backed off,
    // until the validation's deadline. That holds for the old path's check (§9.3.3) too: one lost
    // probe would otherwise leave it unanswered (the interop runner's rebind check fails on that);
    // after a real NAT rebinding nobody answers there, and the deadline bounds the cost to a few
    // datagrams.
    this.nextAt = now + pto * 2 ** this.attempts;
    this.attempts++;
    this.mtuUnverified = !fullSize;
    return data;
  }

  /** Whether a PATH_RESPONSE's data echoes one of this validation's challenges (§8.2.3). */
  answers(data: Uint8Array): boolean {
    return this.challenges?.some((d) => equal8(d, data)) ?? false;
  }

  // ------------------------------------------------------------------ responses (RFC 9000 §8.2.2)

  /** Queues a PATH_RESPONSE with `data`, at most `max` at a time; false when full. */
  queueResponse(data: Uint8Array, max: number): boolean {
    if (this.responsesOwed >= max) return false;
    (this.responses ??= []).push(data.slice());
    return true;
  }

  /** The oldest PATH_RESPONSE data owed, taken. */
  takeResponse(): Uint8Array | undefined {
    return this.responses?.shift();
  }

  /** PATH_RESPONSEs owed. */
  get responsesOwed(): number {
    return this.responses?.length ?? 0;
  }

  /** Whether a path datagram (challenge or responses) is owed. */
  get hasPathFrames(): boolean {
    return this.pending || this.responsesOwed > 0;
  }
}

/** True when both addresses have the same IP (only the port differs). */
export function samePeerHost(a: string, b: string): boolean {
  return hostOf(a) === hostOf(b);
}

function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.slice(0, i);
}

function equal8(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
