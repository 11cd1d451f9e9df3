/**
 * The local backend's own cost per call, measured on the test kit's tiny random-weight LLaVA
 * (so the model itself costs next to nothing): decoding the prompt images, the chat template,
 * tokenising with expanded placeholders, the image processor, transformers.js's generation
 * loop and the ONNX Runtime session calls. Inputs: the overview (1024 px JPEG) and one crop
 * of a real 4032x3024 photo. Real models add their own compute on top (see docs/benchmarks.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, bench } from 'vitest';
import type { PromptImage } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { describeSharedBench, sharedData } from '@semclip/test-kit/shared-data';
import { createLocalRunner } from '../src/local/index.js';
import type { LocalRunner } from '../src/local/index.js';

let dir: string;
let runner: LocalRunner;
let textRunner: LocalRunner;
let images: PromptImage[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-local-bench-'));
  await writeTinyLlava(dir, { seed: 1 });
  runner = await createLocalRunner({ model: dir, device: 'cpu' });
  textRunner = await createLocalRunner({ model: dir, device: 'cpu', chooseBy: 'text' });
  const tiled = await tileImage(sharedData('images/queue_time.jpg'), { grid: '3x3' });
  const box = tiled.grid.tiles[5]!.box;
  images = [
    { role: 'overview', image: await tiled.encode('overview', { maxSide: 1024 }) },
    { role: 'region', image: await tiled.encode(box, { maxSide: 1024 }), box },
  ];
});

afterAll(async () => {
  await runner?.dispose();
  await textRunner?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const options = ['15 minutes', '30 minutes', '45 minutes', 'one hour'];

describeSharedBench('local runner overhead (tiny random-weight LLaVA, overview + 1 crop of a 4032x3024 photo)', () => {
  bench(
    'answer, 8 new tokens',
    async () => {
      await runner.answer({ images, question: 'What is the wait time?', maxTokens: 8 });
    },
    { time: 3000, warmupIterations: 2 },
  );

  bench(
    'choose by letter, 4 options (one forward pass)',
    async () => {
      await runner.choose({ images, question: 'What is the wait time?', options });
    },
    { time: 3000, warmupIterations: 2 },
  );

  bench(
    'choose by option text, 4 options (prompt pass + 4 KV-cache continuations)',
    async () => {
      await textRunner.choose({ images, question: 'What is the wait time?', options });
    },
    { time: 3000, warmupIterations: 2 },
  );
});
