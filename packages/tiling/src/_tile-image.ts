import { SemclipError, throwIfAborted } from '@semclip/core';
import type { GridSpec, ImageInput } from '@semclip/core';
import { endsOf, looksTruncated, readEnds } from './_errors.js';
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
  /** Cancels the open: an SVG being rendered is killed at once, and the call fails with `ABORTED`. */
  readonly signal?: AbortSignal;
}

/**
 * Reads an image (path, encoded bytes or raw pixels), checks it against the limits from its
 * header, hashes it and lays out the grid. Pixels are decoded on first use, once per scale
 * (JPEG/WebP at reduced scale when every requested output allows it), and every crop, overview
 * and tensor is cut from those decodes with one resample per output pixel.
 *
 * A truncated file is rejected here with `IMAGE_TRUNCATED`: the file's last bytes are checked
 * for its format's end marker (JPEG EOI, PNG IEND, GIF trailer, the RIFF length), and only when
 * it is missing a small decode (JPEG at 1/8 scale) tells a cut-off file from one with data
 * appended after its end. Other damage in the pixel data is found when pixels are first needed,
 * and is thrown from that call as `IMAGE_CORRUPT`.
 *
 * An SVG is rendered here, once, in a child process killed after `svg.timeoutMs` or when
 * `signal` aborts; it must be self-contained (references only to `#fragments` and `data:`
 * URIs, never to files or URLs), and `svg` can turn SVG or its filters off (see `SvgOptions`).
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
  throwIfAborted(options.signal);
  const loaded = await loadImage(input, options, { signal: options.signal });
  const grid = computeGrid(loaded.size, spec, {
    ...(options.overlap === undefined ? {} : { overlap: options.overlap }),
    ...(options.levels === undefined ? {} : { levels: options.levels }),
    ...(options.autoMaxTiles === undefined ? {} : { autoMaxTiles: options.autoMaxTiles }),
  });
  const decoder = new Decoder(loaded, failOn, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  await checkNotTruncated(loaded, decoder);
  return new TiledImageImpl(loaded.id, loaded.size, grid, gridKeyOf(grid), loaded.info.format, decoder, loaded.label);
}

/**
 * Rejects a cut-off file at open rather than at the first pixel call. Reading the file's ends
 * costs one small read; a file whose end marker is missing is decoded (cached for later use,
 * at 1/8 scale for a JPEG file), which throws `IMAGE_TRUNCATED` when it really is cut off.
 */
async function checkNotTruncated(loaded: Awaited<ReturnType<typeof loadImage>>, decoder: Decoder): Promise<void> {
  if (loaded.raw) return;
  const ends = loaded.bytes ? endsOf(loaded.bytes) : loaded.path ? await readEnds(loaded.path) : undefined;
  if (!ends || !looksTruncated(ends)) return;
  await (decoder.canDecodeShrunk ? decoder.atShrink(8).promise : decoder.full());
}
