import { SemclipError } from '@semclip/core';
import type { Box, GridSpec, Size, Tile, TileGrid } from '@semclip/core';

/** Largest rows or columns a grid may have; beyond this tiles are too small to be useful. */
export const MAX_GRID_SIDE = 32;
/** Default cap on tiles for `auto`. */
export const DEFAULT_AUTO_MAX_TILES = 9;

const GRID_EXPECTED = 'a grid like "2x2", "3x3", "1x4" (rows x columns, each 1-32) or "auto"';

/**
 * Parses a grid: `"RxC"` (rows x columns, case-insensitive, `×` accepted, 1-32 each) or
 * `"auto"`. Objects are validated and returned as a fresh value.
 *
 * @example
 * ```ts
 * parseGrid('3x2'); // { rows: 3, cols: 2 }
 * parseGrid('AUTO'); // 'auto'
 * parseGrid('0x0'); // throws SemclipError INVALID_GRID
 * ```
 */
export function parseGrid(spec: string | GridSpec): GridSpec {
  if (spec === 'auto') return 'auto';
  if (typeof spec === 'string') {
    const text = spec.trim().toLowerCase();
    if (text === 'auto') return 'auto';
    const m = /^(\d{1,4})\s*[x×*]\s*(\d{1,4})$/.exec(text);
    if (!m) {
      throw new SemclipError('INVALID_GRID', `Grid ${JSON.stringify(spec)} is not a grid.`, {
        expected: GRID_EXPECTED,
        hint: 'Write rows and columns separated by "x", e.g. --grid 2x2',
        details: { grid: spec },
      });
    }
    return checkRowsCols(Number(m[1]), Number(m[2]), spec);
  }
  if (typeof spec !== 'object' || spec === null) {
    throw new SemclipError('INVALID_GRID', `Grid ${String(spec)} is not a grid.`, { expected: GRID_EXPECTED });
  }
  return checkRowsCols(spec.rows, spec.cols, `${String(spec.rows)}x${String(spec.cols)}`);
}

function checkRowsCols(rows: number, cols: number, original: string): { rows: number; cols: number } {
  for (const [name, v] of [
    ['rows', rows],
    ['columns', cols],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_GRID_SIDE) {
      throw new SemclipError('INVALID_GRID', `Grid "${original}" has ${String(v)} ${name}.`, {
        expected: GRID_EXPECTED,
        hint:
          Number.isInteger(v) && v > MAX_GRID_SIDE
            ? `Use at most ${MAX_GRID_SIDE} ${name}, or a pyramid (levels: 2) for finer tiles`
            : 'Use at least 1 row and 1 column, e.g. --grid 2x2',
        details: { grid: original, rows, cols },
      });
    }
  }
  return { rows, cols };
}

export interface GridOptions {
  /** Overlap between neighbouring tiles as a fraction of the tile size, 0 <= overlap < 0.5. Default 0. */
  readonly overlap?: number;
  /** 1 = the grid; 2 = also split every level-1 tile again with the same rows x cols. Default 1. */
  readonly levels?: 1 | 2;
  /** For `auto`: the most tiles to choose (>= 2). Default 9. */
  readonly autoMaxTiles?: number;
}

/**
 * The `auto` choice: among rows x cols with 2 <= rows*cols <= maxTiles, the grid whose tiles are
 * closest to square (smallest |log(tile width / tile height)|); ties go to fewer tiles, then
 * fewer rows. Like LLaVA-NeXT's anyres, a wide image gets more columns and a tall one more rows.
 *
 * @example
 * ```ts
 * chooseAutoGrid({ width: 4032, height: 3024 }, 9); // { rows: 2, cols: 3 }
 * ```
 */
export function chooseAutoGrid(size: Size, maxTiles = DEFAULT_AUTO_MAX_TILES): { rows: number; cols: number } {
  if (!Number.isInteger(maxTiles) || maxTiles < 2 || maxTiles > MAX_GRID_SIDE * MAX_GRID_SIDE) {
    throw new SemclipError('INVALID_GRID', `autoMaxTiles ${String(maxTiles)} is out of range.`, {
      expected: `an integer from 2 to ${MAX_GRID_SIDE * MAX_GRID_SIDE}`,
      details: { autoMaxTiles: maxTiles },
    });
  }
  let best: { rows: number; cols: number; cost: number } | undefined;
  for (let rows = 1; rows <= Math.min(MAX_GRID_SIDE, maxTiles); rows++) {
    for (let cols = 1; cols <= MAX_GRID_SIDE && rows * cols <= maxTiles; cols++) {
      const n = rows * cols;
      if (n < 2 || rows > size.height || cols > size.width) continue;
      const cost = Math.abs(Math.log(size.width / cols / (size.height / rows)));
      const better =
        !best ||
        cost < best.cost - 1e-9 ||
        (Math.abs(cost - best.cost) <= 1e-9 && (n < best.rows * best.cols || (n === best.rows * best.cols && rows < best.rows)));
      if (better) best = { rows, cols, cost };
    }
  }
  if (!best) {
    throw new SemclipError('INVALID_GRID', `An image of ${size.width}x${size.height} pixels is too small to split.`, {
      expected: 'an image of at least 2 pixels in one direction',
      hint: 'Use --grid 1x1 or a larger image',
      details: { image: size },
    });
  }
  return { rows: best.rows, cols: best.cols };
}

/**
 * Splits [0, length) into `n` spans. Without overlap every span is floor(length/n) long and the
 * last absorbs the remainder. With overlap, spans are the nominal tile length
 * length / (n - (n-1)*overlap) (floored), stepped by floor(nominal * (1 - overlap)), and the last
 * again runs to the end: no gaps, nothing outside, integer edges.
 */
function spans(length: number, n: number, overlap: number): Array<[start: number, size: number]> {
  const nominal = length / (n - (n - 1) * overlap);
  const size = Math.floor(nominal);
  const stride = Math.max(1, Math.floor(nominal * (1 - overlap)));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const start = i * stride;
    out.push([start, i === n - 1 ? length - start : size]);
  }
  return out;
}

function splitBox(box: Box, rows: number, cols: number, overlap: number, what: string): Box[][] {
  if (
    box.width < cols ||
    box.height < rows ||
    Math.floor(box.width / (cols - (cols - 1) * overlap)) < 1 ||
    Math.floor(box.height / (rows - (rows - 1) * overlap)) < 1
  ) {
    throw new SemclipError('INVALID_GRID', `${what} of ${box.width}x${box.height} pixels cannot be split into ${rows}x${cols} tiles.`, {
      expected: 'at least one pixel per tile in each direction',
      hint: 'Use a coarser grid (fewer rows or columns), levels: 1, or a larger image',
      details: { box, rows, cols },
    });
  }
  const xs = spans(box.width, cols, overlap);
  const ys = spans(box.height, rows, overlap);
  return ys.map(([y, h]) => xs.map(([x, w]) => ({ x: box.x + x, y: box.y + y, width: w, height: h })));
}

/**
 * Computes the tiles of a grid over an image of `size` (pixels after EXIF orientation). Pure.
 *
 * Level-1 tiles come first in row-major order. With `levels: 2` every level-1 tile is split again
 * with the same rows x cols and overlap; level-2 tiles follow, grouped by `parent` (the level-1
 * index) and row-major inside it; their `row`/`col` are positions in the whole level-2 grid
 * (rows*rows x cols*cols).
 *
 * @example
 * ```ts
 * const grid = computeGrid({ width: 1000, height: 600 }, { rows: 2, cols: 3 });
 * grid.tiles[5].box; // { x: 666, y: 300, width: 334, height: 300 }
 * ```
 */
export function computeGrid(size: Size, spec: GridSpec, options: GridOptions = {}): TileGrid {
  const overlap = options.overlap ?? 0;
  const levels = options.levels ?? 1;
  if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || size.width < 1 || size.height < 1) {
    throw new SemclipError('INVALID_ARGUMENT', `Image size ${String(size.width)}x${String(size.height)} is not a valid size.`, {
      expected: 'positive integer width and height',
    });
  }
  if (typeof overlap !== 'number' || !Number.isFinite(overlap) || overlap < 0 || overlap >= 0.5) {
    throw new SemclipError('INVALID_GRID', `Overlap ${String(overlap)} is out of range.`, {
      expected: 'a fraction of the tile size from 0 (no overlap) up to, not including, 0.5',
      hint: 'Try --overlap 0.1',
      details: { overlap },
    });
  }
  if (levels !== 1 && levels !== 2) {
    throw new SemclipError('INVALID_GRID', `Levels ${String(levels)} is not supported.`, {
      expected: '1 (the grid) or 2 (the grid, then every tile split again)',
      details: { levels },
    });
  }
  const parsed = parseGrid(spec);
  const { rows, cols } = parsed === 'auto' ? chooseAutoGrid(size, options.autoMaxTiles) : parsed;
  const tiles: Tile[] = [];
  const whole: Box = { x: 0, y: 0, width: size.width, height: size.height };
  splitBox(whole, rows, cols, overlap, 'An image').forEach((line, row) =>
    line.forEach((box, col) => tiles.push({ index: tiles.length, row, col, level: 1, box })),
  );
  if (levels === 2) {
    const first = tiles.slice();
    for (const parent of first) {
      splitBox(parent.box, rows, cols, overlap, `Tile ${parent.index}`).forEach((line, r) =>
        line.forEach((box, c) =>
          tiles.push({
            index: tiles.length,
            row: parent.row * rows + r,
            col: parent.col * cols + c,
            level: 2,
            parent: parent.index,
            box,
          }),
        ),
      );
    }
  }
  return { image: { width: size.width, height: size.height }, rows, cols, overlap, levels, tiles };
}

/**
 * A stable cache key for a grid: rows, columns, overlap and levels, e.g. `"2x2:o0:l1"`.
 * `auto` grids are keyed by the rows x cols they resolved to.
 *
 * @example
 * ```ts
 * gridKeyOf(computeGrid({ width: 800, height: 600 }, { rows: 3, cols: 3 }, { overlap: 0.1 })); // "3x3:o0.1:l1"
 * ```
 */
export function gridKeyOf(grid: Pick<TileGrid, 'rows' | 'cols' | 'overlap' | 'levels'>): string {
  return `${grid.rows}x${grid.cols}:o${Number(grid.overlap.toFixed(6))}:l${grid.levels}`;
}
