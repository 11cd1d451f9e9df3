import { readdirSync } from 'node:fs';
import { describeShared, hasSharedData, sharedData } from '@semclip/test-kit/shared-data';
import { expect, it } from 'vitest';
import { readImageInfo, tileImage } from './index.js';

const DIR = `${sharedData('images')}/`;
// Without ../shared one placeholder keeps the skipped count honest.
const PHOTOS = hasSharedData() ? readdirSync(DIR).filter((f) => /\.(jpe?g)$/i.test(f)) : ['(the shared photos)'];

describeShared('real photos (../shared/data/images)', () => {
  it('finds the photos', () => {
    expect(PHOTOS.length).toBeGreaterThanOrEqual(8);
  });

  it.each(PHOTOS)('reads the header of %s without decoding', async (name) => {
    const info = await readImageInfo(DIR + name);
    expect(info.format).toBe('jpeg');
    expect(info.pages).toBe(1);
    expect(info.width).toBeGreaterThanOrEqual(1920);
    expect(info.size).toBeGreaterThan(100_000);
    // None of these photos is stored rotated (orientation absent or 1; generated JPEGs cover
    // 3, 6 and 8 in decode.test.ts), so the oriented size is the stored size.
    expect(info.orientation ?? 1).toBe(1);
  });

  it('reads the progressive 5650x3767 bag_of_bottle.jpeg and tiles it 3x3', async () => {
    const image = await tileImage(`${DIR}bag_of_bottle.jpeg`, { grid: '3x3' });
    expect(image.size).toEqual({ width: 5650, height: 3767 });
    expect(image.grid.tiles.map((t) => t.box.width)).toEqual([1883, 1883, 1884, 1883, 1883, 1884, 1883, 1883, 1884]);
    const t = await image.tensors({ size: { width: 224, height: 224 }, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(t.dims).toEqual([10, 3, 224, 224]);
    expect(t.data.every((v) => v >= -1.0001 && v <= 1.0001)).toBe(true);
    // A real photo is not flat: every tile has some spread.
    const plane = 3 * 224 * 224;
    for (let k = 0; k < 10; k++) {
      const tile = t.data.subarray(k * plane, (k + 1) * plane);
      expect(Math.max(...tile.subarray(0, 5000)) - Math.min(...tile.subarray(0, 5000))).toBeGreaterThan(0.1);
    }
  });

  it('crops the wait-time sign region of queue_time.jpg at native resolution', async () => {
    const image = await tileImage(`${DIR}queue_time.jpg`, { grid: '2x2' });
    const crop = await image.crop({ x: 1000, y: 1500, width: 400, height: 300 });
    expect([crop.width, crop.height, crop.channels]).toEqual([400, 300, 3]);
    const encoded = await image.encode({ x: 1000, y: 1500, width: 400, height: 300 }, { format: 'jpeg', maxSide: 200 });
    expect([encoded.width, encoded.height, encoded.mime]).toEqual([200, 150, 'image/jpeg']);
  });
});
