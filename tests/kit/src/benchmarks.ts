/**
 * Benchmark fixtures for tests: small, deterministic copies of each benchmark's real file
 * layout (V* folder, GQA official JSON, ScienceQA problems.json, POPE JSON lines, VLMEvalKit
 * TSVs with base64 images, SEED-Bench JSON), with real tiny images made by sharp. Each
 * writer returns what it wrote so tests can assert against it. Also locates the real
 * benchmark files in `../shared/data`.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { sharedDataDir } from './shared-data.js';

/** The shared data folder (`../shared/data` from the repo root; `SEMCLIP_SHARED_DATA` overrides it). */
export { sharedDataDir };

/** `../shared/data/benchmarks/<parts>`. */
export function sharedBenchmark(...parts: string[]): string {
  return join(sharedDataDir(), 'benchmarks', ...parts);
}

export function tempDir(prefix = 'semclip-bench-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

type Rgb = readonly [number, number, number];

/** A real, decodable image of one flat colour. */
export function tinyImage(format: 'jpeg' | 'png', color: Rgb = [200, 60, 40], width = 24, height = 16): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: color[0], g: color[1], b: color[2] } } });
  return (format === 'jpeg' ? img.jpeg({ quality: 80 }) : img.png()).toBuffer();
}

/** Decodes an image (path or bytes) and returns its size: proof that a loader handed back a real image. */
export async function decodedSize(input: string | Uint8Array): Promise<{ width: number; height: number }> {
  const meta = await sharp(input).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}

async function put(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

const jsonl = (records: readonly unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

// ---------------------------------------------------------------- V* Bench

export interface VstarFixtureItem {
  readonly id: string;
  readonly category: 'direct_attributes' | 'relative_position';
  readonly question: string;
  readonly options: readonly string[];
  readonly bbox: readonly (readonly [number, number, number, number])[];
  readonly targetObject: readonly string[];
}

/**
 * V* Bench's folder layout: `direct_attributes/` and `relative_position/`, each `sa_N.jpg`
 * with `sa_N.json` ({target_object, bbox, question, options}; the first option is correct),
 * plus `test_questions.jsonl` at the root ({image, text with "(A) ..." lines, category,
 * question_id, label}).
 */
export async function writeVstarFolder(dir: string, options: { attributes?: number; positions?: number } = {}): Promise<VstarFixtureItem[]> {
  const items: VstarFixtureItem[] = [];
  const colours = ['red', 'blue', 'green', 'yellow'];
  for (let i = 0; i < (options.attributes ?? 3); i++) {
    const obj = `cup ${i}`;
    items.push({
      id: `direct_attributes/sa_${100 + i}`,
      category: 'direct_attributes',
      question: `What is the color of the ${obj}?`,
      options: colours.map((c, k) => `The color of the ${obj} is ${colours[(k + i) % 4] ?? c}.`),
      bbox: [[10 + i, 4, 6, 5]],
      targetObject: [obj],
    });
  }
  for (let i = 0; i < (options.positions ?? 2); i++) {
    items.push({
      id: `relative_position/sa_${200 + i}`,
      category: 'relative_position',
      question: `Is the dog ${i} on the left or right side of the cat?`,
      options: [`The dog ${i} is on the left side of the cat.`, `The dog ${i} is on the right side of the cat.`],
      bbox: [
        [2, 2, 4, 4],
        [15, 3, 5, 4],
      ],
      targetObject: [`dog ${i}`, 'cat'],
    });
  }
  const questions: unknown[] = [];
  for (const [n, it] of items.entries()) {
    await put(join(dir, `${it.id}.jpg`), await tinyImage('jpeg', [40 * n, 100, 200]));
    await put(join(dir, `${it.id}.json`), JSON.stringify({ target_object: it.targetObject, bbox: it.bbox, question: it.question, options: it.options }));
    const lines = it.options.map((o, k) => `(${String.fromCharCode(65 + k)}) ${o}`);
    questions.push({
      image: `${it.id}.jpg`,
      text: `${it.question}\n${lines.join('\n')}\nAnswer with the option's letter from the given choices directly.`,
      category: it.category,
      question_id: n,
      label: 'A',
    });
  }
  await put(join(dir, 'test_questions.jsonl'), jsonl(questions));
  return items;
}

// ---------------------------------------------------------------- GQA

export interface GqaFixtureItem {
  readonly id: string;
  readonly imageId: string;
  readonly question: string;
  readonly answer: string;
  readonly structural: string;
}

/**
 * GQA's official layout: `testdev_balanced_questions.json` (questions keyed by id with
 * imageId, question, answer, types) and `images/<imageId>.jpg`; also LLaVA's
 * `llava_gqa_testdev_balanced.jsonl` over the same questions. `withoutImages` leaves the
 * images folder out.
 */
export async function writeGqa(dir: string, options: { withoutImages?: boolean } = {}): Promise<GqaFixtureItem[]> {
  const items: GqaFixtureItem[] = [
    { id: '201307251', imageId: 'n161313', question: 'Is it overcast?', answer: 'no', structural: 'verify' },
    { id: '201640614', imageId: 'n235859', question: 'Who is wearing the dress?', answer: 'woman', structural: 'query' },
    { id: '202225914', imageId: 'n336443', question: 'Is the table made of wood or metal?', answer: 'wood', structural: 'choose' },
    { id: '2062325', imageId: 'n161313', question: 'Are there both cars and trucks?', answer: 'yes', structural: 'logical' },
  ];
  const official: Record<string, unknown> = {};
  for (const it of items) {
    official[it.id] = {
      imageId: it.imageId,
      question: it.question,
      answer: it.answer,
      fullAnswer: `The answer is ${it.answer}.`,
      isBalanced: true,
      types: { structural: it.structural, semantic: 'attr', detailed: `${it.structural}Attr` },
    };
    if (!options.withoutImages) await put(join(dir, 'images', `${it.imageId}.jpg`), await tinyImage('jpeg'));
  }
  await put(join(dir, 'testdev_balanced_questions.json'), JSON.stringify(official));
  await put(
    join(dir, 'llava_gqa_testdev_balanced.jsonl'),
    jsonl(
      items.map((it) => ({
        question_id: it.id,
        image: `${it.imageId}.jpg`,
        text: `${it.question}\nAnswer the question using a single word or phrase.`,
        category: 'default',
      })),
    ),
  );
  return items;
}

// ---------------------------------------------------------------- ScienceQA

export interface ScienceQaFixtureItem {
  readonly pid: string;
  readonly question: string;
  readonly choices: readonly string[];
  readonly answer: number;
  readonly hint: string;
  readonly hasImage: boolean;
  readonly subject: string;
}

/**
 * ScienceQA's official layout: `problems.json`, `pid_splits.json` and
 * `images/<split>/<pid>/image.png` for the problems with an image. Test split: 5 problems,
 * 3 with an image; one more problem in `val`.
 */
export async function writeScienceQa(dir: string): Promise<ScienceQaFixtureItem[]> {
  const items: ScienceQaFixtureItem[] = [
    {
      pid: '4',
      question: 'Which figure of speech is used in this text?\nSing, O goddess.',
      choices: ['chiasmus', 'apostrophe'],
      answer: 1,
      hint: '',
      hasImage: false,
      subject: 'language science',
    },
    {
      pid: '5',
      question: 'Which animal has a shell?',
      choices: ['snail', 'dog', 'cat'],
      answer: 0,
      hint: 'Look at the picture.',
      hasImage: true,
      subject: 'natural science',
    },
    {
      pid: '11',
      question: 'Which state is highlighted?',
      choices: ['Ohio', 'Utah', 'Iowa', 'Maine'],
      answer: 2,
      hint: '',
      hasImage: true,
      subject: 'social science',
    },
    {
      pid: '15',
      question: 'Which word would you find on a dictionary page?',
      choices: ['bake', 'zebra'],
      answer: 0,
      hint: 'Guide words: apple - cat',
      hasImage: false,
      subject: 'language science',
    },
    {
      pid: '22',
      question: 'What is the temperature of the tea?',
      choices: ['60 °C', '60 °F', '6 °C', '600 °C', '0 °C'],
      answer: 0,
      hint: 'A cup of hot tea.',
      hasImage: true,
      subject: 'natural science',
    },
  ];
  const problems: Record<string, unknown> = {};
  for (const it of items) {
    problems[it.pid] = {
      question: it.question,
      choices: it.choices,
      answer: it.answer,
      hint: it.hint,
      image: it.hasImage ? 'image.png' : null,
      task: 'closed choice',
      grade: 'grade4',
      subject: it.subject,
      topic: 'topic',
      category: 'category',
      skill: 'skill',
      lecture: '',
      solution: '',
      split: 'test',
    };
    if (it.hasImage) await put(join(dir, 'images', 'test', it.pid, 'image.png'), await tinyImage('png', [20, 180, 90]));
  }
  problems['99'] = { question: 'Val question?', choices: ['x', 'y'], answer: 1, hint: '', image: null, subject: 'natural science', split: 'val' };
  await put(join(dir, 'problems.json'), JSON.stringify(problems));
  await put(join(dir, 'pid_splits.json'), JSON.stringify({ test: items.map((i) => i.pid), val: ['99'], train: [] }));
  return items;
}

// ---------------------------------------------------------------- POPE

export interface PopeFixtureItem {
  readonly split: 'random' | 'popular' | 'adversarial';
  readonly questionId: number;
  readonly image: string;
  readonly text: string;
  readonly label: 'yes' | 'no';
}

/**
 * POPE's layout: `coco_pope_{random,popular,adversarial}.json` (JSON lines: question_id,
 * image, text, label) and the COCO images in `val2014/` (left out with `withoutImages`).
 */
export async function writePope(dir: string, options: { perSplit?: number; withoutImages?: boolean } = {}): Promise<PopeFixtureItem[]> {
  const objects = ['dog', 'car', 'person', 'chair', 'kite', 'bottle'];
  const all: PopeFixtureItem[] = [];
  for (const split of ['random', 'popular', 'adversarial'] as const) {
    const items: PopeFixtureItem[] = [];
    for (let i = 0; i < (options.perSplit ?? 4); i++) {
      items.push({
        split,
        questionId: i + 1,
        image: `COCO_val2014_00000000${100 + Math.floor(i / 2)}.jpg`,
        text: `Is there a ${objects[i % objects.length]} in the image?`,
        label: i % 2 === 0 ? 'yes' : 'no',
      });
    }
    await put(
      join(dir, `coco_pope_${split}.json`),
      jsonl(items.map((it) => ({ question_id: it.questionId, image: it.image, text: it.text, label: it.label }))),
    );
    all.push(...items);
  }
  if (!options.withoutImages) {
    for (const image of new Set(all.map((i) => i.image))) await put(join(dir, 'val2014', image), await tinyImage('jpeg', [90, 90, 90]));
  }
  return all;
}

// ---------------------------------------------------------------- VLMEvalKit TSV (MMBench, MMStar)

/** A cell as pandas `to_csv(sep='\t')` writes it: quoted when it holds a tab, newline or quote. */
function tsvCell(v: string): string {
  return /[\t\n\r"]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function tsv(header: readonly string[], rows: readonly Record<string, string>[]): string {
  return `${[header.join('\t'), ...rows.map((r) => header.map((h) => tsvCell(r[h] ?? '')).join('\t'))].join('\n')}\n`;
}

export interface TsvFixtureRow {
  readonly index: number;
  readonly question: string;
  readonly hint: string;
  readonly options: readonly string[];
  readonly answer: string;
  readonly category: string;
  readonly l2: string;
  /** The index whose image this row shows (itself unless it is a circular variant). */
  readonly imageOf: number;
}

/**
 * An MMBench TSV as VLMEvalKit ships it: index, question, hint, A-D, answer, category,
 * l2-category, base64 image, source, split. Four questions (one with three options, one
 * with a quote and a newline, two with a hint). `circular` adds each question's rotations
 * at index + k * 1,000,000 whose image cell names the original row, as VLMEvalKit does.
 * `omit` drops columns, to test tolerance.
 */
export async function writeMmbenchTsv(file: string, options: { circular?: boolean; omit?: readonly string[] } = {}): Promise<TsvFixtureRow[]> {
  const base: TsvFixtureRow[] = [
    {
      index: 0,
      question: 'What colour is the square?',
      hint: '',
      options: ['red', 'green', 'blue', 'black'],
      answer: 'A',
      category: 'attribute_recognition',
      l2: 'Finegrained Perception (instance-level)',
      imageOf: 0,
    },
    {
      index: 1,
      question: 'Which "shape" is shown?\nPick one.',
      hint: 'The picture shows one shape.',
      options: ['circle', 'square', 'triangle'],
      answer: 'B',
      category: 'object_localization',
      l2: 'Finegrained Perception (instance-level)',
      imageOf: 1,
    },
    {
      index: 2,
      question: 'How many squares are there?',
      hint: '',
      options: ['1', '2', '3', '4'],
      answer: 'C',
      category: 'attribute_recognition',
      l2: 'Finegrained Perception (instance-level)',
      imageOf: 2,
    },
    {
      index: 3,
      question: 'What is the mood of the image?',
      hint: 'Answer from the colours.',
      options: ['happy', 'sad', 'angry', 'calm'],
      answer: 'D',
      category: 'image_emotion',
      l2: 'Coarse Perception',
      imageOf: 3,
    },
  ];
  const rows: TsvFixtureRow[] = [...base];
  if (options.circular) {
    for (const b of base) {
      const n = b.options.length;
      const a = b.answer.charCodeAt(0) - 65;
      for (let k = 1; k < n; k++) {
        rows.push({
          ...b,
          index: b.index + k * 1_000_000,
          options: [...b.options.slice(k), ...b.options.slice(0, k)],
          answer: String.fromCharCode(65 + ((a - k + n) % n)),
        });
      }
    }
  }
  const images = new Map<number, string>();
  for (const b of base) images.set(b.index, (await tinyImage('jpeg', [60 * b.index, 120, 30])).toString('base64'));
  const header = ['index', 'question', 'hint', 'A', 'B', 'C', 'D', 'answer', 'category', 'image', 'source', 'l2-category', 'comment', 'split'].filter(
    (h) => !(options.omit ?? []).includes(h),
  );
  const records = rows.map((r) => ({
    index: String(r.index),
    question: r.question,
    hint: r.hint === '' ? 'nan' : r.hint,
    A: r.options[0] ?? '',
    B: r.options[1] ?? '',
    C: r.options[2] ?? '',
    // A missing option is an empty cell, as pandas writes it ("nan" would be an option's text).
    D: r.options[3] ?? '',
    answer: r.answer,
    category: r.category,
    image: r.index === r.imageOf && r.index < 1_000_000 ? (images.get(r.imageOf) as string) : String(r.imageOf),
    source: 'fixture',
    'l2-category': r.l2,
    comment: 'nan',
    split: 'dev',
  }));
  await put(file, tsv(header, records));
  return rows;
}

/**
 * An MMStar TSV as VLMEvalKit ships it: index, question, A-D, answer, category,
 * l2_category, base64 image. `inlineOptions` writes the original release's style instead:
 * no A-D columns, options in the question as `Options: A: x, B: y, ...`.
 */
export async function writeMmstarTsv(file: string, options: { inlineOptions?: boolean } = {}): Promise<TsvFixtureRow[]> {
  const rows: TsvFixtureRow[] = [
    {
      index: 0,
      question: 'Which option describes the object relationship correctly?',
      hint: '',
      options: ['The cup is on the table.', 'The cup is under the table.', 'The cup is in the box.', 'There is no cup.'],
      answer: 'A',
      category: 'coarse perception',
      l2: 'image scene and topic',
      imageOf: 0,
    },
    {
      index: 1,
      question: 'What is the total of the numbers shown?',
      hint: '',
      options: ['3', '5', '7', '9'],
      answer: 'C',
      category: 'math',
      l2: 'numeric commonsense and calculation',
      imageOf: 1,
    },
    {
      index: 2,
      question: 'Which colour dominates?',
      hint: '',
      options: ['red', 'green', 'blue', 'white'],
      answer: 'B',
      category: 'fine-grained perception',
      l2: 'attribute recognition',
      imageOf: 2,
    },
  ];
  const header = options.inlineOptions
    ? ['index', 'question', 'answer', 'category', 'l2_category', 'image']
    : ['index', 'question', 'A', 'B', 'C', 'D', 'answer', 'category', 'l2_category', 'image'];
  const records: Record<string, string>[] = [];
  for (const r of rows) {
    const inline = `${r.question}\nOptions: ${r.options.map((o, k) => `${String.fromCharCode(65 + k)}: ${o}`).join(', ')}`;
    records.push({
      index: String(r.index),
      question: options.inlineOptions ? inline : r.question,
      A: r.options[0] ?? '',
      B: r.options[1] ?? '',
      C: r.options[2] ?? '',
      D: r.options[3] ?? '',
      answer: r.answer,
      category: r.category,
      l2_category: r.l2,
      image: (await tinyImage('png', [10, 10, 40 * r.index])).toString('base64'),
    });
  }
  await put(file, tsv(header, records));
  return rows;
}

// ---------------------------------------------------------------- SEED-Bench

export interface SeedFixtureItem {
  readonly questionId: string;
  readonly question: string;
  readonly choices: readonly [string, string, string, string];
  readonly answer: 'A' | 'B' | 'C' | 'D';
  readonly dataId: string;
  readonly typeId: number;
}

export const SEED_QUESTION_TYPES = {
  'Scene Understanding': 1,
  'Instance Identity': 2,
  'Instance Counting': 5,
  'Action Recognition': 10,
} as const;

/**
 * SEED-Bench's layout: `SEED-Bench.json` ({questions: [...], question_type: {name: id}})
 * and `SEED-Bench-image/<data_id>`. Four image questions and one video question (type 10).
 */
export async function writeSeedBench(dir: string): Promise<SeedFixtureItem[]> {
  const items: SeedFixtureItem[] = [
    {
      questionId: '101669',
      question: 'How many towels are in the image?',
      choices: ['One', 'Two', 'Three', 'Four'],
      answer: 'A',
      dataId: '1454426_2591111986.jpg',
      typeId: 5,
    },
    {
      questionId: '101670',
      question: 'What is the main setting of the image?',
      choices: ['A beach', 'A kitchen', 'A forest', 'A city'],
      answer: 'B',
      dataId: '1454427_1.jpg',
      typeId: 1,
    },
    {
      questionId: '101671',
      question: 'What kind of animal is this?',
      choices: ['Cat', 'Dog', 'Horse', 'Cow'],
      answer: 'D',
      dataId: '1454428_2.jpg',
      typeId: 2,
    },
    { questionId: '101672', question: 'How many people are there?', choices: ['1', '2', '3', '4'], answer: 'C', dataId: '1454429_3.jpg', typeId: 5 },
  ];
  const video = {
    questionId: '200001',
    question: 'What is the person doing?',
    choices: ['Running', 'Cooking', 'Reading', 'Sleeping'] as const,
    answer: 'B',
    dataId: 'v_123.mp4',
    typeId: 10,
  };
  const questions = [...items, video].map((it) => ({
    answer: it.answer,
    choice_a: it.choices[0],
    choice_b: it.choices[1],
    choice_c: it.choices[2],
    choice_d: it.choices[3],
    data_id: it.dataId,
    data_type: it.typeId <= 9 ? 'image' : 'video',
    question: it.question,
    question_id: it.questionId,
    question_type_id: it.typeId,
  }));
  await put(join(dir, 'SEED-Bench.json'), JSON.stringify({ questions, question_type: SEED_QUESTION_TYPES }));
  for (const it of items) await put(join(dir, 'SEED-Bench-image', it.dataId), await tinyImage('jpeg', [30, 30, 200]));
  return items;
}

/** Writes JSON lines (an answers file) and returns the path. */
export async function writeJsonl(path: string, records: readonly unknown[]): Promise<string> {
  await put(path, jsonl(records));
  return path;
}
