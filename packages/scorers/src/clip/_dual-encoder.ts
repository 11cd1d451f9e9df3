/**
 * The scorer both CLIP and SigLIP are: a text tower and a vision tower in one embedding space.
 * Per `score()`: the question and the tiles are embedded by the family's `Embedder` (text and tile
 * LRU caches, all uncached tiles in one batched vision run), and each tile's score is a function
 * of the cosine between its embedding and the question's.
 */
import { defineScorer, throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, ScoreOptions, ScoreQuery, StageTimings, TileScores, TileSource } from '@semclip/core';
import { assertFinite } from '@semclip/runtime';
import { checkTileSource, createEmbedder } from './_embedder.js';
import type { DualEncoderInfo, DualEncoderOptions, DualEncoderStats, Embedder } from './_embedder.js';
import type { Family } from './_model.js';

export type { ChoiceMode } from './_text.js';
export type { DualEncoderInfo, DualEncoderOptions, DualEncoderStats } from './_embedder.js';

/** A CLIP or SigLIP scorer: a `RelevanceScorer` with its counters and caches exposed. */
export interface DualEncoderScorer extends RelevanceScorer {
  readonly info: DualEncoderInfo;
  stats(): DualEncoderStats;
  /** Empties both embedding caches and resets the counters. */
  clearCache(): void;
}

/** What makes CLIP and SigLIP scores differ once both towers give embeddings. */
export interface FamilySpec {
  readonly family: Family;
  /** Builds the cosine -> score map once the model config is known. */
  scoreFn(config: Record<string, unknown>): { readonly fn: (cosine: number) => number; readonly meta: Record<string, unknown> };
}

export async function createDualEncoder(spec: FamilySpec, options: DualEncoderOptions = {}): Promise<DualEncoderScorer> {
  const family = spec.family;
  const embedder: Embedder = await createEmbedder(family, options, {
    noun: `${family} scorer`,
    hint: `Create a new scorer (create${family === 'clip' ? 'Clip' : 'Siglip'}Scorer) to score again`,
  });
  let scoreFn: ReturnType<FamilySpec['scoreFn']>;
  try {
    scoreFn = spec.scoreFn(embedder.config);
  } catch (err) {
    await embedder.dispose().catch(() => undefined);
    throw err;
  }
  // The scorer's info is the model's, without the embedder's cache key and query settings.
  const { choices, template: _template, modelKey: _modelKey, ...info } = embedder.info;

  return defineScorer({
    id: family,
    info: info satisfies DualEncoderInfo,
    async score(query: ScoreQuery, source: TileSource, scoreOptions: ScoreOptions = {}): Promise<TileScores> {
      embedder.assertAlive();
      const signal = scoreOptions.signal;
      throwIfAborted(signal);
      // Both checked before either tower runs: a bad question encodes no tile.
      const texts = embedder.queryTexts(query);
      checkTileSource(source);
      const timings: StageTimings = { preprocess: 0, encode: 0, score: 0 };
      // Text encoding overlaps with cutting the tiles (sharp works on its own threads).
      const [text, tiles] = await Promise.all([embedder.embedTexts(texts, timings), embedder.embedTiles(source, { signal, timings })]);
      throwIfAborted(signal);

      const start = performance.now();
      const q = text.vector;
      const dim = q.length;
      const scores = tiles.vectors.map((v) => {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += q[i]! * v[i]!;
        return scoreFn.fn(dot);
      });
      assertFinite(scores, `The ${family} scores`);
      timings.score = performance.now() - start;
      return {
        scorer: family,
        scores,
        timings,
        meta: {
          model: info.model,
          ...(info.repo ? { repo: info.repo, revision: info.revision } : {}),
          dtype: info.dtype,
          device: info.device,
          texts: texts.map((x) => (x.length > 1000 ? `${x.slice(0, 1000)}\u2026` : x)),
          choices,
          truncated: text.truncated,
          textCacheHits: text.cacheHits,
          cacheHits: tiles.cacheHits,
          tilesEncoded: tiles.encoded,
          visionRuns: tiles.encoded > 0 ? 1 : 0,
          embeddingDim: dim,
          ...scoreFn.meta,
        },
      };
    },
    stats: (): DualEncoderStats => embedder.stats(),
    clearCache: (): void => embedder.clearCache(),
    dispose: (): Promise<void> => embedder.dispose(),
  });
}
