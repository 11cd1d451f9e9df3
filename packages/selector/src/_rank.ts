import { SemclipError } from '@semclip/core';
import type { RankedTile, TileScores } from '@semclip/core';

/** Scores as a plain array, or a scorer's whole result. */
export type ScoresInput = readonly number[] | Pick<TileScores, 'scores'>;

export function scoresOf(input: ScoresInput): readonly number[] {
  if (Array.isArray(input)) return input as readonly number[];
  if (typeof input === 'object' && input !== null && Array.isArray((input as TileScores).scores)) {
    return (input as TileScores).scores;
  }
  throw new SemclipError('INVALID_ARGUMENT', `Scores must be an array of numbers or a scorer result, got ${describe(input)}.`, {
    expected: 'one finite number per tile, e.g. [0.12, 0.87, 0.33, 0.05], or the object a scorer returns',
  });
}

/** Every score must be a finite number: a NaN would sort anywhere and silently pick a wrong tile. */
export function assertFiniteScores(scores: readonly unknown[]): asserts scores is readonly number[] {
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (typeof s !== 'number' || !Number.isFinite(s)) {
      throw new SemclipError('MODEL_OUTPUT_INVALID', `Score ${i} is ${describe(s)}; every tile score must be a finite number.`, {
        hint: 'The scorer produced an invalid output (often a model that was exported or quantised badly); try --scorer random to check the rest of the pipeline',
        details: { index: i, value: String(s) },
      });
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : typeof value;
}

/** Higher score first; equal scores keep the lower tile index first, so ties never depend on sort stability. */
export function compareRanked(a: { score: number; index: number }, b: { score: number; index: number }): number {
  return b.score - a.score || a.index - b.index;
}

/**
 * Ranks tiles by score, best first. Ranks are 1-based and distinct: equal scores are
 * ordered by the lower tile index, so the same scores always give the same ranking.
 *
 * Throws `MODEL_OUTPUT_INVALID` when a score is NaN or infinite.
 *
 * @example
 * ```ts
 * import { rankTiles } from '@semclip/selector';
 *
 * rankTiles([0.2, 0.9, 0.9, 0.1]);
 * // [{ index: 1, score: 0.9, rank: 1 }, { index: 2, score: 0.9, rank: 2 },
 * //  { index: 0, score: 0.2, rank: 3 }, { index: 3, score: 0.1, rank: 4 }]
 * ```
 */
export function rankTiles(scores: ScoresInput): RankedTile[] {
  const values = scoresOf(scores);
  assertFiniteScores(values);
  return rankIndices(
    values,
    values.map((_, i) => i),
  );
}

/** Ranks a subset of tiles (one level of a multi-level grid). */
export function rankIndices(scores: readonly number[], indices: readonly number[]): RankedTile[] {
  return indices
    .map((index) => ({ index, score: scores[index] as number }))
    .sort(compareRanked)
    .map((t, i) => ({ index: t.index, score: t.score, rank: i + 1 }));
}
