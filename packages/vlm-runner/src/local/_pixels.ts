import sharp from 'sharp';
import { SemclipError, isRawImage } from '@semclip/core';
import type { EncodedImage, RawImage } from '@semclip/core';

/** Decoded RGB pixels, the form transformers.js image processors take. */
export interface RgbPixels {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
}

/**
 * Decodes a prompt image to 8-bit RGB: raw RGB passes through untouched, anything else
 * (gray, alpha, JPEG/PNG/WebP bytes with EXIF orientation) goes through sharp.
 */
export async function toRgb(image: RawImage | EncodedImage, index: number): Promise<RgbPixels> {
  if (isRawImage(image)) {
    const { width, height, channels, data } = image;
    if (!(width >= 1 && height >= 1) || data.length !== width * height * channels) {
      throw new SemclipError('INVALID_ARGUMENT', `Prompt image ${index + 1} (raw ${width}x${height}x${channels}) has ${data.length} bytes.`, {
        expected: 'width * height * channels bytes of pixels',
      });
    }
    if (channels === 3) return { data, width, height, channels: 3 };
    const { data: out, info } = await sharp(data, { raw: { width, height, channels } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width: info.width, height: info.height, channels: 3 };
  }
  const encoded = image as EncodedImage;
  if (!(encoded?.data instanceof Uint8Array)) {
    throw new SemclipError('INVALID_ARGUMENT', `Prompt image ${index + 1} is neither decoded pixels nor encoded image bytes.`, {
      expected: 'a RawImage { data, width, height, channels } or an EncodedImage { mime, data, width, height }',
    });
  }
  try {
    const { data, info } = await sharp(encoded.data, { failOn: 'error' })
      .rotate()
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (cause) {
    throw new SemclipError('IMAGE_CORRUPT', `Prompt image ${index + 1} (${encoded.mime}) could not be decoded: ${(cause as Error).message}.`, {
      cause,
      hint: 'Pass decoded pixels (RawImage) or a valid JPEG, PNG or WebP',
    });
  }
}
