import type { BenchmarkItem, BenchmarkName, Box, ImageInput } from '@semclip/core';
import { SemclipError, optionLetters } from '@semclip/core';
import { isFile } from '../_io.js';

export interface ItemInit {
  readonly id: string;
  readonly benchmark: BenchmarkName;
  readonly question: string;
  readonly options?: readonly string[];
  readonly answer: string;
  readonly hint?: string;
  readonly category?: string;
  readonly targets?: readonly Box[];
  readonly metadata?: Record<string, unknown>;
  readonly image: () => Promise<ImageInput>;
}

/** Builds a frozen item; optional fields that are undefined are left out, not set to undefined. */
export function makeItem(init: ItemInit): BenchmarkItem {
  const item: Record<string, unknown> = {
    id: init.id,
    benchmark: init.benchmark,
    question: init.question,
    answer: init.answer,
    image: init.image,
    metadata: Object.freeze({ ...(init.metadata ?? {}) }),
  };
  if (init.options !== undefined) item.options = Object.freeze([...init.options]);
  if (init.hint !== undefined && init.hint !== '') item.hint = init.hint;
  if (init.category !== undefined && init.category !== '') item.category = init.category;
  if (init.targets !== undefined && init.targets.length > 0) item.targets = Object.freeze([...init.targets]);
  return Object.freeze(item) as unknown as BenchmarkItem;
}

/**
 * An image read from disk only when asked for. The path is returned as is (every SemClip
 * image consumer accepts paths); a missing file is `DATASET_NOT_FOUND` naming it.
 */
export function fileImage(path: string, what: string, expected: string): () => Promise<ImageInput> {
  return async () => {
    if (await isFile(path)) return path;
    throw new SemclipError('DATASET_NOT_FOUND', `The image for ${what} is missing: ${path} does not exist.`, {
      expected,
      hint: 'Download the benchmark images, or point to their folder with the `images` option (CLI: --images)',
      details: { path },
    });
  };
}

export function missingImage(what: string, why: string, expected: string): () => Promise<ImageInput> {
  return () => Promise.reject(new SemclipError('DATASET_NOT_FOUND', `The image for ${what} is missing: ${why}.`, { expected }));
}

/** `[x, y, w, h]` as a Box, or undefined when it is not four finite numbers. */
export function toBox(v: unknown): Box | undefined {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  const [x, y, width, height] = v as [number, number, number, number];
  return { x, y, width, height };
}

/** Drops a trailing answer instruction that a question file baked into the question text. */
export function stripInstruction(text: string, instruction: string): string {
  const t = text.trimEnd();
  return t.endsWith(instruction) ? t.slice(0, -instruction.length).trimEnd() : t;
}

/**
 * The letters an item's options go by: `A`, `B`, `C`... in order, unless the benchmark's file
 * left a gap (an MMBench row with options A, B and D), which the loader records in
 * `metadata.optionLetters` so that prompts, answers and predictions keep the file's letters.
 *
 * @example
 * ```ts
 * itemLetters({ options: ['x', 'y', 'z'], metadata: { optionLetters: ['A', 'B', 'D'] } }); // ['A', 'B', 'D']
 * ```
 */
export function itemLetters(item: { readonly options?: readonly string[]; readonly metadata?: Readonly<Record<string, unknown>> }): string[] {
  const n = item.options?.length ?? 0;
  const custom = item.metadata?.optionLetters;
  if (Array.isArray(custom) && custom.length === n && custom.every((l) => typeof l === 'string')) return [...(custom as string[])];
  return optionLetters(n);
}

/** A row (or question) a loader could not use; the rest of the file is still loaded. */
export interface SkippedRow {
  /** The row's id as far as it could be read (`index`, `question_id`), else `line N`. */
  readonly id: string;
  /** 1-based line (TSV) or position (JSON list) in the file, when known. */
  readonly line?: number;
  readonly reason: string;
}

/**
 * What a loader does with rows it cannot use: a warning naming how many and the first few
 * (the others are loaded), or with `strict` a `DATASET_INVALID` that lists them.
 */
export function reportSkipped(skipped: readonly SkippedRow[], total: number, source: string, strict: boolean | undefined, expected: string): string[] {
  if (skipped.length === 0) return [];
  const first = skipped
    .slice(0, 5)
    .map((s) => `${s.id}${s.line !== undefined && s.id !== `line ${s.line}` ? ` (line ${s.line})` : ''}: ${s.reason}`)
    .join('; ');
  const more = skipped.length > 5 ? `; and ${skipped.length - 5} more` : '';
  if (strict) {
    throw new SemclipError('DATASET_INVALID', `${source}: ${skipped.length} of ${total} rows cannot be used: ${first}${more}.`, {
      expected,
      hint: 'Fix those rows, or drop --strict to score every other row and report these',
      details: { path: source, skipped: skipped.map((s) => ({ id: s.id, ...(s.line === undefined ? {} : { line: s.line }), reason: s.reason })) },
    });
  }
  return [`${skipped.length} of ${total} rows of ${source} cannot be used and were left out (${first}${more}); --strict refuses the file instead.`];
}
