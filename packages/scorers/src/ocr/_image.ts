/**
 * Pixel work for the OCR pipeline, on plain typed arrays: RGB conversion, antialiased
 * resizing, the rotated crop of a text line and the CHW tensors PaddleOCR's models expect.
 * PaddleOCR decodes with OpenCV, so its models were trained on BGR; tensors here are BGR too.
 */
import { SemclipError } from '@semclip/core';
import type { RawImage } from '@semclip/core';
import type { Point, Quad } from './_geometry.js';

/** Interleaved 3-channel RGB pixels. */
export interface Rgb {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** Checks a RawImage and returns it as RGB (gray is replicated, alpha dropped). */
export function toRgb(image: RawImage): Rgb {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new SemclipError('IMAGE_EMPTY', `The image to read text from is ${String(width)}x${String(height)} pixels.`, {
      expected: 'a decoded image at least 1x1 pixel',
    });
  }
  if (![1, 2, 3, 4].includes(channels)) {
    throw new SemclipError('INVALID_ARGUMENT', `The image has ${String(channels)} channels.`, { expected: '1, 2, 3 or 4 channels' });
  }
  if (data.length !== width * height * channels) {
    throw new SemclipError(
      'INVALID_ARGUMENT',
      `The image data has ${data.length} bytes but ${width}x${height}x${channels} needs ${width * height * channels}.`,
      {
        expected: 'width * height * channels bytes of interleaved pixels',
      },
    );
  }
  if (channels === 3) return { data, width, height };
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, n = width * height; i < n; i++) {
    const s = i * channels;
    const d = i * 3;
    if (channels <= 2) {
      out[d] = out[d + 1] = out[d + 2] = data[s]!;
    } else {
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { data: out, width, height };
}

/**
 * Separable resize with a triangle kernel widened by the scale factor when shrinking
 * (Pillow-style antialiasing). Upscaling equals OpenCV's half-pixel-centred bilinear;
 * shrinking averages instead of aliasing, which keeps thin strokes of small text.
 */
export function resizeRgb(src: Rgb, width: number, height: number): Rgb {
  if (width === src.width && height === src.height) return src;
  const horiz = kernelTable(src.width, width);
  const vert = kernelTable(src.height, height);
  const tmp = new Float32Array(width * src.height * 3);
  for (let y = 0; y < src.height; y++) {
    const row = y * src.width * 3;
    for (let x = 0; x < width; x++) {
      const { start, weights } = horiz[x]!;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < weights.length; k++) {
        const w = weights[k]!;
        const s = row + (start + k) * 3;
        r += src.data[s]! * w;
        g += src.data[s + 1]! * w;
        b += src.data[s + 2]! * w;
      }
      const d = (y * width + x) * 3;
      tmp[d] = r;
      tmp[d + 1] = g;
      tmp[d + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const { start, weights } = vert[y]!;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < weights.length; k++) {
        const w = weights[k]!;
        const s = ((start + k) * width + x) * 3;
        r += tmp[s]! * w;
        g += tmp[s + 1]! * w;
        b += tmp[s + 2]! * w;
      }
      const d = (y * width + x) * 3;
      out[d] = clampByte(r);
      out[d + 1] = clampByte(g);
      out[d + 2] = clampByte(b);
    }
  }
  return { data: out, width, height };
}

function kernelTable(srcSize: number, dstSize: number): { start: number; weights: Float32Array }[] {
  const scale = srcSize / dstSize;
  const support = Math.max(1, scale);
  const table: { start: number; weights: Float32Array }[] = [];
  for (let i = 0; i < dstSize; i++) {
    const centre = (i + 0.5) * scale;
    let start = Math.floor(centre - support);
    let end = Math.ceil(centre + support);
    start = Math.max(0, start);
    end = Math.min(srcSize, end);
    const raw: number[] = [];
    let sum = 0;
    for (let j = start; j < end; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      raw.push(w);
      sum += w;
    }
    if (sum === 0) {
      // The centre fell outside every tap (only at the very edge): take the nearest pixel.
      const j = Math.min(srcSize - 1, Math.max(0, Math.floor(centre)));
      table.push({ start: j, weights: Float32Array.of(1) });
      continue;
    }
    table.push({ start, weights: Float32Array.from(raw, (w) => w / sum) });
  }
  return table;
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/**
 * Cuts a text line out along its (possibly rotated) quadrilateral, like PaddleOCR's
 * `get_rotate_crop_image`: a perspective warp onto a width x height rectangle with border
 * replication (bilinear here, OpenCV uses bicubic), then a 90 degree counter-clockwise turn
 * when the crop is at least 1.5 times taller than wide (vertical text).
 */
export function cropQuad(src: Rgb, quad: Quad): Rgb {
  const [p0, p1, p2, p3] = quad;
  const width = Math.max(1, Math.trunc(Math.max(dist(p0, p1), dist(p2, p3))));
  const height = Math.max(1, Math.trunc(Math.max(dist(p0, p3), dist(p1, p2))));
  const h = homography(
    [
      [0, 0],
      [width, 0],
      [width, height],
      [0, height],
    ],
    quad,
  );
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const den = h[6] * x + h[7] * y + h[8];
      const sx = (h[0] * x + h[1] * y + h[2]) / den;
      const sy = (h[3] * x + h[4] * y + h[5]) / den;
      sampleBilinear(src, sx, sy, out, (y * width + x) * 3);
    }
  }
  const crop: Rgb = { data: out, width, height };
  return height / width >= 1.5 ? rotate90ccw(crop) : crop;
}

/** Copies the axis-aligned `box` (integer pixels, inside the image) out of `src`. */
export function cutRgb(src: Rgb, box: { x: number; y: number; width: number; height: number }): Rgb {
  if (box.x === 0 && box.y === 0 && box.width === src.width && box.height === src.height) return src;
  const out = new Uint8Array(box.width * box.height * 3);
  const rowBytes = box.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * src.width + box.x) * 3;
    out.set(src.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { data: out, width: box.width, height: box.height };
}

/** Turns the image by 180 degrees (the angle classifier's fix for upside-down lines). */
export function rotate180(src: Rgb): Rgb {
  const n = src.width * src.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i * 3;
    const d = (n - 1 - i) * 3;
    out[d] = src.data[s]!;
    out[d + 1] = src.data[s + 1]!;
    out[d + 2] = src.data[s + 2]!;
  }
  return { data: out, width: src.width, height: src.height };
}

/** numpy's `rot90` (counter-clockwise), as PaddleOCR applies to tall crops. */
function rotate90ccw(src: Rgb): Rgb {
  const { width, height } = src;
  const out = new Uint8Array(width * height * 3);
  // out has size height x width; out[r][c] = src[c][width - 1 - r]
  for (let r = 0; r < width; r++) {
    for (let c = 0; c < height; c++) {
      const s = (c * width + (width - 1 - r)) * 3;
      const d = (r * height + c) * 3;
      out[d] = src.data[s]!;
      out[d + 1] = src.data[s + 1]!;
      out[d + 2] = src.data[s + 2]!;
    }
  }
  return { data: out, width: height, height: width };
}

function sampleBilinear(src: Rgb, x: number, y: number, out: Uint8Array, at: number): void {
  // Pixel centres sit at integer coordinates (OpenCV's warp convention); border replicated.
  const maxX = src.width - 1;
  const maxY = src.height - 1;
  const cx = x < 0 ? 0 : Math.min(x, maxX);
  const cy = y < 0 ? 0 : Math.min(y, maxY);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = x0 < maxX ? x0 + 1 : x0;
  const y1 = y0 < maxY ? y0 + 1 : y0;
  const fx = cx - x0;
  const fy = cy - y0;
  const w = src.width;
  const d = src.data;
  for (let c = 0; c < 3; c++) {
    const a = d[(y0 * w + x0) * 3 + c]!;
    const b = d[(y0 * w + x1) * 3 + c]!;
    const e = d[(y1 * w + x0) * 3 + c]!;
    const f = d[(y1 * w + x1) * 3 + c]!;
    const top = a + (b - a) * fx;
    const bottom = e + (f - e) * fx;
    out[at + c] = clampByte(top + (bottom - top) * fy);
  }
}

function dist(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

type Mat3 = [number, number, number, number, number, number, number, number, number];

/** The 3x3 perspective transform taking each `from` point to the matching `to` point. */
export function homography(from: readonly Point[], to: readonly Point[]): Mat3 {
  const a: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  const s = solve(a, b);
  if (!s) {
    // Degenerate quad (collinear corners): fall back to the axis-aligned map of its bounds.
    const xs = to.map((p) => p[0]);
    const ys = to.map((p) => p[1]);
    const fw = Math.max(1e-6, from[1]![0] - from[0]![0]);
    const fh = Math.max(1e-6, from[3]![1] - from[0]![1]);
    const minX = Math.min(...xs);
    const minY = Math.min(...ys);
    return [(Math.max(...xs) - minX) / fw, 0, minX, 0, (Math.max(...ys) - minY) / fh, minY, 0, 0, 1];
  }
  return [s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, s[5]!, s[6]!, s[7]!, 1];
}

/** Gaussian elimination with partial pivoting; null when singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) < 1e-10) return null;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const prow = m[col]!;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = m[r]!;
      const f = row[col]! / prow[col]!;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) row[c] = row[c]! - f * prow[c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/**
 * Writes an image into a BGR CHW float tensor slot of size 3 x rows x stride (rows: the
 * image's height unless given), as `(pixel / 255 - mean) / std`, per channel in BGR order.
 * Columns from `image.width` to `stride` and rows below the image stay as they are (zeros:
 * PaddleOCR pads normalised lines with 0).
 */
export function writeChwBgr(
  image: Rgb,
  target: Float32Array,
  offset: number,
  stride: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
  rows = image.height,
): void {
  const plane = rows * stride;
  const { data, width, height } = image;
  // BGR channel c reads RGB channel 2 - c.
  const scale = [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])] as const;
  const shift = [mean[0] / std[0], mean[1] / std[1], mean[2] / std[2]] as const;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = offset + y * stride + x;
      target[d] = data[s + 2]! * scale[0] - shift[0];
      target[d + plane] = data[s + 1]! * scale[1] - shift[1];
      target[d + 2 * plane] = data[s]! * scale[2] - shift[2];
    }
  }
}
