import { describe, expect, it } from 'vitest';
import { boxScoreFast, boxesFromProbabilityMap, componentHulls, convexHull, orderPointsClockwise, sortBoxes, textRegions } from './_geometry.js';
import type { Point, Quad } from './_geometry.js';

const DB = { thresh: 0.3, boxThresh: 0.6, unclipRatio: 1.5, maxCandidates: 1000 };

/** A width x height map of zeros with `value` wherever `inside(x, y)`. */
function map(width: number, height: number, regions: { value: number; inside: (x: number, y: number) => boolean }[]): Float32Array {
  const m = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (const r of regions) if (r.inside(x, y)) m[y * width + x] = r.value;
  return m;
}
const rect = (x0: number, y0: number, x1: number, y1: number, value = 0.9) => ({
  value,
  inside: (x: number, y: number) => x >= x0 && x <= x1 && y >= y0 && y <= y1,
});

describe('DB post-processing', () => {
  it('finds one box around a text region, grown by the unclip distance and scaled to the destination', () => {
    // Pixel centres 10..49 x 20..29: a 39 x 9 rectangle; unclip d = 39*9*1.5 / (2*48) = 5.48.
    const boxes = boxesFromProbabilityMap(map(100, 60, [rect(10, 20, 49, 29)]), 100, 60, 200, 120, DB);
    expect(boxes).toHaveLength(1);
    const [tl, tr, br, bl] = boxes[0]!.quad;
    const d = (39 * 9 * 1.5) / (2 * 48);
    expect(tl[0]).toBeCloseTo(2 * (10 - d), -0.5);
    expect(tl[1]).toBeCloseTo(2 * (20 - d), -0.5);
    expect(br[0]).toBeCloseTo(2 * (49 + d), -0.5);
    expect(br[1]).toBeCloseTo(2 * (29 + d), -0.5);
    expect(tr[1]).toBe(tl[1]);
    expect(bl[0]).toBe(tl[0]);
    expect(boxes[0]!.score).toBeCloseTo(0.9, 5);
  });

  it('drops regions whose mean probability is under box_thresh', () => {
    expect(boxesFromProbabilityMap(map(100, 60, [rect(10, 20, 49, 29, 0.5)]), 100, 60, 100, 60, DB)).toEqual([]);
  });

  it('drops regions thinner than the minimum size', () => {
    expect(boxesFromProbabilityMap(map(100, 60, [rect(10, 20, 60, 21)]), 100, 60, 100, 60, DB)).toEqual([]);
  });

  it('returns nothing for an empty map', () => {
    expect(boxesFromProbabilityMap(new Float32Array(64 * 32), 64, 32, 64, 32, DB)).toEqual([]);
  });

  it('follows a rotated text region with a rotated box', () => {
    const angle = (25 * Math.PI) / 180;
    const [cx, cy, hw, hh] = [100, 100, 60, 10];
    const inside = (x: number, y: number) => {
      const u = (x - cx) * Math.cos(angle) + (y - cy) * Math.sin(angle);
      const v = -(x - cx) * Math.sin(angle) + (y - cy) * Math.cos(angle);
      return Math.abs(u) <= hw && Math.abs(v) <= hh;
    };
    const boxes = boxesFromProbabilityMap(map(200, 200, [{ value: 0.95, inside }]), 200, 200, 200, 200, DB);
    expect(boxes).toHaveLength(1);
    const [tl, tr] = boxes[0]!.quad;
    const measured = (Math.atan2(tr[1] - tl[1], tr[0] - tl[0]) * 180) / Math.PI;
    expect(measured).toBeGreaterThan(22);
    expect(measured).toBeLessThan(28);
  });

  it('keeps separate regions apart and sorts them top to bottom, then left to right', () => {
    const m = map(200, 100, [rect(120, 10, 180, 20), rect(10, 12, 60, 22), rect(10, 60, 90, 75)]);
    const boxes = boxesFromProbabilityMap(m, 200, 100, 200, 100, DB);
    expect(boxes.map((b) => Math.round(b.quad[0][0] / 10))).toEqual([0, 11, 0]);
    expect(boxes[2]!.quad[0][1]).toBeGreaterThan(40);
  });

  it('joins diagonal neighbours into one component (8-connectivity)', () => {
    const m = new Float32Array(9);
    m[0] = m[4] = m[8] = 1;
    expect(componentHulls(m, 3, 3, 0.3, 10)).toHaveLength(1);
  });

  it('stops at max_candidates regions', () => {
    const m = map(
      100,
      10,
      Array.from({ length: 10 }, (_, i) => rect(i * 10, 2, i * 10 + 5, 8)),
    );
    expect(componentHulls(m, 100, 10, 0.3, 4)).toHaveLength(4);
  });
});

describe('geometry helpers', () => {
  it('reduces points to their convex hull', () => {
    const pts: Point[] = [
      [0, 0],
      [4, 0],
      [4, 4],
      [0, 4],
      [2, 2],
      [1, 3],
      [2, 0],
    ];
    expect(new Set(convexHull(pts).map((p) => p.join(',')))).toEqual(new Set(['0,0', '4,0', '4,4', '0,4']));
  });

  it.each([
    [
      [
        [10, 0],
        [0, 0],
        [0, 5],
        [10, 5],
      ],
      [
        [0, 0],
        [10, 0],
        [10, 5],
        [0, 5],
      ],
    ],
    [
      [
        [0, 5],
        [10, 5],
        [10, 0],
        [0, 0],
      ],
      [
        [0, 0],
        [10, 0],
        [10, 5],
        [0, 5],
      ],
    ],
  ] as [Point[], Point[]][])('orders %j clockwise from the top-left', (input, expected) => {
    expect(orderPointsClockwise(input)).toEqual(expected);
  });

  it('averages the map inside a quad only', () => {
    const m = map(10, 10, [rect(0, 0, 4, 9, 1)]);
    const left: Quad = [
      [0, 0],
      [4, 0],
      [4, 9],
      [0, 9],
    ];
    const all: Quad = [
      [0, 0],
      [9, 0],
      [9, 9],
      [0, 9],
    ];
    expect(boxScoreFast(m, 10, 10, left)).toBe(1);
    expect(boxScoreFast(m, 10, 10, all)).toBeCloseTo(0.5, 5);
  });

  it('sorts boxes on nearly the same line left to right', () => {
    const q = (x: number, y: number): { quad: Quad } => ({
      quad: [
        [x, y],
        [x + 5, y],
        [x + 5, y + 5],
        [x, y + 5],
      ],
    });
    expect(sortBoxes([q(50, 3), q(0, 8), q(20, 40)]).map((b) => b.quad[0][0])).toEqual([0, 50, 20]);
  });
});

describe('coarse text regions', () => {
  it('grows each component by its shorter side, scales it to the image and clips it there', () => {
    // A 20 x 3 component at x 10..29, y 5..7 of a 64 x 32 map, weakly above the threshold.
    const regions = textRegions(map(64, 32, [rect(10, 5, 29, 7, 0.15)]), 64, 32, 640, 320, 0.1);
    // Grown by max(4, 3) = 4 map pixels: x 6..34, y 1..12 (exclusive ends), times 10.
    expect(regions).toEqual([{ x: 60, y: 10, width: 280, height: 110 }]);
    expect(textRegions(map(64, 32, [rect(0, 0, 3, 3, 0.5)]), 64, 32, 640, 320, 0.1)).toEqual([{ x: 0, y: 0, width: 80, height: 80 }]);
  });

  it('ignores what is at or below the threshold and merges regions that overlap once grown', () => {
    const m = map(100, 60, [rect(10, 10, 19, 12), rect(22, 10, 30, 12), rect(70, 40, 90, 45), rect(50, 5, 60, 6, 0.08)]);
    const regions = textRegions(m, 100, 60, 100, 60, 0.1);
    expect(regions).toEqual([
      { x: 6, y: 6, width: 29, height: 11 },
      { x: 64, y: 34, width: 33, height: 18 },
    ]);
    expect(textRegions(new Float32Array(100 * 60), 100, 60, 100, 60, 0.1)).toEqual([]);
  });
});
