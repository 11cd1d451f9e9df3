import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type {
  AnswerRequest,
  BenchmarkItem,
  BenchmarkName,
  Box,
  ChooseRequest,
  EncodedImage,
  ImageInput,
  PromptImage,
  RawImage,
  RelevanceScorer,
  SelectedRegion,
  Selection,
  Size,
  Tile,
  TileScores,
  TileSource,
  VlmRunner,
} from '@semclip/core';
import { IMAGE_ERROR_CODES, SemclipError, isSemclipError, throwIfAborted } from '@semclip/core';
import { judge } from '../answer/judge.js';
import { buildPrompt } from '../answer/prompt.js';
import type { BenchmarkDataset } from '../data/types.js';
import { EVAL_METHODS, SCORED_METHODS, parseMethods, type EvalMethod } from './methods.js';
import {
  RESULTS_FORMAT,
  RESULTS_VERSION,
  diffConfig,
  fileSize,
  parseResults,
  resultKey,
  truncateFile,
  type EvalResultRow,
  type JsonValue,
  type RunConfig,
  type RunHeader,
} from './results.js';
import { selectItems, stableHash, type Shard } from './shard.js';
import { AppendWriter, Semaphore } from './_writer.js';
import { majorityVote } from './_vote.js';

/** Encoding options for images sent to the VLM. */
export interface EvalImageFormat {
  readonly format?: 'jpeg' | 'png' | 'webp';
  readonly quality?: number;
  readonly maxSide?: number;
}

/**
 * A tile source, optionally with `encode` (as `@semclip/tiling`'s `TiledImage` has): then
 * images go to the VLM already encoded, cut and shrunk in one pass; without it they go as
 * decoded pixels from `crop`.
 */
export interface EvalTileSource extends TileSource {
  encode?(box: Box | 'overview', options?: EvalImageFormat): Promise<EncodedImage>;
}

/** Which regions SemClip sends: a `Selection` from `@semclip/selector` fits. */
export interface TileChoice {
  readonly includeOverview: boolean;
  readonly regions: readonly Pick<SelectedRegion, 'tiles' | 'box'>[];
}

/** Turns a scorer's scores into the regions to send (e.g. `(s, src) => select(s, src.grid, { k: 1 })`). */
export type SelectTiles = (scores: TileScores, source: TileSource) => TileChoice | Selection;

/** What the run is doing, after each item. */
export interface RunProgress {
  /** Items this run covers (after `limit` and `shard`). */
  readonly itemsTotal: number;
  /** Items finished, counting those the file already had. */
  readonly itemsDone: number;
  /** Items already complete in the file when the run started. */
  readonly itemsSkipped: number;
  readonly rowsWritten: number;
  readonly vlmCalls: number;
  /** Items recorded with an error (e.g. a missing image). */
  readonly errors: number;
  readonly elapsedMs: number;
  /** Items per second finished by this run (0 until the first). */
  readonly rate: number;
  /** Time left at the current rate; `null` until the first item finishes. */
  readonly etaMs: number | null;
}

export interface RunEvaluationOptions {
  /** The benchmark, from `loadBenchmark` (it must have answers). */
  readonly dataset: BenchmarkDataset;
  /** Methods to run, `'all'`, or a comma-separated string. */
  readonly methods: readonly EvalMethod[] | string;
  readonly runner: VlmRunner;
  /** Ranks the tiles; needed by `semclip` and `subimage-only`. */
  readonly scorer?: RelevanceScorer;
  /** Opens an item's image with its grid, e.g. `(image) => tileImage(image, { grid: '2x2' })`. */
  readonly openImage: (image: ImageInput, item: BenchmarkItem) => Promise<EvalTileSource>;
  /** Picks SemClip's regions from the scores. Default: the best level-1 tile with the overview (k = 1). */
  readonly select?: SelectTiles;
  /** The JSON-lines results file; created, or resumed when it exists. */
  readonly out: string;
  /** Default 0. The `random` method uses seeds `seed` ... `seed + repeats - 1`. */
  readonly seed?: number;
  /** Random sub-image repeats. Default 3. */
  readonly repeats?: number;
  /** Only the first `limit` items (data order), before sharding. */
  readonly limit?: number;
  /** `i/n` (1-based): this machine's part of the items, by a stable hash of the item id. */
  readonly shard?: Shard | string;
  /** VLM calls in flight at once (give the runner at least as many). Default 4. */
  readonly concurrency?: number;
  /** Items scored at once. Default 1 (scorers use every core themselves). */
  readonly scoreConcurrency?: number;
  /** Default JPEG, quality 90, long side at most 1024 px. */
  readonly imageFormat?: EvalImageFormat;
  /** `maxTokens` for free-text answers (default: the runner's). */
  readonly maxTokens?: number;
  /** What the caller wired (grid, scorer, selection...): part of the config a resume must match. */
  readonly setup?: { readonly [key: string]: JsonValue };
  /** Recorded in the header but not compared (VLM URL, versions...). */
  readonly info?: { readonly [key: string]: JsonValue };
  /** Per-item failures (missing image, unreadable answer): `record` (default) writes them as wrong rows with `error`; `throw` stops the run. */
  readonly onItemError?: 'record' | 'throw';
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
}

export interface RunSummary {
  readonly out: string;
  readonly benchmark: BenchmarkName;
  readonly methods: readonly EvalMethod[];
  /** Items this run covers. */
  readonly items: number;
  /** Rows those items need (items x methods, `random` once per repeat). */
  readonly keys: number;
  /** Rows written by this call. */
  readonly written: number;
  /** Rows the file already had. */
  readonly skipped: number;
  readonly vlmCalls: number;
  /** Items recorded with an error. */
  readonly errors: number;
  /** Bytes of a half-written last line that were dropped before resuming. */
  readonly repairedBytes: number;
  /** True when the file existed (this call resumed it). */
  readonly resumed: boolean;
  readonly elapsedMs: number;
  readonly config: RunConfig;
}

/** Errors that belong to one item; anything else (the VLM server down, a bug) stops the run. */
const ITEM_ERRORS = new Set<string>([
  'DATASET_NOT_FOUND',
  'DATASET_INVALID',
  ...IMAGE_ERROR_CODES,
  'MODEL_OUTPUT_INVALID',
  'INVALID_QUESTION',
]);

const isItemError = (err: unknown): err is SemclipError => isSemclipError(err) && ITEM_ERRORS.has(err.code);

interface Outcome {
  readonly reply?: string | { readonly index: number };
  readonly predicted: string | null;
  readonly correct: boolean;
  readonly via: 'choose' | 'text';
  readonly visualTokens: number;
  readonly latencyMs: number;
  readonly images: number;
  readonly error?: { readonly code: string; readonly message: string };
}

interface Wanted {
  readonly method: EvalMethod;
  readonly seed: number;
}

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new SemclipError('INVALID_ARGUMENT', `${name} ${String(value)} is not valid.`, { expected: `an integer from ${min} to ${max}` });
  }
  return v;
}

const boxKey = (b: Box) => `${b.x},${b.y},${b.width},${b.height}`;

/** The stem of a multiple-choice prompt (hint + question) without its option lines, for `choose`. */
function stemOf(question: string, options: readonly string[]): string {
  const block = options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`).join('\n');
  return question.endsWith(`\n${block}`) ? question.slice(0, -(block.length + 1)) : question;
}

/**
 * The tile `random` sends for one item and seed: a stable hash, so every resume and shard agrees.
 *
 * @example
 * ```ts
 * randomTile(0, 'vstar', 'direct_attributes/sa_4690', 4); // the same index in 0..3 on every machine
 * ```
 */
export function randomTile(seed: number, benchmark: string, itemId: string, tiles: number): number {
  return stableHash(`${seed}\u0000${benchmark}\u0000${itemId}`) % tiles;
}

/**
 * The best `k` level-1 tiles by score (ties: lower index first), with the overview: the
 * default selection of `runEvaluation` when no `select` is given.
 *
 * @example
 * ```ts
 * topTiles(await scorer.score({ question }, tiled), tiled, 1).regions[0]?.tiles; // [2]
 * ```
 */
export function topTiles(scores: TileScores, source: TileSource, k = 1): TileChoice {
  const level1 = source.grid.tiles.filter((t) => t.level === 1);
  const ranked = [...level1].sort((a, b) => (scores.scores[b.index] ?? -Infinity) - (scores.scores[a.index] ?? -Infinity) || a.index - b.index);
  return { includeOverview: true, regions: ranked.slice(0, k).map((t) => ({ tiles: [t.index], box: t.box })) };
}

/**
 * A short stable fingerprint of a benchmark's ids and answers: a resume against other data is refused.
 *
 * @example
 * ```ts
 * datasetFingerprint(await loadBenchmark('pope', 'pope/rev_e3e3926')); // '3f1c...' (16 hex digits)
 * ```
 */
export function datasetFingerprint(dataset: BenchmarkDataset): string {
  const h = createHash('sha256');
  h.update(dataset.benchmark);
  for (const item of dataset.items) h.update(`\n${item.id}\t${item.answer}`);
  return h.digest('hex').slice(0, 16);
}

/**
 * Runs methods over a benchmark and appends one JSON line per (benchmark, item, method,
 * seed) to `out` as items finish (written and synced per batch). Running the same call again
 * resumes: rows already in the file are not asked again, a half-written last line from a
 * crash is dropped, and a file made with another config is refused with `RESULTS_INVALID`.
 *
 * Per item the VLM is called once per distinct prompt: the overview alone (`baseline`), the
 * overview with each tile (shared by `random`, `majority`, `oracle`, and `semclip` when it
 * selects one tile), the selected tiles alone (`subimage-only`) and the overview with every
 * tile (`all-tiles`). Multiple choice goes through `runner.choose` when the runner reports
 * logprobs, and through `answer` plus `extractAnswer` otherwise.
 *
 * The engine takes core contracts, so `@semclip/eval` stays free of image and model
 * libraries: pass a runner (`@semclip/vlm-runner`), a scorer (`@semclip/scorers`), a tiler
 * (`@semclip/tiling`) and optionally a selector (`@semclip/selector`).
 *
 * @example
 * ```ts
 * import { loadBenchmark, runEvaluation } from '@semclip/eval';
 * import { tileImage } from '@semclip/tiling';
 * import { createScorer } from '@semclip/scorers';
 * import { select } from '@semclip/selector';
 * import { createRunner } from '@semclip/vlm-runner';
 *
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', { concurrency: 8 });
 * const summary = await runEvaluation({
 *   dataset: await loadBenchmark('vstar', 'data/vstar_bench'),
 *   methods: 'all',
 *   runner,
 *   scorer: await createScorer('ocr'),
 *   openImage: (image) => tileImage(image, { grid: '2x2' }),
 *   select: (scores, source) => select(scores, source.grid, { k: 1 }),
 *   setup: { grid: '2x2', scorer: 'ocr', k: 1 },
 *   out: 'results/vstar.jsonl',
 *   concurrency: 8,
 *   onProgress: (p) => console.error(`${p.itemsDone}/${p.itemsTotal}`),
 * });
 * console.log(summary.written, summary.vlmCalls);
 * ```
 */
export async function runEvaluation(options: RunEvaluationOptions): Promise<RunSummary> {
  const started = performance.now();
  const { dataset, runner } = options;
  const methods = typeof options.methods === 'string' ? parseMethods(options.methods) : parseMethods(options.methods);
  const seed = int('Seed', options.seed, 0, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const repeats = int('Repeats', options.repeats, 3, 1, 1000);
  const concurrency = int('Concurrency', options.concurrency, 4, 1, 1024);
  const scoreConcurrency = int('Score concurrency', options.scoreConcurrency, 1, 1, 1024);
  const maxTokens = options.maxTokens === undefined ? null : int('maxTokens', options.maxTokens, 0, 1, 1_000_000);
  const imageFormat = {
    format: options.imageFormat?.format ?? 'jpeg',
    quality: int('Image quality', options.imageFormat?.quality, 90, 1, 100),
    maxSide: int('Image maxSide', options.imageFormat?.maxSide, 1024, 16, 16384),
  } as const;
  if (!options.out || typeof options.out !== 'string') {
    throw new SemclipError('INVALID_ARGUMENT', 'No results file given.', { expected: 'out: a path like results/vstar.jsonl' });
  }
  if (methods.some((m) => SCORED_METHODS.includes(m)) && !options.scorer) {
    throw new SemclipError('INVALID_ARGUMENT', `Methods ${methods.filter((m) => SCORED_METHODS.includes(m)).join(', ')} need a relevance scorer.`, {
      expected: 'a scorer (createScorer from @semclip/scorers; CLI: --scorer)',
      hint: 'Pass a scorer, or run only baseline, random, majority, oracle and all-tiles',
    });
  }
  if (!dataset.hasAnswers) {
    throw new SemclipError('DATASET_INVALID', `${dataset.source} has no ground truth, so answers cannot be judged. ${dataset.warnings.join(' ')}`.trim(), {
      expected: 'benchmark files with answers',
      hint: 'Point to the annotated files (for LLaVA question files: --annotations)',
    });
  }
  const items = selectItems(dataset.items, {
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
  });
  const benchmark = dataset.benchmark;
  const config: RunConfig = {
    benchmark,
    data: { format: dataset.format, items: dataset.items.length, fingerprint: datasetFingerprint(dataset) },
    vlm: { id: runner.id, model: runner.model, visualTokensPerImage: runner.visualTokensPerImage },
    seed,
    repeats,
    image: imageFormat,
    maxTokens,
    setup: options.setup ?? {},
  };

  // Open (or resume) the results file.
  const out = resolve(options.out);
  const existing = new Set<string>();
  let resumed = false;
  let repairedBytes = 0;
  const size = await fileSize(out);
  if (size > 0) {
    const buf = await readFile(out);
    const parsed = parseResults(buf, out);
    if (!parsed) {
      // No complete line: a header cut off by a crash, or some other file.
      if (!buf.toString('utf8', 0, Math.min(buf.length, 40)).startsWith(`{"type":"${RESULTS_FORMAT}"`)) {
        throw new SemclipError('RESULTS_INVALID', `${out} exists and is not a semclip eval results file.`, {
          hint: 'Choose another --out; SemClip does not overwrite other files',
          details: { path: out },
        });
      }
      repairedBytes = buf.length;
      await truncateFile(out, 0);
    } else {
      const diff = diffConfig(parsed.header.config, config);
      if (diff.length > 0) {
        const shown = diff.slice(0, 6).map((d) => `${d.path}: ${JSON.stringify(d.file)} in the file, ${JSON.stringify(d.now)} now`);
        throw new SemclipError('RESULTS_INVALID', `${out} holds results of another configuration (${shown.join('; ')}).`, {
          hint: 'Resume with the same settings as the run that made the file, or write these results to another --out',
          details: { path: out, differences: diff.map((d) => ({ path: d.path, file: d.file as never, now: d.now as never })) },
        });
      }
      resumed = true;
      for (const row of parsed.rows) existing.add(resultKey(row));
      if (parsed.truncatedBytes > 0) {
        repairedBytes = parsed.truncatedBytes;
        await truncateFile(out, parsed.validBytes);
      }
    }
  }
  await mkdir(dirname(out), { recursive: true });
  const writer = await AppendWriter.open(out);
  try {
    if (!resumed) {
      const header: RunHeader = {
        type: RESULTS_FORMAT,
        version: RESULTS_VERSION,
        createdAt: new Date().toISOString(),
        config,
        info: { data: dataset.source, ...(options.info ?? {}) },
      };
      await writer.append([JSON.stringify(header)]);
    }

    const randomSeeds = Array.from({ length: repeats }, (_, r) => seed + r);
    const wantedAll: Wanted[] = methods.flatMap((method): Wanted[] => (method === 'random' ? randomSeeds.map((s) => ({ method, seed: s })) : [{ method, seed }]));
    const todo: Array<{ item: BenchmarkItem; wanted: Wanted[] }> = [];
    let skipped = 0;
    for (const item of items) {
      const wanted = wantedAll.filter((w) => !existing.has(resultKey({ benchmark, item: item.id, method: w.method, seed: w.seed })));
      skipped += wantedAll.length - wanted.length;
      if (wanted.length > 0) todo.push({ item, wanted });
    }

    const calls = new Semaphore(concurrency);
    const scoring = new Semaphore(scoreConcurrency);
    const internal = new AbortController();
    const onAbort = () => internal.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const signal = internal.signal;

    const itemsSkipped = items.length - todo.length;
    let itemsDone = itemsSkipped;
    let doneThisRun = 0;
    let written = 0;
    let vlmCalls = 0;
    let errors = 0;
    const report = () => {
      if (!options.onProgress) return;
      const elapsedMs = performance.now() - started;
      const rate = doneThisRun > 0 ? doneThisRun / (elapsedMs / 1000) : 0;
      const left = items.length - itemsDone;
      options.onProgress({
        itemsTotal: items.length,
        itemsDone,
        itemsSkipped,
        rowsWritten: written,
        vlmCalls,
        errors,
        elapsedMs,
        rate,
        etaMs: rate > 0 ? (left / rate) * 1000 : left === 0 ? 0 : null,
      });
    };
    report();

    const ctx: ItemContext = {
      benchmark,
      runner,
      scorer: options.scorer,
      openImage: options.openImage,
      select: options.select ?? ((scores, source) => topTiles(scores, source, 1)),
      imageFormat,
      maxTokens,
      calls,
      scoring,
      signal,
      onCall: () => void vlmCalls++,
      onItemError: options.onItemError ?? 'record',
    };

    let fatal: unknown;
    let next = 0;
    // Writes are synced in the background (group commit), so a worker moves on to the next item
    // at once; an item counts as done only once its rows are on disk.
    const writes: Promise<void>[] = [];
    // A few more items than call slots, so slots stay busy while items load and score.
    const workers = Array.from({ length: Math.min(todo.length, concurrency + 2) }, async () => {
      while (fatal === undefined && !signal.aborted) {
        const job = todo[next++];
        if (!job) return;
        try {
          const rows = await evaluateItem(ctx, job.item, job.wanted);
          writes.push(
            writer.append(rows.map((r) => JSON.stringify(r))).then(
              () => {
                if (rows.some((r) => r.error)) errors++;
                written += rows.length;
                itemsDone++;
                doneThisRun++;
                report();
              },
              (err: unknown) => {
                if (fatal === undefined) fatal = err;
              },
            ),
          );
        } catch (err) {
          if (fatal === undefined) fatal = err;
        }
      }
    });
    await Promise.all(workers);
    await Promise.all(writes);
    options.signal?.removeEventListener('abort', onAbort);
    if (options.signal?.aborted) throwIfAborted(options.signal);
    if (fatal !== undefined) throw fatal;

    return {
      out,
      benchmark,
      methods,
      items: items.length,
      keys: items.length * wantedAll.length,
      written,
      skipped,
      vlmCalls,
      errors,
      repairedBytes,
      resumed,
      elapsedMs: performance.now() - started,
      config,
    };
  } finally {
    await writer.close();
  }
}

interface ItemContext {
  readonly benchmark: BenchmarkName;
  readonly runner: VlmRunner;
  readonly scorer: RelevanceScorer | undefined;
  readonly openImage: RunEvaluationOptions['openImage'];
  readonly select: SelectTiles;
  readonly imageFormat: Required<EvalImageFormat>;
  readonly maxTokens: number | null;
  readonly calls: Semaphore;
  readonly scoring: Semaphore;
  readonly signal: AbortSignal;
  readonly onCall: () => void;
  readonly onItemError: 'record' | 'throw';
}

function errorInfo(err: SemclipError): { code: string; message: string } {
  return { code: err.code, message: err.message };
}

async function evaluateItem(ctx: ItemContext, item: BenchmarkItem, wanted: readonly Wanted[]): Promise<EvalResultRow[]> {
  const base = judge(item, undefined);
  const meta = {
    answer: item.answer,
    ...(base.category !== undefined ? { category: base.category } : {}),
    ...(base.group !== undefined ? { group: base.group } : {}),
    ...(base.hasImage !== undefined ? { hasImage: base.hasImage } : {}),
  };
  const row = (w: Wanted, fields: Omit<EvalResultRow, 'type' | 'benchmark' | 'item' | 'method' | 'seed' | 'answer'>): EvalResultRow => ({
    type: 'result',
    benchmark: ctx.benchmark,
    item: item.id,
    method: w.method,
    seed: w.seed,
    ...meta,
    ...fields,
  });

  let source: EvalTileSource;
  let scores: TileScores | undefined;
  let scoreMs = 0;
  const needsScores = wanted.some((w) => SCORED_METHODS.includes(w.method));
  try {
    throwIfAborted(ctx.signal);
    source = await ctx.openImage(await item.image(), item);
    if (needsScores && ctx.scorer) {
      const scorer = ctx.scorer;
      scores = await ctx.scoring.use(async () => {
        const t0 = performance.now();
        const s = await scorer.score({ question: item.question, ...(item.options ? { options: item.options } : {}) }, source, { signal: ctx.signal });
        scoreMs = performance.now() - t0;
        return s;
      });
    }
  } catch (err) {
    if (!isItemError(err) || ctx.onItemError === 'throw') throw err;
    // The item cannot be answered at all: every wanted row records why (counted wrong).
    return wanted.map((w) =>
      row(w, { predicted: null, correct: false, via: 'text', overview: false, tiles: [], images: 0, visualTokens: 0, vlmCalls: 0, latencyMs: 0, error: errorInfo(err) }),
    );
  }

  const level1: Tile[] = source.grid.tiles.filter((t) => t.level === 1);
  const size: Size = source.size;
  const encoded = new Map<string, Promise<RawImage | EncodedImage>>();
  const imageFor = (box: Box | 'overview'): Promise<RawImage | EncodedImage> => {
    const key = box === 'overview' ? 'overview' : boxKey(box);
    let p = encoded.get(key);
    if (!p) {
      const whole: Box = { x: 0, y: 0, width: size.width, height: size.height };
      p = source.encode ? source.encode(box, ctx.imageFormat) : source.crop(box === 'overview' ? whole : box, { maxSide: ctx.imageFormat.maxSide });
      encoded.set(key, p);
    }
    return p;
  };

  const prompt = buildPrompt(item);
  const options = item.options && item.options.length > 0 ? item.options : undefined;
  const asked = new Map<string, Promise<Outcome>>();
  const ask = (overview: boolean, boxes: readonly Box[]): Promise<Outcome> => {
    const key = `${overview ? 'O' : '-'}|${boxes.map(boxKey).join(';')}`;
    let p = asked.get(key);
    if (!p) {
      p = (async (): Promise<Outcome> => {
        const images: PromptImage[] = await Promise.all([
          ...(overview ? [imageFor('overview').then((image): PromptImage => ({ role: 'overview', image }))] : []),
          ...boxes.map((box) => imageFor(box).then((image): PromptImage => ({ role: 'region', image, box }))),
        ]);
        return ctx.calls.use(async () => {
          throwIfAborted(ctx.signal);
          ctx.onCall();
          const t0 = performance.now();
          try {
            if (options && ctx.runner.capabilities.logprobs) {
              const request: ChooseRequest & { imageSize: Size } = {
                images,
                question: stemOf(prompt.question, options),
                instruction: prompt.instruction,
                options,
                signal: ctx.signal,
                imageSize: size,
              };
              const choice = await ctx.runner.choose(request);
              const j = judge(item, { index: choice.index });
              return {
                reply: { index: choice.index },
                predicted: j.predicted,
                correct: j.correct,
                via: 'choose',
                visualTokens: choice.usage.visual,
                latencyMs: choice.latencyMs ?? performance.now() - t0,
                images: images.length,
              };
            }
            const request: AnswerRequest & { imageSize: Size } = {
              images,
              question: prompt.question,
              instruction: prompt.instruction,
              ...(ctx.maxTokens === null ? {} : { maxTokens: ctx.maxTokens }),
              signal: ctx.signal,
              imageSize: size,
            };
            const answer = await ctx.runner.answer(request);
            const j = judge(item, answer.text);
            return {
              reply: answer.text,
              predicted: j.predicted,
              correct: j.correct,
              via: 'text',
              visualTokens: answer.usage.visual,
              latencyMs: answer.latencyMs ?? performance.now() - t0,
              images: images.length,
            };
          } catch (err) {
            if (!isItemError(err) || ctx.onItemError === 'throw') throw err;
            return { predicted: null, correct: false, via: 'text', visualTokens: 0, latencyMs: performance.now() - t0, images: images.length, error: errorInfo(err) };
          }
        });
      })();
      asked.set(key, p);
    }
    return p;
  };

  const fromOutcome = (w: Wanted, o: Outcome, overview: boolean, tiles: readonly number[], extraMs = 0): EvalResultRow =>
    row(w, {
      predicted: o.predicted,
      correct: o.correct,
      ...(o.reply === undefined ? {} : { reply: o.reply }),
      via: o.via,
      overview,
      tiles,
      images: o.images,
      visualTokens: o.visualTokens,
      vlmCalls: 1,
      latencyMs: o.latencyMs + extraMs,
      ...(SCORED_METHODS.includes(w.method) ? { scoreMs: extraMs } : {}),
      ...(o.error ? { error: o.error } : {}),
    });

  let choice: TileChoice | undefined;
  if (scores) choice = ctx.select(scores, source);
  const perTile = () => level1.map((t) => ask(true, [t.box]).then((o) => ({ tile: t.index, o })));

  const rows = await Promise.all(
    wanted.map(async (w): Promise<EvalResultRow> => {
      switch (w.method) {
        case 'baseline':
          return fromOutcome(w, await ask(true, []), true, []);
        case 'semclip': {
          const c = choice as TileChoice;
          const overview = c.includeOverview || c.regions.length === 0;
          return fromOutcome(w, await ask(overview, c.regions.map((r) => r.box)), overview, c.regions.flatMap((r) => r.tiles), scoreMs);
        }
        case 'subimage-only': {
          const c = choice as TileChoice;
          // Adaptive selection may keep nothing; "sub-image only" then sends the top-ranked tile.
          const regions = c.regions.length > 0 ? c.regions : topTiles(scores as TileScores, source, 1).regions;
          return fromOutcome(w, await ask(false, regions.map((r) => r.box)), false, regions.flatMap((r) => r.tiles), scoreMs);
        }
        case 'random': {
          const t = level1[randomTile(w.seed, ctx.benchmark, item.id, level1.length)] as Tile;
          return fromOutcome(w, await ask(true, [t.box]), true, [t.index]);
        }
        case 'all-tiles':
          return fromOutcome(w, await ask(true, level1.map((t) => t.box)), true, level1.map((t) => t.index));
        case 'majority':
        case 'oracle': {
          const answers = await Promise.all(perTile());
          const vote = majorityVote(answers.map((a) => ({ tile: a.tile, predicted: a.o.predicted, correct: a.o.correct })));
          const failed = answers.every((a) => a.o.error) ? answers[0]?.o.error : undefined;
          if (w.method === 'majority') {
            return row(w, {
              predicted: vote.predicted,
              correct: vote.predicted !== null && item.answer !== '' && vote.predicted === item.answer,
              via: 'vote',
              overview: true,
              tiles: answers.map((a) => a.tile),
              images: answers[0]?.o.images ?? 0,
              visualTokens: answers.reduce((s, a) => s + a.o.visualTokens, 0),
              vlmCalls: answers.length,
              latencyMs: answers.reduce((s, a) => s + a.o.latencyMs, 0),
              votes: vote.votes,
              ...(failed ? { error: failed } : {}),
            });
          }
          // The oracle knows which tile to send: its cost is that one call.
          const right = answers.find((a) => a.o.correct);
          const rep = right ?? answers[0];
          return row(w, {
            predicted: right ? right.o.predicted : vote.predicted,
            correct: right !== undefined,
            via: 'oracle',
            overview: true,
            tiles: rep ? [rep.tile] : [],
            images: rep?.o.images ?? 0,
            visualTokens: rep?.o.visualTokens ?? 0,
            vlmCalls: answers.length,
            latencyMs: rep?.o.latencyMs ?? 0,
            ...(failed ? { error: failed } : {}),
          });
        }
      }
    }),
  );
  // Keep the canonical method order in the file, whatever finished first.
  return rows.sort((a, b) => EVAL_METHODS.indexOf(a.method) - EVAL_METHODS.indexOf(b.method) || a.seed - b.seed);
}
