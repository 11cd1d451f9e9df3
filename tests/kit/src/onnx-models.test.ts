import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { clipTokenizer, makeTinyClip, makeTinySiglip, PROBE_COLOURS } from './onnx-models.js';

// Random weights: these tests check that the generated files load in ONNX Runtime with the
// inputs/outputs transformers.js expects, and that generation is deterministic. Not quality.

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

function ids(rows: number[][]): ort.Tensor {
  const len = rows[0]!.length;
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, len]);
}

describe('makeTinyClip', () => {
  it('writes the transformers.js CLIP layout', () => {
    const { files } = makeTinyClip();
    expect(Object.keys(files).sort()).toEqual([
      'config.json',
      'onnx/text_model.onnx',
      'onnx/vision_model.onnx',
      'preprocessor_config.json',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  it('is byte-identical for the same seed and differs for another', () => {
    const a = makeTinyClip({ seed: 3 }).files['onnx/vision_model.onnx']!;
    const b = makeTinyClip({ seed: 3 }).files['onnx/vision_model.onnx']!;
    const c = makeTinyClip({ seed: 4 }).files['onnx/vision_model.onnx']!;
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, c)).not.toBe(0);
  });

  it('has towers with the exported input and output names and shapes', async () => {
    const { files } = makeTinyClip({ dim: 12, imageSize: 32 });
    const text = await session(files['onnx/text_model.onnx']!);
    expect(text.inputNames).toEqual(['input_ids']);
    expect(text.outputNames).toEqual(['text_embeds', 'last_hidden_state']);
    const out = await text.run({
      input_ids: ids([
        [49406, 320, 1125, 49407],
        [49406, 736, 49407, 49407],
      ]),
    });
    expect(out.text_embeds!.dims).toEqual([2, 12]);
    const vision = await session(files['onnx/vision_model.onnx']!);
    expect(vision.inputNames).toEqual(['pixel_values']);
    const px = new ort.Tensor('float32', new Float32Array(3 * 3 * 32 * 32).fill(0.1), [3, 3, 32, 32]);
    const v = await vision.run({ pixel_values: px });
    expect(v.image_embeds!.dims).toEqual([3, 12]);
    expect([...(v.image_embeds!.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  it('pools CLIP text at the first end-of-text token, so trailing padding changes nothing (causal attention)', async () => {
    const text = await session(makeTinyClip().files['onnx/text_model.onnx']!);
    const short = await text.run({ input_ids: ids([[49406, 736, 49407]]) });
    const padded = await text.run({ input_ids: ids([[49406, 736, 49407, 49407, 49407]]) });
    const a = short.text_embeds!.data as Float32Array;
    const b = padded.text_embeds!.data as Float32Array;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
  });

  it('can declare attention_mask like other exports', async () => {
    const text = await session(makeTinyClip({ textAttentionMask: true }).files['onnx/text_model.onnx']!);
    expect(text.inputNames).toEqual(['input_ids', 'attention_mask']);
  });

  it('emits NaN on request', async () => {
    const vision = await session(makeTinyClip({ nan: 'vision' }).files['onnx/vision_model.onnx']!);
    const px = new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
    const out = await vision.run({ pixel_values: px });
    expect(Number.isNaN((out.image_embeds!.data as Float32Array)[0])).toBe(true);
  });

  it('builds a probe whose red image embedding equals the embedding of "red"', async () => {
    const { files, preprocessor } = makeTinyClip({ probe: true, dim: 4 });
    const mean = preprocessor.image_mean as number[];
    const std = preprocessor.image_std as number[];
    const vision = await session(files['onnx/vision_model.onnx']!);
    const px = new Float32Array(3 * 32 * 32);
    PROBE_COLOURS.red!.forEach((c, ch) => px.fill((c / 255 - mean[ch]!) / std[ch]!, ch * 1024, (ch + 1) * 1024));
    const img = (await vision.run({ pixel_values: new ort.Tensor('float32', px, [1, 3, 32, 32]) })).image_embeds!.data as Float32Array;
    const text = await session(files['onnx/text_model.onnx']!);
    // "red" is 736 in the real CLIP tokenizer; the generated one (no ../shared) has its own id.
    const red = clipTokenizer().idOf('red')!;
    const txt = (await text.run({ input_ids: ids([[49406, red, 49407]]) })).text_embeds!.data as Float32Array;
    // mean over 3 tokens of which only "red" is non-zero: a third of the colour vector
    for (let i = 0; i < 4; i++) expect(txt[i]! * 3).toBeCloseTo(img[i]!, 4);
  });

  it('builds a ViT-B/32-sized vision tower on request', () => {
    const vision = makeTinyClip({ size: 'vit-b-32', text: { layers: 1, width: 32, heads: 2 } }).files['onnx/vision_model.onnx']!;
    // 12 layers x (4*768^2 + 2*768*3072) weights + patch embedding, float32
    expect(vision.byteLength).toBeGreaterThan(85e6 * 4);
  }, 120_000);
});

describe('makeTinySiglip', () => {
  it('has towers that output pooler_output over 64-token inputs', async () => {
    const { files } = makeTinySiglip({ dim: 8, imageSize: 32 });
    const text = await session(files['onnx/text_model.onnx']!);
    expect(text.inputNames).toEqual(['input_ids']);
    expect(text.outputNames).toContain('pooler_output');
    const row = Array.from({ length: 64 }, (_, i) => (i < 3 ? 10 + i : 1));
    const out = await text.run({ input_ids: ids([row]) });
    expect(out.pooler_output!.dims).toEqual([1, 8]);
    const vision = await session(files['onnx/vision_model.onnx']!);
    const px = new ort.Tensor('float32', new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]);
    expect((await vision.run({ pixel_values: px })).pooler_output!.dims).toEqual([2, 8]);
  });
});
