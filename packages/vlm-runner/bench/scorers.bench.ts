/**
 * The VLM scorers' own cost per score() on a 3x3 grid of the real 4032x3024 `queue_time.jpg`,
 * with the test kit's tiny random-weight LLaVA (so the model's compute is negligible and this is
 * SemClip's overhead: cutting 9 tiles, the image processor, one batched vision run, the prompt
 * per tile, transformers.js and ONNX Runtime calls), and vlm-yesno against the fake OpenAI
 * server answering after a fixed 100 ms (ideal at concurrency 8: two waves, 200 ms).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, bench } from 'vitest';
import { tileImage } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { describeSharedBench, sharedData } from '@semclip/test-kit/shared-data';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { createLocalRunner } from '../src/local/index.js';
import type { LocalRunner } from '../src/local/index.js';
import { createOpenAIRunner } from '../src/openai/index.js';
import { createVlmEmbedScorer, createVlmYesNoScorer } from '../src/scorers/index.js';
import type { VlmEmbedScorer, VlmYesNoScorer } from '../src/scorers/index.js';

let dir: string;
let runner: LocalRunner;
let tiled: TiledImage;
let embed: VlmEmbedScorer;
let yesno4: VlmYesNoScorer;
let yesno1: VlmYesNoScorer;
let yesnoHttp: VlmYesNoScorer;
let fake: FakeOpenAI;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-scorers-bench-'));
  await writeTinyLlava(dir, { seed: 1 });
  runner = await createLocalRunner({ model: dir, device: 'cpu' });
  tiled = await tileImage(sharedData('images/queue_time.jpg'), { grid: '3x3' });
  await tiled.overview({ width: 32, height: 32 });
  embed = await createVlmEmbedScorer({ runner });
  yesno4 = await createVlmYesNoScorer({ runner, batchSize: 4 });
  yesno1 = await createVlmYesNoScorer({ runner, batchSize: 1 });
  fake = await startFakeOpenAI({
    behaviour: {
      latencyMs: 100,
      respond: () => 'No',
      topLogprobs: () => [
        { token: 'No', logprob: -0.1 },
        { token: 'Yes', logprob: -2.4 },
      ],
    },
  });
  yesnoHttp = await createVlmYesNoScorer({
    runner: createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 8, image: { maxSide: 336 } }),
    tileMaxSide: 336,
  });
});

afterAll(async () => {
  await runner?.dispose();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describeSharedBench('VLM scorers, 3x3 tiles of a 4032x3024 photo (tiny random-weight LLaVA: SemClip overhead)', () => {
  bench(
    'vlm-embed, new image (9 crops + one batched vision run + question)',
    async () => {
      embed.clearCache();
      await embed.score({ question: `What is the wait time? ${n++}` }, tiled);
    },
    { time: 4000, warmupIterations: 1 },
  );

  bench(
    'vlm-embed, another question about a cached image (question only)',
    async () => {
      await embed.score({ question: `What is the wait time? ${n++}` }, tiled);
    },
    { time: 2000, warmupIterations: 2 },
  );

  bench(
    'vlm-yesno local, 4 tiles per forward pass',
    async () => {
      await yesno4.score({ question: 'What is the wait time?' }, tiled);
    },
    { time: 4000, warmupIterations: 1 },
  );

  bench(
    'vlm-yesno local, 1 tile per forward pass',
    async () => {
      await yesno1.score({ question: 'What is the wait time?' }, tiled);
    },
    { time: 4000, warmupIterations: 1 },
  );

  bench(
    'vlm-yesno openai, fake server 100 ms per call, concurrency 8 (ideal 200 ms)',
    async () => {
      await yesnoHttp.score({ question: 'What is the wait time?' }, tiled);
    },
    { time: 4000, warmupIterations: 1 },
  );
});
