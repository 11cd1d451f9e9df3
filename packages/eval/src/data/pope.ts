import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { BenchmarkItem } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { at, describe, isDir, isFile, isRecord, needString, optString, pathKind, readJsonLines, type JsonLine } from '../_io.js';
import { SHORT_ANSWER_INSTRUCTION } from '../answer/prompt.js';
import { fileImage, makeItem, stripInstruction } from './_item.js';
import { DATASET_LAYOUTS, POPE_SPLITS, type BenchmarkDataset, type LoadOptions, type PopeSplit } from './types.js';

const EXPECTED = DATASET_LAYOUTS.pope;

/**
 * LLaVA's `llava_pope_test.jsonl` numbers the three splits apart: adversarial keeps POPE's
 * question_id, random adds 10,000,000 and popular 20,000,000. A folder of the three official
 * files (whose own ids repeat across splits: each starts at 1) is numbered the same way; one
 * official split file keeps its own `question_id`s.
 */
export const POPE_ID_OFFSETS: Readonly<Record<PopeSplit, number>> = {
  adversarial: 0,
  random: 10_000_000,
  popular: 20_000_000,
};

interface LabelRecord {
  readonly questionId: number;
  readonly image: string;
  readonly text: string;
  readonly label: 'yes' | 'no';
  readonly line: number;
}

/**
 * Loads POPE: a folder of `coco_pope_{random,popular,adversarial}.json`, one such file, or
 * LLaVA's `llava_pope_test.jsonl`. LLaVA's file has no labels; they are joined from the
 * first set of `coco_pope_*.json` files (beside it, in a subfolder, or `annotations`) whose
 * questions match it exactly, so a different POPE revision is never joined by accident.
 * Each item's `category` is its split. Item ids: one official split file keeps its own
 * `question_id`s; a folder of the three files and LLaVA's file use LLaVA's numbering
 * (`POPE_ID_OFFSETS`), since the three files' own ids repeat; `metadata.ids` says which.
 *
 * @example
 * ```ts
 * const pope = await loadPope('data/pope/rev_e3e3926', { images: 'coco/val2014' });
 * const adversarial = pope.items.filter((i) => i.category === 'adversarial');
 * ```
 */
export async function loadPope(path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  const source = resolve(path);
  const kind = await pathKind(source);
  if (kind === 'missing') {
    throw new SemclipError('DATASET_NOT_FOUND', `POPE data not found: ${source} does not exist.`, {
      expected: EXPECTED,
      details: { path: source },
    });
  }
  const wanted = options.popeSplits ?? POPE_SPLITS;
  if (kind === 'dir') {
    const files = await officialFiles(source);
    if (files.size === 0) {
      if (await isFile(join(source, 'llava_pope_test.jsonl'))) return loadLlava(join(source, 'llava_pope_test.jsonl'), options);
      throw new SemclipError('DATASET_NOT_FOUND', `${source} holds no coco_pope_{random,popular,adversarial}.json files.`, {
        expected: EXPECTED,
        details: { path: source },
      });
    }
    const images = await imagesDir(source, options);
    const items: BenchmarkItem[] = [];
    for (const split of POPE_SPLITS) {
      if (!wanted.includes(split)) continue;
      const file = files.get(split);
      if (!file) {
        throw new SemclipError('DATASET_NOT_FOUND', `POPE folder ${source} has no coco_pope_${split}.json.`, {
          expected: EXPECTED,
          hint: 'Keep all three split files together, or choose splits with popeSplits',
          details: { path: join(source, `coco_pope_${split}.json`) },
        });
      }
      // The three files' own ids repeat (each split starts at 1): LLaVA's numbering keeps them apart.
      for (const rec of await readLabels(file)) items.push(officialItem(rec, split, images, 'llava'));
    }
    return { benchmark: 'pope', format: 'pope-official', source, items, hasAnswers: true, warnings: [] };
  }
  const split = splitOfFile(source);
  if (split) {
    const images = await imagesDir(dirname(source), options);
    // One split file keeps its own question ids.
    const items = (await readLabels(source)).map((r) => officialItem(r, split, images, 'question_id'));
    return { benchmark: 'pope', format: 'pope-official', source, items, hasAnswers: true, warnings: [] };
  }
  return loadLlava(source, options);
}

function splitOfFile(file: string): PopeSplit | undefined {
  const m = /^coco_pope_(random|popular|adversarial)\.jsonl?$/.exec(basename(file));
  return m ? (m[1] as PopeSplit) : undefined;
}

async function officialFiles(dir: string): Promise<Map<PopeSplit, string>> {
  const out = new Map<PopeSplit, string>();
  for (const name of await readdir(dir)) {
    const split = splitOfFile(name);
    if (split && !out.has(split)) out.set(split, join(dir, name));
  }
  return out;
}

async function imagesDir(base: string, options: LoadOptions): Promise<string> {
  if (options.images) return resolve(options.images);
  const candidates = [join(base, 'val2014'), join(base, '..', 'val2014'), join(base, 'images')];
  for (const c of candidates) if (await isDir(c)) return c;
  return candidates[0] as string;
}

async function readLabels(file: string): Promise<LabelRecord[]> {
  const expected = `${EXPECTED}; each line like {"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "Is there a snowboard in the image?", "label": "yes"}`;
  return (await readJsonLines(file, 'POPE file', expected)).map(({ line, value }) => {
    const where = at(file, line);
    if (!isRecord(value)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(value)}, not an object.`, { expected });
    const questionId = value.question_id;
    if (typeof questionId !== 'number' || !Number.isInteger(questionId)) {
      throw new SemclipError('DATASET_INVALID', `${where} has no integer "question_id" (got ${describe(questionId)}).`, { expected });
    }
    const label = needString(value, 'label', where, expected).trim().toLowerCase();
    if (label !== 'yes' && label !== 'no') {
      throw new SemclipError('DATASET_INVALID', `${where} has label ${JSON.stringify(label)}.`, { expected: 'label "yes" or "no"' });
    }
    return { questionId, image: needString(value, 'image', where, expected), text: needString(value, 'text', where, expected), label, line };
  });
}

/**
 * How a POPE item's id was made: `question_id` (the official file's own, one split file) or
 * `llava` (LLaVA's numbering, `question_id` + the split's offset: LLaVA's file and folders of
 * all three splits). Kept in `metadata.ids`.
 */
export type PopeIds = 'question_id' | 'llava';

/** LLaVA's id of a question of an official split: `question_id` + the split's offset. */
export function llavaPopeId(split: PopeSplit, questionId: number): number {
  return questionId + POPE_ID_OFFSETS[split];
}

/** The split and the official `question_id` a LLaVA POPE id stands for. */
export function fromLlavaPopeId(id: number): { readonly split: PopeSplit; readonly questionId: number } {
  const split = splitOfLlavaId(id);
  return { split, questionId: id - POPE_ID_OFFSETS[split] };
}

function officialItem(rec: LabelRecord, split: PopeSplit, images: string, ids: PopeIds): BenchmarkItem {
  const id = String(ids === 'llava' ? llavaPopeId(split, rec.questionId) : rec.questionId);
  return makeItem({
    id,
    benchmark: 'pope',
    question: rec.text,
    answer: rec.label,
    category: split,
    metadata: { split, questionId: rec.questionId, image: rec.image, ids },
    image: fileImage(join(images, rec.image), `POPE ${split} question ${rec.questionId}`, EXPECTED),
  });
}

function splitOfLlavaId(id: number): PopeSplit {
  if (id >= POPE_ID_OFFSETS.popular) return 'popular';
  if (id >= POPE_ID_OFFSETS.random) return 'random';
  return 'adversarial';
}

interface LlavaQuestion {
  readonly id: number;
  readonly split: PopeSplit;
  readonly image: string;
  readonly question: string;
  readonly line: number;
}

async function loadLlava(file: string, options: LoadOptions): Promise<BenchmarkDataset> {
  const expected = `${EXPECTED}; LLaVA lines hold question_id, image, text, category`;
  const lines: JsonLine[] = await readJsonLines(file, 'POPE question file', expected);
  const wanted = options.popeSplits ?? POPE_SPLITS;
  const questions: LlavaQuestion[] = [];
  for (const { line, value } of lines) {
    const where = at(file, line);
    if (!isRecord(value)) throw new SemclipError('DATASET_INVALID', `${where} is ${describe(value)}, not an object.`, { expected });
    const id = value.question_id;
    if (typeof id !== 'number' || !Number.isInteger(id)) {
      throw new SemclipError('DATASET_INVALID', `${where} has no integer "question_id" (got ${describe(id)}).`, { expected });
    }
    const cat = optString(value, 'category');
    if (cat !== undefined && !(POPE_SPLITS as readonly string[]).includes(cat)) {
      throw new SemclipError('DATASET_INVALID', `${where} has category ${JSON.stringify(cat)}.`, {
        expected: 'category random, popular or adversarial',
      });
    }
    const split = (cat as PopeSplit | undefined) ?? splitOfLlavaId(id);
    if (!wanted.includes(split)) continue;
    questions.push({
      id,
      split,
      image: needString(value, 'image', where, expected),
      question: stripInstruction(needString(value, 'text', where, expected), SHORT_ANSWER_INSTRUCTION),
      line,
    });
  }
  const base = dirname(file);
  const { labels, warnings } = await findLabels(file, questions, options);
  const images = await imagesDir(base, options);
  const items = questions.map((q) =>
    makeItem({
      id: String(q.id),
      benchmark: 'pope',
      question: q.question,
      answer: labels?.get(q.id) ?? '',
      category: q.split,
      metadata: { split: q.split, questionId: q.id - POPE_ID_OFFSETS[q.split], image: q.image, line: q.line, ids: 'llava' },
      image: fileImage(join(images, q.image), `POPE ${q.split} question ${q.id}`, EXPECTED),
    }),
  );
  return { benchmark: 'pope', format: 'pope-llava', source: file, items, hasAnswers: labels !== undefined, warnings };
}

async function findLabels(
  file: string,
  questions: readonly LlavaQuestion[],
  options: LoadOptions,
): Promise<{ labels: Map<number, 'yes' | 'no'> | undefined; warnings: string[] }> {
  const base = dirname(file);
  const candidates: string[] = [];
  if (options.annotations) candidates.push(resolve(options.annotations));
  else {
    candidates.push(base);
    for (const e of (await readdir(base, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) candidates.push(join(base, e.name));
    }
  }
  const splits = [...new Set(questions.map((q) => q.split))];
  const rejected: string[] = [];
  for (const dir of candidates) {
    const files = (await isDir(dir)) ? await officialFiles(dir) : new Map<PopeSplit, string>();
    if (!splits.every((s) => files.has(s))) {
      if (options.annotations) rejected.push(`${dir} lacks coco_pope_{${splits.join(',')}}.json`);
      continue;
    }
    const bySplit = new Map<PopeSplit, Map<number, LabelRecord>>();
    for (const s of splits) bySplit.set(s, new Map((await readLabels(files.get(s) as string)).map((r) => [r.questionId, r])));
    let differ = 0;
    let example = '';
    for (const q of questions) {
      const rec = bySplit.get(q.split)?.get(q.id - POPE_ID_OFFSETS[q.split]);
      if (!rec || rec.text !== q.question || rec.image !== q.image) {
        differ++;
        if (!example) example = `question ${q.id}`;
      }
    }
    const name = relative(base, dir) || '.';
    if (differ === 0) {
      const labels = new Map<number, 'yes' | 'no'>();
      for (const q of questions) {
        // Every question matched a record above (differ === 0).
        const rec = bySplit.get(q.split)?.get(q.id - POPE_ID_OFFSETS[q.split]);
        if (rec) labels.set(q.id, rec.label);
      }
      const warnings = name === '.' ? [] : [`Labels joined from ${name}/ (the POPE revision whose questions match ${basename(file)}).`];
      return { labels, warnings };
    }
    rejected.push(`${name}/: ${differ} of ${questions.length} questions differ (first: ${example})`);
  }
  const why = rejected.length > 0 ? ` Checked: ${rejected.join('; ')}.` : ' No coco_pope_*.json files were found beside it.';
  return {
    labels: undefined,
    warnings: [
      `${basename(file)} has no labels and no POPE annotation set matching its questions was found.${why} Pass the revision LLaVA used (rev e3e3926) with annotations (CLI: --annotations).`,
    ],
  };
}
