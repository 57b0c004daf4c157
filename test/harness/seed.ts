import { SeededRandom } from '../../src/tls/random.js';

/**
 * Seeds for deterministic tests. `QP_SEED=<n>` overrides every seed so a failure printed by a
 * test can be replayed exactly; `withSeed` prints the seed when the body throws.
 */
export function testSeed(defaultSeed: number): number {
  const env = process.env['QP_SEED'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n)) throw new TypeError(`QP_SEED must be an integer, got ${env}`);
    return n >>> 0;
  }
  return defaultSeed >>> 0;
}

/** Runs `body` with a seeded RNG; on failure, the error message names the seed to replay it. */
export async function withSeed<T>(defaultSeed: number, body: (rng: SeededRandom, seed: number) => T | Promise<T>): Promise<T> {
  const seed = testSeed(defaultSeed);
  try {
    return await body(new SeededRandom(seed), seed);
  } catch (e) {
    if (e instanceof Error) e.message = `${e.message}\n    (replay with QP_SEED=${seed})`;
    throw e;
  }
}
