import { open, readFile, stat } from 'node:fs/promises';
import type { BenchmarkName } from '@semclip/core';
import { BENCHMARK_NAMES, IMAGE_ERROR_CODES, SemclipError } from '@semclip/core';
import type { Judgement } from '../answer/judge.js';
import { ALL_EVAL_METHODS, type EvalMethod } from './methods.js';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** The first line's `type`: what marks a file as SemClip evaluation results. */
export const RESULTS_FORMAT = 'semclip-eval-run';
export const RESULTS_VERSION = 1;

/**
 * Everything a run's results depend on. A resumed run must match the file's config exactly
 * (otherwise `RESULTS_INVALID`), so one file never mixes results of different setups.
 */
export interface RunConfig {
  readonly benchmark: BenchmarkName;
  /** The benchmark data: layout, question count and a fingerprint of the ids and answers. */
  readonly data: { readonly format: string; readonly items: number; readonly fingerprint: string };
  readonly vlm: { readonly id: string; readonly model: string; readonly visualTokensPerImage: number };
  readonly seed: number;
  /** Seeds of the `random` method: `seed` ... `seed + repeats - 1`. */
  readonly repeats: number;
  /**
   * How images are encoded before the VLM sees them. `padding` (`pad-square(122,116,104)`) is
   * set when images were padded to squares; absent means none, as in files written before it existed.
   */
  readonly image: { readonly format: 'jpeg' | 'png' | 'webp'; readonly quality: number; readonly maxSide: number; readonly padding?: string };
  readonly maxTokens: number | null;
  /** What the caller wired: grid, scorer, selection... (the CLI records its flags here). */
  readonly setup: { readonly [key: string]: JsonValue };
  /**
   * V* only: how questions were put (`letters`: options listed, letter asked; `likelihood`:
   * V*'s own protocol, option texts ranked by likelihood) and the seed of each question's
   * option order (`vstarOptionOrder(shuffleSeed, item id)`, kept per row in `optionOrder`).
   */
  readonly vstar?: { readonly protocol: 'letters' | 'likelihood'; readonly optionOrder: 'shuffled'; readonly shuffleSeed: number };
}

/** The first line of a results file. */
export interface RunHeader {
  readonly type: typeof RESULTS_FORMAT;
  readonly version: number;
  readonly createdAt: string;
  readonly config: RunConfig;
  /** Recorded, never compared: data path, VLM spec with its URL, package versions. */
  readonly info: { readonly [key: string]: JsonValue };
}

/** How a row's answer was obtained. */
export type ResultVia = 'choose' | 'text' | 'likelihood' | 'vote' | 'oracle' | 'strategy';

/**
 * One result line: one (benchmark, item, method, seed). Carries what the metrics need
 * (`answer`, `predicted`, `correct`, `category`, `group`, `hasImage`), so reports need
 * nothing but the results files.
 */
export interface EvalResultRow {
  readonly type: 'result';
  readonly benchmark: BenchmarkName;
  readonly item: string;
  readonly method: EvalMethod;
  readonly seed: number;
  readonly answer: string;
  /** The answer read from the reply; `null` when it named nothing (counted wrong). */
  readonly predicted: string | null;
  readonly correct: boolean;
  readonly category?: string;
  readonly group?: string;
  readonly hasImage?: boolean;
  /**
   * The model's reply: its text, or the chosen option index (`choose`, `likelihood`), about the
   * options as shown (`optionOrder`).
   */
  readonly reply?: string | { readonly index: number };
  /**
   * V*: the order the options were shown in: entry k is the data file's index of the option
   * shown as letter k. `answer` and `predicted` are the data file's letters.
   */
  readonly optionOrder?: readonly number[];
  readonly via: ResultVia;
  /** Whether the overview was sent. */
  readonly overview: boolean;
  /** Level-1 tile indices sent with the answer (majority/oracle: the tiles that were asked). */
  readonly tiles: readonly number[];
  /** Images in the prompt this row's answer came from. */
  readonly images: number;
  /** Visual tokens the method spends on this item (majority: all its calls). */
  readonly visualTokens: number;
  /** VLM calls the method needs for this item. */
  readonly vlmCalls: number;
  /** VLM time the method needs for this item, in ms (plus scoring, for scored methods). */
  readonly latencyMs: number;
  /** Scoring time for scored methods, in ms. */
  readonly scoreMs?: number;
  /** Majority: the votes per answer. */
  readonly votes?: { readonly [answer: string]: number };
  /** Set when the item could not be answered (e.g. its image is missing); the row counts as wrong. */
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * The key a row is unique by: (benchmark, item, method, seed).
 *
 * @example
 * ```ts
 * const done = new Set((await readResults('vstar.jsonl')).rows.map(resultKey));
 * ```
 */
export function resultKey(row: Pick<EvalResultRow, 'benchmark' | 'item' | 'method' | 'seed'>): string {
  return `${row.benchmark}\u0000${row.item}\u0000${row.method}\u0000${row.seed}`;
}

/** What kind of failure a row's error code is: what the user has to fix. */
export type FailureCause = 'missing-image' | 'bad-image' | 'model-output' | 'other';

/**
 * The cause of a failed row's error code: `DATASET_NOT_FOUND` (the loaders' "image missing"),
 * `IMAGE_*`/`FILE_TOO_LARGE` (an image that cannot be read), `MODEL_OUTPUT_INVALID` (a reply
 * the runner could not read), anything else.
 *
 * @example
 * ```ts
 * failureCause('DATASET_NOT_FOUND'); // 'missing-image'
 * ```
 */
export function failureCause(code: string): FailureCause {
  if (code === 'DATASET_NOT_FOUND') return 'missing-image';
  if ((IMAGE_ERROR_CODES as readonly string[]).includes(code)) return 'bad-image';
  if (code === 'MODEL_OUTPUT_INVALID') return 'model-output';
  return 'other';
}

/**
 * A row as the metrics see it (`summarize`). Rows with an `error` count as missing.
 *
 * @example
 * ```ts
 * const score = summarize('vstar', rows.filter((r) => r.method === 'semclip').map(rowToJudgement));
 * ```
 */
export function rowToJudgement(row: EvalResultRow): Judgement {
  return {
    id: row.item,
    benchmark: row.benchmark,
    answer: row.answer,
    predicted: row.predicted,
    correct: row.correct,
    missing: row.error !== undefined,
    ...(row.category !== undefined ? { category: row.category } : {}),
    ...(row.group !== undefined ? { group: row.group } : {}),
    ...(row.hasImage !== undefined ? { hasImage: row.hasImage } : {}),
    ...(typeof row.reply === 'string' ? { reply: row.reply } : {}),
  };
}

/** A results file as read back. */
export interface ResultsFile {
  readonly path: string;
  readonly header: RunHeader;
  /**
   * One row per key, in the order keys first appear. A repeated key keeps its LAST row: the
   * file is append-only, so a resumed run that retries a failed row appends the new row after
   * the old one.
   */
  readonly rows: readonly EvalResultRow[];
  /** Rows superseded by a later row of the same key that were not failures (unexpected repeats). */
  readonly duplicates: number;
  /** Failed rows (with `error`) superseded by a later row of the same key: a resume retried them. */
  readonly retried: number;
  /**
   * Line numbers of header lines after the first, each with the same config (two runs started
   * at once on one file by a SemClip without the writer lock); they are skipped. A repeated
   * header of another config is `RESULTS_INVALID` naming its line.
   */
  readonly extraHeaders: readonly number[];
  /** Bytes of an unfinished last line (a run killed mid-write); 0 when the file ends cleanly. */
  readonly truncatedBytes: number;
  /** Length in bytes of the complete lines. */
  readonly validBytes: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(path: string, line: number, why: string): SemclipError {
  return new SemclipError('RESULTS_INVALID', `${path} line ${line}: ${why}.`, {
    expected: 'a semclip eval results file: a header line, then one JSON result per line (written by semclip eval run)',
    hint: 'If the file was edited by hand, restore it or start a new one with another --out',
    details: { path, line },
  });
}

function checkHeader(value: unknown, path: string): RunHeader {
  if (!isObj(value) || value.type !== RESULTS_FORMAT) {
    throw new SemclipError('RESULTS_INVALID', `${path} is not a semclip eval results file: its first line is not a run header.`, {
      expected: `a file written by semclip eval run (first line {"type":"${RESULTS_FORMAT}",...})`,
      hint: 'Pass a results file written by semclip eval run (eval run writes to its --out; it never overwrites a file like this one)',
      details: { path },
    });
  }
  if (value.version !== RESULTS_VERSION) {
    throw new SemclipError('RESULTS_INVALID', `${path} has results format version ${String(value.version)}; this version reads ${RESULTS_VERSION}.`, {
      hint: 'Use the SemClip version that wrote it, or re-run into a new file',
      details: { path },
    });
  }
  const config = value.config;
  if (!isObj(config) || !(BENCHMARK_NAMES as readonly string[]).includes(String(config.benchmark))) throw invalid(path, 1, 'the header has no valid config');
  return value as unknown as RunHeader;
}

/**
 * A header line after the first: two runs that started at once on one file each wrote one
 * (before runs took the file's lock). The same config is harmless; another is refused.
 */
function checkRepeatedHeader(first: RunHeader, again: RunHeader, path: string, line: number): void {
  const diff = diffConfig(first.config, again.config);
  if (diff.length === 0) return;
  const shown = diff.slice(0, 4).map((d) => `${d.path}: ${JSON.stringify(d.file)} on line 1, ${JSON.stringify(d.now)} here`);
  throw new SemclipError('RESULTS_INVALID', `${path} line ${line}: a second run header, of another configuration (${shown.join('; ')}).`, {
    expected: 'one configuration per results file',
    hint: `Two different runs wrote this file at once. Keep the lines of one run (the header on line 1 or line ${line}, with their rows) in this file and move the others to a new file, or start again with another --out`,
    details: { path, line, differences: diff.map((d) => ({ path: d.path, first: d.file as never, here: d.now as never })) },
  });
}

function checkRow(value: unknown, path: string, line: number): EvalResultRow {
  if (!isObj(value) || value.type !== 'result') throw invalid(path, line, 'not a result row');
  if (!(BENCHMARK_NAMES as readonly string[]).includes(String(value.benchmark)))
    throw invalid(path, line, `unknown benchmark ${JSON.stringify(value.benchmark)}`);
  if (!(ALL_EVAL_METHODS as readonly string[]).includes(String(value.method))) throw invalid(path, line, `unknown method ${JSON.stringify(value.method)}`);
  if (typeof value.item !== 'string' || !Number.isSafeInteger(value.seed) || typeof value.correct !== 'boolean' || typeof value.answer !== 'string') {
    throw invalid(path, line, 'a result row needs item, seed, answer and correct');
  }
  if (!(value.predicted === null || typeof value.predicted === 'string')) throw invalid(path, line, 'predicted must be a string or null');
  return value as unknown as EvalResultRow;
}

/**
 * Reads a results file. A last line without its newline (a run killed mid-write) is left
 * out and reported in `truncatedBytes`; any other line that is not a result is
 * `RESULTS_INVALID` with its line number.
 *
 * @example
 * ```ts
 * const { header, rows } = await readResults('results.jsonl');
 * console.log(header.config.vlm.model, rows.length);
 * ```
 */
export async function readResults(path: string): Promise<ResultsFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (cause) {
    throw new SemclipError('RESULTS_INVALID', `Cannot read results file ${path}: ${cause instanceof Error ? cause.message : String(cause)}.`, {
      cause,
      expected: 'a results file written by semclip eval run',
      details: { path },
    });
  }
  const parsed = parseResults(buf, path);
  if (!parsed) {
    throw new SemclipError('RESULTS_INVALID', `${path} is empty.`, { expected: 'a results file written by semclip eval run', details: { path } });
  }
  return parsed;
}

/**
 * Parses a results file's bytes; `undefined` when it holds no complete line yet.
 *
 * @example
 * ```ts
 * const file = parseResults(await readFile('vstar.jsonl'), 'vstar.jsonl');
 * ```
 */
export function parseResults(buf: Uint8Array, path: string): ResultsFile | undefined {
  const lastNewline = buf.lastIndexOf(0x0a);
  const validBytes = lastNewline + 1;
  const truncatedBytes = buf.length - validBytes;
  if (validBytes === 0) return undefined;
  const text = Buffer.from(buf.buffer, buf.byteOffset, validBytes).toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // after the final newline
  let header: RunHeader | undefined;
  const rows: EvalResultRow[] = [];
  // Key -> index in `rows`: a later row of a key replaces the earlier one in place.
  const seen = new Map<string, number>();
  let duplicates = 0;
  let retried = 0;
  const extraHeaders: number[] = [];
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      if (!header) checkHeader(undefined, path);
      throw invalid(path, line, 'not valid JSON');
    }
    if (!header) {
      header = checkHeader(value, path);
      return;
    }
    if (isObj(value) && value.type === RESULTS_FORMAT) {
      checkRepeatedHeader(header, checkHeader(value, path), path, line);
      extraHeaders.push(line);
      return;
    }
    const row = checkRow(value, path, line);
    const key = resultKey(row);
    const at = seen.get(key);
    if (at !== undefined) {
      if ((rows[at] as EvalResultRow).error !== undefined) retried++;
      else duplicates++;
      rows[at] = row;
      return;
    }
    seen.set(key, rows.length);
    rows.push(row);
  });
  if (!header) return undefined;
  return { path, header, rows, duplicates, retried, extraHeaders, truncatedBytes, validBytes };
}

/** Canonical JSON (object keys sorted), for comparing configs. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObj(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Paths (`vlm.model`, `setup.grid`...) where two configs differ, with both values.
 *
 * @example
 * ```ts
 * diffConfig({ seed: 0 }, { seed: 7 }); // [{ path: 'seed', file: 0, now: 7 }]
 * ```
 */
export function diffConfig(a: unknown, b: unknown, prefix = ''): Array<{ path: string; file: unknown; now: unknown }> {
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffConfig(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return canonicalJson(a) === canonicalJson(b) ? [] : [{ path: prefix || '(config)', file: a, now: b }];
}

/** Size of a file, or -1 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw err;
  }
}

/** Cuts a file back to `length` bytes (dropping a half-written last line) and syncs it. */
export async function truncateFile(path: string, length: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(length);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
