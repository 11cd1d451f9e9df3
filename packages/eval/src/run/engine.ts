import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { resolve } from 'node:path';
import type { BenchmarkItem, BenchmarkName, PipelineStages, VlmRunner } from '@semclip/core';
import { Semaphore, SemclipError, intOption, throwIfAborted } from '@semclip/core';
import type { BenchmarkDataset } from '../data/types.js';
import { SCORED_METHODS, STRATEGY_METHODS, parseMethods, type EvalMethod, type StrategyMethod } from './methods.js';
import type { EvalStrategy } from './_item.js';
import { failureCause, resultKey, type EvalResultRow, type FailureCause, type JsonValue, type RunConfig } from './results.js';
import { selectItems, type Shard } from './shard.js';
import { evaluateItem, type ItemContext, type Wanted } from './_item.js';
import { openResultsFile } from './_results-file.js';
import type { AppendWriter } from './_writer.js';
import type { OutputLock } from './lock.js';
import { trainingOverlap, type TrainingOverlap } from './overlap.js';

/**
 * The SemClip flow the engine runs each item through: `createPipeline` from
 * `@semclip/pipeline` makes one. Its `imageFormat` and `padding` are recorded in the results
 * config, since the answers depend on them.
 */
export type EvalPipeline = PipelineStages;

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
  /** The VLM that answers. */
  readonly runner: VlmRunner;
  /** Implementations of the strategy methods (`zoom`, `pack`), needed when they are asked for. */
  readonly strategies?: Partial<Record<StrategyMethod, EvalStrategy>>;
  /**
   * Opens, scores and selects each item's tiles and builds the images the VLM gets, e.g.
   * `createPipeline({ scorer: 'clip', grid: '2x2', select: { k: 1 }, runner })`. Scored methods
   * (`semclip`, `subimage-only`) need a pipeline with a scorer (`scorerId` set).
   */
  readonly pipeline: EvalPipeline;
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
  /** `maxTokens` for free-text answers (default: the runner's). */
  readonly maxTokens?: number;
  /** What the caller wired (grid, scorer, selection...): part of the config a resume must match. */
  readonly setup?: { readonly [key: string]: JsonValue };
  /** Recorded in the header but not compared (VLM URL, versions...). */
  readonly info?: { readonly [key: string]: JsonValue };
  /** Per-item failures (missing image, unreadable answer): `record` (default) writes them as wrong rows with `error`; `throw` stops the run. */
  readonly onItemError?: 'record' | 'throw';
  /**
   * On resume, ask again the keys whose row in the file failed (`error`), appending the new
   * row after the failed one (readers keep the last row per key). Default true; false keeps
   * the failed rows as they are.
   */
  readonly retryFailed?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
  /** Told before any work when the scorer was trained on items of this run (see `RunSummary.trainingOverlap`). */
  readonly onWarning?: (message: string) => void;
  /**
   * One run writes `out` at a time: the run holds `<out>.lock` (see `lockOutputFile`) and a
   * second one fails with `RESULTS_LOCKED`. `forceUnlock` takes the lock even from a live
   * owner (a run on another machine known to be gone). Default false.
   */
  readonly forceUnlock?: boolean;
  /** Told when a stale lock (its process gone) was taken over before the run. */
  readonly onNote?: (message: string) => void;
  /**
   * V* only: how a question is put to the VLM. Either way each question's options are shown in
   * a seeded order of their own (`vstarOptionOrder(seed, item id)`: V*'s files list the right
   * option first), the order is kept in each row (`optionOrder`) and answers are mapped back to
   * the file's letters.
   * - `letters` (default): the options listed as `A. ...` lines, the letter asked for (LLaVA style).
   * - `likelihood`: V*'s own protocol (`vstar_bench_eval.py`): the question alone, without the
   *   options, and the option whose text the model finds most likely (mean log-probability per
   *   token) is the answer. Needs a runner that scores free text (`answerLogprobs` with exact
   *   log-likelihoods: `local:` runners).
   */
  readonly vstarProtocol?: 'letters' | 'likelihood';
}

/** The rows of one run that failed with one error code. */
export interface RunFailure {
  readonly code: string;
  readonly cause: FailureCause;
  /** Rows written with this code. */
  readonly rows: number;
  /** Items with such a row. */
  readonly items: number;
  /** The first few item ids (at most 5), in the order they finished. */
  readonly examples: readonly string[];
  /** The first such row's error message. */
  readonly message: string;
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
  /** Items this call recorded with an error. */
  readonly errors: number;
  /** Rows this call wrote with an error (they count as wrong; a rerun asks them again). */
  readonly failed: number;
  /** `failed / written` (0 when nothing was written). */
  readonly failedFraction: number;
  /** This call's failed rows by error code, most rows first. */
  readonly failures: readonly RunFailure[];
  /** Failed rows of the file that this call asked again (`retryFailed`). */
  readonly retried: number;
  /** Failed rows of the file left as they are (`retryFailed: false`); counted in `skipped`. */
  readonly keptFailed: number;
  /** Bytes of a half-written last line that were dropped before resuming. */
  readonly repairedBytes: number;
  /**
   * Rows the file held twice under one key when this call started (two runs on one file by a
   * SemClip without the writer lock); the last row of each key counts. Not asked again.
   */
  readonly duplicates: number;
  /** Repeated identical header lines the file held (same cause); skipped. */
  readonly extraHeaders: number;
  /** The stale (or forced) lock of `out` this call took over, with why; null when there was none. */
  readonly replacedLock: OutputLock['replaced'] | null;
  /** True when the file existed (this call resumed it). */
  readonly resumed: boolean;
  /**
   * For a trained scorer (the distant scorer's head): how many of this run's items it was
   * trained on. `null` when the scorer is not trained on benchmark items or no method scores.
   */
  readonly trainingOverlap: TrainingOverlap | null;
  readonly elapsedMs: number;
  readonly config: RunConfig;
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

/** The checked numbers of a run's options. */
interface RunSettings {
  readonly methods: readonly EvalMethod[];
  readonly seed: number;
  readonly repeats: number;
  readonly concurrency: number;
  readonly scoreConcurrency: number;
  readonly maxTokens: number | null;
  readonly out: string;
  readonly vstarProtocol: 'letters' | 'likelihood';
}

/** Checks every option before any file or VLM work; throws INVALID_ARGUMENT, UNKNOWN_METHOD or DATASET_INVALID. */
function checkOptions(options: RunEvaluationOptions): RunSettings {
  const methods = parseMethods(options.methods);
  const settings: RunSettings = {
    methods,
    seed: intOption('seed', options.seed, { fallback: 0, min: Number.MIN_SAFE_INTEGER }),
    repeats: intOption('repeats', options.repeats, { fallback: 3, min: 1, max: 1000 }),
    concurrency: intOption('concurrency', options.concurrency, { fallback: 4, min: 1, max: 1024 }),
    scoreConcurrency: intOption('scoreConcurrency', options.scoreConcurrency, { fallback: 1, min: 1, max: 1024 }),
    maxTokens: options.maxTokens === undefined ? null : intOption('maxTokens', options.maxTokens, { fallback: 0, min: 1, max: 1_000_000 }),
    out: typeof options.out === 'string' && options.out !== '' ? resolve(options.out) : '',
    vstarProtocol: options.vstarProtocol ?? 'letters',
  };
  checkVstarProtocol(options, settings.vstarProtocol);
  if (settings.out === '') {
    throw new SemclipError('INVALID_ARGUMENT', 'No results file given.', { expected: 'out: a path like results/vstar.jsonl' });
  }
  const unwired = methods.filter((m) => (STRATEGY_METHODS as readonly string[]).includes(m) && !options.strategies?.[m as StrategyMethod]);
  if (unwired.length > 0) {
    throw new SemclipError('INVALID_ARGUMENT', `Methods ${unwired.join(', ')} need their strategy.`, {
      expected: 'runEvaluation({ strategies: { zoom, pack } }) wired with zoomAsk / packAsk of @semclip/pipeline (the CLI does this)',
    });
  }
  const scored = methods.filter((m) => SCORED_METHODS.includes(m));
  if (scored.length > 0 && options.pipeline.scorerId === undefined) {
    throw new SemclipError('INVALID_ARGUMENT', `Methods ${scored.join(', ')} need a relevance scorer.`, {
      expected: "a pipeline with a scorer (createPipeline({ scorer: 'ocr' }) from @semclip/pipeline; CLI: --scorer)",
      hint: 'Give the pipeline a scorer, or run only baseline, random, majority, oracle and all-tiles',
    });
  }
  if (!options.dataset.hasAnswers) {
    const { dataset } = options;
    throw new SemclipError('DATASET_INVALID', `${dataset.source} has no ground truth, so answers cannot be judged. ${dataset.warnings.join(' ')}`.trim(), {
      expected: 'benchmark files with answers',
      hint: 'Point to the annotated files (for LLaVA question files: --annotations)',
    });
  }
  return settings;
}

/** `vstarProtocol` is known, only for V*, and `likelihood` only with a runner that scores free text. */
function checkVstarProtocol(options: RunEvaluationOptions, protocol: string): void {
  if (protocol !== 'letters' && protocol !== 'likelihood') {
    throw new SemclipError('INVALID_ARGUMENT', `vstarProtocol ${JSON.stringify(protocol)} is not known.`, { expected: "'letters' or 'likelihood'" });
  }
  if (options.vstarProtocol === undefined) return;
  if (options.dataset.benchmark !== 'vstar') {
    throw new SemclipError('INVALID_ARGUMENT', `vstarProtocol applies to V* only, not ${options.dataset.benchmark}.`, {
      hint: 'Drop --vstar-protocol for this benchmark',
    });
  }
  if (protocol === 'likelihood' && !scoresText(options.runner)) {
    throw new SemclipError('INVALID_ARGUMENT', `V*'s likelihood protocol needs a VLM that scores free text; ${options.runner.id} does not.`, {
      expected: 'a local: VLM (it ranks each option text by its own log-likelihood, as vstar_bench_eval.py does)',
      hint: 'Use --vlm local:<model-id>, or --vstar-protocol letters (shuffled options, letter asked for) with an HTTP VLM',
    });
  }
}

/** Runners that give exact log-likelihoods of candidate texts: the local runner's `answerLogprobs`. */
function scoresText(runner: VlmRunner): boolean {
  return runner.id.startsWith('local:') && typeof (runner as { answerLogprobs?: unknown }).answerLogprobs === 'function';
}

/** What a resume must match: the data, the VLM, seeds, image encoding, token cap and the caller's setup. */
function runConfig(options: RunEvaluationOptions, s: RunSettings): RunConfig {
  const { dataset, runner, pipeline } = options;
  const { format, quality, maxSide } = pipeline.imageFormat;
  // Recorded only when images are padded, so files from before padding existed (none) still resume.
  const padding = pipeline.padding?.mode === 'pad-square' ? `pad-square(${pipeline.padding.colour.join(',')})` : undefined;
  return {
    benchmark: dataset.benchmark,
    data: { format: dataset.format, items: dataset.items.length, fingerprint: datasetFingerprint(dataset) },
    vlm: { id: runner.id, model: runner.model, visualTokensPerImage: runner.visualTokensPerImage },
    seed: s.seed,
    repeats: s.repeats,
    image: { format, quality, maxSide, ...(padding ? { padding } : {}) },
    maxTokens: s.maxTokens,
    setup: options.setup ?? {},
    // V*: options shown in a seeded order per item (its files put the right one first).
    ...(dataset.benchmark === 'vstar' ? { vstar: { protocol: s.vstarProtocol, optionOrder: 'shuffled' as const, shuffleSeed: s.seed } } : {}),
  };
}

/** The rows every item needs (`random` once per seed), and per item those the file does not hold yet. */
function planWork(items: readonly BenchmarkItem[], benchmark: BenchmarkName, s: RunSettings, existing: ReadonlySet<string>) {
  const randomSeeds = Array.from({ length: s.repeats }, (_, r) => s.seed + r);
  const perItem: Wanted[] = s.methods.flatMap((method): Wanted[] =>
    method === 'random' ? randomSeeds.map((seed) => ({ method, seed })) : [{ method, seed: s.seed }],
  );
  const todo: Array<{ readonly item: BenchmarkItem; readonly wanted: readonly Wanted[] }> = [];
  let skipped = 0;
  for (const item of items) {
    const wanted = perItem.filter((w) => !existing.has(resultKey({ benchmark, item: item.id, method: w.method, seed: w.seed })));
    skipped += perItem.length - wanted.length;
    if (wanted.length > 0) todo.push({ item, wanted });
  }
  return { perItem, todo, skipped };
}

/** Counts what the run did and reports it after each item (rate and ETA from this run's items). */
class ProgressCounter {
  itemsDone: number;
  written = 0;
  vlmCalls = 0;
  errors = 0;
  failed = 0;
  readonly #failures = new Map<string, { rows: number; items: Set<string>; examples: string[]; message: string }>();
  #doneThisRun = 0;

  constructor(
    private readonly started: number,
    private readonly itemsTotal: number,
    private readonly itemsSkipped: number,
    private readonly onProgress: RunEvaluationOptions['onProgress'],
  ) {
    this.itemsDone = itemsSkipped;
  }

  itemWritten(rows: readonly EvalResultRow[]): void {
    if (rows.some((r) => r.error)) this.errors++;
    for (const r of rows) {
      if (!r.error) continue;
      this.failed++;
      let f = this.#failures.get(r.error.code);
      if (!f) this.#failures.set(r.error.code, (f = { rows: 0, items: new Set(), examples: [], message: r.error.message }));
      f.rows++;
      f.items.add(r.item);
      if (f.examples.length < 5 && !f.examples.includes(r.item)) f.examples.push(r.item);
    }
    this.written += rows.length;
    this.itemsDone++;
    this.#doneThisRun++;
    this.report();
  }

  failures(): RunFailure[] {
    return [...this.#failures]
      .map(([code, f]) => ({ code, cause: failureCause(code), rows: f.rows, items: f.items.size, examples: f.examples, message: f.message }))
      .sort((a, b) => b.rows - a.rows || a.code.localeCompare(b.code));
  }

  report(): void {
    if (!this.onProgress) return;
    const elapsedMs = performance.now() - this.started;
    const rate = this.#doneThisRun > 0 ? this.#doneThisRun / (elapsedMs / 1000) : 0;
    const left = this.itemsTotal - this.itemsDone;
    this.onProgress({
      itemsTotal: this.itemsTotal,
      itemsDone: this.itemsDone,
      itemsSkipped: this.itemsSkipped,
      rowsWritten: this.written,
      vlmCalls: this.vlmCalls,
      errors: this.errors,
      elapsedMs,
      rate,
      etaMs: rate > 0 ? (left / rate) * 1000 : left === 0 ? 0 : null,
    });
  }
}

/**
 * Runs the items through `evaluateItem` with a few more workers than VLM call slots (so slots
 * stay busy while items load and score). Rows are appended as each item finishes and synced in
 * the background (group commit); an item counts as done once its rows are on disk. The first
 * fatal error stops new items; it is thrown once what is in flight has settled.
 */
async function runItems(
  todo: ReturnType<typeof planWork>['todo'],
  ctx: ItemContext,
  writer: AppendWriter,
  progress: ProgressCounter,
  workers: number,
): Promise<void> {
  let fatal: { readonly error: unknown } | undefined;
  const fail = (error: unknown) => {
    fatal ??= { error };
  };
  let next = 0;
  const writes: Promise<void>[] = [];
  const worker = async () => {
    while (fatal === undefined && !ctx.signal.aborted) {
      const job = todo[next++];
      if (!job) return;
      try {
        const rows = await evaluateItem(ctx, job.item, job.wanted);
        writes.push(writer.append(rows.map((r) => JSON.stringify(r))).then(() => progress.itemWritten(rows), fail));
      } catch (err) {
        fail(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(todo.length, workers) }, worker));
  await Promise.all(writes);
  if (fatal !== undefined) throw fatal.error;
}

/** An abort signal the run owns, fired by the caller's; `dispose` detaches it. */
function linkedSignal(outer: AbortSignal | undefined): { signal: AbortSignal; dispose(): void } {
  const internal = new AbortController();
  // Every VLM call in flight and every item waiting for a slot listens to this signal (and
  // removes its listener when done): more than Node's default 10 at once is expected, not a leak.
  setMaxListeners(0, internal.signal);
  const onAbort = () => internal.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  if (outer?.aborted) onAbort();
  return { signal: internal.signal, dispose: () => outer?.removeEventListener('abort', onAbort) };
}

/**
 * Runs methods over a benchmark and appends one JSON line per (benchmark, item, method,
 * seed) to `out` as items finish (written and synced per batch). Running the same call again
 * resumes: rows already in the file are not asked again, a half-written last line from a
 * crash is dropped, and a file made with another config is refused with `RESULTS_INVALID`.
 * One run writes a file at a time: a second run on the same `out` (in this process or another,
 * on this machine or one sharing the disk) fails with `RESULTS_LOCKED` before asking anything;
 * a lock left by a killed run is taken over (`onNote`). Rows and identical header lines that an
 * older version wrote twice are tolerated and counted (`duplicates`, `extraHeaders`).
 * Rows that failed (`error`: a missing image, an unreadable reply) are asked again on resume
 * (`retryFailed: false` keeps them); the new row is appended after the failed one and readers
 * keep the last row per key. The summary counts this call's failed rows by error code
 * (`failures`, `failedFraction`), so a caller can refuse a run where too many failed.
 *
 * Per item the VLM is called once per distinct prompt: the overview alone (`baseline`), the
 * overview with each tile (shared by `random`, `majority`, `oracle`, and `semclip` when it
 * selects one tile), the selected tiles alone (`subimage-only`) and the overview with every
 * tile (`all-tiles`). Multiple choice goes through `runner.choose` when the runner reports
 * logprobs, and through `answer` plus `extractAnswer` otherwise. Visual tokens are what the
 * pipeline's model family spends on the images sent.
 *
 * The engine is handed the SemClip flow (`pipeline`: open, score, select, prompt images,
 * visual tokens) and a runner, so `@semclip/eval` stays free of image and model libraries.
 *
 * @example
 * ```ts
 * import { loadBenchmark, runEvaluation } from '@semclip/eval';
 * import { createPipeline } from '@semclip/pipeline';
 * import { createRunner } from '@semclip/vlm-runner';
 *
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', { concurrency: 8 });
 * const pipeline = createPipeline({ scorer: 'ocr', grid: '2x2', select: { k: 1 }, runner });
 * const summary = await runEvaluation({
 *   dataset: await loadBenchmark('vstar', 'data/vstar_bench'),
 *   methods: 'all',
 *   runner,
 *   pipeline,
 *   setup: { grid: '2x2', scorer: 'ocr', k: 1 },
 *   out: 'results/vstar.jsonl',
 *   concurrency: 8,
 *   onProgress: (p) => console.error(`${p.itemsDone}/${p.itemsTotal}`),
 * });
 * console.log(summary.written, summary.vlmCalls);
 * await pipeline.dispose();
 * ```
 */
export async function runEvaluation(options: RunEvaluationOptions): Promise<RunSummary> {
  const started = performance.now();
  const settings = checkOptions(options);
  const { dataset } = options;
  const items = selectItems(dataset.items, {
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
  });
  const config = runConfig(options, settings);
  // Before any VLM call: a head trained on these items would make its rows look better than they are.
  const overlap = settings.methods.some((m) => SCORED_METHODS.includes(m)) ? trainingOverlap(await options.pipeline.scorer(), dataset.benchmark, items) : null;
  if (overlap?.warning) options.onWarning?.(overlap.warning);
  const retryFailed = options.retryFailed ?? true;
  const command = options.info?.command;
  const { writer, lock, existing, failed, resumed, repairedBytes, duplicates, extraHeaders } = await openResultsFile(
    settings.out,
    config,
    { data: dataset.source, ...(options.info ?? {}) },
    {
      retryFailed,
      lock: {
        ...(options.forceUnlock ? { forceUnlock: true } : {}),
        command: typeof command === 'string' ? command : `runEvaluation ${dataset.benchmark}`,
        ...(options.onNote ? { onNote: options.onNote } : {}),
      },
    },
  );
  const linked = linkedSignal(options.signal);
  try {
    const { perItem, todo, skipped } = planWork(items, dataset.benchmark, settings, existing);
    // Failed keys of this run's items: asked again (retried) or kept.
    let failedHere = 0;
    for (const item of items) {
      for (const w of perItem) if (failed.has(resultKey({ benchmark: dataset.benchmark, item: item.id, method: w.method, seed: w.seed }))) failedHere++;
    }
    const progress = new ProgressCounter(started, items.length, items.length - todo.length, options.onProgress);
    progress.report();
    const ctx: ItemContext = {
      benchmark: dataset.benchmark,
      runner: options.runner,
      pipeline: options.pipeline,
      maxTokens: settings.maxTokens,
      calls: new Semaphore(settings.concurrency),
      scoring: new Semaphore(settings.scoreConcurrency),
      signal: linked.signal,
      onCall: () => void progress.vlmCalls++,
      onItemError: options.onItemError ?? 'record',
      ...(options.strategies ? { strategies: options.strategies } : {}),
      ...(dataset.benchmark === 'vstar' ? { vstar: { protocol: settings.vstarProtocol, shuffleSeed: settings.seed } } : {}),
    };
    try {
      await runItems(todo, ctx, writer, progress, settings.concurrency + 2);
    } catch (err) {
      // Cancelled: report ABORTED, whatever the item in flight failed with.
      throwIfAborted(options.signal);
      throw err;
    }
    throwIfAborted(options.signal);
    return {
      out: settings.out,
      benchmark: dataset.benchmark,
      methods: settings.methods,
      items: items.length,
      keys: items.length * perItem.length,
      written: progress.written,
      skipped,
      vlmCalls: progress.vlmCalls,
      errors: progress.errors,
      failed: progress.failed,
      failedFraction: progress.written > 0 ? progress.failed / progress.written : 0,
      failures: progress.failures(),
      retried: retryFailed ? failedHere : 0,
      keptFailed: retryFailed ? 0 : failedHere,
      repairedBytes,
      duplicates,
      extraHeaders: extraHeaders.length,
      replacedLock: lock.replaced ?? null,
      resumed,
      trainingOverlap: overlap,
      elapsedMs: performance.now() - started,
      config,
    };
  } finally {
    linked.dispose();
    try {
      await writer.close();
    } finally {
      await lock.release();
    }
  }
}
