import { bench, describe } from 'vitest';
import type { Tile, TileGrid } from '@semclip/core';
import { select } from '../src/index.js';

function grid(n: number): TileGrid {
  const tiles: Tile[] = [];
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) tiles.push({ index: tiles.length, row: r, col: c, level: 1, box: { x: c * 100, y: r * 100, width: 100, height: 100 } });
  const parents = [...tiles];
  for (const p of parents)
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 2; c++)
        tiles.push({
          index: tiles.length,
          row: p.row * 2 + r,
          col: p.col * 2 + c,
          level: 2,
          parent: p.index,
          box: { x: p.box.x + c * 50, y: p.box.y + r * 50, width: 50, height: 50 },
        });
  return { image: { width: n * 100, height: n * 100 }, rows: n, cols: n, overlap: 0, levels: 2, tiles };
}

let seed = 1;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const g3 = grid(3);
const s3 = g3.tiles.map(rand);
const g8 = grid(8);
const s8 = g8.tiles.map(rand);

describe('select', () => {
  bench('3x3 top-1', () => void select(s3, g3));
  bench('8x8 adaptive + merge (all 64 tiles pass)', () => void select(s8, g8, { mode: 'adaptive', margin: 1, merge: true }));
  bench('8x8 + level 2, level "any", k=16 + merge', () => void select(s8, g8, { level: 'any', k: 16, merge: true }));
});
