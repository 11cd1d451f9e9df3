import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { makeJpeg, makeRaw } from '@semclip/test-kit/images';
import { compositeImages, encodeForUpstream } from './_images.js';

async function pixel(data: Uint8Array, x: number, y: number): Promise<number[]> {
  const { data: px, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return [px[o]!, px[o + 1]!, px[o + 2]!];
}

describe('encodeForUpstream', () => {
  it('downscales a raw image to fit maxSide, keeping the aspect ratio', async () => {
    const out = await encodeForUpstream(makeRaw({ width: 2000, height: 500 }), { maxSide: 800 });
    expect([out.mime, out.width, out.height]).toEqual(['image/jpeg', 800, 200]);
    const meta = await sharp(out.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 800, 200]);
  });

  it('never upscales', async () => {
    const out = await encodeForUpstream(makeRaw({ width: 40, height: 30 }), { maxSide: 800, format: 'png' });
    expect([out.mime, out.width, out.height]).toEqual(['image/png', 40, 30]);
  });

  it('flattens RGBA and gray input to RGB', async () => {
    const rgba = await encodeForUpstream(makeRaw({ width: 20, height: 20, channels: 4, alpha: 10 }), { format: 'png' });
    expect((await sharp(rgba.data).metadata()).channels).toBe(3);
    const gray = await encodeForUpstream(makeRaw({ width: 20, height: 20, channels: 1 }));
    expect((await sharp(gray.data).metadata()).width).toBe(20);
  });

  it('re-encodes a JPEG that is too large, applying EXIF orientation', async () => {
    const jpeg = await makeJpeg({ width: 1200, height: 600, orientation: 6 });
    const out = await encodeForUpstream({ mime: 'image/jpeg', data: jpeg, width: 1200, height: 600 }, { maxSide: 300 });
    expect([out.width, out.height]).toEqual([150, 300]);
  });

  it('rejects a raw image whose buffer does not match its size', async () => {
    await expect(encodeForUpstream({ data: new Uint8Array(5), width: 4, height: 4, channels: 3 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects undecodable bytes with IMAGE_CORRUPT', async () => {
    await expect(encodeForUpstream({ mime: 'image/png', data: new Uint8Array([1, 2, 3]), width: 4000, height: 4000 })).rejects.toMatchObject({
      code: 'IMAGE_CORRUPT',
    });
  });
});

describe('compositeImages', () => {
  it('places parts side by side at one height with white separators', async () => {
    const red = makeRaw({ width: 200, height: 100, pattern: 'solid', color: [255, 0, 0] });
    const blue = makeRaw({ width: 50, height: 50, pattern: 'solid', color: [0, 0, 255] });
    const green = makeRaw({ width: 100, height: 200, pattern: 'solid', color: [0, 255, 0] });
    const { image, layout } = await compositeImages([red, blue, green], { format: 'png', maxSide: 4096 }, 4);
    // Height = the tallest part (200): widths 400, 200, 100, plus two 4 px separators.
    expect(layout).toEqual({
      width: 708,
      height: 200,
      separator: 4,
      parts: [
        { x: 0, width: 400 },
        { x: 404, width: 200 },
        { x: 608, width: 100 },
      ],
    });
    expect([image.width, image.height]).toEqual([708, 200]);
    expect(await pixel(image.data, 10, 10)).toEqual([255, 0, 0]);
    expect(await pixel(image.data, 401, 10)).toEqual([255, 255, 255]);
    expect(await pixel(image.data, 500, 100)).toEqual([0, 0, 255]);
    expect(await pixel(image.data, 700, 190)).toEqual([0, 255, 0]);
  });

  it('a single image has no separator', async () => {
    const { layout } = await compositeImages([makeRaw({ width: 30, height: 20 })], { format: 'png' }, 8);
    expect(layout).toMatchObject({ width: 30, height: 20, separator: 0 });
  });
});
