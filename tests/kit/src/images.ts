/**
 * Image generators for tests: deterministic pixels (so a test can compute the expected value of
 * any pixel by hand), every container format sharp writes, and the broken files a decoder must
 * reject (truncated, header-only, animated). Nothing here touches the network or the disk unless
 * asked to (`writeTemp`).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';

export type Pattern = 'gradient' | 'checker' | 'quadrants' | 'noise' | 'solid';

export interface PatternOptions {
  readonly width: number;
  readonly height: number;
  /** Default `gradient`. */
  readonly pattern?: Pattern;
  /** Colour for `solid` (RGB 0-255). Default mid grey. */
  readonly color?: readonly [number, number, number];
  /** Seed for `noise`. */
  readonly seed?: number;
}

/** The four colours of the `quadrants` pattern: top-left, top-right, bottom-left, bottom-right. */
export const QUADRANT_COLORS = [
  [220, 40, 40],
  [40, 200, 60],
  [40, 70, 220],
  [240, 220, 40],
] as const satisfies readonly (readonly [number, number, number])[];

/**
 * The RGB value of pattern pixel (x, y). Exported so tests can compute expectations.
 * - `gradient`: R = x across the width, G = y down the height, B = constant 128.
 * - `checker`: 8-pixel black/white squares.
 * - `quadrants`: four flat colours (`QUADRANT_COLORS`), split at width/2, height/2 (floored).
 * - `noise`: seeded pseudo-random (xorshift), uniform 0-255 per channel.
 */
export function patternPixel(options: PatternOptions, x: number, y: number): [number, number, number] {
  const { width, height } = options;
  switch (options.pattern ?? 'gradient') {
    case 'gradient':
      return [width > 1 ? Math.round((x * 255) / (width - 1)) : 0, height > 1 ? Math.round((y * 255) / (height - 1)) : 0, 128];
    case 'checker': {
      const v = ((Math.floor(x / 8) + Math.floor(y / 8)) & 1) === 0 ? 0 : 255;
      return [v, v, v];
    }
    case 'quadrants': {
      const q = (y < Math.floor(height / 2) ? 0 : 2) + (x < Math.floor(width / 2) ? 0 : 1);
      const c = QUADRANT_COLORS[q]!;
      return [c[0], c[1], c[2]];
    }
    case 'solid': {
      const c = options.color ?? [128, 128, 128];
      return [c[0], c[1], c[2]];
    }
    case 'noise': {
      let s = (options.seed ?? 1) ^ Math.imul(y * width + x + 1, 0x9e3779b1);
      const out: [number, number, number] = [0, 0, 0];
      for (let c = 0; c < 3; c++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        out[c] = (s >>> 0) & 255;
      }
      return out;
    }
  }
}

/** Interleaved RGB (or RGBA / gray / gray+alpha) pixels of a pattern. */
export function makeRaw(options: PatternOptions & { readonly channels?: 1 | 2 | 3 | 4; readonly alpha?: number }): {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
} {
  const channels = options.channels ?? 3;
  const { width, height } = options;
  const data = new Uint8Array(width * height * channels);
  const pattern = options.pattern ?? 'gradient';
  // Per-pixel calls are too slow for 12 MP test images; the common patterns fill rows directly.
  if (channels === 3 && pattern === 'gradient') {
    const row = new Uint8Array(width * 3);
    for (let x = 0; x < width; x++) row.set(patternPixel(options, x, 0), x * 3);
    for (let y = 0; y < height; y++) {
      const g = patternPixel(options, 0, y)[1];
      for (let x = 0; x < width; x++) row[x * 3 + 1] = g;
      data.set(row, y * width * 3);
    }
    return { data, width, height, channels };
  }
  if (channels === 3 && (pattern === 'solid' || pattern === 'quadrants')) {
    const row = new Uint8Array(width * 3);
    let last = -1;
    for (let y = 0; y < height; y++) {
      const key = pattern === 'quadrants' && y >= Math.floor(height / 2) ? 1 : 0;
      if (key !== last) {
        for (let x = 0; x < width; x++) row.set(patternPixel(options, x, y), x * 3);
        last = key;
      }
      data.set(row, y * width * 3);
    }
    return { data, width, height, channels };
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = patternPixel(options, x, y);
      const o = (y * width + x) * channels;
      if (channels <= 2) {
        data[o] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      } else {
        data[o] = r;
        data[o + 1] = g;
        data[o + 2] = b;
      }
      if (channels === 2 || channels === 4) data[o + channels - 1] = options.alpha ?? 255;
    }
  }
  return { data, width, height, channels };
}

function fromRaw(raw: ReturnType<typeof makeRaw>): Sharp {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
}

function bytes(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export interface JpegOptions extends PatternOptions {
  /** 1-100, default 92. */
  readonly quality?: number;
  readonly progressive?: boolean;
  /**
   * EXIF orientation tag (1-8) to write. The pixels are stored as given: a viewer that honours
   * the tag shows them rotated (6 = rotate 90 degrees clockwise, so width and height swap).
   */
  readonly orientation?: number;
  /** Write a grayscale JPEG (1 channel). */
  readonly grayscale?: boolean;
  /** Write a CMYK JPEG. */
  readonly cmyk?: boolean;
}

/**
 * A JPEG of a deterministic pattern.
 *
 * @example
 * ```ts
 * const jpeg = await makeJpeg({ width: 4000, height: 3000, pattern: 'noise' });
 * ```
 */
export async function makeJpeg(options: JpegOptions): Promise<Uint8Array> {
  let img = fromRaw(makeRaw({ ...options, channels: 3 }));
  if (options.grayscale) img = img.toColourspace('b-w');
  if (options.cmyk) img = img.toColourspace('cmyk');
  if (options.orientation !== undefined) img = img.withMetadata({ orientation: options.orientation });
  return bytes(await img.jpeg({ quality: options.quality ?? 92, progressive: options.progressive ?? false, chromaSubsampling: '4:4:4' }).toBuffer());
}

/** An 8-bit PNG; `channels` 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA, with `alpha`). */
export async function makePng(options: PatternOptions & { readonly channels?: 1 | 2 | 3 | 4; readonly alpha?: number }): Promise<Uint8Array> {
  let img = fromRaw(makeRaw(options));
  // sharp reads 1- and 2-channel raw input as sRGB unless told otherwise.
  if ((options.channels ?? 3) <= 2) img = img.toColourspace('b-w');
  return bytes(await img.png({ compressionLevel: 1 }).toBuffer());
}

/**
 * A 16-bit RGB PNG whose 8-bit reading equals the pattern (each 16-bit sample is v * 257), so
 * a correct 16 -> 8 bit conversion gives back exactly `patternPixel`.
 */
export async function makePng16(options: PatternOptions): Promise<Uint8Array> {
  const { width, height } = options;
  const data = new Uint16Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = patternPixel(options, x, y);
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = px[c]! * 257;
    }
  }
  const out = await sharp(data, { raw: { width, height, channels: 3, premultiplied: false } })
    .toColourspace('rgb16')
    .png({ compressionLevel: 1 })
    .toBuffer();
  return bytes(out);
}

export async function makeWebp(options: PatternOptions & { readonly lossless?: boolean }): Promise<Uint8Array> {
  return bytes(
    await fromRaw(makeRaw(options))
      .webp({ lossless: options.lossless ?? true })
      .toBuffer(),
  );
}

export async function makeGif(options: PatternOptions): Promise<Uint8Array> {
  return bytes(await fromRaw(makeRaw(options)).gif().toBuffer());
}

export async function makeTiff(options: PatternOptions): Promise<Uint8Array> {
  return bytes(await fromRaw(makeRaw(options)).tiff({ compression: 'lzw' }).toBuffer());
}

function makeAnimated(frames: number, width: number, height: number): Sharp {
  const stacked = new Uint8Array(width * height * frames * 3);
  for (let f = 0; f < frames; f++) {
    const frame = makeRaw({ width, height, pattern: 'solid', color: [(f * 80) % 256, 100, 200 - f * 30] });
    stacked.set(frame.data, f * frame.data.length);
  }
  return sharp(stacked, { raw: { width, height: height * frames, channels: 3, pageHeight: height } });
}

/** A multi-frame (animated) GIF. */
export async function makeAnimatedGif(options: { frames?: number; width?: number; height?: number } = {}): Promise<Uint8Array> {
  const { frames = 3, width = 32, height = 24 } = options;
  return bytes(await makeAnimated(frames, width, height).gif({ delay: 100, loop: 0 }).toBuffer());
}

/** A multi-frame (animated) WebP. */
export async function makeAnimatedWebp(options: { frames?: number; width?: number; height?: number } = {}): Promise<Uint8Array> {
  const { frames = 3, width = 32, height = 24 } = options;
  return bytes(await makeAnimated(frames, width, height).webp({ delay: 100, loop: 0, lossless: true }).toBuffer());
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 as PNG chunks use it (over the chunk type and data). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A PNG that declares `width` x `height` (8-bit RGB) but carries no pixel data: signature,
 * IHDR, an empty IDAT and IEND, a few dozen bytes. A decoder that trusts the header before
 * allocating must reject a 30000x30000 one instantly.
 */
export function pngHeaderOnly(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // no interlace
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', new Uint8Array(0)),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The first `fraction` of a file (default half): what an interrupted download leaves. */
export function truncated(data: Uint8Array, fraction = 0.5): Uint8Array {
  return data.slice(0, Math.max(1, Math.floor(data.length * fraction)));
}

/** A copy with `count` bytes overwritten by garbage from `start` (as a fraction of the length). */
export function corrupted(data: Uint8Array, start = 0.3, count = 4096): Uint8Array {
  const out = data.slice();
  const from = Math.floor(out.length * start);
  for (let i = from; i < Math.min(out.length, from + count); i++) out[i] = (i * 131) & 0xff;
  return out;
}

/** Writes `data` to a fresh temp dir and returns the file path. */
export async function writeTemp(name: string, data: Uint8Array | string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'semclip-img-'));
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

/** Mean absolute difference of two equally long pixel arrays (0-255 scale). */
export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / Math.max(1, a.length);
}
