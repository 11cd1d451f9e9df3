import { SemclipError } from '@semclip/core';
import type { RankedTile, SelectedRegion, Selection, SelectionStrategy, Tile, TileGrid, TokenAccounting } from '@semclip/core';
import { buildRegions } from './_merge.js';
import { resolveSelectOptions } from './_options.js';
import type { SelectOptions } from './_options.js';
import { assertFiniteScores, rankIndices, scoresOf } from './_rank.js';
import type { ScoresInput } from './_rank.js';

function fmt(n: number): string {
  return String(Number(n.toPrecision(3)));
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function checkGrid(grid: TileGrid): readonly Tile[] {
  if (typeof grid !== 'object' || grid === null || !Array.isArray(grid.tiles)) {
    throw new SemclipError('INVALID_GRID', 'select() needs the grid the scores were computed on.', {
      expected: 'a TileGrid (tiledImage.grid from @semclip/tiling)',
    });
  }
  if (grid.tiles.length === 0) {
    throw new SemclipError('INVALID_GRID', 'The grid has no tiles, so there is nothing to select.', { expected: 'a grid with at least one tile, like 2x2' });
  }
  grid.tiles.forEach((t, i) => {
    if (t.index !== i) {
      throw new SemclipError('INVALID_GRID', `Tile at position ${i} says its index is ${t.index}.`, {
        expected: 'tiles listed in index order, as computeGrid/tileImage produce them',
      });
    }
  });
  return grid.tiles;
}

function ancestorsOf(index: number, tiles: readonly Tile[]): Set<number> {
  const out = new Set<number>();
  let parent = tiles[index]?.parent;
  while (parent !== undefined && !out.has(parent)) {
    out.add(parent);
    parent = tiles[parent]?.parent;
  }
  return out;
}

/**
 * Chooses which sub-images the VLM sees next to the overview.
 *
 * - **top-k** (default, `k: 1`): the `k` best tiles of the chosen level.
 * - **adaptive**: every tile scoring at least `best - margin` and at least `threshold`,
 *   best first, up to `maxTiles`; none = `kind: 'overview-only'`.
 *
 * Ties are broken by the lower tile index. With a `budget`, the overview (if included) is
 * paid first and the regions are capped to what is left. Scores are in the scorer's own
 * units; only their order matters for top-k.
 *
 * Throws `INVALID_ARGUMENT` (bad options, or scores not aligned with the tiles),
 * `MODEL_OUTPUT_INVALID` (NaN or infinite score), `INVALID_GRID` (no tiles at that level)
 * and `BUDGET_EXCEEDED` (the budget cannot pay for one image).
 *
 * @example
 * ```ts
 * import { tileImage } from '@semclip/tiling';
 * import { createRandomScorer } from '@semclip/scorers/random';
 * import { select } from '@semclip/selector';
 *
 * const tiled = await tileImage('street.jpg', { grid: '2x2' });
 * const scorer = createRandomScorer({ seed: 1 });
 * const scores = await scorer.score({ question: 'What is the wait time?' }, tiled);
 *
 * const selection = select(scores, tiled.grid, { k: 1, budget: 1152 });
 * selection.kind;            // 'regions'
 * selection.regions[0].box;  // where to crop, in original pixels
 * selection.tokens.used;     // 1152 = overview + 1 region at 576 tokens each
 * selection.reason;          // one sentence for people
 * ```
 */
export function select(scores: ScoresInput, grid: TileGrid, options: SelectOptions = {}): Selection {
  const opts = resolveSelectOptions(options);
  const values = scoresOf(scores);
  const tiles = checkGrid(grid);
  if (values.length !== tiles.length) {
    throw new SemclipError('INVALID_ARGUMENT', `Got ${plural(values.length, 'score')} for a grid of ${plural(tiles.length, 'tile')}.`, {
      expected: 'exactly one score per tile, in the order of grid.tiles',
      hint: 'Score the same TileSource whose grid you pass to select()',
      details: { scores: values.length, tiles: tiles.length },
    });
  }
  assertFiniteScores(values);

  const candidates = opts.level === 'any' ? tiles : tiles.filter((t) => t.level === opts.level);
  if (candidates.length === 0) {
    const levels = [...new Set(tiles.map((t) => t.level))].sort((a, b) => a - b);
    throw new SemclipError('INVALID_GRID', `The grid has no level-${String(opts.level)} tiles.`, {
      expected: `a level the grid has: ${levels.join(', ')} (or "any")`,
      hint: 'Tile with levels: 2 (CLI: --levels 2) to get level-2 tiles',
      details: { levels },
    });
  }
  const ranking: RankedTile[] = rankIndices(
    values,
    candidates.map((t) => t.index),
  );
  const best = ranking[0] as RankedTile;

  const per = opts.tokensPerImage;
  const overviewImages = opts.includeOverview ? 1 : 0;
  const overviewCost = overviewImages * opts.overviewTokens;
  const slots = opts.budget === null ? Infinity : Math.floor((opts.budget - overviewCost) / per);
  const requested = opts.mode === 'top-k' ? opts.k : (opts.maxTiles ?? candidates.length);
  const limit = Math.min(requested, slots);

  const picked: number[] = [];
  const blocked = new Set<number>();
  let passing = 0;
  for (const r of ranking) {
    if (opts.mode === 'adaptive' && !(r.score >= best.score - opts.margin && r.score >= opts.threshold)) break;
    if (blocked.has(r.index)) continue;
    passing++;
    if (picked.length >= limit) continue;
    picked.push(r.index);
    if (opts.level === 'any') {
      // A tile and its ancestors/descendants cover the same pixels: picking both would
      // pay twice for one region, so the better-ranked one wins.
      for (const a of ancestorsOf(r.index, tiles)) blocked.add(a);
      for (const t of tiles) if (ancestorsOf(t.index, tiles).has(r.index)) blocked.add(t.index);
    }
  }
  let forcedBest = false;
  if (picked.length === 0 && !opts.includeOverview) {
    // Without the overview the VLM must see something: the best tile, even below the threshold.
    picked.push(best.index);
    forcedBest = true;
  }

  const regions: SelectedRegion[] = buildRegions(picked, tiles, values, opts.merge);
  const images = overviewImages + regions.length;
  const tokens: TokenAccounting = {
    perImage: per,
    overview: opts.overviewTokens,
    images,
    used: overviewCost + regions.length * per,
    budget: opts.budget,
    baseline: opts.overviewTokens,
    allTiles: opts.overviewTokens + per * candidates.length,
  };
  const strategy: SelectionStrategy =
    opts.mode === 'top-k'
      ? { mode: 'top-k', k: opts.k }
      : { mode: 'adaptive', margin: opts.margin, threshold: opts.threshold, maxTiles: opts.maxTiles ?? candidates.length };

  const pool =
    opts.level === 'any'
      ? `${plural(candidates.length, 'tile')} of all levels`
      : `${plural(candidates.length, 'tile')}${grid.levels > 1 ? ` of level ${opts.level}` : ''}`;
  const cost = opts.includeOverview
    ? `the VLM sees the overview plus ${plural(regions.length, 'region')} = ${tokens.used} visual tokens (overview only: ${tokens.baseline}; all tiles: ${tokens.allTiles})`
    : `the VLM sees ${plural(regions.length, 'region')} without the overview = ${tokens.used} visual tokens`;
  const budgetCut = opts.budget !== null && slots < requested && passing > slots;
  const mergeNote = opts.merge && regions.length < picked.length ? `, merged into ${plural(regions.length, 'region')}` : '';

  let reason: string;
  if (picked.length === 0) {
    if (opts.mode === 'top-k' && opts.k === 0) reason = `k is 0, so the VLM sees only the overview (${tokens.used} visual tokens).`;
    else if (slots <= 0 && (opts.mode === 'top-k' || passing > 0))
      reason = `The ${opts.budget}-token budget pays only for the overview (${opts.overviewTokens} tokens; a region costs ${per}), so no tile was added.`;
    else if (opts.mode === 'adaptive' && opts.maxTiles === 0) reason = `maxTiles is 0, so the VLM sees only the overview (${tokens.used} visual tokens).`;
    else
      reason = `No tile scored at least the threshold ${fmt(opts.threshold)} (best: tile ${best.index} at ${fmt(best.score)}), so the VLM sees only the overview (${tokens.used} visual tokens).`;
  } else if (forcedBest) {
    reason = `No tile scored at least the threshold ${fmt(opts.threshold)}, but the overview is excluded, so the best of ${pool} (tile ${best.index} at ${fmt(best.score)}) was kept; ${cost}.`;
  } else if (opts.mode === 'top-k') {
    const what =
      picked.length === 1
        ? `the best of ${pool} (tile ${best.index} at ${fmt(best.score)})`
        : `the top ${picked.length} of ${pool} (best: tile ${best.index} at ${fmt(best.score)})`;
    const note = budgetCut
      ? ` (k=${opts.k} cut to ${picked.length} by the ${opts.budget}-token budget)`
      : opts.k > candidates.length
        ? ` (k=${opts.k} is more than the ${plural(candidates.length, 'tile')}, so all were kept)`
        : '';
    reason = `Kept ${what}${note}${mergeNote}; ${cost}.`;
  } else {
    const cap = budgetCut
      ? `, cut from ${passing} to ${picked.length} by the ${opts.budget}-token budget`
      : passing > picked.length
        ? `, capped from ${passing} to ${picked.length} by maxTiles`
        : '';
    reason = `Kept ${plural(picked.length, 'tile')} of ${pool} scoring within ${fmt(opts.margin)} of the best (tile ${best.index} at ${fmt(best.score)}) and at least ${fmt(opts.threshold)}${cap}${mergeNote}; ${cost}.`;
  }

  const rest = { includeOverview: opts.includeOverview, scores: [...values], ranking, strategy, tokens, reason };
  // kind and regions first: they are what a reader of the JSON wants to see.
  return regions.length === 0 ? { kind: 'overview-only', regions: [], ...rest } : { kind: 'regions', regions, ...rest };
}
