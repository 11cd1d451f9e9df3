/**
 * The frozen base of a trained head: a CLIP or SigLIP model giving L2-normalised embeddings of a
 * question and of each tile. It is the clip family's own `Embedder` (model lookup and loading,
 * tokenisation, tile pixels, the LRU embedding caches), the one the clip/siglip scorers score
 * with, so `cosine(embedQuery(q).vector, embedTiles(s).vectors[i])` is the clip scorer's score
 * for tile i.
 */
import { SemclipError } from '@semclip/core';
import { createEmbedder, TOWER_DEFAULTS } from '../clip/_embedder.js';
import type { DualEncoderOptions, DualEncoderStats, Embedder, EmbedderInfo } from '../clip/_embedder.js';
import type { Family } from '../clip/_model.js';

export type { QueryEmbedding, TileEmbeddings } from '../clip/_embedder.js';

/** Model defaults per family, as the clip and siglip scorers use them. */
export const BASE_DEFAULTS = TOWER_DEFAULTS;

/**
 * The clip/siglip scorer options plus the family. `modelPath` may point at externally fine-tuned
 * towers; `choices` defaults to `average`, as in the clip scorer.
 */
export interface BaseEncoderOptions extends DualEncoderOptions {
  readonly family: Family;
}

/** What was loaded; `modelKey` identifies the weights (the trainer keys its embedding store by it). */
export type BaseEncoderInfo = EmbedderInfo;
export type BaseEncoderStats = DualEncoderStats;
/** A loaded base model. Holds two ONNX sessions: call `dispose()`. */
export type BaseEncoder = Embedder;

/**
 * Loads a CLIP or SigLIP model as a frozen encoder: normalised question and tile embeddings,
 * with the same text and tile LRU caches as the clip/siglip scorers.
 *
 * @example
 * ```ts
 * import { createBaseEncoder } from '@semclip/scorers/distant';
 * import { tileImage } from '@semclip/tiling';
 *
 * const base = await createBaseEncoder({ family: 'clip', model: 'clip-vit-base-patch32', device: 'cpu' });
 * const { vector } = await base.embedQuery({ question: 'What does the sign say?' });
 * const { vectors } = await base.embedTiles(await tileImage('street.jpg', { grid: '2x2' }));
 * await base.dispose();
 * ```
 */
export async function createBaseEncoder(options: BaseEncoderOptions): Promise<BaseEncoder> {
  const family = options.family;
  if (family !== 'clip' && family !== 'siglip') {
    throw new SemclipError('INVALID_ARGUMENT', `Base family ${JSON.stringify(family)} is not supported.`, { expected: 'clip or siglip' });
  }
  return createEmbedder(family, options, { noun: `${family} base encoder`, hint: 'Create a new one' });
}
