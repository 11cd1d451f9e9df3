import type { BenchmarkItem, BenchmarkName } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { judge, type Judgement } from '../answer/judge.js';
import { fileLetter, isPermutation, orderFromTexts, reorderItem } from '../answer/order.js';
import type { SkippedRow } from '../data/_item.js';
import { expandCircular } from '../data/circular.js';
import { assertBenchmark, loadBenchmark } from '../data/load.js';
import { POPE_ID_OFFSETS, fromLlavaPopeId, llavaPopeId, type PopeIds } from '../data/pope.js';
import { CIRCULAR_STRIDE } from '../data/tsv.js';
import type { BenchmarkDataset, DatasetFormat, LoadOptions, PopeSplit } from '../data/types.js';
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
  /**
   * Rows of the data that could not be used (no question, fewer than two options...), left
   * out of the score; the first 10 with their reasons. `--strict` refuses such data instead.
   */
  readonly unscorable: number;
  readonly unscorableRows: readonly SkippedRow[];
  /**
   * Multiple choice: how many predictions were read against the option order they record
   * (`options` or `option_order`), and how many against the data file's order.
   */
  readonly optionOrder: { readonly recorded: number; readonly file: number };
  /**
   * POPE: which ids the predictions use (`question_id`: the official files' own; `llava`:
   * LLaVA's numbering) and which the data has, and how many predictions answer splits the data
   * does not hold (left out).
   */
  readonly popeIds?: { readonly predictions: PopeIds; readonly data: PopeIds; readonly otherSplits: number; readonly note: string };
  /** Things said about how the files were read (POPE ids...): not problems. */
  readonly notes: readonly string[];
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

const LLAVA_NUMBERING = "LLaVA's numbering (llava_pope_test.jsonl: adversarial = question_id, random + 10,000,000, popular + 20,000,000)";

/**
 * POPE: which ids a prediction file uses and how each maps to the data's items. LLaVA's when
 * any id is in its random/popular range (>= 10,000,000); else the files' own `question_id`
 * when the data is one split file, or the predictions name their split, or the data holds one
 * split; else (own-looking ids, three splits, no split named) LLaVA's, with a warning, since
 * LLaVA's adversarial ids are the file's own.
 */
function popeIdMapping(items: readonly BenchmarkItem[], records: readonly PredictionRecord[]) {
  const data: PopeIds = items[0]?.metadata.ids === 'question_id' ? 'question_id' : 'llava';
  const splits = [...new Set(items.map((i) => i.metadata.split as PopeSplit))];
  const ints = records.map((r) => Number(r.id)).filter((n) => Number.isInteger(n));
  const llavaRange = ints.some((n) => n >= POPE_ID_OFFSETS.random);
  const named = records.some((r) => r.split !== undefined);
  let predictions: PopeIds;
  let ambiguous = false;
  if (llavaRange) predictions = 'llava';
  else if (data === 'question_id' || named || splits.length === 1) predictions = 'question_id';
  else {
    predictions = 'llava';
    ambiguous = true;
  }
  /** The item id a prediction answers, or `null` when it answers a split the data does not hold. */
  const keyOf = (r: PredictionRecord): string | null => {
    const n = Number(r.id);
    if (!Number.isInteger(n) || n < 0) return r.id;
    if (predictions === 'llava') {
      if (data === 'llava') return r.id;
      const { split, questionId } = fromLlavaPopeId(n);
      return split === splits[0] ? String(questionId) : null;
    }
    const split = r.split ?? (splits.length === 1 ? splits[0] : undefined);
    if (data === 'question_id') return split !== undefined && split !== splits[0] ? null : r.id;
    if (split === undefined) return r.id;
    return splits.includes(split) ? String(llavaPopeId(split, n)) : null;
  };
  const said = (ids: PopeIds, where: string) => (ids === 'llava' ? `${where} LLaVA's numbering` : `${where} the official files' own question_id`);
  let note = `POPE ids: the predictions use ${predictions === 'llava' ? LLAVA_NUMBERING : "the official files' own question_id"}; ${said(data, 'the data uses')}${data === predictions ? '' : ' (mapped)'}.`;
  if (ambiguous) {
    note += ` Every prediction id is below 10,000,000, so they were read as LLaVA's (adversarial = question_id); if they are another split's own question_ids, score that split's coco_pope_<split>.json, or give each prediction its "split".`;
  }
  return { data, predictions, keyOf, note, ambiguous };
}

/**
 * Scores already-loaded items against already-read predictions; `scorePredictions` is this
 * plus the file reading. Items without a prediction are `missing` (counted wrong);
 * predictions without an item are `unmatched` (reported, not scored). A multiple-choice
 * prediction is read against the option order it records (`options` or `option_order`),
 * else against the data file's order.
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
  const notes: string[] = [];
  if (rounds && !items.some((i) => typeof i.metadata.circularRound === 'number' && i.metadata.circularRound > 0)) {
    items = expandCircular(items);
    warnings.push('The predictions answer rotated options (round_id); each question was expanded into its circular variants.');
  }
  const pope = benchmark === 'pope' ? popeIdMapping(items, predictions.records) : undefined;
  if (pope) notes.push(pope.note);
  const byId = new Map<string, PredictionRecord>();
  let otherSplits = 0;
  for (const r of predictions.records) {
    const key = pope ? pope.keyOf(r) : itemIdFor(benchmark, r);
    if (key === null) otherSplits++;
    else byId.set(key, r);
  }
  if (pope && otherSplits > 0) notes.push(`${otherSplits} predictions answer POPE splits the data does not hold and were left out.`);
  const itemIds = new Set(items.map((i) => i.id));
  const skipped = dataset.skipped ?? [];
  const skippedIds = new Set(skipped.map((s) => s.id));
  const unusable = [...byId.keys()].filter((id) => !itemIds.has(id) && skippedIds.has(id));
  const unmatchedIds = [...byId.keys()].filter((id) => !itemIds.has(id) && !skippedIds.has(id));
  if (unmatchedIds.length === byId.size && byId.size > 0) {
    throw new SemclipError(
      'RESULTS_INVALID',
      `None of the ${byId.size} predictions in ${predictions.path} answers a question of ${dataset.source} (first id: ${unmatchedIds[0]}; data ids look like ${items[0]?.id}).`,
      {
        expected: `predictions made on this ${benchmark} data, keyed by its question ids`,
        hint: 'Check --benchmark, --data and --predictions belong together',
      },
    );
  }
  if (byId.size === 0) {
    throw new SemclipError(
      'RESULTS_INVALID',
      `None of the ${predictions.records.length} predictions in ${predictions.path} answers a question of ${dataset.source}. ${notes.join(' ')}`.trim(),
      {
        expected: `predictions for the POPE split(s) of ${dataset.source}`,
        hint: 'Pass the split file (or folder) the predictions were made on',
      },
    );
  }
  let mismatched = 0;
  const examples: string[] = [];
  let recorded = 0;
  let fileOrder = 0;
  let badOrder = 0;
  const judgements = items.map((item) => {
    const p = byId.get(item.id);
    if (p?.prompt !== undefined && !squash(p.prompt).includes(squash(item.question))) {
      mismatched++;
      if (examples.length < 3)
        examples.push(
          `id ${item.id}: data asks ${JSON.stringify(item.question.slice(0, 80))}, the prediction's prompt was ${JSON.stringify(p.prompt.slice(0, 80))}`,
        );
    }
    const n = item.options?.length ?? 0;
    if (!p || n === 0) return judge(item, p?.reply);
    let order: readonly number[] | undefined;
    if (p.optionOrder) order = isPermutation(p.optionOrder, n) ? p.optionOrder : undefined;
    else if (p.optionTexts) order = orderFromTexts(item.options as readonly string[], p.optionTexts);
    if ((p.optionOrder || p.optionTexts) && !order) badOrder++;
    if (!order) {
      fileOrder++;
      return judge(item, p.reply);
    }
    recorded++;
    const shown = judge(reorderItem(item, order), p.reply);
    return { ...shown, answer: item.answer, predicted: fileLetter(item, shown.predicted, order) };
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
  if (pope?.ambiguous) warnings.push(pope.note);
  if (unmatchedIds.length > 0)
    warnings.push(`${unmatchedIds.length} predictions answer no question of the data and were ignored (first: ${unmatchedIds.slice(0, 3).join(', ')}).`);
  if (unusable.length > 0)
    warnings.push(
      `${unusable.length} predictions answer rows of the data that cannot be used (first: ${unusable.slice(0, 3).join(', ')}); they are not scored.`,
    );
  if (badOrder > 0)
    warnings.push(
      `${badOrder} predictions record an option order ("options" or "option_order") that is not a reordering of the question's options; they were read against the data file's order.`,
    );
  if (benchmark === 'vstar' && fileOrder > 0 && items.every((i) => i.answer === 'A')) {
    warnings.push(
      `${fileOrder} V* predictions were read against the data file's option order, in which the correct option is always first (A): letters predicted on that order are biased (always answering A scores 100%). Record the order the model was shown ("options" or "option_order" per prediction); semclip eval run shuffles it.`,
    );
  }
  const score = summarize(benchmark, judgements);
  if (score.missing > 0) warnings.push(`${score.missing} of ${score.count} questions have no prediction and count as wrong.`);
  return {
    score,
    data: { path: dataset.source, format: dataset.format, items: items.length },
    predictions: { path: predictions.path, format: predictions.format, count: predictions.records.length },
    unmatched: unmatchedIds.length,
    unmatchedIds: unmatchedIds.slice(0, 10),
    mismatched,
    unscorable: skipped.length,
    unscorableRows: skipped.slice(0, 10),
    optionOrder: { recorded, file: fileOrder },
    ...(pope ? { popeIds: { predictions: pope.predictions, data: pope.data, otherSplits, note: pope.note } } : {}),
    notes,
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
