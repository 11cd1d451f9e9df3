import { describe, expect, it } from 'vitest';
import {
  QUADRANT_COLORS,
  makeGif,
  makeJpeg,
  makePng,
  makePng16,
  makeRaw,
  makeTiff,
  makeWebp,
  meanAbsDiff,
  patternPixel,
  writeTemp,
} from '@semclip/test-kit/images';
import sharp from 'sharp';
import { readImageInfo, tileImage } from './index.js';

const whole = (img: { size: { width: number; height: number } }) => ({ x: 0, y: 0, width: img.size.width, height: img.size.height });

function pixel(raw: { data: Uint8Array | Uint8ClampedArray; width: number; channels: number }, x: number, y: number): number[] {
  const o = (y * raw.width + x) * raw.channels;
  return Array.from(raw.data.subarray(o, o + raw.channels));
}

describe('decoding to 8-bit sRGB RGB', () => {
  it('returns raw RGB input pixels unchanged at native resolution', async () => {
    const raw = makeRaw({ width: 37, height: 23, pattern: 'noise' });
    const image = await tileImage(raw, { grid: '1x1' });
    const out = await image.crop(whole(image));
    expect([out.width, out.height, out.channels]).toEqual([37, 23, 3]);
    expect(Buffer.from(out.data).equals(Buffer.from(raw.data))).toBe(true);
  });

  it('cuts a native crop at exactly the requested pixels', async () => {
    const raw = makeRaw({ width: 64, height: 48, pattern: 'gradient' });
    const image = await tileImage(raw);
    const out = await image.crop({ x: 10, y: 5, width: 7, height: 3 });
    expect([out.width, out.height]).toEqual([7, 3]);
    expect(pixel(out, 0, 0)).toEqual(patternPixel({ width: 64, height: 48 }, 10, 5));
    expect(pixel(out, 6, 2)).toEqual(patternPixel({ width: 64, height: 48 }, 16, 7));
  });

  it('does not let callers corrupt the cached decode', async () => {
    const raw = makeRaw({ width: 8, height: 8, pattern: 'solid', color: [10, 20, 30] });
    const image = await tileImage(raw, { grid: '1x1' });
    const a = await image.crop(whole(image));
    a.data.fill(0);
    const b = await image.crop(whole(image));
    expect(pixel(b, 0, 0)).toEqual([10, 20, 30]);
  });

  it('expands grayscale PNGs to three equal channels', async () => {
    const png = await makePng({ width: 6, height: 4, channels: 1, pattern: 'solid', color: [90, 90, 90] });
    expect((await sharp(png).metadata()).channels).toBe(1);
    const image = await tileImage(png, { grid: '1x1' });
    const out = await image.crop(whole(image));
    expect(out.channels).toBe(3);
    expect(pixel(out, 3, 2)).toEqual([90, 90, 90]);
  });

  it.each([
    ['RGBA', 4 as const],
    ['gray + alpha', 2 as const],
  ])('flattens fully transparent %s pixels onto white', async (_, channels) => {
    const png = await makePng({ width: 5, height: 5, channels, pattern: 'solid', color: [0, 0, 0], alpha: 0 });
    const image = await tileImage(png, { grid: '1x1' });
    expect(pixel(await image.crop(whole(image)), 2, 2)).toEqual([255, 255, 255]);
  });

  it('composites half-transparent pixels over white', async () => {
    const png = await makePng({ width: 4, height: 4, channels: 4, pattern: 'solid', color: [200, 0, 0], alpha: 128 });
    const image = await tileImage(png, { grid: '1x1' });
    const [r, g, b] = pixel(await image.crop(whole(image)), 1, 1);
    // 200*a + 255*(1-a) and 255*(1-a) with a = 128/255
    expect(r).toBeCloseTo(227, -1);
    expect(g).toBeCloseTo(127, -1);
    expect(b).toBeCloseTo(127, -1);
  });

  it('flattens RGBA raw input onto white too', async () => {
    const raw = makeRaw({ width: 4, height: 4, channels: 4, pattern: 'solid', color: [0, 0, 0], alpha: 0 });
    const image = await tileImage(raw, { grid: '1x1' });
    expect(pixel(await image.crop(whole(image)), 0, 0)).toEqual([255, 255, 255]);
  });

  it('converts gray raw input to RGB', async () => {
    const raw = { data: new Uint8Array([0, 50, 100, 255]), width: 2, height: 2, channels: 1 as const };
    const image = await tileImage(raw, { grid: '1x1' });
    const out = await image.crop(whole(image));
    expect(Array.from(out.data)).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 255, 255, 255]);
  });

  it('reduces 16-bit PNGs to the exact 8-bit values', async () => {
    const opts = { width: 9, height: 7, pattern: 'gradient' as const };
    const png = await makePng16(opts);
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const image = await tileImage(png, { grid: '1x1' });
    const out = await image.crop(whole(image));
    for (const [x, y] of [
      [0, 0],
      [4, 3],
      [8, 6],
    ] as const) {
      expect(pixel(out, x, y)).toEqual(patternPixel(opts, x, y));
    }
  });

  it('converts CMYK JPEGs to sRGB', async () => {
    const jpeg = await makeJpeg({ width: 16, height: 16, pattern: 'solid', color: [200, 100, 50], cmyk: true });
    expect((await sharp(jpeg).metadata()).space).toBe('cmyk');
    const image = await tileImage(jpeg, { grid: '1x1' });
    const [r, g, b] = pixel(await image.crop(whole(image)), 8, 8);
    expect(Math.abs(r! - 200)).toBeLessThan(12);
    expect(Math.abs(g! - 100)).toBeLessThan(12);
    expect(Math.abs(b! - 50)).toBeLessThan(30);
  });

  it.each([
    ['WebP', () => makeWebp({ width: 40, height: 30, pattern: 'quadrants' }), 'webp'],
    ['GIF', () => makeGif({ width: 40, height: 30, pattern: 'quadrants' }), 'gif'],
    ['TIFF', () => makeTiff({ width: 40, height: 30, pattern: 'quadrants' }), 'tiff'],
    ['PNG', () => makePng({ width: 40, height: 30, pattern: 'quadrants' }), 'png'],
  ])('reads %s and cuts each quadrant tile in its own colour', async (_, make, format) => {
    const image = await tileImage(await make(), { grid: '2x2' });
    expect(image.format).toBe(format);
    for (const tile of image.grid.tiles) {
      const out = await image.crop(tile.box, { size: { width: 4, height: 4 } });
      const [r, g, b] = pixel(out, 2, 2);
      const want = QUADRANT_COLORS[tile.index]!;
      expect(Math.abs(r! - want[0]) + Math.abs(g! - want[1]) + Math.abs(b! - want[2])).toBeLessThan(24);
    }
  });
});

describe('EXIF orientation', () => {
  it.each([
    [6, 90],
    [8, 270],
    [3, 180],
    [1, 0],
  ])('applies orientation %i (rotate %i degrees) to size and pixels', async (orientation, degrees) => {
    const opts = { width: 60, height: 40, pattern: 'quadrants' as const, quality: 100 };
    const jpeg = await makeJpeg({ ...opts, orientation });
    const info = await readImageInfo(jpeg);
    expect(info.orientation).toBe(orientation);
    const swapped = degrees % 180 === 90;
    expect([info.width, info.height]).toEqual(swapped ? [40, 60] : [60, 40]);
    const image = await tileImage(jpeg, { grid: '2x2' });
    expect(image.size).toEqual({ width: info.width, height: info.height });
    // The stored top-left quadrant (red) appears where a rotation by `degrees` puts it.
    const corner = { 0: 0, 90: 1, 180: 3, 270: 2 }[degrees as 0 | 90 | 180 | 270];
    const out = await image.crop(image.grid.tiles[corner]!.box, { size: { width: 4, height: 4 } });
    const [r, g, b] = pixel(out, 2, 2);
    expect(r).toBeGreaterThan(180);
    expect(g! + b!).toBeLessThan(140);
    // The same holds at reduced scale (the shrink-on-load path rotates too).
    const big = await tileImage(await makeJpeg({ width: 1200, height: 800, pattern: 'quadrants', orientation }), { grid: '2x2' });
    const small = await big.crop(big.grid.tiles[corner]!.box, { size: { width: 32, height: 32 } });
    expect(pixel(small, 16, 16)[0]).toBeGreaterThan(180);
  });
});

describe('generated edge cases', () => {
  it('tiles a 1x1 image with a 1x1 grid and rejects finer grids', async () => {
    const raw = makeRaw({ width: 1, height: 1, pattern: 'solid', color: [1, 2, 3] });
    const image = await tileImage(raw, { grid: '1x1' });
    expect(image.grid.tiles).toHaveLength(1);
    const t = await image.tensors({ size: { width: 2, height: 2 }, mean: [0, 0, 0], std: [1, 1, 1], overview: false });
    expect(t.dims).toEqual([1, 3, 2, 2]);
    expect(t.data[0]).toBeCloseTo(1 / 255, 6);
    await expect(tileImage(raw, { grid: '2x2' })).rejects.toMatchObject({ code: 'INVALID_GRID' });
  });

  it('tiles a 10000x20 strip with an auto grid', async () => {
    const png = await makePng({ width: 10000, height: 20, pattern: 'gradient' });
    const image = await tileImage(png, { grid: 'auto' });
    expect([image.grid.rows, image.grid.cols]).toEqual([1, 9]);
    const t = await image.tensors({ size: { width: 32, height: 32 }, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(t.dims).toEqual([10, 3, 32, 32]);
    // Red rises left to right across the strip, so each tile is redder than the one before.
    const plane = 32 * 32;
    const redOf = (k: number) => t.data.subarray(k * 3 * plane, k * 3 * plane + plane).reduce((a, b) => a + b, 0) / plane;
    for (let k = 2; k <= 9; k++) expect(redOf(k)).toBeGreaterThan(redOf(k - 1));
  });

  it.each([
    [333, 201, '3x3'],
    [1001, 999, '2x2'],
    [17, 13, '2x3'],
  ])('handles an odd %ix%i JPEG with a %s grid', async (width, height, grid) => {
    const image = await tileImage(await makeJpeg({ width, height, pattern: 'noise' }), { grid });
    const t = await image.tensors({ size: { width: 24, height: 24 }, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(t.dims[0]).toBe(image.grid.tiles.length + 1);
    expect(t.data.every((v) => Number.isFinite(v) && v >= -1.0001 && v <= 1.0001)).toBe(true);
    for (const tile of image.grid.tiles) {
      const out = await image.crop(tile.box);
      expect([out.width, out.height]).toEqual([tile.box.width, tile.box.height]);
    }
  });

  it('hashes content, not the path: same bytes, same id; different pixels, different id', async () => {
    const a = await makePng({ width: 20, height: 20, pattern: 'noise', seed: 1 });
    const b = await makePng({ width: 20, height: 20, pattern: 'noise', seed: 2 });
    const [ia, ia2, ib] = await Promise.all([tileImage(a), tileImage(Buffer.from(a)), tileImage(b)]);
    expect(ia.id).toMatch(/^[0-9a-f]{64}$/);
    expect(ia.id).toBe(ia2.id);
    expect(ia.id).not.toBe(ib.id);
    const raw = makeRaw({ width: 4, height: 6, pattern: 'noise' });
    const r1 = await tileImage(raw, { grid: '1x1' });
    const r2 = await tileImage({ ...raw, width: 6, height: 4 }, { grid: '1x1' });
    expect(r1.id).not.toBe(r2.id); // same bytes, other shape
  });

  it.each(['photo[1].jpg', 'no-extension[2]', 'a]b[c.jpg'])('reads a file named %j (libvips option syntax in the name)', async (name) => {
    const path = await writeTemp(name, await makeJpeg({ width: 800, height: 600, pattern: 'quadrants' }));
    expect((await readImageInfo(path)).width).toBe(800);
    const image = await tileImage(path, { grid: '2x2' });
    const t = await image.tensors({ size: { width: 16, height: 16 }, mean: [0, 0, 0], std: [1, 1, 1], overview: false });
    expect(t.data[8 * 16 + 8]! * 255).toBeCloseTo(QUADRANT_COLORS[0][0], -1);
  });

  it('exposes the grid key of the grid it used', async () => {
    const image = await tileImage(makeRaw({ width: 300, height: 100 }), { grid: 'auto', overlap: 0.1, levels: 2 });
    expect(image.gridKey).toBe('1x3:o0.1:l2');
    expect(image.grid.tiles).toHaveLength(3 + 9);
  });

  it('decodes once at full resolution however many native crops are taken', async () => {
    const image = await tileImage(await makePng({ width: 200, height: 100, pattern: 'noise' }), { grid: '3x3' });
    await Promise.all(image.grid.tiles.map((t) => image.crop(t.box)));
    await Promise.all(image.grid.tiles.map((t) => image.crop(t.box, { size: { width: 16, height: 16 } })));
    expect(image.decodeStats.full).toBe(1);
  });

  it('crop with maxSide keeps the aspect ratio and never enlarges', async () => {
    const image = await tileImage(makeRaw({ width: 400, height: 100, pattern: 'gradient' }), { grid: '1x1' });
    const capped = await image.crop(whole(image), { maxSide: 100 });
    expect([capped.width, capped.height]).toEqual([100, 25]);
    const small = await image.crop({ x: 0, y: 0, width: 50, height: 20 }, { maxSide: 100 });
    expect([small.width, small.height]).toEqual([50, 20]);
    const mad = meanAbsDiff(capped.data, (await image.crop(whole(image), { size: { width: 100, height: 25 } })).data);
    expect(mad).toBe(0);
  });

  it.each([
    [{ x: -1, y: 0, width: 10, height: 10 }],
    [{ x: 0, y: 0, width: 0, height: 10 }],
    [{ x: 95, y: 0, width: 10, height: 10 }],
    [{ x: 0, y: 0, width: Number.NaN, height: 10 }],
  ])('rejects the box %j that is not inside the image', async (box) => {
    const image = await tileImage(makeRaw({ width: 100, height: 50 }));
    await expect(image.crop(box)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
