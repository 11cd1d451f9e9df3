/**
 * The frozen base of a trained head: a CLIP or SigLIP model giving L2-normalised embeddings of a
 * question and of each tile. Built from the clip family's own pieces (model lookup and loading,
 * tokenisation, tile pixels, the LRU embedding caches), so the embeddings are exactly the ones the
 * clip/siglip scorers compute: `cosine(embedQuery(q), embedTiles(s)[i])` is the clip scorer's
 * score for tile i.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { ScoreQuery, StageTimings, TileSource } from '@semclip/core';
import type { EnsureOptions, ModelDtype, ModelManifest } from '@semclip/hub';
import { Tensor } from '@huggingface/transformers';
import { LruCache } from '../_embedding-cache.js';
import type { LruStats } from '../_embedding-cache.js';
import { assertFinite, resolveDevice } from '../backends/onnx.js';
import type { Device, ResolvedDevice, Warn } from '../backends/onnx.js';
import { checkModelFolder, loadModel, locateModel, requiredFiles, towerOutputs } from '../clip/_model.js';
import type { Family, ModelLocation } from '../clip/_model.js';
import { pixelSpecFrom, tilePixels } from '../clip/_pixels.js';
import { checkChoiceMode, checkTemplate, pickInputs, queryTexts, textCacheKey, tokenize } from '../clip/_text.js';
import type { ChoiceMode } from '../clip/_text.js';

/** Model defaults per family, as the clip and siglip scorers use them. */
export const BASE_DEFAULTS = {
  clip: { model: 'clip-vit-base-patch32', maxTokens: 77, padding: true },
  siglip: { model: 'siglip-base-patch16-224', maxTokens: 64, padding: 'max_length' },
} as const satisfies Record<Family, { model: string; maxTokens: number; padding: true | 'max_length' }>;

export interface BaseEncoderOptions {
  readonly family: Family;
  /** Hub manifest id or manifest object; default the family's default model. */
  readonly model?: string | ModelManifest;
  /** A folder in the Hugging Face layout (e.g. externally fine-tuned towers) instead of a hub model. */
  readonly modelPath?: string;
  readonly dtype?: ModelDtype;
  readonly device?: Device;
  readonly cacheDir?: string;
  readonly offline?: boolean;
  readonly autoPull?: boolean;
  readonly hub?: Omit<EnsureOptions, 'cacheDir' | 'offline' | 'autoPull'>;
  /** Question template with `{}`; default the question as is. */
  readonly template?: string;
  /** How multiple-choice options take part (default `average`, as the clip scorer). */
  readonly choices?: ChoiceMode;
  /** Text embeddings kept in memory (LRU). Default 512. */
  readonly textCacheSize?: number;
  /** Tile embeddings kept in memory (LRU). Default 4096 entries / 64 MiB; `false` disables. */
  readonly tileCache?: { readonly maxEntries?: number; readonly maxBytes?: number } | false;
  readonly intraOpNumThreads?: number;
  readonly warn?: Warn;
}

export interface BaseEncoderInfo {
  readonly family: Family;
  readonly model: string;
  readonly repo?: string;
  readonly revision?: string;
  readonly dir: string;
  readonly dtype: string;
  readonly device: ResolvedDevice;
  readonly imageSize: { readonly width: number; readonly height: number };
  readonly maxTokens: number;
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

export interface BaseEncoderStats {
  readonly visionRuns: number;
  readonly textRuns: number;
  readonly tilesEncoded: number;
  readonly tileCache: LruStats;
  readonly textCache: LruStats;
}

/** A loaded base model. Holds two ONNX sessions: call `dispose()`. */
export interface BaseEncoder {
  readonly info: BaseEncoderInfo;
  /** Embedding size, known after the first encode. */
  readonly dim: number | undefined;
  embedQuery(query: ScoreQuery, timings?: StageTimings): Promise<QueryEmbedding>;
  embedTiles(source: TileSource, options?: { readonly signal?: AbortSignal; readonly timings?: StageTimings }): Promise<TileEmbeddings>;
  stats(): BaseEncoderStats;
  clearCache(): void;
  dispose(): Promise<void>;
}

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

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
  const defaults = BASE_DEFAULTS[family];
  const warn: Warn = options.warn ?? ((m) => process.emitWarning(m, { code: 'SEMCLIP_SCORER' }));
  const template = checkTemplate(options.template);
  const choices = checkChoiceMode(options.choices);
  const textCacheSize = options.textCacheSize ?? 512;
  if (!Number.isInteger(textCacheSize) || textCacheSize < 0) {
    throw new SemclipError('INVALID_ARGUMENT', `textCacheSize ${String(textCacheSize)} is not valid.`, { expected: 'an integer >= 0' });
  }
  const tileLimits =
    options.tileCache === false ? { maxEntries: 0 } : { maxEntries: options.tileCache?.maxEntries ?? 4096, maxBytes: options.tileCache?.maxBytes ?? 64 * 1024 * 1024 };
  if (!Number.isInteger(tileLimits.maxEntries) || tileLimits.maxEntries < 0 || !(tileLimits.maxBytes === undefined || tileLimits.maxBytes >= 0)) {
    throw new SemclipError('INVALID_ARGUMENT', `tileCache ${JSON.stringify(options.tileCache)} is not valid.`, { expected: '{ maxEntries: integer >= 0, maxBytes: number >= 0 } or false' });
  }
  const threads = options.intraOpNumThreads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `intraOpNumThreads ${String(threads)} is not valid.`, { expected: 'a positive integer' });
  }
  const device = resolveDevice(options.device ?? 'auto', warn);
  const loc = await locateModel(family, defaults.model, options);
  const config = await checkModelFolder(family, loc);
  const loaded = await loadModel(family, loc, config, device, options.intraOpNumThreads);
  let pixels: ReturnType<typeof pixelSpecFrom>;
  try {
    pixels = pixelSpecFrom(loaded.processor, loc.dir);
  } catch (err) {
    await Promise.all([loaded.text.dispose(), loaded.vision.dispose()]).catch(() => undefined);
    throw err;
  }
  const fromTokenizer = (loaded.tokenizer as unknown as { model_max_length?: number }).model_max_length;
  const fromConfig = int((config.text_config as Record<string, unknown> | undefined)?.max_position_embeddings);
  const limits = [Number.isFinite(fromTokenizer) ? int(fromTokenizer) : undefined, fromConfig].filter((v): v is number => v !== undefined);
  const maxTokens = limits.length > 0 ? Math.min(...limits) : defaults.maxTokens;
  const outputs = towerOutputs(family);
  const textInputs = loaded.text.sessions.model!.inputNames;
  const modelKey = loc.manifest ? `${loc.manifest.repo}@${loc.manifest.revision}:${loc.dtype}` : folderStamp(loc);

  const textCache = new LruCache<string, { vector: Float32Array; truncated: boolean }>({ maxEntries: textCacheSize });
  const tileCache = new LruCache<string, Float32Array>(tileLimits, (v) => v.byteLength + 96);
  const pending = new Map<string, Promise<unknown>>();
  let visionRuns = 0;
  let textRuns = 0;
  let tilesEncoded = 0;
  let disposed = false;
  let dim: number | undefined;

  const info: BaseEncoderInfo = {
    family,
    model: loc.id,
    ...(loc.manifest ? { repo: loc.manifest.repo, revision: loc.manifest.revision } : {}),
    dir: loc.dir,
    dtype: loc.dtype,
    device,
    imageSize: { ...pixels.size },
    maxTokens,
    choices,
    ...(template === undefined ? {} : { template }),
    modelKey,
  };

  function alive(): void {
    if (disposed) {
      throw new SemclipError('INVALID_ARGUMENT', `This ${family} base encoder was disposed; its ONNX sessions are closed.`, { hint: 'Create a new one' });
    }
  }

  function take(out: Record<string, { dims: readonly number[]; data: ArrayLike<number> }>, name: string, rows: number, what: string): Float32Array {
    const t = out[name];
    if (!t || t.dims.length !== 2 || t.dims[0] !== rows) {
      throw new SemclipError('MODEL_OUTPUT_INVALID', `The ${what} gave ${name} with shape [${t?.dims.join(', ') ?? 'none'}], expected [${rows}, dim].`, { hint: loc.fix });
    }
    assertFinite(t.data, `The ${what}'s ${name}`);
    const d = t.dims[1]!;
    if (dim === undefined) dim = d;
    else if (d !== dim) {
      throw new SemclipError('MODEL_INVALID', `The ${what} gives ${d}-dimensional embeddings but the other tower gives ${dim}.`, { hint: loc.fix });
    }
    const data = Float32Array.from(t.data);
    normaliseRows(data, rows, d);
    return data;
  }

  async function embedQuery(query: ScoreQuery, timings?: StageTimings): Promise<QueryEmbedding> {
    alive();
    const t = timings ?? { preprocess: 0, encode: 0, score: 0 };
    const texts = queryTexts(query, template, choices);
    // Keyed as the clip scorer keys its text cache: a huge text by the prefix tokenize keeps.
    const keys = texts.map((text) => textCacheKey(text, maxTokens));
    const found = keys.map((key) => textCache.get(key));
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
      const out = await loaded.text(pickInputs(batch.inputs, textInputs));
      textRuns += 1;
      t.encode += performance.now() - start;
      const data = take(out, outputs.text, missing.length, 'text tower');
      const d = data.length / missing.length;
      missing.forEach(([key], i) => {
        const entry = { vector: data.slice(i * d, (i + 1) * d), truncated: batch.truncated[i]! };
        textCache.set(key, entry);
        keys.forEach((k2, j) => {
          if (k2 === key) found[j] = entry;
        });
      });
    }
    const entries = found as { vector: Float32Array; truncated: boolean }[];
    const d = entries[0]!.vector.length;
    const q = new Float32Array(d);
    for (const e of entries) for (let i = 0; i < d; i++) q[i]! += e.vector[i]!;
    normaliseRows(q, 1, d);
    const truncated = entries.some((e) => e.truncated);
    if (truncated) warn(`SemClip: a ${family} query text is longer than the model's ${maxTokens}-token context; it was truncated.`);
    return { vector: q, texts, truncated, cacheHits: texts.length - missing.length };
  }

  async function embedTiles(source: TileSource, opts: { readonly signal?: AbortSignal; readonly timings?: StageTimings } = {}): Promise<TileEmbeddings> {
    alive();
    if (!source || !source.grid || !Array.isArray(source.grid.tiles) || typeof source.id !== 'string') {
      throw new SemclipError('INVALID_ARGUMENT', 'The tile source is not a TileSource.', { hint: 'Pass the result of tileImage() from @semclip/tiling' });
    }
    const t = opts.timings ?? { preprocess: 0, encode: 0, score: 0 };
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
      throwIfAborted(opts.signal);
      alive();
      start = performance.now();
      const out = await loaded.vision({ pixel_values: new Tensor('float32', px.data, px.dims) });
      visionRuns += 1;
      tilesEncoded += missing.length;
      t.encode += performance.now() - start;
      const data = take(out, outputs.vision, missing.length, 'vision tower');
      const d = data.length / missing.length;
      missing.forEach((tile, k) => {
        const v = data.slice(k * d, (k + 1) * d);
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

  return {
    info,
    get dim() {
      return dim;
    },
    embedQuery,
    embedTiles,
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
      await Promise.all([loaded.text.dispose(), loaded.vision.dispose()]);
    },
  };
}
