import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineChartSvg } from '../../bench/plot.js';
import { sweepSvg, type SweepPoint } from '../../bench/sweep.js';

/**
 * The throughput-over-message-size sweep (bench/sweep.ts) and its SVG chart (bench/plot.ts).
 * Benchmarks are not tests: the smoke run only proves the harness works end to end (every point
 * measured, bytes confirmed by the servers), with tiny sizes.
 */
describe('bench sweep', function () {
  this.timeout(90_000);

  it('lineChartSvg: one polyline per series, points placed on log axes, refs dashed, text escaped', () => {
    const svg = lineChartSvg({
      title: 'a < b & c',
      xLabel: 'x',
      yLabel: 'y',
      width: 600,
      height: 400,
      series: [
        { name: 'one', color: '#f00', points: [[10, 10], [100, 100], [1000, 1000]] },
        { name: 'two', color: '#00f', points: [[10, 1000], [1000, 10]] },
      ],
      refs: [{ name: 'ceiling', color: '#080', y: 500 }],
    });
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    assert.equal((svg.match(/<circle /g) ?? []).length, 5);
    assert.ok(svg.includes('a &lt; b &amp; c'));
    assert.match(svg, /stroke="#080" stroke-dasharray="6 4"/);
    // On log-log axes, series "one" is a straight line: its middle point is the midpoint.
    const pts = /points="([^"]+)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    assert.equal(pts.length, 3);
    assert.ok(Math.abs(pts[1]![0] - (pts[0]![0] + pts[2]![0]) / 2) < 0.2);
    assert.ok(Math.abs(pts[1]![1] - (pts[0]![1] + pts[2]![1]) / 2) < 0.2);
    assert.ok(pts[0]![1] > pts[2]![1], 'larger y is drawn higher');
  });

  it('lineChartSvg rejects a chart with nothing to draw', () => {
    assert.throws(() => lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }), RangeError);
    assert.throws(() => lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', color: '#000', points: [[0, 1]] }] }), RangeError);
  });

  it('sweepSvg labels message sizes in bytes/KiB', () => {
    const pts: SweepPoint[] = [
      { size: 64, bytes: 1, quic_mbps: 5, tls_mbps: 50 },
      { size: 65536, bytes: 1, quic_mbps: 300, tls_mbps: 5000 },
    ];
    const svg = sweepSvg(pts, 'test');
    assert.ok(svg.includes('>64 B<') && svg.includes('>64 KiB<'));
    assert.ok(svg.includes('quic-peer (UDP)') && svg.includes('node:tls (TCP)'));
  });

  it('--smoke --json: every size measured for quic-peer and node:tls, and the SVG written', function () {
    const here = dirname(fileURLToPath(import.meta.url));
    const script = join(here, '..', '..', 'bench', 'sweep.js');
    assert.ok(existsSync(script), `${script} not built`);
    const r = spawnSync(process.execPath, [script, '--smoke', '--json'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `sweep exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
    const lines = r.stdout.trim().split('\n');
    const rec = JSON.parse(lines[lines.length - 1] ?? '') as { mode: string; points: SweepPoint[] };
    assert.equal(rec.mode, 'smoke');
    assert.equal(rec.points.length, 7);
    for (const p of rec.points) {
      assert.ok(p.quic_mbps > 0 && Number.isFinite(p.quic_mbps), `quic at ${p.size}: ${p.quic_mbps}`);
      assert.ok(p.tls_mbps > 0 && Number.isFinite(p.tls_mbps), `tls at ${p.size}: ${p.tls_mbps}`);
    }
    const svgPath = /and (\S+throughput\.svg)/.exec(r.stdout)?.[1];
    assert.ok(svgPath !== undefined && !svgPath.includes('bench/results'), `smoke must not write into bench/results: ${r.stdout}`);
    assert.equal((readFileSync(svgPath, 'utf8').match(/<polyline /g) ?? []).length, 2);
  });
});
