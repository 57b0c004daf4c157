/**
 * The idle timeout (RFC 9000 §10.1) and keep-alives of one connection: when the connection was
 * last active, and when an ack-eliciting packet was last sent.
 */
export class IdleTimer {
  private timeoutMs: number;
  private lastActivity: number;
  private sentSinceReceive = false;
  private lastAckElicitingSent: number;
  private readonly keepAliveMs: number;

  /** `timeoutMs`: our max_idle_timeout (0: none); `keepAliveMs`: PING after this much quiet (0: never). */
  constructor(timeoutMs: number, keepAliveMs: number, now: number) {
    this.timeoutMs = timeoutMs;
    this.keepAliveMs = keepAliveMs;
    this.lastActivity = now;
    this.lastAckElicitingSent = now;
  }

  /** The effective idle timeout in ms (0: none). */
  get timeout(): number {
    return this.timeoutMs;
  }

  /** RFC 9000 §10.1: the effective idle timeout is the minimum of both, 0 meaning none. */
  onPeerTimeout(theirs: number): void {
    const ours = this.timeoutMs;
    this.timeoutMs = ours === 0 ? theirs : theirs === 0 ? ours : Math.min(ours, theirs);
  }

  /** A packet of the peer was processed: the timer restarts. */
  onPacketReceived(now: number): void {
    this.lastActivity = now;
    this.sentSinceReceive = false;
  }

  /** An ack-eliciting packet left. */
  onAckElicitingSent(now: number): void {
    this.lastAckElicitingSent = now;
    if (!this.sentSinceReceive) {
      // RFC 9000 §10.1: sending the first ack-eliciting packet after a receipt restarts the timer.
      this.lastActivity = now;
      this.sentSinceReceive = true;
    }
  }

  /** When the connection dies of idleness, at least three PTOs after the last activity (§10.1). */
  deadline(pto: number): number {
    if (this.timeoutMs === 0) return Number.POSITIVE_INFINITY;
    return this.lastActivity + Math.max(this.timeoutMs, 3 * pto);
  }

  /** When a keep-alive PING is due (Infinity when keep-alives are off). */
  get keepAliveAt(): number {
    return this.keepAliveMs > 0 ? this.lastAckElicitingSent + this.keepAliveMs : Number.POSITIVE_INFINITY;
  }
}
