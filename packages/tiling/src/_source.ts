import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { SemclipError, isRawImage } from '@semclip/core';
import type { ImageInput, RawImage, Size } from '@semclip/core';
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { decodeError, endsOf, fileSizeText, pngHeaderSize, readEnds } from './_errors.js';
import { checkSvgText, isKnownRaster, rasteriseSvg, resolveSvgOptions, sniffSvg, svgTextOf } from './_svg.js';
import type { ResolvedSvgOptions, SvgOptions } from './_svg.js';

/** Default cap on decoded pixels: 16384 x 16384 (268 MP, ~800 MB as RGB). */
export const DEFAULT_MAX_PIXELS = 16384 * 16384;
/** Default cap on the encoded file: 256 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface ImageLimits {
  /** Most pixels (width x height) an image may have; checked from the header before decoding. Default 16384*16384. */
  readonly maxPixels?: number;
  /** Largest encoded file accepted, in bytes. Default 256 MiB. */
  readonly maxFileBytes?: number;
  /**
   * SVG input: allowed by default, rendered once in a child process under a time limit; never
   * with anything it references (only `#fragments` and `data:` URIs; see `SvgOptions`).
   */
  readonly svg?: SvgOptions;
}

export interface ImageInfo {
  /** Width after EXIF orientation. */
  readonly width: number;
  /** Height after EXIF orientation. */
  readonly height: number;
  /** Decoder name: `jpeg`, `png`, `webp`, `gif`, `tiff`, `heif`, `svg`..., or `raw` for pixel input. */
  readonly format: string;
  /** EXIF orientation tag (1-8) when the file has one. */
  readonly orientation?: number;
  /** Frames or pages; more than 1 means animated (GIF/WebP) or multi-page (TIFF). */
  readonly pages: number;
  /** Bytes of the encoded file (or of the pixel buffer for raw input). */
  readonly size: number;
}

/** An input read into memory and checked: what the decoder works from. */
export interface LoadedImage {
  readonly label: string;
  readonly info: ImageInfo;
  /** Encoded bytes, for buffer input (and paths libvips cannot open by name). */
  readonly bytes?: Uint8Array;
  /** The file, for path input: decoded from disk, not held in memory. */
  readonly path?: string;
  readonly raw?: RawImage;
  /** Pixel size after EXIF orientation. */
  readonly size: Size;
  /** JPEG and WebP decode faster at reduced scale (shrink-on-load). */
  readonly shrinkable: boolean;
  /**
   * For JPEG files: the path, when libvips can open it with a load option appended
   * (`photo.jpg[shrink=4]`), which gives a pure DCT-scaled decode with no resampling.
   */
  readonly jpegPath?: string;
}

function limitsOf(limits: ImageLimits = {}): { maxPixels: number; maxFileBytes: number; svg: ResolvedSvgOptions } {
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxFileBytes = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  for (const [name, v] of [
    ['maxPixels', maxPixels],
    ['maxFileBytes', maxFileBytes],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new SemclipError('INVALID_ARGUMENT', `${name} ${String(v)} is not a valid limit.`, {
        expected: 'a positive integer',
        details: { [name]: v },
      });
    }
  }
  return { maxPixels, maxFileBytes, svg: resolveSvgOptions(limits.svg, maxPixels) };
}

function describe(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `image buffer (${fileSizeText(input.length)})`;
  return `raw image ${String(input.width)}x${String(input.height)}x${String(input.channels)}`;
}

async function statFile(path: string, maxFileBytes: number): Promise<number> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    throw new SemclipError('IMAGE_NOT_FOUND', `Image file ${path} does not exist or cannot be read.`, {
      cause: err,
      hint: `Check the path${isAbsolute(path) ? '' : ` (a relative path is resolved from ${process.cwd()})`}`,
      details: { file: path, reason: (err as NodeJS.ErrnoException).code },
    });
  }
  if (!st.isFile()) {
    throw new SemclipError('IMAGE_NOT_FOUND', `${path} is not a file (it is a ${st.isDirectory() ? 'directory' : 'special file'}).`, {
      hint: 'Pass the path of an image file',
      details: { file: path },
    });
  }
  checkFileSize(path, st.size, maxFileBytes);
  return st.size;
}

function checkFileSize(label: string, size: number, maxFileBytes: number): void {
  if (size === 0) {
    throw new SemclipError('IMAGE_EMPTY', `${label} is empty (0 bytes).`, {
      expected: 'an image file with content',
      hint: 'The file was probably not written completely; fetch or export it again',
      details: { file: label, bytes: 0 },
    });
  }
  if (size > maxFileBytes) {
    throw new SemclipError('FILE_TOO_LARGE', `${label} is ${fileSizeText(size)}, over the ${fileSizeText(maxFileBytes)} limit.`, {
      hint: 'Downscale or recompress the image, or raise maxFileBytes (--max-file-bytes) if you trust the file',
      details: { file: label, bytes: size, maxFileBytes },
    });
  }
}

function checkPixels(label: string, width: number, height: number, maxPixels: number): void {
  if (width < 1 || height < 1) {
    throw new SemclipError('IMAGE_EMPTY', `${label} has no pixels: it declares a size of ${width}x${height}.`, {
      expected: 'an image at least 1x1 pixel',
      hint: 'The file is malformed; re-export it from the program that made it',
      details: { file: label, width, height },
    });
  }
  if (width * height > maxPixels) {
    throw new SemclipError(
      'IMAGE_TOO_LARGE',
      `${label} is ${width}x${height} (${((width * height) / 1e6).toFixed(1)} MP), over the ${(maxPixels / 1e6).toFixed(1)} MP limit; it was not decoded.`,
      {
        hint: 'Downscale the image first, or raise maxPixels (--max-pixels) if you trust the file and have the memory (3 bytes per pixel)',
        details: { file: label, width, height, pixels: width * height, maxPixels },
      },
    );
  }
}

function validateRaw(raw: RawImage, maxPixels: number): void {
  const label = describe(raw);
  const { width, height, channels } = raw;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new SemclipError('INVALID_ARGUMENT', `Raw image size ${String(width)}x${String(height)} is not valid.`, {
      expected: 'non-negative integer width and height',
    });
  }
  if (![1, 2, 3, 4].includes(channels)) {
    throw new SemclipError('INVALID_ARGUMENT', `Raw image has ${String(channels)} channels.`, {
      expected: '1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) interleaved 8-bit channels',
    });
  }
  checkPixels(label, width, height, maxPixels);
  const expected = width * height * channels;
  if (raw.data.length !== expected) {
    throw new SemclipError('INVALID_ARGUMENT', `Raw image data has ${raw.data.length} bytes but ${width}x${height}x${channels} needs ${expected}.`, {
      expected: 'data.length === width * height * channels (8-bit, row-major, interleaved)',
      hint: 'Check width, height and channels, and that the buffer is not a view of a larger one',
      details: { length: raw.data.length, width, height, channels },
    });
  }
}

function checkAnimated(label: string, format: string, pages: number): void {
  if (pages > 1 && (format === 'gif' || format === 'webp' || format === 'png')) {
    throw new SemclipError('IMAGE_ANIMATED', `${label} is an animated ${format.toUpperCase()} with ${pages} frames.`, {
      expected: 'a still image',
      hint: 'Extract the frame you want (e.g. `ffmpeg -i in.gif -frames:v 1 frame.png`) and pass that',
      details: { file: label, format, pages },
    });
  }
}

async function headerOf(label: string, input: string | Uint8Array, maxPixels: number) {
  let meta: Metadata;
  try {
    // Pixel limits are ours to check (with a message that says what to do); sharp's default
    // limit would otherwise fire first with a bare message.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    const ends = typeof input === 'string' ? await readEnds(input) : endsOf(input);
    const png = ends ? pngHeaderSize(ends.head) : undefined;
    if (png && (png.width === 0 || png.height === 0)) checkPixels(label, png.width, png.height, maxPixels);
    throw decodeError(label, err, ends);
  }
  checkPixels(label, meta.width, meta.height, maxPixels);
  const orientation = meta.orientation;
  const swap = orientation !== undefined && orientation >= 5 && orientation <= 8;
  return {
    width: swap ? meta.height : meta.width,
    height: swap ? meta.width : meta.height,
    format: meta.format as string,
    ...(orientation === undefined ? {} : { orientation }),
    pages: meta.pages ?? 1,
  };
}

type Header = Awaited<ReturnType<typeof headerOf>>;
type Limits = ReturnType<typeof limitsOf>;

/**
 * The header of encoded bytes under the SVG rules: an input that looks like SVG is checked
 * (allowed, self-contained, filters) before libvips parses it, one only libvips recognises as
 * SVG right after; an SVG's declared size is held to `svg.maxPixels`.
 */
async function headerOfBytes(label: string, bytes: Uint8Array, limits: Limits): Promise<Header> {
  const text = sniffSvg(label, bytes, limits.maxFileBytes);
  if (text !== undefined) checkSvgText(label, text, limits.svg);
  const header = await headerOf(label, bytes, limits.maxPixels);
  if (header.format === 'svg') {
    if (text === undefined) checkSvgText(label, svgTextOf(bytes, limits.maxFileBytes), limits.svg);
    const { width, height } = header;
    if (width * height > limits.svg.maxPixels) {
      throw new SemclipError(
        'IMAGE_TOO_LARGE',
        `${label} is an SVG of ${width}x${height} (${((width * height) / 1e6).toFixed(1)} MP), over the ${(limits.svg.maxPixels / 1e6).toFixed(1)} MP limit for SVG; it was not rendered.`,
        {
          hint: 'Give the SVG a smaller width and height (it is a vector image), or convert it to PNG first',
          details: { file: label, format: 'svg', width, height, pixels: width * height, maxPixels: limits.svg.maxPixels },
        },
      );
    }
  }
  return header;
}

/** The first bytes of a file (empty when it cannot be read: the read that follows reports that). */
async function readHead(path: string): Promise<Uint8Array> {
  try {
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(16);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      return head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * Whether libvips may open a file by its name: raster formats only. Anything else (SVG above
 * all) is read into memory and decoded from there, so a renderer never has a file name to
 * resolve the file's references against.
 */
async function openByName(path: string): Promise<boolean> {
  return openableByName(path) && isKnownRaster(await readHead(path));
}

/**
 * Reads an image's header only: size after EXIF orientation, format, orientation, frames and
 * file size. Checks the file-size and pixel limits without decoding pixels, so a 30000x30000
 * header is rejected instantly. An SVG is checked against `limits.svg` (allowed, no external
 * references, filters, size), not rendered.
 *
 * @example
 * ```ts
 * const info = await readImageInfo('photo.jpg');
 * console.log(info.width, info.height, info.orientation); // 3024 4032 6
 * ```
 */
export async function readImageInfo(input: ImageInput, limits?: ImageLimits): Promise<ImageInfo> {
  const l = limitsOf(limits);
  const { maxPixels, maxFileBytes } = l;
  if (isRawImage(input)) {
    validateRaw(input, maxPixels);
    return { width: input.width, height: input.height, format: 'raw', pages: 1, size: input.data.byteLength };
  }
  if (typeof input === 'string') {
    const size = await statFile(input, maxFileBytes);
    if (await openByName(input)) return { ...(await headerOf(input, input, maxPixels)), size };
    return { ...(await headerOfBytes(input, await readWhole(input, size), l)), size };
  }
  if (input instanceof Uint8Array) {
    const label = describe(input);
    checkFileSize(label, input.length, maxFileBytes);
    return { ...(await headerOfBytes(label, input, l)), size: input.length };
  }
  throw new SemclipError('INVALID_ARGUMENT', `Cannot read an image from ${typeof input}.`, {
    expected: 'a file path, the bytes of an image file (Uint8Array/Buffer) or raw pixels { data, width, height, channels }',
  });
}

/** libvips takes `name[options]` as a file name with load options, so names with brackets must be read into memory. */
function openableByName(path: string): boolean {
  return !/[[\]]/.test(path);
}

/** Reads a whole file with one read call into an uninitialised buffer. */
async function readWhole(path: string, expected: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const size = Math.max(expected, (await fh.stat()).size);
    const buf = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await fh.read(buf, offset, size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    return buf.subarray(0, offset);
  } finally {
    await fh.close();
  }
}

/** sha256 of a file, streamed through one reused 1 MiB buffer (no per-call allocation of the file size). */
async function hashFile(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(1 << 20);
    let position = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
      position += bytesRead;
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/**
 * Reads and checks an input, and hashes its content. The pixels are not decoded here, except an
 * SVG's: it is rendered once, now, in a child process that `signal` (or `svg.timeoutMs`) kills.
 */
export async function loadImage(
  input: ImageInput,
  limits?: ImageLimits,
  options: { readonly signal?: AbortSignal | undefined } = {},
): Promise<LoadedImage & { id: string }> {
  const l = limitsOf(limits);
  const { maxPixels, maxFileBytes } = l;
  if (isRawImage(input)) {
    validateRaw(input, maxPixels);
    const hash = createHash('sha256');
    hash.update(`raw:${input.width}x${input.height}x${input.channels}:`);
    hash.update(input.data);
    return {
      label: describe(input),
      info: { width: input.width, height: input.height, format: 'raw', pages: 1, size: input.data.byteLength },
      raw: input,
      size: { width: input.width, height: input.height },
      shrinkable: false,
      id: hash.digest('hex'),
    };
  }
  let label: string;
  let bytes: Uint8Array | undefined;
  let path: string | undefined;
  let fileBytes: number;
  let id: string;
  let header: Header;
  if (typeof input === 'string') {
    label = input;
    fileBytes = await statFile(input, maxFileBytes);
    try {
      if (await openByName(input)) {
        path = input;
        // Hash and header in parallel; pixels are later decoded from the file itself.
        const headerPromise = headerOf(label, input, maxPixels);
        headerPromise.catch(() => undefined);
        id = await hashFile(input);
        header = await headerPromise;
      } else {
        bytes = await readWhole(input, fileBytes);
        fileBytes = bytes.length;
        checkFileSize(label, fileBytes, maxFileBytes);
        id = createHash('sha256').update(bytes).digest('hex');
        header = await headerOfBytes(label, bytes, l);
      }
    } catch (err) {
      if (err instanceof SemclipError) throw err;
      throw new SemclipError('IMAGE_NOT_FOUND', `Image file ${input} cannot be read.`, { cause: err, details: { file: input } });
    }
  } else if (input instanceof Uint8Array) {
    label = describe(input);
    checkFileSize(label, input.length, maxFileBytes);
    bytes = input;
    fileBytes = input.length;
    const headerPromise = headerOfBytes(label, bytes, l);
    headerPromise.catch(() => undefined);
    id = createHash('sha256').update(bytes).digest('hex');
    header = await headerPromise;
  } else {
    throw new SemclipError('INVALID_ARGUMENT', `Cannot read an image from ${typeof input}.`, {
      expected: 'a file path, the bytes of an image file (Uint8Array/Buffer) or raw pixels { data, width, height, channels }',
    });
  }
  checkAnimated(label, header.format, header.pages);
  if (header.format === 'svg') {
    // (An SVG is never opened by name; should libvips see one in a file that opened so, its checks run now.)
    let svgBytes = bytes;
    if (!svgBytes) {
      svgBytes = await readWhole(label, fileBytes);
      await headerOfBytes(label, svgBytes, l);
    }
    const raw = await rasteriseSvg(label, svgBytes, header, { timeoutMs: l.svg.timeoutMs, maxPixels: l.svg.maxPixels, signal: options.signal });
    return {
      label,
      info: { ...header, size: fileBytes },
      raw,
      size: { width: raw.width, height: raw.height },
      shrinkable: false,
      id,
    };
  }
  return {
    label,
    info: { ...header, size: fileBytes },
    ...(bytes === undefined ? {} : { bytes }),
    ...(path === undefined ? {} : { path }),
    size: { width: header.width, height: header.height },
    shrinkable: header.format === 'jpeg' || header.format === 'webp',
    ...(path !== undefined && header.format === 'jpeg' ? { jpegPath: path } : {}),
    id,
  };
}
