import { readFile } from 'node:fs/promises';
import { sharedBenchmark } from '@semclip/test-kit/benchmarks';
import { describeShared } from '@semclip/test-kit/shared-data';
import { expect, it } from 'vitest';
import { extractAnswer } from '../answer/extract.js';
import { benchmarkPrompt } from '../answer/prompt.js';
import { readPredictions } from '../score/predictions.js';
import { loadBenchmark } from './load.js';
import { splitLlavaOptions } from './scienceqa.js';

// The real question files in ../shared/data/benchmarks (no images there: loading must not need them).
const counts = (xs: readonly { category?: string }[]) =>
  xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x.category ?? '-']: (acc[x.category ?? '-'] ?? 0) + 1 }), {});

describeShared('real benchmark files', () => {
  it("parses LLaVA's POPE file (8910) and joins labels from the revision it was made on", async () => {
    const ds = await loadBenchmark('pope', sharedBenchmark('pope', 'llava_pope_test.jsonl'));
    expect(ds.format).toBe('pope-llava');
    expect(ds.items).toHaveLength(8910);
    expect(counts(ds.items)).toEqual({ adversarial: 3000, random: 2910, popular: 3000 });
    expect(ds.hasAnswers).toBe(true);
    // The current coco_pope_random.json beside it differs; only rev_e3e3926 matches.
    expect(ds.warnings.join(' ')).toContain('rev_e3e3926');
    const first = ds.items[0];
    expect(first).toMatchObject({ id: '1', question: 'Is there a snowboard in the image?', category: 'adversarial' });
    expect(['yes', 'no']).toContain(first?.answer);
    expect(ds.items.find((i) => i.id === '10000001')?.metadata).toMatchObject({ split: 'random', questionId: 1 });
    // The instruction LLaVA baked into the text is stripped, and benchmarkPrompt puts it back verbatim.
    expect(benchmarkPrompt(first!).text).toBe('Is there a snowboard in the image?\nAnswer the question using a single word or phrase.');
  });

  it('parses the official POPE files: 3000 per split', async () => {
    const ds = await loadBenchmark('pope', sharedBenchmark('pope'));
    expect(ds.format).toBe('pope-official');
    expect(counts(ds.items)).toEqual({ random: 3000, popular: 3000, adversarial: 3000 });
    expect(ds.items.filter((i) => i.answer === 'yes')).toHaveLength(4500);
    const rev = await loadBenchmark('pope', sharedBenchmark('pope', 'rev_e3e3926'), { popeSplits: ['random'] });
    expect(rev.items).toHaveLength(2910);
    expect(rev.items[0]?.id).toBe('10000001');
  });

  it('parses one POPE split file on its own', async () => {
    const ds = await loadBenchmark('pope', sharedBenchmark('pope', 'coco_pope_adversarial.json'));
    expect(ds.items).toHaveLength(3000);
    expect(new Set(ds.items.map((i) => i.category))).toEqual(new Set(['adversarial']));
  });

  it.each(['random', 'popular', 'adversarial'])("keeps coco_pope_%s.json's own question_id as each item's id", async (split) => {
    const ds = await loadBenchmark('pope', sharedBenchmark('pope', `coco_pope_${split}.json`));
    const first = JSON.parse((await readFile(sharedBenchmark('pope', `coco_pope_${split}.json`), 'utf8')).split('\n')[0]!) as { question_id: number };
    expect(ds.items[0]).toMatchObject({ id: String(first.question_id), metadata: { questionId: first.question_id, ids: 'question_id' } });
    expect(ds.items.every((i) => i.id === String(i.metadata.questionId))).toBe(true);
  });

  it('names the missing COCO image when asked for one', async () => {
    const ds = await loadBenchmark('pope', sharedBenchmark('pope', 'coco_pope_random.json'), { images: '/nonexistent/val2014' });
    await expect(ds.items[0]!.image()).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('/nonexistent/val2014/COCO_val2014_000000310196.jpg'),
    });
  });

  it("parses LLaVA's ScienceQA test file: 4241 questions, 2017 with an image", async () => {
    const ds = await loadBenchmark('scienceqa', sharedBenchmark('scienceqa', 'llava_test_CQM-A.json'));
    expect(ds.items).toHaveLength(4241);
    expect(ds.items.filter((i) => i.metadata.hasImage === true)).toHaveLength(2017);
    const img = await loadBenchmark('scienceqa', sharedBenchmark('scienceqa'), { subset: 'img' });
    expect(img.items).toHaveLength(2017);
    // pid_splits.json beside it says every question is in the test split.
    expect(ds.splits).toEqual({ test: 4241 });
    expect(ds.items.every((i) => i.metadata.split === 'test')).toBe(true);
    const food = ds.items.find((i) => i.id === '23');
    expect(food?.options).toEqual(['bilberry', 'mushroom']);
    expect(food?.answer).toBe('B');
    // Rebuilding the prompt gives LLaVA's question text back exactly (minus the <image> tag).
    expect(benchmarkPrompt(food!).question).toBe(
      'Context: Below is a food web from a tundra ecosystem in Nunavut, a territory in Northern Canada.\nA food web models how the matter eaten by organisms moves through an ecosystem. The arrows in a food web represent how matter moves between organisms in an ecosystem.\nWhich of these organisms contains matter that was once part of the lichen?\nA. bilberry\nB. mushroom',
    );
    await expect(ds.items.find((i) => i.id === '4')!.image()).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
  });

  it('keeps ScienceQA options that span lines whole', () => {
    expect(splitLlavaOptions('Which closing is correct for a letter?\nA. See you soon,\nJanet\nB. See You Soon,\nJanet')).toEqual({
      stem: 'Which closing is correct for a letter?',
      options: ['See you soon,\nJanet', 'See You Soon,\nJanet'],
    });
  });

  it("parses LLaVA's GQA test-dev file (12578) and says it has no ground truth", async () => {
    const ds = await loadBenchmark('gqa', sharedBenchmark('gqa'));
    expect(ds.format).toBe('gqa-llava');
    expect(ds.items).toHaveLength(12578);
    expect(ds.hasAnswers).toBe(false);
    expect(ds.items[0]).toMatchObject({ id: '201307251', question: 'Is it overcast?', answer: '' });
    expect(ds.items[0]?.metadata.imageId).toBe('n161313');
  });

  it("reads LLaVA's GQA answer file: one answer per question, normalised as convert_gqa_for_eval.py does", async () => {
    const ds = await loadBenchmark('gqa', sharedBenchmark('gqa'));
    const preds = await readPredictions(sharedBenchmark('gqa', 'answers-llava-v1.5-13b.jsonl'));
    expect(preds.format).toBe('answers');
    expect(preds.records).toHaveLength(12578);
    const ids = new Set(ds.items.map((i) => i.id));
    expect(preds.records.every((r) => ids.has(r.id))).toBe(true);
    const woman = preds.records.find((r) => r.id === '201640614')!;
    expect(woman.reply).toBe('Woman');
    expect(extractAnswer('gqa', woman.reply as string, ds.items[1]!)).toBe('woman');
    // Every prompt asks the question the data has under that id.
    const byId = new Map(ds.items.map((i) => [i.id, i.question]));
    expect(preds.records.filter((r) => !r.prompt?.startsWith(byId.get(r.id)!))).toEqual([]);
  });

  it('parses the V* annotation file: 191 questions, 115 + 76, with target boxes', async () => {
    const ds = await loadBenchmark('vstar', sharedBenchmark('vstar', 'annotations-with-qwen2.5-vl-7b-output.jsonl'));
    expect(ds.format).toBe('vstar-annotations');
    expect(ds.items).toHaveLength(191);
    expect(counts(ds.items)).toEqual({ direct_attributes: 115, relative_position: 76 });
    const comb = ds.items[0]!;
    expect(comb).toMatchObject({ id: 'direct_attributes/sa_7429', question: 'What is the color of the comb?', answer: 'A' });
    expect(comb.options?.[0]).toBe('The color of the comb is purple.');
    expect(comb.targets).toEqual([{ x: 909, y: 416, width: 178, height: 55 }]);
    expect(ds.items.every((i) => i.answer === 'A')).toBe(true);
  });
});
