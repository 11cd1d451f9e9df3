/**
 * `@semclip/scorers/cache`: the bounded embedding caches the CLIP/SigLIP scorers use, for scorers
 * written elsewhere (e.g. `@semclip/vlm-runner`'s `vlm-embed`). Light on purpose: importing it
 * loads only `@semclip/core`, never ONNX Runtime, transformers.js or the OCR engine.
 *
 * @example
 * ```ts
 * import { LruCache, TileEmbeddingCache } from '@semclip/scorers/cache';
 *
 * // Question embeddings by text, at most 256, least recently used evicted first.
 * const texts = new LruCache<string, Float32Array>({ maxEntries: 256 });
 * texts.set('What is the wait time?', vector);
 * texts.get('What is the wait time?'); // vector (a hit); texts.stats().hits === 1
 *
 * // Tile embeddings by (model, image hash, grid, tile); missing tiles encoded in one batch.
 * const tiles = new TileEmbeddingCache({ maxEntries: 4096, maxBytes: 64 * 1024 * 1024 }, 'my-model@fp32');
 * const { vectors, cacheHits, encoded } = await tiles.embed(tiled, async (missing) => myEncoder(missing));
 * // A second question about `tiled`: cacheHits === tiled.grid.tiles.length, encoded === 0, myEncoder not called.
 * ```
 */
export { LruCache, TileEmbeddingCache } from '../_embedding-cache.js';
export type { CachedTileEmbeddings, LruLimits, LruStats } from '../_embedding-cache.js';
