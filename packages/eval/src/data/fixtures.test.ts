import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodedSize,
  tempDir,
  writeGqa,
  writeMmbenchTsv,
  writeMmstarTsv,
  writePope,
  writeScienceQa,
  writeSeedBench,
  writeVstarFolder,
} from '@semclip/test-kit/benchmarks';
import { beforeAll, describe, expect, it } from 'vitest';
import { benchmarkPrompt } from '../answer/prompt.js';
import { expandCircular } from './circular.js';
import { loadBenchmark } from './load.js';

const decodes = (input: unknown) => decodedSize(input as string | Uint8Array);

describe('V* Bench folder', () => {
  let dir: string;
  let written: Awaited<ReturnType<typeof writeVstarFolder>>;
  beforeAll(async () => {
    dir = await tempDir();
    written = await writeVstarFolder(dir);
  });

  it('reads each question json beside its image, first option correct, with target boxes', async () => {
    const ds = await loadBenchmark('vstar', dir);
    expect(ds.format).toBe('vstar-folder');
    expect(ds.items.map((i) => i.id)).toEqual(written.map((w) => w.id));
    const first = ds.items[0]!;
    expect(first).toMatchObject({ answer: 'A', category: 'direct_attributes', question: written[0]!.question });
    expect(first.options).toEqual(written[0]!.options);
    expect(first.targets).toEqual([{ x: 10, y: 4, width: 6, height: 5 }]);
    expect(first.metadata.targetObjects).toEqual(['cup 0']);
    expect(await decodes(await first.image())).toEqual({ width: 24, height: 16 });
  });

  it("reads test_questions.jsonl: (A) option lines, label, LLaVA's question ids", async () => {
    const ds = await loadBenchmark('vstar', join(dir, 'test_questions.jsonl'));
    expect(ds.format).toBe('vstar-questions');
    expect(ds.items).toHaveLength(written.length);
    expect(ds.items[3]).toMatchObject({ id: '3', question: written[3]!.question, answer: 'A', category: 'relative_position' });
    expect(ds.items[3]!.options).toEqual(written[3]!.options);
    expect(benchmarkPrompt(ds.items[3]!).question).toBe(`${written[3]!.question}\nA. ${written[3]!.options[0]}\nB. ${written[3]!.options[1]}`);
    expect(typeof (await ds.items[0]!.image())).toBe('string');
  });

  it('names the expected layout when a category folder is missing', async () => {
    const other = await tempDir();
    await mkdir(join(other, 'direct_attributes'));
    await writeFile(join(other, 'direct_attributes', 'x.json'), JSON.stringify({ question: 'q', options: ['a', 'b'] }));
    await expect(loadBenchmark('vstar', other)).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringMatching(/no relative_position\/ folder.*direct_attributes\/ and relative_position\//),
    });
  });

  it('rejects a malformed question json naming the file', async () => {
    const other = await tempDir();
    await writeVstarFolder(other, { attributes: 1, positions: 1 });
    await writeFile(join(other, 'relative_position', 'sa_200.json'), '{"question": "q", "options": [');
    await expect(loadBenchmark('vstar', other)).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('sa_200.json is not valid JSON'),
    });
  });

  it('reports the line of a bad JSONL line', async () => {
    const file = join(await tempDir(), 'test_questions.jsonl');
    await writeFile(file, '{"question_id": 0, "image": "a.jpg", "text": "Q?\\n(A) x\\n(B) y"}\n\n{oops}\n');
    await expect(loadBenchmark('vstar', file)).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringContaining('line 3 is not valid JSON') });
  });

  it('says what is missing for a path that does not exist', async () => {
    await expect(loadBenchmark('vstar', '/nonexistent/vstar')).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('test_questions.jsonl'),
    });
  });
});

describe('GQA', () => {
  let dir: string;
  let written: Awaited<ReturnType<typeof writeGqa>>;
  beforeAll(async () => {
    dir = await tempDir();
    written = await writeGqa(dir);
  });

  it('reads testdev_balanced_questions.json with answers and structural types', async () => {
    const ds = await loadBenchmark('gqa', join(dir, 'testdev_balanced_questions.json'));
    expect(ds.format).toBe('gqa-official');
    // JSON objects keyed by integer-like ids iterate in numeric order in JavaScript, whatever the file order.
    const byId = (xs: string[][]) => [...xs].sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(ds.items.map((i) => [i.id, i.answer, i.category])).toEqual(byId(written.map((w) => [w.id, w.answer, w.structural])));
    const overcast = ds.items.find((i) => i.id === '201307251')!;
    expect(overcast.options).toBeUndefined();
    expect(overcast.metadata).toMatchObject({ imageId: 'n161313', semantic: 'attr', detailed: 'verifyAttr', isBalanced: true });
    expect(await decodes(await overcast.image())).toEqual({ width: 24, height: 16 });
  });

  it("reads LLaVA's jsonl and joins the answers from the official file beside it", async () => {
    const ds = await loadBenchmark('gqa', join(dir, 'llava_gqa_testdev_balanced.jsonl'));
    expect(ds.format).toBe('gqa-llava');
    expect(ds.hasAnswers).toBe(true);
    expect(ds.items.map((i) => [i.question, i.answer])).toEqual(written.map((w) => [w.question, w.answer]));
  });

  it('loads without images and names the missing one on demand', async () => {
    const bare = await tempDir();
    await writeGqa(bare, { withoutImages: true });
    const ds = await loadBenchmark('gqa', bare);
    await expect(ds.items.find((i) => i.id === '201640614')!.image()).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('n235859.jpg'),
    });
  });
});

describe('ScienceQA problems.json', () => {
  let dir: string;
  let written: Awaited<ReturnType<typeof writeScienceQa>>;
  beforeAll(async () => {
    dir = await tempDir();
    written = await writeScienceQa(dir);
  });

  it('reads the test split of pid_splits.json with choices, letter answers, hints and subjects', async () => {
    const ds = await loadBenchmark('scienceqa', dir);
    expect(ds.format).toBe('scienceqa-official');
    expect(ds.items.map((i) => i.id)).toEqual(written.map((w) => w.pid));
    const tea = ds.items.find((i) => i.id === '22')!;
    expect(tea).toMatchObject({ answer: 'A', hint: 'A cup of hot tea.', category: 'natural science' });
    expect(tea.options).toHaveLength(5);
    expect(tea.metadata).toMatchObject({ hasImage: true, context: 'IMG', grade: 'grade4' });
    expect(ds.items.find((i) => i.id === '11')!.answer).toBe('C');
    expect(benchmarkPrompt(ds.items.find((i) => i.id === '5')!).question).toBe(
      'Context: Look at the picture.\nWhich animal has a shell?\nA. snail\nB. dog\nC. cat',
    );
    expect(await decodes(await tea.image())).toEqual({ width: 24, height: 16 });
    await expect(ds.items[0]!.image()).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
  });

  it('selects the image-only subset (SQA-IMG) and other splits', async () => {
    const img = await loadBenchmark('scienceqa', dir, { subset: 'img' });
    expect(img.items.map((i) => i.id)).toEqual(['5', '11', '22']);
    const val = await loadBenchmark('scienceqa', dir, { split: 'val' });
    expect(val.items.map((i) => i.id)).toEqual(['99']);
    await expect(loadBenchmark('scienceqa', dir, { split: 'minitest' })).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('test, val, train'),
    });
  });

  it("records each item's official split: the one asked for, or pid_splits.json's for LLaVA's file", async () => {
    const ds = await loadBenchmark('scienceqa', dir);
    expect(ds.splits).toEqual({ test: written.length });
    expect(ds.items.every((i) => i.metadata.split === 'test')).toBe(true);
    const llavaDir = await tempDir();
    const llava = [
      {
        id: '5',
        conversations: [
          { from: 'human', value: 'Which?\nA. a\nB. b' },
          { from: 'gpt', value: 'A' },
        ],
      },
      {
        id: '99',
        conversations: [
          { from: 'human', value: 'Which?\nA. a\nB. b' },
          { from: 'gpt', value: 'B' },
        ],
      },
      {
        id: '777',
        conversations: [
          { from: 'human', value: 'Which?\nA. a\nB. b' },
          { from: 'gpt', value: 'B' },
        ],
      },
    ];
    const file = join(llavaDir, 'llava_test_CQM-A.json');
    await writeFile(file, JSON.stringify(llava));
    const unknown = await loadBenchmark('scienceqa', file);
    expect(unknown.splits).toBeUndefined();
    expect(unknown.items.map((i) => i.metadata.split)).toEqual([undefined, undefined, undefined]);
    // pid_splits.json given, then beside the file.
    const given = await loadBenchmark('scienceqa', file, { splitsFile: join(dir, 'pid_splits.json') });
    expect(given.items.map((i) => i.metadata.split)).toEqual(['test', 'val', undefined]);
    expect(given.splits).toEqual({ test: 1, val: 1, unknown: 1 });
    expect(given.warnings).toEqual([expect.stringContaining('1 question(s) of llava_test_CQM-A.json are in no split')]);
    await writeFile(join(llavaDir, 'pid_splits.json'), JSON.stringify({ train: ['777'], val: ['99'], test: ['5'], minitest: ['5'] }));
    const beside = await loadBenchmark('scienceqa', file);
    expect(beside.items.map((i) => i.metadata.split)).toEqual(['test', 'val', 'train']);
    expect(beside.splits).toEqual({ test: 1, val: 1, train: 1 });
  });

  it('names problems.json when the folder has neither file', async () => {
    await expect(loadBenchmark('scienceqa', await tempDir())).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('problems.json'),
    });
  });
});

describe('POPE official files', () => {
  it('reads the three splits with LLaVA-compatible ids and finds the COCO images', async () => {
    const dir = await tempDir();
    const written = await writePope(dir);
    const ds = await loadBenchmark('pope', dir);
    expect(ds.items).toHaveLength(written.length);
    expect(ds.items.map((i) => i.id).slice(0, 2)).toEqual(['10000001', '10000002']);
    expect(ds.items.find((i) => i.id === '20000003')).toMatchObject({ category: 'popular', answer: 'yes' });
    expect(ds.items.find((i) => i.id === '2')).toMatchObject({ category: 'adversarial', answer: 'no' });
    expect(await ds.items[0]!.image()).toBe(join(dir, 'val2014', written[0]!.image));
  });

  it('keeps the own question ids of one split file (no LLaVA offset)', async () => {
    const dir = await tempDir();
    await writePope(dir, { withoutImages: true });
    const ds = await loadBenchmark('pope', join(dir, 'coco_pope_random.json'));
    expect(ds.items.map((i) => i.id).slice(0, 2)).toEqual(['1', '2']);
    expect(ds.items[0]?.metadata).toMatchObject({ split: 'random', questionId: 1, ids: 'question_id' });
  });

  it('says which split file is missing', async () => {
    const dir = await tempDir();
    await writePope(dir, { withoutImages: true });
    await rm(join(dir, 'coco_pope_popular.json'));
    await expect(loadBenchmark('pope', dir)).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('coco_pope_popular.json'),
    });
    expect((await loadBenchmark('pope', dir, { popeSplits: ['random'] })).items).toHaveLength(4);
  });

  it('rejects a label that is not yes or no, with its line', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'coco_pope_random.json'), '{"question_id": 1, "image": "a.jpg", "text": "Is there a dog?", "label": "maybe"}\n');
    await expect(loadBenchmark('pope', join(dir, 'coco_pope_random.json'))).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('coco_pope_random.json line 1 has label "maybe"'),
    });
  });
});

describe('MMBench TSV', () => {
  it('reads VLMEvalKit columns, hints, 3-option rows, quoted cells and base64 images', async () => {
    const file = join(await tempDir(), 'MMBench_DEV_EN.tsv');
    const rows = await writeMmbenchTsv(file);
    const ds = await loadBenchmark('mmbench', file);
    expect(ds.format).toBe('vlmevalkit-tsv');
    expect(ds.items).toHaveLength(rows.length);
    const shape = ds.items[1]!;
    expect(shape).toMatchObject({
      id: '1',
      question: 'Which "shape" is shown?\nPick one.',
      hint: 'The picture shows one shape.',
      answer: 'B',
      category: 'object_localization',
    });
    expect(shape.options).toEqual(['circle', 'square', 'triangle']);
    expect(shape.metadata).toMatchObject({ l2Category: 'Finegrained Perception (instance-level)', circularGroup: '1', circularRound: 0, split: 'dev' });
    expect(ds.items[0]!.hint).toBeUndefined();
    const image = await shape.image();
    expect(image).toBeInstanceOf(Uint8Array);
    expect(await decodes(image)).toEqual({ width: 24, height: 16 });
  });

  it('groups circular variants by index mod 1,000,000 and resolves their image references', async () => {
    const file = join(await tempDir(), 'MMBench_DEV_EN.tsv');
    const rows = await writeMmbenchTsv(file, { circular: true });
    const ds = await loadBenchmark('mmbench', file);
    expect(ds.items).toHaveLength(rows.length);
    expect(ds.items).toHaveLength(4 + 3 + 2 + 3 + 3);
    const group2 = ds.items.filter((i) => i.metadata.circularGroup === '2');
    expect(group2.map((i) => i.id)).toEqual(['2', '1000002', '2000002', '3000002']);
    expect(group2.map((i) => i.answer)).toEqual(['C', 'B', 'A', 'D']);
    expect(group2.map((i) => i.options?.[i.answer.charCodeAt(0) - 65])).toEqual(['3', '3', '3', '3']);
    const variant = await group2[2]!.image();
    expect(Buffer.from(variant as Uint8Array).equals(Buffer.from((await group2[0]!.image()) as Uint8Array))).toBe(true);
    // Data that already has variants is not expanded again.
    expect(expandCircular(ds.items)).toHaveLength(ds.items.length);
  });

  it('tolerates missing optional columns', async () => {
    const file = join(await tempDir(), 'lean.tsv');
    await writeMmbenchTsv(file, { omit: ['hint', 'category', 'l2-category', 'source', 'comment', 'split'] });
    const ds = await loadBenchmark('mmbench', file);
    expect(ds.items).toHaveLength(4);
    expect(ds.items[1]!.hint).toBeUndefined();
    expect(ds.items[1]!.category).toBeUndefined();
    expect(ds.hasAnswers).toBe(true);
  });

  it('loads a test split without answers or images, and says so', async () => {
    const file = join(await tempDir(), 'MMBench_TEST_EN.tsv');
    await writeMmbenchTsv(file, { omit: ['answer', 'image'] });
    const ds = await loadBenchmark('mmbench', file);
    expect(ds.hasAnswers).toBe(false);
    expect(ds.items[0]!.answer).toBe('');
    expect(ds.warnings.join(' ')).toMatch(/no "image" column/);
    await expect(ds.items[0]!.image()).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
  });

  it('rejects a TSV without an index column, listing the columns it has', async () => {
    const file = join(await tempDir(), 'bad.tsv');
    await writeFile(file, 'id\tquestion\tA\tB\n1\tq\tx\ty\n');
    await expect(loadBenchmark('mmbench', file)).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('no "index" column (columns: id, question, A, B)'),
    });
  });

  it('expands questions into LLaVA-style rotations with VLMEvalKit ids', async () => {
    const file = join(await tempDir(), 'MMBench_DEV_EN.tsv');
    await writeMmbenchTsv(file);
    const ds = await loadBenchmark('mmbench', file);
    const all = expandCircular(ds.items);
    const one = all.filter((i) => i.metadata.circularGroup === '1');
    expect(one.map((i) => i.id)).toEqual(['1', '1000001', '2000001']);
    expect(one.map((i) => i.options)).toEqual([
      ['circle', 'square', 'triangle'],
      ['square', 'triangle', 'circle'],
      ['triangle', 'circle', 'square'],
    ]);
    expect(one.map((i) => i.answer)).toEqual(['B', 'A', 'C']);
  });
});

describe('MMStar TSV', () => {
  it('reads the VLMEvalKit columns (l2_category)', async () => {
    const file = join(await tempDir(), 'MMStar.tsv');
    const rows = await writeMmstarTsv(file);
    const ds = await loadBenchmark('mmstar', file);
    expect(ds.items.map((i) => [i.id, i.answer, i.category])).toEqual(rows.map((r) => [String(r.index), r.answer, r.category]));
    expect(ds.items[1]!.metadata.l2Category).toBe('numeric commonsense and calculation');
    expect(await decodes(await ds.items[2]!.image())).toEqual({ width: 24, height: 16 });
  });

  it('reads options written inline in the question when the option columns are missing', async () => {
    const file = join(await tempDir(), 'MMStar.tsv');
    const rows = await writeMmstarTsv(file, { inlineOptions: true });
    const ds = await loadBenchmark('mmstar', file);
    expect(ds.items[0]!.question).toBe(rows[0]!.question);
    expect(ds.items[0]!.options).toEqual(rows[0]!.options);
  });
});

describe('SEED-Bench', () => {
  it('reads the image questions with type names as categories and skips video', async () => {
    const dir = await tempDir();
    const written = await writeSeedBench(dir);
    const ds = await loadBenchmark('seedbench', dir);
    expect(ds.items.map((i) => i.id)).toEqual(written.map((w) => w.questionId));
    expect(ds.items[0]).toMatchObject({ category: 'Instance Counting', answer: 'A', question: 'How many towels are in the image?' });
    expect(ds.items[0]!.options).toEqual(['One', 'Two', 'Three', 'Four']);
    expect(ds.warnings).toEqual(['Skipped 1 video questions (SemClip evaluates the image part).']);
    expect(await ds.items[0]!.image()).toBe(join(dir, 'SEED-Bench-image', '1454426_2591111986.jpg'));
  });
});
