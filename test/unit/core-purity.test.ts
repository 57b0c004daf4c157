import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesUnder } from '../harness/files.js';

/**
 * House rule 1 (STYLE.md): the core (src/quic, src/tls) is sans-IO and deterministic. This test
 * fails the build if any core module imports node:dgram or timers, or reads a clock or the global
 * PRNG. Comments are stripped first so the rule can be discussed in prose.
 */
const root = join(fileURLToPath(import.meta.url), '../../../..');

const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+['"](node:)?dgram['"]/, 'imports dgram'],
  [/from\s+['"](node:)?timers(\/promises)?['"]/, 'imports timers'],
  [/import\(\s*['"](node:)?(dgram|timers)/, 'dynamically imports dgram/timers'],
  [/\bsetTimeout\s*\(|\bsetInterval\s*\(|\bsetImmediate\s*\(/, 'uses a timer'],
  [/\bDate\.now\s*\(|\bnew\s+Date\s*\(/, 'reads the wall clock'],
  [/\bperformance\.now\s*\(/, 'reads the monotonic clock'],
  [/\bprocess\.hrtime\b/, 'reads the monotonic clock'],
  [/\bMath\.random\s*\(/, 'uses the global PRNG'],
];


function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('core purity (STYLE.md rule 1)', () => {
  for (const layer of ['src/quic', 'src/tls']) {
    it(`${layer} has no sockets, timers, clocks or global randomness`, () => {
      const files = filesUnder(join(root, layer), '.ts');
      assert.ok(files.length > 0, `no sources found under ${layer}`);
      const offences: string[] = [];
      for (const f of files) {
        const code = stripComments(readFileSync(f, 'utf8'));
        code.split('\n').forEach((line, i) => {
          for (const [re, what] of FORBIDDEN) {
            if (re.test(line)) offences.push(`${relative(root, f)}:${i + 1} ${what}: ${line.trim()}`);
          }
        });
      }
      assert.deepEqual(offences, []);
    });
  }

  it('the scanner itself catches a forbidden use', () => {
    const sample = "import dgram from 'node:dgram';\nconst t = Date.now();\n// Math.random() in a comment is fine\n";
    const code = stripComments(sample);
    const hits = FORBIDDEN.filter(([re]) => code.split('\n').some((l) => re.test(l))).map(([, w]) => w);
    assert.deepEqual(hits, ['imports dgram', 'reads the wall clock']);
  });
});
