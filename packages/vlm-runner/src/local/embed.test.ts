/**
 * The local runner's scoring hooks (embedImages, embedText, answerLogprobs) on two tiny
 * random-weight LLaVAs from the test kit with the same weights, one whose decoder also outputs
 * `last_hidden_state`. Random weights: these tests check shapes, determinism, batching and
 * plumbing only, never that an embedding or an answer means anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptImage, RawImage } from '@semclip/core';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import type { TinyLlavaModel } from '@semclip/test-kit/onnx-llava';
import { createLocalRunner } from './index.js';
import type { LocalRunner, LocalTraceEvent } from './index.js';

function picture(width: number, height: number, seed: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 97 + ((i / 3) | 0) * 7) % 256;
  return { data, width, height, channels: 3 };
}

const tiles = [picture(40, 30, 1), picture(64, 64, 2), picture(30, 50, 3)];

let root: string;
let tiny: TinyLlavaModel;
let plain: LocalRunner;
let hidden: LocalRunner;
const trace: LocalTraceEvent[] = [];

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'semclip-embed-'));
  tiny = await writeTinyLlava(path.join(root, 'plain'), { seed: 5 });
  await writeTinyLlava(path.join(root, 'hidden'), { seed: 5, exposeHiddenStates: true });
  [plain, hidden] = await Promise.all([
    createLocalRunner({ model: path.join(root, 'plain'), device: 'cpu', maxTokens: 4, onTrace: (e) => trace.push(e) }),
    createLocalRunner({ model: path.join(root, 'hidden'), device: 'cpu', maxTokens: 4 }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.dispose(), hidden?.dispose()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

const hiddenSize = () => (tiny.config.text_config as { hidden_size: number }).hidden_size;

describe('embedImages (random weights: shapes, determinism, batching)', () => {
  it('returns one mean-pooled vector per image from one batched vision-encoder run', async () => {
    trace.length = 0;
    const out = await plain.embedImages(tiles);
    expect(out.vectors).toHaveLength(3);
    expect(out.dim).toBe(hiddenSize());
    expect(out.tokensPerImage).toBe(tiny.visualTokensPerImage);
    expect(out.visionRuns).toBe(1);
    for (const v of out.vectors) {
      expect(v).toHaveLength(hiddenSize());
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect(trace).toEqual([{ kind: 'vision', batch: 3, featureTokens: 3 * tiny.visualTokensPerImage }]);
  });

  it('gives each image the same vector alone as in a batch, and the same again next time', async () => {
    const batch = await plain.embedImages(tiles);
    for (const [i, tile] of tiles.entries()) {
      const [alone] = (await plain.embedImages([tile])).vectors;
      for (let k = 0; k < alone!.length; k++) expect(alone![k]).toBeCloseTo(batch.vectors[i]![k]!, 5);
    }
    const again = await plain.embedImages(tiles);
    expect(again.vectors.map((v) => Array.from(v))).toEqual(batch.vectors.map((v) => Array.from(v)));
    // Different pictures, different vectors.
    expect(Array.from(batch.vectors[0]!)).not.toEqual(Array.from(batch.vectors[1]!));
  });

  it('is unchanged by a decoder that also outputs hidden states (same weights)', async () => {
    const [a, b] = await Promise.all([plain.embedImages(tiles), hidden.embedImages(tiles)]);
    expect(b.vectors.map((v) => Array.from(v))).toEqual(a.vectors.map((v) => Array.from(v)));
  });

  it('rejects an empty list and is abortable', async () => {
    await expect(plain.embedImages([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const ctl = new AbortController();
    ctl.abort();
    await expect(plain.embedImages(tiles, { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('embedImages pool: cls (random weights: which tensor is used, checked against the ONNX vision encoder run directly)', () => {
  // A flat colour at the encoder's own 56 px: resizing, cropping and rescaling change nothing,
  // so the pixel values are known exactly and the vision encoder can be run here by hand.
  const flat = (rgb: readonly [number, number, number]): RawImage => {
    const data = new Uint8Array(56 * 56 * 3);
    for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3]!;
    return { data, width: 56, height: 56, channels: 3 };
  };
  const colours = [
    [200, 30, 60],
    [20, 180, 90],
  ] as const;
  const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
  const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

  /** Every output of the vision encoder for the flat images, from onnxruntime-node itself. */
  async function direct(dir: string): Promise<Record<string, { dims: readonly number[]; data: Float32Array }>> {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'vision_encoder.onnx'));
    const plane = 56 * 56;
    const pixels = new Float32Array(colours.length * 3 * plane);
    colours.forEach((rgb, b) => {
      for (let c = 0; c < 3; c++) pixels.fill((rgb[c]! / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!, (b * 3 + c) * plane, (b * 3 + c + 1) * plane);
    });
    const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [colours.length, 3, 56, 56]) });
    await session.release();
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: t.dims, data: t.data as Float32Array }]));
  }
  const row = (t: { dims: readonly number[]; data: Float32Array }, image: number, r: number) => {
    const [, rows, dim] = t.dims.length === 3 ? t.dims : [0, 1, t.dims[1]!];
    return Array.from(t.data.subarray((image * rows! + r) * dim!, (image * rows! + r + 1) * dim!));
  };
  const meanRows = (t: { dims: readonly number[]; data: Float32Array }, image: number) => {
    const [, rows, dim] = t.dims as [number, number, number];
    const sum = new Array<number>(dim).fill(0);
    for (let r = 0; r < rows; r++) row(t, image, r).forEach((x, i) => (sum[i]! += x / rows));
    return sum;
  };
  const close = (got: Float32Array, want: readonly number[]) => {
    expect(got).toHaveLength(want.length);
    got.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 4));
  };

  it('takes the first feature of an export that keeps CLS (vision_feature_select_strategy "full"), and the mean of all of them for mean', async () => {
    const dir = path.join(root, 'cls-first');
    const model = await writeTinyLlava(dir, { seed: 5, exposeCls: 'first-token' });
    const runner = await createLocalRunner({ model: dir, device: 'cpu', maxTokens: 3 });
    try {
      expect(runner.clsSource).toBe('first-token');
      expect(runner.visualTokensPerImage).toBe(model.visualTokensPerImage);
      const want = (await direct(dir)).image_features!;
      expect(want.dims).toEqual([2, model.visualTokensPerImage, hiddenSize()]);
      const images = colours.map(flat);
      const cls = await runner.embedImages(images, { pool: 'cls' });
      const mean = await runner.embedImages(images, { pool: 'mean' });
      expect([cls.pool, cls.tokensPerImage, mean.pool, mean.tokensPerImage]).toEqual(['cls', 1, 'mean', model.visualTokensPerImage]);
      colours.forEach((_, b) => {
        close(cls.vectors[b]!, row(want, b, 0));
        close(mean.vectors[b]!, meanRows(want, b));
        // The planted difference: the CLS token is not the mean of the tokens.
        expect(Math.max(...cls.vectors[b]!.map((x, i) => Math.abs(x - mean.vectors[b]![i]!)))).toBeGreaterThan(1e-3);
      });
      // The kept CLS token is also a visual token of the prompt: answering still lines up.
      await runner.answer({ images: [{ role: 'overview', image: images[0]! }], question: 'What is this?', maxTokens: 2 });
    } finally {
      await runner.dispose();
    }
  });

  it('reads cls_features of an export that outputs it, leaving image_features (and mean) as before', async () => {
    const dir = path.join(root, 'cls-output');
    await writeTinyLlava(dir, { seed: 5, exposeCls: 'output' });
    const runner = await createLocalRunner({ model: dir, device: 'cpu' });
    try {
      expect(runner.clsSource).toBe('cls_features');
      expect(runner.visualTokensPerImage).toBe(tiny.visualTokensPerImage);
      const outputs = await direct(dir);
      expect(outputs.cls_features!.dims).toEqual([2, hiddenSize()]);
      const images = colours.map(flat);
      const cls = await runner.embedImages(images, { pool: 'cls' });
      colours.forEach((_, b) => close(cls.vectors[b]!, row(outputs.cls_features!, b, 0)));
      const mean = await runner.embedImages(images);
      colours.forEach((_, b) => close(mean.vectors[b]!, meanRows(outputs.image_features!, b)));
      // The same weights as the plain model: its mean-pooled vectors are unchanged by the extra output.
      const plainMean = await plain.embedImages(images);
      plainMean.vectors.forEach((v, b) => close(v, Array.from(mean.vectors[b]!)));
    } finally {
      await runner.dispose();
    }
  });

  it('fails clearly on the usual export, whose vision encoder drops CLS', async () => {
    expect(plain.clsSource).toBeUndefined();
    await expect(plain.embedImages(tiles, { pool: 'cls' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_CAPABILITY',
      message: expect.stringContaining('does not give the projected CLS token'),
    });
    await expect(plain.embedImages(tiles, { pool: 'max' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('embedText (random weights: which representation, shapes, determinism)', () => {
  it('uses the mean of the input embeddings when the decoder has no hidden-state output', async () => {
    expect(plain.textRepresentation).toBe('mean-input-embeddings');
    const a = await plain.embedText('What colour is the sign?');
    expect(a.representation).toBe('mean-input-embeddings');
    expect(a.vector).toHaveLength(hiddenSize());
    expect(a.tokens).toBeGreaterThan(1);
    expect(a.vector.every(Number.isFinite)).toBe(true);
    const b = await plain.embedText('What colour is the sign?');
    expect(Array.from(b.vector)).toEqual(Array.from(a.vector));
  });

  it("uses the final layer's last-token hidden state when the decoder outputs last_hidden_state", async () => {
    expect(hidden.textRepresentation).toBe('last-hidden-state');
    const h = await hidden.embedText('What colour is the sign?');
    expect(h.representation).toBe('last-hidden-state');
    expect(h.vector).toHaveLength(hiddenSize());
    expect(h.vector.every(Number.isFinite)).toBe(true);
    // The kit's decoder ends every layer in tanh: a hidden state lies in (-1, 1).
    expect(h.vector.every((x) => Math.abs(x) < 1)).toBe(true);
    const mean = await hidden.embedText('What colour is the sign?', { representation: 'mean-input-embeddings' });
    expect(mean.representation).toBe('mean-input-embeddings');
    expect(Array.from(mean.vector)).toEqual(Array.from((await plain.embedText('What colour is the sign?')).vector));
    expect(Array.from(h.vector)).not.toEqual(Array.from(mean.vector));
    // The last token's state depends on what came before it.
    const other = await hidden.embedText('Where is the dog in the sign?');
    expect(Array.from(other.vector)).not.toEqual(Array.from(h.vector));
  });

  it('fails clearly when hidden states are asked of a decoder without them, or the text is empty', async () => {
    await expect(plain.embedText('q?', { representation: 'last-hidden-state' })).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY' });
    await expect(plain.embedText('q?', { representation: 'pooled' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(plain.embedText('   ')).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
  });

  it('leaves generation working on the decoder with the extra output', async () => {
    const images: PromptImage[] = [{ role: 'overview', image: tiles[1]! }];
    const a = await plain.answer({ images, question: 'What is this?', maxTokens: 3 });
    const b = await hidden.answer({ images, question: 'What is this?', maxTokens: 3 });
    expect(b.text).toBe(a.text);
  });
});

describe('answerLogprobs (random weights: batching and plumbing)', () => {
  const prompts = tiles.map((image) => [{ role: 'overview' as const, image }]);
  const request = { prompts, question: 'Does this image contain the sign? Answer Yes or No.', candidates: ['Yes', ' yes', 'No'] };

  it('scores every candidate after every prompt, batched per forward pass', async () => {
    trace.length = 0;
    const results = await plain.answerLogprobs({ ...request, batchSize: 2 });
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.method).toBe('logits');
      expect(r.logprobs!.map((l) => l.token)).toEqual(['Yes', ' yes', 'No']);
      for (const l of r.logprobs!) {
        expect(Number.isFinite(l.logprob)).toBe(true);
        expect(l.logprob).toBeLessThanOrEqual(0);
      }
      // Distinct token sequences are disjoint answers: their probabilities sum to at most 1.
      expect(r.logprobs!.reduce((s, l) => s + Math.exp(l.logprob), 0)).toBeLessThanOrEqual(1 + 1e-9);
      expect(typeof r.text).toBe('string');
      expect(r.usage.visual).toBe(tiny.visualTokensPerImage);
    }
    // Two forward passes over the prompts: 2 tiles, then 1.
    expect(trace.filter((e) => e.kind === 'vision').map((e) => (e as { batch: number }).batch)).toEqual([2, 1]);
    expect(trace.filter((e) => e.kind === 'prompt' && e.call === 'answerLogprobs')).toHaveLength(3);
  });

  it('gives the same log-probabilities batched as one prompt at a time', async () => {
    const batched = await plain.answerLogprobs({ ...request, batchSize: 3 });
    const single = await plain.answerLogprobs({ ...request, batchSize: 1 });
    batched.forEach((r, i) => {
      r.logprobs!.forEach((l, k) => expect(l.logprob).toBeCloseTo(single[i]!.logprobs![k]!.logprob, 4));
      expect(r.text).toBe(single[i]!.text);
    });
    // Different tiles, different answers' likelihoods.
    expect(batched[0]!.logprobs![0]!.logprob).not.toBeCloseTo(batched[1]!.logprobs![0]!.logprob, 6);
  });

  it('rejects requests without prompts or candidates', async () => {
    await expect(plain.answerLogprobs({ ...request, prompts: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(plain.answerLogprobs({ ...request, candidates: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(plain.answerLogprobs({ ...request, batchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe.each(['idefics3', 'qwen2_vl'] as const)('the hooks on a tiny random-weight %s (shapes, batching, plumbing only)', (family) => {
  let runner: LocalRunner;
  let model: TinyLlavaModel;
  const events: LocalTraceEvent[] = [];

  beforeAll(async () => {
    const dir = path.join(root, family);
    model = await writeTinyLlava(dir, { seed: 6, family });
    // The kit's Qwen2-VL processor allows at most 224 px; imageSide 56 gives 4 tokens per image.
    runner = await createLocalRunner({ model: dir, device: 'cpu', ...(family === 'qwen2_vl' ? { imageSide: 56 } : {}), onTrace: (e) => events.push(e) });
  });
  afterAll(async () => {
    await runner?.dispose();
  });

  it('embeds a batch of images in one vision run, each as it would be alone', async () => {
    events.length = 0;
    const batch = await runner.embedImages(tiles);
    expect(batch.vectors).toHaveLength(3);
    expect(batch.tokensPerImage).toBe(runner.visualTokensPerImage);
    expect(events.filter((e) => e.kind === 'vision')).toHaveLength(1);
    const [alone] = (await runner.embedImages([tiles[2]!])).vectors;
    alone!.forEach((x, k) => expect(x).toBeCloseTo(batch.vectors[2]![k]!, 5));
    expect(Array.from(batch.vectors[0]!)).not.toEqual(Array.from(batch.vectors[1]!));
    const text = await runner.embedText('What colour is the sign?');
    expect(text.representation).toBe('mean-input-embeddings');
    expect(text.vector).toHaveLength(batch.dim);
  });

  it('scores answers the same batched as one prompt at a time', async () => {
    const request = {
      prompts: tiles.map((image) => [{ role: 'overview' as const, image }]),
      question: 'Is there a sign? Answer Yes or No.',
      candidates: ['Yes', 'No'],
    };
    const batched = await runner.answerLogprobs({ ...request, batchSize: 3 });
    const single = await runner.answerLogprobs({ ...request, batchSize: 1 });
    expect(batched).toHaveLength(3);
    batched.forEach((r, i) =>
      r.logprobs!.forEach((l, k) => {
        expect(Number.isFinite(l.logprob)).toBe(true);
        expect(l.logprob).toBeCloseTo(single[i]!.logprobs![k]!.logprob, 4);
      }),
    );
    expect(model.family).toBe(family);
  });
});
