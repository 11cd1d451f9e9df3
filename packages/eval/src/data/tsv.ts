import { resolve } from 'node:path';
import type { BenchmarkItem, ImageInput } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { pathKind, readText } from '../_io.js';
import { parseTsv } from '../_tsv.js';
import { makeItem, reportSkipped, type SkippedRow } from './_item.js';
import { DATASET_LAYOUTS, type BenchmarkDataset, type LoadOptions } from './types.js';

/** VLMEvalKit numbers MMBench's circular variants index + k * 1,000,000. */
export const CIRCULAR_STRIDE = 1_000_000;

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** LLaVA's `is_none`, for cells other than options: pandas writes missing cells as empty or `nan`. */
function isNone(v: string | undefined): boolean {
  if (v === undefined) return true;
  const t = v.trim().toLowerCase();
  return t === '' || t === 'nan' || t === 'none';
}

/**
 * Loads an MMBench TSV as VLMEvalKit distributes it (`MMBench_DEV_EN.tsv` and the like).
 * Needs `index` and `question`; tolerates missing `hint`, `category`, `l2-category`,
 * `answer` (test splits: items then have no answer), and `image` cells that name another
 * row's index (VLMEvalKit's way of not repeating an image). An option is any non-empty cell
 * of a letter column (`nan` and `None` are text); letters may have gaps (A, B, D: kept in
 * `metadata.optionLetters`). A row that cannot be used (no question, fewer than two options,
 * an answer that is none of its letters, a repeated index) is left out and listed in
 * `skipped`, or refused with `strict`. Circular variants (same `index` mod 1,000,000) share
 * `metadata.circularGroup`.
 *
 * @example
 * ```ts
 * const mmb = await loadMmbench('MMBench_DEV_EN.tsv');
 * const groups = new Set(mmb.items.map((i) => i.metadata.circularGroup));
 * ```
 */
export function loadMmbench(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  return loadTsv('mmbench', path, options);
}

/**
 * Loads an MMStar TSV as VLMEvalKit distributes it (`MMStar.tsv`: index, question, A-D,
 * answer, category, l2_category, base64 image). When the option columns are missing, the
 * options are read from the question's `Options: A: ..., B: ...` tail as the original
 * release writes them.
 *
 * @example
 * ```ts
 * const mmstar = await loadMmstar('MMStar.tsv');
 * console.log(mmstar.items[0]?.options);
 * ```
 */
export function loadMmstar(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  return loadTsv('mmstar', path, options);
}

async function loadTsv(benchmark: 'mmbench' | 'mmstar', path: string, load: LoadOptions): Promise<BenchmarkDataset> {
  const name = benchmark === 'mmbench' ? 'MMBench' : 'MMStar';
  const expected = DATASET_LAYOUTS[benchmark];
  const source = resolve(path);
  const kind = await pathKind(source);
  if (kind !== 'file') {
    throw new SemclipError('DATASET_NOT_FOUND', `${name} data not found: ${source} ${kind === 'dir' ? 'is a folder' : 'does not exist'}.`, {
      expected,
      hint: `Pass the .tsv file itself (e.g. ${benchmark === 'mmbench' ? 'MMBench_DEV_EN.tsv' : 'MMStar.tsv'})`,
      details: { path: source },
    });
  }
  const table = parseTsv(await readText(source, `${name} file`, expected), source, expected);
  for (const col of ['index', 'question']) {
    if (!table.header.includes(col)) {
      throw new SemclipError('DATASET_INVALID', `${source} has no "${col}" column (columns: ${table.header.join(', ')}).`, {
        expected,
        details: { path: source },
      });
    }
  }
  const hasAnswerColumn = table.header.includes('answer');
  // Every single-letter column is an option column, whatever letters are missing in between.
  const optionColumns = [...LETTERS].filter((l) => table.header.includes(l));
  const warnings: string[] = [];
  const imageByIndex = new Map<string, string>();
  for (const row of table.rows) {
    const idx = row.cells.get('index')?.trim();
    const img = row.cells.get('image');
    // The first row of an index owns its image: a repeated index (a row left out) does not replace it.
    if (idx && img !== undefined && !isNone(img) && !imageByIndex.has(idx)) imageByIndex.set(idx, img);
  }
  const items: BenchmarkItem[] = [];
  const skipped: SkippedRow[] = table.bad.map((b) => ({ id: b.index ?? `line ${b.line}`, line: b.line, reason: b.reason }));
  const seen = new Map<number, number>();
  let unanswered = 0;
  for (const { line, cells } of table.rows) {
    const rawIndex = cells.get('index')?.trim() ?? '';
    const index = Number(rawIndex);
    if (rawIndex === '' || !Number.isInteger(index) || index < 0) {
      skipped.push({ id: `line ${line}`, line, reason: `index ${JSON.stringify(rawIndex)} is not a non-negative integer` });
      continue;
    }
    const skip = (reason: string) => skipped.push({ id: String(index), line, reason });
    const dup = seen.get(index);
    if (dup !== undefined) {
      skip(`repeats index ${index} (first on line ${dup})`);
      continue;
    }
    seen.set(index, line);
    let question = cells.get('question') ?? '';
    if (isNone(question)) {
      skip('empty question');
      continue;
    }
    // An option is any cell with text in it: "nan" or "None" can be an option's real text
    // (MMStar has both); pandas writes a missing option as an empty cell.
    let options: string[] = [];
    let letters: string[] = [];
    for (const col of optionColumns) {
      const v = cells.get(col);
      if (v === undefined || v.trim() === '') continue;
      options.push(v);
      letters.push(col);
    }
    if (options.length === 0) {
      const parsed = splitInlineOptions(question);
      if (parsed) {
        ({ question, options } = parsed);
        letters = [...LETTERS.slice(0, options.length)];
      }
    }
    if (options.length < 2) {
      skip(`${options.length === 0 ? 'no options' : `only option ${letters[0]}`} (at least two are needed)`);
      continue;
    }
    const rawAnswer = hasAnswerColumn ? (cells.get('answer') ?? '') : '';
    const answer = isNone(rawAnswer) ? '' : rawAnswer.trim().toUpperCase();
    if (answer !== '' && !letters.includes(answer)) {
      skip(`answer ${JSON.stringify(rawAnswer)} is none of its option letters ${letters.join(', ')}`);
      continue;
    }
    if (answer === '') unanswered++;
    const hint = cells.get('hint');
    const category = cells.get('category');
    const l2 = cells.get('l2-category') ?? cells.get('l2_category');
    const meta: Record<string, unknown> = {
      index,
      circularGroup: String(index % CIRCULAR_STRIDE),
      circularRound: Math.floor(index / CIRCULAR_STRIDE),
      line,
    };
    // Letters with a gap (A, B, D) are kept: the file's answer and predictions use them.
    if (letters.some((l, i) => l !== LETTERS[i])) meta.optionLetters = letters;
    if (!isNone(l2)) meta.l2Category = (l2 as string).trim();
    for (const k of ['split', 'source', 'comment'] as const) {
      const v = cells.get(k);
      if (!isNone(v)) meta[k] = (v as string).trim();
    }
    items.push(
      makeItem({
        id: String(index),
        benchmark,
        question,
        options,
        answer,
        ...(isNone(hint) ? {} : { hint: hint as string }),
        ...(isNone(category) ? {} : { category: (category as string).trim() }),
        metadata: meta,
        image: tsvImage(imageByIndex, String(index), `${name} index ${index}`, expected),
      }),
    );
  }
  warnings.push(
    ...reportSkipped(skipped, table.rows.length + table.bad.length, source, load.strict, `${expected}; each row with a question and at least two options`),
  );
  if (!table.header.includes('image')) warnings.push(`${source} has no "image" column; items load but have no images.`);
  if (unanswered > 0) warnings.push(`${unanswered} of ${items.length} rows have no answer${hasAnswerColumn ? '' : ' column'}; they cannot be scored.`);
  return { benchmark, format: 'vlmevalkit-tsv', source, items, hasAnswers: unanswered === 0, warnings, skipped };
}

function tsvImage(images: ReadonlyMap<string, string>, index: string, what: string, expected: string): () => Promise<ImageInput> {
  return async () => {
    let cell = images.get(index);
    // VLMEvalKit stores a short cell naming another row's index instead of repeating an image.
    if (cell !== undefined && cell.length <= 64 && /^\d+$/.test(cell.trim())) cell = images.get(cell.trim());
    if (cell === undefined) {
      throw new SemclipError('DATASET_NOT_FOUND', `The image for ${what} is missing: its "image" cell is empty or names no row with an image.`, {
        expected,
      });
    }
    const bytes = Buffer.from(cell.trim(), 'base64');
    if (bytes.length < 8) {
      throw new SemclipError('DATASET_INVALID', `The image for ${what} is not base64-encoded image data.`, { expected });
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  };
}

/**
 * MMStar's original release writes options in the question: `...\nOptions: A: x, B: y, C: z`,
 * or (its MathVista and MMMU rows) one `(A) x` line per option at the end, after `Choices:`.
 */
function splitInlineOptions(text: string): { question: string; options: string[] } | undefined {
  const m = /^([\s\S]*?)\n?\s*Options:\s*([\s\S]*)$/.exec(text);
  if (!m) return splitOptionLines(text);
  const tail = m[2] as string;
  const options: string[] = [];
  let rest = tail;
  for (let k = 0; k < 26; k++) {
    const letter = LETTERS[k] as string;
    const next = LETTERS[k + 1] as string;
    const start = new RegExp(`^\\s*\\(?${letter}\\)?[:.]\\s*`).exec(rest);
    if (!start) break;
    rest = rest.slice(start[0].length);
    const end = new RegExp(`,?\\s*\\(?${next}\\)?[:.]\\s`).exec(rest);
    options.push((end ? rest.slice(0, end.index) : rest).trim().replace(/,$/, ''));
    if (!end) break;
    rest = rest.slice(end.index).replace(/^,/, '');
  }
  return options.length >= 2 ? { question: (m[1] as string).trim(), options } : undefined;
}

/** Trailing `(A) x` lines, one per option in letter order, optionally after a `Choices:` line. */
function splitOptionLines(text: string): { question: string; options: string[] } | undefined {
  const lines = text.split('\n');
  const options: string[] = [];
  let first = lines.length;
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^\(([A-Z])\)\s?(.*)$/.exec((lines[i] as string).trim());
    if (!m) break;
    options.unshift(m[2] as string);
    first = i;
    if (m[1] === 'A') break;
  }
  if (options.length < 2 || !/^\(A\)/.test((lines[first] as string).trim())) return undefined;
  if (!lines.slice(first).every((l, k) => l.trim().startsWith(`(${LETTERS[k]})`))) return undefined;
  let head = lines.slice(0, first);
  if (head.length > 0 && /^choices:\s*$/i.test((head[head.length - 1] as string).trim())) head = head.slice(0, -1);
  return { question: head.join('\n').trim(), options };
}
