/**
 * Tile pixels for the vision tower. The image processor's config (read through transformers.js)
 * decides size, crop, mean and std; the pixels themselves come from the TileSource, which decodes
 * the image once (shrink-on-load) and cuts every tile from it, instead of transformers.js
 * re-decoding and resizing each tile.
 */
import { SemclipError } from '@semclip/core';
import type { Box, FitMode, RawImage, Size, TileSource } from '@semclip/core';

type Triple = readonly [number, number, number];

/** How a tile becomes a `[3, H, W]` float tensor; derived from `preprocessor_config.json`. */
export interface PixelSpec {
  /** Encoder input size (the crop size when the processor centre-crops). */
  readonly size: Size;
  /** `cover`: resize the short side then centre-crop (CLIP); `fill`: squash to size (SigLIP). */
  readonly fit: FitMode;
  readonly mean: Triple;
  readonly std: Triple;
  /**
   * For `cover`: the short side the processor resizes to before its centre crop (224 for CLIP;
   * 256 for a "resize 256, crop 224" model). Unused for `fill`.
   */
  readonly resizeShort: number;
  /**
   * For `fill` processors that squash to one size and then centre-crop to a smaller one: the
   * squash size. Absent when the crop is the whole resized image (or there is no crop).
   */
  readonly resizeTo?: Size;
  /** PIL resample code from the config (3 = bicubic); tiles are resampled with lanczos3 instead, see README. */
  readonly resample: number;
}

/** The subset of transformers.js's ImageProcessor this module reads. */
export interface ProcessorConfigLike {
  readonly size?: unknown;
  readonly crop_size?: unknown;
  readonly do_resize?: boolean;
  readonly do_center_crop?: boolean;
  readonly do_rescale?: boolean;
  readonly rescale_factor?: number;
  readonly do_normalize?: boolean;
  readonly image_mean?: unknown;
  readonly image_std?: unknown;
  readonly resample?: unknown;
  readonly do_convert_rgb?: boolean;
}

function triple(value: unknown, fallback: number): Triple | undefined {
  if (value === undefined || value === null) return [fallback, fallback, fallback];
  if (typeof value === 'number' && Number.isFinite(value)) return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return [value[0] as number, value[1] as number, value[2] as number];
  }
  return undefined;
}

function sizeOf(value: unknown): { shortest?: number; width?: number; height?: number } | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return { shortest: value };
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    const int = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x > 0 ? x : undefined);
    const shortest = int(v.shortest_edge);
    const width = int(v.width);
    const height = int(v.height);
    if (shortest !== undefined) return { shortest };
    if (width !== undefined && height !== undefined) return { width, height };
  }
  return undefined;
}

/**
 * Reads the image processor's settings into a PixelSpec. An integer `size` means the shortest
 * edge, as in Hugging Face's Python CLIPImageProcessor (the preprocessing the checkpoints were
 * trained with).
 */
export function pixelSpecFrom(processor: ProcessorConfigLike, where: string): PixelSpec {
  const bad = (what: string) =>
    new SemclipError('MODEL_INVALID', `The image processor config in ${where} is not supported: ${what}.`, {
      expected: 'a CLIP/SigLIP preprocessor_config.json (size, crop_size, image_mean, image_std, rescale_factor 1/255)',
      hint: 'Re-download the model (semclip models pull <id>) or fix preprocessor_config.json',
    });
  const rescale = processor.do_rescale ?? true;
  if (!rescale || Math.abs((processor.rescale_factor ?? 1 / 255) - 1 / 255) > 1e-9) {
    throw bad(`rescale ${String(rescale)} with factor ${String(processor.rescale_factor)} (only x/255 is supported)`);
  }
  const normalize = processor.do_normalize ?? true;
  const mean = normalize ? triple(processor.image_mean, 0.5) : ([0, 0, 0] as const);
  const std = normalize ? triple(processor.image_std, 0.5) : ([1, 1, 1] as const);
  if (!mean || !std || std.some((s) => s === 0))
    throw bad(`image_mean ${JSON.stringify(processor.image_mean)} / image_std ${JSON.stringify(processor.image_std)}`);
  const resize = sizeOf(processor.size);
  const crop = processor.do_center_crop ? sizeOf(processor.crop_size) : undefined;
  const resample = typeof processor.resample === 'number' ? processor.resample : 2;
  if (processor.do_center_crop && !crop) throw bad(`crop_size ${JSON.stringify(processor.crop_size)}`);
  if (crop) {
    const cw = crop.width ?? crop.shortest!;
    const ch = crop.height ?? crop.shortest!;
    if (resize?.width !== undefined && resize.height !== undefined) {
      // Squash to width x height, then centre-crop.
      if (cw > resize.width || ch > resize.height) throw bad(`crop ${cw}x${ch} larger than the resize ${resize.width}x${resize.height}`);
      const resizeTo = cw === resize.width && ch === resize.height ? {} : { resizeTo: { width: resize.width, height: resize.height } };
      return { size: { width: cw, height: ch }, fit: 'fill', mean, std, resizeShort: Math.min(resize.width, resize.height), resample, ...resizeTo };
    }
    const short = resize?.shortest ?? Math.min(cw, ch);
    if (cw > short || ch > short) throw bad(`crop ${cw}x${ch} larger than the resize ${short}`);
    return { size: { width: cw, height: ch }, fit: 'cover', mean, std, resizeShort: short, resample };
  }
  if (!resize) throw bad(`size ${JSON.stringify(processor.size)}`);
  if (resize.shortest !== undefined) {
    // Resize the short side without a crop keeps the aspect ratio, so the batch would be ragged.
    throw bad(`shortest_edge resize without a centre crop`);
  }
  return { size: { width: resize.width!, height: resize.height! }, fit: 'fill', mean, std, resizeShort: Math.min(resize.width!, resize.height!), resample };
}

interface TensorCapable {
  tensors(options: {
    size: Size;
    mean: Triple;
    std: Triple;
    overview: false;
    tiles: readonly number[];
    fit: FitMode;
  }): Promise<{ data: Float32Array; dims: readonly number[] }>;
}

function hasTensors(source: TileSource): source is TileSource & TensorCapable {
  return typeof (source as Partial<TensorCapable>).tensors === 'function';
}

/**
 * The part of `box` that Hugging Face's resize-then-centre-crop keeps, in source pixels: the short
 * side is resized to `short`, the long side to floor(long * short / shortSide) (Python's int()),
 * and the crop starts at floor((resized - crop) / 2) on each axis, as in CLIPImageProcessor and
 * transformers.js. Used when the processor resizes to more than its crop (e.g. "resize 256, crop
 * 224"), which `TiledImage.tensors()` cannot express: this region, rounded to whole source pixels,
 * is resampled once to the crop size.
 */
export function processorCropBox(box: Box, short: number, crop: Size): Box {
  const s = short / Math.min(box.width, box.height);
  const rw = box.width <= box.height ? short : Math.floor(Number((box.width * s).toFixed(2)));
  const rh = box.height < box.width ? short : Math.floor(Number((box.height * s).toFixed(2)));
  const fx = box.width / rw;
  const fy = box.height / rh;
  const left = Math.floor((rw - crop.width) / 2);
  const top = Math.floor((rh - crop.height) / 2);
  const x0 = Math.round(box.x + left * fx);
  const y0 = Math.round(box.y + top * fy);
  const x1 = Math.round(box.x + (left + crop.width) * fx);
  const y1 = Math.round(box.y + (top + crop.height) * fy);
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

/** The part of `box` a squash to `resized` followed by a centre crop to `crop` keeps, in source pixels. */
export function squashCropBox(box: Box, resized: Size, crop: Size): Box {
  const fx = box.width / resized.width;
  const fy = box.height / resized.height;
  const left = Math.floor((resized.width - crop.width) / 2);
  const top = Math.floor((resized.height - crop.height) / 2);
  const x0 = Math.round(box.x + left * fx);
  const y0 = Math.round(box.y + top * fy);
  const x1 = Math.round(box.x + (left + crop.width) * fx);
  const y1 = Math.round(box.y + (top + crop.height) * fy);
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

function normalise(raw: RawImage, out: Float32Array, offset: number, mean: Triple, std: Triple): void {
  const plane = raw.width * raw.height;
  const ch = raw.channels;
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]!) / std[c]!;
  for (let c = 0; c < 3; c++) {
    const src = ch >= 3 ? c : 0;
    const base = offset + c * plane;
    const l = c * 256;
    for (let i = 0, p = src; i < plane; i++, p += ch) out[base + i] = lut[l + raw.data[p]!]!;
  }
}

/**
 * Whether `TiledImage.tensors()` with this fit gives the processor's geometry: `fill` without a
 * later crop (SigLIP), or `cover` when the short side is resized to the (square) crop size (CLIP:
 * shortest_edge 224, crop 224), which tiling cuts as Hugging Face does (long side floored, crop
 * offset rounded down).
 */
function batchedFit(spec: PixelSpec): FitMode | undefined {
  if (spec.fit === 'fill') return spec.resizeTo ? undefined : 'fill';
  const { width, height } = spec.size;
  return width === height && spec.resizeShort === width ? 'cover' : undefined;
}

/**
 * `[n, 3, H, W]` pixels of the given tiles, in order, each cut and resampled once by the tile
 * source (one decode per image, shrink-on-load). When the processor's geometry is a plain `fill`
 * or `cover` (see `batchedFit`) this is one batched `TiledImage.tensors()` call. Otherwise (a
 * resize larger than the crop, e.g. "resize 256, crop 224", or a source without `tensors()`) each
 * tile's exact processor crop region is cut with `crop()` and resampled straight to the crop size
 * (see `processorCropBox`), which `tensors()` has no option for.
 *
 * Faithfulness of the batched `cover` path (measured 2026-11-29 on vending_machine.jpg resized to
 * 640-1990 px, blurred or not, and both real JPEG files; 2x2 and 3x3 grids; 70 tile sizes):
 * against Python's CLIPImageProcessor (PIL bicubic, what CLIP was trained with) the mean absolute
 * difference fell from 1.81 to 1.34 grey levels compared with cutting the rounded crop region
 * with `crop()`: closer for 58 sizes (512x342 tiles 2.46 -> 0.25, queue_time.jpg 2x2 5.9 -> 1.5),
 * further for 12, all of them tiles upscaled to 224, where libvips's upscaler differs from PIL
 * either way. Against transformers.js's processor (pixels.test.ts), whose affine resize maps
 * pixel corners rather than centres (up to half a source pixel off PIL), the two are even on
 * resized PNGs and the batched path is closer on all four real JPEG cases.
 */
export async function tilePixels(
  source: TileSource,
  tiles: readonly number[],
  spec: PixelSpec,
): Promise<{ data: Float32Array; dims: [number, number, number, number] }> {
  const { width, height } = spec.size;
  const dims: [number, number, number, number] = [tiles.length, 3, height, width];
  if (tiles.length === 0) return { data: new Float32Array(0), dims };
  const fit = batchedFit(spec);
  if (hasTensors(source) && fit) {
    const batch = await source.tensors({ size: spec.size, mean: spec.mean, std: spec.std, overview: false, tiles, fit });
    if (batch.data.length !== tiles.length * 3 * width * height) {
      throw new SemclipError('INTERNAL', `The tile source returned ${batch.data.length} values for ${tiles.length} tiles of ${width}x${height}.`);
    }
    return { data: batch.data, dims };
  }
  const plane = width * height;
  const data = new Float32Array(tiles.length * 3 * plane);
  await Promise.all(
    tiles.map(async (index, k) => {
      const tile = source.grid.tiles[index];
      if (!tile) throw new SemclipError('INTERNAL', `Tile ${index} is not in the grid.`);
      const box =
        spec.fit === 'cover'
          ? processorCropBox(tile.box, spec.resizeShort, spec.size)
          : spec.resizeTo
            ? squashCropBox(tile.box, spec.resizeTo, spec.size)
            : tile.box;
      const raw = await source.crop(box, { size: spec.size, fit: 'fill' });
      if (raw.width !== width || raw.height !== height) {
        throw new SemclipError('INTERNAL', `The tile source cropped ${raw.width}x${raw.height} instead of ${width}x${height}.`);
      }
      normalise(raw, data, k * 3 * plane, spec.mean, spec.std);
    }),
  );
  return { data, dims };
}
