import type { CircularMetrics, PopeMetrics, Tally } from '../metrics/metrics.js';
import { HEADLINE_METRICS, roundTo } from '../metrics/metrics.js';
import type { ScoreReport } from './score.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** NaN (an empty set) becomes null, so JSON never says 0 for "nothing to measure". */
const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

const tallyJson = (t: Tally) => ({ count: t.count, correct: t.correct, accuracy: num(t.accuracy) });

const popeJson = (m: PopeMetrics) => ({
  count: m.count,
  tp: m.tp,
  fp: m.fp,
  tn: m.tn,
  fn: m.fn,
  accuracy: num(m.accuracy),
  precision: num(m.precision),
  recall: num(m.recall),
  f1: num(m.f1),
  yes_ratio: num(m.yesRatio),
});

const circularJson = (c: CircularMetrics) => ({
  circular_accuracy: num(c.accuracy),
  circular_groups: c.groups,
  circular_correct: c.correct,
  circular_categories: Object.fromEntries(Object.entries(c.categories).map(([k, v]) => [k, tallyJson(v)])),
});

/**
 * The report as a plain JSON object with snake_case keys, percentages unrounded: what
 * `semclip eval score --json` prints. Always has `benchmark`, `count`, `accuracy`,
 * `headline`, `categories`, `missing`, `unmatched`, `unscorable` (data rows that cannot be
 * used, with `unscorable_rows`), `option_order` (predictions read against a recorded order /
 * the file's), `notes`, `warnings`; plus `f1`/`splits`/`pope_ids` (POPE),
 * `img_accuracy` (ScienceQA) and `circular_accuracy` (MMBench).
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(scoreToJSON(await scorePredictions(input)), null, 2));
 * ```
 */
export function scoreToJSON(report: ScoreReport): { [k: string]: Json } {
  const s = report.score;
  const out: { [k: string]: Json } = {
    benchmark: s.benchmark,
    count: s.count,
    correct: s.correct,
    accuracy: num(s.accuracy),
    headline: { metric: s.headline.metric, value: num(s.headline.value), description: HEADLINE_METRICS[s.benchmark].description },
    missing: s.missing,
    unparsed: s.unparsed,
    unmatched: report.unmatched,
    mismatched: report.mismatched,
    categories: Object.fromEntries(Object.entries(s.categories).map(([k, v]) => [k, tallyJson(v)])),
  };
  switch (s.benchmark) {
    case 'pope':
      Object.assign(out, {
        f1: num(s.mean.f1),
        precision: num(s.mean.precision),
        recall: num(s.mean.recall),
        yes_ratio: num(s.mean.yesRatio),
        mean_accuracy: num(s.mean.accuracy),
        splits: Object.fromEntries(Object.entries(s.splits).map(([k, v]) => [k, popeJson(v)])),
      });
      break;
    case 'scienceqa':
      Object.assign(out, { img_accuracy: num(s.img.accuracy), img_count: s.img.count, img_correct: s.img.correct });
      break;
    case 'mmbench':
      Object.assign(out, circularJson(s.circular));
      break;
    default:
      if (s.circular) Object.assign(out, circularJson(s.circular));
  }
  out.data = { path: report.data.path, format: report.data.format, items: report.data.items };
  out.predictions = { path: report.predictions.path, format: report.predictions.format, count: report.predictions.count };
  out.unmatched_ids = [...report.unmatchedIds];
  out.unscorable = report.unscorable;
  out.unscorable_rows = report.unscorableRows.map((r) => ({ id: r.id, ...(r.line === undefined ? {} : { line: r.line }), reason: r.reason }));
  out.option_order = { recorded: report.optionOrder.recorded, file: report.optionOrder.file };
  if (report.popeIds) {
    out.pope_ids = { predictions: report.popeIds.predictions, data: report.popeIds.data, other_splits: report.popeIds.otherSplits };
  }
  out.notes = [...report.notes];
  out.warnings = [...report.warnings];
  return out;
}

const fmt = (x: number) => (Number.isFinite(x) ? roundTo(x, 2).toFixed(2) : '-');

/** Left-aligns the first column and right-aligns the rest. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * The report as a small aligned table for people (what `semclip eval score` prints without
 * `--json`): the headline, overall and per-split/per-category numbers, then warnings.
 *
 * @example
 * ```ts
 * process.stdout.write(formatScoreTable(report) + '\n');
 * ```
 */
export function formatScoreTable(report: ScoreReport): string {
  const s = report.score;
  const lines: string[] = [];
  lines.push(`${s.benchmark}: ${s.count} questions (${report.data.format}), ${report.predictions.count} predictions (${report.predictions.format})`);
  lines.push(`${s.headline.metric} ${fmt(s.headline.value)}  (${HEADLINE_METRICS[s.benchmark].description})`);
  lines.push('');
  const rows: string[][] = [['', 'count', 'correct', 'accuracy']];
  rows.push(['all', String(s.count), String(s.correct), fmt(s.accuracy)]);
  if (s.benchmark === 'scienceqa') rows.push(['img (SQA-IMG)', String(s.img.count), String(s.img.correct), fmt(s.img.accuracy)]);
  const circular = s.benchmark === 'mmbench' ? s.circular : s.benchmark !== 'pope' && s.benchmark !== 'scienceqa' ? s.circular : undefined;
  if (circular) rows.push(['circular groups', String(circular.groups), String(circular.correct), fmt(circular.accuracy)]);
  for (const [k, v] of Object.entries(s.categories)) rows.push([k, String(v.count), String(v.correct), fmt(v.accuracy)]);
  lines.push(...table(rows));
  if (s.benchmark === 'pope') {
    lines.push('');
    const prow: string[][] = [['split', 'count', 'accuracy', 'precision', 'recall', 'f1', 'yes_ratio']];
    for (const [k, m] of Object.entries(s.splits)) {
      prow.push([k, String(m.count), fmt(m.accuracy), fmt(m.precision), fmt(m.recall), fmt(m.f1), fmt(m.yesRatio)]);
    }
    prow.push(['mean', '', fmt(s.mean.accuracy), fmt(s.mean.precision), fmt(s.mean.recall), fmt(s.mean.f1), fmt(s.mean.yesRatio)]);
    lines.push(...table(prow));
  }
  lines.push('');
  lines.push(
    `missing ${s.missing}, unparsed ${s.unparsed}, unmatched ${report.unmatched}${report.unscorable > 0 ? `, unscorable rows ${report.unscorable}` : ''}`,
  );
  for (const n of report.notes) lines.push(`note: ${n}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
