/**
 * DB (Differentiable Binarization) post-processing, after PaddleOCR's
 * `ppocr/postprocess/db_postprocess.py` (`boxes_from_bitmap`, box_type "quad", score_mode
 * "fast") and `tools/infer/predict_det.py` (`filter_tag_det_res`), without OpenCV:
 *
 * - `cv2.findContours(RETR_LIST)` becomes 8-connected components of the thresholded map.
 *   `cv2.minAreaRect` of a contour equals that of its convex hull, so each component's hull
 *   (built from its leftmost and rightmost pixel in every row) gives the same rectangle.
 *   Hole contours, which RETR_LIST also returns, are not used: a hole lies inside its
 *   component's box, so it would only add a duplicate box.
 * - `pyclipper` round-join offsetting of a rectangle by d, followed by minAreaRect, is
 *   exactly the rectangle grown by d on every side, so unclip is computed in closed form.
 */

export type Point = readonly [number, number];
export type Quad = readonly [Point, Point, Point, Point];

export interface DbOptions {
  /** Probability above which a map pixel is text. PaddleOCR: 0.3. */
  readonly thresh: number;
  /** Minimum mean probability inside a box. PaddleOCR PP-OCRv4 inference: 0.6. */
  readonly boxThresh: number;
  /** How far boxes grow back out (DB shrinks text regions in training). PaddleOCR: 1.5. */
  readonly unclipRatio: number;
  /** At most this many regions are considered. PaddleOCR: 1000. */
  readonly maxCandidates: number;
}

export interface DetectedBox {
  /** Corners top-left, top-right, bottom-right, bottom-left, in destination pixels. */
  readonly quad: Quad;
  /** Mean text probability inside the box (before unclipping). */
  readonly score: number;
}

const MIN_SIZE = 3;

/** Rotated rectangle: centre, unit axis along `width`, and the two side lengths. */
interface RotatedRect {
  readonly cx: number;
  readonly cy: number;
  readonly ux: number;
  readonly uy: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Turns a probability map (height x width, row-major) into text boxes scaled to a
 * destination image of destWidth x destHeight.
 */
export function boxesFromProbabilityMap(
  pred: Float32Array,
  width: number,
  height: number,
  destWidth: number,
  destHeight: number,
  options: DbOptions,
): DetectedBox[] {
  const boxes: DetectedBox[] = [];
  for (const hull of componentHulls(pred, width, height, options.thresh, options.maxCandidates)) {
    const rect = minAreaRect(hull);
    if (Math.min(rect.width, rect.height) < MIN_SIZE) continue;
    const mini = miniBox(rect);
    const score = boxScoreFast(pred, width, height, mini);
    if (options.boxThresh > score) continue;
    const grown = unclip(rect, options.unclipRatio);
    if (Math.min(grown.width, grown.height) < MIN_SIZE + 2) continue;
    const scaled = miniBox(grown).map(
      ([x, y]) => [clamp(Math.round((x / width) * destWidth), 0, destWidth), clamp(Math.round((y / height) * destHeight), 0, destHeight)] as const,
    );
    // filter_tag_det_res: order, clip into the image, drop slivers.
    const ordered = orderPointsClockwise(scaled).map(([x, y]) => [clamp(x, 0, destWidth - 1), clamp(y, 0, destHeight - 1)] as const) as unknown as Quad;
    const rectWidth = Math.trunc(distance(ordered[0], ordered[1]));
    const rectHeight = Math.trunc(distance(ordered[0], ordered[3]));
    if (rectWidth <= 3 || rectHeight <= 3) continue;
    boxes.push({ quad: ordered, score });
  }
  return sortBoxes(boxes);
}

/**
 * 8-connected components of `map > thresh`, each reduced to the convex hull of its
 * pixel centres. Components come in raster order of their first pixel.
 */
export function componentHulls(map: ArrayLike<number>, width: number, height: number, thresh: number, maxCandidates: number): Point[][] {
  const n = width * height;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const rowMin = new Int32Array(height).fill(-1);
  const rowMax = new Int32Array(height).fill(-1);
  const hulls: Point[][] = [];
  for (let start = 0; start < n && hulls.length < maxCandidates; start++) {
    if (seen[start] || !(map[start]! > thresh)) continue;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    let yMin = height;
    let yMax = -1;
    while (top > 0) {
      const p = stack[--top]!;
      const y = (p / width) | 0;
      const x = p - y * width;
      if (rowMin[y] === -1) {
        rowMin[y] = x;
        rowMax[y] = x;
      } else {
        if (x < rowMin[y]!) rowMin[y] = x;
        if (x > rowMax[y]!) rowMax[y] = x;
      }
      if (y < yMin) yMin = y;
      if (y > yMax) yMax = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if ((dx === 0 && dy === 0) || nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (!seen[q] && map[q]! > thresh) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    const points: Point[] = [];
    for (let y = yMin; y <= yMax; y++) {
      if (rowMin[y] === -1) continue;
      points.push([rowMin[y]!, y]);
      if (rowMax[y] !== rowMin[y]) points.push([rowMax[y]!, y]);
      rowMin[y] = -1;
      rowMax[y] = -1;
    }
    hulls.push(convexHull(points));
  }
  return hulls;
}

/** Andrew's monotone chain; counter-clockwise, no repeated or collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length <= 2) return pts;
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Minimum-area enclosing rectangle of a convex hull (rotating calipers over hull edges). */
function minAreaRect(hull: readonly Point[]): RotatedRect {
  if (hull.length === 0) return { cx: 0, cy: 0, ux: 1, uy: 0, width: 0, height: 0 };
  if (hull.length === 1) return { cx: hull[0]![0], cy: hull[0]![1], ux: 1, uy: 0, width: 0, height: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    // Prefer the first minimum; ties between equal rectangles change nothing after ordering.
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, ux, uy, width: maxU - minU, height: maxV - minV };
    }
  }
  return best ?? { cx: hull[0]![0], cy: hull[0]![1], ux: 1, uy: 0, width: 0, height: 0 };
}

function corners(r: RotatedRect): Point[] {
  const hx = (r.ux * r.width) / 2;
  const hy = (r.uy * r.width) / 2;
  const vx = (-r.uy * r.height) / 2;
  const vy = (r.ux * r.height) / 2;
  return [
    [r.cx - hx - vx, r.cy - hy - vy],
    [r.cx + hx - vx, r.cy + hy - vy],
    [r.cx + hx + vx, r.cy + hy + vy],
    [r.cx - hx + vx, r.cy - hy + vy],
  ];
}

/** `get_mini_boxes`: the rectangle's corners ordered as PaddleOCR orders them. */
function miniBox(r: RotatedRect): Quad {
  const pts = corners(r).sort((a, b) => a[0] - b[0]);
  const [a, b, c, d] = pts as [Point, Point, Point, Point];
  const [i1, i4] = b[1] > a[1] ? [a, b] : [b, a];
  const [i2, i3] = d[1] > c[1] ? [c, d] : [d, c];
  return [i1, i2, i3, i4];
}

/** Mean of the map inside the quad (`box_score_fast`: bounding rows/cols, polygon mask). */
export function boxScoreFast(map: ArrayLike<number>, width: number, height: number, quad: Quad): number {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const xMin = clamp(Math.floor(Math.min(...xs)), 0, width - 1);
  const xMax = clamp(Math.ceil(Math.max(...xs)), 0, width - 1);
  const yMin = clamp(Math.floor(Math.min(...ys)), 0, height - 1);
  const yMax = clamp(Math.ceil(Math.max(...ys)), 0, height - 1);
  // cv2.fillPoly takes int32 vertices: truncate like numpy's astype(int32).
  const poly = quad.map(([x, y]) => [Math.trunc(x), Math.trunc(y)] as const);
  let sum = 0;
  let count = 0;
  for (let y = yMin; y <= yMax; y++) {
    for (let x = xMin; x <= xMax; x++) {
      if (!insideConvex(poly, x, y)) continue;
      sum += map[y * width + x]!;
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** Point in (or on the edge of) a convex polygon given in either winding. */
function insideConvex(poly: readonly Point[], x: number, y: number): boolean {
  let sign = 0;
  for (let i = 0; i < poly.length; i++) {
    const a = poly[i]!;
    const b = poly[(i + 1) % poly.length]!;
    const c = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
    if (c === 0) continue;
    const s = c > 0 ? 1 : -1;
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}

/** Grows the rectangle by area * ratio / perimeter on every side (DB's unclip). */
function unclip(r: RotatedRect, ratio: number): RotatedRect {
  const perimeter = 2 * (r.width + r.height);
  const d = perimeter === 0 ? 0 : (r.width * r.height * ratio) / perimeter;
  return { ...r, width: r.width + 2 * d, height: r.height + 2 * d };
}

/** PaddleOCR's `order_points_clockwise`: tl = min x+y, br = max x+y, tr = min y-x, bl = max y-x. */
export function orderPointsClockwise(points: readonly Point[]): Point[] {
  const sums = points.map((p) => p[0] + p[1]);
  const iMin = argmin(sums);
  let iMax = argmax(sums);
  if (iMax === iMin) iMax = (iMin + 2) % points.length;
  const rest = points.filter((_, i) => i !== iMin && i !== iMax);
  const diffs = rest.map((p) => p[1] - p[0]);
  let iTr = argmin(diffs);
  let iBl = argmax(diffs);
  if (iTr === iBl) [iTr, iBl] = [0, 1];
  return [points[iMin]!, rest[iTr]!, points[iMax]!, rest[iBl]!];
}

function argmin(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! < values[best]!) best = i;
  return best;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** PaddleOCR's `sorted_boxes`: top to bottom, then left to right within 10 px of height. */
export function sortBoxes<T extends { readonly quad: Quad }>(boxes: readonly T[]): T[] {
  const out = [...boxes].sort((a, b) => a.quad[0][1] - b.quad[0][1] || a.quad[0][0] - b.quad[0][0]);
  for (let i = 0; i < out.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const next = out[j + 1]!;
      const cur = out[j]!;
      if (Math.abs(next.quad[0][1] - cur.quad[0][1]) < 10 && next.quad[0][0] < cur.quad[0][0]) {
        out[j] = next;
        out[j + 1] = cur;
      } else {
        break;
      }
    }
  }
  return out;
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : Math.min(v, hi);
}

/**
 * Where a coarse detector pass saw a hint of text: the bounds of each 8-connected component of
 * `map > thresh` (map pixels), grown on every side by its shorter side (at least `minGrow` map
 * pixels: the fine pass needs the text's surroundings, and a line seen in part at the coarse
 * scale may be longer), scaled to a destWidth x destHeight image, clipped to it, and merged
 * where they overlap, in reading order. Integer pixels.
 */
export function textRegions(
  map: ArrayLike<number>,
  width: number,
  height: number,
  destWidth: number,
  destHeight: number,
  thresh: number,
  minGrow = 4,
): { x: number; y: number; width: number; height: number }[] {
  const n = width * height;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const sx = destWidth / width;
  const sy = destHeight / height;
  let regions: [number, number, number, number][] = [];
  for (let start = 0; start < n; start++) {
    if (seen[start] || !(map[start]! > thresh)) continue;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    while (top > 0) {
      const p = stack[--top]!;
      const y = (p / width) | 0;
      const x = p - y * width;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (!seen[q] && map[q]! > thresh) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    const grow = Math.max(minGrow, Math.min(x1 - x0 + 1, y1 - y0 + 1));
    regions.push([
      Math.max(0, Math.floor((x0 - grow) * sx)),
      Math.max(0, Math.floor((y0 - grow) * sy)),
      Math.min(destWidth, Math.ceil((x1 + 1 + grow) * sx)),
      Math.min(destHeight, Math.ceil((y1 + 1 + grow) * sy)),
    ]);
  }
  // Merge overlapping regions until none overlap (a merged region may reach a third one).
  for (let merged = true; merged; ) {
    merged = false;
    const out: [number, number, number, number][] = [];
    for (const r of regions) {
      const o = out.find((q) => q[0] < r[2] && r[0] < q[2] && q[1] < r[3] && r[1] < q[3]);
      if (!o) {
        out.push(r);
        continue;
      }
      o[0] = Math.min(o[0], r[0]);
      o[1] = Math.min(o[1], r[1]);
      o[2] = Math.max(o[2], r[2]);
      o[3] = Math.max(o[3], r[3]);
      merged = true;
    }
    regions = out;
  }
  return regions.sort((a, b) => a[1] - b[1] || a[0] - b[0]).map(([x0, y0, x1, y1]) => ({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }));
}
