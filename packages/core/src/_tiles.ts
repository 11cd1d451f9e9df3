import type { Box, EncodedImage, RawImage, Size } from './_image.js';

/** One sub-image of a grid. Boxes are in pixels of the original (EXIF-oriented) image. */
export interface Tile {
  /** Position in `TileGrid.tiles`; level-1 tiles come first, row-major. */
  readonly index: number;
  readonly row: number;
  readonly col: number;
  /** 1 = the grid itself; 2 = each level-1 tile split again (hierarchical selection). */
  readonly level: number;
  /** For level >= 2, the index of the tile this one was cut from. */
  readonly parent?: number;
  readonly box: Box;
}

/** How to split an image: a fixed rows x cols grid, or `auto` (aspect-aware, like LLaVA-NeXT anyres). */
export type GridSpec = { readonly rows: number; readonly cols: number } | 'auto';

export interface TileGrid {
  /** Size of the original image after EXIF orientation. */
  readonly image: Size;
  /** Rows and columns of level 1. */
  readonly rows: number;
  readonly cols: number;
  /** Overlap between neighbouring tiles, as a fraction of the tile size (0 = none). */
  readonly overlap: number;
  readonly levels: number;
  readonly tiles: readonly Tile[];
}

/** How a box is fitted into a target size. `fill` squashes, `contain` pads, `cover` crops. */
export type FitMode = 'fill' | 'contain' | 'cover';

export interface CropOptions {
  /** Output size; omitted = native resolution of the box. */
  readonly size?: Size;
  /** Cap on the long side when `size` is omitted (native resolution, but bounded). */
  readonly maxSide?: number;
  readonly fit?: FitMode;
  /** Padding colour for `contain`; default is the image's mean colour. */
  readonly background?: readonly [number, number, number];
}

/**
 * A decoded image with its grid: what scorers receive. Implementations (in
 * `@semclip/tiling`) decode the source once and cut every crop from it.
 */
export interface TileSource {
  /** Content hash of the source image; scorers key their caches on `${id}:${gridKey}`. */
  readonly id: string;
  readonly size: Size;
  readonly grid: TileGrid;
  /** A stable string for the grid (e.g. `"2x2:o0:l1"`), for cache keys. */
  readonly gridKey: string;
  /** RGB pixels (3 channels) of any box of the original image. */
  crop(box: Box, options?: CropOptions): Promise<RawImage>;
  /** RGB pixels of the whole image, e.g. the overview at the encoder's size. */
  overview(size: Size, mode?: OverviewMode): Promise<RawImage>;
  /** A box (or the whole image) encoded as a file for a VLM, cut and shrunk in one pass. */
  encode(box: Box | 'overview', options?: EncodeOptions): Promise<EncodedImage>;
}

/** How `TileSource.encode` writes an image. */
export interface EncodeOptions {
  /** Default `'jpeg'`. */
  readonly format?: 'jpeg' | 'png' | 'webp';
  /** 1-100 for JPEG/WebP. Default 90. */
  readonly quality?: number;
  /** Cap on the long side (the crop is downscaled to fit, never upscaled). */
  readonly maxSide?: number;
  /**
   * Pad the cut (and shrunk) image to a square of this RGB colour (0-255) before encoding, as
   * LLaVA-1.5's `expand2square` does: the image sits at `((side - width) / 2, (side - height) / 2)`
   * rounded down, `side` its long side. Default: no padding.
   */
  readonly padSquare?: readonly [number, number, number];
}

/** `resize` squashes, `pad` pads to square with the mean colour (LLaVA-1.5), `crop` centre-crops. */
export type OverviewMode = 'resize' | 'pad' | 'crop';
