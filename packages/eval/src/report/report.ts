import type { BenchmarkName } from '@semclip/core';
import { BENCHMARK_NAMES, SemclipError } from '@semclip/core';
import { HEADLINE_METRICS, roundTo, summarize, type BenchmarkScore, type HeadlineMetric } from '../metrics/metrics.js';
import { ALL_EVAL_METHODS, METHOD_LABELS, type EvalMethod } from '../run/methods.js';
import {
  canonicalJson,
  diffConfig,
  failureCause,
  readResults,
  resultKey,
  rowToJudgement,
  type EvalResultRow,
  type FailureCause,
  type JsonValue,
  type ResultsFile,
  type RunConfig,
} from '../run/results.js';

/** How reports name each benchmark column. */
export const BENCHMARK_LABELS: Readonly<Record<BenchmarkName, string>> = {
  vstar: 'V*',
  gqa: 'GQA',
  scienceqa: 'SQA-IMG',
  pope: 'POPE',
  mmbench: 'MMBench',
  mmstar: 'MMStar',
  seedbench: 'SEED-IMG',
};

/** One method on one benchmark. Percentages are unrounded. */
export interface ReportCell {
  readonly benchmark: BenchmarkName;
  readonly method: EvalMethod;
  readonly metric: HeadlineMetric;
  /** The headline number (`HEADLINE_METRICS`); for several seeds (`random`) their mean. */
  readonly value: number;
  /** Sample standard deviation over seeds, when there are several. */
  readonly std?: number;
  readonly seeds: readonly number[];
  /** Items answered (with several seeds: the fewest of any seed). */
  readonly count: number;
  /** Items of this benchmark found in any method's rows. */
  readonly expected: number;
  /** Every expected item has a row for every seed. */
  readonly complete: boolean;
  /** Rows recorded with an error (counted wrong, left out of the cost means). */
  readonly errors: number;
  /** The full score of the first seed (per-category, POPE splits...). */
  readonly score: BenchmarkScore;
  /** Means per question over the rows that did not fail (NaN when all failed). */
  readonly visualTokens: number;
  readonly vlmCalls: number;
  readonly latencyMs: number;
}

/** One table row: a method across benchmarks. */
export interface ReportMethodRow {
  readonly method: EvalMethod;
  readonly label: string;
  readonly cells: Partial<Record<BenchmarkName, ReportCell>>;
  /** Mean of the headline numbers over every benchmark column; `null` when a column is missing. */
  readonly average: { readonly value: number; readonly std?: number } | null;
  /** Rows of the method recorded with an error (counted wrong, left out of the cost means). */
  readonly failed: number;
  /** Means per question over the method's rows that did not fail (NaN when all failed). */
  readonly visualTokens: number;
  readonly vlmCalls: number;
  readonly latencyMs: number;
}

/** Failed rows (with `error`) of the report, by error code. */
export interface ReportFailure {
  readonly code: string;
  readonly cause: FailureCause;
  readonly rows: number;
  /** The first few item ids (at most 5). */
  readonly examples: readonly string[];
}

/** The results files a report was made from. */
export interface ReportRun {
  readonly path: string;
  readonly benchmark: BenchmarkName;
  readonly config: RunConfig;
  readonly rows: number;
}

/** Methods as rows, benchmarks as columns: the shape of the method's tables. */
export interface EvalReport {
  /** Column order: `BENCHMARK_NAMES` order, those with results. */
  readonly benchmarks: readonly BenchmarkName[];
  /** Row order: `ALL_EVAL_METHODS` order, those with results. */
  readonly methods: readonly ReportMethodRow[];
  readonly runs: readonly ReportRun[];
  /** Failed rows by error code, most first (they count as wrong; `eval run` retries them on resume). */
  readonly failures: readonly ReportFailure[];
  readonly warnings: readonly string[];
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
function sampleStd(xs: readonly number[]): number | undefined {
  if (xs.length < 2) return undefined;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * What a method spends per question, over the rows that did not fail: a failed row spent
 * nothing (it records 0 visual tokens), so it would pull the means down.
 */
function costMeans(rows: readonly EvalResultRow[]): { visualTokens: number; vlmCalls: number; latencyMs: number } {
  const ok = rows.filter((r) => r.error === undefined);
  return {
    visualTokens: mean(ok.map((r) => r.visualTokens)),
    vlmCalls: mean(ok.map((r) => r.vlmCalls)),
    latencyMs: mean(ok.map((r) => r.latencyMs)),
  };
}

/**
 * Builds the report from results files (already read): shards and resumed runs of one
 * benchmark are merged (a key found twice is counted once and reported), files of one
 * benchmark must share a config (else `RESULTS_INVALID`), and files of different benchmarks
 * made with different VLMs or setups are allowed with a warning.
 *
 * @example
 * ```ts
 * const report = buildReport([await readResults('vstar.jsonl'), await readResults('pope.jsonl')]);
 * report.methods.find((m) => m.method === 'semclip')?.average?.value;
 * ```
 */
export function buildReport(files: readonly ResultsFile[]): EvalReport {
  if (files.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'No results files to report on.', { expected: 'one or more files written by semclip eval run' });
  }
  const warnings: string[] = [];
  const byBenchmark = new Map<BenchmarkName, ResultsFile[]>();
  for (const f of files) {
    const b = f.header.config.benchmark;
    let list = byBenchmark.get(b);
    if (!list) byBenchmark.set(b, (list = []));
    list.push(f);
    if (f.truncatedBytes > 0) warnings.push(`${f.path} ends with a half-written line (${f.truncatedBytes} bytes, ignored); resume the run to repair it.`);
    if (f.duplicates > 0) warnings.push(`${f.path} has ${f.duplicates} repeated rows (the last of each was used).`);
    if (f.extraHeaders.length > 0) {
      warnings.push(
        `${f.path} has ${f.extraHeaders.length} repeated header line${f.extraHeaders.length === 1 ? '' : 's'} (line${f.extraHeaders.length === 1 ? '' : 's'} ${f.extraHeaders.slice(0, 5).join(', ')}${f.extraHeaders.length > 5 ? ', ...' : ''}: two runs wrote it at once; same configuration, ignored).`,
      );
    }
  }
  for (const [b, list] of byBenchmark) {
    const first = list[0] as ResultsFile;
    for (const other of list.slice(1)) {
      const diff = diffConfig(first.header.config, other.header.config);
      if (diff.length > 0) {
        throw new SemclipError(
          'RESULTS_INVALID',
          `${first.path} and ${other.path} are both ${b} results but were made with different configurations (${diff
            .slice(0, 4)
            .map((d) => `${d.path}: ${JSON.stringify(d.file)} vs ${JSON.stringify(d.now)}`)
            .join('; ')}).`,
          { hint: 'Report them separately; only shards and resumes of one run can be merged', details: { files: [first.path, other.path] } },
        );
      }
    }
  }
  const setups = [...byBenchmark.values()].map((l) => (l[0] as ResultsFile).header.config);
  const sharedKey = (c: RunConfig) => canonicalJson({ vlm: c.vlm, setup: c.setup, seed: c.seed, repeats: c.repeats, image: c.image } as JsonValue);
  if (new Set(setups.map(sharedKey)).size > 1) {
    warnings.push('The benchmarks were run with different VLMs or setups (see runs); their columns are not strictly comparable.');
  }

  const rowsByKey = new Map<string, EvalResultRow>();
  let crossDuplicates = 0;
  for (const f of files) {
    for (const r of f.rows) {
      const k = resultKey(r);
      const had = rowsByKey.get(k);
      if (had === undefined) rowsByKey.set(k, r);
      else {
        crossDuplicates++;
        // An answered row beats a failed one (another shard retried it).
        if (had.error !== undefined && r.error === undefined) rowsByKey.set(k, r);
      }
    }
  }
  if (crossDuplicates > 0) warnings.push(`${crossDuplicates} rows appear in more than one file (overlapping shards?); each was counted once.`);
  const allRows = [...rowsByKey.values()];

  const benchmarks = BENCHMARK_NAMES.filter((b) => byBenchmark.has(b));
  const expectedItems = new Map<BenchmarkName, number>();
  for (const b of benchmarks) expectedItems.set(b, new Set(allRows.filter((r) => r.benchmark === b).map((r) => r.item)).size);

  const methods: ReportMethodRow[] = [];
  for (const method of ALL_EVAL_METHODS) {
    const mine = allRows.filter((r) => r.method === method);
    if (mine.length === 0) continue;
    const cells: Partial<Record<BenchmarkName, ReportCell>> = {};
    const perSeedValues = new Map<number, Map<BenchmarkName, number>>();
    for (const benchmark of benchmarks) {
      const rows = mine.filter((r) => r.benchmark === benchmark);
      if (rows.length === 0) continue;
      const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
      const scores = seeds.map((s) => summarize(benchmark, rows.filter((r) => r.seed === s).map(rowToJudgement)));
      const values = scores.map((s) => s.headline.value);
      seeds.forEach((s, i) => {
        let m = perSeedValues.get(s);
        if (!m) perSeedValues.set(s, (m = new Map()));
        m.set(benchmark, values[i] as number);
      });
      const expected = expectedItems.get(benchmark) ?? 0;
      const count = Math.min(...scores.map((s) => s.count));
      const std = sampleStd(values);
      cells[benchmark] = {
        benchmark,
        method,
        metric: HEADLINE_METRICS[benchmark].metric,
        value: mean(values),
        ...(std === undefined ? {} : { std }),
        seeds,
        count,
        expected,
        complete: count === expected,
        errors: rows.filter((r) => r.error).length,
        score: scores[0] as BenchmarkScore,
        ...costMeans(rows),
      };
    }
    let average: ReportMethodRow['average'] = null;
    if (benchmarks.every((b) => cells[b] !== undefined)) {
      const value = mean(benchmarks.map((b) => (cells[b] as ReportCell).value));
      // Per-seed averages over the seeds every benchmark has, for the spread of `random`.
      const perSeed = [...perSeedValues.values()].filter((m) => benchmarks.every((b) => m.has(b))).map((m) => mean(benchmarks.map((b) => m.get(b) as number)));
      const std = sampleStd(perSeed);
      average = { value, ...(std === undefined ? {} : { std }) };
    }
    methods.push({
      method,
      label: METHOD_LABELS[method],
      cells,
      average,
      failed: mine.filter((r) => r.error).length,
      ...costMeans(mine),
    });
  }
  const byCode = new Map<string, { rows: number; examples: string[] }>();
  for (const r of allRows) {
    if (!r.error) continue;
    let f = byCode.get(r.error.code);
    if (!f) byCode.set(r.error.code, (f = { rows: 0, examples: [] }));
    f.rows++;
    if (f.examples.length < 5 && !f.examples.includes(r.item)) f.examples.push(r.item);
  }
  const failures = [...byCode]
    .map(([code, f]) => ({ code, cause: failureCause(code), rows: f.rows, examples: f.examples }))
    .sort((a, b) => b.rows - a.rows || a.code.localeCompare(b.code));
  const runs = files.map((f) => ({ path: f.path, benchmark: f.header.config.benchmark, config: f.header.config, rows: f.rows.length }));
  return { benchmarks, methods, runs, failures, warnings };
}

/**
 * Reads results files (shards, resumed runs, several benchmarks) and builds the report.
 *
 * @example
 * ```ts
 * import { loadReport, formatReportMarkdown } from '@semclip/eval';
 * const report = await loadReport(['results/vstar-1.jsonl', 'results/vstar-2.jsonl', 'results/pope.jsonl']);
 * console.log(formatReportMarkdown(report));
 * ```
 */
export async function loadReport(paths: readonly string[]): Promise<EvalReport> {
  if (paths.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'No results files to report on.', { expected: 'one or more files written by semclip eval run' });
  }
  // Read in parallel, but fail on the first file in the order given (not whichever read failed first).
  const read = await Promise.allSettled(paths.map((p) => readResults(p)));
  const failed = read.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return buildReport(read.map((r) => (r as PromiseFulfilledResult<ResultsFile>).value));
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * The report as plain JSON (snake_case keys, percentages unrounded, NaN as null): what
 * `semclip eval report --format json` prints.
 *
 * @example
 * ```ts
 * const doc = reportToJSON(report);
 * doc.methods[0].cells.vstar.value; // 41.3...
 * ```
 */
export function reportToJSON(report: EvalReport): { [key: string]: JsonValue } {
  return {
    benchmarks: [...report.benchmarks],
    metrics: Object.fromEntries(
      report.benchmarks.map((b) => [b, { metric: HEADLINE_METRICS[b].metric, label: BENCHMARK_LABELS[b], description: HEADLINE_METRICS[b].description }]),
    ),
    methods: report.methods.map((m) => ({
      method: m.method,
      label: m.label,
      cells: Object.fromEntries(
        Object.values(m.cells).map((c) => [
          c.benchmark,
          {
            metric: c.metric,
            value: num(c.value),
            std: c.std === undefined ? null : num(c.std),
            seeds: [...c.seeds],
            count: c.count,
            expected: c.expected,
            complete: c.complete,
            errors: c.errors,
            accuracy: num(c.score.accuracy),
            visual_tokens: num(c.visualTokens),
            vlm_calls: num(c.vlmCalls),
            latency_ms: num(c.latencyMs),
          },
        ]),
      ),
      average: m.average ? { value: num(m.average.value), std: m.average.std === undefined ? null : num(m.average.std) } : null,
      failed: m.failed,
      visual_tokens: num(m.visualTokens),
      vlm_calls: num(m.vlmCalls),
      latency_ms: num(m.latencyMs),
    })),
    runs: report.runs.map((r) => ({ path: r.path, benchmark: r.benchmark, rows: r.rows, config: r.config as unknown as JsonValue })),
    failures: report.failures.map((f) => ({ code: f.code, cause: f.cause, rows: f.rows, examples: [...f.examples] })),
    warnings: [...report.warnings],
  };
}

/** How the report names each failure cause. */
export const FAILURE_LABELS: Readonly<Record<FailureCause, string>> = {
  'missing-image': 'image missing',
  'bad-image': 'image unreadable',
  'model-output': 'model output unreadable',
  other: 'other error',
};

const pct = (x: number) => (Number.isFinite(x) ? roundTo(x, 1).toFixed(1) : '-');

function cellText(value: number, std: number | undefined): string {
  return std === undefined ? pct(value) : `${pct(value)} ± ${pct(std)}`;
}

function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const align = header.map((_, i) => (i === 0 ? ':--' : '--:'));
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function describeValue(v: JsonValue): string {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return `(${Object.entries(v as { [k: string]: JsonValue })
      .filter(([, x]) => x !== null)
      .map(([k, x]) => `${k} ${describeValue(x)}`)
      .join(', ')})`;
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function describeConfig(c: RunConfig): string {
  const setup = Object.entries(c.setup)
    .map(([k, v]) => `${k} ${describeValue(v)}`)
    .join(', ');
  // Files from before padding existed record none, and sent images as cut.
  const padding = `images padded ${c.image.padding ?? 'none'}`;
  return `${c.vlm.id} (${c.vlm.visualTokensPerImage} visual tokens per image)${setup ? `; ${setup}` : ''}; ${padding}; seed ${c.seed}, ${c.repeats} random repeats`;
}

/**
 * The report as markdown: the accuracy table (methods as rows, benchmarks as columns plus
 * Avg, the headline metric of each benchmark, `random` as mean ± std over seeds), then
 * visual tokens, VLM calls and latency per question against the average.
 *
 * @example
 * ```ts
 * await writeFile('results.md', formatReportMarkdown(await loadReport(['vstar.jsonl'])));
 * ```
 */
export function formatReportMarkdown(report: EvalReport): string {
  const lines: string[] = ['# SemClip evaluation', ''];
  const configs = [...new Map(report.runs.map((r) => [canonicalJson({ ...r.config, benchmark: '', data: null } as unknown as JsonValue), r.config])).values()];
  for (const c of configs) lines.push(`Setup: ${describeConfig(c)}.`);
  lines.push('', '## Accuracy', '');
  const header = ['Method', ...report.benchmarks.map((b) => BENCHMARK_LABELS[b]), 'Avg'];
  let incomplete = false;
  const rows = report.methods.map((m) => [
    m.label,
    ...report.benchmarks.map((b) => {
      const c = m.cells[b];
      if (!c) return '-';
      if (!c.complete) incomplete = true;
      return `${cellText(c.value, c.std)}${c.complete ? '' : '*'}`;
    }),
    m.average ? cellText(m.average.value, m.average.std) : '-',
  ]);
  lines.push(...mdTable(header, rows), '');
  lines.push(
    `Numbers are percentages: ${report.benchmarks.map((b) => `${BENCHMARK_LABELS[b]} ${HEADLINE_METRICS[b].description}`).join('; ')}. Avg is their mean.`,
  );
  if (report.methods.some((m) => Object.values(m.cells).some((c) => c.std !== undefined))) {
    lines.push('`a ± b`: mean and sample standard deviation over the random seeds.');
  }
  if (incomplete) {
    const notes = report.methods.flatMap((m) =>
      Object.values(m.cells)
        .filter((c) => !c.complete)
        .map((c) => `${m.method} on ${c.benchmark}: ${c.count} of ${c.expected} items`),
    );
    lines.push(`\\* incomplete (the run has not finished): ${notes.join('; ')}.`);
  }
  lines.push('', '## Visual tokens vs accuracy', '');
  const anyFailed = report.failures.length > 0;
  lines.push(
    ...mdTable(
      ['Method', 'Visual tokens / question', 'VLM calls / question', 'VLM latency / question', 'Avg', ...(anyFailed ? ['Failed'] : [])],
      report.methods.map((m) => [
        m.label,
        Number.isFinite(m.visualTokens) ? String(Math.round(m.visualTokens)) : '-',
        Number.isFinite(m.vlmCalls) ? String(roundTo(m.vlmCalls, 2)) : '-',
        Number.isFinite(m.latencyMs) ? `${Math.round(m.latencyMs)} ms` : '-',
        m.average ? cellText(m.average.value, m.average.std) : '-',
        ...(anyFailed ? [String(m.failed)] : []),
      ]),
    ),
    '',
  );
  lines.push(
    `Visual tokens and calls are what the method spends per question: majority asks once per tile; the oracle is charged the one call it would need if it knew the right tile; latency includes scoring for scored methods.${
      anyFailed ? ' Failed rows are left out of these means.' : ''
    }`,
  );
  if (anyFailed) {
    const total = report.failures.reduce((s, f) => s + f.rows, 0);
    lines.push('', '## Failed rows', '');
    lines.push(
      `${total} rows could not be answered; they count as wrong in the accuracy table. Rerun \`semclip eval run\` with the same flags to retry them.`,
      '',
    );
    for (const f of report.failures) lines.push(`- ${f.code} (${FAILURE_LABELS[f.cause]}): ${f.rows} rows, e.g. ${f.examples.join(', ')}`);
  }
  if (report.warnings.length > 0) {
    lines.push('', '## Warnings', '');
    for (const w of report.warnings) lines.push(`- ${w}`);
  }
  lines.push('', `Files: ${report.runs.map((r) => `${r.path} (${r.benchmark}, ${r.rows} rows)`).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}
