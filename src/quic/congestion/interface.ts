/**
 * The congestion controller interface the connection uses (RFC 9002 §7 and Appendix B) and the
 * types it exchanges. One controller per path.
 *
 * These live apart from `createController` because the implementations import them and the
 * factory imports the implementations: one module holding both would make every controller and
 * the factory import each other.
 *
 * Bytes in flight live HERE (the Appendix B layout): the connection reports every in-flight
 * send (`onPacketSent`), the packets the loss detector found acknowledged or lost, and the bytes
 * of a discarded space (`onPacketsDiscarded`). Packets with `inFlight` false are ignored.
 *
 * Order after an ACK frame: `onPacketsLost(now, lost)` (the congestion event), then
 * `onPersistentCongestion(now)` if the detector said so, then `onPacketsAcked(now, acked, rtt)`
 * (Appendix A.7 calls OnPacketsLost before OnPacketsAcked). Either order keeps the byte count right.
 */
export interface CongestionController {
  readonly algorithm: CongestionAlgorithm;
  /** congestion_window in bytes (whole bytes). */
  readonly window: number;
  /** bytes_in_flight (Appendix B.2). */
  readonly bytesInFlight: number;
  /** Slow start threshold in bytes (Infinity until the first congestion event). */
  readonly ssthresh: number;
  readonly maxDatagramSize: number;
  /** kInitialWindow / kMinimumWindow for the current maxDatagramSize (RFC 9002 §7.2). */
  readonly initialWindow: number;
  readonly minimumWindow: number;
  /** RFC 9002 §7.3.1: window below the threshold. */
  readonly inSlowStart: boolean;
  /** RFC 9002 §7.3.2: a recovery period is open (no packet sent after its start acked yet). */
  readonly isInRecovery: boolean;
  readonly appLimited: boolean;
  readonly stats: Readonly<CongestionStats>;

  /** RFC 9002 §7: may a packet of `bytes` go now (probes and the one packet on entering recovery may exceed). */
  canSend(bytes: number): boolean;
  /** window - bytesInFlight, at least 0. */
  available(): number;
  /**
   * An in-flight packet was sent. `idleThreshold` (ms, normally the current PTO) enables "restart
   * after idle" for controllers that implement it (CUBIC); omit it to disable.
   */
  onPacketSent(now: number, bytes: number, idleThreshold?: number): void;
  /** Newly acknowledged packets (RFC 9002 Appendix B.5). `rtt` supplies smoothed/min/latest. */
  onPacketsAcked(now: number, packets: readonly SentPacketInfo[], rtt: RttInfo): void;
  /** Packets declared lost (Appendix B.8): leave flight; a congestion event for the newest. */
  onPacketsLost(now: number, packets: readonly SentPacketInfo[]): void;
  /** Appendix B.6: a congestion signal for a packet sent at `sentTime` (ECN-CE uses this). */
  onCongestionEvent(now: number, sentTime: number): void;
  /** RFC 9002 §7.6.2: window to the minimum, recovery ended. */
  onPersistentCongestion(now: number): void;
  /** Appendix B.9: bytes of a discarded packet number space leave flight. */
  onPacketsDiscarded(bytes: number): void;
  /**
   * RFC 9002 §7.8: true while the sender has less to send than the window allows (application or
   * flow-control limited): acknowledgments then do not grow the window. The connection sets it
   * true when a send pass ends with window to spare and nothing to send, false when the window
   * (not pacing, not the application) is what stops it.
   */
  setAppLimited(limited: boolean): void;
  /** RFC 9002 §7.2: the path MTU changed (see WindowController.setMaxDatagramSize for the rule). */
  setMaxDatagramSize(size: number): void;
}

/** A congestion controller: CUBIC (RFC 9438, the default, as iroh) or NewReno (RFC 9002 §7). */
export type CongestionAlgorithm = 'cubic' | 'newreno';

/** What the controller reads of a sent packet (`SentPacket<T>` satisfies it). */
export interface SentPacketInfo {
  readonly size: number;
  readonly timeSent: number;
  readonly inFlight: boolean;
}

/** What the controller reads of the RTT estimator (`RttEstimator` satisfies it), ms. */
export interface RttInfo {
  readonly smoothed: number;
  readonly min: number;
  readonly latest: number;
}

export interface CongestionStats {
  /** Recovery periods entered (losses or ECN-CE), RFC 9002 §7.3.2. */
  congestionEvents: number;
  persistentCongestionEvents: number;
  lostPackets: number;
  lostBytes: number;
  /** Restarts after idle (CUBIC). */
  idleRestarts: number;
}
