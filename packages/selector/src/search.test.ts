import { mulberry32 } from '@semclip/core';
import { describe, expect, it } from 'vitest';
import type { Box } from '@semclip/core';
import { optionConfidence, packLayout, quadtreeChildren, zoomWeight } from './index.js';
import type { PackCell } from './index.js';

// Property tests draw from core's seeded generator, so a failing case reproduces.
const rng = (seed: number) => mulberry32(seed);

const inside = (c: Box, p: Box) => c.x >= p.x && c.y >= p.y && c.x + c.width <= p.x + p.width && c.y + c.height <= p.y + p.height;

describe('quadtreeChildren', () => {
  it('children stay inside their parent and cover it, down to leaves, for random boxes (property)', () => {
    const rand = rng(11);
    for (let trial = 0; trial < 60; trial++) {
      const root = { x: Math.floor(rand() * 50), y: Math.floor(rand() * 50), width: 100 + Math.floor(rand() * 5000), height: 100 + Math.floor(rand() * 5000) };
      const leafSide = 200 + Math.floor(rand() * 600);
      const overlap = rand() * 0.5;
      // Every node down to depth 2, then one random path to a leaf (the full tree can be huge).
      const stack: Array<{ node: Box; depth: number }> = [{ node: root, depth: 0 }];
      let nodes = 0;
      while (stack.length) {
        const { node, depth } = stack.pop() as { node: Box; depth: number };
        nodes++;
        const children = quadtreeChildren(node, { overlap, leafSide });
        if (Math.max(node.width, node.height) <= leafSide) {
          expect(children).toEqual([]);
          continue;
        }
        expect(children.length).toBeGreaterThanOrEqual(2);
        for (const c of children) {
          expect(inside(c, node)).toBe(true);
          expect(c.width * c.height).toBeLessThan(node.width * node.height);
        }
        // Coverage: sample points of the parent, each must be in some child.
        for (let k = 0; k < 50; k++) {
          const px = node.x + rand() * node.width;
          const py = node.y + rand() * node.height;
          expect(children.some((c) => px >= c.x && px <= c.x + c.width && py >= c.y && py <= c.y + c.height)).toBe(true);
        }
        if (depth < 2) stack.push(...children.map((c) => ({ node: c, depth: depth + 1 })));
        else stack.push({ node: children[Math.floor(rand() * children.length)] as Box, depth: depth + 1 });
      }
      expect(nodes).toBeLessThan(1000);
    }
  });

  it('overlaps neighbouring children by the asked fraction, so a target on the cut lies whole in one', () => {
    const [a, b] = quadtreeChildren({ x: 0, y: 0, width: 2000, height: 2000 }, { overlap: 0.1, leafSide: 672 });
    expect(a).toEqual({ x: 0, y: 0, width: 1100, height: 1100 });
    expect(b).toEqual({ x: 900, y: 0, width: 1100, height: 1100 });
  });

  it('refuses an overlap outside 0..0.5', () => {
    expect(() => quadtreeChildren({ x: 0, y: 0, width: 10, height: 10 }, { overlap: 0.7, leafSide: 4 })).toThrow(/overlap/);
  });
});

describe('optionConfidence and zoomWeight', () => {
  it('is the gap between the two most probable options', () => {
    expect(optionConfidence([Math.log(0.7), Math.log(0.2), Math.log(0.1)])).toBeCloseTo(0.5, 9);
    expect(optionConfidence([0, 0])).toBe(0);
    expect(optionConfidence([0, Number.NEGATIVE_INFINITY])).toBeCloseTo(1, 9);
    expect(optionConfidence([-3])).toBe(1);
  });

  it('trusts the scorer more with depth, never wholly', () => {
    expect(zoomWeight(0)).toBeLessThan(zoomWeight(1));
    expect(zoomWeight(1)).toBeLessThan(zoomWeight(2));
    expect(zoomWeight(20)).toBeLessThan(1);
  });
});

describe('packLayout', () => {
  it('keeps the kept cells in their row and column order, drops empty rows and columns, never overlaps (property)', () => {
    const rand = rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const rows = 1 + Math.floor(rand() * 6);
      const cols = 1 + Math.floor(rand() * 6);
      const cw = 50 + Math.floor(rand() * 300);
      const ch = 50 + Math.floor(rand() * 300);
      const all: PackCell[] = [];
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) all.push({ row: r, col: c, box: { x: c * cw, y: r * ch, width: cw - (c === cols - 1 ? 7 : 0), height: ch } });
      const kept = all.filter(() => rand() < 0.3);
      if (kept.length === 0) kept.push(all[0] as PackCell);
      const sep = Math.floor(rand() * 6);
      const { size, placements } = packLayout(kept, sep);
      for (const p of placements) {
        expect(p.x + p.cell.box.width).toBeLessThanOrEqual(size.width);
        expect(p.y + p.cell.box.height).toBeLessThanOrEqual(size.height);
      }
      for (const a of placements) {
        for (const b of placements) {
          if (a === b) continue;
          if (a.cell.col < b.cell.col) expect(a.x + a.cell.box.width + sep).toBeLessThanOrEqual(b.x);
          if (a.cell.col === b.cell.col) expect(a.x).toBe(b.x);
          if (a.cell.row < b.cell.row) expect(a.y + a.cell.box.height + sep).toBeLessThanOrEqual(b.y);
          if (a.cell.row === b.cell.row) expect(a.y).toBe(b.y);
        }
      }
      // Dropped rows and columns: the packed image is no larger than the kept rows and columns need.
      const keptCols = new Set(kept.map((k) => k.col)).size;
      const keptRows = new Set(kept.map((k) => k.row)).size;
      expect(size.width).toBeLessThanOrEqual(keptCols * cw + (keptCols - 1) * sep);
      expect(size.height).toBe(keptRows * ch + (keptRows - 1) * sep);
    }
  });

  it('refuses to pack nothing', () => {
    expect(() => packLayout([])).toThrow(/no cell/);
  });
});
