/**
 * The local backend on the test kit's tiny random-weight SmolVLM / Idefics3 (the same decoder
 * as the tiny LLaVA, Idefics3's vision encoder inputs, processor and chat template). Random
 * weights: shapes, determinism and plumbing only.
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

function picture(width: number, height: number, seed: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 17 + seed * 53) % 256;
  return { data, width, height, channels: 3 };
}

const images: PromptImage[] = [
  { role: 'overview', image: picture(90, 60, 1) },
  { role: 'region', image: picture(30, 30, 2), position: 'top-left' },
  { role: 'region', image: picture(20, 40, 3), position: 'bottom-right' },
];

let dir: string;
let tiny: TinyLlavaModel;
let runner: LocalRunner;
const trace: LocalTraceEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-tiny-smolvlm-'));
  tiny = await writeTinyLlava(dir, { family: 'idefics3', seed: 9 });
  runner = await createLocalRunner({ model: dir, device: 'cpu', maxTokens: 4, onTrace: (e) => trace.push(e) });
});

afterAll(async () => {
  await runner?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('local runner on a tiny random-weight SmolVLM / Idefics3 (shapes, determinism and plumbing only)', () => {
  it('loads as the idefics3 family with image_seq_len visual tokens per image', () => {
    expect(runner.family).toBe('idefics3');
    expect(runner.visualTokensPerImage).toBe(tiny.visualTokensPerImage);
    expect(runner.capabilities.multiImage).toBe(true);
  });

  it.each([1, 2, 3])('answers deterministically with %i image(s), one global view per image (no tiling)', async (n) => {
    trace.length = 0;
    const request = { images: images.slice(0, n), question: 'What is shown?' };
    const first = await runner.answer(request);
    const second = await runner.answer(request);
    expect(second.text).toBe(first.text);
    expect(first.usage.visual).toBe(n * tiny.visualTokensPerImage);
    const prompt = trace.find((e) => e.kind === 'prompt');
    if (prompt?.kind !== 'prompt') throw new Error('no prompt trace');
    const tf = await loadTransformers();
    const tok = await tf.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const id = (t: string) => (tok.encode(t, { add_special_tokens: false }) as number[])[0]!;
    const count = (t: string) => prompt.inputIds.filter((x) => x === id(t)).length;
    // <fake_token_around_image><global-img><image>*seq<fake_token_around_image> per image, from chat_template.json.
    expect(count('<image>')).toBe(n * tiny.visualTokensPerImage);
    expect(count('<global-img>')).toBe(n);
    expect(count('<fake_token_around_image>')).toBe(2 * n);
    expect(tok.decode(prompt.inputIds.slice(0, 12), { skip_special_tokens: false })).toMatch(/^<\|im_start\|>User:<fake_token_around_image><global-img>/);
    expect(trace.filter((e) => e.kind === 'vision')).toContainEqual({ kind: 'vision', batch: 1, featureTokens: n * tiny.visualTokensPerImage });
  });

  it('chooses by log-likelihood: finite scores, index = argmax, same twice', async () => {
    const request = { images, question: 'Which shape?', options: ['circle', 'square', 'triangle'] };
    const first = await runner.choose(request);
    const second = await runner.choose(request);
    expect(first.method).toBe('loglikelihood');
    expect(first.scores.every(Number.isFinite)).toBe(true);
    expect(first.index).toBe(first.scores.indexOf(Math.max(...first.scores)));
    expect(second.scores).toEqual(first.scores);
    expect(first.usage.visual).toBe(3 * tiny.visualTokensPerImage);
  });
});
