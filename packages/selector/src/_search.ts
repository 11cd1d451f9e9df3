/**
 * The pure parts of the `zoom` and `pack` strategies: how a node of the quadtree splits, how a
 * node's priority mixes the free scorer and the VLM's confidence, how confidence is read from
 * option scores, and where kept cells go in a packed image. No pixels and no model here, so
 * the invariants (children cover the parent, boxes stay inside, order is kept) are tested alone.
 */
import { SemclipError } from '@semclip/core';
import type { Box, Size } from '@semclip/core';

/**
 * The children of a quadtree node: 2x2 (1x2 or 2x1 when one side is already at most `leafSide`),
 * each `overlap` (fraction of the child) larger than half the node, so a target on a cut line
 * lies whole in one child. Children cover the node and stay inside it. Empty for a leaf (long
 * side at most `leafSide`).
 *
 * @example
 * ```ts
 * quadtreeChildren({ x: 0, y: 0, width: 2000, height: 1000 }, { overlap: 0.1, leafSide: 672 });
 * // [{ x: 0, y: 0, width: 1100, height: 550 }, { x: 900, y: 0, ... }, { x: 0, y: 450, ... }, { x: 900, y: 450, ... }]
 * ```
 */
export function quadtreeChildren(node: Box, options: { readonly overlap?: number; readonly leafSide: number }): Box[] {
  const overlap = options.overlap ?? 0.1;
  if (!(overlap >= 0 && overlap <= 0.5)) {
    throw new SemclipError('INVALID_ARGUMENT', `Zoom overlap ${String(overlap)} is out of range.`, { expected: 'a fraction from 0 to 0.5' });
  }
  if (!(options.leafSide >= 1)) throw new SemclipError('INVALID_ARGUMENT', `Zoom leafSide ${String(options.leafSide)} is not positive.`);
  if (Math.max(node.width, node.height) <= options.leafSide) return [];
  const split = (start: number, length: number, parts: number): Array<[number, number]> => {
    if (parts === 1) return [[start, length]];
    const child = Math.min(length, Math.ceil((length / 2) * (1 + overlap)));
    return [
      [start, child],
      [start + length - child, child],
    ];
  };
  const cols = split(node.x, node.width, node.width > options.leafSide / 2 && node.width * 2 > node.height ? 2 : 1);
  const rows = split(node.y, node.height, node.height > options.leafSide / 2 && node.height * 2 > node.width ? 2 : 1);
  const out: Box[] = [];
  for (const [y, height] of rows) for (const [x, width] of cols) out.push({ x, y, width, height });
  return out;
}

/**
 * The VLM's confidence in a multiple-choice answer: the gap between the two most probable
 * options, after a softmax over the option scores (log-probabilities). 1 with one option.
 *
 * @example
 * ```ts
 * optionConfidence([Math.log(0.7), Math.log(0.2), Math.log(0.1)]); // 0.5
 * ```
 */
export function optionConfidence(scores: readonly number[]): number {
  if (scores.length < 2) return 1;
  const finite = scores.map((s) => (Number.isFinite(s) ? s : -1e9));
  const max = Math.max(...finite);
  const exp = finite.map((s) => Math.exp(s - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  const p = exp.map((e) => e / sum).sort((a, b) => b - a);
  return (p[0] as number) - (p[1] as number);
}

/**
 * How much a node's priority trusts the free scorer at depth `depth` (the rest is the VLM's
 * confidence): grows with depth, as ZoomEye weights existence over latent confidence deeper
 * in the tree, where a small crop's score is more telling.
 *
 * @example
 * ```ts
 * zoomWeight(1); // 0.4
 * ```
 */
export function zoomWeight(depth: number): number {
  return Math.min(0.8, 0.2 + 0.2 * depth);
}

/** A cell of a pack grid: where it is in the grid and in the image. */
export interface PackCell {
  readonly row: number;
  readonly col: number;
  readonly box: Box;
}

/** Where one kept cell goes in the packed image. */
export interface PackPlacement {
  readonly cell: PackCell;
  /** Top-left corner in the packed image; the cell is pasted at its native size. */
  readonly x: number;
  readonly y: number;
}

/**
 * RAP's layout: rows and columns with no kept cell are dropped, the kept cells keep their row
 * and column order, each pasted at native size, with `separator` pixels between rows and
 * columns. A column is as wide as its widest kept cell, a row as tall as its tallest.
 *
 * @example
 * ```ts
 * packLayout([{ row: 0, col: 4, box: a }, { row: 3, col: 1, box: b }], 4);
 * // { size: { width: b.width + 4 + a.width, height: a.height + 4 + b.height }, placements: [a at (b.width + 4, 0), b at (0, a.height + 4)] }
 * ```
 */
export function packLayout(cells: readonly PackCell[], separator = 4): { size: Size; placements: PackPlacement[] } {
  if (cells.length === 0) throw new SemclipError('INVALID_ARGUMENT', 'Nothing to pack: no cell was kept.', { hint: 'Keep at least one cell (k >= 1)' });
  const rows = [...new Set(cells.map((c) => c.row))].sort((a, b) => a - b);
  const cols = [...new Set(cells.map((c) => c.col))].sort((a, b) => a - b);
  const colWidth = cols.map((col) => Math.max(...cells.filter((c) => c.col === col).map((c) => c.box.width)));
  const rowHeight = rows.map((row) => Math.max(...cells.filter((c) => c.row === row).map((c) => c.box.height)));
  const colX: number[] = [];
  let x = 0;
  for (const w of colWidth) {
    colX.push(x);
    x += w + separator;
  }
  const rowY: number[] = [];
  let y = 0;
  for (const h of rowHeight) {
    rowY.push(y);
    y += h + separator;
  }
  const placements = cells.map((cell) => ({ cell, x: colX[cols.indexOf(cell.col)] as number, y: rowY[rows.indexOf(cell.row)] as number }));
  return { size: { width: x - separator, height: y - separator }, placements };
}
