import fc from 'fast-check';
import { testSeed } from '../../harness/seed.js';

/**
 * fast-check settings for `npm test`: a fixed seed (QP_SEED overrides it, test/harness/seed.ts)
 * and a fixed number of runs, so the suite is deterministic; on failure fast-check prints the
 * seed, the path and the SHRUNK counterexample, which replays with `QP_SEED=<seed>`.
 */
export function fcParams<T>(defaultSeed: number, numRuns: number): fc.Parameters<T> {
  return { seed: testSeed(defaultSeed) | 0, numRuns };
}

/** Varint values (RFC 9000 §16) spread over every width, with the boundaries of each. */
export const varintBig: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(0n, 1n, 63n, 64n, 16383n, 16384n, 2n ** 30n - 1n, 2n ** 30n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 62n - 1n),
  fc.bigInt({ min: 0n, max: 63n }),
  fc.bigInt({ min: 0n, max: 16383n }),
  fc.bigInt({ min: 0n, max: 2n ** 30n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 62n - 1n }),
);

/** Varint values a `number` holds exactly (the hot-path policy, codec/varint.ts). */
export const varintNum: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: 0, max: 63 }),
  fc.integer({ min: 0, max: 16383 }),
  fc.integer({ min: 0, max: 2 ** 30 - 1 }),
  fc.maxSafeNat(),
);

/** Bytes of 0..max length. */
export const bytes = (max: number, min = 0): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
