import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SemclipError } from '@semclip/core';
import type { Box, CropOptions, EncodeOptions, EncodedImage, FitMode, OverviewMode, RawImage, Size, TileGrid, TileSource } from '@semclip/core';
import sharp from 'sharp';
import { type Decoder, coverGeometry, extractRgb, padRgb, resizeRgb } from './_pixels.js';
import type { Colour, Rgb } from './_pixels.js';
import { normaliseInto } from './_tensor.js';

/** Largest output side accepted for tensors, crops and overviews. */
const MAX_OUTPUT_SIDE = 16384;

export interface TensorOptions {
  /** Encoder input size, e.g. `{ width: 336, height: 336 }`. */
  readonly size: Size;
  /** Per-channel mean on the 0-1 scale, e.g. CLIP's `[0.4815, 0.4578, 0.4082]`. */
  readonly mean: readonly [number, number, number];
  /** Per-channel standard deviation on the 0-1 scale, e.g. CLIP's `[0.2686, 0.2613, 0.2758]`. */
  readonly std: readonly [number, number, number];
  /** Put the whole image first, fitted this way; `false` for tiles only. Default `'resize'`. */
  readonly overview?: OverviewMode | false;
  /** Which tiles (indices into `grid.tiles`), in output order. Default: all. */
  readonly tiles?: readonly number[];
  /** How each tile is fitted to `size`. Default `'fill'`. */
  readonly fit?: FitMode;
}

export interface TensorBatch {
  /** Float32 NCHW: `[overview?, ...tiles]`, each `(x / 255 - mean) / std`. */
  readonly data: Float32Array;
  readonly dims: [number, number, number, number];
}

export interface WriteTilesOptions {
  /** Resize every tile (and the overview) to this size; default native tiles, overview capped to the tile size. */
  readonly size?: Size;
  /** Default `'png'`. */
  readonly format?: 'png' | 'jpeg';
}

export interface OverviewOptions {
  /** Padding colour for `pad` (RGB 0-255); default the image's mean colour. */
  readonly background?: readonly [number, number, number];
}

/**
 * A decoded image and its grid. Satisfies `TileSource` from `@semclip/core`, plus batched
 * encoder tensors, encoding for HTTP VLMs and writing tiles to disk.
 *
 * @example
 * ```ts
 * const image = await tileImage('photo.jpg', { grid: 'auto' });
 * const batch = await image.tensors({ size: { width: 224, height: 224 }, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], overview: false });
 * const best = image.grid.tiles[2];
 * const region = await image.encode(best.box, { format: 'jpeg', maxSide: 1024 }); // for an HTTP VLM
 * const pixels = await image.crop(best.box); // native resolution RGB, e.g. for OCR
 * const paths = await image.writeTiles('out/tiles'); // overview.png, tile-00-r0c0.png, ...
 * ```
 */
export interface TiledImage extends TileSource {
  /** Decoder name from the header: `jpeg`, `png`, `webp`, ... or `raw` for pixel input. */
  readonly format: string;
  /**
   * How many decodes ran so far: `full` (native resolution), `scaled` (the whole image at reduced
   * scale: a JPEG file decoded at 1/2, 1/4 or 1/8 in the DCT, or JPEG/WebP bytes decoded with
   * shrink-on-load and resampled to an output scale), `resized` (the whole image resampled from
   * the full decode). For logs and benchmarks.
   */
  readonly decodeStats: Readonly<{ full: number; scaled: number; resized: number }>;
  /** Float32 CHW tensors, batched: [overview?, ...tiles] -> dims [n, 3, h, w], normalised ((x/255 - mean)/std). */
  tensors(options: TensorOptions): Promise<TensorBatch>;
  /** `crop` plus encoding: a region (or the whole image) as JPEG/PNG/WebP bytes. */
  encode(box: Box | 'overview', options?: EncodeOptions): Promise<EncodedImage>;
  /** Writes every tile (`tile-00-r0c0.png`...) and `overview.png` into `dir`; returns the paths. */
  writeTiles(dir: string, options?: WriteTilesOptions): Promise<string[]>;
  overview(size: Size, mode?: OverviewMode, options?: OverviewOptions): Promise<RawImage>;
}

function checkSize(what: string, size: Size): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_OUTPUT_SIDE;
  if (!size || !ok(size.width) || !ok(size.height)) {
    throw new SemclipError('INVALID_ARGUMENT', `${what} ${JSON.stringify(size)} is not a valid size.`, {
      expected: `{ width, height } with integers from 1 to ${MAX_OUTPUT_SIDE}`,
    });
  }
}

function checkColour(what: string, c: readonly number[] | undefined): void {
  if (c === undefined) return;
  if (!Array.isArray(c) || c.length !== 3 || c.some((v) => typeof v !== 'number' || !(v >= 0 && v <= 255))) {
    throw new SemclipError('INVALID_ARGUMENT', `${what} ${JSON.stringify(c)} is not a colour.`, { expected: '[r, g, b] with values 0-255' });
  }
}

function fitOf(mode: OverviewMode): FitMode {
  switch (mode) {
    case 'resize':
      return 'fill';
    case 'pad':
      return 'contain';
    case 'crop':
      return 'cover';
    default:
      throw new SemclipError('INVALID_ARGUMENT', `Overview mode ${JSON.stringify(mode)} is not supported.`, {
        expected: '"resize" (squash), "pad" (pad to square with the mean colour) or "crop" (centre crop)',
      });
  }
}

function checkFit(fit: unknown): FitMode {
  if (fit === 'fill' || fit === 'contain' || fit === 'cover') return fit;
  throw new SemclipError('INVALID_ARGUMENT', `Fit ${JSON.stringify(fit)} is not supported.`, {
    expected: '"fill" (squash), "contain" (pad) or "cover" (centre crop)',
  });
}

function toRaw(rgb: Rgb): RawImage {
  return { data: new Uint8Array(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength), width: rgb.width, height: rgb.height, channels: 3 };
}

/** Output size for a native-resolution crop, downscaled (never up) so the long side fits `maxSide`. */
function nativeSize(box: Box, maxSide: number | undefined): Size {
  if (maxSide === undefined || Math.max(box.width, box.height) <= maxSide) return { width: box.width, height: box.height };
  const s = maxSide / Math.max(box.width, box.height);
  return { width: Math.max(1, Math.round(box.width * s)), height: Math.max(1, Math.round(box.height * s)) };
}

export class TiledImageImpl implements TiledImage {
  constructor(
    readonly id: string,
    readonly size: Size,
    readonly grid: TileGrid,
    readonly gridKey: string,
    readonly format: string,
    private readonly decoder: Decoder,
    private readonly label: string,
  ) {}

  /** Decode counters (full, scaled, resized): lets tests and benchmarks see which path ran. */
  get decodeStats(): Readonly<{ full: number; scaled: number; resized: number }> {
    return { ...this.decoder.stats };
  }

  private checkBox(box: Box): Box {
    const { width: W, height: H } = this.size;
    const vals = box && [box.x, box.y, box.width, box.height];
    if (!vals || vals.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new SemclipError('INVALID_ARGUMENT', `Box ${JSON.stringify(box)} is not a box.`, { expected: '{ x, y, width, height } in pixels' });
    }
    const x0 = Math.round(box.x);
    const y0 = Math.round(box.y);
    const x1 = Math.round(box.x + box.width);
    const y1 = Math.round(box.y + box.height);
    if (x0 < 0 || y0 < 0 || x1 > W || y1 > H || x1 <= x0 || y1 <= y0) {
      throw new SemclipError('INVALID_ARGUMENT', `Box ${JSON.stringify(box)} is not inside the ${W}x${H} image ${this.label}.`, {
        expected: `a non-empty box with 0 <= x, x + width <= ${W}, 0 <= y, y + height <= ${H}`,
        details: { box, image: this.size },
      });
    }
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  /**
   * Pixels of `box` fitted into `out`, each output pixel resampled once: either cut from a
   * whole-image decode at the right scale (shrink-on-load for JPEG/WebP), or extracted from the
   * full-resolution decode and resized in one sharp call. `cover` is done as Hugging Face's
   * processors do it (see `coverGeometry`): the box is resized to cover `out` and the centre crop
   * is cut from that at rounded-down offsets.
   */
  private async render(box: Box, out: Size, fitMode: FitMode, background: Colour | 'mean'): Promise<Rgb> {
    const { width: W, height: H } = this.size;
    const cover = fitMode === 'cover' ? coverGeometry(box, out) : undefined;
    const fit = fitMode === 'cover' ? 'fill' : fitMode;
    const size = cover?.resized ?? out;
    const cut = cover?.cut ?? { x: 0, y: 0, ...out };
    if (box.width === size.width && box.height === size.height) {
      return extractRgb(await this.decoder.full(), box.x + cut.x, box.y + cut.y, cut.width, cut.height);
    }
    const sx = size.width / box.width;
    const sy = size.height / box.height;
    // The scale the box is resampled at, per axis (fill squashes; contain keeps aspect).
    const kx = fit === 'fill' ? sx : Math.min(sx, sy);
    const ky = fit === 'fill' ? sy : Math.min(sx, sy);
    const bg = async () => (background === 'mean' ? (fit === 'contain' ? await this.decoder.mean() : ([0, 0, 0] as const)) : background);
    if (this.decoder.canDecodeShrunk) {
      // JPEG file: decode at 1/2, 1/4 or 1/8 in the DCT (no resampling), then one resize.
      const { promise } = this.decoder.atShrink(1 / Math.max(kx, ky));
      const src = await promise;
      return resizeRgb(src, mapBox(box, this.size, src), size, fit, await bg(), this.label, cut);
    }
    // Shrink-on-load only pays when the output is at most half the source scale.
    const usePlan = this.decoder.canShrinkOnLoad && Math.max(kx, ky) <= 0.5;
    if (!usePlan) {
      return resizeRgb(await this.decoder.full(), box, size, fit, await bg(), this.label, cut);
    }
    const target = { width: box.width * kx, height: box.height * ky };
    const entry = this.decoder.findScaled(box, target) ?? this.decoder.scaled(Math.max(1, Math.round(W * kx)), Math.max(1, Math.round(H * ky)));
    const bgPromise = fit === 'contain' && background === 'mean' ? this.decoder.mean() : undefined;
    const scaled = await entry.promise;
    const ex = scaled.width / W;
    const ey = scaled.height / H;
    if (fit === 'contain') {
      const w = Math.min(out.width, Math.max(1, Math.round(box.width * ex)));
      const h = Math.min(out.height, Math.max(1, Math.round(box.height * ey)));
      const left = clamp(Math.round(box.x * ex), 0, scaled.width - w);
      const top = clamp(Math.round(box.y * ey), 0, scaled.height - h);
      const inner = extractRgb(scaled, left, top, w, h);
      const bgColour = bgPromise ? await bgPromise : (background as Colour);
      return padRgb(inner, out, bgColour);
    }
    // fill: the box maps onto `size`, of which `cut` is returned.
    const left = clamp(Math.round(box.x * ex) + cut.x, 0, scaled.width - cut.width);
    const top = clamp(Math.round(box.y * ey) + cut.y, 0, scaled.height - cut.height);
    if (scaled.width < cut.width || scaled.height < cut.height) {
      // Cannot happen with the sizes chosen above; guard so a bad cache match fails loudly.
      throw new SemclipError('INTERNAL', `Scaled decode ${scaled.width}x${scaled.height} is smaller than the ${cut.width}x${cut.height} output.`);
    }
    return extractRgb(scaled, left, top, cut.width, cut.height);
  }

  async crop(box: Box, options: CropOptions = {}): Promise<RawImage> {
    const b = this.checkBox(box);
    if (options.size !== undefined) checkSize('Crop size', options.size);
    if (options.maxSide !== undefined && !(Number.isInteger(options.maxSide) && options.maxSide >= 1)) {
      throw new SemclipError('INVALID_ARGUMENT', `maxSide ${String(options.maxSide)} is not valid.`, { expected: 'a positive integer' });
    }
    checkColour('Background', options.background);
    const fit = checkFit(options.fit ?? 'fill');
    const out = options.size ?? nativeSize(b, options.maxSide);
    return toRaw(await this.render(b, out, fit, options.background ?? 'mean'));
  }

  async overview(size: Size, mode: OverviewMode = 'resize', options: OverviewOptions = {}): Promise<RawImage> {
    checkSize('Overview size', size);
    checkColour('Background', options.background);
    const whole = { x: 0, y: 0, width: this.size.width, height: this.size.height };
    return toRaw(await this.render(whole, size, fitOf(mode), options.background ?? 'mean'));
  }

  async tensors(options: TensorOptions): Promise<TensorBatch> {
    const { size, mean, std } = options;
    checkSize('Tensor size', size);
    for (const [name, v] of [
      ['mean', mean],
      ['std', std],
    ] as const) {
      if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (name === 'std' && x === 0))) {
        throw new SemclipError('INVALID_ARGUMENT', `Normalisation ${name} ${JSON.stringify(v)} is not valid.`, {
          expected: `three finite numbers on the 0-1 scale${name === 'std' ? ', none zero' : ''}, e.g. CLIP's [0.4815, 0.4578, 0.4082]`,
        });
      }
    }
    const fit = checkFit(options.fit ?? 'fill');
    const overview = options.overview ?? 'resize';
    const tiles = options.tiles ?? this.grid.tiles.map((t) => t.index);
    for (const i of tiles) {
      if (!Number.isInteger(i) || i < 0 || i >= this.grid.tiles.length) {
        throw new SemclipError('INVALID_ARGUMENT', `Tile index ${String(i)} is out of range.`, {
          expected: `indices from 0 to ${this.grid.tiles.length - 1}`,
        });
      }
    }
    // LLaVA-1.5 pads with the normalisation mean, so padding becomes 0 after normalising.
    const padColour: Colour = [Math.floor(mean[0] * 255), Math.floor(mean[1] * 255), Math.floor(mean[2] * 255)];
    const jobs: Array<{ box: Box; fit: FitMode }> = [];
    if (overview !== false) jobs.push({ box: { x: 0, y: 0, ...this.size }, fit: fitOf(overview) });
    for (const i of tiles) jobs.push({ box: this.grid.tiles[i]!.box, fit });
    if (this.decoder.canDecodeShrunk && jobs.length > 0) {
      // One decode for the whole call: the coarsest scale every output still gets full detail from.
      const maxShrink = Math.min(
        ...jobs.map(({ box, fit: f }) => {
          const sx = size.width / box.width;
          const sy = size.height / box.height;
          const s = f === 'cover' ? Math.max(sx, sy) : Math.min(sx, sy);
          return 1 / (f === 'fill' ? Math.max(sx, sy) : s);
        }),
      );
      this.decoder.atShrink(maxShrink);
    }
    const n = jobs.length;
    const plane = size.width * size.height;
    const data = new Float32Array(n * 3 * plane);
    await Promise.all(
      jobs.map(async (job, k) => {
        const rgb = await this.render(job.box, size, job.fit, padColour);
        normaliseInto(rgb.data, data, k * 3 * plane, plane, mean, std);
      }),
    );
    return { data, dims: [n, 3, size.height, size.width] };
  }

  async encode(box: Box | 'overview', options: EncodeOptions = {}): Promise<EncodedImage> {
    const format = options.format ?? 'jpeg';
    if (format !== 'jpeg' && format !== 'png' && format !== 'webp') {
      throw new SemclipError('INVALID_ARGUMENT', `Format ${JSON.stringify(format)} is not supported.`, { expected: '"jpeg", "png" or "webp"' });
    }
    const quality = options.quality ?? 90;
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
      throw new SemclipError('INVALID_ARGUMENT', `Quality ${String(quality)} is not valid.`, { expected: 'an integer from 1 to 100' });
    }
    checkColour('padSquare', options.padSquare);
    const region = box === 'overview' ? { x: 0, y: 0, ...this.size } : box;
    const raw = await this.crop(region, options.maxSide === undefined ? {} : { maxSide: options.maxSide });
    return encodeRaw(options.padSquare ? padSquare(raw, options.padSquare) : raw, format, quality);
  }

  async writeTiles(dir: string, options: WriteTilesOptions = {}): Promise<string[]> {
    const format = options.format ?? 'png';
    if (format !== 'png' && format !== 'jpeg') {
      throw new SemclipError('INVALID_ARGUMENT', `Format ${JSON.stringify(format)} is not supported for tiles.`, { expected: '"png" or "jpeg"' });
    }
    if (options.size !== undefined) checkSize('Tile size', options.size);
    await mkdir(dir, { recursive: true });
    const ext = format === 'png' ? 'png' : 'jpg';
    const digits = Math.max(2, String(this.grid.tiles.length - 1).length);
    const paths: string[] = [];
    const maxTileSide = Math.max(...this.grid.tiles.filter((t) => t.level === 1).map((t) => Math.max(t.box.width, t.box.height)));
    const overviewRaw = options.size ? await this.overview(options.size, 'resize') : await this.crop({ x: 0, y: 0, ...this.size }, { maxSide: maxTileSide });
    const overviewPath = join(dir, `overview.${ext}`);
    await writeFile(overviewPath, (await encodeRaw(overviewRaw, format, 92)).data);
    paths.push(overviewPath);
    for (const tile of this.grid.tiles) {
      const raw = await this.crop(tile.box, options.size ? { size: options.size } : {});
      const name = `tile-${String(tile.index).padStart(digits, '0')}-r${tile.row}c${tile.col}${tile.level > 1 ? `-l${tile.level}` : ''}.${ext}`;
      const path = join(dir, name);
      await writeFile(path, (await encodeRaw(raw, format, 92)).data);
      paths.push(path);
    }
    return paths;
  }
}

/**
 * `box` (in original pixels) in the pixels of a decode of `src` size. Edges are rounded, so at
 * reduced scale a box may shift by up to half a decoded pixel; at full scale it is exact.
 */
function mapBox(box: Box, size: Size, src: Size): Box {
  if (src.width === size.width && src.height === size.height) return box;
  const fx = src.width / size.width;
  const fy = src.height / size.height;
  const x0 = clamp(Math.round(box.x * fx), 0, src.width - 1);
  const y0 = clamp(Math.round(box.y * fy), 0, src.height - 1);
  const x1 = clamp(Math.round((box.x + box.width) * fx), x0 + 1, src.width);
  const y1 = clamp(Math.round((box.y + box.height) * fy), y0 + 1, src.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), Math.max(lo, hi));
}

/**
 * `raw` (3 channels) on a square canvas of `colour`, its long side, placed as LLaVA's
 * `expand2square` pastes it: at `((side - width) // 2, (side - height) // 2)`.
 */
export function padSquare(raw: RawImage, colour: readonly [number, number, number]): RawImage {
  const side = Math.max(raw.width, raw.height);
  if (raw.width === side && raw.height === side) return raw;
  const src: Rgb = { data: Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength), width: raw.width, height: raw.height };
  return toRaw(padRgb(src, { width: side, height: side }, [Math.round(colour[0]), Math.round(colour[1]), Math.round(colour[2])]));
}

export async function encodeRaw(raw: RawImage, format: 'jpeg' | 'png' | 'webp', quality: number): Promise<EncodedImage> {
  const img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  const out = format === 'jpeg' ? img.jpeg({ quality, mozjpeg: false }) : format === 'png' ? img.png({ compressionLevel: 6 }) : img.webp({ quality });
  const data = await out.toBuffer();
  return {
    mime: format === 'jpeg' ? 'image/jpeg' : format === 'png' ? 'image/png' : 'image/webp',
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: raw.width,
    height: raw.height,
  };
}
