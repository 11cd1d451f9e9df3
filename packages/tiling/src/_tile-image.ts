import { SemclipError } from '@semclip/core';
import type { GridSpec, ImageInput } from '@semclip/core';
import { computeGrid, gridKeyOf, parseGrid } from './_grid.js';
import { Decoder } from './_pixels.js';
import type { FailOn } from './_pixels.js';
import { DEFAULT_MAX_PIXELS, loadImage } from './_source.js';
import type { ImageLimits } from './_source.js';
import { TiledImageImpl } from './_tiled.js';
import type { TiledImage } from './_tiled.js';

export interface TilingOptions extends ImageLimits {
  /** `"RxC"`, `"auto"` or `{ rows, cols }`. Default `"2x2"`. */
  readonly grid?: string | GridSpec;
  /** Overlap between neighbouring tiles as a fraction of the tile size, 0 <= overlap < 0.5. Default 0. */
  readonly overlap?: number;
  /** 2 = also split every tile again with the same grid (a pyramid). Default 1. */
  readonly levels?: 1 | 2;
  /** Most tiles `auto` may choose. Default 9. */
  readonly autoMaxTiles?: number;
  /**
   * How strictly damaged data is rejected when pixels are decoded: `'warning'` (default, also
   * rejects JPEGs with corrupt entropy data), `'error'`, or `'truncated'` (only cut-off files;
   * tolerates files other viewers show with glitches).
   */
  readonly failOn?: FailOn;
}

/**
 * Reads an image (path, encoded bytes or raw pixels), checks it against the limits from its
 * header, hashes it and lays out the grid. Pixels are decoded on first use, once per scale
 * (JPEG/WebP at reduced scale when every requested output allows it), and every crop, overview
 * and tensor is cut from those decodes with one resample per output pixel.
 *
 * Decode errors in the pixel data (truncated or damaged files) are only found when pixels are
 * first needed, and are thrown from that call as `IMAGE_TRUNCATED` / `IMAGE_CORRUPT`.
 *
 * @example
 * ```ts
 * import { tileImage } from '@semclip/tiling';
 *
 * const image = await tileImage('photo.jpg', { grid: '2x2' });
 * const { data, dims } = await image.tensors({
 *   size: { width: 336, height: 336 },
 *   mean: [0.48145466, 0.4578275, 0.40821073],
 *   std: [0.26862954, 0.26130258, 0.27577711],
 * });
 * // dims = [5, 3, 336, 336]: the overview, then the four tiles
 * ```
 */
export async function tileImage(input: ImageInput, options: TilingOptions = {}): Promise<TiledImage> {
  const failOn = options.failOn ?? 'warning';
  if (failOn !== 'warning' && failOn !== 'error' && failOn !== 'truncated') {
    throw new SemclipError('INVALID_ARGUMENT', `failOn ${JSON.stringify(failOn)} is not valid.`, { expected: '"warning", "error" or "truncated"' });
  }
  const spec = parseGrid(options.grid ?? '2x2');
  const loaded = await loadImage(input, options);
  const grid = computeGrid(loaded.size, spec, {
    ...(options.overlap === undefined ? {} : { overlap: options.overlap }),
    ...(options.levels === undefined ? {} : { levels: options.levels }),
    ...(options.autoMaxTiles === undefined ? {} : { autoMaxTiles: options.autoMaxTiles }),
  });
  const decoder = new Decoder(loaded, failOn, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  return new TiledImageImpl(loaded.id, loaded.size, grid, gridKeyOf(grid), loaded.info.format, decoder, loaded.label);
}
