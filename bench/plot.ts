/**
 * A small SVG line chart (no dependency): logarithmic x axis (message sizes), logarithmic or
 * linear y axis, series of points, optional horizontal reference lines, a legend. Used for the
 * README's throughput-over-message-size plot (bench/sweep.ts) and kept free of I/O so a test can
 * check what it draws.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [x, y] with x > 0; points with y <= 0 (or y not finite) are skipped on a log y axis. */
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface RefLine {
  readonly name: string;
  readonly color: string;
  readonly y: number;
}

export interface ChartSpec {
  readonly title: string;
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly refs?: readonly RefLine[];
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
  /** Formats an x tick (default: bytes as B / KiB / MiB). */
  readonly xTick?: (x: number) => string;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

export function bytesLabel(x: number): string {
  if (x >= 1 << 20 && x % (1 << 20) === 0) return `${x / (1 << 20)} MiB`;
  if (x >= 1024 && x % 1024 === 0) return `${x / 1024} KiB`;
  return `${x} B`;
}

function niceNumber(v: number): string {
  if (v >= 1000) return `${Math.round(v / 100) / 10}k`.replace('.0k', 'k');
  return v >= 10 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

/** Renders the chart as a standalone SVG document. Throws RangeError on an empty or non-positive x domain. */
export function lineChartSvg(spec: ChartSpec): string {
  const W = spec.width ?? 760;
  const H = spec.height ?? 420;
  const m = { left: 70, right: 190, top: 56, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const logY = spec.logY ?? true;
  const usable = (y: number): boolean => Number.isFinite(y) && (!logY || y > 0);

  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...spec.series.flatMap((s) => s.points.map((p) => p[1]).filter(usable)), ...(spec.refs ?? []).map((r) => r.y).filter(usable)];
  if (xs.length === 0 || xs.some((x) => !(x > 0))) throw new RangeError('lineChartSvg: x values must be positive and at least one point is needed');
  if (ys.length === 0) throw new RangeError('lineChartSvg: no drawable y value');
  const x0 = Math.log10(Math.min(...xs));
  const x1 = Math.max(Math.log10(Math.max(...xs)), x0 + 1e-9);
  let y0: number;
  let y1: number;
  if (logY) {
    y0 = Math.floor(Math.log10(Math.min(...ys)));
    y1 = Math.ceil(Math.log10(Math.max(...ys)));
    if (y1 === y0) y1 = y0 + 1;
  } else {
    y0 = 0;
    y1 = Math.max(...ys) * 1.08;
  }
  const px = (x: number): number => m.left + ((Math.log10(x) - x0) / (x1 - x0)) * pw;
  const py = (y: number): number => m.top + ph - (((logY ? Math.log10(y) : y) - y0) / (y1 - y0)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${m.left}" y="40" fill="#555">${esc(spec.subtitle)}</text>`);

  // Grid and ticks.
  const yTicks: number[] = [];
  if (logY) {
    for (let e = y0; e <= y1; e++) for (const k of [1, 2, 5]) if (e + Math.log10(k) <= y1 + 1e-9) yTicks.push(k * 10 ** e);
  } else {
    const step = 10 ** Math.floor(Math.log10(y1 / 5));
    const s = [1, 2, 5, 10].map((k) => k * step).find((k) => y1 / k <= 8) ?? step * 10;
    for (let v = 0; v <= y1; v += s) yTicks.push(v);
  }
  for (const v of yTicks) {
    const y = py(v);
    out.push(`<line x1="${m.left}" y1="${fmt(y)}" x2="${m.left + pw}" y2="${fmt(y)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.left - 6}" y="${fmt(y + 4)}" text-anchor="end">${niceNumber(v)}</text>`);
  }
  const xTick = spec.xTick ?? bytesLabel;
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    const X = px(x);
    out.push(`<line x1="${fmt(X)}" y1="${m.top}" x2="${fmt(X)}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${fmt(X)}" y="${m.top + ph + 16}" text-anchor="middle">${esc(xTick(x))}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);

  // Reference lines, series, legend.
  const legend: Array<{ name: string; color: string; dashed: boolean }> = [];
  for (const r of spec.refs ?? []) {
    if (!usable(r.y)) continue;
    const y = py(r.y);
    out.push(`<line x1="${m.left}" y1="${fmt(y)}" x2="${m.left + pw}" y2="${fmt(y)}" stroke="${esc(r.color)}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    legend.push({ name: r.name, color: r.color, dashed: true });
  }
  for (const s of spec.series) {
    const pts = s.points.filter((p) => usable(p[1])).map((p) => [px(p[0]), py(p[1])] as const);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${esc(s.color)}" stroke-width="2" points="${pts.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${fmt(x)}" cy="${fmt(y)}" r="3" fill="${esc(s.color)}"/>`);
    legend.push({ name: s.name, color: s.color, dashed: false });
  }
  legend.forEach((l, i) => {
    const y = m.top + 10 + i * 20;
    const x = m.left + pw + 14;
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${esc(l.color)}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${x + 28}" y="${y + 4}">${esc(l.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
