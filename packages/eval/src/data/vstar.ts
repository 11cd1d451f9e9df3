import { readdir } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import type { BenchmarkItem, Box } from '@semclip/core';
import { optionLetter, SemclipError } from '@semclip/core';
import { at, describe, isDir, isFile, isRecord, pathKind, readJson, readJsonLines, needString, optString } from '../_io.js';
import { fileImage, makeItem, toBox } from './_item.js';
import { DATASET_LAYOUTS, type BenchmarkDataset, type LoadOptions } from './types.js';

const EXPECTED = DATASET_LAYOUTS.vstar;
/** V* Bench's two test types, also its folder names and item categories. */
export const VSTAR_CATEGORIES = ['direct_attributes', 'relative_position'] as const;
const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.JPG', '.JPEG', '.PNG'];

/**
 * Loads V* Bench (191 questions: 115 direct_attributes, 76 relative_position) from any of
 * its three layouts. In every layout the answer is the option V* marks correct; folder and
 * annotation items keep V*'s order (the first option is correct, answer `A`) and carry the
 * target boxes. Item ids are the image path without extension (`direct_attributes/sa_4690`),
 * or LLaVA's `question_id` for `test_questions.jsonl`.
 *
 * @example
 * ```ts
 * const vstar = await loadVstar('data/vstar_bench');
 * console.log(vstar.items.length, vstar.items[0]?.targets);
 * ```
 */
export async function loadVstar(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  const source = resolve(path);
  const kind = await pathKind(source);
  if (kind === 'missing') {
    throw new SemclipError('DATASET_NOT_FOUND', `V* Bench data not found: ${source} does not exist.`, {
      expected: EXPECTED,
      hint: 'Download V* Bench (craigwu/vstar_bench) and pass its folder',
      details: { path: source },
    });
  }
  if (kind === 'dir') {
    if ((await isDir(join(source, 'direct_attributes'))) || (await isDir(join(source, 'relative_position')))) {
      return loadFolder(source, options);
    }
    if (await isFile(join(source, 'test_questions.jsonl'))) return loadQuestions(join(source, 'test_questions.jsonl'), options);
    throw new SemclipError(
      'DATASET_NOT_FOUND',
      `${source} is not a V* Bench folder: it has neither direct_attributes/ nor relative_position/ nor test_questions.jsonl.`,
      {
        expected: EXPECTED,
        details: { path: source },
      },
    );
  }
  const lines = await readJsonLines(source, 'V* Bench file', EXPECTED);
  const first = lines[0];
  if (!first) {
    throw new SemclipError('DATASET_INVALID', `V* Bench file ${source} has no questions.`, { expected: EXPECTED });
  }
  if (isRecord(first.value) && 'options' in first.value) return annotationsFromLines(source, lines, options);
  return questionsFromLines(source, lines, options);
}

async function loadFolder(root: string, options: LoadOptions): Promise<BenchmarkDataset> {
  const imagesRoot = options.images ? resolve(options.images) : root;
  const items: BenchmarkItem[] = [];
  const warnings: string[] = [];
  for (const category of VSTAR_CATEGORIES) {
    const dir = join(root, category);
    if (!(await isDir(dir))) {
      throw new SemclipError('DATASET_NOT_FOUND', `V* Bench folder ${root} has no ${category}/ folder.`, {
        expected: EXPECTED,
        details: { path: dir },
      });
    }
    const names = (await readdir(dir)).sort();
    const jsons = names.filter((n) => n.endsWith('.json'));
    const images = new Set(names.filter((n) => IMAGE_EXTS.includes(extname(n))));
    if (jsons.length === 0) {
      throw new SemclipError('DATASET_INVALID', `V* Bench folder ${dir} has no *.json question files.`, {
        expected: EXPECTED,
        details: { path: dir },
      });
    }
    for (const name of jsons) {
      const stem = name.slice(0, -'.json'.length);
      const file = join(dir, name);
      const rec = await readJson(file, 'V* Bench question file', EXPECTED);
      if (!isRecord(rec)) {
        throw new SemclipError('DATASET_INVALID', `${file} holds ${describe(rec)}, not a question object.`, { expected: EXPECTED });
      }
      const imageName = IMAGE_EXTS.map((e) => stem + e).find((n) => images.has(n)) ?? `${stem}.jpg`;
      if (!images.has(imageName)) warnings.push(`${category}/${stem}.json has no image beside it (looked for ${stem}.jpg).`);
      items.push(
        vstarItem(rec, file, `${category}/${stem}`, category, join(imagesRoot, category, imageName), {
          image: `${category}/${imageName}`,
        }),
      );
    }
  }
  return { benchmark: 'vstar', format: 'vstar-folder', source: root, items, hasAnswers: true, warnings };
}

async function loadQuestions(file: string, options: LoadOptions): Promise<BenchmarkDataset> {
  return questionsFromLines(file, await readJsonLines(file, 'V* Bench questions file', EXPECTED), options);
}

function annotationsFromLines(file: string, lines: Awaited<ReturnType<typeof readJsonLines>>, options: LoadOptions): BenchmarkDataset {
  const imagesRoot = options.images ? resolve(options.images) : dirname(file);
  const seen = new Set<string>();
  const items = lines.map(({ line, value }) => {
    const where = at(file, line);
    if (!isRecord(value)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(value)}, not an object.`, { expected: EXPECTED });
    const image = needString(value, 'input_image', where, EXPECTED);
    const category = optString(value, 'test_type') ?? image.split('/')[0] ?? '';
    const id = image.replace(/\.[^./]+$/, '');
    if (seen.has(id)) throw new SemclipError('DATASET_INVALID', `${where} repeats the question for ${image}.`, { expected: 'one record per question' });
    seen.add(id);
    return vstarItem(value, where, id, category, join(imagesRoot, image), {
      image,
      line,
      ...(typeof value.output === 'number' ? { output: value.output } : {}),
    });
  });
  return { benchmark: 'vstar', format: 'vstar-annotations', source: file, items, hasAnswers: true, warnings: [] };
}

function vstarItem(
  rec: Record<string, unknown>,
  where: string,
  id: string,
  category: string,
  imagePath: string,
  extra: Record<string, unknown>,
): BenchmarkItem {
  const question = needString(rec, 'question', where, EXPECTED);
  const options = rec.options;
  if (!Array.isArray(options) || options.length < 2 || !options.every((o) => typeof o === 'string')) {
    throw new SemclipError('DATASET_INVALID', `${where} needs "options": a list of at least two strings (got ${describe(options)}).`, {
      expected: EXPECTED,
    });
  }
  const targets: Box[] = [];
  if (Array.isArray(rec.bbox)) {
    for (const b of rec.bbox) {
      const box = toBox(b);
      if (!box) throw new SemclipError('DATASET_INVALID', `${where} has a bbox that is not [x, y, w, h]: ${JSON.stringify(b)}.`, { expected: EXPECTED });
      targets.push(box);
    }
  }
  const targetObjects = Array.isArray(rec.target_object) ? rec.target_object.filter((t) => typeof t === 'string') : [];
  return makeItem({
    id,
    benchmark: 'vstar',
    question,
    options: options as string[],
    answer: 'A',
    category,
    targets,
    metadata: { targetObjects, ...extra },
    image: fileImage(imagePath, `V* question ${id}`, EXPECTED),
  });
}

/** LLaVA-style `test_questions.jsonl`: `text` holds the question, `(A) ...` option lines and the instruction. */
function questionsFromLines(file: string, lines: Awaited<ReturnType<typeof readJsonLines>>, options: LoadOptions): BenchmarkDataset {
  const imagesRoot = options.images ? resolve(options.images) : dirname(file);
  const expected = `${EXPECTED}; test_questions.jsonl lines hold image, text (question, "(A) ..." option lines, instruction), category, question_id, label`;
  const items = lines.map(({ line, value }) => {
    const where = at(file, line);
    if (!isRecord(value)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(value)}, not an object.`, { expected });
    const id = needString(value, 'question_id', where, expected);
    const image = needString(value, 'image', where, expected);
    const text = needString(value, 'text', where, expected);
    const parsed = parseParenOptions(text);
    if (parsed.options.length < 2) {
      throw new SemclipError('DATASET_INVALID', `${where}: "text" has no "(A) ..." option lines.`, { expected });
    }
    const label = (optString(value, 'label') ?? 'A').trim().toUpperCase();
    const category = optString(value, 'category') ?? image.split('/')[0] ?? '';
    return makeItem({
      id,
      benchmark: 'vstar',
      question: parsed.question,
      options: parsed.options,
      answer: label,
      category,
      metadata: { image, line },
      image: fileImage(join(imagesRoot, image), `V* question ${id}`, expected),
    });
  });
  return { benchmark: 'vstar', format: 'vstar-questions', source: file, items, hasAnswers: true, warnings: [] };
}

function parseParenOptions(text: string): { question: string; options: string[] } {
  const lines = text.split('\n');
  const question: string[] = [];
  const options: string[] = [];
  for (const l of lines) {
    const m = /^\(([A-Z])\)\s*(.*)$/.exec(l.trim());
    if (m && m[1] === optionLetter(options.length)) options.push(m[2] ?? '');
    else if (options.length === 0) question.push(l);
    // Lines after the options are the answer instruction, which benchmarkPrompt adds back.
  }
  return { question: question.join('\n').trim(), options };
}
