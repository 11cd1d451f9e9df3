import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUADRANT_COLORS, makeRaw } from '@semclip/test-kit/images';
import sharp from 'sharp';
import { tileImage } from './index.js';

describe('encode', () => {
  it.each([
    ['jpeg', 'image/jpeg'],
    ['png', 'image/png'],
    ['webp', 'image/webp'],
  ] as const)('encodes a region as %s that decodes back to the same size and colours', async (format, mime) => {
    const image = await tileImage(makeRaw({ width: 120, height: 80, pattern: 'quadrants' }), { grid: '2x2' });
    const out = await image.encode(image.grid.tiles[1]!.box, { format, quality: 95 });
    expect(out.mime).toBe(mime);
    expect([out.width, out.height]).toEqual([60, 40]);
    const meta = await sharp(out.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual([format, 60, 40]);
    const stats = await sharp(out.data).stats();
    const want = QUADRANT_COLORS[1];
    stats.channels.slice(0, 3).forEach((c, i) => expect(Math.abs(c.mean - want[i]!)).toBeLessThan(4));
  });

  it('encodes the overview capped to maxSide', async () => {
    const image = await tileImage(makeRaw({ width: 400, height: 100 }), { grid: '1x2' });
    const out = await image.encode('overview', { maxSide: 64 });
    expect([out.width, out.height, out.mime]).toEqual([64, 16, 'image/jpeg']);
  });

  it('pads to a square of the given colour after shrinking, the image at expand2square offsets', async () => {
    // An odd difference (101 - 40 = 61), so the offset rounds down as Python's // does.
    const image = await tileImage(makeRaw({ width: 101, height: 40, pattern: 'quadrants' }), { grid: '1x1' });
    const out = await image.encode('overview', { format: 'png', padSquare: [122, 116, 104] });
    expect([out.width, out.height]).toEqual([101, 101]);
    const { data } = await sharp(out.data).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => [...data.subarray((y * 101 + x) * 3, (y * 101 + x) * 3 + 3)];
    // PIL pastes a 101x40 image at (0, (101 - 40) // 2) = (0, 30): rows 0-29 and 70-100 are padding.
    expect(px(50, 29)).toEqual([122, 116, 104]);
    expect(px(50, 70)).toEqual([122, 116, 104]);
    expect(px(0, 30)).toEqual([...QUADRANT_COLORS[0]!]);
    expect(px(100, 69)).toEqual([...QUADRANT_COLORS[3]!]);
    const tall = await image.encode({ x: 0, y: 0, width: 25, height: 40 }, { format: 'png', maxSide: 20, padSquare: [0, 0, 0] });
    expect([tall.width, tall.height]).toEqual([20, 20]);
  });

  it.each([[{ format: 'bmp' }], [{ quality: 0 }], [{ quality: 101 }], [{ maxSide: 0 }], [{ padSquare: [0, 0] }], [{ padSquare: [0, 0, 300] }]])(
    'rejects %j',
    async (bad) => {
      const image = await tileImage(makeRaw({ width: 40, height: 40 }));
      await expect(image.encode('overview', bad as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    },
  );
});

describe('overview', () => {
  it.each(['resize', 'pad', 'crop'] as const)('returns RGB pixels of the requested size with mode %s', async (mode) => {
    const image = await tileImage(makeRaw({ width: 300, height: 100, pattern: 'gradient' }));
    const out = await image.overview({ width: 50, height: 50 }, mode);
    expect([out.width, out.height, out.channels, out.data.length]).toEqual([50, 50, 3, 50 * 50 * 3]);
  });

  it('pads with the image mean colour by default, or the given background', async () => {
    const image = await tileImage(makeRaw({ width: 100, height: 20, pattern: 'solid', color: [40, 80, 120] }), { grid: '1x2' });
    const byMean = await image.overview({ width: 20, height: 20 }, 'pad');
    expect(Array.from(byMean.data.subarray(0, 3))).toEqual([40, 80, 120]);
    const byColour = await image.overview({ width: 20, height: 20 }, 'pad', { background: [1, 2, 3] });
    expect(Array.from(byColour.data.subarray(0, 3))).toEqual([1, 2, 3]);
  });
});

describe('writeTiles', () => {
  it('writes every tile and the overview with stable names and returns the paths', async () => {
    const image = await tileImage(makeRaw({ width: 90, height: 60, pattern: 'quadrants' }), { grid: '2x3' });
    const dir = await mkdtemp(join(tmpdir(), 'semclip-tiles-'));
    const paths = await image.writeTiles(dir);
    expect(paths.map((p) => basename(p))).toEqual([
      'overview.png',
      'tile-00-r0c0.png',
      'tile-01-r0c1.png',
      'tile-02-r0c2.png',
      'tile-03-r1c0.png',
      'tile-04-r1c1.png',
      'tile-05-r1c2.png',
    ]);
    expect((await readdir(dir)).sort()).toEqual(paths.map((p) => basename(p)).sort());
    const meta = await sharp(paths[1]!).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 30, 30]);
  });

  it('resizes to a given size, writes JPEG, and names level-2 tiles', async () => {
    const image = await tileImage(makeRaw({ width: 64, height: 64 }), { grid: '2x2', levels: 2 });
    const dir = await mkdtemp(join(tmpdir(), 'semclip-tiles-'));
    const paths = await image.writeTiles(join(dir, 'nested'), { size: { width: 16, height: 16 }, format: 'jpeg' });
    expect(paths).toHaveLength(1 + 4 + 16);
    expect(basename(paths[5]!)).toBe('tile-04-r0c0-l2.jpg');
    const meta = await sharp(paths[20]!).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 16, 16]);
  });
});
