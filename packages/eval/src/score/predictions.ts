import { resolve } from 'node:path';
import { SemclipError } from '@semclip/core';
import { describe, isRecord, parseJsonLines, pathKind, readText, type JsonLine } from '../_io.js';
import { parseTsv } from '../_tsv.js';
import type { Reply } from '../answer/judge.js';
import { POPE_SPLITS, type PopeSplit } from '../data/types.js';

/** The prediction-file layouts `readPredictions` understands. */
export type PredictionFormat =
  /** JSON lines (or a JSON array) with `question_id` and `text` (LLaVA answer files) or `prediction`. */
  | 'answers'
  /** ScienceQA's result JSON from LLaVA's `eval_science_qa.py` (`results`: option index per id). */
  | 'scienceqa-result'
  /** V* annotation lines with the chosen option index in `output`. */
  | 'vstar-output'
  /** A VLMEvalKit result table saved as TSV: `index` and `prediction` columns (MMBench, MMStar...). */
  | 'vlmevalkit-tsv';

/** One prediction: the reply for one question id (and, for MMBench's all-rounds, one round). */
export interface PredictionRecord {
  readonly id: string;
  readonly reply: Reply;
  /** The prompt the model saw, when the file says (used to catch answers for other questions). */
  readonly prompt?: string;
  /** LLaVA's MMBench `--all-rounds`: which rotation of the options this answers (0 = as in the data). */
  readonly round?: number;
  /**
   * The options in the order the model was shown them, as texts (`options`: LLaVA's MMBench
   * answers, V* annotation lines) or as indices into the data's options (`option_order`).
   * A letter is read against this order; without it, against the data file's order.
   */
  readonly optionTexts?: readonly string[];
  readonly optionOrder?: readonly number[];
  /** POPE: the split the prediction answers (`split`, or `category` naming a split). */
  readonly split?: PopeSplit;
  /** 1-based line (or array index) in the file. */
  readonly line: number;
}

export interface Predictions {
  readonly path: string;
  readonly format: PredictionFormat;
  readonly records: readonly PredictionRecord[];
}

const EXPECTED =
  'JSON lines with "question_id" and "text" (LLaVA answer files) or "prediction" (optionally "options" or "option_order": the option order shown); ScienceQA\'s result JSON with "results" (option index per question id); V* annotation lines with "input_image" and "output"; or a VLMEvalKit result table as TSV ("index" and "prediction" columns)';

/**
 * Reads a prediction file in any layout of `PredictionFormat`. Malformed lines, records
 * without an id or reply, and repeated ids are `RESULTS_INVALID` with the line number.
 *
 * @example
 * ```ts
 * const preds = await readPredictions('answers/llava-v1.5-13b.jsonl');
 * console.log(preds.format, preds.records.length); // answers 8910
 * ```
 */
export async function readPredictions(path: string): Promise<Predictions> {
  const source = resolve(path);
  const kind = await pathKind(source);
  if (kind !== 'file') {
    throw new SemclipError('RESULTS_INVALID', `Prediction file ${source} ${kind === 'dir' ? 'is a folder' : 'does not exist'}.`, {
      expected: EXPECTED,
      details: { path: source },
    });
  }
  const text = await readText(source, 'prediction file', EXPECTED, 'RESULTS_INVALID');
  if (text.startsWith('PK\u0003\u0004')) {
    throw new SemclipError('RESULTS_INVALID', `Prediction file ${source} is a zip archive (an .xlsx workbook?), not text.`, {
      expected: EXPECTED,
      hint: `Save VLMEvalKit's .xlsx as TSV first, e.g. python -c "import pandas as pd; pd.read_excel('${source}').to_csv('predictions.tsv', sep='\\t', index=False)"`,
      details: { path: source },
    });
  }
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  if (!firstLine.trimStart().startsWith('{') && !firstLine.trimStart().startsWith('[') && firstLine.includes('\t')) {
    return checkDuplicates(source, 'vlmevalkit-tsv', tsvPredictions(text, source));
  }
  const trimmed = text.trimStart();
  let whole: unknown;
  let parsedWhole = false;
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      whole = JSON.parse(text) as unknown;
      parsedWhole = true;
    } catch {
      // Not one JSON document: JSON lines, parsed below with line numbers.
    }
  }
  let format: PredictionFormat = 'answers';
  let records: PredictionRecord[];
  if (parsedWhole && isRecord(whole) && isRecord(whole.results)) {
    format = 'scienceqa-result';
    records = scienceQaResult(whole, source);
  } else {
    const lines: JsonLine[] = parsedWhole
      ? Array.isArray(whole)
        ? whole.map((value, i) => ({ line: i + 1, value }))
        : [{ line: 1, value: whole }]
      : parseJsonLines(text, source, 'Prediction file', EXPECTED, 'RESULTS_INVALID');
    const first = lines[0]?.value;
    if (isRecord(first) && 'input_image' in first && 'output' in first && !('question_id' in first)) {
      format = 'vstar-output';
      records = lines.map((l) => vstarOutput(l, source));
    } else records = lines.map((l) => answerLine(l, source));
  }
  return checkDuplicates(source, format, records);
}

function checkDuplicates(source: string, format: PredictionFormat, records: PredictionRecord[]): Predictions {
  if (records.length === 0) {
    throw new SemclipError('RESULTS_INVALID', `Prediction file ${source} holds no predictions.`, { expected: EXPECTED });
  }
  const seen = new Map<string, number>();
  for (const r of records) {
    const key = `${r.id}\u0000${r.round ?? 0}\u0000${r.split ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new SemclipError(
        'RESULTS_INVALID',
        `Prediction file ${source} answers question ${r.id}${r.round ? ` (round ${r.round})` : ''}${r.split ? ` (${r.split})` : ''} twice: lines ${first} and ${r.line}.`,
        {
          expected: 'one answer per question',
          hint: 'Remove the duplicate lines (a resumed run may have appended them again)',
          details: { path: source, id: r.id },
        },
      );
    }
    seen.set(key, r.line);
  }
  return { path: source, format, records };
}

function where(path: string, line: number): string {
  return `${path} line ${line}`;
}

function answerLine({ line, value }: JsonLine, path: string): PredictionRecord {
  if (!isRecord(value)) {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} is ${describe(value)}, not a prediction object.`, { expected: EXPECTED });
  }
  const rawId = value.question_id ?? value.questionId ?? value.id;
  if (!((typeof rawId === 'string' && rawId !== '') || (typeof rawId === 'number' && Number.isFinite(rawId)))) {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has no "question_id" (got ${describe(rawId)}).`, { expected: EXPECTED });
  }
  const text = typeof value.text === 'string' ? value.text : value.prediction;
  let reply: Reply;
  if (typeof text === 'string') reply = text;
  else if (typeof value.output === 'number') reply = { index: value.output };
  else {
    throw new SemclipError(
      'RESULTS_INVALID',
      `${where(path, line)} (question ${String(rawId)}) has no "text" or "prediction" string (got ${describe(value.text ?? value.prediction)}).`,
      {
        expected: EXPECTED,
      },
    );
  }
  const round = value.round_id;
  if (round !== undefined && (typeof round !== 'number' || !Number.isInteger(round) || round < 0)) {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has round_id ${describe(round)}.`, { expected: 'a non-negative integer round_id' });
  }
  return {
    id: String(rawId),
    reply,
    line,
    ...(typeof value.prompt === 'string' ? { prompt: value.prompt } : {}),
    ...(typeof round === 'number' && round > 0 ? { round } : {}),
    ...shownOrder(value, path, line),
    ...popeSplit(value),
  };
}

/** The option order a prediction records: `options` (texts) or `option_order` (indices into the data's options). */
function shownOrder(value: Record<string, unknown>, path: string, line: number): Pick<PredictionRecord, 'optionTexts' | 'optionOrder'> {
  const order = value.option_order;
  if (order !== undefined) {
    if (!Array.isArray(order) || !order.every((i) => Number.isInteger(i) && (i as number) >= 0)) {
      throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has "option_order" ${describe(order)}, not a list of option indices.`, {
        expected: '"option_order": for each option shown (A, B, ...), its index in the data file\'s options, e.g. [2, 0, 3, 1]',
      });
    }
    return { optionOrder: order as number[] };
  }
  const texts = value.options;
  if (Array.isArray(texts) && texts.length > 0 && texts.every((t) => typeof t === 'string')) return { optionTexts: texts as string[] };
  return {};
}

function popeSplit(value: Record<string, unknown>): Pick<PredictionRecord, 'split'> {
  const s = typeof value.split === 'string' ? value.split : value.category;
  return typeof s === 'string' && (POPE_SPLITS as readonly string[]).includes(s) ? { split: s as PopeSplit } : {};
}

/** VLMEvalKit's result table (its .xlsx saved as TSV): one prediction per `index`. */
function tsvPredictions(text: string, path: string): PredictionRecord[] {
  const expected = 'a VLMEvalKit result table as TSV: a header with "index" and "prediction" columns, one row per question';
  const table = parseTsv(text, path, expected);
  for (const col of ['index', 'prediction']) {
    if (!table.header.includes(col)) {
      throw new SemclipError('RESULTS_INVALID', `${path} has no "${col}" column (columns: ${table.header.join(', ')}).`, { expected });
    }
  }
  const bad = table.bad[0];
  if (bad) throw new SemclipError('RESULTS_INVALID', `${where(path, bad.line)} has ${bad.reason}.`, { expected });
  return table.rows.map(({ line, cells }) => {
    const id = cells.get('index')?.trim() ?? '';
    if (id === '') throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has an empty "index".`, { expected });
    return { id, reply: cells.get('prediction') ?? '', line };
  });
}

function vstarOutput({ line, value }: JsonLine, path: string): PredictionRecord {
  if (!isRecord(value) || typeof value.input_image !== 'string') {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has no "input_image".`, { expected: EXPECTED });
  }
  const output = value.output;
  if (typeof output !== 'number' || !Number.isInteger(output)) {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has "output" ${describe(output)}, not an option index.`, { expected: EXPECTED });
  }
  // The record's own options are the order its output index counts in.
  return { id: value.input_image.replace(/\.[^./]+$/, ''), reply: { index: output }, line, ...shownOrder(value, path, line) };
}

function scienceQaResult(doc: Record<string, unknown>, path: string): PredictionRecord[] {
  const results = doc.results as Record<string, unknown>;
  const out: PredictionRecord[] = [];
  let n = 0;
  for (const [id, idx] of Object.entries(results)) {
    n++;
    if (typeof idx !== 'number' || !Number.isInteger(idx)) {
      throw new SemclipError('RESULTS_INVALID', `${path}: results[${JSON.stringify(id)}] is ${describe(idx)}, not an option index.`, {
        expected: 'ScienceQA result JSON: "results" maps question id -> predicted option index (-1 = no answer)',
      });
    }
    out.push({ id, reply: { index: idx }, line: n });
  }
  return out;
}
