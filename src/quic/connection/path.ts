import { createController, type CongestionController } from '../congestion/controller.js';
import type { SentPacketInfo } from '../congestion/controller.js';
import { MIN_DATAGRAM_SIZE } from '../packet/size.js';
import { Pacer } from '../recovery/pacer.js';
import { RttEstimator } from '../recovery/rtt.js';
import type { TransportConfig } from '../transport-config.js';
import { MtuDiscovery } from './mtu.js';

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
  private readonly congestionLost: SentPacketInfo[] = [];

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
   * toward black-hole detection (mtu.ts).
   */
  onPacketsLost(now: number, packets: readonly RecoveredPacket[], persistentCongestion: boolean): void {
    const congestion = this.congestionLost;
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
  /**
   * Where it leads. Changes only during the handshake (PathSet): the address the driver first
   * names, or the latest address a client's first flight came from.
   */
  address: string;
  /** RFC 9000 §8: the address is validated (no anti-amplification limit). */
  validated: boolean;
  /** Anti-amplification (RFC 9000 §8.1, §9.3.1): bytes received from / sent to it while unvalidated. */
  received = 0;
  sent = 0;
  /** Sequence of the peer CID used toward it. */
  cidSeq: number;
  /**
   * Its congestion control, RTT, pacing and MTU; undefined until the path holds a packet that
   * opened (`PathSet.adopt`): a forged datagram leaves no state behind.
   */
  recovery: PathRecovery | undefined;
  /** Data of every PATH_CHALLENGE of the running validation (a response to any of them validates). */
  readonly challenges: Uint8Array[] = [];
  /** A PATH_CHALLENGE is to be sent at the next transmit. */
  challengePending = false;
  /** When the next PATH_CHALLENGE is due, and when validation is abandoned (Infinity: none running). */
  nextChallengeAt = Number.POSITIVE_INFINITY;
  deadline = Number.POSITIVE_INFINITY;
  attempts = 0;
  /** The running validation only checks reachability (the fallback probe of §9.3.3). */
  probeOnly = false;
  /** A challenge went out under 1200 bytes: after validation, one more in a full datagram (§8.2.1). */
  mtuUnverified = false;
  /** PATH_RESPONSE data owed on this path (§8.2.2). */
  readonly responses: Uint8Array[] = [];

  constructor(address: string, validated: boolean, cidSeq: number, recovery: PathRecovery | undefined) {
    this.address = address;
    this.validated = validated;
    this.cidSeq = cidSeq;
    this.recovery = recovery;
  }

  get validating(): boolean {
    return this.deadline !== Number.POSITIVE_INFINITY;
  }

  /** Bytes that may still be sent to it (Infinity once validated). */
  get budget(): number {
    return this.validated ? Number.POSITIVE_INFINITY : 3 * this.received - this.sent;
  }

  /** A datagram of `size` bytes arrived from it. */
  onReceived(size: number): void {
    if (!this.validated) this.received += size;
  }

  /** A datagram of `size` bytes was sent to it. */
  onSent(size: number): void {
    if (!this.validated) this.sent += size;
  }

  /** Whether a path datagram (challenge or responses) is owed. */
  get hasPathFrames(): boolean {
    return this.challengePending || this.responses.length > 0;
  }

  stopValidation(): void {
    this.challenges.length = 0;
    this.challengePending = false;
    this.nextChallengeAt = Number.POSITIVE_INFINITY;
    this.deadline = Number.POSITIVE_INFINITY;
    this.attempts = 0;
    this.probeOnly = false;
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
