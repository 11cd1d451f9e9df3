/**
 * One odd row never loses a whole file: an option is any cell with text (`nan` and `None` are
 * real option texts in MMStar), letters may have gaps, and rows that cannot be used are left
 * out and listed (or refused with `strict`). MMBench, MMStar and SEED-Bench alike.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { beforeAll, describe, expect, it } from 'vitest';
import { benchmarkPrompt } from '../answer/prompt.js';
import { judge } from '../answer/judge.js';
import { loadBenchmark } from './load.js';

const HEADER = ['index', 'question', 'A', 'B', 'C', 'D', 'answer', 'category'];
const tsv = (rows: readonly (readonly string[])[]) => `${[HEADER, ...rows].map((r) => r.join('\t')).join('\n')}\n`;

/** MMStar-like rows: `nan`/`None` as option text, a gap, and five rows that cannot be used. */
const ROWS: readonly (readonly string[])[] = [
  ['0', 'How many tree stumps are there?', 'nan', 'Two', 'One', 'Cannot be determined', 'A', 'counting'],
  ['1', 'Which is not a colour?', 'red', 'None', 'blue', '', 'B', 'attributes'],
  ['2', 'Which shape has three sides?', 'circle', 'square', '', 'triangle', 'D', 'shapes'],
  ['3', 'What is shown?', 'a dog', '', '', '', 'A', 'objects'],
  ['4', 'What is shown?', 'a dog', 'a cat', '', '', 'C', 'objects'],
  ['5', '', 'a dog', 'a cat', '', '', 'A', 'objects'],
  ['x', 'What is shown?', 'a dog', 'a cat', '', '', 'A', 'objects'],
  ['1', 'Repeated index?', 'a', 'b', '', '', 'A', 'objects'],
  ['6', 'What colour is the sky?', 'blue', 'green', '', '', 'A', 'attributes'],
];

let dir: string;
beforeAll(async () => {
  dir = await tempDir('semclip-rows-');
});

describe.each(['mmstar', 'mmbench'] as const)('%s TSV rows', (benchmark) => {
  let file: string;
  beforeAll(async () => {
    file = join(dir, `${benchmark}.tsv`);
    await writeFile(file, tsv(ROWS));
  });

  it('reads "nan" and "None" as option text and keeps lettering gaps (A, B, D)', async () => {
    const ds = await loadBenchmark(benchmark, file);
    const byId = new Map(ds.items.map((i) => [i.id, i]));
    expect(byId.get('0')?.options).toEqual(['nan', 'Two', 'One', 'Cannot be determined']);
    expect(byId.get('1')?.options).toEqual(['red', 'None', 'blue']);
    const gap = byId.get('2')!;
    expect(gap.options).toEqual(['circle', 'square', 'triangle']);
    expect(gap.metadata.optionLetters).toEqual(['A', 'B', 'D']);
    expect(gap.answer).toBe('D');
    expect(benchmarkPrompt(gap).question).toBe('Which shape has three sides?\nA. circle\nB. square\nD. triangle');
    expect(judge(gap, 'D').correct).toBe(true);
    expect(judge(gap, { index: 2 }).predicted).toBe('D');
    expect(judge(byId.get('0')!, 'A').correct).toBe(true);
  });

  it('leaves out the rows that cannot be used, naming each with its line and why', async () => {
    const ds = await loadBenchmark(benchmark, file);
    expect(ds.items.map((i) => i.id)).toEqual(['0', '1', '2', '6']);
    expect(ds.skipped).toEqual([
      { id: '3', line: 5, reason: 'only option A (at least two are needed)' },
      { id: '4', line: 6, reason: 'answer "C" is none of its option letters A, B' },
      { id: '5', line: 7, reason: 'empty question' },
      { id: 'line 8', line: 8, reason: 'index "x" is not a non-negative integer' },
      { id: '1', line: 9, reason: 'repeats index 1 (first on line 3)' },
    ]);
    const warning = ds.warnings.find((w) => w.includes('cannot be used'));
    expect(warning).toContain('5 of 9 rows of');
    expect(warning).toContain('(3 (line 5): only option A (at least two are needed); 4 (line 6)');
    expect(ds.hasAnswers).toBe(true);
  });

  it('with strict, refuses the file listing every row that cannot be used', async () => {
    const err = await loadBenchmark(benchmark, file, { strict: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DATASET_INVALID', message: expect.stringContaining('5 of 9 rows cannot be used: 3 (line 5): only option A') });
    expect((err as { details: { skipped: unknown[] } }).details.skipped).toHaveLength(5);
  });
});

it('leaves out a row with a stray tab (more cells than columns) instead of refusing the file', async () => {
  const file = join(dir, 'stray-tab.tsv');
  await writeFile(
    file,
    tsv([
      ['0', 'q?', 'a', 'b', '', '', 'A', 'c'],
      ['1', 'q?', 'a', 'b', 'c', 'd', 'A', 'c', 'extra'],
      ['2', 'q2?', 'x', 'y', '', '', 'B', 'c'],
    ]),
  );
  const ds = await loadBenchmark('mmbench', file);
  expect(ds.items.map((i) => i.id)).toEqual(['0', '2']);
  expect(ds.skipped).toEqual([{ id: '1', line: 3, reason: '9 cells but the header has 8 columns (a stray tab or broken quoting)' }]);
});

it("reads MMStar's MathVista rows, whose options are '(A) x' lines after 'Choices:'", async () => {
  const file = join(dir, 'mmstar-inline.tsv');
  const question =
    'Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.\nQuestion: What is the sum?\nChoices:\n(A) 40.7\n(B) 74\n(C) nan\n(D) nan';
  await writeFile(file, `index\tquestion\tanswer\tcategory\n0\t"${question}"\tB\tmath\n`);
  const [item] = (await loadBenchmark('mmstar', file)).items;
  expect(item?.options).toEqual(['40.7', '74', 'nan', 'nan']);
  expect(item?.question).toBe(
    'Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.\nQuestion: What is the sum?',
  );
});

describe('SEED-Bench questions', () => {
  it('leaves out questions that cannot be used and keeps a gap where a choice is empty', async () => {
    const seed = join(dir, 'seed');
    const q = (id: string, extra: Record<string, unknown>) => ({
      question_id: id,
      question: `Question ${id}?`,
      choice_a: 'one',
      choice_b: 'two',
      choice_c: 'three',
      choice_d: 'four',
      answer: 'A',
      data_id: `${id}.jpg`,
      data_type: 'image',
      question_type_id: 1,
      ...extra,
    });
    const questions = [
      q('1', {}),
      q('2', { choice_c: '', answer: 'D' }),
      q('3', { choice_b: null, choice_c: null, choice_d: null }),
      q('4', { answer: 'E' }),
      q('5', { choice_a: 'None' }),
    ];
    await mkdir(seed, { recursive: true });
    await writeFile(join(seed, 'SEED-Bench.json'), JSON.stringify({ questions, question_type: { 'Scene Understanding': 1 } }));
    const ds = await loadBenchmark('seedbench', seed);
    expect(ds.items.map((i) => i.id)).toEqual(['1', '2', '5']);
    const gap = ds.items[1]!;
    expect(gap.options).toEqual(['one', 'two', 'four']);
    expect(gap.metadata.optionLetters).toEqual(['A', 'B', 'D']);
    expect(judge(gap, 'D').correct).toBe(true);
    expect(ds.items[2]?.options?.[0]).toBe('None');
    expect(ds.skipped?.map((s) => [s.id, s.reason])).toEqual([
      ['3', 'one choice with text (at least two are needed)'],
      ['4', 'answer "E" is none of its choices A, B, C, D'],
    ]);
    await expect(loadBenchmark('seedbench', seed, { strict: true })).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('2 of 5 rows cannot be used'),
    });
  });
});
