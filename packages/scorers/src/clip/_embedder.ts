/**
 * The embeddings of a dual encoder (CLIP or SigLIP), with their caches: the one place that runs
 * the text and vision towers. The clip/siglip scorers turn these embeddings into scores with a
 * cosine map; the distant scorer (and the trainer, through `createBaseEncoder`) feeds them to a
 * trained head. Both therefore see exactly the same vectors: `cosine(embedQuery(q).vector,
 * embedTiles(s).vectors[i])` is the clip scorer's score for tile i.
 *
 * - `embedQuery` / `embedTexts`: the question's texts (template, choice mode) through the text
 *   tower, only those not in the text LRU cache and in one run; the query vector is the mean of
 *   the texts' normalised embeddings, normalised.
 * - `embedTiles`: every tile not in the tile LRU cache (keyed by model, image content hash, grid
 *   and tile) through the vision tower in one batched run; concurrent calls about one image
 *   encode its tiles once.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { ScoreQuery, StageTimings, TileSource } from '@semclip/core';
import type { EnsureOptions, ModelDtype, ModelManifest } from '@semclip/hub';
import { Tensor } from '@huggingface/transformers';
import { LruCache, TileEmbeddingCache, assertFinite, resolveDevice } from '@semclip/runtime';
import type { Device, LruStats, ResolvedDevice, Warn } from '@semclip/runtime';
import { checkModelFolder, loadModel, locateModel, requiredFiles, towerOutputs } from './_model.js';
import type { Family, LoadedModel, ModelLocation } from './_model.js';
import { pixelSpecFrom, tilePixels } from './_pixels.js';
import type { PixelSpec } from './_pixels.js';
import { checkChoiceMode, checkTemplate, pickInputs, queryTexts, textCacheKey, tokenize } from './_text.js';
import type { ChoiceMode } from './_text.js';

/** Per family: the default model, the text context when neither tokenizer nor config says, and padding. */
export const TOWER_DEFAULTS = {
  // CLIP's text tower is causal and pools at the end token, so padding to the longest text is exact.
  clip: { model: 'clip-vit-base-patch32', maxTokens: 77, padding: true },
  // SigLIP was trained on texts padded to 64 tokens and pools the last position.
  siglip: { model: 'siglip-base-patch16-224', maxTokens: 64, padding: 'max_length' },
} as const satisfies Record<Family, { model: string; maxTokens: number; padding: true | 'max_length' }>;

/** Options shared by the CLIP and SigLIP scorers (and the distant scorer's base encoder). */
export interface DualEncoderOptions {
  /** Model manifest id (see `semclip models list`) or a manifest object. Each family has a default. */
  readonly model?: string | ModelManifest;
  /** A local folder in the Hugging Face / transformers.js layout instead of a hub model. */
  readonly modelPath?: string;
  /** `cpu`, `cuda` (DEVICE_UNAVAILABLE without the CUDA provider) or `auto` (default; CUDA if installed, else CPU, said once). */
  readonly device?: Device;
  /** ONNX weight variant (file suffix) to load; default the manifest's `defaultDtype`, or `fp32` for `modelPath`. */
  readonly dtype?: ModelDtype;
  /** Model cache directory (default SEMCLIP_CACHE_DIR or the user cache). */
  readonly cacheDir?: string;
  /** Never touch the network (also SEMCLIP_OFFLINE=1). */
  readonly offline?: boolean;
  /** Download the model when it is not in the cache (default false: MODEL_NOT_DOWNLOADED naming the command). */
  readonly autoPull?: boolean;
  /** More options for `ensureModel` from `@semclip/hub` (endpoint, token, onProgress, signal, env). */
  readonly hub?: Omit<EnsureOptions, 'cacheDir' | 'offline' | 'autoPull'>;
  /** A question template with `{}` for the question, e.g. `"a photo of {}"`. Default: the question as is. */
  readonly template?: string;
  /** How multiple-choice options take part (default `average`); see `ChoiceMode`. */
  readonly choices?: ChoiceMode;
  /** Text embeddings kept (LRU by text). Default 512; 0 disables. */
  readonly textCacheSize?: number;
  /** Tile embeddings kept (LRU by image hash, grid, tile). Default 4096 entries / 64 MiB; `false` disables. */
  readonly tileCache?: { readonly maxEntries?: number; readonly maxBytes?: number } | false;
  /** Threads per ONNX Runtime session (default: ONNX Runtime's choice). */
  readonly intraOpNumThreads?: number;
  /** Receives one-line notices (device fallback, truncated questions). Default: process.emitWarning. */
  readonly warn?: Warn;
}

/** Counters since creation (or the last `clearCache`), for tests, logs and benchmarks. */
export interface DualEncoderStats {
  /** Vision-tower runs; one per `embedTiles` (or `score()`) that had any tile to encode. */
  readonly visionRuns: number;
  readonly textRuns: number;
  readonly tilesEncoded: number;
  readonly tileCache: LruStats;
  readonly textCache: LruStats;
}

/** What was loaded, for logs and `--json` output. */
export interface DualEncoderInfo {
  readonly family: Family;
  readonly model: string;
  readonly repo?: string;
  readonly revision?: string;
  readonly dir: string;
  readonly dtype: string;
  readonly device: ResolvedDevice;
  /** Encoder input size and how tiles are fitted to it. */
  readonly imageSize: { readonly width: number; readonly height: number };
  readonly fit: string;
  /** Text context in tokens (77 for CLIP, 64 for SigLIP). */
  readonly maxTokens: number;
}

/** `DualEncoderInfo` plus what decides the embeddings beyond the weights. */
export interface EmbedderInfo extends DualEncoderInfo {
  readonly choices: ChoiceMode;
  readonly template?: string;
  /**
   * Identifies the weights the embeddings come from: `repo@revision:dtype` for hub models, the
   * folder plus the tower files' sizes and modification times for `modelPath` (so towers
   * rewritten in place get a new key).
   */
  readonly modelKey: string;
}

export interface QueryEmbedding {
  /** The question's embedding: the mean of its texts' normalised embeddings, normalised. */
  readonly vector: Float32Array;
  readonly texts: readonly string[];
  readonly truncated: boolean;
  readonly cacheHits: number;
}

export interface TileEmbeddings {
  /** One normalised embedding per tile of `source.grid`, in tile order. */
  readonly vectors: readonly Float32Array[];
  readonly cacheHits: number;
  readonly encoded: number;
}

/** A loaded dual encoder giving normalised embeddings. Holds two ONNX sessions: call `dispose()`. */
export interface Embedder {
  readonly info: EmbedderInfo;
  /** Embedding size, known after the first encode. */
  readonly dim: number | undefined;
  /** config.json, for what the family reads from it (SigLIP's logit scale and bias). */
  readonly config: Record<string, unknown>;
  /** The texts a query is encoded as (template, choice mode); throws INVALID_QUESTION for a bad question. */
  queryTexts(query: ScoreQuery): string[];
  /** The query embedding of texts from `queryTexts`. */
  embedTexts(texts: readonly string[], timings?: StageTimings): Promise<QueryEmbedding>;
  /** `embedTexts(queryTexts(query))`. */
  embedQuery(query: ScoreQuery, timings?: StageTimings): Promise<QueryEmbedding>;
  embedTiles(source: TileSource, options?: { readonly signal?: AbortSignal | undefined; readonly timings?: StageTimings }): Promise<TileEmbeddings>;
  /** Throws INVALID_ARGUMENT once disposed. */
  assertAlive(): void;
  stats(): DualEncoderStats;
  /** Empties both embedding caches and resets the counters. */
  clearCache(): void;
  /** Waits for runs in flight, then closes both sessions. */
  dispose(): Promise<void>;
}

/** How a disposed embedder's owner is named in errors, e.g. `clip scorer`, and how to get a new one. */
export interface EmbedderOwner {
  readonly noun: string;
  readonly hint: string;
}

/** Throws INVALID_ARGUMENT unless `source` looks like a TileSource. */
export function checkTileSource(source: TileSource): void {
  if (!source?.grid || !Array.isArray(source.grid.tiles) || typeof source.id !== 'string') {
    throw new SemclipError('INVALID_ARGUMENT', 'The tile source is not a TileSource.', { hint: 'Pass the result of tileImage() from @semclip/tiling' });
  }
}

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

function maxTokensOf(loaded: LoadedModel, fallback: number): number {
  const fromTokenizer = (loaded.tokenizer as unknown as { model_max_length?: number }).model_max_length;
  const textConfig = loaded.config.text_config as Record<string, unknown> | undefined;
  const fromConfig = int(textConfig?.max_position_embeddings);
  const candidates = [Number.isFinite(fromTokenizer) ? int(fromTokenizer) : undefined, fromConfig].filter((v): v is number => v !== undefined);
  return candidates.length > 0 ? Math.min(...candidates) : fallback;
}

/** L2-normalises each row of a [n, d] matrix in place (a zero row stays zero). */
function normaliseRows(data: Float32Array, n: number, d: number): void {
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let i = 0; i < d; i++) sum += data[r * d + i]! * data[r * d + i]!;
    const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = 0; i < d; i++) data[r * d + i]! *= inv;
  }
}

function folderStamp(loc: ModelLocation): string {
  const parts = requiredFiles(loc.dtype)
    .filter((f) => f.startsWith('onnx/'))
    .map((f) => {
      try {
        const s = statSync(path.join(loc.dir, ...f.split('/')));
        return `${f}:${s.size}:${Math.round(s.mtimeMs)}`;
      } catch {
        return `${f}:missing`;
      }
    });
  return `${loc.dir}:${loc.dtype}:${parts.join(',')}`;
}

interface TextEntry {
  readonly vector: Float32Array;
  readonly truncated: boolean;
}

function checkOptions(options: DualEncoderOptions): { textCacheSize: number; tileLimits: { maxEntries: number; maxBytes?: number } } {
  const textCacheSize = options.textCacheSize ?? 512;
  if (!Number.isInteger(textCacheSize) || textCacheSize < 0) {
    throw new SemclipError('INVALID_ARGUMENT', `textCacheSize ${String(textCacheSize)} is not valid.`, { expected: 'an integer >= 0' });
  }
  const tileLimits =
    options.tileCache === false
      ? { maxEntries: 0 }
      : { maxEntries: options.tileCache?.maxEntries ?? 4096, maxBytes: options.tileCache?.maxBytes ?? 64 * 1024 * 1024 };
  if (!Number.isInteger(tileLimits.maxEntries) || tileLimits.maxEntries < 0 || !(tileLimits.maxBytes === undefined || tileLimits.maxBytes >= 0)) {
    throw new SemclipError('INVALID_ARGUMENT', `tileCache ${JSON.stringify(options.tileCache)} is not valid.`, {
      expected: '{ maxEntries: integer >= 0, maxBytes: number >= 0 } or false',
    });
  }
  const threads = options.intraOpNumThreads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `intraOpNumThreads ${String(threads)} is not valid.`, { expected: 'a positive integer' });
  }
  return { textCacheSize, tileLimits };
}

/**
 * Loads a CLIP or SigLIP model (hub manifest or `modelPath`) as an `Embedder`. Options are
 * checked before anything is loaded; a model that loads but cannot be used is disposed again.
 */
export async function createEmbedder(family: Family, options: DualEncoderOptions, owner: EmbedderOwner): Promise<Embedder> {
  const defaults = TOWER_DEFAULTS[family];
  const warn: Warn = options.warn ?? ((m) => process.emitWarning(m, { code: 'SEMCLIP_SCORER' }));
  const template = checkTemplate(options.template);
  const choices = checkChoiceMode(options.choices);
  const { textCacheSize, tileLimits } = checkOptions(options);
  const device = resolveDevice(options.device ?? 'auto', warn);

  const loc = await locateModel(family, defaults.model, options);
  const config = await checkModelFolder(family, loc);
  const loaded = await loadModel(family, loc, config, device, options.intraOpNumThreads);
  let pixels: PixelSpec;
  try {
    pixels = pixelSpecFrom(loaded.processor, loc.dir);
  } catch (err) {
    await Promise.all([loaded.text.dispose(), loaded.vision.dispose()]).catch(() => undefined);
    throw err;
  }
  const maxTokens = maxTokensOf(loaded, defaults.maxTokens);
  const outputs = towerOutputs(family);
  const modelKey = loc.manifest ? `${loc.manifest.repo}@${loc.manifest.revision}:${loc.dtype}` : folderStamp(loc);
  const textInputs = loaded.text.sessions.model!.inputNames;

  const textCache = new LruCache<string, TextEntry>({ maxEntries: textCacheSize });
  const tileCache = new TileEmbeddingCache(tileLimits, modelKey);
  /** Every tower run in flight; dispose() waits for them before releasing the sessions. */
  const running = new Set<Promise<unknown>>();
  function track<T>(p: Promise<T>): Promise<T> {
    running.add(p);
    void p.then(
      () => running.delete(p),
      () => running.delete(p),
    );
    return p;
  }
  let visionRuns = 0;
  let textRuns = 0;
  let tilesEncoded = 0;
  let disposed = false;
  let dim: number | undefined;

  const info: EmbedderInfo = {
    family,
    model: loc.id,
    ...(loc.manifest ? { repo: loc.manifest.repo, revision: loc.manifest.revision } : {}),
    dir: loc.dir,
    dtype: loc.dtype,
    device,
    imageSize: { ...pixels.size },
    fit: pixels.fit,
    maxTokens,
    choices,
    ...(template === undefined ? {} : { template }),
    modelKey,
  };

  function assertAlive(): void {
    if (disposed) {
      throw new SemclipError('INVALID_ARGUMENT', `This ${owner.noun} was disposed; its ONNX sessions are closed.`, { hint: owner.hint });
    }
  }

  /** The tower output `name` as normalised [rows, dim] embeddings, checked for shape, finiteness and size. */
  function embeddings(output: Record<string, { dims: readonly number[]; data: ArrayLike<number> }>, name: string, rows: number, what: string): Float32Array {
    const tensor = output[name];
    if (tensor?.dims.length !== 2 || tensor.dims[0] !== rows) {
      throw new SemclipError('MODEL_OUTPUT_INVALID', `The ${what} gave ${name} with shape [${tensor?.dims.join(', ') ?? 'none'}], expected [${rows}, dim].`, {
        hint: loc.fix,
      });
    }
    assertFinite(tensor.data, `The ${what}'s ${name}`);
    const d = tensor.dims[1]!;
    if (dim === undefined) dim = d;
    else if (d !== dim) {
      throw new SemclipError('MODEL_INVALID', `The ${what} gives ${d}-dimensional embeddings but the other tower gives ${dim}.`, { hint: loc.fix });
    }
    const data = Float32Array.from(tensor.data);
    normaliseRows(data, rows, d);
    return data;
  }

  function textsOf(query: ScoreQuery): string[] {
    return queryTexts(query, template, choices);
  }

  async function embedTexts(texts: readonly string[], timings?: StageTimings): Promise<QueryEmbedding> {
    assertAlive();
    const t = timings ?? { preprocess: 0, encode: 0, score: 0 };
    // Keyed by what is tokenized: a huge text is cached by its kept prefix, not its full length.
    const keys = texts.map((text) => textCacheKey(text, maxTokens));
    const found: (TextEntry | undefined)[] = keys.map((key) => textCache.get(key));
    const missing = [...new Map(keys.flatMap((key, i) => (found[i] === undefined ? [[key, texts[i]!] as const] : []))).entries()];
    if (missing.length > 0) {
      let start = performance.now();
      const batch = tokenize(
        loaded.tokenizer,
        missing.map(([, text]) => text),
        maxTokens,
        defaults.padding,
      );
      t.preprocess += performance.now() - start;
      start = performance.now();
      assertAlive();
      const out = await track(loaded.text(pickInputs(batch.inputs, textInputs)));
      textRuns += 1;
      t.encode += performance.now() - start;
      const data = embeddings(out, outputs.text, missing.length, 'text tower');
      const d = data.length / missing.length;
      missing.forEach(([key], i) => {
        const entry: TextEntry = { vector: data.slice(i * d, (i + 1) * d), truncated: batch.truncated[i]! };
        textCache.set(key, entry);
        keys.forEach((k2, j) => {
          if (k2 === key) found[j] = entry;
        });
      });
    }
    const entries = found as TextEntry[];
    const cut = texts.filter((_, i) => entries[i]!.truncated);
    if (cut.length > 0) {
      const longest = Math.max(...cut.map((x) => x.length));
      warn(
        `SemClip: ${cut.length === 1 ? `a ${family} query text of ${longest} characters is` : `${cut.length} ${family} query texts (up to ${longest} characters) are`} longer than the model's ${maxTokens}-token context; truncated.`,
      );
    }
    const d = entries[0]!.vector.length;
    const q = new Float32Array(d);
    for (const e of entries) for (let i = 0; i < d; i++) q[i]! += e.vector[i]!;
    normaliseRows(q, 1, d);
    return { vector: q, texts, truncated: cut.length > 0, cacheHits: texts.length - missing.length };
  }

  async function embedTiles(
    source: TileSource,
    opts: { readonly signal?: AbortSignal | undefined; readonly timings?: StageTimings } = {},
  ): Promise<TileEmbeddings> {
    assertAlive();
    checkTileSource(source);
    const t = opts.timings ?? { preprocess: 0, encode: 0, score: 0 };
    return tileCache.embed(source, async (missing) => {
      let start = performance.now();
      const px = await tilePixels(source, missing, pixels);
      t.preprocess += performance.now() - start;
      throwIfAborted(opts.signal);
      assertAlive();
      start = performance.now();
      const out = await track(loaded.vision({ pixel_values: new Tensor('float32', px.data, px.dims) }));
      visionRuns += 1;
      tilesEncoded += missing.length;
      t.encode += performance.now() - start;
      const data = embeddings(out, outputs.vision, missing.length, 'vision tower');
      const d = data.length / missing.length;
      return missing.map((_, k) => data.slice(k * d, (k + 1) * d));
    });
  }

  return {
    info,
    get dim() {
      return dim;
    },
    config,
    queryTexts: textsOf,
    embedTexts,
    async embedQuery(query, timings) {
      assertAlive();
      return embedTexts(textsOf(query), timings);
    },
    embedTiles,
    assertAlive,
    stats: () => ({ visionRuns, textRuns, tilesEncoded, tileCache: tileCache.stats(), textCache: textCache.stats() }),
    clearCache() {
      textCache.clear();
      tileCache.clear();
      visionRuns = 0;
      textRuns = 0;
      tilesEncoded = 0;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      textCache.clear();
      tileCache.clear();
      // A run still in flight (e.g. the vision tower while the text tower already failed) finishes first.
      await Promise.allSettled([...running]);
      await Promise.all([loaded.text.dispose(), loaded.vision.dispose()]);
    },
  };
}
