/**
 * What the one pipeline costs over composing the steps by hand, on the real 4032x3024
 * `queue_time.jpg` (../shared/data): `pipeline.run` (tile + decode check + score + select) vs
 * tileImage + the same 32x32 decode check + scorer.score + select, with the random scorer, whose
 * own cost is nil, so the difference is the pipeline's. Target: within 1.05x.
 *
 * Then `pipeline.ask` end to end against the test kit's fake OpenAI server at a fixed 200 ms per
 * call: 100 asks (overview + the selected crop at 672 px) at concurrency 8. Ideal 2.5 s. The
 * pipeline encodes each box once per image, so only the first ask of an image pays the JPEG
 * encode (the old askWithSelection re-encoded per call: 2.6-3.1x of ideal in docs/benchmarks.md).
 */
import { afterAll, bench } from 'vitest';
import { createRandomScorer } from '@semclip/scorers/random';
import { select } from '@semclip/selector';
import { tileImage } from '@semclip/tiling';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { describeSharedBench, sharedData } from '@semclip/test-kit/shared-data';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import type { OpenAIRunner } from '@semclip/vlm-runner/openai';
import { createPipeline } from '../src/index.js';
import type { PipelineRun } from '../src/index.js';

const PHOTO = sharedData('images/queue_time.jpg');
const QUESTION = 'What is the wait time?';
const scorer = createRandomScorer({ seed: 1 });
const walls: Record<string, number[]> = {};

async function timed(name: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  (walls[name] ??= []).push(performance.now() - t0);
}

function summary(): void {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = Object.entries(walls).map(([name, xs]) => ({ name, min: Math.min(...xs), mean: mean(xs), n: xs.length }));
  for (const r of rows) process.stderr.write(`${r.name}: min ${r.min.toFixed(1)} ms, mean ${r.mean.toFixed(1)} ms over ${r.n}\n`);
  const by = (n: string) => rows.find((r) => r.name === n);
  const hand = by('by hand 3x3');
  const pipe = by('pipeline.run 3x3');
  if (hand && pipe)
    process.stderr.write(`pipeline.run / by hand: min ${(pipe.min / hand.min).toFixed(3)}x, mean ${(pipe.mean / hand.mean).toFixed(3)}x (target 1.05x)\n`);
}

describeSharedBench('pipeline overhead (random scorer, queue_time.jpg 3x3)', () => {
  const pipeline = createPipeline({ scorer, grid: '3x3' });
  afterAll(summary);

  bench(
    'by hand: tileImage + decode check + score + select',
    () =>
      timed('by hand 3x3', async () => {
        const tiled = await tileImage(PHOTO, { grid: '3x3' });
        await tiled.overview({ width: 32, height: 32 });
        const scores = await scorer.score({ question: QUESTION }, tiled);
        select(scores, tiled.grid, { k: 1 });
      }),
    { iterations: 20, warmupIterations: 2, time: 0, warmupTime: 0 },
  );

  bench('pipeline.run', () => timed('pipeline.run 3x3', () => pipeline.run({ image: PHOTO, question: QUESTION })), {
    iterations: 20,
    warmupIterations: 2,
    time: 0,
    warmupTime: 0,
  });
});

describeSharedBench('pipeline.ask: 100 asks at concurrency 8, fake upstream at 200 ms (ideal 2.5 s)', () => {
  const pipeline = createPipeline({ scorer, grid: '3x3', imageFormat: { maxSide: 672 } });
  // Set up on first use: the bench runner does not run this suite's beforeAll before its tasks.
  let ready: Promise<{ fake: FakeOpenAI; runner: OpenAIRunner; run: PipelineRun }> | undefined;
  const setup = () =>
    (ready ??= (async () => {
      const fake = await startFakeOpenAI({ behaviour: { latencyMs: 200, respond: () => '15 minutes' } });
      const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'llava-hf/llava-1.5-7b-hf', concurrency: 8, env: {} });
      return { fake, runner, run: await pipeline.run({ image: PHOTO, question: QUESTION }) };
    })());
  afterAll(async () => {
    summary();
    if (!ready) return;
    const { fake, runner } = await ready;
    await runner.dispose();
    await fake.close();
  });

  bench(
    'pipeline.ask x100 (overview + crop at 672 px)',
    async () => {
      const { runner, run } = await setup();
      await timed('pipeline.ask x100', () =>
        Promise.all(Array.from({ length: 100 }, (_, i) => pipeline.ask({ runner, from: run, question: `${QUESTION} (${i})` }))),
      );
    },
    { iterations: 3, warmupIterations: 1, time: 0, warmupTime: 0 },
  );
});
