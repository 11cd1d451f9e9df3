import { basename, dirname, join, resolve } from 'node:path';
import type { BenchmarkItem } from '@semclip/core';
import { optionLetter, SemclipError } from '@semclip/core';
import { describe, isFile, isRecord, needString, optString, pathKind, readJson } from '../_io.js';
import { fileImage, makeItem, missingImage } from './_item.js';
import { DATASET_LAYOUTS, type BenchmarkDataset, type LoadOptions } from './types.js';

const EXPECTED = DATASET_LAYOUTS.scienceqa;
const LLAVA = 'llava_test_CQM-A.json';

interface Problem {
  readonly question: string;
  readonly choices: readonly string[];
  readonly answer: number;
  readonly hint: string;
  readonly image: string | null;
  readonly subject?: string;
  readonly grade?: string;
  readonly topic?: string;
  readonly skill?: string;
}

/**
 * Loads ScienceQA: the official folder (`problems.json`, `pid_splits.json`, images in
 * `images/<split>/<pid>/image.png`) or LLaVA's `llava_test_CQM-A.json` (4241 test
 * questions, 2017 with an image). `subset: 'img'` keeps only questions with an image
 * (SQA-IMG). `metadata.hasImage` marks them either way. `category` is the subject when
 * `problems.json` is at hand (natural / social / language science).
 *
 * Each item's official split (train, val or test) is in `metadata.split` and the dataset's
 * `splits` counts them: for the official layout, the split asked for; for LLaVA's file, from
 * `pid_splits.json` beside it (or `options.splitsFile`); without one, unknown (absent).
 *
 * LLaVA's file has the prompt already built; its context and question cannot be told apart,
 * so `question` keeps LLaVA's stem (`Context: ...\n<question>`) and `hint` is empty. The
 * prompt built from it is LLaVA's, byte for byte.
 *
 * @example
 * ```ts
 * const sqaImg = await loadScienceQa('data/scienceqa', { subset: 'img' });
 * console.log(sqaImg.items.length); // 2017 on the test split
 * ```
 */
export async function loadScienceQa(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  const source = resolve(path);
  const kind = await pathKind(source);
  if (kind === 'missing') {
    throw new SemclipError('DATASET_NOT_FOUND', `ScienceQA data not found: ${source} does not exist.`, {
      expected: EXPECTED,
      details: { path: source },
    });
  }
  if (kind === 'file') return loadLlava(source, options);
  if (await isFile(join(source, 'problems.json'))) return loadOfficial(source, options);
  if (await isFile(join(source, LLAVA))) return loadLlava(join(source, LLAVA), options);
  throw new SemclipError('DATASET_NOT_FOUND', `${source} holds neither problems.json nor ${LLAVA}.`, {
    expected: EXPECTED,
    details: { path: source },
  });
}

async function readProblems(file: string): Promise<Record<string, unknown>> {
  const problems = await readJson(file, 'ScienceQA problems file', EXPECTED);
  if (!isRecord(problems)) {
    throw new SemclipError('DATASET_INVALID', `${file} holds ${describe(problems)}, not an object keyed by problem id.`, { expected: EXPECTED });
  }
  return problems;
}

function parseProblem(rec: unknown, where: string): Problem {
  if (!isRecord(rec)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(rec)}, not a problem object.`, { expected: EXPECTED });
  const choices = rec.choices;
  if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string')) {
    throw new SemclipError('DATASET_INVALID', `${where} needs "choices": a list of at least two strings (got ${describe(choices)}).`, { expected: EXPECTED });
  }
  const answer = rec.answer;
  if (typeof answer !== 'number' || !Number.isInteger(answer) || answer < 0 || answer >= choices.length) {
    throw new SemclipError('DATASET_INVALID', `${where} has "answer" ${describe(answer)}, not an index into its ${choices.length} choices.`, {
      expected: EXPECTED,
    });
  }
  const image = typeof rec.image === 'string' && rec.image !== '' ? rec.image : null;
  const p: Problem = {
    question: needString(rec, 'question', where, EXPECTED),
    choices: choices as string[],
    answer,
    hint: typeof rec.hint === 'string' ? rec.hint : '',
    image,
  };
  const subject = optString(rec, 'subject');
  const grade = optString(rec, 'grade');
  const topic = optString(rec, 'topic');
  const skill = optString(rec, 'skill');
  return { ...p, ...(subject ? { subject } : {}), ...(grade ? { grade } : {}), ...(topic ? { topic } : {}), ...(skill ? { skill } : {}) };
}

function problemMeta(p: Problem): Record<string, unknown> {
  return {
    ...(p.grade ? { grade: p.grade } : {}),
    ...(p.topic ? { topic: p.topic } : {}),
    ...(p.skill ? { skill: p.skill } : {}),
    // ScienceQA's context modality: IMG, TXT (a text hint) or NO.
    context: p.image ? 'IMG' : p.hint.trim() ? 'TXT' : 'NO',
  };
}

async function loadOfficial(dir: string, options: LoadOptions): Promise<BenchmarkDataset> {
  const split = options.split ?? 'test';
  const splitsFile = join(dir, 'pid_splits.json');
  const splits = await readJson(splitsFile, 'ScienceQA splits file', EXPECTED);
  if (!isRecord(splits)) {
    throw new SemclipError('DATASET_INVALID', `${splitsFile} holds ${describe(splits)}, not an object of split -> problem ids.`, { expected: EXPECTED });
  }
  const ids = splits[split];
  if (!Array.isArray(ids)) {
    throw new SemclipError('DATASET_INVALID', `${splitsFile} has no split ${JSON.stringify(split)}.`, {
      expected: `one of ${Object.keys(splits).join(', ')}`,
    });
  }
  const problems = await readProblems(join(dir, 'problems.json'));
  const images = options.images ? resolve(options.images) : join(dir, 'images', split);
  const items: BenchmarkItem[] = [];
  for (const raw of ids) {
    const pid = String(raw);
    const where = `problems.json record ${JSON.stringify(pid)}`;
    if (!(pid in problems)) {
      throw new SemclipError('DATASET_INVALID', `pid_splits.json lists problem ${pid} in ${split}, but problems.json has no such problem.`, {
        expected: EXPECTED,
      });
    }
    const p = parseProblem(problems[pid], where);
    if (options.subset === 'img' && !p.image) continue;
    items.push(
      makeItem({
        id: pid,
        benchmark: 'scienceqa',
        question: p.question,
        options: p.choices,
        answer: optionLetter(p.answer),
        hint: p.hint,
        ...(p.subject ? { category: p.subject } : {}),
        metadata: { hasImage: p.image !== null, split, ...problemMeta(p) },
        image: p.image
          ? fileImage(join(images, pid, p.image), `ScienceQA problem ${pid}`, EXPECTED)
          : missingImage(`ScienceQA problem ${pid}`, 'this problem has no image (it is a text-only question)', 'an image question (use subset "img")'),
      }),
    );
  }
  return { benchmark: 'scienceqa', format: 'scienceqa-official', source: dir, items, hasAnswers: true, warnings: [], splits: { [split]: ids.length } };
}

/**
 * Splits LLaVA's ScienceQA question text into the stem and its `A. ...` options; an option
 * may span several lines (letter closings, poems).
 *
 * @example
 * ```ts
 * splitLlavaOptions('Which closing is correct?\nA. Love,\nZoe\nB. love,\nZoe');
 * // { stem: 'Which closing is correct?', options: ['Love,\nZoe', 'love,\nZoe'] }
 * ```
 */
export function splitLlavaOptions(text: string): { stem: string; options: string[] } | undefined {
  const lines = text.split('\n');
  for (let start = lines.length - 1; start >= 0; start--) {
    if (!lines[start]?.startsWith('A. ')) continue;
    const options: string[][] = [];
    for (let j = start; j < lines.length; j++) {
      const l = lines[j] as string;
      const next = optionLetter(options.length);
      if (l.startsWith(`${next}. `)) options.push([l.slice(3)]);
      else options[options.length - 1]?.push(l);
    }
    if (options.length >= 2) return { stem: lines.slice(0, start).join('\n'), options: options.map((o) => o.join('\n')) };
  }
  return undefined;
}

async function loadLlava(file: string, options: LoadOptions): Promise<BenchmarkDataset> {
  const expected = `${EXPECTED}; LLaVA's file is a JSON array of {id, image?, conversations: [{from: "human", value}, {from: "gpt", value: "<letter>"}]}`;
  const data = await readJson(file, 'ScienceQA question file', expected);
  if (!Array.isArray(data)) {
    throw new SemclipError('DATASET_INVALID', `${file} holds ${describe(data)}, not a JSON array of questions.`, { expected });
  }
  const problemsFile = join(dirname(file), 'problems.json');
  const splitOf = await readSplitOf(file, options);
  const problems = (await isFile(problemsFile)) ? await readProblems(problemsFile) : undefined;
  const images = options.images ? resolve(options.images) : join(dirname(file), 'images', 'test');
  const items: BenchmarkItem[] = [];
  data.forEach((rec, index) => {
    const where = `${basename(file)} entry ${index}`;
    if (!isRecord(rec)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(rec)}, not an object.`, { expected });
    const id = needString(rec, 'id', where, expected);
    const conv = rec.conversations;
    const human = Array.isArray(conv) && isRecord(conv[0]) ? conv[0].value : undefined;
    const gpt = Array.isArray(conv) && isRecord(conv[1]) ? conv[1].value : undefined;
    if (typeof human !== 'string' || typeof gpt !== 'string') {
      throw new SemclipError('DATASET_INVALID', `${where} (id ${id}) needs two conversation turns: the question and the answer letter.`, { expected });
    }
    const image = optString(rec, 'image');
    if (options.subset === 'img' && !image) return;
    const parsed = splitLlavaOptions(human.replace(/^<image>\n/, ''));
    if (!parsed) {
      throw new SemclipError('DATASET_INVALID', `${where} (id ${id}): the question has no "A. ..." / "B. ..." option lines.`, { expected });
    }
    const answer = gpt.trim();
    const index0 = answer.charCodeAt(0) - 65;
    if (answer.length !== 1 || index0 < 0 || index0 >= parsed.options.length) {
      throw new SemclipError(
        'DATASET_INVALID',
        `${where} (id ${id}): answer ${JSON.stringify(gpt)} is not one of its ${parsed.options.length} option letters.`,
        {
          expected,
        },
      );
    }
    const p = problems && id in problems ? parseProblem(problems[id], `problems.json record ${JSON.stringify(id)}`) : undefined;
    items.push(
      makeItem({
        id,
        benchmark: 'scienceqa',
        question: parsed.stem,
        options: parsed.options,
        answer,
        ...(p?.subject ? { category: p.subject } : {}),
        metadata: {
          hasImage: image !== undefined,
          ...(image ? { image } : {}),
          ...(splitOf?.get(id) ? { split: splitOf.get(id) } : {}),
          ...(p ? problemMeta(p) : {}),
        },
        image: image
          ? fileImage(join(images, image), `ScienceQA problem ${id}`, EXPECTED)
          : missingImage(`ScienceQA problem ${id}`, 'this problem has no image (it is a text-only question)', 'an image question (use subset "img")'),
      }),
    );
  });
  const warnings: string[] = [];
  let splits: Record<string, number> | undefined;
  if (splitOf) {
    splits = {};
    for (const rec of data) {
      const split = splitOf.get(String((rec as Record<string, unknown>).id)) ?? 'unknown';
      splits[split] = (splits[split] ?? 0) + 1;
    }
    if (splits.unknown) warnings.push(`${splits.unknown} question(s) of ${basename(file)} are in no split of pid_splits.json.`);
  }
  return { benchmark: 'scienceqa', format: 'scienceqa-llava', source: file, items, hasAnswers: true, warnings, ...(splits ? { splits } : {}) };
}

/** The official splits, in the order a problem id is looked up (the mini/trainval splits are subsets or unions of these). */
const OFFICIAL_SPLITS = ['train', 'val', 'test'] as const;

/**
 * Problem id -> official split (train, val or test), from `options.splitsFile` or the
 * `pid_splits.json` beside LLaVA's file; undefined when there is none.
 */
async function readSplitOf(file: string, options: LoadOptions): Promise<Map<string, string> | undefined> {
  const splitsFile = options.splitsFile ? resolve(options.splitsFile) : join(dirname(file), 'pid_splits.json');
  if (!options.splitsFile && !(await isFile(splitsFile))) return undefined;
  const splits = await readJson(splitsFile, 'ScienceQA splits file', EXPECTED);
  if (!isRecord(splits)) {
    throw new SemclipError('DATASET_INVALID', `${splitsFile} holds ${describe(splits)}, not an object of split -> problem ids.`, { expected: EXPECTED });
  }
  const splitOf = new Map<string, string>();
  for (const split of OFFICIAL_SPLITS) {
    const ids = splits[split];
    if (!Array.isArray(ids)) continue;
    for (const id of ids) if (!splitOf.has(String(id))) splitOf.set(String(id), split);
  }
  return splitOf;
}
