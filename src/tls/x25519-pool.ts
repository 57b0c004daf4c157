import { x25519KeyPair, type X25519KeyPair } from './crypto.js';
import type { X25519KeySource } from './engine.js';
import type { Random } from './random.js';

/**
 * X25519 key pairs made ahead of need, so that making one (~40 us: node:crypto imports the
 * private scalar and derives the public value) is not on a handshake's critical path: a client
 * makes its key share before its first Initial can leave, a server before its ServerHello.
 *
 * The pool keeps one spare pair. `take` hands it out (or makes one at once when there is none)
 * and asks `defer` to make the next spare later: the session layer runs that after the
 * datagrams of the current flush have been sent, in the time the handshake waits for its peer.
 * Each pair is used once, as if made at the moment it is taken (RFC 9846 §4.2.8: a fresh
 * ephemeral share per ClientHello / ServerHello); `stop` drops the spare. The sans-IO core
 * and its tests pass no pool: their engines make each share when needed, from their own
 * `Random`.
 */
export class X25519KeyPool implements X25519KeySource {
  private spare: X25519KeyPair | undefined;
  private refilling = false;
  private stopped = false;

  /**
   * @param random where the private scalars come from.
   * @param defer runs the making of the next spare later (once per call).
   */
  constructor(
    private readonly random: Random,
    private readonly defer: (work: () => void) => void,
  ) {}

  /** A fresh key pair, never handed out before. */
  take(): X25519KeyPair {
    const pair = this.spare ?? this.make();
    this.spare = undefined;
    this.refillLater();
    return pair;
  }

  /** Makes a spare ahead of the first `take` (an endpoint just bound: its first dial or accept waits for none). */
  prime(): void {
    if (this.spare === undefined) this.refillLater();
  }

  /** Drops the spare pair and makes no more ahead (an endpoint closing); `take` still works. */
  stop(): void {
    this.stopped = true;
    this.spare = undefined;
  }

  /** Asks `defer` to make the next spare, unless that is asked already or the pool stopped. */
  private refillLater(): void {
    if (this.refilling || this.stopped) return;
    this.refilling = true;
    this.defer(this.refill);
  }

  private readonly refill = (): void => {
    this.refilling = false;
    if (!this.stopped) this.spare ??= this.make();
  };

  private make(): X25519KeyPair {
    return x25519KeyPair(this.random.fill(new Uint8Array(32)));
  }
}
