import { describe, expect, it } from 'vitest';
import type { EvalMethod } from '../run/methods.js';
import { renderReportChart } from './chart.js';
import type { EvalReport } from './report.js';

/** A report with only what the chart reads: the benchmarks and each method's tokens and average. */
function report(points: ReadonlyArray<[EvalMethod, number, number, number?]>): EvalReport {
  return {
    benchmarks: ['vstar'],
    methods: points.map(([method, visualTokens, value, std]) => ({
      method,
      label: method,
      visualTokens,
      average: { value, ...(std === undefined ? {} : { std }) },
    })),
    runs: [],
    failures: [],
    warnings: [],
  } as unknown as EvalReport;
}

interface Label {
  readonly text: string;
  readonly x0: number;
  readonly x1: number;
  readonly y0: number;
  readonly y1: number;
}

/** The point labels (font-size 11) as boxes, measured as the chart measures them (6.5 px a character, 11 px above the baseline, 2 below). */
function labels(svg: string): Label[] {
  const out: Label[] = [];
  for (const m of svg.matchAll(/<text x="([\d.-]+)" y="([\d.-]+)" text-anchor="(start|middle|end)" font-size="11"[^>]*>([^<]*)<\/text>/g)) {
    const x = Number(m[1]);
    const y = Number(m[2]);
    const text = m[4] as string;
    const w = text.length * 6.5;
    const x0 = m[3] === 'start' ? x : m[3] === 'end' ? x - w : x - w / 2;
    out.push({ text, x0, x1: x0 + w, y0: y - 11, y1: y + 2 });
  }
  return out;
}

function overlaps(ls: readonly Label[]): string[] {
  const bad: string[] = [];
  for (let i = 0; i < ls.length; i++) {
    for (let j = i + 1; j < ls.length; j++) {
      const a = ls[i] as Label;
      const b = ls[j] as Label;
      if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) bad.push(`${a.text} / ${b.text}`);
    }
  }
  return bad;
}

describe('renderReportChart labels', () => {
  it('labels every method once', () => {
    const ls = labels(
      renderReportChart(
        report([
          ['baseline', 576, 40],
          ['semclip', 1152, 55],
          ['all-tiles', 5760, 60],
        ]),
      ),
    );
    expect(ls.map((l) => l.text)).toEqual(['baseline 40.0', 'semclip 55.0', 'all-tiles 60.0']);
  });

  it('keeps labels apart when several methods have equal scores at the same cost', () => {
    const svg = renderReportChart(
      report([
        ['baseline', 576, 50],
        ['semclip', 1152, 50],
        ['random', 1152, 50],
        ['majority', 1152, 50],
        ['oracle', 1152, 50],
        ['subimage-only', 1152, 50],
      ]),
    );
    const ls = labels(svg);
    expect(ls).toHaveLength(6);
    expect(overlaps(ls)).toEqual([]);
  });

  it('keeps labels apart for equal scores at nearby costs, by the left edge of the plot', () => {
    const svg = renderReportChart(
      report([
        ['baseline', 0, 50],
        ['random', 100, 50],
        ['majority', 200, 50],
        ['semclip', 300, 50],
        ['oracle', 400, 50],
        ['all-tiles', 5760, 50],
      ]),
    );
    const ls = labels(svg);
    expect(ls).toHaveLength(6);
    expect(overlaps(ls)).toEqual([]);
  });

  it('keeps labels apart for equal scores with error bars', () => {
    const svg = renderReportChart(
      report([
        ['random', 1152, 50, 3],
        ['semclip', 1152, 50, 2],
        ['oracle', 1152, 50],
        ['majority', 1152, 50],
      ]),
    );
    expect(overlaps(labels(svg))).toEqual([]);
  });
});
