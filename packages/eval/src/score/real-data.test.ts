import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedBenchmark, tempDir, writeJsonl } from '@semclip/test-kit/benchmarks';
import { describeShared } from '@semclip/test-kit/shared-data';
import { expect, it } from 'vitest';
import { roundTo } from '../metrics/metrics.js';
import { formatScoreTable, scoreToJSON } from './format.js';
import { scorePredictions } from './score.js';

// Published numbers, reproduced from the real files in ../shared/data/benchmarks and rounded as papers print them.
describeShared('scorePredictions on published outputs', () => {
  it('reproduces LLaVA-1.5-13B POPE F1 85.9 (mean of the three splits of rev e3e3926)', async () => {
    const report = await scorePredictions({
      benchmark: 'pope',
      data: sharedBenchmark('pope', 'rev_e3e3926'),
      predictions: sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'),
    });
    const s = report.score;
    if (s.benchmark !== 'pope') throw new Error('unreachable');
    expect(roundTo(s.headline.value, 1)).toBe(85.9);
    expect(s.headline.metric).toBe('f1');
    expect(s).toMatchObject({ count: 8910, missing: 0 });
    expect(report).toMatchObject({ unmatched: 0, mismatched: 0 });
    // Per split, as eval_pope.py prints them (3 decimals of a fraction).
    expect(roundTo(s.splits.adversarial!.f1 / 100, 3)).toBe(0.845);
    expect(roundTo(s.splits.random!.f1 / 100, 3)).toBe(0.871);
    expect(roundTo(s.splits.popular!.f1 / 100, 3)).toBe(0.862);
    expect(s.splits.random!.count).toBe(2910);
    const json = scoreToJSON(report);
    expect(json).toMatchObject({ benchmark: 'pope', count: 8910 });
    expect(roundTo(json.f1 as number, 1)).toBe(85.9);
    expect(Object.keys(json.splits as object)).toEqual(['random', 'popular', 'adversarial']);
  });

  /** LLaVA-1.5-13B's answers keyed by the official files' own question_id, per split (LLaVA's offsets undone). */
  async function ownIdAnswers(): Promise<Record<'random' | 'popular' | 'adversarial', Record<string, unknown>[]>> {
    const out = { random: [], popular: [], adversarial: [] } as Record<'random' | 'popular' | 'adversarial', Record<string, unknown>[]>;
    const text = await readFile(sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'), 'utf8');
    for (const line of text.trim().split('\n')) {
      const a = JSON.parse(line) as { question_id: number; text: string };
      const split = a.question_id >= 20_000_000 ? 'popular' : a.question_id >= 10_000_000 ? 'random' : 'adversarial';
      out[split].push({ question_id: a.question_id % 10_000_000, text: a.text });
    }
    return out;
  }

  // eval_pope.py's F1 per split (as a fraction, 3 decimals) for LLaVA-1.5-13B on rev e3e3926.
  const POPE_F1 = [
    ['random', 0.871, 2910],
    ['popular', 0.862, 3000],
    ['adversarial', 0.845, 3000],
  ] as const;

  it.each(POPE_F1)("keeps coco_pope_%s.json's own question ids and reproduces F1 %s from answers keyed by them", async (split, f1, count) => {
    const predictions = await writeJsonl(join(await tempDir(), `${split}.jsonl`), (await ownIdAnswers())[split]);
    const report = await scorePredictions({ benchmark: 'pope', data: sharedBenchmark('pope', 'rev_e3e3926', `coco_pope_${split}.json`), predictions });
    if (report.score.benchmark !== 'pope') throw new Error('unreachable');
    expect(report.score).toMatchObject({ count, missing: 0 });
    expect(report).toMatchObject({ unmatched: 0, mismatched: 0, popeIds: { predictions: 'question_id', data: 'question_id', otherSplits: 0 } });
    expect(roundTo(report.score.splits[split]!.f1 / 100, 3)).toBe(f1);
    expect(report.notes.join(' ')).toContain("the predictions use the official files' own question_id");
  });

  it.each(POPE_F1)("maps LLaVA's ids onto coco_pope_%s.json's own ids (F1 %s) and leaves the other splits' answers out", async (split, f1, count) => {
    const report = await scorePredictions({
      benchmark: 'pope',
      data: sharedBenchmark('pope', 'rev_e3e3926', `coco_pope_${split}.json`),
      predictions: sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'),
    });
    if (report.score.benchmark !== 'pope') throw new Error('unreachable');
    expect(report.score).toMatchObject({ count, missing: 0 });
    expect(report).toMatchObject({ unmatched: 0, mismatched: 0, popeIds: { predictions: 'llava', data: 'question_id', otherSplits: 8910 - count } });
    expect(roundTo(report.score.splits[split]!.f1 / 100, 3)).toBe(f1);
    expect(formatScoreTable(report)).toContain("note: POPE ids: the predictions use LLaVA's numbering");
  });

  it('reproduces the mean F1 85.9 from the three split files scored one by one with their own ids', async () => {
    const answers = await ownIdAnswers();
    const f1s: number[] = [];
    for (const [split] of POPE_F1) {
      const predictions = await writeJsonl(join(await tempDir(), `${split}.jsonl`), answers[split]);
      const { score } = await scorePredictions({ benchmark: 'pope', data: sharedBenchmark('pope', 'rev_e3e3926', `coco_pope_${split}.json`), predictions });
      f1s.push(score.headline.value);
    }
    expect(roundTo(f1s.reduce((a, b) => a + b, 0) / 3, 1)).toBe(85.9);
  });

  it("scores answers keyed by the files' own ids against the folder of all three splits when each names its split", async () => {
    const answers = await ownIdAnswers();
    const predictions = await writeJsonl(
      join(await tempDir(), 'own-with-split.jsonl'),
      POPE_F1.flatMap(([split]) => answers[split].map((a) => ({ ...a, category: split }))),
    );
    const report = await scorePredictions({ benchmark: 'pope', data: sharedBenchmark('pope', 'rev_e3e3926'), predictions });
    expect(report).toMatchObject({ unmatched: 0, mismatched: 0, popeIds: { predictions: 'question_id', data: 'llava' } });
    expect(report.score).toMatchObject({ count: 8910, missing: 0 });
    expect(roundTo(report.score.headline.value, 1)).toBe(85.9);
  });

  it("scores the same answers against LLaVA's own question file (labels joined from rev e3e3926)", async () => {
    const { score } = await scorePredictions({
      benchmark: 'pope',
      data: sharedBenchmark('pope', 'llava_pope_test.jsonl'),
      predictions: sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'),
    });
    expect(roundTo(score.headline.value, 1)).toBe(85.9);
  });

  it('refuses to score POPE answers against a different revision of the questions', async () => {
    const args = { benchmark: 'pope', data: sharedBenchmark('pope'), predictions: sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl') };
    await expect(scorePredictions(args)).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('rev_e3e3926'),
    });
    const report = await scorePredictions({ ...args, onMismatch: 'warn' });
    expect(report.mismatched).toBeGreaterThan(2000);
    expect(report.warnings.join(' ')).toContain('different questions');
  });

  it('reproduces ScienceQA 74.39 overall and SQA-IMG 71.6 from result-llava-v1.5-13b.json', async () => {
    const report = await scorePredictions({
      benchmark: 'scienceqa',
      data: sharedBenchmark('scienceqa', 'llava_test_CQM-A.json'),
      predictions: sharedBenchmark('scienceqa', 'result-llava-v1.5-13b.json'),
    });
    const s = report.score;
    if (s.benchmark !== 'scienceqa') throw new Error('unreachable');
    expect(report.predictions.format).toBe('scienceqa-result');
    expect(s).toMatchObject({ count: 4241, correct: 3155, missing: 0 });
    expect(roundTo(s.accuracy, 2)).toBe(74.39);
    expect(s.img).toMatchObject({ count: 2017, correct: 1445 });
    expect(roundTo(s.img.accuracy, 1)).toBe(71.6);
    expect(s.headline.metric).toBe('img_accuracy');
    expect(scoreToJSON(report)).toMatchObject({ img_count: 2017, img_correct: 1445 });
  });

  it("gets the same ScienceQA numbers by parsing the model's text replies (eval_science_qa.py's parsing)", async () => {
    const result = JSON.parse(await readFile(sharedBenchmark('scienceqa', 'result-llava-v1.5-13b.json'), 'utf8')) as {
      outputs: Record<string, string>;
    };
    const answers = join(await tempDir(), 'answers.jsonl');
    await writeJsonl(
      answers,
      Object.entries(result.outputs).map(([question_id, text]) => ({ question_id, text })),
    );
    const { score } = await scorePredictions({ benchmark: 'scienceqa', data: sharedBenchmark('scienceqa'), predictions: answers });
    expect(score).toMatchObject({ correct: 3155, unparsed: 38 });
    expect(roundTo(score.headline.value, 1)).toBe(71.6);
  });

  it("reproduces Qwen2.5-VL-7B's V* 77.5 (148/191) from the annotation file's output", async () => {
    const file = sharedBenchmark('vstar', 'annotations-with-qwen2.5-vl-7b-output.jsonl');
    const report = await scorePredictions({ benchmark: 'vstar', data: file, predictions: file });
    expect(report.predictions.format).toBe('vstar-output');
    expect(report.score).toMatchObject({ count: 191, correct: 148, missing: 0 });
    // Each line carries its options, so its output index is read against them: no file-order warning.
    expect(report.optionOrder).toEqual({ recorded: 191, file: 0 });
    expect(report.warnings.join(' ')).not.toContain('biased');
    expect(roundTo(report.score.accuracy, 1)).toBe(77.5);
    expect(report.score.categories).toMatchObject({
      direct_attributes: { count: 115, correct: 91 },
      relative_position: { count: 76, correct: 57 },
    });
  });

  it('will not score GQA answers without ground truth', async () => {
    await expect(
      scorePredictions({ benchmark: 'gqa', data: sharedBenchmark('gqa'), predictions: sharedBenchmark('gqa', 'answers-llava-v1.5-13b.jsonl') }),
    ).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringContaining('testdev_balanced_questions.json') });
  });
});

describeShared('scorePredictions on incomplete or wrong prediction files', () => {
  const data = sharedBenchmark('pope', 'rev_e3e3926');

  async function answersWith(mutate: (lines: Record<string, unknown>[]) => Record<string, unknown>[]): Promise<string> {
    const text = await readFile(sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'), 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return writeJsonl(join(await tempDir(), 'answers.jsonl'), mutate(lines));
  }

  it('counts missing predictions as wrong and reports unknown ids as unmatched', async () => {
    const predictions = await answersWith((lines) => [...lines.slice(100), { question_id: 99999999, text: 'Yes' }, { question_id: 'nope', text: 'No' }]);
    const report = await scorePredictions({ benchmark: 'pope', data, predictions });
    expect(report.score.missing).toBe(100);
    expect(report.unmatched).toBe(2);
    expect(report.unmatchedIds).toEqual(['99999999', 'nope']);
    expect(report.score.headline.value).toBeLessThan(85.9);
    expect(report.warnings.join(' ')).toMatch(/100 of 8910 questions have no prediction/);
    expect(scoreToJSON(report)).toMatchObject({ missing: 100, unmatched: 2 });
  });

  it('rejects a file answering one question twice, naming both lines', async () => {
    const predictions = await answersWith((lines) => [...lines, lines[4]!]);
    await expect(scorePredictions({ benchmark: 'pope', data, predictions })).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringMatching(/question 5 twice: lines 5 and 8911/),
    });
  });

  it('reports the line number of a malformed line', async () => {
    const dir = await tempDir();
    const predictions = join(dir, 'bad.jsonl');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(predictions, '{"question_id": 1, "text": "Yes"}\n{"question_id": 2, "text": \n');
    await expect(scorePredictions({ benchmark: 'pope', data, predictions })).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('line 2 is not valid JSON'),
    });
  });

  it('rejects predictions that match no question at all', async () => {
    const predictions = await writeJsonl(join(await tempDir(), 'a.jsonl'), [{ question_id: 'x1', text: 'Yes' }]);
    await expect(scorePredictions({ benchmark: 'pope', data, predictions })).rejects.toMatchObject({ code: 'RESULTS_INVALID' });
  });

  it('rejects an unknown benchmark with the list of valid ones', async () => {
    await expect(scorePredictions({ benchmark: 'mmmu', data, predictions: data })).rejects.toMatchObject({
      code: 'UNKNOWN_BENCHMARK',
      message: expect.stringContaining('vstar, gqa, scienceqa, pope, mmbench, mmstar, seedbench'),
    });
  });
});
