import { createDualEncoder } from './_dual-encoder.js';
import type { DualEncoderOptions, DualEncoderScorer, FamilySpec } from './_dual-encoder.js';
import { TOWER_DEFAULTS } from './_embedder.js';

export type { ChoiceMode, DualEncoderInfo, DualEncoderOptions, DualEncoderScorer, DualEncoderStats } from './_dual-encoder.js';

/** The CLIP model used when none is given: ViT-B/32 (fast on CPU, hashes pinned). */
export const DEFAULT_CLIP_MODEL = TOWER_DEFAULTS.clip.model;

export type ClipScorerOptions = DualEncoderOptions;
export type ClipScorer = DualEncoderScorer;

const CLIP: FamilySpec = {
  family: 'clip',
  scoreFn: () => ({ fn: (cosine) => cosine, meta: { similarity: 'cosine' } }),
};

/**
 * A CLIP relevance scorer: each tile's score is the cosine similarity between its image
 * embedding and the question's text embedding (in [-1, 1]; higher = more relevant). Text and
 * vision towers run through `@huggingface/transformers` on ONNX Runtime; all tiles of an image go
 * through the vision tower in one batch, and tile embeddings are cached, so a second question
 * about the same image encodes no tile again. The model must be downloaded first
 * (`semclip models pull clip-vit-base-patch32`) unless `autoPull` is set.
 *
 * @example
 * ```ts
 * import { createClipScorer } from '@semclip/scorers/clip';
 * import { tileImage } from '@semclip/tiling';
 *
 * const scorer = await createClipScorer({ model: 'clip-vit-base-patch32', device: 'auto' });
 * const tiled = await tileImage('street.jpg', { grid: '3x3' });
 * const { scores, timings, meta } = await scorer.score({ question: 'What does the small sign say?' }, tiled);
 * const again = await scorer.score({ question: 'Is there a red car?' }, tiled); // meta.cacheHits === 9
 * await scorer.dispose();
 * ```
 */
export function createClipScorer(options: ClipScorerOptions = {}): Promise<ClipScorer> {
  return createDualEncoder(CLIP, options);
}
