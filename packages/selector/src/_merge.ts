import type { Box, SelectedRegion, Tile } from '@semclip/core';

/**
 * Grid coordinates of the tiles of one level, derived from their boxes rather than from
 * `row`/`col`, so level-2 tiles of neighbouring parents line up on one grid whatever
 * numbering the tiler uses, and overlapping tiles still count as neighbours.
 */
function cellsOf(tiles: readonly Tile[]): Map<number, { r: number; c: number }> {
  const xs = [...new Set(tiles.map((t) => t.box.x))].sort((a, b) => a - b);
  const ys = [...new Set(tiles.map((t) => t.box.y))].sort((a, b) => a - b);
  const cells = new Map<number, { r: number; c: number }>();
  for (const t of tiles) cells.set(t.index, { r: ys.indexOf(t.box.y), c: xs.indexOf(t.box.x) });
  return cells;
}

export function unionBox(boxes: readonly Box[]): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const b of boxes) {
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width);
    y1 = Math.max(y1, b.y + b.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * Turns selected tiles (best first) into regions.
 *
 * Without merging, every tile is its own region. With merging, tiles are grouped per level:
 * the best tile not yet placed grows into the largest rectangle of cells that are all
 * selected and not yet placed (ties: the top-most, then left-most rectangle), and that
 * rectangle becomes one region whose box is the union of its tiles' boxes. A merged crop
 * therefore never shows a tile that was not selected: an L of three tiles becomes a
 * two-tile region plus a single tile, a diagonal pair stays two regions.
 *
 * Regions come out in the order of their best tile's rank.
 */
export function buildRegions(picked: readonly number[], tiles: readonly Tile[], scores: readonly number[], merge: boolean): SelectedRegion[] {
  const region = (indices: readonly number[]): SelectedRegion => {
    const sorted = [...indices].sort((a, b) => a - b);
    return {
      tiles: sorted,
      box: sorted.length === 1 ? { ...(tiles[sorted[0] as number] as Tile).box } : unionBox(sorted.map((i) => (tiles[i] as Tile).box)),
      score: Math.max(...sorted.map((i) => scores[i] as number)),
    };
  };
  if (!merge || picked.length < 2) return picked.map((i) => region([i]));

  const byLevel = new Map<number, Tile[]>();
  for (const t of tiles) {
    const list = byLevel.get(t.level) ?? [];
    list.push(t);
    byLevel.set(t.level, list);
  }
  const cells = new Map<number, { r: number; c: number }>();
  for (const list of byLevel.values()) for (const [i, cell] of cellsOf(list)) cells.set(i, cell);

  const open = new Set(picked);
  // level -> "r,c" -> tile index, for the picked tiles only
  const lookup = new Map<number, Map<string, number>>();
  for (const i of picked) {
    const t = tiles[i] as Tile;
    const cell = cells.get(i) as { r: number; c: number };
    const m = lookup.get(t.level) ?? new Map<string, number>();
    m.set(`${cell.r},${cell.c}`, i);
    lookup.set(t.level, m);
  }

  const regions: SelectedRegion[] = [];
  for (const seed of picked) {
    if (!open.has(seed)) continue;
    const level = (tiles[seed] as Tile).level;
    const grid = lookup.get(level) as Map<string, number>;
    const at = (r: number, c: number): number | undefined => {
      const i = grid.get(`${r},${c}`);
      return i !== undefined && open.has(i) ? i : undefined;
    };
    const { r: sr, c: sc } = cells.get(seed) as { r: number; c: number };
    // Extent of open cells reachable in straight lines bounds the search; grids are small.
    let top = sr;
    while (at(top - 1, sc) !== undefined) top--;
    let bottom = sr;
    while (at(bottom + 1, sc) !== undefined) bottom++;
    let left = sc;
    while (at(sr, left - 1) !== undefined) left--;
    let right = sc;
    while (at(sr, right + 1) !== undefined) right++;

    let best = { r0: sr, c0: sc, r1: sr, c1: sc, area: 1 };
    for (let r0 = top; r0 <= sr; r0++) {
      for (let c0 = left; c0 <= sc; c0++) {
        for (let r1 = sr; r1 <= bottom; r1++) {
          for (let c1 = sc; c1 <= right; c1++) {
            const area = (r1 - r0 + 1) * (c1 - c0 + 1);
            if (area <= best.area) continue;
            let full = true;
            for (let r = r0; r <= r1 && full; r++) for (let c = c0; c <= c1 && full; c++) full = at(r, c) !== undefined;
            if (full) best = { r0, c0, r1, c1, area };
          }
        }
      }
    }
    const members: number[] = [];
    for (let r = best.r0; r <= best.r1; r++) {
      for (let c = best.c0; c <= best.c1; c++) {
        const i = at(r, c) as number;
        members.push(i);
      }
    }
    for (const i of members) open.delete(i);
    regions.push(region(members));
  }
  return regions;
}
