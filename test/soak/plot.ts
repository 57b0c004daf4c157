/**
 * A hand-written SVG of a soak run (no dependency): memory after gc (heapUsed, arrayBuffers) in
 * the top panel with the least-squares fit of heapUsed after the warm-up, counts (connections,
 * streams, handles) in the bottom one; the warm-up is shaded.
 *
 *   node build/test/soak/plot.js build/soak/soak-<stamp>.json docs/soak.svg
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { slope } from './analysis.js';
import type { Verdict } from './analysis.js';
import type { Sample, SoakResult } from './soak.js';

export type PlotInput = Pick<SoakResult, 'samples' | 'options'> & { readonly warmupS: number; readonly verdict?: Verdict };

interface Series {
  readonly name: string;
  readonly color: string;
  readonly values: number[];
  readonly dash?: string;
}

const W = 980;
const PANEL_H = 230;
const M = { left: 70, right: 230, top: 64, gap: 60, bottom: 45 };

export function renderSvg(d: PlotInput): string {
  const xs = d.samples.map((s) => s.t / 60);
  const xMax = Math.max(1 / 6, ...xs);
  const mb = (f: (s: Sample) => number): number[] => d.samples.map((s) => f(s) / 2 ** 20);
  const memory: Series[] = [
    { name: 'heapUsed (MB)', color: '#1f77b4', values: mb((s) => s.heapUsed) },
    { name: 'arrayBuffers (MB)', color: '#ff7f0e', values: mb((s) => s.arrayBuffers) },
  ];
  const counts: Series[] = [
    { name: 'server connections', color: '#2ca02c', values: d.samples.map((s) => s.serverConnections) },
    { name: 'client connections', color: '#98df8a', values: d.samples.map((s) => s.clientConnections), dash: '5,3' },
    { name: 'server streams', color: '#9467bd', values: d.samples.map((s) => s.serverStreams) },
    { name: 'client streams', color: '#c5b0d5', values: d.samples.map((s) => s.clientStreams), dash: '5,3' },
    { name: 'process handles', color: '#d62728', values: d.samples.map((s) => s.handles) },
  ];
  const parts: string[] = [];
  const h = M.top + 2 * PANEL_H + M.gap + M.bottom;
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${h}" fill="white"/>`);
  const o = d.options;
  const verdict = d.verdict ? (d.verdict.flat ? 'flat' : 'NOT flat') : '';
  parts.push(text(M.left, 20, `quic-peer soak: ${xMax.toFixed(1)} min of mixed traffic (bulk, small streams, datagrams, connection churn)`, 'bold', 14));
  parts.push(text(M.left, 37, `through the impairing relay: ${(o.dropRate * 100).toFixed(1)}% loss each way, ${o.bandwidthBps / 1e6} Mbit/s, ${o.delayMs} ms one way`));
  if (d.verdict) {
    parts.push(
      text(M.left, 53, `${verdict}: heapUsed ${d.verdict.heapSlopeMBPerMin.toFixed(3)} MB/min, arrayBuffers ${d.verdict.arrayBuffersSlopeMBPerMin.toFixed(3)} MB/min after the ${d.warmupS} s warm-up (least-squares slopes)`),
    );
  }
  const top = M.top;
  const bottom = M.top + PANEL_H + M.gap;
  parts.push(panel(xs, xMax, memory, top, 'MB after gc', d.warmupS / 60, fitLine(xs, memory[0]!.values, d.warmupS / 60)));
  parts.push(panel(xs, xMax, counts, bottom, 'count', d.warmupS / 60, undefined));
  parts.push(text(M.left + (W - M.left - M.right) / 2, h - 10, 'minutes', 'normal', 12, 'middle'));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function writePlot(d: PlotInput, file: string): void {
  writeFileSync(file, renderSvg(d));
}

/** The fitted line of `ys` over the samples at or after `fromX`, as two points. */
function fitLine(xs: number[], ys: number[], fromX: number): Series | undefined {
  const px: number[] = [];
  const py: number[] = [];
  xs.forEach((x, i) => {
    if (x >= fromX) {
      px.push(x);
      py.push(ys[i]!);
    }
  });
  if (px.length < 2) return undefined;
  const m = slope(px, py);
  const mx = px.reduce((a, b) => a + b, 0) / px.length;
  const my = py.reduce((a, b) => a + b, 0) / py.length;
  return { name: `heapUsed fit: ${m.toFixed(3)} MB/min`, color: '#000000', dash: '6,4', values: xs.map((x) => (x >= fromX ? my + m * (x - mx) : Number.NaN)) };
}

function panel(xs: number[], xMax: number, series: Series[], y0: number, yLabel: string, warmupX: number, fit: Series | undefined): string {
  const x0 = M.left;
  const pw = W - M.left - M.right;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const yMax = niceCeil(Math.max(1, ...all) * 1.1);
  const X = (x: number): number => x0 + (x / xMax) * pw;
  const Y = (y: number): number => y0 + PANEL_H - (y / yMax) * PANEL_H;
  const out: string[] = [];
  out.push(`<rect x="${x0}" y="${y0}" width="${pw}" height="${PANEL_H}" fill="#fafafa" stroke="#999"/>`);
  if (warmupX > 0) out.push(`<rect x="${x0}" y="${y0}" width="${Math.min(pw, X(warmupX) - x0).toFixed(1)}" height="${PANEL_H}" fill="#e8e8e8"/>`);
  if (warmupX > 0) out.push(text(x0 + 4, y0 + 14, 'warm-up', 'normal', 11, 'start', '#777'));
  for (const t of ticks(yMax)) {
    out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(text(x0 - 6, Y(t) + 4, fmt(t), 'normal', 11, 'end'));
  }
  for (const t of ticks(xMax)) {
    out.push(`<line x1="${X(t).toFixed(1)}" x2="${X(t).toFixed(1)}" y1="${y0 + PANEL_H}" y2="${y0 + PANEL_H + 4}" stroke="#999"/>`);
    out.push(text(X(t), y0 + PANEL_H + 16, fmt(t), 'normal', 11, 'middle'));
  }
  out.push(`<text x="${x0 - 50}" y="${y0 + PANEL_H / 2}" transform="rotate(-90 ${x0 - 50} ${y0 + PANEL_H / 2})" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  const drawn = fit ? [...series, fit] : series;
  drawn.forEach((s, i) => {
    const pts: string[] = [];
    s.values.forEach((v, k) => {
      if (Number.isFinite(v)) pts.push(`${X(xs[k]!).toFixed(1)},${Y(v).toFixed(1)}`);
    });
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.6"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.join(' ')}"/>`);
    const ly = y0 + 12 + i * 18;
    out.push(`<line x1="${x0 + pw + 12}" x2="${x0 + pw + 34}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(text(x0 + pw + 40, ly, s.name, 'normal', 11));
  });
  return out.join('\n');
}

function ticks(max: number): number[] {
  const step = niceCeil(max / 5);
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Math.round(t * 1e6) / 1e6);
  return out;
}

/** The smallest of 1, 2, 2.5, 5 x 10^k that is >= v. */
function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

function text(x: number, y: number, s: string, weight = 'normal', size = 12, anchor = 'start', fill = '#222'): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" font-weight="${weight}" text-anchor="${anchor}" fill="${fill}">${esc(s)}</text>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node build/test/soak/plot.js <soak.json> <out.svg>');
    process.exit(2);
  }
  writePlot(JSON.parse(readFileSync(input, 'utf8')) as PlotInput, output);
  console.log(`wrote ${output}`);
}
