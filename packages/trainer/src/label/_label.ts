import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { IMAGE_ERROR_CODES, SemclipError, Semaphore, intOption, isSemclipError, throwIfAborted } from '@semclip/core';
import type { BenchmarkItem, BenchmarkName, Box, GridSpec, PromptPlan, Tile, VlmRunner } from '@semclip/core';
import { MULTIPLE_CHOICE_INSTRUCTION, SHORT_ANSWER_INSTRUCTION, judge, lockOutputFile } from '@semclip/eval';
import type { OutputLock } from '@semclip/eval';
import { createPipeline, resolveZoomOptions, zoomAsk } from '@semclip/pipeline';
import type { ImageFormat, Pipeline } from '@semclip/pipeline';
import { parseGrid } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { openJsonlLog } from '../_jsonl.js';
import type { JsonlLog } from '../_jsonl.js';
import { countRecords, parseLabelsLines } from './_records.js';
import type { ItemRecord, LabelCounts, LabelsHeader, LabelsLine } from './_records.js';

export interface LabelProgress {
  /** Items with a line in the file, of `total` (resumed ones included). */
  readonly done: number;
  readonly total: number;
  /** Already in the file when this run started. */
  readonly resumed: number;
  readonly labelled: number;
  readonly skipped: number;
  /** Items whose image could not be read (not written; retried next run). */
  readonly failed: number;
  /** VLM requests sent by this run. */
  readonly requests: number;
  readonly elapsedMs: number;
  /** Items per second finished by this run. */
  readonly rate: number;
  /** Estimated time left at the current rate; undefined until one item finished. */
  readonly etaMs: number | undefined;
}

export interface LabelOptions {
  /** The items to label (a loader's `dataset.items`), in order. */
  readonly items: readonly BenchmarkItem[];
  /** The VLM; any runner. Its own concurrency limit (OpenAI runner: `concurrency`) also applies. */
  readonly runner: VlmRunner;
  /** The labels file (JSONL). Appended to; an existing file is resumed. */
  readonly out: string;
  /**
   * Where the items came from, for the header (and for re-reading embedded images when training).
   * `split` is the split asked for: items whose `metadata.split` (the data's own split, as the
   * loaders record it) is another are refused with `DATASET_INVALID` before anything is written.
   * The header records the items' true split (`null` when the data does not say).
   */
  readonly source: {
    readonly benchmark: BenchmarkName;
    readonly path: string;
    readonly split?: string;
    /** The data's questions per official split (a loader's `dataset.splits`), for the error message. */
    readonly splits?: Readonly<Record<string, number>>;
  };
  /**
   * The pipeline every image goes through (`createPipeline` from `@semclip/pipeline`): its grid
   * tiles the images, its image format encodes the overview and tiles (each once per item), and
   * its open stage rejects an unreadable or damaged image before the VLM is asked. Labelling asks
   * the VLM with every tile, so it scores nothing: create it with `scorer: false` (its scorer and
   * selection options are not used). The caller disposes it. Default: one made from `grid`,
   * `imageFormat` and `runner`.
   */
  readonly pipeline?: Pipeline;
  /** Without `pipeline`: the grid every image is tiled with. Default `2x2`. */
  readonly grid?: string | GridSpec;
  /** Without `pipeline`: how tiles and overviews are encoded for the runner (default JPEG q90, long side 1024). */
  readonly imageFormat?: ImageFormat;
  /**
   * Which regions get labels. `topk` (default; the paper's): every tile of the grid, each asked
   * with the overview. `zoom`: the quadtree nodes a zoom search (`zoomAsk` of
   * `@semclip/pipeline`, with `zoom`'s `maxCalls` and `tau`) asks the VLM about, each judged
   * right or wrong, so the relevance model also learns from regions at several scales. Zoom
   * labels need multiple-choice items (its probes of open questions ask yes/no, which cannot be
   * judged); an open item is refused with INVALID_ARGUMENT before anything is written.
   */
  readonly strategy?: 'topk' | 'zoom';
  /** With `strategy: 'zoom'`: the search's call cap (default 12) and τ (default 1: never stop early, so the budget labels as many nodes as it can). */
  readonly zoom?: { readonly maxCalls?: number; readonly tau?: number };
  /** VLM requests in flight at once. Default 16. */
  readonly concurrency?: number;
  /** Label only the first `limit` items. */
  readonly limit?: number;
  /** `max_tokens` for open questions. Default 32. */
  readonly maxTokens?: number;
  readonly onProgress?: (progress: LabelProgress) => void;
  /** Called once per item that could not be read (missing or broken image). */
  readonly onItemError?: (id: string, error: SemclipError) => void;
  readonly signal?: AbortSignal;
  /**
   * One run writes `out` at a time: the run holds `<out>.lock` (see `lockOutputFile` in
   * `@semclip/eval`) and a second one fails with `RESULTS_LOCKED`. `forceUnlock` takes the lock
   * even from a live owner (a run on another machine known to be gone). Default false.
   */
  readonly forceUnlock?: boolean;
  /** Recorded in the lock, for the error a second writer gets (e.g. the command line). */
  readonly command?: string;
  /** Told when a stale lock (its process gone) was taken over before the run. */
  readonly onNote?: (message: string) => void;
}

export interface LabelSummary extends LabelCounts {
  readonly out: string;
  /** Items in scope (after `limit`). */
  readonly items: number;
  /** Items that were already in the file when this run started. */
  readonly resumed: number;
  /** Items this run wrote. */
  readonly written: number;
  /** Items whose image could not be read (first 20 listed); run again after fixing them. */
  readonly failed: number;
  readonly failures: readonly { readonly id: string; readonly code: string; readonly message: string }[];
  /** Bytes of a torn last line (from a crash) that were dropped before resuming. */
  readonly droppedBytes: number;
  /** Items the dataset lists twice under one id (labelled once). */
  readonly duplicateIds: number;
  /** Item lines the file held twice when this run started (two runs wrote it at once, before runs locked it); the first counts. */
  readonly repeatedLines: number;
  /** Repeated header lines of the same setup the file held (same cause); ignored. */
  readonly extraHeaders: number;
  /** The stale (or forced) lock of `out` this run took over, with why; null when there was none. */
  readonly replacedLock: OutputLock['replaced'] | null;
  readonly requests: number;
  readonly elapsedMs: number;
}

/** Errors that mean "this item's data is bad": the item is reported and the run goes on. */
const ITEM_ERRORS = ['DATASET_NOT_FOUND', ...IMAGE_ERROR_CODES, 'INVALID_QUESTION'] as const;

function gridText(spec: string | GridSpec): string {
  const g = parseGrid(spec);
  return g === 'auto' ? 'auto' : `${g.rows}x${g.cols}`;
}

interface ZoomSettings {
  readonly maxCalls: number;
  readonly tau: number;
}

/** The zoom search's settings for `strategy: 'zoom'` (checked: INVALID_ARGUMENT), else undefined. */
function zoomSettings(options: LabelOptions): ZoomSettings | undefined {
  const strategy = options.strategy ?? 'topk';
  if (strategy !== 'topk' && strategy !== 'zoom') {
    throw new SemclipError('INVALID_ARGUMENT', `Labelling strategy ${JSON.stringify(strategy)} is not one of topk, zoom.`, {
      expected: 'topk (every grid tile) or zoom (the nodes a zoom search asks about)',
      hint: 'adaptive selects among the grid tiles topk labels all of; pack sends a composed image, which is no region of the photo to label',
    });
  }
  if (strategy === 'topk') {
    if (options.zoom !== undefined)
      throw new SemclipError('INVALID_ARGUMENT', 'zoom options were given without strategy zoom.', { hint: "Add strategy: 'zoom' or drop zoom" });
    return undefined;
  }
  const o = resolveZoomOptions({ maxCalls: options.zoom?.maxCalls ?? 12, tau: options.zoom?.tau ?? 1 });
  return { maxCalls: o.maxCalls, tau: o.tau };
}

/** The pipeline to label with: the one given, or one made from `grid` and `imageFormat` (then `owned`). */
function pipelineFor(options: LabelOptions): { pipeline: Pipeline; owned: boolean } {
  if (options.pipeline) {
    const both = (['grid', 'imageFormat'] as const).filter((k) => options[k] !== undefined);
    if (both.length > 0) {
      throw new SemclipError('INVALID_ARGUMENT', `${both.join(' and ')} and pipeline were both given; the pipeline already has its ${both.join(' and ')}.`, {
        hint: `Pass ${both.join(' and ')} to createPipeline, or drop pipeline`,
      });
    }
    return { pipeline: options.pipeline, owned: false };
  }
  const pipeline = createPipeline({
    scorer: false,
    grid: options.grid ?? '2x2',
    ...(options.imageFormat ? { imageFormat: options.imageFormat } : {}),
    runner: options.runner,
  });
  return { pipeline, owned: true };
}

/** Hint + question, as LLaVA's evaluation prompts put them (options are sent by the runner). */
function stemOf(item: BenchmarkItem): string {
  if (!item.hint || item.hint.trim() === '') return item.question;
  return item.benchmark === 'scienceqa' ? `Context: ${item.hint}\n${item.question}` : `${item.hint}\n${item.question}`;
}

function clip(text: string, max = 200): string {
  const t = text.trim();
  return t.length > max ? `${t.slice(0, max)}...` : t;
}

/** The split an item's loader says it is in (`metadata.split`), or undefined. */
function itemSplit(item: BenchmarkItem): string | undefined {
  const split = item.metadata?.split;
  return typeof split === 'string' && split !== '' ? split : undefined;
}

/**
 * The items' true split for the header when a split was asked for: the one split they are all
 * in, or `null` when the data cannot say; undefined when no split was asked for.
 * Throws `DATASET_INVALID` when an item is in a split other than the one asked for: labelling
 * test questions for training would leak them into the scorer evaluated on them.
 */
function checkSplit(items: readonly BenchmarkItem[], source: LabelOptions['source']): string | null | undefined {
  const wanted = source.split;
  const counts = new Map<string, number>();
  let unknown = 0;
  for (const item of items) {
    const split = itemSplit(item);
    if (split === undefined) unknown += 1;
    else counts.set(split, (counts.get(split) ?? 0) + 1);
  }
  if (wanted !== undefined) {
    const others = items.filter((item) => {
      const split = itemSplit(item);
      return split !== undefined && split !== wanted;
    });
    if (others.length > 0) {
      const splitFile = source.benchmark === 'scienceqa' ? 'pid_splits.json' : "the benchmark's split file";
      const held = [...counts.entries()].map(([split, n]) => `${split} ${n}`).join(', ');
      const purpose = wanted === 'train' ? 'for training' : `as ${wanted}`;
      const only = counts.size === 1 && unknown === 0 ? (counts.keys().next().value as string) : undefined;
      const alternative = source.benchmark === 'scienceqa' ? `, or use problems.json with --split ${wanted}` : '';
      const message = only
        ? `${source.path}: this file holds the ${only} split (${source.splits?.[only] ?? others.length} questions per ${splitFile}), not ${wanted}; ` +
          (/test|val/.test(only)
            ? `labelling it ${purpose} would leak ${only} questions into the scorer evaluated on them.`
            : `labelling it ${purpose} would mislabel ${only} questions as ${wanted}.`)
        : `${source.path}: ${others.length} of ${items.length} items are not in the ${wanted} split per ${splitFile} (${held}` +
          `${unknown ? `, ${unknown} unknown` : ''}; e.g. ${others
            .slice(0, 3)
            .map((i) => `${i.id} in ${itemSplit(i)}`)
            .join(', ')}); labelling them ${purpose} would ${wanted === 'train' ? 'leak them into the scorer evaluated on them' : 'record the wrong split'}.`;
      throw new SemclipError('DATASET_INVALID', message, {
        hint: only ? `Pass --split ${only} only if you mean it${alternative}` : `Label only ${wanted} items${alternative}`,
        details: { path: source.path, requested: wanted, splits: Object.fromEntries(counts), ...(unknown ? { unknown } : {}) },
      });
    }
  }
  // Nothing asked for: the header says nothing, as before (POPE's and MMBench's `metadata.split` are not train/test splits).
  if (wanted === undefined) return undefined;
  return counts.size === 1 && unknown === 0 ? (counts.keys().next().value as string) : null;
}

function checkHeader(existing: LabelsHeader, wanted: LabelsHeader, out: string): void {
  const diffs: string[] = [];
  if (existing.benchmark !== wanted.benchmark) diffs.push(`benchmark ${existing.benchmark} (now ${wanted.benchmark})`);
  if (path.resolve(existing.source) !== path.resolve(wanted.source)) diffs.push(`data ${existing.source} (now ${wanted.source})`);
  if ((existing.split ?? '') !== (wanted.split ?? '')) diffs.push(`split ${existing.split ?? '(none)'} (now ${wanted.split ?? '(none)'})`);
  if (existing.grid !== wanted.grid) diffs.push(`grid ${existing.grid} (now ${wanted.grid})`);
  const strategyOf = (h: LabelsHeader) => (h.strategy ? `${h.strategy} (max ${h.zoom?.maxCalls} calls, tau ${h.zoom?.tau})` : 'topk');
  if (strategyOf(existing) !== strategyOf(wanted)) diffs.push(`strategy ${strategyOf(existing)} (now ${strategyOf(wanted)})`);
  if (existing.runner.model !== wanted.runner.model) diffs.push(`VLM ${existing.runner.model} (now ${wanted.runner.model})`);
  if ((existing.padding ?? 'none') !== (wanted.padding ?? 'none')) {
    diffs.push(`image padding ${existing.padding ?? 'none'} (now ${wanted.padding ?? 'none'}; --pad picks it)`);
  }
  if (diffs.length > 0) {
    throw new SemclipError('INVALID_ARGUMENT', `${out} was labelled with ${diffs.join(', ')}; resuming would mix two kinds of labels.`, {
      hint: 'Use the same options to resume, or write to another file with --out',
      details: { out, differences: diffs },
    });
  }
}

/**
 * Labels tiles by distant supervision: for each item, every tile of its grid is shown to the VLM
 * with the overview (overview + that one tile) and the answer is checked against the ground truth
 * (multiple choice through `runner.choose`, open questions through `runner.answer` and the
 * benchmark's answer matching). A tile is a positive when the VLM answers right with it, a
 * negative otherwise. Items with no positive or no negative teach nothing and are recorded as
 * `skipped`.
 *
 * Appends one fsync'd line per item as it finishes, so a crash loses only items in flight; running
 * it again on the same file resumes (a torn last line is dropped; finished items are not asked
 * again). One run writes a file at a time: a second run on the same `out` fails with
 * `RESULTS_LOCKED` before asking anything, and a lock left by a killed run is taken over
 * (`onNote`). VLM requests run `concurrency` at a time.
 *
 * Images go through a `@semclip/pipeline` pipeline (given, or made from `grid` and `imageFormat`):
 * it opens and checks each image, tiles it, and encodes the overview and each tile once per item.
 *
 * @example
 * ```ts
 * import { loadBenchmark } from '@semclip/eval';
 * import { createPipeline } from '@semclip/pipeline';
 * import { createRunner } from '@semclip/vlm-runner';
 * import { labelDataset } from '@semclip/trainer';
 *
 * const data = await loadBenchmark('scienceqa', 'data/scienceqa', { split: 'train', subset: 'img' });
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', { concurrency: 16 });
 * const pipeline = createPipeline({ scorer: false, grid: '2x2', runner });
 * const summary = await labelDataset({
 *   items: data.items, runner, pipeline, out: 'labels.jsonl', concurrency: 16,
 *   source: { benchmark: 'scienceqa', path: 'data/scienceqa', split: 'train' },
 *   onProgress: (p) => console.log(`${p.done}/${p.total}`),
 * });
 * console.log(summary.labelled, summary.pairs, summary.positiveRate);
 * ```
 */
export async function labelDataset(options: LabelOptions): Promise<LabelSummary> {
  const started = performance.now();
  const concurrency = intOption('concurrency', options.concurrency, { fallback: 16 });
  const limit = options.limit === undefined ? undefined : intOption('limit', options.limit, { fallback: 1 });
  const maxTokens = intOption('maxTokens', options.maxTokens, { fallback: 32 });
  const { pipeline, owned } = pipelineFor(options);
  try {
    return await labelWith(pipeline, options, { started, concurrency, limit, maxTokens });
  } finally {
    if (owned) await pipeline.dispose();
  }
}

async function labelWith(
  pipeline: Pipeline,
  options: LabelOptions,
  settings: { readonly started: number; readonly concurrency: number; readonly limit: number | undefined; readonly maxTokens: number },
): Promise<LabelSummary> {
  const { started, concurrency, limit, maxTokens } = settings;
  const grid = gridText(pipeline.grid);
  const split = checkSplit(options.items, options.source);
  const zoom = zoomSettings(options);
  const header: LabelsHeader = {
    type: 'header',
    version: 1,
    benchmark: options.source.benchmark,
    source: path.resolve(options.source.path),
    ...(split === undefined ? {} : { split }),
    grid,
    runner: { id: options.runner.id, model: options.runner.model },
    // Only when padded, so files from before padding existed (sent as cut) still resume.
    ...(pipeline.padding.mode === 'pad-square' ? { padding: `pad-square(${pipeline.padding.colour.join(',')})` } : {}),
    ...(zoom ? { strategy: 'zoom' as const, zoom: { maxCalls: zoom.maxCalls, tau: zoom.tau } } : {}),
    createdAt: new Date().toISOString(),
  };

  const scoped = limit === undefined ? options.items : options.items.slice(0, limit);
  if (zoom) {
    const open = scoped.filter((item) => !item.options?.length);
    if (open.length > 0) {
      throw new SemclipError(
        'INVALID_ARGUMENT',
        `Zoom labels need multiple-choice items; ${open.length} of ${scoped.length} are open questions (first: ${open[0]?.id}).`,
        {
          expected: 'items with options (V*, MMBench, MMStar, SEED-Bench, ScienceQA)',
          hint: 'Label open questions with --strategy topk',
        },
      );
    }
  }
  const ids = new Set<string>();
  let duplicateIds = 0;
  const unique: BenchmarkItem[] = [];
  for (const item of scoped) {
    if (ids.has(item.id)) duplicateIds += 1;
    else {
      ids.add(item.id);
      unique.push(item);
    }
  }

  const out = path.resolve(options.out);
  // One writer per file, taken before reading: what a resume skips must not change under it.
  const lock = await lockOutputFile(out, {
    ...(options.forceUnlock ? { forceUnlock: true } : {}),
    command: options.command ?? `labelDataset ${options.source.benchmark}`,
    ...(options.onNote ? { onNote: options.onNote } : {}),
  });
  let log: JsonlLog<LabelsLine>;
  try {
    log = await openJsonlLog<LabelsLine>(out, 'labels file');
  } catch (err) {
    await lock.release();
    throw err;
  }
  const records: ItemRecord[] = [];
  try {
    const parsed = parseLabelsLines(log.existing, out);
    if (parsed.header) checkHeader(parsed.header, header, out);
    else if (parsed.records.length > 0) {
      throw new SemclipError('DATASET_INVALID', `${out} has labels but no header line.`, { hint: 'Write to a new file with --out' });
    } else await log.append(header);
    const done = new Set<string>();
    for (const r of parsed.records) {
      done.add(r.id);
      if (ids.has(r.id)) records.push(r);
    }
    const todo = unique.filter((item) => !done.has(item.id));
    const resumed = unique.length - todo.length;

    const calls = new Semaphore(concurrency);
    const controller = new AbortController();
    // Every request in flight and every one waiting for a slot listens to this signal (and removes
    // its listener when done), so more than Node's default 10 at once is expected, not a leak.
    setMaxListeners(0, controller.signal);
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const failures: { id: string; code: string; message: string }[] = [];
    let failed = 0;
    let written = 0;
    let requests = 0;
    let fatal: unknown;
    // Running counts for progress (recounting every record per item would be quadratic).
    let labelledCount = records.filter((r) => r.type === 'labelled').length;
    let skippedCount = records.length - labelledCount;

    const report = () => {
      if (!options.onProgress) return;
      const elapsedMs = performance.now() - started;
      const rate = elapsedMs > 0 ? (written / elapsedMs) * 1000 : 0;
      const left = unique.length - records.length - failed;
      options.onProgress({
        done: records.length,
        total: unique.length,
        resumed,
        labelled: labelledCount,
        skipped: skippedCount,
        failed,
        requests,
        elapsedMs,
        rate,
        etaMs: written > 0 ? (left / rate) * 1000 : undefined,
      });
    };

    /** Asks the VLM with the overview and one tile (multiple choice through `choose`, open questions through `answer`). */
    const ask = async (item: BenchmarkItem, tiled: TiledImage, tile: Tile): Promise<{ correct: boolean; reply: string }> => {
      const plan: PromptPlan = { overview: true, regions: [{ box: tile.box, tiles: [tile.index] }] };
      const choices = item.options !== undefined && item.options.length > 0 ? item.options : undefined;
      const result = await calls.run(async () => {
        throwIfAborted(controller.signal);
        requests += 1;
        return pipeline.ask({
          runner: options.runner,
          from: { source: tiled },
          plan,
          question: stemOf(item),
          ...(choices ? { options: choices, instruction: MULTIPLE_CHOICE_INSTRUCTION } : { instruction: SHORT_ANSWER_INSTRUCTION, maxTokens }),
          signal: controller.signal,
        });
      }, controller.signal);
      if (result.kind === 'answer') return { correct: judge(item, result.text).correct, reply: clip(result.text) };
      return { correct: judge(item, { index: result.index }).correct, reply: result.letter };
    };

    /**
     * One zoom search per item, holding one request slot (its calls are sequential): every node
     * it asked the question with (overview + node) is a labelled region, judged by its answer.
     * Undefined when it asked fewer than two (a two-object question, whose searches ask yes/no per
     * object, or a search the overview ended): that item gets every grid tile, as `topk` does.
     */
    const zoomLabels = async (
      item: BenchmarkItem,
      tiled: TiledImage,
    ): Promise<{ boxes: Box[]; answers: Array<{ correct: boolean; reply: string }> } | undefined> => {
      const choices = item.options as readonly string[];
      const result = await calls.run(async () => {
        throwIfAborted(controller.signal);
        return zoomAsk(
          pipeline,
          {
            runner: options.runner,
            source: tiled,
            question: stemOf(item),
            options: choices,
            instruction: MULTIPLE_CHOICE_INSTRUCTION,
            signal: controller.signal,
          },
          { maxCalls: (zoom as ZoomSettings).maxCalls, tau: (zoom as ZoomSettings).tau },
        );
      }, controller.signal);
      requests += result.calls;
      // Probes of the question itself (a two-object question's per-object probes ask yes/no, which judges nothing).
      const asked = result.steps.filter((s) => s.action === 'probe' && s.target === undefined && s.answer !== undefined);
      // The search asks about each quadtree node once, so the nodes are distinct regions.
      if (asked.length < 2) return undefined;
      return {
        boxes: asked.map((s) => s.box),
        answers: asked.map((s) => {
          const index = choices.indexOf(s.answer as string);
          return { correct: judge(item, { index }).correct, reply: s.answer as string };
        }),
      };
    };

    const labelOne = async (item: BenchmarkItem): Promise<void> => {
      let tiled: TiledImage;
      let image: string | null;
      try {
        const input = await item.image();
        image = typeof input === 'string' ? path.resolve(input) : null;
        // The pipeline's open stage proves the pixels decode: a damaged image is this item's failure.
        tiled = await pipeline.open(input, { signal: controller.signal });
      } catch (err) {
        if (isSemclipError(err, ...ITEM_ERRORS)) {
          failed += 1;
          if (failures.length < 20) failures.push({ id: item.id, code: err.code, message: err.message });
          options.onItemError?.(item.id, err);
          report();
          return;
        }
        throw err;
      }
      const zoomed = zoom ? await zoomLabels(item, tiled) : undefined;
      let boxes: Box[];
      let answers: Array<{ correct: boolean; reply: string }>;
      if (zoomed) ({ boxes, answers } = zoomed);
      else {
        const tiles = tiled.grid.tiles.filter((t) => t.level === 1);
        boxes = tiles.map((t) => t.box);
        answers = await Promise.all(tiles.map((t) => ask(item, tiled, t)));
      }
      const correct = answers.map((a) => a.correct);
      const positives = boxes.flatMap((_, i) => (correct[i] ? [i] : []));
      const negatives = boxes.flatMap((_, i) => (correct[i] ? [] : [i]));
      const fields = {
        id: item.id,
        question: item.question,
        ...(item.options ? { options: [...item.options] } : {}),
        answer: item.answer,
        ...(item.hint ? { hint: item.hint } : {}),
        image,
        imageHash: tiled.id,
        imageSize: { width: tiled.size.width, height: tiled.size.height },
        grid: zoomed ? 'zoom' : `${tiled.grid.rows}x${tiled.grid.cols}`,
        tiles: boxes.map((b) => ({ x: b.x, y: b.y, width: b.width, height: b.height })),
        correct,
        replies: answers.map((a) => a.reply),
        positives,
        negatives,
      };
      const record: ItemRecord =
        positives.length === 0
          ? { type: 'skipped', reason: 'all-negative', ...fields }
          : negatives.length === 0
            ? { type: 'skipped', reason: 'all-positive', ...fields }
            : { type: 'labelled', ...fields };
      throwIfAborted(controller.signal);
      await log.append(record);
      records.push(record);
      if (record.type === 'labelled') labelledCount += 1;
      else skippedCount += 1;
      written += 1;
      report();
    };

    report();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (fatal === undefined && !controller.signal.aborted && next < todo.length) {
        const item = todo[next++]!;
        try {
          await labelOne(item);
        } catch (err) {
          if (fatal === undefined) fatal = err;
          controller.abort(err);
        }
      }
    };
    // One worker per request slot keeps the semaphore full even when an item's tiles finish unevenly.
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, todo.length)) }, worker));
    options.signal?.removeEventListener('abort', onAbort);
    if (fatal !== undefined) throw fatal;
    throwIfAborted(options.signal);
    return {
      out,
      items: unique.length,
      ...countRecords(records),
      resumed,
      written,
      failed,
      failures,
      droppedBytes: log.droppedBytes,
      duplicateIds,
      repeatedLines: parsed.duplicates,
      extraHeaders: parsed.extraHeaders.length,
      replacedLock: lock.replaced ?? null,
      requests,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await log.close();
    await lock.release();
  }
}
