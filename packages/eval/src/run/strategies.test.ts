import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from '@semclip/pipeline';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { writeEvalVstar } from '@semclip/test-kit/eval-fixtures';
import { startFakeOpenAI, type FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { vstarOptionOrder } from '../answer/order.js';
import { loadBenchmark } from '../data/load.js';
import type { BenchmarkDataset } from '../data/types.js';
import { loadReport } from '../report/report.js';
import type { EvalStrategyInput } from './_item.js';
import { runEvaluation } from './engine.js';
import { parseMethods } from './methods.js';
import { readResults } from './results.js';

let dir: string;
let dataset: BenchmarkDataset;
let fake: FakeOpenAI;

beforeAll(async () => {
  dir = await tempDir('semclip-eval-strategies-');
  await writeEvalVstar(join(dir, 'vstar'), 4);
  dataset = await loadBenchmark('vstar', join(dir, 'vstar', 'annotations.jsonl'));
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('strategy methods (zoom, pack) in runEvaluation', () => {
  it('are asked by name, not by all', () => {
    expect(parseMethods('all')).not.toContain('zoom');
    expect(parseMethods('pack,baseline,zoom')).toEqual(['baseline', 'zoom', 'pack']);
  });

  it('run the injected strategy per item with the options in the order shown, and record its calls and tokens', async () => {
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', retries: 0 });
    const seen: EvalStrategyInput[] = [];
    const out = join(dir, 'zoom.jsonl');
    const summary = await runEvaluation({
      dataset,
      methods: 'zoom,pack',
      runner,
      pipeline: createPipeline({ scorer: false, runner }),
      out,
      strategies: {
        // Always the first option shown: right exactly when the shuffle kept V*'s right answer first.
        zoom: async (input) => {
          seen.push(input);
          return { reply: { index: 0 }, visualTokens: 7 * 576, vlmCalls: 7, images: 2 };
        },
        pack: async () => ({ reply: { index: 0 }, visualTokens: 1152, vlmCalls: 1, images: 2 }),
      },
    });
    expect(summary.written).toBe(8);
    const rows = (await readResults(out)).rows;
    for (const item of dataset.items) {
      const order = vstarOptionOrder(0, item.id, item.options!.length);
      const zoom = rows.find((r) => r.item === item.id && r.method === 'zoom')!;
      expect(zoom).toMatchObject({ vlmCalls: 7, visualTokens: 7 * 576, via: 'strategy', correct: order[0] === 0 });
      const input = seen.find((s) => s.question.length > 0 && s.options?.[0] === item.options![order[0]!]);
      expect(input).toBeDefined();
    }
    const report = await loadReport([out]);
    expect(report.methods.map((m) => m.method)).toEqual(['zoom', 'pack']);
    await runner.dispose();
  });

  it('refuse to run without their strategy', async () => {
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', retries: 0 });
    await expect(
      runEvaluation({ dataset, methods: 'zoom', runner, pipeline: createPipeline({ scorer: false, runner }), out: join(dir, 'none.jsonl') }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/zoom need their strategy/) });
    await runner.dispose();
  });
});
