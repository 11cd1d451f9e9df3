import { dirname, join, resolve } from 'node:path';
import type { BenchmarkItem } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { at, describe, isFile, isRecord, needString, optString, pathKind, readJson, readJsonLines } from '../_io.js';
import { SHORT_ANSWER_INSTRUCTION } from '../answer/prompt.js';
import { fileImage, makeItem, stripInstruction } from './_item.js';
import { DATASET_LAYOUTS, type BenchmarkDataset, type LoadOptions } from './types.js';

const EXPECTED = DATASET_LAYOUTS.gqa;
const OFFICIAL = 'testdev_balanced_questions.json';
const LLAVA = 'llava_gqa_testdev_balanced.jsonl';

interface GqaQuestion {
  readonly imageId: string;
  readonly question: string;
  readonly answer: string;
  readonly structural?: string;
  readonly semantic?: string;
  readonly detailed?: string;
  readonly isBalanced?: boolean;
}

/**
 * Loads GQA test-dev: the official `testdev_balanced_questions.json` (questions keyed by id,
 * with answers and types) or LLaVA's `llava_gqa_testdev_balanced.jsonl` (no answers; they
 * are joined from `testdev_balanced_questions.json` beside it or `annotations` when
 * present). `category` is GQA's structural type (verify, query, choose, logical, compare).
 *
 * @example
 * ```ts
 * const gqa = await loadGqa('data/gqa/testdev_balanced_questions.json');
 * console.log(gqa.items[0]?.question, gqa.items[0]?.answer);
 * ```
 */
export async function loadGqa(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  let source = resolve(path);
  const kind = await pathKind(source);
  if (kind === 'missing') {
    throw new SemclipError('DATASET_NOT_FOUND', `GQA data not found: ${source} does not exist.`, { expected: EXPECTED, details: { path: source } });
  }
  if (kind === 'dir') {
    let file: string | undefined;
    for (const f of [join(source, OFFICIAL), join(source, LLAVA)]) {
      if (await isFile(f)) {
        file = f;
        break;
      }
    }
    if (!file) {
      throw new SemclipError('DATASET_NOT_FOUND', `${source} holds neither ${OFFICIAL} nor ${LLAVA}.`, { expected: EXPECTED, details: { path: source } });
    }
    source = file;
  }
  const images = options.images ? resolve(options.images) : join(dirname(source), 'images');
  if (source.endsWith('.jsonl')) return loadLlava(source, images, options);
  const questions = await readOfficial(source);
  const items: BenchmarkItem[] = [];
  for (const [id, q] of questions) items.push(gqaItem(id, q, images, {}));
  return { benchmark: 'gqa', format: 'gqa-official', source, items, hasAnswers: true, warnings: [] };
}

async function readOfficial(file: string): Promise<Map<string, GqaQuestion>> {
  const data = await readJson(file, 'GQA questions file', EXPECTED);
  if (!isRecord(data)) {
    throw new SemclipError('DATASET_INVALID', `GQA questions file ${file} holds ${describe(data)}, not an object keyed by question id.`, {
      expected: EXPECTED,
    });
  }
  const out = new Map<string, GqaQuestion>();
  for (const [id, rec] of Object.entries(data)) {
    const where = at(file, id);
    if (!isRecord(rec)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(rec)}, not a question object.`, { expected: EXPECTED });
    const types = isRecord(rec.types) ? rec.types : {};
    out.set(id, {
      imageId: needString(rec, 'imageId', where, EXPECTED),
      question: needString(rec, 'question', where, EXPECTED),
      answer: needString(rec, 'answer', where, EXPECTED),
      ...(optString(types, 'structural') ? { structural: optString(types, 'structural') } : {}),
      ...(optString(types, 'semantic') ? { semantic: optString(types, 'semantic') } : {}),
      ...(optString(types, 'detailed') ? { detailed: optString(types, 'detailed') } : {}),
      ...(typeof rec.isBalanced === 'boolean' ? { isBalanced: rec.isBalanced } : {}),
    });
  }
  return out;
}

function gqaItem(id: string, q: GqaQuestion, images: string, extra: Record<string, unknown>): BenchmarkItem {
  return makeItem({
    id,
    benchmark: 'gqa',
    question: q.question,
    answer: q.answer,
    ...(q.structural ? { category: q.structural } : {}),
    metadata: {
      imageId: q.imageId,
      ...(q.semantic ? { semantic: q.semantic } : {}),
      ...(q.detailed ? { detailed: q.detailed } : {}),
      ...(q.isBalanced === undefined ? {} : { isBalanced: q.isBalanced }),
      ...extra,
    },
    image: fileImage(join(images, `${q.imageId}.jpg`), `GQA question ${id}`, EXPECTED),
  });
}

async function loadLlava(file: string, images: string, options: LoadOptions): Promise<BenchmarkDataset> {
  const expected = `${EXPECTED}; LLaVA lines hold question_id, image, text`;
  const lines = await readJsonLines(file, 'GQA question file', expected);
  const annotations = options.annotations ? resolve(options.annotations) : join(dirname(file), OFFICIAL);
  const official = (await isFile(annotations)) ? await readOfficial(annotations) : undefined;
  if (options.annotations && !official) {
    throw new SemclipError('DATASET_NOT_FOUND', `GQA annotations ${annotations} (from --annotations) not found.`, {
      expected: `GQA ${OFFICIAL}`,
      hint: `Pass the path of the official ${OFFICIAL} to --annotations`,
    });
  }
  const warnings: string[] = [];
  let unanswered = 0;
  const items = lines.map(({ line, value }) => {
    const where = at(file, line);
    if (!isRecord(value)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(value)}, not an object.`, { expected });
    const id = needString(value, 'question_id', where, expected);
    const image = needString(value, 'image', where, expected);
    const question = stripInstruction(needString(value, 'text', where, expected), SHORT_ANSWER_INSTRUCTION);
    const truth = official?.get(id);
    if (official && !truth) unanswered++;
    const imageId = image.replace(/\.[^.]+$/, '');
    return gqaItem(
      id,
      {
        imageId,
        question,
        answer: truth?.answer ?? '',
        ...(truth?.structural ? { structural: truth.structural } : {}),
        ...(truth?.semantic ? { semantic: truth.semantic } : {}),
        ...(truth?.detailed ? { detailed: truth.detailed } : {}),
      },
      images,
      { image, line },
    );
  });
  if (!official) {
    warnings.push(
      `${file} has no answers and no ${OFFICIAL} was found beside it; its items cannot be scored. Pass the official ${OFFICIAL} with --annotations (the \`annotations\` load option), or put it beside the jsonl.`,
    );
  }
  if (unanswered > 0) warnings.push(`${unanswered} questions of ${file} are not in ${annotations}.`);
  return {
    benchmark: 'gqa',
    format: 'gqa-llava',
    source: file,
    items,
    hasAnswers: official !== undefined && unanswered === 0,
    warnings,
  };
}
