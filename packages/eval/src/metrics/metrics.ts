import type { BenchmarkName } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import type { Judgement } from '../answer/judge.js';
import { POPE_SPLITS, type PopeSplit } from '../data/types.js';

/** Correct out of count; `accuracy` is a percentage (NaN when count is 0). */
export interface Tally {
  readonly count: number;
  readonly correct: number;
  readonly accuracy: number;
}

function pct(num: number, den: number): number {
  return den === 0 ? Number.NaN : (num / den) * 100;
}

/**
 * Plain accuracy of a set of judgements, in percent.
 *
 * @example
 * ```ts
 * tally(judgements).accuracy; // 77.48...
 * ```
 */
export function tally(judgements: readonly Judgement[]): Tally {
  const correct = judgements.reduce((n, j) => n + (j.correct ? 1 : 0), 0);
  return { count: judgements.length, correct, accuracy: pct(correct, judgements.length) };
}

/**
 * Accuracy per `category`, keys in first-seen order; items without one are left out.
 *
 * @example
 * ```ts
 * tallyByCategory(judgements).direct_attributes; // { count: 115, correct: 91, accuracy: 79.13... }
 * ```
 */
export function tallyByCategory(judgements: readonly Judgement[]): Record<string, Tally> {
  const groups = new Map<string, Judgement[]>();
  for (const j of judgements) {
    if (j.category === undefined) continue;
    let g = groups.get(j.category);
    if (!g) groups.set(j.category, (g = []));
    g.push(j);
  }
  return Object.fromEntries([...groups].map(([k, v]) => [k, tally(v)]));
}

/** POPE's binary metrics for one split, as `eval_pope.py` computes them, in percent. */
export interface PopeMetrics {
  readonly count: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Share of `yes` answers. */
  readonly yesRatio: number;
}

/**
 * POPE metrics of one split: `yes` is the positive class. A missing or unparseable reply
 * counts as the wrong answer (a `no` on a `yes` question, a `yes` on a `no` question), so
 * it can only lower the scores.
 *
 * @example
 * ```ts
 * const { f1, yesRatio } = popeMetrics(judgements.filter((j) => j.category === 'adversarial'));
 * ```
 */
export function popeMetrics(judgements: readonly Judgement[]): PopeMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (const j of judgements) {
    const truth = j.answer === 'yes';
    const saidYes = j.predicted === 'yes' || (j.predicted !== 'no' && !truth);
    if (saidYes && truth) tp++;
    else if (saidYes) fp++;
    else if (!truth) tn++;
    else fn++;
  }
  const precision = pct(tp, tp + fp);
  const recall = pct(tp, tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    count: judgements.length,
    tp,
    fp,
    tn,
    fn,
    accuracy: pct(tp + tn, judgements.length),
    precision,
    recall,
    f1,
    yesRatio: pct(tp + fp, judgements.length),
  };
}

/** CircularEval: a question group counts only if every one of its variants is right. */
export interface CircularMetrics {
  readonly groups: number;
  readonly correct: number;
  readonly accuracy: number;
  /** Groups with more than one variant (0 means the data had no circular variants). */
  readonly circularGroups: number;
  readonly categories: Record<string, Tally>;
}

/**
 * MMBench's CircularEval over judgements that carry a `group`: a group is correct only if
 * all its variants are (a missing variant makes it wrong). Judgements without a group are
 * their own group.
 *
 * @example
 * ```ts
 * circularMetrics(judgements).accuracy; // CircularEval accuracy in percent
 * ```
 */
export function circularMetrics(judgements: readonly Judgement[]): CircularMetrics {
  const groups = new Map<string, Judgement[]>();
  for (const j of judgements) {
    const key = j.group ?? `\u0000${j.id}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(j);
  }
  const perGroup: Judgement[] = [];
  let circularGroups = 0;
  for (const members of groups.values()) {
    if (members.length > 1) circularGroups++;
    const first = members[0] as Judgement;
    perGroup.push({ ...first, correct: members.every((m) => m.correct) });
  }
  const t = tally(perGroup);
  return { groups: t.count, correct: t.correct, accuracy: t.accuracy, circularGroups, categories: tallyByCategory(perGroup) };
}

/** The number each benchmark reports, which is also what feeds the cross-benchmark average. */
export type HeadlineMetric = 'accuracy' | 'f1' | 'img_accuracy' | 'circular_accuracy';

export const HEADLINE_METRICS: Readonly<Record<BenchmarkName, { readonly metric: HeadlineMetric; readonly description: string }>> = {
  vstar: { metric: 'accuracy', description: 'accuracy over all questions (direct_attributes and relative_position together)' },
  gqa: { metric: 'accuracy', description: 'exact-match accuracy on test-dev balanced' },
  scienceqa: { metric: 'img_accuracy', description: 'SQA-IMG: accuracy on the test questions with an image' },
  pope: { metric: 'f1', description: 'F1 (yes = positive), mean of the random, popular and adversarial splits' },
  mmbench: { metric: 'circular_accuracy', description: 'CircularEval accuracy (a question counts only if all its circular variants are right)' },
  mmstar: { metric: 'accuracy', description: 'accuracy over all questions' },
  seedbench: { metric: 'accuracy', description: 'accuracy on the image questions (SEED-IMG)' },
};

interface ScoreBase {
  readonly count: number;
  readonly correct: number;
  /** Plain accuracy over every item, in percent. */
  readonly accuracy: number;
  /** Items with no reply (counted wrong). */
  readonly missing: number;
  /** Items whose reply named no answer (counted wrong). */
  readonly unparsed: number;
  readonly categories: Record<string, Tally>;
  /** The number the benchmark reports; see `HEADLINE_METRICS`. */
  readonly headline: { readonly metric: HeadlineMetric; readonly value: number };
}

export interface PopeScore extends ScoreBase {
  readonly benchmark: 'pope';
  readonly splits: Partial<Record<PopeSplit, PopeMetrics>>;
  /** Means over the splits present (the F1 mean is the headline). */
  readonly mean: { readonly accuracy: number; readonly precision: number; readonly recall: number; readonly f1: number; readonly yesRatio: number };
}

export interface ScienceQaScore extends ScoreBase {
  readonly benchmark: 'scienceqa';
  /** The questions with an image (SQA-IMG). */
  readonly img: Tally;
}

export interface MmbenchScore extends ScoreBase {
  readonly benchmark: 'mmbench';
  readonly circular: CircularMetrics;
}

export interface PlainScore extends ScoreBase {
  readonly benchmark: 'vstar' | 'gqa' | 'mmstar' | 'seedbench';
  /** Present when the items came in circular variants (e.g. after `expandCircular`). */
  readonly circular?: CircularMetrics;
}

/** A benchmark's scores; switch on `benchmark` for the benchmark-specific parts. */
export type BenchmarkScore = PopeScore | ScienceQaScore | MmbenchScore | PlainScore;

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * Scores a benchmark from its judgements: plain and per-category accuracy for all, plus
 * POPE's per-split precision/recall/F1/yes-ratio, ScienceQA's SQA-IMG accuracy and MMBench's
 * CircularEval. Every judgement must belong to `benchmark`.
 *
 * @example
 * ```ts
 * const score = summarize('pope', items.map((item) => judge(item, replies.get(item.id))));
 * console.log(score.headline); // { metric: 'f1', value: 85.9... }
 * ```
 */
export function summarize(benchmark: BenchmarkName, judgements: readonly Judgement[]): BenchmarkScore {
  const stray = judgements.find((j) => j.benchmark !== benchmark);
  if (stray) {
    throw new SemclipError('INVALID_ARGUMENT', `Judgement ${stray.id} is for ${stray.benchmark}, not ${benchmark}.`, {
      expected: `judgements of ${benchmark} items only`,
    });
  }
  const t = tally(judgements);
  const base = {
    count: t.count,
    correct: t.correct,
    accuracy: t.accuracy,
    missing: judgements.filter((j) => j.missing).length,
    unparsed: judgements.filter((j) => !j.missing && j.predicted === null).length,
    categories: tallyByCategory(judgements),
  };
  const hasGroups = judgements.some((j) => j.group !== undefined);
  switch (benchmark) {
    case 'pope': {
      const splits: Partial<Record<PopeSplit, PopeMetrics>> = {};
      for (const s of POPE_SPLITS) {
        const js = judgements.filter((j) => j.category === s);
        if (js.length > 0) splits[s] = popeMetrics(js);
      }
      const ms = Object.values(splits);
      const m = {
        accuracy: mean(ms.map((x) => x.accuracy)),
        precision: mean(ms.map((x) => x.precision)),
        recall: mean(ms.map((x) => x.recall)),
        f1: mean(ms.map((x) => x.f1)),
        yesRatio: mean(ms.map((x) => x.yesRatio)),
      };
      return { benchmark, ...base, splits, mean: m, headline: { metric: 'f1', value: m.f1 } };
    }
    case 'scienceqa': {
      const img = tally(judgements.filter((j) => j.hasImage === true));
      return { benchmark, ...base, img, headline: { metric: 'img_accuracy', value: img.accuracy } };
    }
    case 'mmbench': {
      const circular = circularMetrics(judgements);
      return { benchmark, ...base, circular, headline: { metric: 'circular_accuracy', value: circular.accuracy } };
    }
    default:
      return {
        benchmark,
        ...base,
        ...(hasGroups && circularMetrics(judgements).circularGroups > 0 ? { circular: circularMetrics(judgements) } : {}),
        headline: { metric: 'accuracy', value: t.accuracy },
      };
  }
}

/** The cross-benchmark average of the headline numbers. */
export interface AverageScore {
  readonly value: number;
  readonly parts: readonly { readonly benchmark: BenchmarkName; readonly metric: HeadlineMetric; readonly value: number }[];
}

/**
 * The average across benchmarks as the method reports it: the mean of each benchmark's
 * headline number (`HEADLINE_METRICS`: POPE F1 mean of splits, SQA-IMG accuracy, MMBench
 * CircularEval, accuracy elsewhere). Each benchmark may appear once.
 *
 * @example
 * ```ts
 * averageScore([vstarScore, popeScore]).value;
 * ```
 */
export function averageScore(scores: readonly BenchmarkScore[]): AverageScore {
  const seen = new Set<BenchmarkName>();
  for (const s of scores) {
    if (seen.has(s.benchmark)) {
      throw new SemclipError('INVALID_ARGUMENT', `${s.benchmark} appears twice in the average.`, { expected: 'one score per benchmark' });
    }
    seen.add(s.benchmark);
  }
  const parts = scores.map((s) => ({ benchmark: s.benchmark, metric: s.headline.metric, value: s.headline.value }));
  return { value: mean(parts.map((p) => p.value)), parts };
}

/**
 * Rounds half away from zero to `digits` decimals, as papers print numbers (85.947 -> 85.9).
 * Works on the decimal string so 74.385 does not become 74.38 through binary error.
 *
 * @example
 * ```ts
 * roundTo(74.39283187927376, 2); // 74.39
 * ```
 */
export function roundTo(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const sign = value < 0 ? -1 : 1;
  const [int, frac = ''] = Math.abs(value)
    .toFixed(Math.min(digits + 6, 20))
    .split('.');
  const kept = Number(`${int}.${frac.slice(0, digits) || '0'}`);
  const up = (frac[digits] ?? '0') >= '5';
  return sign * Number((up ? kept + 10 ** -digits : kept).toFixed(digits));
}
