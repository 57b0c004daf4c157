import { FrameContext } from '../frames/types.js';
import { PACKET_SPACES, PacketSpace } from '../packet/space.js';
import { AckTracker } from '../recovery/ack-tracker.js';
import type { TransportConfig } from '../transport-config.js';
import { CryptoStream } from './crypto-stream.js';

/**
 * The three packet number spaces of a connection (RFC 9000 §12.3) and, for each, what is not
 * owned elsewhere: the packet numbers we send, the ones we received (the AckTracker: what our ACK
 * frames say), the CRYPTO stream of its encryption level, the PTO probes owed in it, and whether
 * its keys were discarded. (Sent packets and their timers are the LossDetector's; keys are
 * ConnectionKeys'.)
 *
 * Multipath (draft-ietf-quic-multipath) keeps Initial and Handshake as they are and gives each
 * path id its own Application packet number sequence and AckTracker (PATH_ACK): the
 * Application `SpaceState` is where that map would go.
 */
export class SpaceState {
  readonly space: PacketSpace;
  /** Which frames its packets may carry (RFC 9000 §12.4, Table 3). */
  readonly frameContext: FrameContext;
  private readonly config: TransportConfig;
  /**
   * The ACK tracker and CRYPTO stream, dropped when the space is discarded: the Initial and
   * Handshake spaces of a live connection then hold neither (~0.6 KB each of an idle connection,
   * issue [perf2]). Nothing touches them after the discard (every path checks `discarded`
   * first); one that did would get a fresh, empty one.
   */
  private ackTracker: AckTracker | undefined;
  private cryptoStream: CryptoStream | undefined;
  private next = 0;
  private probes = 0;
  private dropped = false;

  constructor(space: PacketSpace, config: TransportConfig) {
    this.space = space;
    this.frameContext = FRAME_CONTEXT[space];
    this.config = config;
    this.ackTracker = this.makeAck();
    this.cryptoStream = new CryptoStream(config.maxCryptoBuffer);
  }

  /** What our ACK frames of this space say. */
  get ack(): AckTracker {
    return (this.ackTracker ??= this.makeAck());
  }

  /** The CRYPTO stream of this space's encryption level. */
  get crypto(): CryptoStream {
    return (this.cryptoStream ??= new CryptoStream(this.config.maxCryptoBuffer));
  }

  private makeAck(): AckTracker {
    return new AckTracker(this.space, { maxRanges: this.config.maxAckRanges, maxAckDelay: this.config.maxAckDelayMs });
  }

  /** The packet number the next packet of this space gets. */
  get nextPn(): number {
    return this.next;
  }

  /** Takes the next packet number (the packet is being sealed). */
  takePn(): number {
    return this.next++;
  }

  /** Leaves `n` packet numbers unused (tests of ACK ranges; RFC 9000 §21.4 allows skipping). */
  skipPns(n: number): void {
    this.next += n;
  }

  /** PTO probes (ack-eliciting packets, exempt from the congestion window) owed in this space. */
  get probesOwed(): number {
    return this.probes;
  }

  /** RFC 9002 §6.2.4: a PTO asks for up to `n` probes here. */
  oweProbes(n: number): void {
    if (!this.dropped) this.probes = Math.max(this.probes, n);
  }

  /** An ack-eliciting probe left. */
  onProbeSent(): void {
    if (this.probes > 0) this.probes--;
  }

  /** Its keys were discarded (RFC 9001 §4.9): nothing is sent or accepted in it any more. */
  get discarded(): boolean {
    return this.dropped;
  }

  discard(): void {
    this.dropped = true;
    this.probes = 0;
    this.ackTracker?.release();
    this.cryptoStream?.release();
    this.ackTracker = undefined;
    this.cryptoStream = undefined;
  }
}

export class PacketSpaces {
  private readonly spaces: readonly SpaceState[];

  constructor(config: TransportConfig) {
    this.spaces = PACKET_SPACES.map((space) => new SpaceState(space, config));
  }

  at(space: PacketSpace): SpaceState {
    return this.spaces[space]!;
  }

  /** The three spaces in RFC order (Initial, Handshake, Application). */
  get all(): readonly SpaceState[] {
    return this.spaces;
  }

  /**
   * Whether some space holds handshake bytes never sent (a client's Finished written by TLS
   * and not yet packed): a close that flushes what was queued sends them first.
   */
  get cryptoUnsent(): boolean {
    for (const s of this.spaces) if (!s.discarded && s.crypto.hasUnsent) return true;
    return false;
  }

  /** Whether a PTO probe is owed in any space. */
  get probesPending(): boolean {
    const s = this.spaces;
    return s[0]!.probesOwed > 0 || s[1]!.probesOwed > 0 || s[2]!.probesOwed > 0;
  }
}

const FRAME_CONTEXT: Record<PacketSpace, FrameContext> = {
  [PacketSpace.Initial]: FrameContext.Initial,
  [PacketSpace.Handshake]: FrameContext.Handshake,
  [PacketSpace.Application]: FrameContext.OneRtt,
};
