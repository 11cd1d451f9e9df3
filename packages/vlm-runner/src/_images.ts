import sharp from 'sharp';
import { SemclipError, isRawImage } from '@semclip/core';
import type { EncodedImage, RawImage } from '@semclip/core';

type SharpPipeline = ReturnType<typeof sharp>;

/** How images are encoded for HTTP upstreams. */
export interface ImageEncoding {
  /** Default `jpeg` (smallest; every OpenAI-compatible server takes it). */
  readonly format?: 'jpeg' | 'png' | 'webp';
  /** JPEG/WebP quality 1-100. Default 90. */
  readonly quality?: number;
  /** Long-side cap in pixels; larger images are downscaled (never upscaled). Default 1024. */
  readonly maxSide?: number;
}

export const DEFAULT_ENCODING: Required<ImageEncoding> = { format: 'jpeg', quality: 90, maxSide: 1024 };

const MIME = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;

/** Fills defaults and checks ranges; INVALID_ARGUMENT names the bad field. */
export function resolveEncoding(encoding: ImageEncoding | undefined): Required<ImageEncoding> {
  const e = { ...DEFAULT_ENCODING, ...stripUndefined(encoding ?? {}) };
  if (!(e.format in MIME)) {
    throw new SemclipError('INVALID_ARGUMENT', `Image format "${String(e.format)}" is not supported.`, { expected: 'jpeg, png or webp' });
  }
  if (!Number.isInteger(e.quality) || e.quality < 1 || e.quality > 100) {
    throw new SemclipError('INVALID_ARGUMENT', `Image quality ${String(e.quality)} is out of range.`, { expected: 'an integer from 1 to 100' });
  }
  if (!Number.isInteger(e.maxSide) || e.maxSide < 16) {
    throw new SemclipError('INVALID_ARGUMENT', `Image maxSide ${String(e.maxSide)} is too small or not an integer.`, {
      expected: 'an integer of at least 16 pixels, like 1024',
    });
  }
  return e;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isEncoded(image: RawImage | EncodedImage): image is EncodedImage {
  return !isRawImage(image) && typeof (image as EncodedImage).mime === 'string';
}

function toSharp(image: RawImage | EncodedImage): SharpPipeline {
  if (isEncoded(image)) return sharp(image.data, { failOn: 'error' });
  if (image.width < 1 || image.height < 1 || image.data.length !== image.width * image.height * image.channels) {
    throw new SemclipError('INVALID_ARGUMENT', `Raw image ${image.width}x${image.height}x${image.channels} has ${image.data.length} bytes.`, {
      expected: 'width * height * channels bytes of pixels',
    });
  }
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

function fitInside(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

async function encodeSharp(pipeline: SharpPipeline, encoding: Required<ImageEncoding>): Promise<EncodedImage> {
  const out =
    encoding.format === 'jpeg'
      ? pipeline.jpeg({ quality: encoding.quality, mozjpeg: false })
      : encoding.format === 'webp'
        ? pipeline.webp({ quality: encoding.quality })
        : pipeline.png();
  const { data, info } = await out.toBuffer({ resolveWithObject: true });
  return { mime: MIME[encoding.format], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/**
 * Encodes a prompt image for an upstream: already-encoded images in the right format and
 * within `maxSide` pass through untouched (no second JPEG generation); anything else is
 * decoded, flattened to RGB, downscaled to fit `maxSide` and encoded.
 *
 * @example
 * ```ts
 * const jpeg = await encodeForUpstream(rawCrop, { maxSide: 672, quality: 85 });
 * // { mime: 'image/jpeg', data, width: 672, height: 504 }
 * ```
 */
export async function encodeForUpstream(image: RawImage | EncodedImage, options: ImageEncoding = {}): Promise<EncodedImage> {
  const encoding = resolveEncoding(options);
  if (isEncoded(image) && image.mime === MIME[encoding.format] && Math.max(image.width, image.height) <= encoding.maxSide) {
    return image;
  }
  const { width, height } = await sizeOf(image);
  const target = fitInside(width, height, encoding.maxSide);
  const pipeline = toSharp(image).rotate().removeAlpha().resize(target.width, target.height, { fit: 'fill' });
  return encodeSharp(pipeline, encoding).catch((err: unknown) => {
    throw new SemclipError('IMAGE_CORRUPT', 'A prompt image could not be encoded.', {
      cause: err,
      hint: 'Pass decoded pixels (RawImage) or a valid JPEG, PNG or WebP',
    });
  });
}

async function sizeOf(image: RawImage | EncodedImage): Promise<{ width: number; height: number }> {
  if (!isEncoded(image)) return { width: image.width, height: image.height };
  // EXIF orientation may swap the sides of an encoded image; ask sharp rather than trust the fields.
  const meta = await sharp(image.data)
    .metadata()
    .catch((err: unknown) => {
      throw new SemclipError('IMAGE_CORRUPT', `A prompt image (${image.mime}) could not be decoded.`, { cause: err });
    });
  const swap = (meta.orientation ?? 1) >= 5;
  const w = meta.width ?? image.width;
  const h = meta.height ?? image.height;
  return swap ? { width: h, height: w } : { width: w, height: h };
}

/** Geometry of a composite: where each part went, for reporting and tests. */
export interface CompositeLayout {
  readonly width: number;
  readonly height: number;
  readonly separator: number;
  readonly parts: readonly { readonly x: number; readonly width: number }[];
}

/**
 * Packs images side by side into one (for servers that take one image per request): each
 * part is scaled to the same height, parts are separated by a thin white line. The height is
 * the tallest part's, lowered where needed so the composite's long side fits `maxSide`.
 * Width = sum of the scaled parts' widths + one separator between each pair.
 *
 * @example
 * ```ts
 * const { image, layout } = await compositeImages([overview, crop], { maxSide: 2048 });
 * // layout for an 800x600 overview and a 300x200 crop: { width: 1708, height: 600, separator: 8, parts: [{ x: 0, width: 800 }, { x: 808, width: 900 }] }
 * ```
 */
export async function compositeImages(
  images: readonly (RawImage | EncodedImage)[],
  options: ImageEncoding = {},
  separator = 8,
): Promise<{ image: EncodedImage; layout: CompositeLayout }> {
  const encoding = resolveEncoding(options);
  if (images.length === 0) throw new SemclipError('INVALID_ARGUMENT', 'Nothing to composite.', { expected: 'at least one image' });
  const sizes = await Promise.all(images.map(sizeOf));
  const aspects = sizes.map((s) => s.width / s.height);
  const sumAspect = aspects.reduce((a, b) => a + b, 0);
  const tallest = Math.max(...sizes.map((s) => s.height));
  const sep = images.length > 1 ? separator : 0;
  // Total width = height * sumAspect + separators; cap the long side at maxSide.
  const byWidth = Math.floor((encoding.maxSide - sep * (images.length - 1)) / sumAspect);
  const height = Math.max(1, Math.min(tallest, encoding.maxSide, byWidth));
  const widths = aspects.map((a) => Math.max(1, Math.round(a * height)));
  const parts: { x: number; width: number }[] = [];
  let x = 0;
  for (const w of widths) {
    parts.push({ x, width: w });
    x += w + sep;
  }
  const width = x - sep;
  const buffers = await Promise.all(
    images.map((im, i) =>
      toSharp(im)
        .rotate()
        .removeAlpha()
        .resize(widths[i] as number, height, { fit: 'fill' })
        .png()
        .toBuffer(),
    ),
  ).catch((err: unknown) => {
    throw new SemclipError('IMAGE_CORRUPT', 'A prompt image could not be decoded for the composite.', { cause: err });
  });
  const canvas = sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite(
    buffers.map((input, i) => ({ input, left: (parts[i] as { x: number }).x, top: 0 })),
  );
  // Composite first, then encode: sharp applies composite before output encoding.
  const png = await canvas.png().toBuffer();
  const image = await encodeSharp(sharp(png), encoding);
  return { image, layout: { width, height, separator: sep, parts } };
}
