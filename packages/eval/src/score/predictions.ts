import { resolve } from 'node:path';
import { SemclipError } from '@semclip/core';
import { describe, isRecord, parseJsonLines, pathKind, readText, type JsonLine } from '../_io.js';
import type { Reply } from '../answer/judge.js';

/** The prediction-file layouts `readPredictions` understands. */
export type PredictionFormat =
  /** JSON lines (or a JSON array) with `question_id` and `text` (LLaVA answer files) or `prediction`. */
  | 'answers'
  /** ScienceQA's result JSON from LLaVA's `eval_science_qa.py` (`results`: option index per id). */
  | 'scienceqa-result'
  /** V* annotation lines with the chosen option index in `output`. */
  | 'vstar-output';

/** One prediction: the reply for one question id (and, for MMBench's all-rounds, one round). */
export interface PredictionRecord {
  readonly id: string;
  readonly reply: Reply;
  /** The prompt the model saw, when the file says (used to catch answers for other questions). */
  readonly prompt?: string;
  /** LLaVA's MMBench `--all-rounds`: which rotation of the options this answers (0 = as in the data). */
  readonly round?: number;
  /** 1-based line (or array index) in the file. */
  readonly line: number;
}

export interface Predictions {
  readonly path: string;
  readonly format: PredictionFormat;
  readonly records: readonly PredictionRecord[];
}

const EXPECTED =
  'JSON lines with "question_id" and "text" (LLaVA answer files) or "prediction"; ScienceQA\'s result JSON with "results" (option index per question id); or V* annotation lines with "input_image" and "output"';

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
  if (records.length === 0) {
    throw new SemclipError('RESULTS_INVALID', `Prediction file ${source} holds no predictions.`, { expected: EXPECTED });
  }
  const seen = new Map<string, number>();
  for (const r of records) {
    const key = `${r.id}\u0000${r.round ?? 0}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new SemclipError(
        'RESULTS_INVALID',
        `Prediction file ${source} answers question ${r.id}${r.round ? ` (round ${r.round})` : ''} twice: lines ${first} and ${r.line}.`,
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
  };
}

function vstarOutput({ line, value }: JsonLine, path: string): PredictionRecord {
  if (!isRecord(value) || typeof value.input_image !== 'string') {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has no "input_image".`, { expected: EXPECTED });
  }
  const output = value.output;
  if (typeof output !== 'number' || !Number.isInteger(output)) {
    throw new SemclipError('RESULTS_INVALID', `${where(path, line)} has "output" ${describe(output)}, not an option index.`, { expected: EXPECTED });
  }
  return { id: value.input_image.replace(/\.[^./]+$/, ''), reply: { index: output }, line };
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
