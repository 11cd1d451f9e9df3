import { SemclipError, defineScorer, isSemclipError, throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, ScoreOptions, ScoreQuery, StageTimings, TileScores, TileSource, TrainedOn } from '@semclip/core';
import { getManifest } from '@semclip/hub';
import type { EnsureOptions, ModelDtype } from '@semclip/hub';
import { resolveDevice } from '@semclip/runtime';
import type { Device, Warn } from '@semclip/runtime';
import { createBaseEncoder } from './_base.js';
import type { BaseEncoder, BaseEncoderInfo, BaseEncoderStats } from './_base.js';
import { loadHead } from './_head.js';
import type { RelevanceHead } from './_head.js';
import { resolveHeadManifestPath, readHeadManifest } from './_head-manifest.js';
import type { HeadManifest } from './_head-manifest.js';

export interface DistantScorerOptions {
  /** The trained head: a name under `<cacheDir>/heads/`, or a path to a head folder or head.json. */
  readonly model?: string;
  /** Same as `model` (for code that reads better with it). */
  readonly head?: string;
  /**
   * A folder of towers (config.json, tokenizer, onnx/text_model.onnx, onnx/vision_model.onnx) to
   * use instead of the head's base model, e.g. towers fine-tuned outside SemClip. Must give
   * embeddings of the head's size. Default: the base recorded in head.json.
   */
  readonly modelPath?: string;
  /** ONNX weight variant of the base towers; default the one the head was trained with. */
  readonly dtype?: ModelDtype;
  readonly device?: Device;
  readonly cacheDir?: string;
  readonly offline?: boolean;
  /** Download the base model when it is not cached (default false: MODEL_NOT_DOWNLOADED naming the command). */
  readonly autoPull?: boolean;
  readonly hub?: Omit<EnsureOptions, 'cacheDir' | 'offline' | 'autoPull'>;
  readonly textCacheSize?: number;
  readonly tileCache?: { readonly maxEntries?: number; readonly maxBytes?: number } | false;
  readonly intraOpNumThreads?: number;
  readonly warn?: Warn;
}

export interface DistantScorerInfo {
  readonly head: string;
  readonly headPath: string;
  readonly headType: HeadManifest['type'];
  readonly dim: number;
  readonly base: BaseEncoderInfo;
}

/** The distant scorer: a `RelevanceScorer` with what it loaded and its cache counters. */
export interface DistantScorer extends RelevanceScorer {
  readonly info: DistantScorerInfo;
  /** The items the head's labels file held (head.json `trainedOn`); `null` for heads that did not record them. */
  readonly trainedOn: TrainedOn | null;
  stats(): BaseEncoderStats;
  clearCache(): void;
}

/** Checks the registry still pins the revision the head's embeddings came from. */
function checkRevision(manifest: HeadManifest, env: NodeJS.ProcessEnv | undefined): void {
  const base = manifest.base;
  if (!base.revision) return;
  let registered: ReturnType<typeof getManifest>;
  try {
    registered = getManifest(base.model, env ? { env } : {});
  } catch (err) {
    if (isSemclipError(err, 'UNKNOWN_MODEL')) {
      throw new SemclipError('UNKNOWN_MODEL', `The head ${manifest.name} was trained on base model "${base.model}", which is not registered here.`, {
        cause: err,
        hint: `Register its manifest (SEMCLIP_MANIFEST_PATH) pinning revision ${base.revision}, or pass modelPath / --model-path with the towers`,
        details: { head: manifest.name, base: base.model, revision: base.revision },
      });
    }
    throw err;
  }
  if (registered.revision !== base.revision) {
    throw new SemclipError(
      'MODEL_INVALID',
      `The head ${manifest.name} was trained on ${base.model} at revision ${base.revision}, but the registry now pins ${registered.revision}.`,
      {
        expected: 'the base weights the head was trained on (its embeddings change with them)',
        hint: `Train the head again on the current revision, or register a manifest for ${base.model} at ${base.revision}`,
        details: { head: manifest.name, base: base.model, trained: base.revision, registered: registered.revision },
      },
    );
  }
}

/**
 * A relevance scorer trained by distant supervision (`semclip train`): the frozen CLIP/SigLIP base
 * embeds the question and each tile (same model loading, batching and caches as the clip/siglip
 * scorers), and the trained head (an ONNX graph on ONNX Runtime, CPU or CUDA) scores each pair.
 * Scores are the head's cosine in [-1, 1]; higher = more relevant.
 *
 * @example
 * ```ts
 * import { createDistantScorer } from '@semclip/scorers/distant';
 * import { tileImage } from '@semclip/tiling';
 *
 * const scorer = await createDistantScorer({ model: 'sqa-clip-b32', device: 'auto' });
 * const tiled = await tileImage('street.jpg', { grid: '2x2' });
 * const { scores } = await scorer.score({ question: 'What does the small sign say?' }, tiled);
 * await scorer.dispose();
 * ```
 */
export async function createDistantScorer(options: DistantScorerOptions = {}): Promise<DistantScorer> {
  const warn: Warn = options.warn ?? ((m) => process.emitWarning(m, { code: 'SEMCLIP_SCORER' }));
  const env = options.hub?.env;
  const given = options.head ?? options.model;
  const manifestFile = await resolveHeadManifestPath(given ?? '', { ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}), ...(env ? { env } : {}) });
  const manifest = await readHeadManifest(manifestFile);
  const device = resolveDevice(options.device ?? 'auto', warn);
  const towers = options.modelPath ?? manifest.base.modelPath;
  if (towers === undefined) checkRevision(manifest, env);
  const common = {
    family: manifest.base.family,
    device,
    dtype: options.dtype ?? (manifest.base.dtype as ModelDtype),
    choices: manifest.query.choices,
    ...(manifest.query.template === undefined ? {} : { template: manifest.query.template }),
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    ...(options.offline === undefined ? {} : { offline: options.offline }),
    ...(options.autoPull === undefined ? {} : { autoPull: options.autoPull }),
    ...(options.hub === undefined ? {} : { hub: options.hub }),
    ...(options.textCacheSize === undefined ? {} : { textCacheSize: options.textCacheSize }),
    ...(options.tileCache === undefined ? {} : { tileCache: options.tileCache }),
    ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
    warn,
  };
  const head: RelevanceHead = await loadHead(manifestFile, { device, ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}) });
  let base: BaseEncoder;
  try {
    base = await createBaseEncoder(towers !== undefined ? { ...common, modelPath: towers } : { ...common, model: manifest.base.model });
  } catch (err) {
    await head.dispose().catch(() => undefined);
    throw err;
  }
  let disposed = false;
  const info: DistantScorerInfo = { head: manifest.name, headPath: manifestFile, headType: manifest.type, dim: manifest.dim, base: base.info };

  const checkDim = () => {
    if (base.dim !== undefined && base.dim !== head.dim) {
      throw new SemclipError('MODEL_INVALID', `The head ${manifest.name} takes ${head.dim}-dimensional embeddings, but ${base.info.model} gives ${base.dim}.`, {
        hint: towers !== undefined ? 'Point modelPath at towers with the embedding size the head was trained on' : 'Train the head again on this base model',
        details: { head: head.dim, base: base.dim },
      });
    }
  };

  return defineScorer({
    id: 'distant',
    info,
    trainedOn: manifest.trainedOn ?? null,
    async score(query: ScoreQuery, source: TileSource, scoreOptions: ScoreOptions = {}): Promise<TileScores> {
      if (disposed) {
        throw new SemclipError('INVALID_ARGUMENT', 'This distant scorer was disposed; its ONNX sessions are closed.', { hint: 'Create a new scorer' });
      }
      const signal = scoreOptions.signal;
      throwIfAborted(signal);
      const timings: StageTimings = { preprocess: 0, encode: 0, score: 0 };
      const [text, tiles] = await Promise.all([base.embedQuery(query, timings), base.embedTiles(source, { timings, ...(signal ? { signal } : {}) })]);
      throwIfAborted(signal);
      checkDim();
      const start = performance.now();
      const scores = Array.from(await head.score(text.vector, tiles.vectors));
      timings.score = performance.now() - start;
      return {
        scorer: 'distant',
        scores,
        timings,
        meta: {
          head: manifest.name,
          headType: manifest.type,
          model: base.info.model,
          ...(base.info.repo ? { repo: base.info.repo, revision: base.info.revision } : {}),
          dtype: base.info.dtype,
          device,
          texts: text.texts.map((x) => (x.length > 1000 ? `${x.slice(0, 1000)}\u2026` : x)),
          truncated: text.truncated,
          textCacheHits: text.cacheHits,
          cacheHits: tiles.cacheHits,
          tilesEncoded: tiles.encoded,
          embeddingDim: head.dim,
        },
      };
    },
    stats: () => base.stats(),
    clearCache: () => base.clearCache(),
    async dispose() {
      if (disposed) return;
      disposed = true;
      await Promise.all([base.dispose(), head.dispose()]);
    },
  });
}
