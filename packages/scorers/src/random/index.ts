import { SemclipError, defineScorer, mulberry32 } from '@semclip/core';
import type { RelevanceScorer } from '@semclip/core';
import { seedFrom } from '../_hash.js';

export interface RandomScorerOptions {
  /** Base seed; the same seed, question and image always give the same scores. Default 0. */
  readonly seed?: number;
}

/**
 * Uniform random scores in [0, 1): the "random sub-image" ablation. Scores depend only on
 * (seed, image content, grid, question), not on call order, so runs are reproducible and
 * resumable.
 *
 * @example
 * ```ts
 * import { createRandomScorer } from '@semclip/scorers/random';
 * const scorer = createRandomScorer({ seed: 7 });
 * const { scores } = await scorer.score({ question: 'What colour is the flag?' }, tiled);
 * ```
 */
export function createRandomScorer(options: RandomScorerOptions = {}): RelevanceScorer {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) {
    throw new SemclipError('INVALID_ARGUMENT', `Random scorer seed must be an integer, got ${String(seed)}.`, { expected: 'an integer like 0 or 42' });
  }
  return defineScorer({
    id: 'random',
    async score(query, source) {
      const start = performance.now();
      const next = mulberry32(seedFrom(seed, source.id, source.gridKey, query.question));
      const scores = source.grid.tiles.map(() => next());
      return {
        scorer: 'random',
        scores,
        timings: { preprocess: 0, encode: 0, score: performance.now() - start },
        meta: { seed },
      };
    },
    dispose() {},
  });
}
