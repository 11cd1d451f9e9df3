/**
 * `vlm-embed`: the method's first scorer, the VLM's own embeddings, as the paper defines it:
 * each tile is its projected CLS token (vision encoder + projector; all tiles of an image in
 * one batched run), the question the last hidden state of its final token (the decoder's final
 * layer), and the score their cosine. Exports that lack either (most transformers.js exports:
 * CLIP's CLS dropped before the projector, decoders that return only logits) get the stand-ins
 * (the mean of the visual tokens, the mean of the question's input embeddings) only with a
 * notice (`warn`) and `meta.paperDefinition: false`, or not at all when `pool: 'cls'` /
 * `representation: 'last-hidden-state'` ask for the paper's explicitly.
 */
import { defineScorer, optionLetter, SemclipError, throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, ScoreOptions, ScoreQuery, StageTimings, TileScores, TileSource } from '@semclip/core';
import type { ImagePool, LocalRunner, TextRepresentation } from '../local/index.js';
import { LruCache, TileEmbeddingCache } from '@semclip/runtime';
import type { CachedTileEmbeddings, LruStats } from '@semclip/runtime';
import { cosine, normalised } from './_math.js';
import { resolveRunner, scorerIntOption } from './_runner.js';
import type { VlmScorerRunnerOptions } from './_runner.js';

/** What vlm-embed needs from a runner: the local runner's embedding methods. */
export type EmbeddingRunner = Pick<LocalRunner, 'id' | 'model' | 'embedImages' | 'embedText' | 'textRepresentation' | 'dispose'> &
  Partial<Pick<LocalRunner, 'dir' | 'dtypes' | 'clsSource'>>;

export interface VlmEmbedScorerOptions extends VlmScorerRunnerOptions {
  /**
   * The tile's representation: `cls`, its projected CLS token (the paper's; UNSUPPORTED_CAPABILITY
   * when the export does not give it), `mean`, the mean of its projected visual tokens, or `auto`
   * (default): `cls` where the export gives it, else `mean` with a notice.
   */
  readonly pool?: ImagePool | 'auto';
  /**
   * The question's representation: `last-hidden-state` (the paper's: the decoder's final-layer
   * state at the question's last token; UNSUPPORTED_CAPABILITY when the export has no hidden-state
   * output), `mean-input-embeddings`, or `auto` (default): the hidden state where exported, else
   * the mean input embeddings with a notice.
   */
  readonly representation?: TextRepresentation | 'auto';
  /** Tiles are cut at native resolution, the long side capped here (the image processor then resizes). Default 1024. */
  readonly tileMaxSide?: number;
  /** Tile embeddings kept (LRU by model, image hash, grid, tile). Default 4096 entries / 64 MiB; `false` disables. */
  readonly tileCache?: { readonly maxEntries?: number; readonly maxBytes?: number } | false;
  /** Question embeddings kept (LRU by text). Default 256; 0 disables. */
  readonly textCacheSize?: number;
}

/** Counters since creation (or the last `clearCache`). */
export interface VlmEmbedStats {
  /** Vision-encoder runs: one per `score()` that had any tile to embed. */
  readonly visionRuns: number;
  readonly tilesEncoded: number;
  readonly textRuns: number;
  readonly tileCache: LruStats;
  readonly textCache: LruStats;
}

/** What `score()` puts in `meta`. */
export interface VlmEmbedMeta {
  readonly model: string;
  readonly runner: string;
  /** How the question was represented. */
  readonly questionRepresentation: TextRepresentation;
  /** How each tile was represented: its projected CLS token or the mean of its visual tokens. */
  readonly pooling: ImagePool;
  /** Both as the paper defines them (`cls` and `last-hidden-state`). */
  readonly paperDefinition: boolean;
  /** One line for reports, e.g. `tile = projected CLS token, question = last hidden state of its final token (the paper's definition)`. */
  readonly representation: string;
  readonly tokensPerImage: number | undefined;
  readonly embeddingDim: number;
  /** Tiles whose embedding came from the cache. */
  readonly cacheHits: number;
  readonly tilesEncoded: number;
  /** Vision-encoder runs this call (0 or 1). */
  readonly visionRuns: number;
  readonly textCacheHit: boolean;
}

/** The vlm-embed scorer: a `RelevanceScorer` with its counters and caches exposed. */
export interface VlmEmbedScorer extends RelevanceScorer {
  readonly id: 'vlm-embed';
  readonly runner: EmbeddingRunner;
  /** How tiles are represented (resolved from `pool`). */
  readonly pooling: ImagePool;
  /** How questions are represented (resolved from `representation`). */
  readonly questionRepresentation: TextRepresentation;
  /** What `meta.representation` says, for run headers and reports. */
  readonly representation: string;
  stats(): VlmEmbedStats;
  clearCache(): void;
}

function isEmbeddingRunner(r: unknown): r is EmbeddingRunner {
  const x = r as Partial<EmbeddingRunner> | null;
  return !!x && typeof x.embedImages === 'function' && typeof x.embedText === 'function';
}

/**
 * The text the question is embedded as: the question, then the options as `A. ...` lines.
 *
 * @example
 * ```ts
 * queryText({ question: 'Which colour?', options: ['red', 'blue'] }); // 'Which colour?\nA. red\nB. blue'
 * ```
 */
export function queryText(query: ScoreQuery): string {
  const question = typeof query?.question === 'string' ? query.question.trim() : '';
  if (!question) throw new SemclipError('INVALID_QUESTION', 'The question is empty.', { expected: 'a non-empty question string' });
  const options = Array.isArray(query.options) ? query.options.filter((o) => typeof o === 'string' && o.trim()) : [];
  return [question, ...options.map((o, i) => `${optionLetter(i % 26)}. ${o.trim()}`)].join('\n');
}

function checkSource(source: TileSource): void {
  if (!source?.grid || !Array.isArray(source.grid.tiles) || typeof source.id !== 'string' || typeof source.crop !== 'function') {
    throw new SemclipError('INVALID_ARGUMENT', 'The tile source is not a TileSource.', { hint: 'Pass the result of tileImage() from @semclip/tiling' });
  }
}

/** One line saying how tiles and questions are represented. */
export function describeEmbedRepresentation(pooling: ImagePool, question: TextRepresentation): string {
  const tile = pooling === 'cls' ? 'projected CLS token' : 'mean of its projected visual tokens';
  const q = question === 'last-hidden-state' ? 'last hidden state of its final token' : 'mean of its input embeddings';
  const paper = pooling === 'cls' && question === 'last-hidden-state';
  return `tile = ${tile}, question = ${q} (${paper ? "the paper's definition" : "not the paper's definition"})`;
}

/**
 * Creates the `vlm-embed` scorer: cosine between each tile's projected CLS token (or the mean
 * of its visual tokens, see `pool`) and the VLM's representation of the question. Needs
 * a local runner (`local:` spec, `model`, or a runner with `embedImages`/`embedText`); HTTP
 * servers give no embeddings (UNSUPPORTED_CAPABILITY). Tile embeddings are cached by model,
 * image content hash, grid and tile, so a second question about the same image runs no
 * vision encoder at all.
 *
 * @example
 * ```ts
 * import { tileImage } from '@semclip/tiling';
 * import { createVlmEmbedScorer } from '@semclip/vlm-runner/scorers';
 *
 * const scorer = await createVlmEmbedScorer({ model: 'llava-interleave-qwen-0.5b', device: 'auto' });
 * const tiled = await tileImage('queue.jpg', { grid: '3x3' });
 * const { scores, meta } = await scorer.score({ question: 'What is the wait time?' }, tiled);
 * meta?.representation; // 'tile = projected CLS token, question = last hidden state of its final token (the paper's definition)'
 * await scorer.dispose(); // also disposes the runner it created
 * ```
 */
export async function createVlmEmbedScorer(options: VlmEmbedScorerOptions): Promise<VlmEmbedScorer> {
  if (!options || typeof options !== 'object') {
    throw new SemclipError('INVALID_ARGUMENT', 'createVlmEmbedScorer() needs options.', { expected: '{ runner } , { vlm: "local:<model>" } or { model }' });
  }
  const tileMaxSide = scorerIntOption('tileMaxSide', options.tileMaxSide, 1024, 16);
  const textCacheSize = scorerIntOption('textCacheSize', options.textCacheSize, 256, 0);
  const tileLimits =
    options.tileCache === false
      ? { maxEntries: 0 }
      : { maxEntries: options.tileCache?.maxEntries ?? 4096, maxBytes: options.tileCache?.maxBytes ?? 64 * 1024 * 1024 };
  if (!Number.isInteger(tileLimits.maxEntries) || tileLimits.maxEntries < 0 || !(tileLimits.maxBytes === undefined || tileLimits.maxBytes >= 0)) {
    throw new SemclipError('INVALID_ARGUMENT', `tileCache ${JSON.stringify(options.tileCache)} is not valid.`, {
      expected: '{ maxEntries: integer >= 0, maxBytes: number >= 0 } or false',
    });
  }
  const wanted = options.representation ?? 'auto';
  if (wanted !== 'auto' && wanted !== 'last-hidden-state' && wanted !== 'mean-input-embeddings') {
    throw new SemclipError('INVALID_ARGUMENT', `Question representation "${String(wanted)}" is not known.`, {
      expected: "'auto', 'last-hidden-state' or 'mean-input-embeddings'",
    });
  }
  const wantedPool = options.pool ?? 'auto';
  if (wantedPool !== 'auto' && wantedPool !== 'cls' && wantedPool !== 'mean') {
    throw new SemclipError('INVALID_ARGUMENT', `Tile pooling "${String(wantedPool)}" is not known.`, { expected: "'auto', 'cls' or 'mean'" });
  }
  const resolved = await resolveRunner(options, 'vlm-embed');
  if (!isEmbeddingRunner(resolved.runner)) {
    if (resolved.owned) await resolved.runner.dispose();
    throw new SemclipError('UNSUPPORTED_CAPABILITY', `The vlm-embed scorer needs the VLM's embeddings, which runner ${resolved.runner.id} does not give.`, {
      hint: 'Score with a local model (--vlm local:<model-id>, e.g. local:llava-interleave-qwen-0.5b); for an HTTP server use --scorer vlm-yesno',
      details: { runner: resolved.runner.id },
    });
  }
  const runner = resolved.runner;
  const representation: TextRepresentation = wanted === 'auto' ? runner.textRepresentation : wanted;
  if (representation !== 'mean-input-embeddings' && runner.textRepresentation !== 'last-hidden-state') {
    if (resolved.owned) await runner.dispose();
    throw new SemclipError(
      'UNSUPPORTED_CAPABILITY',
      `Model ${runner.model}: its ONNX decoder has no hidden-state output, so the question cannot be represented by the last hidden state.`,
      {
        hint: "Use representation 'mean-input-embeddings' (not the paper's), or a model whose decoder is exported with last_hidden_state",
      },
    );
  }
  const hasCls = runner.clsSource !== undefined;
  const pooling: ImagePool = wantedPool === 'auto' ? (hasCls ? 'cls' : 'mean') : wantedPool;
  if (pooling === 'cls' && !hasCls) {
    if (resolved.owned) await runner.dispose();
    throw new SemclipError(
      'UNSUPPORTED_CAPABILITY',
      `Model ${runner.model}: its ONNX vision encoder does not give the projected CLS token the paper scores tiles with.`,
      {
        expected: 'a vision encoder that keeps CLS as each image\'s first feature (CLIP tower, vision_feature_select_strategy "full") or outputs cls_features',
        hint: "Use pool 'mean' (the mean of the visual tokens, not the paper's), or a model exported with its CLS token",
        details: { runner: runner.id },
      },
    );
  }
  // The stand-ins are said once, never silently taken.
  const fallbacks = [
    ...(wantedPool === 'auto' && pooling === 'mean' ? ['tiles as the mean of their visual tokens (the export gives no projected CLS token)'] : []),
    ...(wanted === 'auto' && representation === 'mean-input-embeddings'
      ? ['questions as the mean of their input embeddings (the decoder gives no hidden states)']
      : []),
  ];
  if (fallbacks.length > 0) {
    (options.warn ?? ((m: string) => process.emitWarning(m, { code: 'SEMCLIP_VLM_EMBED' })))(
      `SemClip: vlm-embed with ${runner.model} is not the paper's scorer: it represents ${fallbacks.join(' and ')}. Use an export that has ${
        fallbacks.length === 2 ? 'them' : 'it'
      }, or choose this with ${[...(wantedPool === 'auto' && pooling === 'mean' ? ["pool 'mean'"] : []), ...(wanted === 'auto' && representation === 'mean-input-embeddings' ? ["representation 'mean-input-embeddings'"] : [])].join(' and ')}.`,
    );
  }
  const described = describeEmbedRepresentation(pooling, representation);
  const modelKey = [runner.id, runner.model, runner.dir ?? '', runner.dtypes?.vision_encoder ?? '', tileMaxSide, pooling].join('|');
  // Waits for an image's tiles being embedded, so concurrent questions about one image embed them once.
  const tileCache = new TileEmbeddingCache(tileLimits, modelKey);
  const textCache = new LruCache<string, Float32Array>({ maxEntries: textCacheSize });
  /** Tile embeds in flight, which dispose() lets finish before disposing the runner. */
  const pending = new Set<Promise<unknown>>();
  let visionRuns = 0;
  let tilesEncoded = 0;
  let textRuns = 0;
  let tokensPerImage: number | undefined;
  let disposed = false;

  function assertAlive(): void {
    if (disposed) {
      throw new SemclipError('INVALID_ARGUMENT', 'This vlm-embed scorer was disposed.', { hint: 'Create a new scorer (createVlmEmbedScorer) to score again' });
    }
  }

  async function embedQuestion(text: string, t: StageTimings, signal: AbortSignal | undefined): Promise<{ vector: Float32Array; hit: boolean }> {
    const key = `${representation}|${text}`;
    const cached = textCache.get(key);
    if (cached) return { vector: cached, hit: true };
    const start = performance.now();
    const { vector } = await runner.embedText(text, { representation, ...(signal ? { signal } : {}) });
    textRuns += 1;
    t.encode += performance.now() - start;
    const unit = normalised(vector);
    textCache.set(key, unit);
    return { vector: unit, hit: false };
  }

  async function embedTiles(source: TileSource, t: StageTimings, signal: AbortSignal | undefined): Promise<CachedTileEmbeddings> {
    const work = tileCache.embed(source, async (missing) => {
      let start = performance.now();
      const crops = await Promise.all(missing.map((i) => source.crop(source.grid.tiles[i]!.box, { maxSide: tileMaxSide })));
      t.preprocess += performance.now() - start;
      throwIfAborted(signal);
      assertAlive();
      start = performance.now();
      const embedded = await runner.embedImages(crops, { pool: pooling, ...(signal ? { signal } : {}) });
      visionRuns += embedded.visionRuns;
      tilesEncoded += missing.length;
      tokensPerImage = embedded.tokensPerImage;
      t.encode += performance.now() - start;
      if (embedded.vectors.length !== missing.length) {
        throw new SemclipError('MODEL_OUTPUT_INVALID', `Runner ${runner.id} returned ${embedded.vectors.length} image embeddings for ${missing.length} tiles.`);
      }
      return embedded.vectors.map((v) => normalised(v));
    });
    pending.add(work);
    try {
      return await work;
    } finally {
      pending.delete(work);
    }
  }

  const scorer: VlmEmbedScorer = defineScorer({
    id: 'vlm-embed' as const,
    runner,
    pooling,
    questionRepresentation: representation,
    representation: described,
    async score(query: ScoreQuery, source: TileSource, scoreOptions: ScoreOptions = {}): Promise<TileScores> {
      assertAlive();
      const signal = scoreOptions.signal;
      throwIfAborted(signal);
      const text = queryText(query);
      checkSource(source);
      const timings: StageTimings = { preprocess: 0, encode: 0, score: 0 };
      // The runner serialises its own calls; cropping still overlaps with the question's embedding.
      const [question, tiles] = await Promise.all([embedQuestion(text, timings, signal), embedTiles(source, timings, signal)]);
      throwIfAborted(signal);
      const start = performance.now();
      const dim = question.vector.length;
      const scores = tiles.vectors.map((v, i) => {
        if (v.length !== dim) {
          throw new SemclipError('MODEL_OUTPUT_INVALID', `Tile ${i}'s embedding has ${v.length} dimensions but the question's has ${dim}.`, {
            hint: 'The vision encoder and the language model of this export disagree on the hidden size; re-download the model',
          });
        }
        return cosine(question.vector, v);
      });
      timings.score = performance.now() - start;
      const meta: VlmEmbedMeta = {
        model: runner.model,
        runner: runner.id,
        questionRepresentation: representation,
        pooling,
        paperDefinition: pooling === 'cls' && representation === 'last-hidden-state',
        representation: described,
        tokensPerImage,
        embeddingDim: dim,
        cacheHits: tiles.cacheHits,
        tilesEncoded: tiles.encoded,
        visionRuns: tiles.encoded > 0 ? 1 : 0,
        textCacheHit: question.hit,
      };
      return { scorer: 'vlm-embed', scores, timings, meta: { ...meta } };
    },
    stats(): VlmEmbedStats {
      return { visionRuns, tilesEncoded, textRuns, tileCache: tileCache.stats(), textCache: textCache.stats() };
    },
    clearCache(): void {
      tileCache.clear();
      textCache.clear();
      visionRuns = 0;
      tilesEncoded = 0;
      textRuns = 0;
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      tileCache.clear();
      textCache.clear();
      await Promise.allSettled([...pending]);
      if (resolved.owned) await runner.dispose();
    },
  });
  return scorer;
}
