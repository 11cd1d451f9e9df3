import { dirname, extname, join, resolve } from 'node:path';
import type { BenchmarkItem, ImageInput } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { describe, isFile, isRecord, needString, pathKind, readJson } from '../_io.js';
import { makeItem } from './_item.js';
import { DATASET_LAYOUTS, type BenchmarkDataset, type LoadOptions } from './types.js';

const EXPECTED = `${DATASET_LAYOUTS.seedbench}; the JSON is {"questions": [{question_id, question, choice_a..choice_d, answer, data_id, data_type, question_type_id}], "question_type": {name: id}}`;
const CHOICES = ['choice_a', 'choice_b', 'choice_c', 'choice_d'] as const;

/**
 * Loads the image part of SEED-Bench (question types 1-9, `data_type: "image"`) from
 * `SEED-Bench.json`; images are `SEED-Bench-image/<data_id>` beside it (or in `images`).
 * `category` is the question type's name (Scene Understanding, Instance Identity...).
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
  const images = options.images ? resolve(options.images) : join(dirname(source), 'SEED-Bench-image');
  const items: BenchmarkItem[] = [];
  let skipped = 0;
  data.questions.forEach((rec: unknown, i: number) => {
    const where = `SEED-Bench.json question ${i}`;
    if (!isRecord(rec)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(rec)}, not an object.`, { expected: EXPECTED });
    const typeId = rec.question_type_id;
    const dataType = typeof rec.data_type === 'string' ? rec.data_type : undefined;
    const isImage = dataType !== undefined ? dataType === 'image' : typeof typeId === 'number' && typeId >= 1 && typeId <= 9;
    if (!isImage) {
      skipped++;
      return;
    }
    const id = needString(rec, 'question_id', where, EXPECTED);
    const options = CHOICES.map((k) => needString(rec, k, `${where} (id ${id})`, EXPECTED));
    const answer = needString(rec, 'answer', `${where} (id ${id})`, EXPECTED).trim().toUpperCase();
    if (!['A', 'B', 'C', 'D'].includes(answer)) {
      throw new SemclipError('DATASET_INVALID', `${where} (id ${id}) has answer ${JSON.stringify(answer)}.`, { expected: 'answer A, B, C or D' });
    }
    const dataId = needString(rec, 'data_id', `${where} (id ${id})`, EXPECTED);
    const category = typeof typeId === 'number' ? (typeNames.get(typeId) ?? `type ${typeId}`) : undefined;
    items.push(
      makeItem({
        id,
        benchmark: 'seedbench',
        question: needString(rec, 'question', `${where} (id ${id})`, EXPECTED),
        options,
        answer,
        ...(category ? { category } : {}),
        metadata: { dataId, ...(typeof typeId === 'number' ? { questionTypeId: typeId } : {}) },
        image: seedImage(images, dataId, `SEED-Bench question ${id}`),
      }),
    );
  });
  const warnings = skipped > 0 ? [`Skipped ${skipped} video questions (SemClip evaluates the image part).`] : [];
  return { benchmark: 'seedbench', format: 'seedbench', source, items, hasAnswers: true, warnings };
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
