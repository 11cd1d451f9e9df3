import { renderUsage, runCommand } from 'citty';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sharedBenchmark } from '@semclip/test-kit/benchmarks';
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
    for (const flag of ['--benchmark', '--data', '--predictions', '--annotations', '--allow-mismatch', '--json']) expect(usage).toContain(flag);
  });
});
