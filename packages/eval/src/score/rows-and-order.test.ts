import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, writeJsonl } from '@semclip/test-kit/benchmarks';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatScoreTable, scoreToJSON } from './format.js';
import { scorePredictions } from './score.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('semclip-score-rows-');
});

describe('scoring a TSV with odd rows', () => {
  const rows = [
    ['index', 'question', 'A', 'B', 'C', 'D', 'answer', 'category'],
    ['0', 'How many tree stumps are there?', 'nan', 'Two', 'One', 'Cannot be determined', 'A', 'counting'],
    ['1', 'Which is not a colour?', 'red', 'None', 'blue', '', 'B', 'attributes'],
    ['2', 'Which shape has three sides?', 'circle', 'square', '', 'triangle', 'D', 'shapes'],
    ['3', 'What is shown?', 'a dog', '', '', '', 'A', 'objects'],
    ['4', 'What colour is the sky?', 'blue', 'green', '', '', 'A', 'attributes'],
  ];
  let data: string;
  let predictions: string;
  beforeAll(async () => {
    data = join(dir, 'odd.tsv');
    await writeFile(data, `${rows.map((r) => r.join('\t')).join('\n')}\n`);
    predictions = await writeJsonl(join(dir, 'odd.jsonl'), [
      { question_id: 0, text: 'A' },
      { question_id: 1, text: 'B' },
      { question_id: 2, text: 'D' },
      { question_id: 3, text: 'A' },
      { question_id: 4, text: 'B' },
    ]);
  });

  it.each(['mmstar', 'mmbench'] as const)('%s: scores every usable row (nan/None options, a lettering gap) and reports the others', async (benchmark) => {
    const report = await scorePredictions({ benchmark, data, predictions });
    expect(report.score).toMatchObject({ count: 4, correct: 3, missing: 0 });
    expect(report).toMatchObject({ unscorable: 1, unmatched: 0 });
    expect(report.unscorableRows).toEqual([{ id: '3', line: 5, reason: 'only option A (at least two are needed)' }]);
    const json = scoreToJSON(report);
    expect(json).toMatchObject({ unscorable: 1, unscorable_rows: [{ id: '3', line: 5 }] });
    const table = formatScoreTable(report);
    expect(table).toContain('unscorable rows 1');
    expect(table).toMatch(/warning: 1 of 5 rows of .* cannot be used and were left out \(3 \(line 5\): only option A/);
    expect(table).toContain('1 predictions answer rows of the data that cannot be used (first: 3)');
  });

  it('with strict, fails listing the rows that cannot be used', async () => {
    await expect(scorePredictions({ benchmark: 'mmstar', data, predictions, dataOptions: { strict: true } })).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('1 of 5 rows cannot be used: 3 (line 5): only option A'),
    });
  });

  it("reads VLMEvalKit's result table saved as TSV (index, prediction) and refuses the .xlsx itself with how to convert it", async () => {
    const table = join(dir, 'result.tsv');
    await writeFile(
      table,
      `${[...rows.map((r, i) => [...r, i === 0 ? 'prediction' : ['A', 'B', 'A', 'A', 'A'][i - 1]])].map((r) => r.join('\t')).join('\n')}\n`,
    );
    const report = await scorePredictions({ benchmark: 'mmstar', data: table, predictions: table });
    expect(report.predictions.format).toBe('vlmevalkit-tsv');
    expect(report.score).toMatchObject({ count: 4, correct: 3 });
    const xlsx = join(dir, 'result.xlsx');
    await writeFile(xlsx, Buffer.from('PK\u0003\u0004 not really a workbook'));
    await expect(scorePredictions({ benchmark: 'mmstar', data, predictions: xlsx })).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      hint: expect.stringContaining("to_csv('predictions.tsv', sep='\\t', index=False)"),
    });
  });
});

describe('V* letters and the option order a prediction was shown', () => {
  let data: string;
  const options = (i: number) => [`The comb ${i} is purple.`, `The comb ${i} is black.`, `The comb ${i} is white.`, `The comb ${i} is red.`];
  beforeAll(async () => {
    data = await writeJsonl(
      join(dir, 'vstar.jsonl'),
      Array.from({ length: 4 }, (_, i) => ({
        question: `What colour is comb ${i}?`,
        options: options(i),
        input_image: `direct_attributes/sa_${i}.jpg`,
        bbox: [],
      })),
    );
  });

  it('scores "always A" at 100 % against the file order, and warns that this order is biased', async () => {
    const predictions = await writeJsonl(
      join(dir, 'always-a.jsonl'),
      Array.from({ length: 4 }, (_, i) => ({ question_id: `direct_attributes/sa_${i}`, text: 'A' })),
    );
    const report = await scorePredictions({ benchmark: 'vstar', data, predictions });
    expect(report.score.correct).toBe(4);
    expect(report.optionOrder).toEqual({ recorded: 0, file: 4 });
    expect(report.warnings.join(' ')).toContain(
      "4 V* predictions were read against the data file's option order, in which the correct option is always first (A)",
    );
  });

  it.each([
    ['options (texts as shown)', (i: number, order: number[]) => ({ options: order.map((k) => options(i)[k]) })],
    ['option_order (indices into the file)', (_: number, order: number[]) => ({ option_order: order })],
  ])('reads each letter against the order the prediction records: %s', async (_name, record) => {
    // Shown orders; the model says A every time, which is right only where the correct option was shown first.
    const orders = [
      [0, 1, 2, 3],
      [1, 0, 2, 3],
      [3, 2, 1, 0],
      [2, 3, 0, 1],
    ];
    const predictions = await writeJsonl(
      join(dir, `recorded-${_name.split(' ')[0]}.jsonl`),
      orders.map((order, i) => ({ question_id: `direct_attributes/sa_${i}`, text: i === 3 ? 'C' : 'A', ...record(i, order) })),
    );
    const report = await scorePredictions({ benchmark: 'vstar', data, predictions });
    // Item 0: A = purple (right); 1: A = black; 2: A = red; 3: C = purple (right).
    expect(report.judgements.map((j) => [j.predicted, j.correct])).toEqual([
      ['A', true],
      ['B', false],
      ['D', false],
      ['A', true],
    ]);
    expect(report.optionOrder).toEqual({ recorded: 4, file: 0 });
    expect(report.warnings.join(' ')).not.toContain('biased');
    expect(scoreToJSON(report)).toMatchObject({ option_order: { recorded: 4, file: 0 } });
  });

  it("falls back to the file order, with a warning, when the recorded options are not the question's", async () => {
    const predictions = await writeJsonl(join(dir, 'bad-order.jsonl'), [{ question_id: 'direct_attributes/sa_0', text: 'A', options: ['x', 'y', 'z', 'w'] }]);
    const report = await scorePredictions({ benchmark: 'vstar', data, predictions });
    expect(report.optionOrder).toEqual({ recorded: 0, file: 1 });
    expect(report.warnings.join(' ')).toContain('1 predictions record an option order ("options" or "option_order") that is not a reordering');
  });
});
