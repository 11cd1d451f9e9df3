/**
 * The local backend end to end on the test kit's tiny random-weight LLaVA (tests/kit
 * onnx-llava.ts): served by the fake hub, pulled by @semclip/hub, loaded by transformers.js
 * on onnxruntime-node. Random weights: these tests check shapes, determinism and plumbing
 * (prompt assembly, image-token merging, KV-cache scoring, errors), never answer quality.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import type { PromptImage, RawImage } from '@semclip/core';
import { pullModel } from '@semclip/hub';
import type { ModelManifest } from '@semclip/hub';
import { buildTinyLlava, writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { loadTransformers } from '../backends/onnx.js';
import { createLocalRunner } from './index.js';
import type { LocalRunner, LocalTraceEvent } from './index.js';

const tiny = buildTinyLlava({ seed: 7, fp16Variants: true });
const revision = fakeRevision(tiny.repo);

function picture(width: number, height: number, seed: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 97 + ((i / 3) | 0) * 7) % 256;
  return { data, width, height, channels: 3 };
}

const overview: PromptImage = { role: 'overview', image: picture(96, 72, 1) };
const regions: PromptImage[] = [
  { role: 'region', image: picture(40, 40, 2), position: 'top-right' },
  { role: 'region', image: picture(50, 30, 3), position: 'bottom-left' },
];
const imageSets: [number, PromptImage[]][] = [
  [1, [overview]],
  [2, [overview, regions[0]!]],
  [3, [overview, ...regions]],
];

let hub: FakeHub;
let cacheDir: string;
let manifest: ModelManifest;
let runner: LocalRunner;
const trace: LocalTraceEvent[] = [];

beforeAll(async () => {
  hub = await startFakeHub({ repos: { [tiny.repo]: { revision, files: tiny.files } } });
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'semclip-local-'));
  manifest = manifestFor(tiny.repo, revision, tiny.files, {
    id: 'tiny-llava',
    task: 'image-text-to-text',
    family: 'llava',
  }) as unknown as ModelManifest;
  await pullModel(manifest, { cacheDir, endpoint: hub.url });
  runner = await createLocalRunner({ model: manifest, cacheDir, device: 'cpu', maxTokens: 6, onTrace: (e) => trace.push(e) });
});

afterAll(async () => {
  await runner?.dispose();
  await hub?.close();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

describe('local runner on a tiny random-weight LLaVA (shapes, determinism and plumbing only)', () => {
  it('loads through the hub cache with the tiny model config', () => {
    expect(runner.kind).toBe('local');
    expect(runner.family).toBe('llava');
    expect(runner.device).toBe('cpu');
    expect(runner.dtypes).toEqual({ vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'fp32' });
    expect(runner.visualTokensPerImage).toBe(tiny.visualTokensPerImage);
    expect(runner.dir).toBe(path.join(cacheDir, 'models', tiny.repo));
    expect(runner.capabilities).toEqual({ multiImage: true, logprobs: true, embeddings: true });
  });

  it.each(imageSets)('answers deterministically with %i image(s), merging images x visualTokensPerImage image tokens', async (n, images) => {
    trace.length = 0;
    const request = { images, question: 'What colour is the sign?', maxTokens: 5 };
    const first = await runner.answer(request);
    const second = await runner.answer(request);
    expect(second.text).toBe(first.text);
    expect(first.usage.visual).toBe(n * tiny.visualTokensPerImage);
    expect(first.usage.completion).toBeGreaterThanOrEqual(1);
    expect(first.usage.completion).toBeLessThanOrEqual(5);
    const prompts = trace.filter((e) => e.kind === 'prompt');
    const vision = trace.filter((e) => e.kind === 'vision');
    expect(prompts).toHaveLength(2);
    expect(prompts[0]).toMatchObject({ images: n, imageTokens: n * tiny.visualTokensPerImage });
    expect(prompts[0]!.kind === 'prompt' && prompts[0]!.inputIds.filter((id) => id === tiny.imageTokenId)).toHaveLength(n * tiny.visualTokensPerImage);
    // One vision-encoder batch per generate() call, with every image in it.
    expect(vision).toEqual([
      { kind: 'vision', batch: n, featureTokens: n * tiny.visualTokensPerImage },
      { kind: 'vision', batch: n, featureTokens: n * tiny.visualTokensPerImage },
    ]);
  });

  it('gives different answers for different images (the images reach the decoder)', async () => {
    const texts = new Set<string>();
    for (let seed = 10; seed < 16; seed++) {
      const { text } = await runner.answer({ images: [{ role: 'overview', image: picture(64, 64, seed) }], question: 'Describe it.', maxTokens: 4 });
      texts.add(text);
    }
    expect(texts.size).toBeGreaterThan(1);
  });

  it.each(imageSets)('chooses by log-likelihood with %i image(s): finite scores, index = argmax, same twice', async (n, images) => {
    const request = { images, question: 'Which colour is the car?', options: ['red', 'blue', 'green', 'yellow'] };
    const first = await runner.choose(request);
    const second = await runner.choose(request);
    expect(first.method).toBe('loglikelihood');
    expect(first.scores).toHaveLength(4);
    for (const s of first.scores) {
      expect(Number.isFinite(s)).toBe(true);
      expect(s).toBeLessThan(0);
    }
    expect(first.index).toBe(first.scores.indexOf(Math.max(...first.scores)));
    expect(first.text).toBe('ABCD'[first.index]);
    expect(second.scores).toEqual(first.scores);
    expect(first.usage.visual).toBe(n * tiny.visualTokensPerImage);
  });

  it('letter scores are the log-softmax of the next-token logits after the prompt', async () => {
    trace.length = 0;
    const request = { images: [overview, regions[0]!], question: 'Which one?', options: ['cat', 'dog', 'bird'] };
    const choice = await runner.choose(request);
    const prompt = trace.find((e) => e.kind === 'prompt');
    if (prompt?.kind !== 'prompt') throw new Error('no prompt trace');
    const ref = await referenceLogProbs(prompt.inputIds, request.images, []);
    const tf = await loadTransformers();
    const tok = await tf.AutoTokenizer.from_pretrained(runner.dir, { local_files_only: true });
    const letterIds = ['A', 'B', 'C'].map((l) => (tok.encode(l, { add_special_tokens: false }) as number[])[0]!);
    const expected = letterIds.map((id) => ref.at(-1)!(id));
    choice.scores.forEach((s, i) => expect(s).toBeCloseTo(expected[i]!, 4));
  });

  it('text scoring through the KV cache equals scoring the whole sequence at once', async () => {
    const textRunner = await createLocalRunner({ model: manifest, cacheDir, device: 'cpu', chooseBy: 'text', onTrace: (e) => trace.push(e) });
    try {
      trace.length = 0;
      const options = ['a red car', 'the blue sky above'];
      const request = { images: [overview, ...regions], question: 'What is it?', options };
      const choice = await textRunner.choose(request);
      const prompt = trace.find((e) => e.kind === 'prompt');
      if (prompt?.kind !== 'prompt') throw new Error('no prompt trace');
      const tf = await loadTransformers();
      const tok = await tf.AutoTokenizer.from_pretrained(textRunner.dir, { local_files_only: true });
      for (const [i, option] of options.entries()) {
        const ids = Array.from(tok.encode(option, { add_special_tokens: false }) as number[], Number);
        expect(ids.length).toBeGreaterThan(1);
        const ref = await referenceLogProbs(prompt.inputIds, request.images, ids.slice(0, -1));
        const P = prompt.inputIds.length;
        const expected = ids.reduce((sum, id, j) => sum + ref[P - 1 + j]!(id), 0);
        expect(choice.scores[i]).toBeCloseTo(expected, 3);
      }
      expect(choice.text).toBe(options[choice.index]);
    } finally {
      await textRunner.dispose();
    }
  });

  it('widens fp16 vision and embedding outputs for a float32 decoder (mixed weight variants)', async () => {
    const mixed = await createLocalRunner({ model: manifest, cacheDir, device: 'cpu', dtype: { vision_encoder: 'fp16', embed_tokens: 'fp16' } });
    try {
      expect(mixed.dtypes).toEqual({ vision_encoder: 'fp16', embed_tokens: 'fp16', decoder_model_merged: 'fp32' });
      const request = { images: [overview, regions[1]!], question: 'Which colour is the car?', options: ['red', 'blue', 'green'] };
      const full = await runner.choose(request);
      const half = await mixed.choose(request);
      // fp16 rounding moves the scores a little; copying half-precision bits as floats would not.
      half.scores.forEach((s, i) => expect(Math.abs(s - full.scores[i]!)).toBeLessThan(0.05));
    } finally {
      await mixed.dispose();
    }
  });

  it('names the variants present when the requested dtype was not downloaded', async () => {
    const err = await createLocalRunner({ model: manifest, cacheDir, device: 'cpu', dtype: 'q4' }).catch((e: unknown) => e);
    expect(isSemclipError(err, 'MODEL_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/no q4 weights for vision_encoder/);
    expect((err as { expected?: string }).expected).toMatch(/fp32, fp16/);
  });

  it('trusts the vision encoder over a config.json that miscounts visual tokens, and says so', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-miscount-'));
    const warnings: string[] = [];
    try {
      await writeTinyLlava(dir, { seed: 2, configOverrides: { image_seq_length: 9 } });
      const odd = await createLocalRunner({ model: dir, device: 'cpu', maxTokens: 2, warn: (m) => warnings.push(m) });
      try {
        expect(odd.visualTokensPerImage).toBe(tiny.visualTokensPerImage);
        expect(warnings.join('\n')).toMatch(/implies 9 visual tokens per image but its vision encoder returns 16; using 16/);
        const answer = await odd.answer({ images: [overview, regions[0]!], question: 'What is it?' });
        expect(answer.usage.visual).toBe(2 * tiny.visualTokensPerImage);
      } finally {
        await odd.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['tokenizer.json', '{ not json', /tokenizer/],
    ['onnx/decoder_model_merged.onnx', 'not an onnx model', /ONNX sessions/],
    ['config.json', JSON.stringify({ model_type: 'paligemma' }), /paligemma/],
  ])('reports a broken %s as MODEL_INVALID', async (file, content, message) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-broken-'));
    try {
      await writeTinyLlava(dir, { seed: 3 });
      writeFileSync(path.join(dir, file), content);
      const err = await createLocalRunner({ model: dir, device: 'cpu' }).catch((e: unknown) => e);
      expect(isSemclipError(err, 'MODEL_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs a LLaVA-OneVision config, counting its visual tokens from the vision encoder', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-onevision-'));
    try {
      await writeTinyLlava(dir, {
        seed: 6,
        configOverrides: { model_type: 'llava_onevision', architectures: ['LlavaOnevisionForConditionalGeneration'], image_seq_length: undefined },
      });
      const ov = await createLocalRunner({ model: dir, device: 'cpu', maxTokens: 3 });
      try {
        expect(ov.family).toBe('llava_onevision');
        expect(ov.capabilities.multiImage).toBe(true);
        expect(ov.visualTokensPerImage).toBe(tiny.visualTokensPerImage);
        const answer = await ov.answer({ images: [overview, ...regions], question: 'What is it?' });
        expect(answer.usage.visual).toBe(3 * tiny.visualTokensPerImage);
      } finally {
        await ov.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects calls after dispose with a clear error', async () => {
    const short = await createLocalRunner({ model: manifest, cacheDir, device: 'cpu' });
    await short.dispose();
    await short.dispose();
    const err = await short.answer({ images: [overview], question: 'Hi?' }).catch((e: unknown) => e);
    expect(isSemclipError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/disposed/);
    await expect(short.choose({ images: [overview], question: 'Hi?', options: ['a', 'b'] })).rejects.toThrow(/disposed/);
  });

  it('names the pull command when the model is not downloaded', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'semclip-empty-'));
    try {
      const err = await createLocalRunner({ model: manifest, cacheDir: empty, device: 'cpu' }).catch((e: unknown) => e);
      expect(isSemclipError(err, 'MODEL_NOT_DOWNLOADED')).toBe(true);
      expect((err as Error).message).toMatch(/semclip models pull tiny-llava/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('fails clearly for a model folder that does not exist', async () => {
    const err = await createLocalRunner({ model: path.join(os.tmpdir(), 'no-such-model-dir-xyz'), device: 'cpu' }).catch((e: unknown) => e);
    expect(isSemclipError(err, 'MODEL_NOT_DOWNLOADED')).toBe(true);
  });

  it('rejects a cancelled request with ABORTED', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(runner.answer({ images: [overview], question: 'Hi?', signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('stops a generation in progress when its signal fires, and keeps working afterwards', async () => {
    const controller = new AbortController();
    const r = await createLocalRunner({
      model: manifest,
      cacheDir,
      device: 'cpu',
      onTrace: (e) => {
        if (e.kind === 'vision') controller.abort();
      },
    });
    try {
      await expect(r.answer({ images: [overview], question: 'Hi?', maxTokens: 200, signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
      const after = await r.answer({ images: [overview], question: 'Hi?', maxTokens: 2 });
      expect(after.usage.completion).toBeLessThanOrEqual(2);
    } finally {
      await r.dispose();
    }
  });

  it('rejects an empty question and a choose without options', async () => {
    await expect(runner.answer({ images: [overview], question: '  ' })).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
    await expect(runner.choose({ images: [overview], question: 'Which?', options: ['only one'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

/**
 * Reference log-probabilities from one plain forward pass of transformers.js's model over
 * prompt + continuation (no cache): entry t maps a token id to log p(token | ids[0..t]).
 */
async function referenceLogProbs(promptIds: readonly number[], images: readonly PromptImage[], continuation: readonly number[]) {
  const tf = await loadTransformers();
  const model = await tf.LlavaForConditionalGeneration.from_pretrained(runner.dir, { local_files_only: true, device: 'cpu', dtype: 'fp32' });
  const processor = await tf.AutoImageProcessor.from_pretrained(runner.dir, { local_files_only: true });
  try {
    const raws = images.map((im) => {
      const r = im.image as RawImage;
      return new tf.RawImage(r.data, r.width, r.height, 3);
    });
    const { pixel_values } = await processor(raws);
    const ids = [...promptIds, ...continuation];
    const input_ids = new tf.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const attention_mask = new tf.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const out = await model({ input_ids, attention_mask, pixel_values });
    const logits = out.logits;
    const [, seq, vocab] = logits.dims as number[];
    const data = logits.data as Float32Array;
    return Array.from({ length: seq! }, (_, t) => {
      const row = data.subarray(t * vocab!, (t + 1) * vocab!);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      return (id: number) => row[id]! - lse;
    });
  } finally {
    await model.dispose();
  }
}
