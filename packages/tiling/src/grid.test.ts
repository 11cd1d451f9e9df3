import { describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import type { Box, GridSpec, TileGrid } from '@semclip/core';
import { chooseAutoGrid, computeGrid, gridKeyOf, parseGrid } from './index.js';

/** How many tiles cover each pixel; a Uint16 map of the image. */
function coverage(grid: TileGrid, level = 1): Uint16Array {
  const { width, height } = grid.image;
  const map = new Uint16Array(width * height);
  for (const t of grid.tiles.filter((x) => x.level === level)) {
    for (let y = t.box.y; y < t.box.y + t.box.height; y++) {
      for (let x = t.box.x; x < t.box.x + t.box.width; x++) map[y * width + x]!++;
    }
  }
  return map;
}

function inside(box: Box, outer: Box): boolean {
  return box.x >= outer.x && box.y >= outer.y && box.x + box.width <= outer.x + outer.width && box.y + box.height <= outer.y + outer.height;
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(isSemclipError(err), String(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('parseGrid', () => {
  it.each([
    ['2x2', { rows: 2, cols: 2 }],
    ['3x3', { rows: 3, cols: 3 }],
    ['1x4', { rows: 1, cols: 4 }],
    ['4X1', { rows: 4, cols: 1 }],
    [' 2 x 3 ', { rows: 2, cols: 3 }],
    ['2×5', { rows: 2, cols: 5 }],
    ['32x32', { rows: 32, cols: 32 }],
    ['auto', 'auto'],
    ['AUTO', 'auto'],
    ['Auto', 'auto'],
  ] as const)('parses %j', (text, expected) => {
    expect(parseGrid(text)).toEqual(expected);
  });

  it('accepts and validates grid objects', () => {
    expect(parseGrid({ rows: 2, cols: 3 })).toEqual({ rows: 2, cols: 3 });
    expectCode(() => parseGrid({ rows: 0, cols: 3 }), 'INVALID_GRID');
    expectCode(() => parseGrid({ rows: 1.5, cols: 3 }), 'INVALID_GRID');
  });

  it.each(['0x0', '0x2', '2x0', 'ax2', '2xb', '', ' ', '2x', 'x2', '2x2x2', '33x1', '1x33', '100x100', '-1x2', '2.5x2', 'grid', '2,2'])(
    'rejects %j with INVALID_GRID',
    (text) => {
      expectCode(() => parseGrid(text), 'INVALID_GRID');
    },
  );

  it('says what a grid looks like and how to fix it', () => {
    try {
      parseGrid('0x0');
    } catch (err) {
      expect((err as Error).message).toMatch(/0x0/);
      expect((err as Error).message).toMatch(/like "2x2"/);
    }
  });
});

describe('computeGrid', () => {
  const sizes = [
    [1000, 600],
    [1001, 601],
    [7, 5],
    [1613, 1209],
    [10000, 20],
    [3, 3],
  ] as const;
  const grids = [
    [1, 1],
    [2, 2],
    [3, 3],
    [1, 4],
    [3, 2],
  ] as const;
  const cases = sizes.flatMap(([w, h]) => grids.filter(([r, c]) => r <= h && c <= w).map(([r, c]) => [w, h, r, c] as const));

  it.each(cases)('covers a %ix%i image with a %ix%i grid exactly once, no gaps', (w, h, rows, cols) => {
    const grid = computeGrid({ width: w, height: h }, { rows, cols });
    expect(grid.tiles).toHaveLength(rows * cols);
    const map = coverage(grid);
    expect(map.every((v) => v === 1)).toBe(true);
    for (const t of grid.tiles) {
      expect(Number.isInteger(t.box.x) && Number.isInteger(t.box.width)).toBe(true);
      expect(inside(t.box, { x: 0, y: 0, width: w, height: h })).toBe(true);
    }
  });

  it('orders level-1 tiles row-major with row, col and index', () => {
    const grid = computeGrid({ width: 300, height: 200 }, { rows: 2, cols: 3 });
    expect(grid.tiles.map((t) => [t.index, t.row, t.col, t.level])).toEqual([
      [0, 0, 0, 1],
      [1, 0, 1, 1],
      [2, 0, 2, 1],
      [3, 1, 0, 1],
      [4, 1, 1, 1],
      [5, 1, 2, 1],
    ]);
  });

  it.each([
    [10, 3, [3, 3, 4]],
    [11, 3, [3, 3, 5]],
    [1000, 3, [333, 333, 334]],
    [7, 7, [1, 1, 1, 1, 1, 1, 1]],
  ] as const)('gives the remainder of %i px split %i ways to the last tile', (w, cols, widths) => {
    const grid = computeGrid({ width: w, height: 4 }, { rows: 1, cols });
    expect(grid.tiles.map((t) => t.box.width)).toEqual(widths);
  });

  it.each([0.1, 0.2, 0.25, 0.4, 0.49])('with overlap %f tiles overlap by about that fraction and stay inside', (overlap) => {
    const grid = computeGrid({ width: 1000, height: 800 }, { rows: 2, cols: 3 }, { overlap });
    const map = coverage(grid);
    expect(map.every((v) => v >= 1)).toBe(true);
    const [a, b] = [grid.tiles[0]!.box, grid.tiles[1]!.box];
    const shared = a.x + a.width - b.x;
    expect(shared / a.width).toBeGreaterThan(overlap - 0.01);
    expect(shared / a.width).toBeLessThan(overlap + 0.01);
    const last = grid.tiles[5]!.box;
    expect(last.x + last.width).toBe(1000);
    expect(last.y + last.height).toBe(800);
    for (const t of grid.tiles) expect(inside(t.box, { x: 0, y: 0, width: 1000, height: 800 })).toBe(true);
    expect(grid.overlap).toBe(overlap);
  });

  it.each([-0.1, 0.5, 0.9, Number.NaN, 1])('rejects overlap %f', (overlap) => {
    expectCode(() => computeGrid({ width: 100, height: 100 }, { rows: 2, cols: 2 }, { overlap }), 'INVALID_GRID');
  });

  it('rejects a grid with more columns than the image has pixels', () => {
    expectCode(() => computeGrid({ width: 3, height: 100 }, { rows: 1, cols: 4 }), 'INVALID_GRID');
    expectCode(() => computeGrid({ width: 1, height: 1 }, { rows: 2, cols: 2 }), 'INVALID_GRID');
  });

  it('builds a two-level pyramid: each level-1 tile split again, children inside their parent', () => {
    const grid = computeGrid({ width: 1001, height: 700 }, { rows: 2, cols: 2 }, { levels: 2 });
    expect(grid.levels).toBe(2);
    expect(grid.tiles).toHaveLength(4 + 16);
    expect(grid.tiles.slice(0, 4).every((t) => t.level === 1 && t.parent === undefined)).toBe(true);
    const level2 = grid.tiles.slice(4);
    expect(level2.every((t) => t.level === 2)).toBe(true);
    expect(level2.map((t) => t.parent)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    for (const t of level2) expect(inside(t.box, grid.tiles[t.parent!]!.box)).toBe(true);
    expect(coverage(grid, 2).every((v) => v === 1)).toBe(true);
    // Level-2 row/col are positions in the whole 4x4 level-2 grid.
    expect(level2.filter((t) => t.parent === 3).map((t) => [t.row, t.col])).toEqual([
      [2, 2],
      [2, 3],
      [3, 2],
      [3, 3],
    ]);
    expect(grid.tiles.map((t) => t.index)).toEqual(grid.tiles.map((_, i) => i));
  });

  it('keeps overlap inside each parent at level 2', () => {
    const grid = computeGrid({ width: 900, height: 900 }, { rows: 3, cols: 3 }, { levels: 2, overlap: 0.2 });
    for (const t of grid.tiles.filter((x) => x.level === 2)) expect(inside(t.box, grid.tiles[t.parent!]!.box)).toBe(true);
  });

  it('rejects levels other than 1 and 2', () => {
    expectCode(() => computeGrid({ width: 100, height: 100 }, { rows: 2, cols: 2 }, { levels: 3 as 2 }), 'INVALID_GRID');
  });

  it('is pure: same input, equal output', () => {
    const a = computeGrid({ width: 640, height: 480 }, 'auto', { overlap: 0.1 });
    const b = computeGrid({ width: 640, height: 480 }, 'auto', { overlap: 0.1 });
    expect(a).toEqual(b);
  });
});

describe('auto grid', () => {
  it.each([
    // [width, height, maxTiles, rows, cols]
    [1000, 1000, 9, 2, 2], // square: 2x2 and 3x3 tie, fewer tiles wins
    [4032, 3024, 9, 2, 3], // 4:3 landscape: 1344x1512 tiles are closest to square
    [3024, 4032, 9, 3, 2], // portrait mirrors landscape
    [1920, 1080, 9, 1, 2], // 960x1080 tiles beat 640x540 (2x3)
    [2000, 1000, 9, 1, 2], // 2:1: two square tiles
    [3000, 1000, 9, 1, 3],
    [10000, 20, 9, 1, 9], // extreme strip: as many columns as allowed
    [20, 10000, 9, 9, 1],
    [1000, 1000, 4, 2, 2],
    [1000, 1000, 3, 1, 2], // only 2 or 3 tiles allowed: 1x2 ties 2x1, fewer rows wins
    [1600, 900, 16, 3, 5],
  ] as const)('chooses for %ix%i (max %i tiles) a %ix%i grid', (w, h, max, rows, cols) => {
    expect(chooseAutoGrid({ width: w, height: h }, max)).toEqual({ rows, cols });
    const grid = computeGrid({ width: w, height: h }, 'auto', { autoMaxTiles: max });
    expect([grid.rows, grid.cols]).toEqual([rows, cols]);
  });

  it('never picks a single tile', () => {
    for (const [w, h] of [
      [100, 100],
      [5, 5],
      [2, 1],
    ] as const) {
      const { rows, cols } = chooseAutoGrid({ width: w, height: h }, 9);
      expect(rows * cols).toBeGreaterThanOrEqual(2);
    }
  });

  it.each([1, 0, 1.5, 2000])('rejects autoMaxTiles %f', (max) => {
    expectCode(() => chooseAutoGrid({ width: 100, height: 100 }, max), 'INVALID_GRID');
  });

  it('rejects a 1x1 image, which cannot be split', () => {
    expectCode(() => computeGrid({ width: 1, height: 1 }, 'auto'), 'INVALID_GRID');
  });
});

describe('gridKey', () => {
  it.each([
    [{ rows: 2, cols: 2 }, 0, 1, '2x2:o0:l1'],
    [{ rows: 3, cols: 1 }, 0.25, 2, '3x1:o0.25:l2'],
  ] as const)('keys %j overlap %f levels %i as %s', (spec: GridSpec, overlap, levels, key) => {
    expect(gridKeyOf(computeGrid({ width: 600, height: 600 }, spec, { overlap, levels }))).toBe(key);
  });

  it('keys auto grids by what they resolved to', () => {
    expect(gridKeyOf(computeGrid({ width: 4032, height: 3024 }, 'auto'))).toBe('2x3:o0:l1');
  });
});
