import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderUsage, runCommand } from 'citty';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sharedBenchmark, writeVstarFolder } from '@semclip/test-kit/benchmarks';
import { itShared } from '@semclip/test-kit/shared-data';
import { evalCommand } from './eval.js';

let out: string[];

beforeEach(() => {
  out = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
});

const run = (...rawArgs: string[]) => runCommand(evalCommand, { rawArgs });
function json(): any {
  expect(out).toHaveLength(1);
  return JSON.parse(out[0]!);
}
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

describe('semclip eval score', () => {
  itShared("prints V*'s accuracy from the annotation file's output (--json)", async () => {
    const file = sharedBenchmark('vstar', 'annotations-with-qwen2.5-vl-7b-output.jsonl');
    await run('score', '--benchmark', 'vstar', '--data', file, '--predictions', file, '--json');
    const doc = json();
    expect(doc).toMatchObject({ benchmark: 'vstar', count: 191, correct: 148, missing: 0, unmatched: 0 });
    expect(round(doc.accuracy, 1)).toBe(77.5);
    expect(doc.categories.relative_position).toMatchObject({ count: 76, correct: 57 });
  });

  itShared('prints POPE F1 and the per-split breakdown (--json)', async () => {
    await run(
      'score',
      '--benchmark',
      'pope',
      '--data',
      sharedBenchmark('pope', 'rev_e3e3926'),
      '--predictions',
      sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'),
      '--json',
    );
    const doc = json();
    expect(doc).toMatchObject({ benchmark: 'pope', count: 8910 });
    expect(round(doc.f1, 1)).toBe(85.9);
    expect(Object.keys(doc.splits)).toEqual(['random', 'popular', 'adversarial']);
    expect(doc.splits.random).toMatchObject({ count: 2910 });
    expect(doc.headline.metric).toBe('f1');
  });

  itShared('prints a table for people: overall, SQA-IMG and a warning-free footer', async () => {
    await run(
      'score',
      '--benchmark',
      'scienceqa',
      '--data',
      sharedBenchmark('scienceqa', 'llava_test_CQM-A.json'),
      '--predictions',
      sharedBenchmark('scienceqa', 'result-llava-v1.5-13b.json'),
    );
    const text = out.join('');
    expect(text).toContain('img_accuracy 71.64');
    expect(text).toMatch(/^all\s+4241\s+3155\s+74\.39$/m);
    expect(text).toMatch(/^img \(SQA-IMG\)\s+2017\s+1445\s+71\.64$/m);
    expect(text).not.toContain('warning:');
  });

  itShared('scores against another POPE revision only with --allow-mismatch', async () => {
    const args = ['score', '--benchmark', 'pope', '--data', sharedBenchmark('pope'), '--predictions', sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl')];
    await expect(run(...args)).rejects.toMatchObject({ code: 'RESULTS_INVALID' });
    await run(...args, '--allow-mismatch', '--json');
    expect(json().mismatched).toBeGreaterThan(0);
  });

  itShared("keeps coco_pope_random.json's own question ids and says which ids the predictions use", async () => {
    const data = sharedBenchmark('pope', 'rev_e3e3926', 'coco_pope_random.json');
    // LLaVA's answers file: its random split is numbered question_id + 10,000,000.
    await run('score', '--benchmark', 'pope', '--data', data, '--predictions', sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'));
    const text = out.join('');
    expect(text).toMatch(/^random\s+2910\s+88\.01\s+97\.44\s+78\.80\s+87\.14/m);
    expect(text).toContain("note: POPE ids: the predictions use LLaVA's numbering");
    expect(text).toContain('note: 6000 predictions answer POPE splits the data does not hold and were left out.');
    // The same answers keyed by the file's own question_id.
    const answers = (await readFile(sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { question_id: number; text: string })
      .filter((a) => a.question_id >= 10_000_000 && a.question_id < 20_000_000)
      .map((a) => JSON.stringify({ question_id: a.question_id - 10_000_000, text: a.text }));
    const own = join(await mkdtemp(join(tmpdir(), 'semclip-pope-own-')), 'random.jsonl');
    await writeFile(own, `${answers.join('\n')}\n`);
    out = [];
    await run('score', '--benchmark', 'pope', '--data', data, '--predictions', own, '--json');
    const doc = json();
    expect(doc).toMatchObject({ count: 2910, unmatched: 0, pope_ids: { predictions: 'question_id', data: 'question_id', other_splits: 0 } });
    expect(round(doc.f1, 2)).toBe(87.14);
  });

  it('scores every usable row of a TSV and reports the others; --strict refuses it, listing them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'semclip-tsv-rows-'));
    const data = join(dir, 'MMStar.tsv');
    await writeFile(
      data,
      [
        'index\tquestion\tA\tB\tC\tD\tanswer\tcategory',
        '0\tHow many tree stumps are there?\tnan\tTwo\tOne\tNone\tA\tcounting',
        '1\tWhat is shown?\ta dog\t\t\t\tA\tobjects',
        '2\tWhat colour is the sky?\tblue\tgreen\t\t\tA\tattributes',
        '',
      ].join('\n'),
    );
    const predictions = join(dir, 'answers.jsonl');
    await writeFile(predictions, '{"question_id": 0, "text": "A"}\n{"question_id": 1, "text": "A"}\n{"question_id": 2, "text": "B"}\n');
    await run('score', '--benchmark', 'mmstar', '--data', data, '--predictions', predictions, '--json');
    expect(json()).toMatchObject({
      count: 2,
      correct: 1,
      unscorable: 1,
      unscorable_rows: [{ id: '1', line: 3, reason: 'only option A (at least two are needed)' }],
    });
    await expect(run('score', '--benchmark', 'mmstar', '--data', data, '--predictions', predictions, '--strict')).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('1 of 3 rows cannot be used: 1 (line 3): only option A'),
    });
  });

  it('rejects an unknown benchmark', async () => {
    const file = sharedBenchmark('vstar', 'annotations-with-qwen2.5-vl-7b-output.jsonl');
    await expect(run('score', '--benchmark', 'mmmu', '--data', file, '--predictions', file)).rejects.toMatchObject({
      code: 'UNKNOWN_BENCHMARK',
    });
  });

  it('fails with DATASET_NOT_FOUND for a missing data path', async () => {
    const file = sharedBenchmark('vstar', 'annotations-with-qwen2.5-vl-7b-output.jsonl');
    await expect(run('score', '--benchmark', 'gqa', '--data', '/nonexistent/gqa', '--predictions', file)).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
    });
  });

  it('documents its options in --help', async () => {
    const sub = (await (evalCommand.subCommands as Record<string, unknown>).score) as Parameters<typeof renderUsage>[0];
    const usage = await renderUsage(sub, evalCommand);
    for (const flag of ['--benchmark', '--data', '--predictions', '--annotations', '--allow-mismatch', '--strict', '--json']) expect(usage).toContain(flag);
  });
});

describe('semclip eval run --vstar-protocol', () => {
  it('refuses likelihood for an HTTP VLM (it cannot score option texts) and for other benchmarks, before any work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'semclip-vstar-protocol-'));
    await writeVstarFolder(join(dir, 'vstar'));
    const out = join(dir, 'results.jsonl');
    const args = ['run', '--data', join(dir, 'vstar'), '--vlm', 'openai:http://127.0.0.1:9/v1#nobody', '--method', 'baseline', '--out', out];
    await expect(run(...args, '--benchmark', 'vstar', '--vstar-protocol', 'likelihood')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining("V*'s likelihood protocol needs a VLM that scores free text"),
    });
    await expect(run(...args, '--benchmark', 'pope', '--vstar-protocol', 'likelihood')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('applies to --benchmark vstar only'),
    });
    await expect(run(...args, '--benchmark', 'vstar', '--vstar-protocol', 'guess')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
