import path from 'node:path';
import { IMAGE_ERROR_CODES, SemclipError, isSemclipError, throwIfAborted } from '@semclip/core';
import type { BenchmarkItem, BenchmarkName, EncodedImage, GridSpec, VlmRunner } from '@semclip/core';
import { MULTIPLE_CHOICE_INSTRUCTION, SHORT_ANSWER_INSTRUCTION, judge } from '@semclip/eval';
import { select } from '@semclip/selector';
import { parseGrid, tileImage } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { askWithSelection } from '@semclip/vlm-runner';
import type { ImageEncoding } from '@semclip/vlm-runner';
import { openJsonlLog } from '../_jsonl.js';
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
  /** Where the items came from, for the header (and for re-reading embedded images when training). */
  readonly source: { readonly benchmark: BenchmarkName; readonly path: string; readonly split?: string };
  /** Grid every image is tiled with. Default `2x2`. */
  readonly grid?: string | GridSpec;
  /** VLM requests in flight at once. Default 16. */
  readonly concurrency?: number;
  /** Label only the first `limit` items. */
  readonly limit?: number;
  /** How tiles and overviews are encoded for the runner (default JPEG q90, long side 1024). */
  readonly imageFormat?: ImageEncoding;
  /** `max_tokens` for open questions. Default 32. */
  readonly maxTokens?: number;
  readonly onProgress?: (progress: LabelProgress) => void;
  /** Called once per item that could not be read (missing or broken image). */
  readonly onItemError?: (id: string, error: SemclipError) => void;
  readonly signal?: AbortSignal;
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
  readonly requests: number;
  readonly elapsedMs: number;
}

/** Errors that mean "this item's data is bad": the item is reported and the run goes on. */
const ITEM_ERRORS = [
  'DATASET_NOT_FOUND',
  ...IMAGE_ERROR_CODES,
  'INVALID_QUESTION',
] as const;

class Gate {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active += 1;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

type Asked = Pick<TiledImage, 'size' | 'grid' | 'encode'>;

/** The image as askWithSelection sees it, encoding each region once: every request of an item sends the same overview. */
function memoEncode(tiled: TiledImage): Asked {
  const done = new Map<string, Promise<EncodedImage>>();
  return {
    size: tiled.size,
    grid: tiled.grid,
    encode(box, options) {
      const key = JSON.stringify([box, options ?? null]);
      let p = done.get(key);
      if (!p) {
        p = tiled.encode(box, options);
        done.set(key, p);
      }
      return p;
    },
  };
}

function gridText(spec: string | GridSpec): string {
  const g = parseGrid(spec);
  return g === 'auto' ? 'auto' : `${g.rows}x${g.cols}`;
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

function checkHeader(existing: LabelsHeader, wanted: LabelsHeader, out: string): void {
  const diffs: string[] = [];
  if (existing.benchmark !== wanted.benchmark) diffs.push(`benchmark ${existing.benchmark} (now ${wanted.benchmark})`);
  if (path.resolve(existing.source) !== path.resolve(wanted.source)) diffs.push(`data ${existing.source} (now ${wanted.source})`);
  if ((existing.split ?? '') !== (wanted.split ?? '')) diffs.push(`split ${existing.split ?? '(none)'} (now ${wanted.split ?? '(none)'})`);
  if (existing.grid !== wanted.grid) diffs.push(`grid ${existing.grid} (now ${wanted.grid})`);
  if (existing.runner.model !== wanted.runner.model) diffs.push(`VLM ${existing.runner.model} (now ${wanted.runner.model})`);
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
 * again). VLM requests run `concurrency` at a time.
 *
 * @example
 * ```ts
 * import { loadBenchmark } from '@semclip/eval';
 * import { createRunner } from '@semclip/vlm-runner';
 * import { labelDataset } from '@semclip/trainer';
 *
 * const data = await loadBenchmark('scienceqa', 'data/scienceqa', { split: 'train', subset: 'img' });
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', { concurrency: 16 });
 * const summary = await labelDataset({
 *   items: data.items, runner, out: 'labels.jsonl', grid: '2x2', concurrency: 16,
 *   source: { benchmark: 'scienceqa', path: 'data/scienceqa', split: 'train' },
 *   onProgress: (p) => console.log(`${p.done}/${p.total}`),
 * });
 * console.log(summary.labelled, summary.pairs, summary.positiveRate);
 * ```
 */
export async function labelDataset(options: LabelOptions): Promise<LabelSummary> {
  const started = performance.now();
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SemclipError('INVALID_ARGUMENT', `Concurrency ${String(concurrency)} is not valid.`, { expected: 'an integer of at least 1, like 16' });
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `Limit ${String(options.limit)} is not valid.`, { expected: 'an integer of at least 1' });
  }
  const maxTokens = options.maxTokens ?? 32;
  const gridSpec = options.grid ?? '2x2';
  const grid = gridText(gridSpec);
  const header: LabelsHeader = {
    type: 'header',
    version: 1,
    benchmark: options.source.benchmark,
    source: path.resolve(options.source.path),
    ...(options.source.split === undefined ? {} : { split: options.source.split }),
    grid,
    runner: { id: options.runner.id, model: options.runner.model },
    createdAt: new Date().toISOString(),
  };

  const scoped = options.limit === undefined ? options.items : options.items.slice(0, options.limit);
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
  const log = await openJsonlLog<LabelsLine>(out, 'labels file');
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

    const gate = new Gate(concurrency);
    const controller = new AbortController();
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

    const ask = async (item: BenchmarkItem, tiled: Asked, tile: number): Promise<{ correct: boolean; reply: string }> => {
      const oneHot = tiled.grid.tiles.map((_, i) => (i === tile ? 1 : 0));
      const selection = select(oneHot, tiled.grid, { k: 1 });
      const multipleChoice = item.options !== undefined && item.options.length > 0;
      const result = await gate.run(async () => {
        throwIfAborted(controller.signal);
        requests += 1;
        return askWithSelection({
          runner: options.runner,
          source: tiled,
          selection,
          question: stemOf(item),
          ...(multipleChoice ? { options: item.options, instruction: MULTIPLE_CHOICE_INSTRUCTION } : { instruction: SHORT_ANSWER_INSTRUCTION, maxTokens }),
          mode: 'semclip',
          ...(options.imageFormat ? { imageFormat: options.imageFormat } : {}),
          signal: controller.signal,
        });
      });
      if (result.kind === 'choice') return { correct: judge(item, { index: result.index }).correct, reply: result.letter };
      return { correct: judge(item, result.text).correct, reply: clip(result.text) };
    };

    const labelOne = async (item: BenchmarkItem): Promise<void> => {
      let tiled: TiledImage;
      let image: string | null;
      try {
        const input = await item.image();
        image = typeof input === 'string' ? path.resolve(input) : null;
        tiled = await tileImage(input, { grid: gridSpec });
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
      const tiles = tiled.grid.tiles.filter((t) => t.level === 1);
      const asked = memoEncode(tiled);
      const answers = await Promise.all(tiles.map((t) => ask(item, asked, t.index)));
      const correct = answers.map((a) => a.correct);
      const positives = tiles.flatMap((t, i) => (correct[i] ? [t.index] : []));
      const negatives = tiles.flatMap((t, i) => (correct[i] ? [] : [t.index]));
      const fields = {
        id: item.id,
        question: item.question,
        ...(item.options ? { options: [...item.options] } : {}),
        answer: item.answer,
        ...(item.hint ? { hint: item.hint } : {}),
        image,
        imageHash: tiled.id,
        imageSize: { width: tiled.size.width, height: tiled.size.height },
        grid: `${tiled.grid.rows}x${tiled.grid.cols}`,
        tiles: tiles.map((t) => ({ x: t.box.x, y: t.box.y, width: t.box.width, height: t.box.height })),
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
    // One worker per request slot keeps the gate full even when an item's tiles finish unevenly.
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
      requests,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await log.close();
  }
}
