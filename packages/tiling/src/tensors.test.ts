import { describe, expect, it } from 'vitest';
import { QUADRANT_COLORS, makeJpeg, makeRaw, meanAbsDiff, writeTemp } from '@semclip/test-kit/images';
import { itShared, sharedData } from '@semclip/test-kit/shared-data';
import sharp from 'sharp';
import { tileImage } from './index.js';
import type { TiledImage } from './index.js';

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
const QUEUE_TIME = sharedData('images/queue_time.jpg');

const stats = (img: TiledImage) => img.decodeStats;

/** Value of channel c at (x, y) of image k in an NCHW batch. */
function at(t: { data: Float32Array; dims: number[] }, k: number, c: number, x: number, y: number): number {
  const [, , h, w] = t.dims as [number, number, number, number];
  return t.data[((k * 3 + c) * h + y) * w + x]!;
}

describe('tensors', () => {
  it('normalises each channel as (x / 255 - mean) / std, checked against a hand-computed pixel', async () => {
    const image = await tileImage(makeRaw({ width: 20, height: 10, pattern: 'solid', color: [200, 100, 50] }), { grid: '1x2' });
    const t = await image.tensors({ size: { width: 4, height: 4 }, mean: CLIP_MEAN, std: CLIP_STD });
    // By hand: R (200/255 - 0.48145466) / 0.26862954 = 1.1274..., G (100/255 - 0.4578275) / 0.26130258
    // = -0.2513..., B (50/255 - 0.40821073) / 0.27577711 = -0.7692...
    const expected = [1.1274, -0.2513, -0.7692];
    for (let k = 0; k < 3; k++) {
      for (let c = 0; c < 3; c++) {
        expect(at(t, k, c, 0, 0)).toBeCloseTo(expected[c]!, 3);
        expect(at(t, k, c, 3, 3)).toBeCloseTo(expected[c]!, 3);
      }
    }
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.dims).toEqual([3, 3, 4, 4]);
    expect(t.data.length).toBe(3 * 3 * 4 * 4);
  });

  it('lays the batch out as [overview, ...tiles] in tile order, channels first', async () => {
    const image = await tileImage(makeRaw({ width: 64, height: 48, pattern: 'quadrants' }), { grid: '2x2' });
    const t = await image.tensors({ size: { width: 8, height: 8 }, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(t.dims).toEqual([5, 3, 8, 8]);
    for (let i = 0; i < 4; i++) {
      const want = QUADRANT_COLORS[i]!;
      for (let c = 0; c < 3; c++) expect(at(t, 1 + i, c, 4, 4) * 255).toBeCloseTo(want[c]!, 0);
    }
    // The overview holds all four: top-left pixel is quadrant 0, bottom-right is quadrant 3.
    expect(at(t, 0, 0, 0, 0) * 255).toBeCloseTo(QUADRANT_COLORS[0][0], 0);
    expect(at(t, 0, 2, 7, 7) * 255).toBeCloseTo(QUADRANT_COLORS[3][2], 0);
  });

  it('returns only the requested tiles, in the requested order, without the overview when asked', async () => {
    const image = await tileImage(makeRaw({ width: 64, height: 48, pattern: 'quadrants' }), { grid: '2x2' });
    const t = await image.tensors({ size: { width: 8, height: 8 }, mean: [0, 0, 0], std: [1, 1, 1], overview: false, tiles: [3, 0] });
    expect(t.dims).toEqual([2, 3, 8, 8]);
    expect(at(t, 0, 2, 4, 4) * 255).toBeCloseTo(QUADRANT_COLORS[3][2], 0);
    expect(at(t, 1, 0, 4, 4) * 255).toBeCloseTo(QUADRANT_COLORS[0][0], 0);
  });

  it('pads the overview like LLaVA-1.5: with the normalisation mean, which becomes 0', async () => {
    const image = await tileImage(makeRaw({ width: 80, height: 40, pattern: 'solid', color: [255, 0, 0] }), { grid: '1x2' });
    const t = await image.tensors({ size: { width: 16, height: 16 }, mean: CLIP_MEAN, std: CLIP_STD, overview: 'pad', tiles: [] });
    expect(t.dims).toEqual([1, 3, 16, 16]);
    for (let c = 0; c < 3; c++) expect(Math.abs(at(t, 0, c, 8, 0))).toBeLessThan(0.02); // top band: padding
    expect(at(t, 0, 0, 8, 8)).toBeCloseTo((1 - CLIP_MEAN[0]) / CLIP_STD[0], 3); // middle: the red image
  });

  it.each([
    ['resize', 'red'],
    ['crop', 'white'],
  ] as const)('overview %s shows %s near the left edge of a red|white|red image', async (mode, colour) => {
    // 90x30: a 30-px red band each side of a 30-px white centre.
    const data = new Uint8Array(90 * 30 * 3).fill(255);
    for (let y = 0; y < 30; y++) {
      for (const x0 of [0, 60]) {
        for (let x = x0; x < x0 + 30; x++) {
          data[(y * 90 + x) * 3 + 1] = 0;
          data[(y * 90 + x) * 3 + 2] = 0;
        }
      }
    }
    const image = await tileImage({ data, width: 90, height: 30, channels: 3 }, { grid: '1x3' });
    const t = await image.tensors({ size: { width: 9, height: 9 }, mean: [0, 0, 0], std: [1, 1, 1], overview: mode, tiles: [] });
    // resize squashes: the left edge stays red. crop centre-crops: only the white centre remains.
    const green = at(t, 0, 1, 1, 4) * 255;
    if (colour === 'red') expect(green).toBeLessThan(40);
    else expect(green).toBeGreaterThan(215);
  });

  it.each(['fill', 'contain', 'cover'] as const)('fits tiles with %s', async (fit) => {
    const image = await tileImage(makeRaw({ width: 200, height: 50, pattern: 'solid', color: [0, 0, 255] }), { grid: '1x1' });
    const t = await image.tensors({ size: { width: 10, height: 10 }, mean: [0, 0, 0], std: [1, 1, 1], overview: false, fit });
    const top = Math.round(at(t, 0, 0, 5, 0) * 255); // red channel, top-middle pixel
    // contain pads above and below with the mean colour; fill and cover show the blue image there.
    expect(top).toBe(fit === 'contain' ? 0 : 0);
    expect(Math.round(at(t, 0, 2, 5, 0) * 255)).toBe(fit === 'contain' ? 0 : 255);
  });

  it.each([
    [{ size: { width: 0, height: 10 } }],
    [{ mean: [0, 0] }],
    [{ std: [1, 0, 1] }],
    [{ tiles: [4] }],
    [{ tiles: [1.5] }],
    [{ fit: 'stretch' }],
    [{ overview: 'squash' }],
  ])('rejects %j with INVALID_ARGUMENT', async (bad) => {
    const image = await tileImage(makeRaw({ width: 20, height: 20 }), { grid: '2x2' });
    const options = { size: { width: 4, height: 4 }, mean: [0, 0, 0], std: [1, 1, 1], ...bad } as never;
    await expect(image.tensors(options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('shrink-on-load', () => {
  // One 2000x1500 JPEG for the section: big enough that 224-px tiles decode at reduced scale.
  let big: Promise<Uint8Array> | undefined;
  const bigJpeg = () => (big ??= makeJpeg({ width: 2000, height: 1500, pattern: 'gradient', quality: 95 }));

  it('decodes a large JPEG at reduced scale, once per output scale, and reuses it', async () => {
    const jpeg = await bigJpeg();
    const image = await tileImage(jpeg, { grid: '2x2' });
    const opts = { size: { width: 224, height: 224 }, mean: CLIP_MEAN, std: CLIP_STD };
    await image.tensors(opts);
    expect(stats(image)).toEqual({ full: 0, scaled: 2, resized: 0 }); // overview scale + tile scale
    await image.tensors(opts);
    await Promise.all(image.grid.tiles.map((t) => image.crop(t.box, { size: { width: 224, height: 224 } })));
    expect(stats(image)).toEqual({ full: 0, scaled: 2, resized: 0 });
  });

  it('matches a full decode followed by one resize (mean abs difference under 2 of 255)', async () => {
    const fast = await tileImage(await bigJpeg(), { grid: '3x3' });
    const opts = { size: { width: 224, height: 224 }, mean: [0, 0, 0] as const, std: [1, 1, 1] as const };
    const a = await fast.tensors(opts);
    expect(stats(fast).full).toBe(0);
    const full = await fast.crop({ x: 0, y: 0, width: 2000, height: 1500 }); // native: full decode
    const exact = await tileImage(full, { grid: '3x3' });
    const b = await exact.tensors(opts);
    expect(meanAbsDiff(a.data, b.data) * 255).toBeLessThan(2);
  });

  it.each([
    ['fill', 'pad'],
    ['contain', 'crop'],
    ['cover', 'resize'],
  ] as const)('with tiles fitted by %s and the overview by %s, matches the full-decode path', async (fit, overview) => {
    const jpeg = await bigJpeg();
    const fast = await tileImage(jpeg, { grid: '1x3' }); // tall tiles, so every fit differs
    const opts = { size: { width: 160, height: 160 }, mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.5, 0.5] as const, fit, overview };
    const a = await fast.tensors(opts);
    expect(stats(fast).full).toBe(0);
    const exact = await tileImage(await fast.crop({ x: 0, y: 0, width: 2000, height: 1500 }), { grid: '1x3' });
    const b = await exact.tensors(opts);
    expect(meanAbsDiff(a.data, b.data) * 127.5).toBeLessThan(2);
  });

  it('decodes a JPEG file once per call, at 1/2, 1/4 or 1/8 scale in the DCT, and reuses that decode', async () => {
    const path = await writeTemp('big.jpg', await bigJpeg());
    const image = await tileImage(path, { grid: '2x2' });
    // Tiles 1000x750 -> 224: 1/4 scale leaves 250x187... too small vertically, so 1/2 it is.
    await image.tensors({ size: { width: 224, height: 224 }, mean: CLIP_MEAN, std: CLIP_STD });
    expect(stats(image)).toEqual({ full: 0, scaled: 1, resized: 0 });
    // Smaller outputs can use the same decode; per-tile crops too.
    await image.tensors({ size: { width: 112, height: 112 }, mean: CLIP_MEAN, std: CLIP_STD });
    await Promise.all(image.grid.tiles.map((t) => image.crop(t.box, { size: { width: 160, height: 160 } })));
    expect(stats(image)).toEqual({ full: 0, scaled: 1, resized: 0 });
    // A fresh image asked only for small outputs decodes at 1/8.
    const small = await tileImage(path, { grid: '2x2' });
    const t = await small.tensors({ size: { width: 64, height: 64 }, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(stats(small)).toEqual({ full: 0, scaled: 1, resized: 0 });
    // ...and matches the full-decode path.
    const exact = await tileImage(await small.crop({ x: 0, y: 0, width: 2000, height: 1500 }), { grid: '2x2' });
    const u = await exact.tensors({ size: { width: 64, height: 64 }, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(meanAbsDiff(t.data, u.data) * 255).toBeLessThan(2);
  });

  itShared('matches a full decode + resize on a real photo (queue_time.jpg, 4032x3024)', async () => {
    const fast = await tileImage(QUEUE_TIME, { grid: '2x2' });
    const opts = { size: { width: 336, height: 336 }, mean: [0, 0, 0] as const, std: [1, 1, 1] as const };
    const a = await fast.tensors(opts);
    expect(a.dims).toEqual([5, 3, 336, 336]);
    expect(stats(fast)).toMatchObject({ full: 0 });
    const full = await fast.crop({ x: 0, y: 0, ...fast.size });
    expect(stats(fast).full).toBe(1);
    const b = await (await tileImage(full, { grid: '2x2' })).tensors(opts);
    const mad = meanAbsDiff(a.data, b.data) * 255;
    expect(mad).toBeLessThan(3);
    expect(mad).toBeGreaterThan(0); // really two different decode paths
  });

  it('cuts everything from the full decode once it exists', async () => {
    const image = await tileImage(await makeJpeg({ width: 1600, height: 1200, pattern: 'noise' }), { grid: '2x2' });
    await image.crop(image.grid.tiles[0]!.box); // native crop: full decode
    await image.tensors({ size: { width: 64, height: 64 }, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(stats(image)).toEqual({ full: 1, scaled: 0, resized: 0 });
  });

  it('does not shrink on load when a tile needs more than half the source resolution', async () => {
    const image = await tileImage(await makeJpeg({ width: 800, height: 600, pattern: 'noise' }), { grid: '2x2' });
    await image.tensors({ size: { width: 336, height: 336 }, mean: [0, 0, 0], std: [1, 1, 1], overview: false });
    expect(stats(image)).toEqual({ full: 1, scaled: 0, resized: 0 });
  });
});

/**
 * Raw pixels whose red channel is round(x / xStep) and green round(y / yStep): a ramp the
 * resampling kernel reproduces away from the edges, so the source position of an output pixel can
 * be read back from its value.
 */
function ramp(width: number, height: number, xStep = 1, yStep = 1): { data: Uint8Array; width: number; height: number; channels: 3 } {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[(y * width + x) * 3] = Math.round(x / xStep);
      data[(y * width + x) * 3 + 1] = Math.round(y / yStep);
    }
  }
  return { data, width, height, channels: 3 };
}

/** Mean of channel c over column x (or row y) of image k, in 0-255 units, away from the ends. */
function column(t: { data: Float32Array; dims: number[] }, k: number, c: number, x: number): number {
  const h = t.dims[2]!;
  let sum = 0;
  for (let y = 4; y < h - 4; y++) sum += at(t, k, c, x, y);
  return (sum / (h - 8)) * 255;
}

describe('cover centre crop: offsets rounded down, as Hugging Face processors do', () => {
  const unit = { mean: [0, 0, 0] as const, std: [1, 1, 1] as const };

  it.each([
    // [image w, h, out w, h, expected left, expected top]: odd leftovers, where sharp's own centre crop rounds up.
    [101, 50, 50, 50, 25, 0],
    [40, 73, 40, 40, 0, 16],
    [99, 64, 64, 64, 17, 0],
    [7, 4, 4, 4, 1, 0],
  ])('cuts a %ix%i tile to %ix%i at left %i, top %i (no resampling)', async (w, h, ow, oh, left, top) => {
    const image = await tileImage(ramp(w, h), { grid: '1x1' });
    const t = await image.tensors({ size: { width: ow, height: oh }, ...unit, overview: false, fit: 'cover' });
    for (const [x, y] of [
      [0, 0],
      [ow - 1, oh - 1],
    ] as const) {
      expect(Math.round(at(t, 0, 0, x, y) * 255)).toBe(left + x);
      expect(Math.round(at(t, 0, 1, x, y) * 255)).toBe(top + y);
    }
  });

  it('applies the same offsets to crop({ fit: "cover" }) of a box and to the "crop" overview', async () => {
    const image = await tileImage(ramp(101, 50), { grid: '1x1' });
    // Box 61x30 at (10, 5) to 30x30: floor((61 - 30) / 2) = 15, so the crop starts at x = 25.
    const crop = await image.crop({ x: 10, y: 5, width: 61, height: 30 }, { size: { width: 30, height: 30 }, fit: 'cover' });
    expect([crop.data[0], crop.data[1]]).toEqual([25, 5]);
    const overview = await image.overview({ width: 50, height: 50 }, 'crop');
    expect([overview.data[0], overview.data[1]]).toEqual([25, 0]);
  });

  it('keeps the offset in resized pixels when it resamples: 202x100 -> 101x50 -> columns 25-74', async () => {
    const image = await tileImage(ramp(202, 100), { grid: '1x1' });
    const t = await image.tensors({ size: { width: 50, height: 50 }, ...unit, overview: false, fit: 'cover' });
    // The same resample without a crop: the whole image squashed to 101x50.
    const resized = await image.tensors({ size: { width: 101, height: 50 }, ...unit, overview: false, fit: 'fill' });
    for (const x of [0, 20, 49]) expect(column(t, 0, 0, x)).toBeCloseTo(column(resized, 0, 0, 25 + x), 3);
    expect(Math.abs(column(t, 0, 0, 0) - column(resized, 0, 0, 26))).toBeGreaterThan(1.5); // not sharp's 26
  });

  it.each(['bytes', 'file'] as const)('gives the same offset on the shrink-on-load paths (JPEG %s)', async (kind) => {
    // 812x400 at 1/4 scale: resized 203x100, crop 100x100 from x = floor(103 / 2) = 51 -> source x
    // (51 + 0.5) * 4 - 0.5 = 205.5, red = x / 4 = 51.4 (rounding the offset up would give 52.4).
    const { data, width, height } = ramp(812, 400, 4, 4);
    const jpeg = new Uint8Array(
      await sharp(data, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 100 })
        .toBuffer(),
    );
    const image = await tileImage(kind === 'file' ? await writeTemp('ramp.jpg', jpeg) : jpeg, { grid: '1x1' });
    const t = await image.tensors({ size: { width: 100, height: 100 }, ...unit, overview: false, fit: 'cover' });
    expect(stats(image)).toMatchObject({ full: 0, scaled: 1 });
    expect(Math.abs(column(t, 0, 0, 0) - 51.4)).toBeLessThan(0.35);
    expect(Math.abs(column(t, 0, 0, 99) - (51.4 + 99))).toBeLessThan(0.35);
  });

  it('never holds the whole resized image for an extreme box (4000x1 covered to 224x224)', async () => {
    const image = await tileImage(ramp(4000, 50, 16, 1), { grid: '1x1' });
    const raw = await image.crop({ x: 0, y: 0, width: 4000, height: 1 }, { size: { width: 224, height: 224 }, fit: 'cover' });
    expect([raw.width, raw.height]).toEqual([224, 224]);
    // Resized 896000x224, crop from x = 447888: source x (447888 + 0.5) / 224 - 0.5 = 1999.0.
    expect(Math.abs(raw.data[0]! - 1999 / 16)).toBeLessThanOrEqual(1);
  });
});
