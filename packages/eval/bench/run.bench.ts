import { rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Box, EncodedImage } from '@semclip/core';
import { createPipeline } from '@semclip/pipeline';
import { tileImage } from '@semclip/tiling';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { createRedScorer, writeEvalVstar } from '@semclip/test-kit/eval-fixtures';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { afterAll, bench, describe } from 'vitest';
import { loadBenchmark, runEvaluation, type RunEvaluationOptions } from '../src/index.js';

// The run engine against a fake OpenAI-compatible upstream answering after a fixed 20 ms:
// 500 V* questions (generated 97x61 images, 2x2 grid), every method (7 calls per question),
// 3 random repeats, concurrency 16. Ideal wall time = VLM calls x 20 ms / 16; target <= 1.2x.
//
// The upstream runs in its own thread (bench/_upstream-worker.mjs), as a VLM server runs on
// its own machine, and does not decode images. For reference the same run is also timed
// against the test kit's fake in this thread (it decodes every image it receives, so its CPU
// competes with the engine's), and the same number of calls is sent through the runner with
// no engine at all: the floor of this machine. Finally a finished run is resumed: it must make
// no VLM call. SEMCLIP_BENCH_ITEMS and SEMCLIP_BENCH_LATENCY_MS change the size and latency.
const ITEMS = Number(process.env.SEMCLIP_BENCH_ITEMS ?? 500);
const LATENCY_MS = Number(process.env.SEMCLIP_BENCH_LATENCY_MS ?? 20);
const CONCURRENCY = 16;
const CALLS_PER_ITEM = 7; // baseline, 4 tiles (random, majority, oracle, SemClip k=1), sub-image only, all tiles

const dir = await tempDir('semclip-eval-bench-');
await writeEvalVstar(join(dir, 'vstar'), ITEMS);
const dataset = await loadBenchmark('vstar', join(dir, 'vstar', 'annotations.jsonl'));

const worker = new Worker(new URL('./_upstream-worker.mjs', import.meta.url), { workerData: { latencyMs: LATENCY_MS } });
const port = await new Promise<number>((resolve) => worker.once('message', (m: { port: number }) => resolve(m.port)));
const lean = {
  url: `http://127.0.0.1:${port}/v1`,
  stats: () =>
    new Promise<{ requests: number; maxInFlight: number }>((resolve) => {
      worker.once('message', resolve);
      worker.postMessage('stats');
    }),
  reset: () => worker.postMessage('reset'),
};
const kitFake = await startFakeOpenAI({ behaviour: { latencyMs: LATENCY_MS, respond: () => 'A' } });
afterAll(async () => {
  worker.postMessage('close');
  await kitFake.close();
  await rm(dir, { recursive: true, force: true });
});

const options = (url: string, out: string): RunEvaluationOptions => {
  const runner = createOpenAIRunner({ baseUrl: url, model: 'fake-vlm', concurrency: CONCURRENCY, retries: 0 });
  return {
    dataset,
    methods: 'all',
    runner,
    pipeline: createPipeline({ scorer: createRedScorer(), grid: '2x2', runner }),
    out: join(dir, out),
    repeats: 3,
    concurrency: CONCURRENCY,
  };
};

const load = () => `load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores`;
const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };

describe(`@semclip/eval run: ${ITEMS} items x all methods, concurrency ${CONCURRENCY}, ${LATENCY_MS} ms per VLM call`, () => {
  bench(
    'runner alone, no engine (the floor of this machine)',
    async () => {
      // Images encoded once up front; the calls are what the engine would send.
      const format = { format: 'jpeg', quality: 90, maxSide: 1024 } as const;
      const prompts: Array<[EncodedImage, EncodedImage, Box]> = [];
      for (const item of dataset.items.slice(0, 50)) {
        const t = await tileImage((await item.image()) as string, { grid: '2x2' });
        const tile = t.grid.tiles[1] as { box: Box };
        prompts.push([await t.encode('overview', format), await t.encode(tile.box, format), tile.box]);
      }
      const runner = createOpenAIRunner({ baseUrl: lean.url, model: 'fake-vlm', concurrency: CONCURRENCY, retries: 0 });
      const calls = ITEMS * CALLS_PER_ITEM;
      lean.reset();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = next++; i < calls; i = next++) {
            const [overview, region, box] = prompts[i % prompts.length] as [EncodedImage, EncodedImage, Box];
            await runner.choose({
              images: [
                { role: 'overview', image: overview },
                { role: 'region', image: region, box },
              ],
              question: 'What colour?',
              options: ['a', 'b', 'c', 'd'],
            });
          }
        }),
      );
      const ms = performance.now() - t0;
      const ideal = (calls * LATENCY_MS) / CONCURRENCY;
      const s = await lean.stats();
      console.log(
        `runner alone: ${s.requests} calls (peak ${s.maxInFlight} in flight) in ${ms.toFixed(0)} ms; ideal ${ideal.toFixed(0)} ms; ratio ${(ms / ideal).toFixed(3)}; ${load()}`,
      );
    },
    once,
  );

  bench(
    'engine, upstream in its own thread (target <= 1.2x ideal)',
    async () => {
      const opts = options(lean.url, 'lean.jsonl');
      await rm(opts.out, { force: true });
      lean.reset();
      const summary = await runEvaluation(opts);
      const ideal = (summary.vlmCalls * LATENCY_MS) / CONCURRENCY;
      const s = await lean.stats();
      console.log(
        `engine: ${summary.written} rows, ${summary.vlmCalls} VLM calls (${s.requests} at the server, peak ${s.maxInFlight} in flight) in ${summary.elapsedMs.toFixed(0)} ms; ` +
          `ideal ${ideal.toFixed(0)} ms; ratio ${(summary.elapsedMs / ideal).toFixed(3)}; ${load()}`,
      );
      lean.reset();
      const t0 = performance.now();
      const again = await runEvaluation(opts);
      const s2 = await lean.stats();
      console.log(
        `engine, resuming the finished run: ${again.vlmCalls} VLM calls, ${s2.requests} at the server, ${again.written} rows written, ${(performance.now() - t0).toFixed(0)} ms`,
      );
      if (again.vlmCalls !== 0 || s2.requests !== 0) throw new Error('resuming a finished run called the VLM');
    },
    once,
  );

  bench(
    "engine, the test kit's fake upstream in this thread (decodes every image)",
    async () => {
      const opts = options(kitFake.url, 'kit.jsonl');
      await rm(opts.out, { force: true });
      kitFake.reset();
      const summary = await runEvaluation(opts);
      const ideal = (summary.vlmCalls * LATENCY_MS) / CONCURRENCY;
      console.log(
        `engine + kit fake: ${summary.vlmCalls} VLM calls (${kitFake.requests.length} at the server, peak ${kitFake.maxInFlight} in flight) in ${summary.elapsedMs.toFixed(0)} ms; ` +
          `ideal ${ideal.toFixed(0)} ms; ratio ${(summary.elapsedMs / ideal).toFixed(3)}; ${load()}`,
      );
    },
    once,
  );
});
