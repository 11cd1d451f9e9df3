/**
 * Faithfulness of tile pixels: the tensors the scorer builds from the TileSource (tiling's
 * one-decode, shrink-on-load path) against transformers.js's own image processor run on the same
 * tile, with the same preprocessor_config.json.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { AutoImageProcessor, RawImage } from '@huggingface/transformers';
import type { TileSource } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import { makeTinyClip, makeTinySiglip } from '@semclip/test-kit/onnx-models';
import { describeShared } from '@semclip/test-kit/shared-data';
import { pixelSpecFrom, tilePixels } from './_pixels.js';
import type { PixelSpec, ProcessorConfigLike } from './_pixels.js';
import { PHOTO, tempRoot } from './_test-models.js';

type Processor = ((image: RawImage) => Promise<{ pixel_values: { data: Float32Array; dims: number[] } }>) & ProcessorConfigLike;

async function processorFor(config: Record<string, unknown>): Promise<Processor> {
  const dir = await mkdtemp(path.join(await tempRoot(), 'proc-'));
  await writeFile(path.join(dir, 'preprocessor_config.json'), JSON.stringify(config));
  return (await AutoImageProcessor.from_pretrained(dir, { local_files_only: true })) as unknown as Processor;
}

/** The photo resized to `width` (PNG, so both sides read identical pixels), optionally blurred. */
async function photoAt(width: number, height?: number, blur = 0): Promise<Uint8Array> {
  let img = height === undefined ? sharp(PHOTO).resize(width) : sharp(PHOTO).resize(width, height, { fit: 'fill' });
  if (blur > 0) img = img.blur(blur);
  return new Uint8Array(await img.png().toBuffer());
}

interface Diff {
  /** Mean absolute difference in normalised units, at zero shift. */
  readonly mad: number;
  readonly max: number;
  /** The (dx, dy) within +-1 pixel at which the two agree best (interior only). */
  readonly bestShift: readonly [number, number];
}

async function compare(source: TileSource, tile: number, spec: PixelSpec, proc: Processor): Promise<Diff> {
  const mine = await tilePixels(source, [tile], spec);
  const raw = await source.crop(source.grid.tiles[tile]!.box);
  const ref = (await proc(new RawImage(raw.data, raw.width, raw.height, 3))).pixel_values;
  expect(mine.dims).toEqual(ref.dims);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < mine.data.length; i++) {
    const d = Math.abs(mine.data[i]! - ref.data[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  const [, , h, w] = mine.dims;
  let best: [number, number] = [0, 0];
  let bestErr = Infinity;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      let e = 0;
      for (let y = 4; y < h - 4; y++) for (let x = 4; x < w - 4; x++) e += Math.abs(mine.data[y * w + x]! - ref.data[(y + dy) * w + x + dx]!);
      if (e < bestErr) [bestErr, best] = [e, [dx, dy]];
    }
  }
  return { mad: sum / mine.data.length, max, bestShift: best };
}

// Its bounds were measured on the real photo: without ../shared these are skipped.
describeShared('tile pixels match transformers.js preprocessing', () => {
  let clip: Processor;
  let siglip: Processor;
  beforeAll(async () => {
    clip = await processorFor(makeTinyClip({ imageSize: 224, patchSize: 32 }).preprocessor);
    siglip = await processorFor(makeTinySiglip({ imageSize: 224, patchSize: 32 }).preprocessor);
  });

  it('reads size, centre crop, mean and std from the processor', () => {
    const spec = pixelSpecFrom(clip, 'test');
    expect(spec).toMatchObject({ size: { width: 224, height: 224 }, fit: 'cover', resizeShort: 224, resample: 3 });
    expect(spec.mean[0]).toBeCloseTo(0.48145466, 8);
    expect(pixelSpecFrom(siglip, 'test')).toMatchObject({ fit: 'fill', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  });

  it('cuts CLIP tiles in one batched tensors() call (fit cover), and "resize 256, crop 224" tiles with crop()', async () => {
    const source = await tileImage(await photoAt(600, 448), { grid: '2x2' });
    const tensors = vi.spyOn(source, 'tensors');
    const crop = vi.spyOn(source, 'crop');
    const clipSpec = pixelSpecFrom(clip, 'test');
    await tilePixels(source, [0, 2, 3], clipSpec);
    expect(tensors).toHaveBeenCalledTimes(1);
    expect(tensors.mock.calls[0]![0]).toMatchObject({ fit: 'cover', tiles: [0, 2, 3], overview: false, size: { width: 224, height: 224 } });
    expect(crop).not.toHaveBeenCalled();
    const resize256 = await processorFor({ ...makeTinyClip({ imageSize: 224, patchSize: 32 }).preprocessor, size: { shortest_edge: 256 } });
    await tilePixels(source, [0, 2, 3], pixelSpecFrom(resize256, 'test'));
    expect(tensors).toHaveBeenCalledTimes(1);
    expect(crop).toHaveBeenCalledTimes(3);
  });

  it('is exact (float rounding only) when no resampling is needed: CLIP centre crop of 300x224 tiles', async () => {
    // 600x448 in a 2x2 grid: 300x224 tiles, whose short side already is 224; only the crop and
    // the normalisation remain, so any difference would be a geometry or arithmetic bug.
    const source = await tileImage(await photoAt(600, 448), { grid: '2x2' });
    for (const tile of [0, 3]) {
      const { max } = await compare(source, tile, pixelSpecFrom(clip, 'test'), clip);
      expect(max).toBeLessThan(1e-5);
    }
  });

  it('is exact when no resampling is needed: SigLIP 224x224 tiles', async () => {
    const source = await tileImage(await photoAt(448, 448), { grid: '2x2' });
    const { max } = await compare(source, 1, pixelSpecFrom(siglip, 'test'), siglip);
    expect(max).toBeLessThan(1e-5);
  });

  // Documented tolerance. Geometry (which source pixels land where) matches Hugging Face exactly,
  // so the best alignment is at zero shift; the values differ only by the resampling kernel:
  // tiles are resampled once with lanczos3 (antialiased, from a shrink-on-load decode), while
  // transformers.js resizes with sharp's affine bicubic, which does not antialias when
  // downscaling (Python's PIL does). Measured mean absolute difference on the real photo, in
  // normalised units (1 unit is about 69 of 255 grey levels for CLIP, 128 for SigLIP): 0.01-0.08 at
  // 1-3x downscales, up to 0.19 on the busiest tiles at 4-5x, where transformers.js aliases; after a
  // light blur (sigma 1.5) 0.005-0.034 at 2-3x. The test bound is 0.05 on the blurred photo.
  it.each([
    ['CLIP, 2x downscale', 896, 'clip', 3],
    ['CLIP, 2.3x downscale', 1024, 'clip', 2],
    ['SigLIP, 2x downscale', 896, 'siglip', 3],
    ['SigLIP, 2.3x downscale', 1024, 'siglip', 0],
  ] as const)('stays within the documented tolerance when resampling (%s)', async (_what, width, family, tile) => {
    const proc = family === 'clip' ? clip : siglip;
    const spec = pixelSpecFrom(proc, 'test');
    const blurred = await compare(await tileImage(await photoAt(width, undefined, 1.5), { grid: '2x2' }), tile, spec, proc);
    expect(blurred.mad).toBeLessThan(0.05);
    const sharpPhoto = await compare(await tileImage(await photoAt(width), { grid: '2x2' }), tile, spec, proc);
    expect(sharpPhoto.bestShift).toEqual([0, 0]);
    expect(sharpPhoto.mad).toBeLessThan(0.1);
  });

  it('cuts the processor centre crop from the tile when the crop is smaller than the resize', async () => {
    const proc = await processorFor({ ...makeTinyClip({ imageSize: 224, patchSize: 32 }).preprocessor, size: { shortest_edge: 256 } });
    const spec = pixelSpecFrom(proc, 'test');
    expect(spec).toMatchObject({ resizeShort: 256, size: { width: 224, height: 224 } });
    const d = await compare(await tileImage(await photoAt(1024, undefined, 1.5), { grid: '2x2' }), 2, spec, proc);
    expect(d.bestShift).toEqual([0, 0]);
    expect(d.mad).toBeLessThan(0.05);
  });

  it('cuts the centre crop of a squash-then-crop processor (size {height, width} larger than crop_size)', async () => {
    const proc = await processorFor({
      ...makeTinySiglip({ imageSize: 224, patchSize: 32 }).preprocessor,
      size: { height: 256, width: 256 },
      do_center_crop: true,
      crop_size: { height: 224, width: 224 },
    });
    const spec = pixelSpecFrom(proc, 'test');
    expect(spec).toMatchObject({ fit: 'fill', resizeTo: { width: 256, height: 256 }, size: { width: 224, height: 224 } });
    const d = await compare(await tileImage(await photoAt(1024, undefined, 1.5), { grid: '2x2' }), 1, spec, proc);
    expect(d.bestShift).toEqual([0, 0]);
    expect(d.mad).toBeLessThan(0.05);
  });

  it.each([
    ['a rescale factor other than 1/255', { rescale_factor: 1 / 127.5 }],
    ['a zero std', { image_std: [0, 1, 1] }],
    ['a crop larger than the resize', { crop_size: { height: 300, width: 300 } }],
  ])('rejects a processor config with %s (MODEL_INVALID)', (_what, patch) => {
    const config = { ...(makeTinyClip({ imageSize: 224, patchSize: 32 }).preprocessor as Record<string, unknown>), ...patch };
    expect(() => pixelSpecFrom(config, 'test')).toThrowError(expect.objectContaining({ code: 'MODEL_INVALID' }));
  });
});
