/**
 * Which evaluated items a trained scorer learnt from. A head trained on the items it is then
 * evaluated on looks better than it is; the engine reports the overlap before it runs.
 */
import type { BenchmarkItem, RelevanceScorer } from '@semclip/core';

/** What a trained scorer and this run's items have in common (`RunSummary.trainingOverlap`). */
export interface TrainingOverlap {
  readonly scorer: string;
  /** What the scorer records of its training data; `null` when it does not record its items. */
  readonly trainedOn: { readonly benchmark: string; readonly split: string | null; readonly items: number } | null;
  /** Items of this run the scorer was trained on (0 when it was trained on another benchmark). */
  readonly overlapping: number;
  /** The first few of them (at most 5), in data order. */
  readonly examples: readonly string[];
  /** What to tell the user, or `null` when there is nothing to say. */
  readonly warning: string | null;
}

/** `null` for scorers that were not trained on benchmark items. */
export function trainingOverlap(scorer: RelevanceScorer, benchmark: string, items: readonly BenchmarkItem[]): TrainingOverlap | null {
  const on = scorer.trainedOn;
  if (on === undefined) return null;
  if (on === null) {
    return {
      scorer: scorer.id,
      trainedOn: null,
      overlapping: 0,
      examples: [],
      warning:
        `The ${scorer.id} scorer does not record which items it was trained on (a head from an older version), so its overlap with the ` +
        `${items.length} items evaluated here cannot be checked. Train the head again to record them.`,
    };
  }
  const trained = new Set(on.items);
  const hits = on.benchmark === benchmark ? items.filter((item) => trained.has(item.id)).map((item) => item.id) : [];
  const split = on.split === null ? '' : ` ${on.split} split`;
  return {
    scorer: scorer.id,
    trainedOn: { benchmark: on.benchmark, split: on.split, items: trained.size },
    overlapping: hits.length,
    examples: hits.slice(0, 5),
    warning:
      hits.length === 0
        ? null
        : `The ${scorer.id} scorer was trained on ${hits.length} of the ${items.length} items evaluated here (${on.benchmark}${split}; ` +
          `e.g. ${hits.slice(0, 3).join(', ')}), so its results on them overstate how well it does on unseen questions. ` +
          'Evaluate on items it was not trained on (another split), or train the head on a split you do not evaluate.',
  };
}
