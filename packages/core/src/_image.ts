/** Decoded pixels, row-major, interleaved channels (1 = gray, 3 = RGB, 4 = RGBA). */
export interface RawImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/**
 * Anything SemClip accepts as an image: a file path, the encoded bytes of a file
 * (JPEG, PNG, WebP, GIF, TIFF, AVIF...), or already decoded pixels.
 */
export type ImageInput = string | Uint8Array | RawImage;

/** An encoded image, as sent to HTTP VLMs or written to disk. */
export interface EncodedImage {
  readonly mime: 'image/jpeg' | 'image/png' | 'image/webp';
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** An axis-aligned rectangle in pixel coordinates of the original image. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** Type guard for decoded pixels. */
export function isRawImage(input: unknown): input is RawImage {
  if (typeof input !== 'object' || input === null || input instanceof Uint8Array) return false;
  const r = input as Partial<RawImage>;
  return (
    (r.data instanceof Uint8Array || r.data instanceof Uint8ClampedArray) &&
    typeof r.width === 'number' &&
    typeof r.height === 'number' &&
    typeof r.channels === 'number'
  );
}
