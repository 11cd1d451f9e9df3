import { join } from 'node:path';
import {
  tempDir,
  writeGqa,
  writeJsonl,
  writeMmbenchTsv,
  writeMmstarTsv,
  writePope,
  writeScienceQa,
  writeSeedBench,
  writeVstarFolder,
} from '@semclip/test-kit/benchmarks';
import { describe, expect, it } from 'vitest';
import { formatScoreTable, scoreToJSON } from './format.js';
import { scorePredictions } from './score.js';

describe('MMBench CircularEval', () => {
  it('counts a question only when all its circular variants are right', async () => {
    const dir = await tempDir();
    const data = join(dir, 'MMBench_DEV_EN.tsv');
    const rows = await writeMmbenchTsv(data, { circular: true });
    // Right everywhere except one rotation of question 2; question 3 answered by option text.
    const predictions = await writeJsonl(
      join(dir, 'answers.jsonl'),
      rows.map((r) => ({
        question_id: r.index,
        text: r.index === 2_000_002 ? 'D' : r.index % 1_000_000 === 3 ? r.options[r.answer.charCodeAt(0) - 65] : `${r.answer}.`,
      })),
    );
    const report = await scorePredictions({ benchmark: 'mmbench', data, predictions });
    const s = report.score;
    if (s.benchmark !== 'mmbench') throw new Error('unreachable');
    expect(s.count).toBe(15);
    expect(s.correct).toBe(14);
    expect(s.circular).toMatchObject({ groups: 4, correct: 3, circularGroups: 4, accuracy: 75 });
    expect(s.circular.categories.attribute_recognition).toEqual({ count: 2, correct: 1, accuracy: 50 });
    expect(s.headline).toEqual({ metric: 'circular_accuracy', value: 75 });
    expect(scoreToJSON(report)).toMatchObject({ benchmark: 'mmbench', count: 15, circular_accuracy: 75, circular_groups: 4 });
    expect(scoreToJSON(report).accuracy).toBeCloseTo((14 / 15) * 100, 10);
  });

  it("scores LLaVA's --all-rounds answers (round_id) by expanding each question into its rotations", async () => {
    const dir = await tempDir();
    const data = join(dir, 'MMBench_DEV_EN.tsv');
    const rows = await writeMmbenchTsv(data);
    // LLaVA's round k shows options k, k+1, ... as A, B, ...; a model that always picks the
    // right content answers letter (answer - k) mod n.
    const answers: unknown[] = [];
    for (const r of rows) {
      const n = r.options.length;
      const a = r.answer.charCodeAt(0) - 65;
      for (let k = 0; k < n; k++) {
        if (r.index === 3 && k === 2) continue; // one round never answered
        answers.push({ question_id: r.index, round_id: k, text: String.fromCharCode(65 + ((a - k + n) % n)) });
      }
    }
    const predictions = await writeJsonl(join(dir, 'answers.jsonl'), answers);
    const { score, warnings } = await scorePredictions({ benchmark: 'mmbench', data, predictions });
    if (score.benchmark !== 'mmbench') throw new Error('unreachable');
    expect(score.count).toBe(4 + 3 + 4 + 4);
    expect(score.missing).toBe(1);
    expect(score.circular).toMatchObject({ groups: 4, correct: 3 });
    expect(warnings.join(' ')).toContain('expanded');
  });

  it('tolerates a TSV without hint or category columns', async () => {
    const dir = await tempDir();
    const data = join(dir, 'lean.tsv');
    const rows = await writeMmbenchTsv(data, { omit: ['hint', 'category', 'l2-category'] });
    const predictions = await writeJsonl(
      join(dir, 'a.jsonl'),
      rows.map((r) => ({ question_id: r.index, prediction: r.answer })),
    );
    const { score } = await scorePredictions({ benchmark: 'mmbench', data, predictions });
    expect(score.accuracy).toBe(100);
    expect(score.categories).toEqual({});
  });
});

describe('scoring the other layouts', () => {
  it("MMStar: the letter MMStar's own evaluation reads (first character, or after '(', 'option ', 'the answer is ')", async () => {
    const dir = await tempDir();
    const data = join(dir, 'MMStar.tsv');
    await writeMmstarTsv(data);
    const predictions = await writeJsonl(join(dir, 'a.jsonl'), [
      // MMStar compares the answer with the reply's first character: 'T' is no option.
      { question_id: 0, text: 'The cup is on the table.' },
      { question_id: 1, text: '(C) 7' },
      { question_id: 2, text: 'I think red' },
    ]);
    const { score } = await scorePredictions({ benchmark: 'mmstar', data, predictions });
    expect(score).toMatchObject({ count: 3, correct: 1 });
    expect(score.categories['fine-grained perception']).toEqual({ count: 1, correct: 0, accuracy: 0 });
  });

  it('GQA: normalised exact match against testdev_balanced_questions.json', async () => {
    const dir = await tempDir();
    const written = await writeGqa(dir, { withoutImages: true });
    const predictions = await writeJsonl(join(dir, 'a.jsonl'), [
      { question_id: written[0]!.id, text: 'No.' },
      { question_id: written[1]!.id, text: 'Woman' },
      { question_id: written[2]!.id, text: 'wooden' },
      { question_id: written[3]!.id, text: 'YES' },
    ]);
    for (const data of [dir, join(dir, 'llava_gqa_testdev_balanced.jsonl')]) {
      const { score } = await scorePredictions({ benchmark: 'gqa', data, predictions });
      expect(score).toMatchObject({ count: 4, correct: 3 });
      expect(score.categories.choose).toEqual({ count: 1, correct: 0, accuracy: 0 });
    }
  });

  it('ScienceQA problems.json: letters parsed as eval_science_qa.py does, SQA-IMG reported', async () => {
    const dir = await tempDir();
    await writeScienceQa(dir);
    const predictions = await writeJsonl(join(dir, 'a.jsonl'), [
      { question_id: '4', text: 'B' },
      { question_id: '5', text: 'The answer is A.' },
      { question_id: '11', text: 'A. Ohio' },
      { question_id: '15', text: 'A' },
      // '22' missing
    ]);
    const { score } = await scorePredictions({ benchmark: 'scienceqa', data: dir, predictions });
    if (score.benchmark !== 'scienceqa') throw new Error('unreachable');
    expect(score).toMatchObject({ count: 5, correct: 3, missing: 1 });
    expect(score.img).toEqual({ count: 3, correct: 1, accuracy: (1 / 3) * 100 });
    expect(score.categories['language science']).toEqual({ count: 2, correct: 2, accuracy: 100 });
  });

  it('SEED-Bench: the reply must be the letter itself', async () => {
    const dir = await tempDir();
    const written = await writeSeedBench(dir);
    const predictions = await writeJsonl(join(dir, 'a.jsonl'), [
      { question_id: Number(written[0]!.questionId), text: 'A' },
      { question_id: written[1]!.questionId, text: 'B.' },
      { question_id: written[2]!.questionId, text: 'D' },
      { question_id: written[3]!.questionId, text: 'C' },
    ]);
    const { score } = await scorePredictions({ benchmark: 'seedbench', data: dir, predictions });
    expect(score).toMatchObject({ count: 4, correct: 3, unparsed: 1 });
  });

  it('V* folder: answers keyed by image path', async () => {
    const dir = await tempDir();
    const written = await writeVstarFolder(dir);
    const predictions = await writeJsonl(
      join(dir, 'a.jsonl'),
      written.map((w, i) => ({ question_id: w.id, text: i === 0 ? 'B' : w.options[0] })),
    );
    const report = await scorePredictions({ benchmark: 'vstar', data: dir, predictions });
    expect(report.score).toMatchObject({ count: 5, correct: 4 });
    const table = formatScoreTable(report);
    expect(table).toContain('accuracy 80.00');
    expect(table).toMatch(/direct_attributes\s+3\s+2\s+66\.67/);
    expect(table).toMatch(/relative_position\s+2\s+2\s+100\.00/);
  });

  it('POPE: flags answers whose prompt asks another question', async () => {
    const dir = await tempDir();
    const written = await writePope(dir, { withoutImages: true });
    const answers = written.map((w, i) => ({
      question_id: w.questionId + { adversarial: 0, random: 10_000_000, popular: 20_000_000 }[w.split],
      prompt: `${i === 5 ? 'Is there a unicorn in the image?' : w.text}\nAnswer the question using a single word or phrase.`,
      text: w.label === 'yes' ? 'Yes' : 'No',
    }));
    const predictions = await writeJsonl(join(dir, 'a.jsonl'), answers);
    await expect(scorePredictions({ benchmark: 'pope', data: dir, predictions })).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('1 of 12 predictions were made for different questions'),
    });
    const report = await scorePredictions({ benchmark: 'pope', data: dir, predictions, onMismatch: 'warn' });
    expect(report.mismatched).toBe(1);
    expect(report.score.headline.value).toBe(100);
    const table = formatScoreTable(report);
    expect(table).toMatch(/^split\s+count\s+accuracy\s+precision\s+recall\s+f1\s+yes_ratio$/m);
    expect(table).toMatch(/^mean\s+100\.00\s+100\.00\s+100\.00\s+100\.00\s+50\.00$/m);
  });
});
