import { randomFillSync } from 'node:crypto';

/**
 * The one source of randomness of the core. The core never uses the global PRNG or reads
 * `crypto.getRandomValues` directly: a `Random` is injected, so tests and the simulator can run
 * with a seeded generator and reproduce every byte.
 */
export interface Random {
  /** Fills `out` with random bytes and returns it. */
  fill(out: Uint8Array): Uint8Array;
}

/**
 * Cryptographically secure randomness from node:crypto (the default outside tests).
 *
 * Small requests (connection IDs, reset tokens, TLS randoms and key shares: 8-32 bytes, a dozen
 * per handshake) are served from a 4 KiB block filled by one `randomFillSync` call: the call's
 * fixed cost (~2-10 us measured here) dwarfs generating 32 bytes (it limited the handshake rate). Bytes
 * handed out are zeroed in the block, so it never holds what a caller received.
 */
export class CryptoRandom implements Random {
  private readonly block = new Uint8Array(POOL_BYTES);
  private at = POOL_BYTES;

  fill(out: Uint8Array): Uint8Array {
    const n = out.length;
    if (n > POOLED_MAX) return randomFillSync(out);
    if (this.at + n > POOL_BYTES) {
      randomFillSync(this.block);
      this.at = 0;
    }
    const end = this.at + n;
    out.set(this.block.subarray(this.at, end));
    this.block.fill(0, this.at, end);
    this.at = end;
    return out;
  }
}

/** Size of CryptoRandom's block, and the largest request it serves from it. */
const POOL_BYTES = 4096;
const POOLED_MAX = 64;

/**
 * Deterministic generator for tests and the simulator: xoshiro128** seeded through splitmix32.
 * NOT for keys in production.
 */
export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let s = this.seed;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** Next 32-bit unsigned value. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  fill(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i += 4) {
      let v = this.nextU32();
      for (let j = i; j < i + 4 && j < out.length; j++) {
        out[j] = v & 0xff;
        v >>>= 8;
      }
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
