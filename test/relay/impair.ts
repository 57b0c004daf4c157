/**
 * The per-packet decisions of the impairing relay, with no sockets and no clock, so they can be
 * tested on their own and replayed: for one direction, packet `n` (1-based, the order in which
 * the relay received them) is dropped, corrupted or forwarded as a function of the seed and `n`
 * only. Every packet consumes the same three draws from the direction's PRNG, whatever happens
 * to it, so a droplist or a blackhole period does not shift the decisions of later packets.
 *
 * The models follow the quic-network-simulator scenarios the interop runner uses:
 * - `drop-rate` / `corrupt-rate`: each packet is hit with probability `rate`, but never more than
 *   `burst` packets in a row (the scenarios' `--burst_to_*`);
 * - corruption changes one random byte among the first 50 bytes of the UDP payload (QUIC headers
 *   and the start of the protected payload), sparing Version Negotiation packets;
 * - `droplist`: the listed packet numbers of the direction are dropped (1-based, as the runner).
 */
import { SeededRandom } from '../../src/tls/random.js';

export type Direction = 'toServer' | 'toClient';

export interface DirectionImpairment {
  /** Probability in [0, 1] of dropping a packet (default 0). */
  readonly dropRate: number;
  /** Most packets dropped in a row by `dropRate` (default 3; 0 = no limit). */
  readonly dropBurst: number;
  /** Probability in [0, 1] of corrupting a packet (default 0). */
  readonly corruptRate: number;
  /** Most packets corrupted in a row (default 3; 0 = no limit). */
  readonly corruptBurst: number;
  /** 1-based indices of packets of this direction to drop. */
  readonly droplist: readonly number[];
}

export const NO_IMPAIRMENT: DirectionImpairment = Object.freeze({ dropRate: 0, dropBurst: 3, corruptRate: 0, corruptBurst: 3, droplist: [] });

/** How far into the payload corruption reaches (the runner's corrupt-rate: the first 50 bytes). */
export const CORRUPT_SPAN = 50;

export type Decision =
  | { readonly fate: 'forward' }
  | { readonly fate: 'drop'; readonly reason: 'droplist' | 'rate' }
  /** Forward with `bytes[offset] ^= xor` (xor is never 0: the byte always changes). */
  | { readonly fate: 'corrupt'; readonly offset: number; readonly xor: number };

/** Decides the fate of the packets of one direction, in order. */
export class Impairer {
  private readonly rng: SeededRandom;
  private readonly cfg: DirectionImpairment;
  private readonly droplist: ReadonlySet<number>;
  private count = 0;
  private dropRun = 0;
  private corruptRun = 0;

  constructor(seed: number, direction: Direction, cfg: Partial<DirectionImpairment> = {}) {
    this.cfg = { ...NO_IMPAIRMENT, ...cfg };
    checkRate('dropRate', this.cfg.dropRate);
    checkRate('corruptRate', this.cfg.corruptRate);
    for (const n of this.cfg.droplist) {
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`droplist: packet numbers are 1-based integers, got ${n}`);
    }
    this.droplist = new Set(this.cfg.droplist);
    // Two independent streams from one seed: the direction picks the odd or even sub-seed.
    this.rng = new SeededRandom((Math.imul(seed >>> 0, 2) + (direction === 'toServer' ? 0 : 1)) >>> 0);
  }

  /** Packets decided so far. */
  get packets(): number {
    return this.count;
  }

  /**
   * The fate of the next packet. `payload` is only read (to spare Version Negotiation packets and
   * to bound the corrupted offset); the caller applies a corruption.
   */
  next(payload: Uint8Array): Decision {
    const n = ++this.count;
    const dropDraw = this.rng.next();
    const corruptDraw = this.rng.next();
    const where = this.rng.nextU32();
    if (this.droplist.has(n)) return { fate: 'drop', reason: 'droplist' };
    if (this.cfg.dropRate > 0 && dropDraw < this.cfg.dropRate && (this.cfg.dropBurst === 0 || this.dropRun < this.cfg.dropBurst)) {
      this.dropRun++;
      return { fate: 'drop', reason: 'rate' };
    }
    this.dropRun = 0;
    if (
      this.cfg.corruptRate > 0 &&
      corruptDraw < this.cfg.corruptRate &&
      (this.cfg.corruptBurst === 0 || this.corruptRun < this.cfg.corruptBurst) &&
      payload.length > 0 &&
      !isVersionNegotiation(payload)
    ) {
      this.corruptRun++;
      const span = Math.min(CORRUPT_SPAN, payload.length);
      return { fate: 'corrupt', offset: (where >>> 8) % span, xor: 1 + ((where & 0xff) % 255) };
    }
    this.corruptRun = 0;
    return { fate: 'forward' };
  }
}

/** RFC 9000 §17.2.1: a long header (0x80 set) with version 0. */
export function isVersionNegotiation(p: Uint8Array): boolean {
  return p.length >= 5 && ((p[0] as number) & 0x80) !== 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0;
}

function checkRate(name: string, v: number): void {
  if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${v}`);
}
