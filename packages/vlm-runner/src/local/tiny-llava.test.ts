/**
 * The test kit's tiny random-weight LLaVA (tests/kit onnx-llava.ts) is a faithful stand-in
 * for a real transformers.js export: same files, same session names and tensor names, a KV
 * cache that behaves like a real decoder's. Random weights: shapes and plumbing only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyLlava, writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import type { TinyLlavaModel } from '@semclip/test-kit/onnx-llava';
import { loadTransformers } from '../backends/onnx.js';
import type { Any } from './_families.js';

let dir: string;
let tiny: TinyLlavaModel;
let tf: Any;
let model: Any;
let inputs: Record<string, Any>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-tiny-llava-'));
  tiny = await writeTinyLlava(dir, { seed: 11 });
  tf = await loadTransformers();
  model = await tf.LlavaForConditionalGeneration.from_pretrained(dir, { local_files_only: true, device: 'cpu', dtype: 'fp32' });
  const tokenizer = await tf.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const images = await tf.AutoImageProcessor.from_pretrained(dir, { local_files_only: true });
  const text: string = tokenizer.apply_chat_template(
    [{ role: 'user', content: [{ type: 'image' }, { type: 'image' }, { type: 'text', text: 'What is in the top-left region?' }] }],
    { tokenize: false, add_generation_prompt: true },
  );
  const expanded = text.split('<image>').join('<image>'.repeat(tiny.visualTokensPerImage));
  const pixels = (seed: number) =>
    new tf.RawImage(
      Uint8ClampedArray.from({ length: 70 * 50 * 3 }, (_, i) => (i * 13 + seed * 71) % 256),
      70,
      50,
      3,
    );
  const { pixel_values } = await images([pixels(1), pixels(2)]);
  inputs = { ...tokenizer(expanded), pixel_values };
});

afterAll(async () => {
  await model?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tiny random-weight LLaVA fixture', () => {
  it('is byte-identical for the same seed and differs for another', () => {
    const a = buildTinyLlava({ seed: 3 });
    const b = buildTinyLlava({ seed: 3 });
    const c = buildTinyLlava({ seed: 4 });
    for (const file of Object.keys(a.files)) expect(Buffer.from(b.files[file]!).equals(Buffer.from(a.files[file]!))).toBe(true);
    expect(Buffer.from(c.files['onnx/decoder_model_merged.onnx']!).equals(Buffer.from(a.files['onnx/decoder_model_merged.onnx']!))).toBe(false);
  });

  it('has the session, input and output names transformers.js uses for LlavaForConditionalGeneration', () => {
    expect(Object.keys(model.sessions).sort()).toEqual(['decoder_model_merged', 'embed_tokens', 'vision_encoder']);
    expect(model.sessions.vision_encoder.inputNames).toEqual(['pixel_values']);
    expect(model.sessions.vision_encoder.outputNames).toEqual(['image_features']);
    expect(model.sessions.embed_tokens.inputNames).toEqual(['input_ids']);
    expect(model.sessions.embed_tokens.outputNames).toEqual(['inputs_embeds']);
    const layers = Array.from({ length: tiny.numLayers }, (_, l) => [`${l}.key`, `${l}.value`]).flat();
    expect(model.sessions.decoder_model_merged.inputNames).toEqual([
      'inputs_embeds',
      'attention_mask',
      'position_ids',
      ...layers.map((n) => `past_key_values.${n}`),
    ]);
    expect(model.sessions.decoder_model_merged.outputNames).toEqual(['logits', ...layers.map((n) => `present.${n}`)]);
  });

  it('returns one row of image features per visual token of every image', async () => {
    const features = await model.encode_image({ pixel_values: inputs.pixel_values });
    expect(features.dims).toEqual([2, tiny.visualTokensPerImage, tiny.config.text_config && (tiny.config.text_config as { hidden_size: number }).hidden_size]);
  });

  it('generates the same tokens with the KV cache (generate) as without it (full re-run per step)', async () => {
    const steps = 8;
    // Random weights may well pick the <image> placeholder itself; a re-run would then try to
    // merge features into it, so both paths leave that one token out.
    const cached = await model.generate({ ...inputs, max_new_tokens: steps, do_sample: false, suppress_tokens: [tiny.imageTokenId] });
    const promptLength: number = inputs.input_ids.dims[1];
    const withCache = Array.from(cached.data as BigInt64Array, Number).slice(promptLength);

    const ids = Array.from(inputs.input_ids.data as BigInt64Array, Number);
    const withoutCache: number[] = [];
    for (let step = 0; step < steps; step++) {
      const input_ids = new tf.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
      const attention_mask = new tf.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
      const out = await model({ input_ids, attention_mask, pixel_values: inputs.pixel_values });
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
  });

  it('keeps the KV cache shape [batch, kv_heads, past + new, head_dim]', async () => {
    const out = await model({ ...inputs });
    const total: number = inputs.input_ids.dims[1];
    for (let l = 0; l < tiny.numLayers; l++) {
      expect(out[`present.${l}.key`].dims).toEqual([1, tiny.numHeads, total, tiny.headDim]);
      expect(out[`present.${l}.value`].dims).toEqual([1, tiny.numHeads, total, tiny.headDim]);
    }
    expect(out.logits.dims).toEqual([1, total, tiny.vocabSize]);
  });
});
