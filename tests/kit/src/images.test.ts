import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  QUADRANT_COLORS,
  corrupted,
  crc32,
  makeAnimatedGif,
  makeAnimatedWebp,
  makeJpeg,
  makePng,
  makePng16,
  makeRaw,
  meanAbsDiff,
  patternPixel,
  pngHeaderOnly,
  truncated,
} from './images.js';

describe('image generators', () => {
  it('computes the standard CRC-32 (check value of "123456789")', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('builds a PNG header that decoders accept as declaring the given size', async () => {
    const bytes = pngHeaderOnly(1234, 567);
    expect(bytes.length).toBeLessThan(100);
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1234, 567]);
  });

  it.each(['gradient', 'checker', 'quadrants', 'noise', 'solid'] as const)('makeRaw(%s) agrees with patternPixel everywhere sampled', (pattern) => {
    const opts = { width: 33, height: 21, pattern, seed: 7 };
    const raw = makeRaw(opts);
    for (const [x, y] of [
      [0, 0],
      [32, 20],
      [16, 10],
      [5, 17],
    ] as const) {
      const o = (y * 33 + x) * 3;
      expect(Array.from(raw.data.subarray(o, o + 3))).toEqual(patternPixel(opts, x, y));
    }
  });

  it('writes the formats and channel layouts it says', async () => {
    expect((await sharp(await makePng({ width: 4, height: 4, channels: 1 })).metadata()).channels).toBe(1);
    expect((await sharp(await makePng({ width: 4, height: 4, channels: 4 })).metadata()).channels).toBe(4);
    expect((await sharp(await makePng16({ width: 4, height: 4 })).metadata()).depth).toBe('ushort');
    const jpeg = await makeJpeg({ width: 40, height: 20, orientation: 6, progressive: true });
    const meta = await sharp(jpeg).metadata();
    expect([meta.format, meta.orientation, meta.isProgressive]).toEqual(['jpeg', 6, true]);
    expect((await sharp(await makeAnimatedGif({ frames: 4 })).metadata()).pages).toBe(4);
    expect((await sharp(await makeAnimatedWebp({ frames: 2 })).metadata()).pages).toBe(2);
  });

  it('lays out quadrants in the documented colours', async () => {
    const { data } = await sharp(await makePng({ width: 10, height: 10, pattern: 'quadrants' }))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(Array.from(data.subarray(0, 3))).toEqual([...QUADRANT_COLORS[0]]);
    expect(Array.from(data.subarray(data.length - 3))).toEqual([...QUADRANT_COLORS[3]]);
  });

  it('truncates and corrupts copies, never the original', () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(truncated(data, 0.25)).toHaveLength(25);
    const bad = corrupted(data, 0.5, 10);
    expect(meanAbsDiff(bad, data)).toBeGreaterThan(0);
    expect(data[50]).toBe(50);
  });
});
