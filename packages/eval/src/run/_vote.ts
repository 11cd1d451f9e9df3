/** One tile's answer, as majority vote and the oracle see it. */
export interface TileAnswer {
  /** Level-1 tile index. */
  readonly tile: number;
  readonly predicted: string | null;
  readonly correct: boolean;
}

/**
 * Majority vote over per-tile answers. Answers that name nothing (`null`) do not vote.
 * Ties go to the tied answer given by the lowest-index tile (row-major, top-left first), so
 * the vote needs no extra VLM call and no scorer. No votes at all gives `null`.
 *
 * @example
 * ```ts
 * majorityVote([
 *   { tile: 0, predicted: 'B', correct: false },
 *   { tile: 1, predicted: 'A', correct: true },
 *   { tile: 2, predicted: 'A', correct: true },
 *   { tile: 3, predicted: 'C', correct: false },
 * ]); // { predicted: 'A', votes: { B: 1, A: 2, C: 1 } }
 * ```
 */
export function majorityVote(answers: readonly TileAnswer[]): { predicted: string | null; votes: Record<string, number> } {
  const votes: Record<string, number> = {};
  const first = new Map<string, number>();
  for (const a of [...answers].sort((x, y) => x.tile - y.tile)) {
    if (a.predicted === null) continue;
    votes[a.predicted] = (votes[a.predicted] ?? 0) + 1;
    if (!first.has(a.predicted)) first.set(a.predicted, a.tile);
  }
  let best: string | null = null;
  for (const [answer, n] of Object.entries(votes)) {
    if (best === null) {
      best = answer;
      continue;
    }
    const bn = votes[best] ?? 0;
    if (n > bn || (n === bn && (first.get(answer) ?? Infinity) < (first.get(best) ?? Infinity))) best = answer;
  }
  return { predicted: best, votes };
}
