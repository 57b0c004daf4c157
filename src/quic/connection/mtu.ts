import { MIN_DATAGRAM_SIZE } from '../packet/size.js';

/**
 * Path MTU discovery in the style of DPLPMTUD (RFC 8899), for QUIC (RFC 9000 §14.3).
 *
 * Every path starts at 1200 bytes of UDP payload, the size QUIC guarantees (RFC 9000 §14). Once
 * the handshake is confirmed, the connection sends PING + PADDING probes of the size this module
 * asks for; a probe is never retransmitted and never counts as congestion loss. The search is a
 * binary search between the largest size known to work and the smallest known (or assumed) not
 * to, bounded by the peer's max_udp_payload_size, our configured maximum (`maxUdpPayloadSize`,
 * default 1452: the UDP payload of a 1500-byte Ethernet MTU under IPv6 + UDP headers, and what
 * iroh probes up to) and what the path is known to carry (`pathMaxUdpPayload`): on loopback the
 * interface's 64 KiB, elsewhere the configured `mtuUpperBound` (default 1452). Above 1452 the
 * probes are jumbo datagrams (up to 65527 bytes, RFC 9000 §18.2): node:dgram cannot set the
 * don't-fragment bit, so on a real network a probe larger than the path MTU may be fragmented by
 * the sending host (Linux does so above the route's known MTU) and arrive, and the search then
 * takes the fragmented size as the path's: raise `mtuUpperBound` only for a path whose MTU you know.
 *
 * A probe size that is lost `MAX_PROBES` times in a row is taken as too large (RFC 8899 §5.1.2).
 * Black-hole detection (RFC 8899 §4.3): when `BLACK_HOLE_THRESHOLD` packets larger than the base
 * size are lost while no such packet is acknowledged and no base-size packet is lost, the path
 * MTU falls back to the base and the search restarts soon (the route changed, the MTU shrank).
 * The connection sends its PTO probes at the base size, so they get through such a path and
 * their acknowledgment declares the large packets lost.
 */

/** RFC 8899's BASE_PLPMTU for QUIC: every path carries 1200-byte UDP payloads (RFC 9000 §14). */
export const BASE_PLPMTU = MIN_DATAGRAM_SIZE;
/** Probes of one size before it is declared too large (RFC 8899 MAX_PROBES). */
export const MAX_PROBES = 3;
/** Search ends when the interval is this narrow. */
const SEARCH_GRANULARITY = 16;
/** Consecutive losses of large packets, with no large packet acknowledged, that mean a black hole. */
export const BLACK_HOLE_THRESHOLD = 4;
/** After a completed search or a black hole, search again after this long (RFC 8899: 600 s). */
export const RAISE_TIMER_MS = 600_000;
/**
 * The largest UDP payload over IPv4 loopback: the IPv4 total length is 16 bits (65535) less the
 * 20-byte IP and 8-byte UDP headers; Linux's `lo` has a 65536-byte MTU, above it.
 */
export const LOOPBACK_MAX_UDP_PAYLOAD_V4 = 65_507;
/** The largest UDP payload over IPv6 loopback: the 65536-byte `lo` MTU less 40 + 8 header bytes. */
export const LOOPBACK_MAX_UDP_PAYLOAD_V6 = 65_488;

/**
 * The largest UDP payload a path to `address` ("ip:port", "[ip6]:port" or any other opaque path
 * name) is known to carry: the loopback interface's for 127.0.0.0/8 and ::1 (a 64 KiB MTU, as
 * Linux's `lo` has; the core cannot read the interface, so loopback is taken by its address), and
 * `unknownPathBound` (the configured `mtuUpperBound`) for every other path.
 */
export function pathMaxUdpPayload(address: string, unknownPathBound: number): number {
  if (address.startsWith('127.') || address.startsWith('[::ffff:127.')) return LOOPBACK_MAX_UDP_PAYLOAD_V4;
  if (address.startsWith('[::1]:')) return LOOPBACK_MAX_UDP_PAYLOAD_V6;
  return unknownPathBound;
}

export class MtuDiscovery {
  /** The largest UDP payload known to work on this path. */
  current = BASE_PLPMTU;
  /** Upper bound of the search (the smallest size known or assumed not to work, + 1 excluded). */
  private high: number;
  private readonly max: number;
  /** min(our maximum, the peer's max_udp_payload_size). */
  private limit: number;
  /** The upper bound the next search round starts from. */
  private resumeHigh: number;
  private probeSize: number | undefined;
  private probeInFlight = false;
  private probeLosses = 0;
  private largeLosses = 0;
  /** When the newest acknowledged packet larger than the base size was sent. */
  private largeAckedSentAt = Number.NEGATIVE_INFINITY;
  /** Since then: the largest lost size, and whether a base-size packet was lost too. */
  private largestLost = 0;
  private smallLost = false;
  /** Whether this search round already tried its ceiling (the first probe of a round). */
  private triedCeiling = false;
  /** When the next search may start (undefined: now, as soon as enabled). */
  private resumeAt: number | undefined;
  private enabled = false;
  /** Counters for stats/tests. */
  blackHoles = 0;
  probesSent = 0;

  /** `maxUdpPayload`: our configured maximum (default 1452). */
  constructor(maxUdpPayload = 1452) {
    if (!Number.isInteger(maxUdpPayload) || maxUdpPayload < BASE_PLPMTU) {
      throw new RangeError(`maximum UDP payload must be an integer >= ${BASE_PLPMTU}, got ${maxUdpPayload}`);
    }
    this.max = maxUdpPayload;
    this.high = maxUdpPayload;
    this.limit = maxUdpPayload;
    this.resumeHigh = maxUdpPayload;
  }

  /**
   * Starts the search once the handshake is confirmed and the peer's max_udp_payload_size is
   * known (RFC 9000 §14.3: probes are sent on validated paths only). `pathBound`: what the path
   * is known to carry (`pathMaxUdpPayload`); the search never goes above it.
   */
  enable(peerMaxUdpPayload: number, pathBound = Number.POSITIVE_INFINITY): void {
    this.limit = Math.max(BASE_PLPMTU, Math.min(this.max, peerMaxUdpPayload, pathBound));
    this.high = this.limit;
    this.enabled = true;
  }

  /** The upper bound the search can reach (min of ours, the peer's and the path's). */
  get ceiling(): number {
    return this.limit;
  }

  /**
   * Size of the probe to send now, or undefined (not enabled, a probe already in flight, the
   * search is complete or paused until later).
   */
  pollProbe(now: number): number | undefined {
    if (!this.enabled || this.probeInFlight) return undefined;
    if (this.resumeAt !== undefined) {
      if (now < this.resumeAt) return undefined;
      this.resumeAt = undefined;
      this.high = Math.max(this.resumeHigh, this.current);
      this.triedCeiling = false;
    }
    if (this.probeSize === undefined) {
      if (this.high - this.current < SEARCH_GRANULARITY) {
        // Done: look again later, in case the path now carries more (RFC 8899 §5.1.1 raise timer).
        this.resumeAt = now + RAISE_TIMER_MS;
        this.resumeHigh = this.limit;
        return undefined;
      }
      // Try the ceiling first (it usually works on loopback and LANs), then bisect.
      this.probeSize = this.triedCeiling ? Math.floor((this.current + this.high + 1) / 2) : this.high;
      this.triedCeiling = true;
    }
    return this.probeSize;
  }

  /** When the search resumes (for the connection's timer), if paused. */
  get nextSearchAt(): number | undefined {
    return this.enabled ? this.resumeAt : undefined;
  }

  /** A probe of `size` went into a packet. */
  onProbeSent(size: number): void {
    if (size !== this.probeSize) return;
    this.probeInFlight = true;
    this.probesSent++;
  }

  /**
   * A probe of `size` cannot be written at all (the caller's datagram buffer is smaller, say a
   * connection configured above its endpoint's buffers): that size is out of reach, as if lost
   * MAX_PROBES times, and the search bisects below it.
   */
  onProbeUnsendable(size: number): void {
    if (size !== this.probeSize || this.probeInFlight) return;
    this.high = size - 1;
    this.finishProbe();
  }

  /** A probe was acknowledged: the path carries `size`. */
  onProbeAcked(size: number): void {
    if (size > this.current) this.current = size;
    if (size === this.probeSize) this.finishProbe();
    this.largeLosses = 0;
  }

  /** A probe was declared lost. */
  onProbeLost(size: number): void {
    if (size !== this.probeSize) return;
    this.probeInFlight = false;
    if (++this.probeLosses >= MAX_PROBES) {
      this.high = size - 1;
      this.finishProbe();
    }
  }

  /**
   * Any (non-probe) packet of `size`, sent at `sentAt`, was acknowledged (evidence against a
   * black hole).
   */
  onPacketAcked(size: number, sentAt: number): void {
    if (size <= BASE_PLPMTU || sentAt <= this.largeAckedSentAt) return;
    this.largeAckedSentAt = sentAt;
    this.largeLosses = 0;
    this.smallLost = false;
  }

  /**
   * Any (non-probe) packet of `size`, sent at `sentAt`, was declared lost. Call for each packet
   * of a batch of losses, then `detectBlackHole` once.
   *
   * Only packets sent after the newest acknowledged large packet are evidence: a large packet got
   * through after the others, so they died of congestion (a drop-tail queue loses bursts of
   * consecutive packets, which must not read as a black hole).
   */
  onPacketLost(size: number, sentAt: number): void {
    if (this.current === BASE_PLPMTU || sentAt <= this.largeAckedSentAt) return;
    if (size > BASE_PLPMTU) {
      this.largeLosses++;
      if (size > this.largestLost) this.largestLost = size;
    } else {
      this.smallLost = true;
    }
  }

  /**
   * After a batch of losses: returns true when they show a black hole, and the MTU then fell
   * back to the base size (the connection re-sizes its packets). A black hole (RFC 8899 §4.3
   * leaves the method open) is `BLACK_HOLE_THRESHOLD` lost large packets while packets of the
   * base size got through: when small packets died too, the path was down for everyone (an
   * outage or congestion), not too narrow, and the evidence so far is dropped.
   */
  detectBlackHole(now: number): boolean {
    if (this.smallLost) {
      this.smallLost = false;
      this.largeLosses = 0;
      this.largestLost = 0;
      return false;
    }
    if (this.largeLosses < BLACK_HOLE_THRESHOLD) return false;
    this.blackHoles++;
    this.current = BASE_PLPMTU;
    this.high = BASE_PLPMTU;
    this.resumeHigh = Math.max(BASE_PLPMTU, this.largestLost - 1);
    this.largeLosses = 0;
    this.largestLost = 0;
    this.probeSize = undefined;
    this.probeInFlight = false;
    this.probeLosses = 0;
    // Search again soon, in case the drop was transient; the bound keeps it below the lost size.
    this.resumeAt = now + 1_000;
    return true;
  }

  private finishProbe(): void {
    this.probeSize = undefined;
    this.probeInFlight = false;
    this.probeLosses = 0;
  }
}
