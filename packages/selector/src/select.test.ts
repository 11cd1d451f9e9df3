import { describe, expect, it } from 'vitest';
import type { Selection, Tile, TileGrid } from '@semclip/core';
import { defineSelectOptions, rankTiles, select } from './index.js';
import type { SelectOptions } from './index.js';

/** A rows x cols grid over a 100*cols x 100*rows image; levels=2 splits every tile 2x2 (children after parents). */
function grid(rows: number, cols: number, levels = 1): TileGrid {
  const tiles: Tile[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      tiles.push({ index: tiles.length, row: r, col: c, level: 1, box: { x: c * 100, y: r * 100, width: 100, height: 100 } });
    }
  }
  if (levels === 2) {
    const parents = [...tiles];
    for (const p of parents) {
      for (let r = 0; r < 2; r++) {
        for (let c = 0; c < 2; c++) {
          tiles.push({
            index: tiles.length,
            row: p.row * 2 + r,
            col: p.col * 2 + c,
            level: 2,
            parent: p.index,
            box: { x: p.box.x + c * 50, y: p.box.y + r * 50, width: 50, height: 50 },
          });
        }
      }
    }
  }
  return { image: { width: cols * 100, height: rows * 100 }, rows, cols, overlap: 0, levels, tiles };
}

const regionTiles = (s: Selection) => s.regions.map((r) => r.tiles);

describe('rankTiles', () => {
  it.each([
    ['distinct scores', [0.1, 0.9, 0.5], [1, 2, 0]],
    ['a tie keeps the lower index first', [0.5, 0.9, 0.9, 0.1], [1, 2, 0, 3]],
    ['all equal = index order', [0.3, 0.3, 0.3, 0.3], [0, 1, 2, 3]],
    ['negative scores', [-2, -1, -3], [1, 0, 2]],
    ['a single tile', [7], [0]],
  ] as const)('orders %s', (_name, scores, order) => {
    const ranking = rankTiles(scores);
    expect(ranking.map((r) => r.index)).toEqual(order);
    expect(ranking.map((r) => r.rank)).toEqual(order.map((_, i) => i + 1));
    for (const r of ranking) expect(r.score).toBe(scores[r.index]);
  });

  it('accepts a scorer result', () => {
    expect(rankTiles({ scores: [0, 1] }).map((r) => r.index)).toEqual([1, 0]);
  });

  it.each([[NaN], [Infinity], [-Infinity]])('rejects a %s score as MODEL_OUTPUT_INVALID', (bad) => {
    expect(() => rankTiles([0.1, bad, 0.2])).toThrowError(
      expect.objectContaining({ code: 'MODEL_OUTPUT_INVALID', message: expect.stringContaining('Score 1') }),
    );
  });
});

describe('select: top-k', () => {
  const g = grid(2, 2);

  it.each([
    ['k=1 (default) keeps the best tile', [0.1, 0.8, 0.3, 0.2], {}, [[1]]],
    ['k=2 keeps the two best, best first', [0.1, 0.8, 0.3, 0.2], { k: 2 }, [[1], [2]]],
    ['a tie goes to the lower index', [0.5, 0.9, 0.9, 0.9], { k: 2 }, [[1], [2]]],
    ['an all-equal tie picks tile 0', [0, 0, 0, 0], { k: 1 }, [[0]]],
    ['k larger than the tiles keeps them all', [0.4, 0.3, 0.2, 0.1], { k: 10 }, [[0], [1], [2], [3]]],
  ] as const)('%s', (_name, scores, options, expected) => {
    const s = select(scores, g, options);
    expect(s.kind).toBe('regions');
    expect(regionTiles(s)).toEqual(expected);
    expect(s.strategy).toEqual({ mode: 'top-k', k: (options as { k?: number }).k ?? 1 });
    expect(s.scores).toEqual(scores);
    expect(s.ranking).toHaveLength(4);
  });

  it('gives each region its tile box and score', () => {
    const s = select([0.1, 0.2, 0.9, 0.3], g);
    expect(s.regions).toEqual([{ tiles: [2], box: { x: 0, y: 100, width: 100, height: 100 }, score: 0.9 }]);
  });

  it('says k larger than the tiles in the reason', () => {
    expect(select([0.4, 0.3, 0.2, 0.1], g, { k: 9 }).reason).toContain('k=9 is more than the 4 tiles');
  });

  it('k=0 is overview only', () => {
    const s = select([0.4, 0.3, 0.2, 0.1], g, { k: 0 });
    expect(s.kind).toBe('overview-only');
    expect(s.regions).toEqual([]);
    expect(s.tokens).toMatchObject({ images: 1, used: 576 });
    expect(s.reason).toMatch(/^k is 0/);
  });

  it('is deterministic for the same input', () => {
    const scores = [0.25, 0.75, 0.75, 0.5];
    expect(select(scores, g, { k: 2 })).toEqual(select(scores, g, { k: 2 }));
  });

  it('does not keep a reference to the caller scores', () => {
    const scores = [0.1, 0.9, 0.2, 0.3];
    const s = select(scores, g);
    scores[0] = 5;
    expect(s.scores[0]).toBe(0.1);
  });
});

describe('select: token accounting and budget', () => {
  const g = grid(2, 2);
  const scores = [0.4, 0.9, 0.2, 0.7];

  it.each([
    ['no budget, k=1', { k: 1 }, { images: 2, used: 1152, budget: null }, [[1]]],
    ['budget pays exactly for overview + 2', { k: 3, budget: 1728 }, { images: 3, used: 1728, budget: 1728 }, [[1], [3]]],
    ['budget rounds down to whole images', { k: 3, budget: 1727 }, { images: 2, used: 1152, budget: 1727 }, [[1]]],
    ['budget larger than needed', { k: 1, budget: 100000 }, { images: 2, used: 1152, budget: 100000 }, [[1]]],
    ['custom tokens per image', { k: 2, tokensPerImage: 100, budget: 250 }, { perImage: 100, images: 2, used: 200 }, [[1]]],
    ['without the overview the budget pays regions only', { k: 2, includeOverview: false, budget: 1152 }, { images: 2, used: 1152 }, [[1], [3]]],
  ] as const)('%s', (_name, options, tokens, expected) => {
    const s = select(scores, g, options as SelectOptions);
    expect(s.tokens).toMatchObject(tokens);
    expect(s.tokens.baseline).toBe(s.tokens.perImage);
    expect(s.tokens.allTiles).toBe(s.tokens.perImage * 5);
    expect(regionTiles(s)).toEqual(expected);
    if (s.tokens.budget !== null) expect(s.tokens.used).toBeLessThanOrEqual(s.tokens.budget);
  });

  it('prices the overview apart when it costs more than a region (size-dependent models)', () => {
    // Qwen2-VL-like: overview 888 tokens, a tile 294. 1500 pays for the overview + 2 tiles, not 5 images of 294.
    const s = select(scores, g, { k: 4, budget: 1500, tokensPerImage: 294, overviewTokens: 888 });
    expect(s.regions).toHaveLength(2);
    expect(s.tokens).toMatchObject({ perImage: 294, overview: 888, used: 888 + 2 * 294, baseline: 888, allTiles: 888 + 4 * 294 });
    expect(s.tokens.used).toBeLessThanOrEqual(1500);
    expect(() => select(scores, g, { budget: 800, tokensPerImage: 294, overviewTokens: 888 })).toThrow(/cannot pay even for the overview, which costs 888/);
  });

  it('says when the budget cut k', () => {
    expect(select(scores, g, { k: 3, budget: 1152 }).reason).toContain('k=3 cut to 1 by the 1152-token budget');
  });

  it('a budget that pays only for the overview gives overview-only', () => {
    const s = select(scores, g, { k: 2, budget: 1000 });
    expect(s.kind).toBe('overview-only');
    expect(s.tokens).toMatchObject({ images: 1, used: 576, budget: 1000 });
    expect(s.reason).toContain('1000-token budget pays only for the overview');
  });

  it.each([
    ['with the overview', { budget: 575 }, /cannot pay even for the overview, which costs 576/],
    ['without the overview', { budget: 100, includeOverview: false }, /cannot pay for a single region/],
    ['zero', { budget: 0 }, /budget of 0 visual tokens/],
  ] as const)('a budget smaller than one image is BUDGET_EXCEEDED (%s)', (_name, options, message) => {
    expect(() => select(scores, g, options)).toThrowError(expect.objectContaining({ code: 'BUDGET_EXCEEDED', message: expect.stringMatching(message) }));
  });

  it('excluding the overview sends regions only', () => {
    const s = select(scores, g, { k: 1, includeOverview: false });
    expect(s.includeOverview).toBe(false);
    expect(s.tokens).toMatchObject({ images: 1, used: 576 });
    expect(s.reason).toContain('without the overview');
  });
});

describe('select: adaptive', () => {
  const g = grid(2, 2);
  const adaptive = (o: Omit<Extract<SelectOptions, { mode: 'adaptive' }>, 'mode'> = {}): SelectOptions => ({ mode: 'adaptive', ...o });

  it.each([
    ['keeps tiles within the margin of the best', [0.9, 0.85, 0.5, 0.82], { margin: 0.1 }, [[0], [1], [3]]],
    ['margin 0 keeps only the best (and exact ties)', [0.9, 0.9, 0.5, 0.2], { margin: 0 }, [[0], [1]]],
    ['the threshold drops tiles inside the margin', [0.9, 0.85, 0.5, 0.82], { margin: 0.1, threshold: 0.84 }, [[0], [1]]],
    ['maxTiles caps, best first', [0.9, 0.85, 0.5, 0.82], { margin: 0.1, maxTiles: 2 }, [[0], [1]]],
    ['equal scores all pass', [0.5, 0.5, 0.5, 0.5], { margin: 0 }, [[0], [1], [2], [3]]],
    ['negative scores with a negative threshold', [-0.2, -0.1, -0.9, -0.15], { margin: 0.06, threshold: -1 }, [[1], [3]]],
  ] as const)('%s', (_name, scores, options, expected) => {
    const s = select(scores, g, adaptive(options));
    expect(s.kind).toBe('regions');
    expect(regionTiles(s)).toEqual(expected);
    expect(s.strategy).toMatchObject({ mode: 'adaptive', margin: options.margin });
  });

  it.each([
    ['the best is below the threshold', [0.1, 0.2, 0.15, 0.05], { threshold: 0.5 }, /No tile scored at least the threshold 0.5 \(best: tile 1 at 0.2\)/],
    ['maxTiles is 0', [0.1, 0.9, 0.15, 0.05], { maxTiles: 0 }, /maxTiles is 0/],
    ['the budget pays only for the overview', [0.1, 0.9, 0.15, 0.05], { budget: 576 }, /budget pays only for the overview/],
  ] as const)('zero tiles = overview-only when %s', (_name, scores, options, reason) => {
    const s = select(scores, g, adaptive(options));
    expect(s.kind).toBe('overview-only');
    expect(s.regions).toEqual([]);
    expect(s.tokens.used).toBe(576);
    expect(s.reason).toMatch(reason);
  });

  it('keeps the best tile anyway when the overview is excluded', () => {
    const s = select([0.1, 0.2, 0.15, 0.05], g, adaptive({ threshold: 0.5, includeOverview: false }));
    expect(regionTiles(s)).toEqual([[1]]);
    expect(s.reason).toContain('the overview is excluded');
  });

  it('says when the budget cut the tiles that passed', () => {
    const s = select([0.9, 0.89, 0.88, 0.87], g, adaptive({ budget: 1728 }));
    expect(regionTiles(s)).toEqual([[0], [1]]);
    expect(s.reason).toContain('cut from 4 to 2 by the 1728-token budget');
  });

  it('defaults: margin 0.1, threshold 0, every tile', () => {
    expect(select([0.5, 0.45, 0.3, 0.1], g, adaptive()).strategy).toEqual({ mode: 'adaptive', margin: 0.1, threshold: 0, maxTiles: 4 });
  });
});

describe('select: merging', () => {
  // 3x3 grid, tile index = r*3+c:
  // 0 1 2
  // 3 4 5
  // 6 7 8
  const g = grid(3, 3);
  const pick = (tiles: number[], order = tiles): number[] => {
    // Scores so that exactly `tiles` are in the top-k, ranked in `order`.
    const scores = Array.from({ length: 9 }, () => 0);
    order.forEach((t, i) => (scores[t] = 1 - i * 0.01));
    return scores;
  };

  it.each([
    ['a horizontal pair becomes one region', [0, 1], [[0, 1]], [{ x: 0, y: 0, width: 200, height: 100 }]],
    ['a vertical pair becomes one region', [4, 7], [[4, 7]], [{ x: 100, y: 100, width: 100, height: 200 }]],
    ['a 2x2 block becomes one region', [0, 1, 3, 4], [[0, 1, 3, 4]], [{ x: 0, y: 0, width: 200, height: 200 }]],
    ['a diagonal pair is not 4-connected', [0, 4], [[0], [4]], undefined],
    ['two separate tiles stay apart', [0, 8], [[0], [8]], undefined],
    ['an L of three: rectangle with the best tile, then the rest', [0, 1, 3], [[0, 1], [3]], undefined],
    ['a full row of three', [3, 4, 5], [[3, 4, 5]], [{ x: 0, y: 100, width: 300, height: 100 }]],
    ['a plus shape: of two equal bars the top-most wins', [4, 1, 3, 5, 7], [[1, 4, 7], [3], [5]], undefined],
  ] as const)('%s', (_name, tiles, expected, boxes) => {
    const s = select(pick([...tiles]), g, { k: tiles.length, merge: true });
    expect(regionTiles(s)).toEqual(expected);
    if (boxes) expect(s.regions.map((r) => r.box)).toEqual(boxes);
    expect(s.tokens.images).toBe(1 + expected.length);
    expect(s.regions.flatMap((r) => r.tiles).sort()).toEqual([...tiles].sort());
  });

  it('a merged region scores as its best tile', () => {
    const s = select(pick([1, 0]), g, { k: 2, merge: true });
    expect(s.regions[0]).toMatchObject({ tiles: [0, 1], score: 1 });
    expect(s.reason).toContain('merged into 1 region');
  });

  it('without merge, adjacent tiles stay separate regions', () => {
    expect(regionTiles(select(pick([0, 1]), g, { k: 2 }))).toEqual([[0], [1]]);
  });

  it('merges overlapping tiles by grid position, box = union', () => {
    const overlapping: TileGrid = {
      image: { width: 180, height: 100 },
      rows: 1,
      cols: 2,
      overlap: 0.2,
      levels: 1,
      tiles: [
        { index: 0, row: 0, col: 0, level: 1, box: { x: 0, y: 0, width: 100, height: 100 } },
        { index: 1, row: 0, col: 1, level: 1, box: { x: 80, y: 0, width: 100, height: 100 } },
      ],
    };
    expect(select([1, 1], overlapping, { k: 2, merge: true }).regions).toEqual([{ tiles: [0, 1], box: { x: 0, y: 0, width: 180, height: 100 }, score: 1 }]);
  });

  it('merges level-2 tiles of neighbouring parents', () => {
    const g2 = grid(1, 2, 2); // tiles 0,1 level 1; 2..5 children of 0; 6..9 children of 1
    const scores = Array.from({ length: 10 }, () => 0);
    scores[3] = 1; // top-right child of tile 0, x=50
    scores[6] = 0.9; // top-left child of tile 1, x=100
    const s = select(scores, g2, { k: 2, level: 2, merge: true });
    expect(s.regions).toEqual([{ tiles: [3, 6], box: { x: 50, y: 0, width: 100, height: 50 }, score: 1 }]);
  });
});

describe('select: multi-level grids', () => {
  const g = grid(1, 2, 2); // 0,1 level 1; 2-5 children of 0; 6-9 children of 1

  it('ranks level 1 by default', () => {
    const scores = [0.1, 0.2, 0.9, 0, 0, 0, 0, 0, 0, 0];
    const s = select(scores, g);
    expect(regionTiles(s)).toEqual([[1]]);
    expect(s.ranking.map((r) => r.index)).toEqual([1, 0]);
    expect(s.tokens.allTiles).toBe(576 * 3);
  });

  it('level 2 ranks only level-2 tiles', () => {
    const scores = [1, 1, 0.1, 0.9, 0, 0, 0, 0.3, 0, 0];
    const s = select(scores, g, { level: 2, k: 2 });
    expect(regionTiles(s)).toEqual([[3], [7]]);
    expect(s.ranking).toHaveLength(8);
  });

  it('level "any" never picks a tile together with its parent or child', () => {
    // best: parent 0 (1.0), then its child 2 (0.95, blocked), then tile 1's child 6 (0.9, blocks tile 1),
    // then tile 1 (0.8, blocked), then the zeros: 3-5 are children of 0 (blocked), 7 is a sibling of 6 (allowed)
    const scores = [1, 0.8, 0.95, 0, 0, 0, 0.9, 0, 0, 0];
    const s = select(scores, g, { level: 'any', k: 3 });
    expect(regionTiles(s)).toEqual([[0], [6], [7]]);
    expect(s.tokens.allTiles).toBe(576 * 11);
  });

  it('an unknown level is INVALID_GRID naming the levels there are', () => {
    expect(() => select([0.1, 0.2, 0.3, 0.4], grid(2, 2), { level: 2 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_GRID', message: expect.stringContaining('a level the grid has: 1') }),
    );
  });
});

describe('select: input validation', () => {
  const g = grid(2, 2);

  it.each([
    ['fewer scores than tiles', [0.1, 0.2, 0.3], 'INVALID_ARGUMENT', 'Got 3 scores for a grid of 4 tiles'],
    ['more scores than tiles', [0.1, 0.2, 0.3, 0.4, 0.5], 'INVALID_ARGUMENT', 'Got 5 scores'],
    ['a NaN score', [0.1, NaN, 0.3, 0.4], 'MODEL_OUTPUT_INVALID', 'Score 1 is NaN'],
    ['an infinite score', [0.1, 0.2, Infinity, 0.4], 'MODEL_OUTPUT_INVALID', 'Score 2 is Infinity'],
    ['a string score', [0.1, 0.2, '0.3' as unknown as number, 0.4], 'MODEL_OUTPUT_INVALID', 'the string "0.3"'],
  ] as const)('rejects %s', (_name, scores, code, message) => {
    expect(() => select(scores, g)).toThrowError(expect.objectContaining({ code, message: expect.stringContaining(message) }));
  });

  it.each([
    ['k < 0', { k: -1 }, 'k must be an integer of at least 0'],
    ['k not an integer', { k: 1.5 }, 'k must be an integer'],
    ['k NaN', { k: NaN }, 'k must be an integer'],
    ['negative margin', { mode: 'adaptive', margin: -0.1 }, 'margin must not be negative'],
    ['infinite threshold', { mode: 'adaptive', threshold: -Infinity }, 'threshold must be a finite number'],
    ['k in adaptive mode', { mode: 'adaptive', k: 2 }, 'k applies to top-k selection only'],
    ['margin in top-k mode', { margin: 0.1 }, 'apply to adaptive selection only'],
    ['an unknown mode', { mode: 'best' }, 'Unknown selection mode "best"'],
    ['a fractional budget', { budget: 1000.5 }, 'budget must be an integer'],
    ['zero tokens per image', { tokensPerImage: 0 }, 'tokensPerImage must be an integer of at least 1'],
    ['level 0', { level: 0 }, 'level must be an integer of at least 1'],
    ['k=0 without the overview', { k: 0, includeOverview: false }, 'would see no image at all'],
  ] as const)('rejects %s as INVALID_ARGUMENT', (_name, options, message) => {
    expect(() => select([0.1, 0.2, 0.3, 0.4], g, options as SelectOptions)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) }),
    );
  });

  it('rejects a grid without tiles', () => {
    expect(() => select([], { ...g, tiles: [] })).toThrowError(expect.objectContaining({ code: 'INVALID_GRID' }));
  });

  it('defineSelectOptions validates early and returns the options unchanged', () => {
    const o = defineSelectOptions({ mode: 'adaptive', margin: 0.05 });
    expect(o).toEqual({ mode: 'adaptive', margin: 0.05 });
    expect(() => defineSelectOptions({ k: -2 })).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => defineSelectOptions({ budget: 10 })).toThrowError(expect.objectContaining({ code: 'BUDGET_EXCEEDED' }));
  });
});

describe('select: explains itself', () => {
  it('has a one-sentence reason with the tokens', () => {
    const s = select([0.1, 0.8, 0.3, 0.2], grid(2, 2));
    expect(s.reason).toBe(
      'Kept the best of 4 tiles (tile 1 at 0.8); the VLM sees the overview plus 1 region = 1152 visual tokens (overview only: 576; all tiles: 2880).',
    );
    expect(s.reason.split('. ').length).toBe(1);
  });

  it('is plain JSON (round-trips unchanged)', () => {
    const s = select([0.1, 0.8, 0.3, 0.2], grid(2, 2), { mode: 'adaptive', margin: 0.6 });
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
