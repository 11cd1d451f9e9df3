import { dirname, extname, join, resolve } from 'node:path';
import type { BenchmarkItem, ImageInput } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { describe, isFile, isRecord, pathKind, readJson } from '../_io.js';
import { makeItem, reportSkipped, type SkippedRow } from './_item.js';
import { DATASET_LAYOUTS, type BenchmarkDataset, type LoadOptions } from './types.js';

const EXPECTED = `${DATASET_LAYOUTS.seedbench}; the JSON is {"questions": [{question_id, question, choice_a..choice_d, answer, data_id, data_type, question_type_id}], "question_type": {name: id}}`;
const CHOICES = ['choice_a', 'choice_b', 'choice_c', 'choice_d'] as const;
const LETTERS = ['A', 'B', 'C', 'D'] as const;

/**
 * Loads the image part of SEED-Bench (question types 1-9, `data_type: "image"`) from
 * `SEED-Bench.json`; images are `SEED-Bench-image/<data_id>` beside it (or in `images`).
 * `category` is the question type's name (Scene Understanding, Instance Identity...). A
 * question that cannot be used (no id, fewer than two choices with text, an answer that is
 * none of its choices) is left out and listed in `skipped`, or refused with `strict`; a
 * missing choice leaves a gap in the letters (`metadata.optionLetters`).
 *
 * @example
 * ```ts
 * const seed = await loadSeedBench('data/SEED-Bench');
 * console.log(new Set(seed.items.map((i) => i.category)));
 * ```
 */
export async function loadSeedBench(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  let source = resolve(path);
  const kind = await pathKind(source);
  if (kind === 'missing') {
    throw new SemclipError('DATASET_NOT_FOUND', `SEED-Bench data not found: ${source} does not exist.`, { expected: EXPECTED, details: { path: source } });
  }
  if (kind === 'dir') {
    if (!(await isFile(join(source, 'SEED-Bench.json')))) {
      throw new SemclipError('DATASET_NOT_FOUND', `${source} holds no SEED-Bench.json.`, { expected: EXPECTED, details: { path: source } });
    }
    source = join(source, 'SEED-Bench.json');
  }
  const data = await readJson(source, 'SEED-Bench file', EXPECTED);
  if (!isRecord(data) || !Array.isArray(data.questions)) {
    throw new SemclipError('DATASET_INVALID', `${source} has no "questions" list (got ${describe(isRecord(data) ? data.questions : data)}).`, {
      expected: EXPECTED,
    });
  }
  const typeNames = new Map<number, string>();
  if (isRecord(data.question_type)) {
    for (const [name, id] of Object.entries(data.question_type)) if (typeof id === 'number') typeNames.set(id, name);
  }
  const imagesDir = options.images ? resolve(options.images) : join(dirname(source), 'SEED-Bench-image');
  const items: BenchmarkItem[] = [];
  const bad: SkippedRow[] = [];
  let video = 0;
  let images = 0;
  data.questions.forEach((rec: unknown, i: number) => {
    if (!isRecord(rec)) {
      bad.push({ id: `question ${i}`, line: i + 1, reason: `${describe(rec)}, not an object` });
      return;
    }
    const typeId = rec.question_type_id;
    const dataType = typeof rec.data_type === 'string' ? rec.data_type : undefined;
    const isImage = dataType !== undefined ? dataType === 'image' : typeof typeId === 'number' && typeId >= 1 && typeId <= 9;
    if (!isImage) {
      video++;
      return;
    }
    images++;
    const rawId = rec.question_id;
    const id = typeof rawId === 'string' && rawId !== '' ? rawId : typeof rawId === 'number' ? String(rawId) : undefined;
    const skip = (reason: string): void => {
      bad.push({ id: id ?? `question ${i}`, line: i + 1, reason });
    };
    if (id === undefined) return skip(`no "question_id" (got ${describe(rawId)})`);
    const question = typeof rec.question === 'string' ? rec.question : '';
    if (question.trim() === '') return skip('empty question');
    // An option is a choice with text in it; a missing one leaves a gap in the letters.
    const options: string[] = [];
    const letters: string[] = [];
    CHOICES.forEach((k, c) => {
      const v = rec[k];
      if (typeof v === 'string' && v.trim() !== '') {
        options.push(v);
        letters.push(LETTERS[c] as string);
      } else if (typeof v === 'number') {
        options.push(String(v));
        letters.push(LETTERS[c] as string);
      }
    });
    if (options.length < 2) return skip(`${options.length === 1 ? 'one choice' : 'no choices'} with text (at least two are needed)`);
    const answer = typeof rec.answer === 'string' ? rec.answer.trim().toUpperCase() : '';
    if (!letters.includes(answer)) return skip(`answer ${JSON.stringify(rec.answer)} is none of its choices ${letters.join(', ')}`);
    const dataId = typeof rec.data_id === 'string' && rec.data_id !== '' ? rec.data_id : undefined;
    if (dataId === undefined) return skip('no "data_id" (the image file)');
    const category = typeof typeId === 'number' ? (typeNames.get(typeId) ?? `type ${typeId}`) : undefined;
    items.push(
      makeItem({
        id,
        benchmark: 'seedbench',
        question,
        options,
        answer,
        ...(category ? { category } : {}),
        metadata: {
          dataId,
          ...(typeof typeId === 'number' ? { questionTypeId: typeId } : {}),
          ...(letters.some((l, k) => l !== LETTERS[k]) ? { optionLetters: letters } : {}),
        },
        image: seedImage(imagesDir, dataId, `SEED-Bench question ${id}`),
      }),
    );
  });
  const warnings = video > 0 ? [`Skipped ${video} video questions (SemClip evaluates the image part).`] : [];
  warnings.push(...reportSkipped(bad, images, source, options.strict, EXPECTED));
  return { benchmark: 'seedbench', format: 'seedbench', source, items, hasAnswers: true, warnings, skipped: bad };
}

function seedImage(dir: string, dataId: string, what: string): () => Promise<ImageInput> {
  return async () => {
    // data_id is the file name in some releases and the name without extension in others.
    const candidates = extname(dataId) ? [dataId] : [dataId, `${dataId}.jpg`, `${dataId}.png`];
    for (const c of candidates) if (await isFile(join(dir, c))) return join(dir, c);
    throw new SemclipError('DATASET_NOT_FOUND', `The image for ${what} is missing: ${join(dir, candidates[0] as string)} does not exist.`, {
      expected: EXPECTED,
      hint: 'Download SEED-Bench-image, or point to its folder with the `images` option (CLI: --images)',
      details: { path: join(dir, candidates[0] as string) },
    });
  };
}
