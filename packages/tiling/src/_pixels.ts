import type { Box, FitMode, Size } from '@semclip/core';
import sharp from 'sharp';
import type { OutputInfo, Sharp } from 'sharp';
import { decodeError, endsOf, readEnds } from './_errors.js';
import type { LoadedImage } from './_source.js';

/** 8-bit sRGB, 3 channels, interleaved, row-major. */
export interface Rgb {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

export type Colour = readonly [number, number, number];

/** Transparent pixels become white: logos and screenshots with alpha are drawn for white pages. */
export const ALPHA_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

/**
 * Bicubic (Catmull-Rom, a = -0.5) with its support widened when reducing, i.e. antialiased:
 * the same filter as PIL's BICUBIC, which CLIPImageProcessor (and so CLIP and LLaVA) use.
 */
export const RESAMPLE_KERNEL = 'cubic';

/** How strictly decoding rejects damaged data; see sharp's `failOn`. */
export type FailOn = 'warning' | 'error' | 'truncated';

/** Copies a rectangle (clamped to the image) out of an RGB buffer. */
export function extractRgb(src: Rgb, left: number, top: number, width: number, height: number): Rgb {
  if (left === 0 && top === 0 && width === src.width && height === src.height) {
    return { data: Buffer.from(src.data), width, height };
  }
  const out = Buffer.allocUnsafe(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * src.width + left) * 3;
    src.data.copy(out, y * rowBytes, from, from + rowBytes);
  }
  return { data: out, width, height };
}

/** Places `src` centred on a `size` canvas of `colour` (what `contain` and `pad` do). */
export function padRgb(src: Rgb, size: Size, colour: Colour): Rgb {
  if (src.width === size.width && src.height === size.height) return src;
  const out = Buffer.allocUnsafe(size.width * size.height * 3);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = colour[0];
    out[i + 1] = colour[1];
    out[i + 2] = colour[2];
  }
  const left = Math.floor((size.width - src.width) / 2);
  const top = Math.floor((size.height - src.height) / 2);
  const rowBytes = src.width * 3;
  for (let y = 0; y < src.height; y++) {
    src.data.copy(out, ((top + y) * size.width + left) * 3, y * rowBytes, (y + 1) * rowBytes);
  }
  return { data: out, width: size.width, height: size.height };
}

/** Mean colour of an RGB image, rounded (sampled on a grid of at most ~64k pixels). */
export function meanColour(src: Rgb): Colour {
  const n = src.width * src.height;
  const step = Math.max(1, Math.floor(n / 65536));
  let r = 0;
  let g = 0;
  let b = 0;
  let count = 0;
  for (let p = 0; p < n; p += step) {
    const i = p * 3;
    r += src.data[i]!;
    g += src.data[i + 1]!;
    b += src.data[i + 2]!;
    count++;
  }
  return [Math.round(r / count), Math.round(g / count), Math.round(b / count)];
}

function toRgb(data: Buffer, info: OutputInfo): Rgb {
  if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
  return { data, width: info.width, height: info.height };
}

function rawInput(src: Rgb): Sharp {
  return sharp(src.data, { raw: { width: src.width, height: src.height, channels: 3 } });
}

let libvipsCacheOff = false;

/**
 * Turns libvips' operation cache off (once per process, at the first decoder): decodes are kept
 * here, so the cache only held the same pixels a second time (about 70 MB more peak RSS when a
 * 21-MP photo is read at full resolution).
 */
function disableLibvipsCache(): void {
  if (libvipsCacheOff) return;
  libvipsCacheOff = true;
  sharp.cache(false);
}

/**
 * Decodes an image once per scale and keeps the results. Three ways to get pixels:
 *
 * - `full()`: every pixel at native resolution (EXIF-oriented, alpha flattened on white,
 *   converted to 8-bit sRGB). Needed for native-resolution crops and for sources that cannot
 *   be decoded at reduced scale.
 * - `atShrink(max)`, JPEG files: libjpeg decodes at 1/2, 1/4 or 1/8 scale in the DCT (the
 *   largest factor up to `max`), with no resampling at all; outputs are then cut from that decode
 *   with one resize each. Reached through libvips' `file.jpg[shrink=N]` load option.
 * - `scaled(w, h)`, JPEG/WebP bytes: sharp offers no pure reduced-scale decode from memory, so
 *   the whole image is resampled to w x h in the same pipeline that decodes it (shrink-on-load
 *   plus one resample); crops at that scale are then cut out without resampling again.
 */
export class Decoder {
  private fullPromise: Promise<Rgb> | undefined;
  /** DCT-scaled decodes by shrink factor (2, 4, 8). */
  private readonly shrunk = new Map<number, Promise<Rgb>>();
  private readonly scaledCache = new Map<string, { width: number; height: number; promise: Promise<Rgb> }>();
  private meanPromise: Promise<Colour> | undefined;
  /** How many decodes ran, by kind: for tests and benchmarks. */
  readonly stats = { full: 0, scaled: 0, resized: 0 };

  constructor(
    private readonly source: LoadedImage,
    private readonly failOn: FailOn,
    private readonly maxPixels: number,
    /** How many whole-image scaled decodes to keep. */
    private readonly maxScaled = 6,
  ) {
    disableLibvipsCache();
  }

  get size(): Size {
    return this.source.size;
  }

  /** True once a full-resolution decode has been started (then everything is cut from it). */
  get hasFull(): boolean {
    return this.fullPromise !== undefined;
  }

  /** Whether `scaled()` would use shrink-on-load rather than resample a full decode. */
  get canShrinkOnLoad(): boolean {
    return this.source.shrinkable && !this.hasFull;
  }

  /** Whether `atShrink()` decodes at reduced scale (a JPEG file). */
  get canDecodeShrunk(): boolean {
    return this.source.jpegPath !== undefined;
  }

  /**
   * A decode at the largest scale-down factor (1, 2, 4 or 8) not above `maxShrink`: a cached
   * one if there is one (the coarsest that qualifies), else a new DCT-scaled decode. Factor 1 is
   * the full decode.
   */
  atShrink(maxShrink: number): { shrink: number; promise: Promise<Rgb> } {
    const allowed = [8, 4, 2].filter((f) => f <= maxShrink);
    for (const f of allowed) {
      const hit = this.shrunk.get(f);
      if (hit) return { shrink: f, promise: hit };
    }
    const f = allowed[0];
    if (f === undefined || !this.source.jpegPath || this.fullPromise) return { shrink: 1, promise: this.full() };
    this.stats.scaled++;
    // Same options as the full decode; the file is read again (from the OS cache) because
    // sharp takes load options only with a path.
    const promise = this.run(sharp(`${this.source.jpegPath}[shrink=${f}]`, { failOn: this.failOn, limitInputPixels: this.maxPixels, autoOrient: true }));
    this.shrunk.set(f, promise);
    promise.catch(() => this.shrunk.delete(f));
    return { shrink: f, promise };
  }

  private pipeline(): Sharp {
    const { source } = this;
    if (source.raw) {
      const raw = source.raw;
      const data = raw.data instanceof Uint8ClampedArray ? new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength) : raw.data;
      let img = sharp(data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
      // 1- and 2-channel raw input is gray (+ alpha); say so, or sharp takes it for sRGB.
      if (raw.channels <= 2) img = img.pipelineColourspace('b-w');
      return img;
    }
    return sharp(source.bytes ?? source.path!, {
      failOn: this.failOn,
      limitInputPixels: this.maxPixels,
      autoOrient: true,
    });
  }

  private finish(img: Sharp): Sharp {
    return img.flatten({ background: ALPHA_BACKGROUND }).toColourspace('srgb').raw({ depth: 'uchar' });
  }

  private async run(img: Sharp): Promise<Rgb> {
    try {
      const { data, info } = await this.finish(img).toBuffer({ resolveWithObject: true });
      return toRgb(data, info);
    } catch (err) {
      const { bytes, path } = this.source;
      throw decodeError(this.source.label, err, bytes ? endsOf(bytes) : path ? await readEnds(path) : undefined);
    }
  }

  full(): Promise<Rgb> {
    if (!this.fullPromise) {
      const raw = this.source.raw;
      if (raw && raw.channels === 3) {
        const data = Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
        this.fullPromise = Promise.resolve({ data, width: raw.width, height: raw.height });
      } else {
        this.stats.full++;
        this.fullPromise = this.run(this.pipeline());
        // A failed decode is not cached: the next call reports the error again.
        this.fullPromise.catch(() => (this.fullPromise = undefined));
      }
    }
    return this.fullPromise;
  }

  /**
   * A cached whole-image decode at a scale where `box` comes out `target` pixels big, within
   * `tolerance` pixels on each side (so cutting `box` out of it is off by less than that).
   */
  findScaled(box: Box, target: Size, tolerance = 1): { width: number; height: number; promise: Promise<Rgb> } | undefined {
    const { width: W, height: H } = this.source.size;
    for (const entry of this.scaledCache.values()) {
      const bw = (box.width * entry.width) / W;
      const bh = (box.height * entry.height) / H;
      if (Math.abs(bw - target.width) <= tolerance && Math.abs(bh - target.height) <= tolerance) return entry;
    }
    return undefined;
  }

  /** The whole image at `width` x `height` (fill), decoded with shrink-on-load where possible; cached. */
  scaled(width: number, height: number): { width: number; height: number; promise: Promise<Rgb> } {
    const key = `${width}x${height}`;
    const hit = this.scaledCache.get(key);
    if (hit) {
      this.scaledCache.delete(key);
      this.scaledCache.set(key, hit);
      return hit;
    }
    let promise: Promise<Rgb>;
    if (this.source.shrinkable && !this.fullPromise) {
      this.stats.scaled++;
      promise = this.run(this.pipeline().resize(width, height, { fit: 'fill', kernel: RESAMPLE_KERNEL, fastShrinkOnLoad: true }));
    } else {
      this.stats.resized++;
      promise = this.full().then((full) => resizeRgb(full, undefined, { width, height }, 'fill', [0, 0, 0], this.source.label));
    }
    const entry = { width, height, promise };
    this.scaledCache.set(key, entry);
    promise.catch(() => this.scaledCache.delete(key));
    while (this.scaledCache.size > this.maxScaled) {
      const oldest = this.scaledCache.keys().next().value as string;
      this.scaledCache.delete(oldest);
    }
    return entry;
  }

  /** The image's mean colour, from whichever decode is at hand (or a small one). */
  mean(): Promise<Colour> {
    if (!this.meanPromise) {
      const any = this.scaledCache.values().next().value as { promise: Promise<Rgb> } | undefined;
      const shrunk = this.shrunk.values().next().value as Promise<Rgb> | undefined;
      const src: Promise<Rgb> =
        this.fullPromise ?? shrunk ?? any?.promise ?? (this.canDecodeShrunk ? this.atShrink(8).promise : this.scaled(...smallSize(this.source.size)).promise);
      this.meanPromise = src.then(meanColour);
      this.meanPromise.catch(() => (this.meanPromise = undefined));
    }
    return this.meanPromise;
  }
}

function smallSize(size: Size): [number, number] {
  const s = Math.min(1, 256 / Math.max(size.width, size.height));
  return [Math.max(1, Math.round(size.width * s)), Math.max(1, Math.round(size.height * s))];
}

/**
 * Hugging Face's geometry for a `cover` fit of a region of size `box` into `out` (CLIPImageProcessor
 * and transformers.js: resize the short side, then centre-crop): the region is resized by
 * s = max(out.width / box.width, out.height / box.height), each side to floor(side * s) (rounded
 * to 2 decimals first, as transformers.js does, so 224.00000000000003 stays 224), then the crop
 * starts at floor((resized - out) / 2) on each axis (`top = (height - crop_height) // 2`).
 * sharp's own `cover` crop rounds that offset up instead, shifting the pixels by one.
 */
export function coverGeometry(box: Size, out: Size): { readonly resized: Size; readonly cut: Box } {
  const s = Math.max(out.width / box.width, out.height / box.height);
  const width = Math.max(out.width, Math.floor(Number((box.width * s).toFixed(2))));
  const height = Math.max(out.height, Math.floor(Number((box.height * s).toFixed(2))));
  return {
    resized: { width, height },
    cut: { x: Math.floor((width - out.width) / 2), y: Math.floor((height - out.height) / 2), width: out.width, height: out.height },
  };
}

/**
 * One sharp resample of `box` of `src` into `out` with the given fit (the exact path). With `cut`,
 * only that part of the resampled `out` is returned (in the same lazy pipeline, so a huge `out`
 * is never held whole).
 */
export async function resizeRgb(
  src: Rgb,
  box: Box | undefined,
  out: Size,
  fit: Exclude<FitMode, 'cover'>,
  background: Colour,
  label: string,
  cut?: Box,
): Promise<Rgb> {
  const whole = !box || (box.x === 0 && box.y === 0 && box.width === src.width && box.height === src.height);
  const b = box ?? { x: 0, y: 0, width: src.width, height: src.height };
  const c = cut ?? { x: 0, y: 0, ...out };
  if (b.width === out.width && b.height === out.height) return extractRgb(src, b.x + c.x, b.y + c.y, c.width, c.height);
  let img = rawInput(src);
  if (!whole) img = img.extract({ left: b.x, top: b.y, width: b.width, height: b.height });
  img = img.resize(out.width, out.height, {
    fit,
    kernel: RESAMPLE_KERNEL,
    position: 'centre',
    background: { r: background[0], g: background[1], b: background[2] },
  });
  if (cut && (c.width !== out.width || c.height !== out.height)) img = img.extract({ left: c.x, top: c.y, width: c.width, height: c.height });
  try {
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    return toRgb(data, info);
  } catch (err) {
    throw decodeError(label, err);
  }
}
