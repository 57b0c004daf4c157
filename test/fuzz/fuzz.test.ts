import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testSeed } from '../harness/seed.js';
import { runFuzz, type FindingRecord } from './engine.js';
import { makeTarget } from './targets.js';

/**
 * The fuzzer in `npm test` (the "30 s run in CI" of issue #7): every target, a fixed number of
 * executions from a fixed seed (QP_SEED overrides it), so the run is deterministic. A finding
 * fails the test and leaves its reproducer in fuzz-findings/ (replay it with
 * `npm run fuzz -- --replay <file>`). Longer, time-bounded runs: `npm run fuzz -- --seconds N`.
 */
const PLAN: ReadonlyArray<readonly [target: string, executions: number]> = [
  ['decoders', 4000],
  ['clienthello', 200],
  ['serverflight', 100],
  ['handshake', 150],
  ['established', 150],
  ['client', 100],
  ['bounds', 400],
  ['endpoint', 200],
  ['multipath', 1000],
];

describe('fuzz: seeded structure-aware mutation, fixed executions (test/fuzz/README.md)', function () {
  this.timeout(180_000);
  const seed = testSeed(0xf022);
  for (const [name, executions] of PLAN) {
    it(`${name}: ${executions} executions, no finding (seed ${seed})`, () => {
      const found: FindingRecord[] = [];
      const report = runFuzz({ seed, targets: [makeTarget(name)], executions, onFinding: (f) => found.push(f) }).get(name)!;
      const files = found.map((f) => {
        mkdirSync('fuzz-findings', { recursive: true });
        const file = join('fuzz-findings', `${f.target}-${f.kind}-${seed}-${f.epochSeed}.json`);
        writeFileSync(file, JSON.stringify(f, null, 1) + '\n');
        return file;
      });
      assert.deepEqual(
        found.map((f) => f.message.split('\n')[0]),
        [],
        `reproducers: ${files.join(', ')} (npm run fuzz -- --replay <file>; replay the run with QP_SEED=${seed})`,
      );
      assert.equal(report.executions, executions);
      // The run reached past the AEAD and the frame decoder: several distinct outcomes.
      assert.ok(report.outcomes.size >= 5, `only ${report.outcomes.size} distinct outcomes: ${[...report.outcomes.keys()].join(', ')}`);
    });
  }
});
