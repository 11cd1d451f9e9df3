import { roundTo } from '../metrics/metrics.js';
import type { EvalMethod } from '../run/methods.js';
import { BENCHMARK_LABELS, type EvalReport } from './report.js';

/** One colour and marker per method, stable across charts. */
const STYLE: Readonly<Record<EvalMethod, { colour: string; marker: 'circle' | 'square' | 'diamond' | 'triangle' | 'star' }>> = {
  baseline: { colour: '#4c566a', marker: 'square' },
  semclip: { colour: '#d62728', marker: 'star' },
  random: { colour: '#1f77b4', marker: 'circle' },
  majority: { colour: '#9467bd', marker: 'diamond' },
  'subimage-only': { colour: '#ff7f0e', marker: 'triangle' },
  oracle: { colour: '#2ca02c', marker: 'diamond' },
  'all-tiles': { colour: '#8c564b', marker: 'circle' },
  zoom: { colour: '#17becf', marker: 'triangle' },
  pack: { colour: '#bcbd22', marker: 'square' },
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round ticks (steps of 1, 2, 5 x 10^n), about `count` of them, from at most `lo` to at least `hi`. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let v = Math.floor(lo / step + 1e-9) * step; v <= last + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function marker(kind: string, x: number, y: number, r: number, colour: string): string {
  const f = `fill="${colour}" stroke="#ffffff" stroke-width="1.5"`;
  switch (kind) {
    case 'square':
      return `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" ${f}/>`;
    case 'diamond':
      return `<polygon points="${x},${y - r * 1.3} ${x + r * 1.3},${y} ${x},${y + r * 1.3} ${x - r * 1.3},${y}" ${f}/>`;
    case 'triangle':
      return `<polygon points="${x},${y - r * 1.3} ${x + r * 1.2},${y + r} ${x - r * 1.2},${y + r}" ${f}/>`;
    case 'star': {
      const pts: string[] = [];
      for (let i = 0; i < 10; i++) {
        const rad = i % 2 === 0 ? r * 1.6 : r * 0.7;
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        pts.push(`${(x + rad * Math.cos(a)).toFixed(1)},${(y + rad * Math.sin(a)).toFixed(1)}`);
      }
      return `<polygon points="${pts.join(' ')}" ${f}/>`;
    }
    default:
      return `<circle cx="${x}" cy="${y}" r="${r}" ${f}/>`;
  }
}

export interface ChartOptions {
  /** Default "Accuracy vs visual tokens". */
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * A scatter chart of accuracy (the report's Avg, or the one benchmark's headline metric)
 * against visual tokens per question, one labelled point per method, with ± std bars for
 * methods run with several seeds. Plain SVG text (DejaVu Sans / sans-serif): open it in a
 * browser or rasterise it (the CLI writes a PNG beside it with sharp).
 *
 * @example
 * ```ts
 * await writeFile('chart.svg', renderReportChart(await loadReport(['vstar.jsonl'])));
 * ```
 */
export function renderReportChart(report: EvalReport, options: ChartOptions = {}): string {
  const W = options.width ?? 760;
  const H = options.height ?? 480;
  const m = { left: 72, right: 230, top: 56, bottom: 64 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const points = report.methods
    .filter((r) => r.average !== null && Number.isFinite(r.average.value) && Number.isFinite(r.visualTokens))
    .map((r) => ({ method: r.method, label: r.label, x: r.visualTokens, y: (r.average as { value: number }).value, std: r.average?.std }));
  const single = report.benchmarks.length === 1 ? report.benchmarks[0] : undefined;
  const yLabel = single ? `${BENCHMARK_LABELS[single]} (%)` : `Average over ${report.benchmarks.map((b) => BENCHMARK_LABELS[b]).join(', ')} (%)`;
  const title = options.title ?? 'Accuracy vs visual tokens';

  const xsMax = Math.max(1, ...points.map((p) => p.x));
  const xt = ticks(0, xsMax * 1.08, 6);
  const xMax = xt[xt.length - 1] ?? xsMax;
  const lows = points.map((p) => p.y - (p.std ?? 0));
  const highs = points.map((p) => p.y + (p.std ?? 0));
  let yLo = Math.max(0, Math.floor((Math.min(100, ...lows) - 5) / 5) * 5);
  let yHi = Math.min(100, Math.ceil((Math.max(0, ...highs) + 5) / 5) * 5);
  if (points.length === 0) {
    yLo = 0;
    yHi = 100;
  }
  if (yHi - yLo < 10) yHi = Math.min(100, yLo + 10);
  if (yHi - yLo < 10) yLo = Math.max(0, yHi - 10);
  const yt = ticks(yLo, yHi, 6);
  yLo = yt[0] ?? yLo;
  yHi = yt[yt.length - 1] ?? yHi;
  const sx = (x: number) => m.left + (x / xMax) * pw;
  const sy = (y: number) => m.top + ph - ((y - yLo) / (yHi - yLo)) * ph;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${m.left + pw / 2}" y="30" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">${esc(title)}</text>`,
  );
  // Grid and ticks.
  for (const v of yt) {
    const y = sy(v);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${y + 4}" text-anchor="end" font-size="12" fill="#444">${v}</text>`);
  }
  for (const v of xt) {
    const x = sx(v);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle" font-size="12" fill="#444">${v}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle" font-size="13" fill="#222">Visual tokens per question</text>`);
  out.push(
    `<text x="${18}" y="${m.top + ph / 2}" text-anchor="middle" font-size="13" fill="#222" transform="rotate(-90 18 ${m.top + ph / 2})">${esc(yLabel)}</text>`,
  );
  // Points, error bars and labels; labels at one spot are stacked so they do not overlap.
  const placed: Array<{ x0: number; x1: number; y: number }> = [];
  for (const p of [...points].sort((a, b) => a.x - b.x || b.y - a.y)) {
    const { colour, marker: kind } = STYLE[p.method];
    const x = sx(p.x);
    const y = sy(p.y);
    if (p.std !== undefined && p.std > 0) {
      const y1 = sy(Math.min(yHi, p.y + p.std));
      const y2 = sy(Math.max(yLo, p.y - p.std));
      out.push(`<line x1="${x}" y1="${y1}" x2="${x}" y2="${y2}" stroke="${colour}" stroke-width="1.5"/>`);
      out.push(`<line x1="${x - 5}" y1="${y1}" x2="${x + 5}" y2="${y1}" stroke="${colour}" stroke-width="1.5"/>`);
      out.push(`<line x1="${x - 5}" y1="${y2}" x2="${x + 5}" y2="${y2}" stroke="${colour}" stroke-width="1.5"/>`);
    }
    out.push(marker(kind, x, y, 6, colour));
    const text = `${p.method} ${roundTo(p.y, 1).toFixed(1)}`;
    const width = text.length * 6.5;
    // Label boxes (x0, x1, baseline y) right, left, below and above the marker, then the same
    // sides stepped one line (13 px) at a time away from it, for methods with equal scores at
    // the same or nearby costs; the first that stays inside the plot and clears other markers,
    // error bars and labels wins, else the first that clears the labels.
    const right = (dy: number) => ({ x0: x + 11, x1: x + 11 + width, y: y + 4 + dy, anchor: 'start', tx: x + 11, dy });
    const left = (dy: number) => ({ x0: x - 11 - width, x1: x - 11, y: y + 4 + dy, anchor: 'end', tx: x - 11, dy });
    const below = (dy: number) => ({ x0: x - width / 2, x1: x + width / 2, y: y + 22 + dy, anchor: 'middle', tx: x, dy });
    const above = (dy: number) => ({ x0: x - width / 2, x1: x + width / 2, y: y - 14 - dy, anchor: 'middle', tx: x, dy });
    const candidates = [right(0), left(0), below(0), above(0)];
    for (let k = 1; k <= 16; k++) {
      const d = 13 * k;
      candidates.push(right(d), right(-d), left(d), left(-d), below(d), above(d));
    }
    const inPlot = (c: (typeof candidates)[number]) => c.x0 >= m.left + 2 && c.x1 <= m.left + pw - 2 && c.y - 11 >= m.top && c.y + 2 <= m.top + ph;
    const clearOfMarkers = (c: (typeof candidates)[number]) =>
      !points.some((q) => {
        if (q === p) return false;
        const qx = sx(q.x);
        const qy = sy(q.y);
        const reach = q.std ? Math.abs(sy(q.y + q.std) - qy) : 0;
        return qx + 8 > c.x0 && qx - 8 < c.x1 && qy + reach + 8 > c.y - 11 && qy - reach - 8 < c.y + 2;
      });
    const clearOfLabels = (c: (typeof candidates)[number]) => !placed.some((b) => b.x1 > c.x0 && b.x0 < c.x1 && Math.abs(b.y - c.y) < 13);
    const pick =
      candidates.find((c) => inPlot(c) && clearOfMarkers(c) && clearOfLabels(c)) ??
      candidates.find((c) => inPlot(c) && clearOfLabels(c)) ??
      (candidates[0] as (typeof candidates)[number]);
    placed.push({ x0: pick.x0, x1: pick.x1, y: pick.y });
    // A label moved away from its marker gets a thin leader line back to it.
    if (pick.dy !== 0) {
      const lx = pick.anchor === 'start' ? pick.x0 - 2 : pick.anchor === 'end' ? pick.x1 + 2 : pick.tx;
      const ly = pick.anchor === 'middle' ? (pick.y < y ? pick.y + 3 : pick.y - 11) : pick.y - 4;
      out.push(`<line x1="${x}" y1="${y}" x2="${lx}" y2="${ly}" stroke="${colour}" stroke-width="0.75" stroke-opacity="0.6"/>`);
    }
    out.push(
      `<text x="${pick.tx}" y="${pick.y}" text-anchor="${pick.anchor}" font-size="11" fill="${colour}" stroke="#ffffff" stroke-width="3" paint-order="stroke">${esc(text)}</text>`,
    );
  }
  if (points.length === 0) {
    out.push(
      `<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" font-size="14" fill="#888">No method has results on every benchmark yet</text>`,
    );
  }
  // Legend.
  const lx = m.left + pw + 20;
  out.push(`<text x="${lx}" y="${m.top + 4}" font-size="13" font-weight="bold" fill="#222">Method</text>`);
  report.methods.forEach((r, i) => {
    const { colour, marker: kind } = STYLE[r.method];
    const y = m.top + 26 + i * 22;
    out.push(marker(kind, lx + 7, y - 4, 5, colour));
    const tokens = Number.isFinite(r.visualTokens) ? `, ${Math.round(r.visualTokens)} tok` : '';
    out.push(`<text x="${lx + 20}" y="${y}" font-size="12" fill="#222">${esc(r.label.replace(/ \(.*\)$/, ''))}${esc(tokens)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
