/**
 * The scorer both CLIP and SigLIP are: a text tower and a vision tower in one embedding space.
 * Per `score()`: the question's texts are encoded (text LRU cache), every tile not in the tile
 * cache goes through the vision tower in one batched run, and each tile's score is a function of
 * the cosine between its embedding and the question's.
 */
import { SemclipError, defineScorer, throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, ScoreOptions, ScoreQuery, StageTimings, TileScores, TileSource } from '@semclip/core';
import type { EnsureOptions, ModelDtype, ModelManifest } from '@semclip/hub';
import { Tensor } from '@huggingface/transformers';
import { LruCache } from '../_embedding-cache.js';
import type { LruStats } from '../_embedding-cache.js';
import { assertFinite, resolveDevice } from '../backends/onnx.js';
import type { Device, ResolvedDevice, Warn } from '../backends/onnx.js';
import { checkModelFolder, loadModel, locateModel, towerOutputs } from './_model.js';
import type { Family, LoadedModel, ModelLocation } from './_model.js';
import { pixelSpecFrom, tilePixels } from './_pixels.js';
import type { PixelSpec } from './_pixels.js';
import { checkChoiceMode, checkTemplate, pickInputs, queryTexts, textCacheKey, tokenize } from './_text.js';
import type { ChoiceMode } from './_text.js';

export type { ChoiceMode } from './_text.js';

/** Options shared by the CLIP and SigLIP scorers. */
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
  /** Vision-tower runs; one per `score()` that had any tile to encode. */
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

/** A CLIP or SigLIP scorer: a `RelevanceScorer` with its counters and caches exposed. */
export interface DualEncoderScorer extends RelevanceScorer {
  readonly info: DualEncoderInfo;
  stats(): DualEncoderStats;
  /** Empties both embedding caches and resets the counters. */
  clearCache(): void;
}

/** What makes CLIP and SigLIP differ once both towers give embeddings. */
export interface FamilySpec {
  readonly family: Family;
  readonly defaultModel: string;
  /** Context length when neither the tokenizer nor the config says. */
  readonly defaultMaxTokens: number;
  readonly padding: true | 'max_length';
  /** Builds the cosine -> score map once the model config is known. */
  scoreFn(config: Record<string, unknown>): { readonly fn: (cosine: number) => number; readonly meta: Record<string, unknown> };
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

function embeddings(
  output: Record<string, { dims: readonly number[]; data: ArrayLike<number> }>,
  name: string,
  rows: number,
  what: string,
  loc: ModelLocation,
): { data: Float32Array; dim: number } {
  const tensor = output[name];
  if (!tensor || tensor.dims.length !== 2 || tensor.dims[0] !== rows) {
    throw new SemclipError('MODEL_OUTPUT_INVALID', `The ${what} gave ${name} with shape [${tensor?.dims.join(', ') ?? 'none'}], expected [${rows}, dim].`, {
      hint: loc.fix,
    });
  }
  assertFinite(tensor.data, `The ${what}'s ${name}`);
  const data = Float32Array.from(tensor.data);
  return { data, dim: tensor.dims[1]! };
}

interface TextEntry {
  readonly vector: Float32Array;
  readonly truncated: boolean;
}

export async function createDualEncoder(spec: FamilySpec, options: DualEncoderOptions = {}): Promise<DualEncoderScorer> {
  const warn: Warn = options.warn ?? ((m) => process.emitWarning(m, { code: 'SEMCLIP_SCORER' }));
  const template = checkTemplate(options.template);
  const choices = checkChoiceMode(options.choices);
  const textCacheSize = options.textCacheSize ?? 512;
  if (!Number.isInteger(textCacheSize) || textCacheSize < 0) {
    throw new SemclipError('INVALID_ARGUMENT', `textCacheSize ${String(textCacheSize)} is not valid.`, { expected: 'an integer >= 0' });
  }
  const tileLimits = options.tileCache === false ? { maxEntries: 0 } : { maxEntries: options.tileCache?.maxEntries ?? 4096, maxBytes: options.tileCache?.maxBytes ?? 64 * 1024 * 1024 };
  if (!Number.isInteger(tileLimits.maxEntries) || tileLimits.maxEntries < 0 || !(tileLimits.maxBytes === undefined || tileLimits.maxBytes >= 0)) {
    throw new SemclipError('INVALID_ARGUMENT', `tileCache ${JSON.stringify(options.tileCache)} is not valid.`, {
      expected: '{ maxEntries: integer >= 0, maxBytes: number >= 0 } or false',
    });
  }
  const threads = options.intraOpNumThreads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `intraOpNumThreads ${String(threads)} is not valid.`, { expected: 'a positive integer' });
  }
  const device = resolveDevice(options.device ?? 'auto', warn);

  const loc = await locateModel(spec.family, spec.defaultModel, options);
  const config = await checkModelFolder(spec.family, loc);
  const loaded = await loadModel(spec.family, loc, config, device, options.intraOpNumThreads);
  let pixels: PixelSpec;
  let scoreFn: ReturnType<FamilySpec['scoreFn']>;
  try {
    pixels = pixelSpecFrom(loaded.processor, loc.dir);
    scoreFn = spec.scoreFn(config);
  } catch (err) {
    await Promise.all([loaded.text.dispose(), loaded.vision.dispose()]).catch(() => undefined);
    throw err;
  }
  const maxTokens = maxTokensOf(loaded, spec.defaultMaxTokens);
  const outputs = towerOutputs(spec.family);
  const modelKey = loc.manifest ? `${loc.manifest.repo}@${loc.manifest.revision}:${loc.dtype}` : `${loc.dir}:${loc.dtype}`;
  const textInputs = loaded.text.sessions.model!.inputNames;

  const textCache = new LruCache<string, TextEntry>({ maxEntries: textCacheSize });
  const tileCache = new LruCache<string, Float32Array>(tileLimits, (v) => v.byteLength + 96);
  /** Encodes in flight per image, so concurrent questions about one image encode its tiles once. */
  const pending = new Map<string, Promise<unknown>>();
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
  let embeddingDim: number | undefined;

  const info: DualEncoderInfo = {
    family: spec.family,
    model: loc.id,
    ...(loc.manifest ? { repo: loc.manifest.repo, revision: loc.manifest.revision } : {}),
    dir: loc.dir,
    dtype: loc.dtype,
    device,
    imageSize: { ...pixels.size },
    fit: pixels.fit,
    maxTokens,
  };

  function checkDim(dim: number, what: string): void {
    if (embeddingDim === undefined) embeddingDim = dim;
    else if (dim !== embeddingDim) {
      throw new SemclipError('MODEL_INVALID', `The ${what} gives ${dim}-dimensional embeddings but the other tower gives ${embeddingDim}.`, {
        hint: loc.fix,
      });
    }
  }

  function assertAlive(): void {
    if (disposed) {
      throw new SemclipError('INVALID_ARGUMENT', `This ${spec.family} scorer was disposed; its ONNX sessions are closed.`, {
        hint: `Create a new scorer (create${spec.family === 'clip' ? 'Clip' : 'Siglip'}Scorer) to score again`,
      });
    }
  }

  /** Normalised text embedding per text; encodes the ones not cached in one run. */
  async function encodeTexts(texts: readonly string[], t: StageTimings): Promise<{ vectors: Float32Array[]; truncated: boolean; cacheHits: number }> {
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
        spec.padding,
      );
      t.preprocess += performance.now() - start;
      start = performance.now();
      assertAlive();
      const out = await track(loaded.text(pickInputs(batch.inputs, textInputs)));
      textRuns += 1;
      t.encode += performance.now() - start;
      const { data, dim } = embeddings(out, outputs.text, missing.length, 'text tower', loc);
      checkDim(dim, 'text tower');
      normaliseRows(data, missing.length, dim);
      missing.forEach(([key], i) => {
        const entry: TextEntry = { vector: data.slice(i * dim, (i + 1) * dim), truncated: batch.truncated[i]! };
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
        `SemClip: ${cut.length === 1 ? `a ${spec.family} query text of ${longest} characters is` : `${cut.length} ${spec.family} query texts (up to ${longest} characters) are`} longer than the model's ${maxTokens}-token context; truncated.`,
      );
    }
    return { vectors: entries.map((e) => e.vector), truncated: cut.length > 0, cacheHits: texts.length - missing.length };
  }

  /** Normalised embedding per tile; tiles not cached go through the vision tower in one batch. */
  async function encodeTiles(source: TileSource, t: StageTimings, signal: AbortSignal | undefined): Promise<{ vectors: Float32Array[]; cacheHits: number; encoded: number }> {
    const n = source.grid.tiles.length;
    const imageKey = `${modelKey}|${source.id}|${source.gridKey}`;
    const keyOf = (i: number) => `${imageKey}|${i}`;
    const inFlight = pending.get(imageKey);
    if (inFlight) await inFlight.catch(() => undefined);
    const vectors: (Float32Array | undefined)[] = Array.from({ length: n }, (_, i) => tileCache.get(keyOf(i)));
    const missing = vectors.flatMap((v, i) => (v === undefined ? [i] : []));
    if (missing.length === 0) return { vectors: vectors as Float32Array[], cacheHits: n, encoded: 0 };
    const work = (async () => {
      let start = performance.now();
      const px = await tilePixels(source, missing, pixels);
      t.preprocess += performance.now() - start;
      throwIfAborted(signal);
      assertAlive();
      start = performance.now();
      const out = await track(loaded.vision({ pixel_values: new Tensor('float32', px.data, px.dims) }));
      visionRuns += 1;
      tilesEncoded += missing.length;
      t.encode += performance.now() - start;
      const { data, dim } = embeddings(out, outputs.vision, missing.length, 'vision tower', loc);
      checkDim(dim, 'vision tower');
      normaliseRows(data, missing.length, dim);
      missing.forEach((tile, k) => {
        const v = data.slice(k * dim, (k + 1) * dim);
        vectors[tile] = v;
        tileCache.set(keyOf(tile), v);
      });
    })();
    pending.set(imageKey, work);
    try {
      await work;
    } finally {
      if (pending.get(imageKey) === work) pending.delete(imageKey);
    }
    return { vectors: vectors as Float32Array[], cacheHits: n - missing.length, encoded: missing.length };
  }

  const scorer = defineScorer({
    id: spec.family,
    info,
    async score(query: ScoreQuery, source: TileSource, scoreOptions: ScoreOptions = {}): Promise<TileScores> {
      assertAlive();
      const signal = scoreOptions.signal;
      throwIfAborted(signal);
      const texts = queryTexts(query, template, choices);
      if (!source || !source.grid || !Array.isArray(source.grid.tiles) || typeof source.id !== 'string') {
        throw new SemclipError('INVALID_ARGUMENT', 'The tile source is not a TileSource.', { hint: 'Pass the result of tileImage() from @semclip/tiling' });
      }
      const timings: StageTimings = { preprocess: 0, encode: 0, score: 0 };
      // Text encoding overlaps with cutting the tiles (sharp works on its own threads).
      const [text, tiles] = await Promise.all([encodeTexts(texts, timings), encodeTiles(source, timings, signal)]);
      throwIfAborted(signal);

      const start = performance.now();
      const dim = text.vectors[0]!.length;
      // The query embedding: the mean of the normalised text embeddings, normalised again.
      const q = new Float32Array(dim);
      for (const v of text.vectors) for (let i = 0; i < dim; i++) q[i]! += v[i]!;
      normaliseRows(q, 1, dim);
      const scores = tiles.vectors.map((v) => {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += q[i]! * v[i]!;
        return scoreFn.fn(dot);
      });
      assertFinite(scores, `The ${spec.family} scores`);
      timings.score = performance.now() - start;
      return {
        scorer: spec.family,
        scores,
        timings,
        meta: {
          model: loc.id,
          ...(loc.manifest ? { repo: loc.manifest.repo, revision: loc.manifest.revision } : {}),
          dtype: loc.dtype,
          device,
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
    stats(): DualEncoderStats {
      return { visionRuns, textRuns, tilesEncoded, tileCache: tileCache.stats(), textCache: textCache.stats() };
    },
    clearCache(): void {
      textCache.clear();
      tileCache.clear();
      visionRuns = 0;
      textRuns = 0;
      tilesEncoded = 0;
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      textCache.clear();
      tileCache.clear();
      // A run still in flight (e.g. the vision tower while the text tower already failed) finishes first.
      await Promise.allSettled([...running]);
      await Promise.all([loaded.text.dispose(), loaded.vision.dispose()]);
    },
  });
  return scorer;
}
