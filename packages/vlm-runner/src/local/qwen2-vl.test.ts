/**
 * The local backend on the test kit's tiny random-weight Qwen2-VL (flattened patches +
 * grid_thw vision encoder, multimodal rotary position ids). Random weights: shapes,
 * determinism and plumbing only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptImage, RawImage } from '@semclip/core';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import type { TinyLlavaModel } from '@semclip/test-kit/onnx-llava';
import { loadTransformers } from '../backends/onnx.js';
import { createLocalRunner } from './index.js';
import type { LocalRunner, LocalTraceEvent } from './index.js';
import type { Any } from './_families.js';

function picture(width: number, height: number, seed: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 29 + seed * 41) % 256;
  return { data, width, height, channels: 3 };
}

const images: PromptImage[] = [
  { role: 'overview', image: picture(100, 70, 1) },
  { role: 'region', image: picture(40, 40, 2), position: 'top-right' },
  { role: 'region', image: picture(30, 50, 3), position: 'center' },
];

let dir: string;
let tiny: TinyLlavaModel;
let runner: LocalRunner;
const trace: LocalTraceEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-tiny-qwen2vl-'));
  tiny = await writeTinyLlava(dir, { family: 'qwen2_vl', seed: 4 });
  runner = await createLocalRunner({ model: dir, device: 'cpu', maxTokens: 4, imageSide: 56, onTrace: (e) => trace.push(e) });
});

afterAll(async () => {
  await runner?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('local runner on a tiny random-weight Qwen2-VL (shapes, determinism and plumbing only)', () => {
  it('loads as the qwen2_vl family; imageSide 56 gives (56/28)^2 visual tokens per image', () => {
    expect(runner.family).toBe('qwen2_vl');
    expect(runner.visualTokensPerImage).toBe(tiny.visualTokensPerImage);
    expect(runner.visualTokensPerImage).toBe(4);
  });

  it.each([1, 2, 3])('answers deterministically with %i image(s), each its own image_grid_thw row', async (n) => {
    trace.length = 0;
    const request = { images: images.slice(0, n), question: 'What is here?' };
    const first = await runner.answer(request);
    const second = await runner.answer(request);
    expect(second.text).toBe(first.text);
    expect(first.usage.visual).toBe(n * 4);
    const prompt = trace.find((e) => e.kind === 'prompt');
    expect(prompt).toMatchObject({ images: n, imageTokens: n * 4 });
    expect(trace.filter((e) => e.kind === 'vision')[0]).toEqual({ kind: 'vision', batch: n * 16, featureTokens: n * 4 });
  });

  it.each(['letter', 'text'] as const)('chooses by %s log-likelihood: finite, argmax, same twice', async (chooseBy) => {
    const r = chooseBy === 'letter' ? runner : await createLocalRunner({ model: dir, device: 'cpu', imageSide: 56, chooseBy });
    try {
      const request = { images, question: 'Which colour?', options: ['deep red', 'light blue', 'green'] };
      const first = await r.choose(request);
      const second = await r.choose(request);
      expect(first.scores.every(Number.isFinite)).toBe(true);
      expect(first.index).toBe(first.scores.indexOf(Math.max(...first.scores)));
      expect(second.scores).toEqual(first.scores);
    } finally {
      if (r !== runner) await r.dispose();
    }
  });

  it('generates the same tokens with the KV cache as with a full re-run per step (rotary position plumbing)', async () => {
    const tf: Any = await loadTransformers();
    const model = await tf.Qwen2VLForConditionalGeneration.from_pretrained(dir, { local_files_only: true, device: 'cpu', dtype: 'fp32' });
    try {
      trace.length = 0;
      await runner.answer({ images: images.slice(0, 2), question: 'Go on.', maxTokens: 1 });
      const prompt = trace.find((e) => e.kind === 'prompt');
      if (prompt?.kind !== 'prompt') throw new Error('no prompt trace');
      const processor = await tf.AutoProcessor.from_pretrained(dir, { local_files_only: true });
      const parts = [];
      for (const im of images.slice(0, 2)) {
        const r = im.image as RawImage;
        parts.push(await processor.image_processor(await new tf.RawImage(r.data, r.width, r.height, 3).resize(56, 56)));
      }
      const pixel_values = tf.cat(
        parts.map((p: Any) => p.pixel_values),
        0,
      );
      const image_grid_thw = tf.cat(
        parts.map((p: Any) => p.image_grid_thw),
        0,
      );
      const ids = [...prompt.inputIds];
      const tensor = (values: number[]) => new tf.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
      const steps = 6;
      const cached = await model.generate({
        input_ids: tensor(ids),
        attention_mask: tensor(ids.map(() => 1)),
        pixel_values,
        image_grid_thw,
        max_new_tokens: steps,
        do_sample: false,
        suppress_tokens: [tiny.imageTokenId],
      });
      const withCache = Array.from(cached.data as BigInt64Array, Number).slice(ids.length);
      const withoutCache: number[] = [];
      for (let step = 0; step < steps; step++) {
        const out = await model({ input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)), pixel_values, image_grid_thw });
        const [, seq, vocab] = out.logits.dims as number[];
        const last = (out.logits.data as Float32Array).subarray((seq! - 1) * vocab!, seq! * vocab!);
        let best = 0;
        for (let v = 1; v < last.length; v++) if (v !== tiny.imageTokenId && last[v]! > last[best]!) best = v;
        withoutCache.push(best);
        ids.push(best);
        if (best === tiny.eosTokenId) break;
      }
      expect(withCache.length).toBeGreaterThan(1);
      expect(withCache).toEqual(withoutCache);
    } finally {
      await model.dispose();
    }
  });
});
