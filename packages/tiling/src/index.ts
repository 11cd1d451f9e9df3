export { parseGrid, computeGrid, chooseAutoGrid, gridKeyOf, MAX_GRID_SIDE, DEFAULT_AUTO_MAX_TILES } from './_grid.js';
export type { GridOptions } from './_grid.js';
export { readImageInfo, DEFAULT_MAX_PIXELS, DEFAULT_MAX_FILE_BYTES } from './_source.js';
export type { ImageLimits, ImageInfo } from './_source.js';
export { tileImage } from './_tile-image.js';
export type { TilingOptions } from './_tile-image.js';
export type { TiledImage, TensorOptions, TensorBatch, EncodeOptions, WriteTilesOptions, OverviewOptions } from './_tiled.js';
export { renderOverlay } from './_overlay.js';
export type { OverlayOptions } from './_overlay.js';
