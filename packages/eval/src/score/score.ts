import type { BenchmarkItem, BenchmarkName } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { judge, type Judgement } from '../answer/judge.js';
import { expandCircular } from '../data/circular.js';
import { assertBenchmark, loadBenchmark } from '../data/load.js';
import { CIRCULAR_STRIDE } from '../data/tsv.js';
import type { BenchmarkDataset, DatasetFormat, LoadOptions } from '../data/types.js';
import { summarize, type BenchmarkScore } from '../metrics/metrics.js';
import { readPredictions, type PredictionFormat, type PredictionRecord, type Predictions } from './predictions.js';

export interface ScoreInput {
  readonly benchmark: BenchmarkName | string;
  /** The benchmark's question file or folder (any layout `loadBenchmark` reads). */
  readonly data: string;
  /** The prediction file (any layout `readPredictions` reads); may be the same file as `data`. */
  readonly predictions: string;
  /** Passed to the loader (`annotations`, `subset`, `popeSplits`...). */
  readonly dataOptions?: LoadOptions;
  /**
   * What to do when a prediction's `prompt` does not contain its question, i.e. the answers
   * were made for different questions under the same ids (another revision of the data):
   * `error` (default) throws `RESULTS_INVALID`; `warn` scores anyway and says so.
   */
  readonly onMismatch?: 'error' | 'warn';
}

/** A score, with how the files matched up. */
export interface ScoreReport {
  readonly score: BenchmarkScore;
  readonly data: { readonly path: string; readonly format: DatasetFormat; readonly items: number };
  readonly predictions: { readonly path: string; readonly format: PredictionFormat; readonly count: number };
  /** Predictions whose id is no question of the data (ignored). */
  readonly unmatched: number;
  /** Up to 10 of their ids. */
  readonly unmatchedIds: readonly string[];
  /** Predictions whose prompt asks another question than the item with their id. */
  readonly mismatched: number;
  readonly warnings: readonly string[];
  /** One judgement per item, in data order. */
  readonly judgements: readonly Judgement[];
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

function itemIdFor(benchmark: BenchmarkName, record: PredictionRecord): string {
  if (!record.round) return record.id;
  const n = Number(record.id);
  return (benchmark === 'mmbench' || benchmark === 'mmstar') && Number.isInteger(n) && n < CIRCULAR_STRIDE
    ? String(n + record.round * CIRCULAR_STRIDE)
    : `${record.id}@${record.round}`;
}

/**
 * Scores already-loaded items against already-read predictions; `scorePredictions` is this
 * plus the file reading. Items without a prediction are `missing` (counted wrong);
 * predictions without an item are `unmatched` (reported, not scored).
 *
 * @example
 * ```ts
 * const report = scoreItems('vstar', dataset, await readPredictions('answers.jsonl'));
 * ```
 */
export function scoreItems(
  benchmark: BenchmarkName,
  dataset: BenchmarkDataset,
  predictions: Predictions,
  options: { readonly onMismatch?: 'error' | 'warn' } = {},
): ScoreReport {
  if (dataset.benchmark !== benchmark) {
    throw new SemclipError('INVALID_ARGUMENT', `The data is ${dataset.benchmark}, not ${benchmark}.`, { expected: `${benchmark} data` });
  }
  if (!dataset.hasAnswers) {
    throw new SemclipError('DATASET_INVALID', `${dataset.source} has no ground truth to score against. ${dataset.warnings.join(' ')}`.trim(), {
      expected: 'question files with answers',
      details: { path: dataset.source },
    });
  }
  if (dataset.items.length === 0) {
    throw new SemclipError('DATASET_INVALID', `${dataset.source} holds no questions to score.`, { expected: 'at least one question' });
  }
  let items: readonly BenchmarkItem[] = dataset.items;
  const rounds = predictions.records.some((r) => (r.round ?? 0) > 0);
  const warnings = [...dataset.warnings];
  if (rounds && !items.some((i) => typeof i.metadata.circularRound === 'number' && i.metadata.circularRound > 0)) {
    items = expandCircular(items);
    warnings.push('The predictions answer rotated options (round_id); each question was expanded into its circular variants.');
  }
  const byId = new Map<string, PredictionRecord>();
  for (const r of predictions.records) byId.set(itemIdFor(benchmark, r), r);
  const itemIds = new Set(items.map((i) => i.id));
  const unmatchedIds = [...byId.keys()].filter((id) => !itemIds.has(id));
  if (unmatchedIds.length === byId.size) {
    throw new SemclipError(
      'RESULTS_INVALID',
      `None of the ${byId.size} predictions in ${predictions.path} answers a question of ${dataset.source} (first id: ${unmatchedIds[0]}; data ids look like ${items[0]?.id}).`,
      {
        expected: `predictions made on this ${benchmark} data, keyed by its question ids`,
        hint: 'Check --benchmark, --data and --predictions belong together',
      },
    );
  }
  let mismatched = 0;
  const examples: string[] = [];
  const judgements = items.map((item) => {
    const p = byId.get(item.id);
    if (p?.prompt !== undefined && !squash(p.prompt).includes(squash(item.question))) {
      mismatched++;
      if (examples.length < 3)
        examples.push(
          `id ${item.id}: data asks ${JSON.stringify(item.question.slice(0, 80))}, the prediction's prompt was ${JSON.stringify(p.prompt.slice(0, 80))}`,
        );
    }
    return judge(item, p?.reply);
  });
  if (mismatched > 0) {
    const msg = `${mismatched} of ${byId.size - unmatchedIds.length} predictions were made for different questions than the data has under their ids (${examples.join('; ')}).`;
    if ((options.onMismatch ?? 'error') === 'error') {
      throw new SemclipError('RESULTS_INVALID', msg, {
        expected: 'predictions made on the same revision of the questions',
        hint:
          benchmark === 'pope'
            ? "LLaVA's POPE answers were made on POPE revision e3e3926 (pope/rev_e3e3926); pass that folder as --data"
            : 'Pass the question file the predictions were made on, or --allow-mismatch to score anyway',
        details: { mismatched },
      });
    }
    warnings.push(msg);
  }
  if (unmatchedIds.length > 0)
    warnings.push(`${unmatchedIds.length} predictions answer no question of the data and were ignored (first: ${unmatchedIds.slice(0, 3).join(', ')}).`);
  const score = summarize(benchmark, judgements);
  if (score.missing > 0) warnings.push(`${score.missing} of ${score.count} questions have no prediction and count as wrong.`);
  return {
    score,
    data: { path: dataset.source, format: dataset.format, items: items.length },
    predictions: { path: predictions.path, format: predictions.format, count: predictions.records.length },
    unmatched: unmatchedIds.length,
    unmatchedIds: unmatchedIds.slice(0, 10),
    mismatched,
    warnings,
    judgements,
  };
}

/**
 * Scores a prediction file against a benchmark's questions: LLaVA answer files
 * (`question_id` + `text`), files with `prediction`, ScienceQA's result JSON, or V*'s
 * annotation file whose `output` holds the chosen option (then `data` and `predictions`
 * may be the same file). Replies are read with the benchmark's own convention
 * (`extractAnswer`); missing predictions count as wrong and are reported as `missing`,
 * ids the data does not have as `unmatched`.
 *
 * @example
 * ```ts
 * import { scorePredictions, roundTo } from '@semclip/eval';
 *
 * const { score } = await scorePredictions({
 *   benchmark: 'pope',
 *   data: '../shared/data/benchmarks/pope/rev_e3e3926',
 *   predictions: '../shared/data/benchmarks/pope/answers-llava-v1.5-13b.jsonl',
 * });
 * roundTo(score.headline.value, 1); // 85.9 (F1, mean of the three splits)
 * ```
 */
export async function scorePredictions(input: ScoreInput): Promise<ScoreReport> {
  const benchmark = assertBenchmark(input.benchmark);
  const [dataset, predictions] = await Promise.all([loadBenchmark(benchmark, input.data, input.dataOptions ?? {}), readPredictions(input.predictions)]);
  return scoreItems(benchmark, dataset, predictions, input.onMismatch ? { onMismatch: input.onMismatch } : {});
}
