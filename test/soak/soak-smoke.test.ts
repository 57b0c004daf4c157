import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { slope } from './analysis.js';
import { renderSvg } from './plot.js';

/**
 * A 20-second soak (the command `npm run soak` runs, in a child node with --expose-gc): mixed
 * traffic through the impairing relay, every operation verified, and afterwards the sessions,
 * connections, streams and process handles back at their baseline. Trends (memory and count
 * slopes) are not judged in 20 s: that is what the long run is for (docs/soak.svg).
 */
const RUN = fileURLToPath(new URL('./run.js', import.meta.url));

describe('soak (20-second smoke)', function () {
  this.timeout(120_000);

  it('mixed traffic through the relay: no errors, counts back to the baseline, samples and a plot written', () => {
    const out = mkdtempSync(join(tmpdir(), 'qp-soak-'));
    try {
      const r = spawnSync(process.execPath, ['--expose-gc', RUN, '--seconds', '20', '--sample-seconds', '4', '--no-trend-verdict', '--out', out, '--svg', join(out, 'soak.svg')], {
        encoding: 'utf8',
        timeout: 100_000,
      });
      assert.equal(r.status, 0, `soak exited ${r.status}\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^FLAT$/m);
      const json = readdirSync(out).find((f) => f.endsWith('.json'))!;
      const d = JSON.parse(readFileSync(join(out, json), 'utf8')) as {
        samples: Array<{ t: number; heapUsed: number }>;
        traffic: { errors: number; bulkBytes: number; smallStreams: number; churnedSessions: number; datagramsEchoed: number };
        baseline: Record<string, number>;
        final: Record<string, number>;
        gcExposed: boolean;
      };
      assert.ok(d.samples.length >= 5, `${d.samples.length} samples`);
      assert.equal(d.gcExposed, true);
      assert.equal(d.traffic.errors, 0);
      assert.ok(d.traffic.bulkBytes > 0 && d.traffic.smallStreams > 0 && d.traffic.churnedSessions > 0 && d.traffic.datagramsEchoed > 0, JSON.stringify(d.traffic));
      for (const k of ['serverSessions', 'clientSessions', 'serverConnections', 'clientConnections', 'serverStreams', 'clientStreams', 'handles']) {
        assert.equal(d.final[k], d.baseline[k], k);
      }
      assert.match(readFileSync(join(out, 'soak.svg'), 'utf8'), /^<svg [^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
      assert.ok(readdirSync(out).some((f) => f.endsWith('.csv')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('slope is the least-squares slope; the plot escapes text and draws every series', () => {
    assert.equal(slope([0, 1, 2, 3], [1, 3, 5, 7]), 2);
    assert.equal(slope([0, 1, 2, 3], [5, 5, 5, 5]), 0);
    assert.equal(slope([1], [9]), 0);
    assert.ok(Math.abs(slope([0, 1, 2, 3, 4], [0, 1.1, 1.9, 3.2, 3.8]) - 0.97) < 1e-9);
    const sample = (t: number) => ({
      t, heapUsed: 10 * 2 ** 20, arrayBuffers: 2 ** 20, rss: 0, serverSessions: 1, clientSessions: 1, serverConnections: 1,
      clientConnections: 1, serverStreams: 0, clientStreams: 0, handles: 5, timers: 2,
      traffic: { bulkBytes: 0, smallStreams: 0, datagramsSent: 0, datagramsEchoed: 0, churnedSessions: 0, errors: 0 },
    });
    const svg = renderSvg({
      samples: [sample(0), sample(60), sample(120)],
      options: { durationMs: 120_000, sampleMs: 60_000, seed: 1, dropRate: 0.01, bandwidthBps: 20e6, delayMs: 10 },
      warmupS: 60,
    });
    assert.equal(svg.match(/<polyline/g)?.length, 2 + 5 + 1, 'two memory series, five counts, one fit');
    assert.ok(!svg.includes('<script'));
  });
});
