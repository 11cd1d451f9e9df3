import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import { parseManifest } from '@semclip/hub';
import { familyOf } from './_families.js';
import type { FamilyContext } from './_families.js';
import { pickDtypes } from './_files.js';

// The config.json fields that matter, as the published llava-hf / HuggingFaceTB repositories have them.
const LLAVA_15 = {
  model_type: 'llava',
  image_token_index: 32000,
  vision_feature_select_strategy: 'default',
  text_config: { model_type: 'llama' },
  vision_config: { model_type: 'clip_vision_model', image_size: 336, patch_size: 14 },
};
const LLAVA_INTERLEAVE = {
  model_type: 'llava',
  image_token_index: 151646,
  vision_feature_select_strategy: 'full',
  text_config: { model_type: 'qwen2' },
  vision_config: { model_type: 'siglip_vision_model', image_size: 384, patch_size: 14 },
};

const ctx = (config: Record<string, unknown>, processorConfig: Record<string, unknown> = {}): FamilyContext => ({
  tf: {},
  config,
  tokenizer: {},
  processor: { config: processorConfig, image_processor: { config: { patch_size: 14, merge_size: 2 } } },
  imageSide: 448,
});

describe('model families', () => {
  it.each([
    ['LLaVA-1.5 (CLIP 336/14, CLS dropped)', LLAVA_15, 576, false],
    ['LLaVA-1.5 with the "full" strategy keeps CLS', { ...LLAVA_15, vision_feature_select_strategy: 'full' }, 577, false],
    ['LLaVA-Interleave (SigLIP 384/14, no CLS)', LLAVA_INTERLEAVE, 729, true],
    ['an explicit image_seq_length wins', { ...LLAVA_15, image_seq_length: 576 }, 576, false],
  ])('%s: %i visual tokens per image, multiImage %s', (_name, config, tokens, multi) => {
    const family = familyOf(config, 'test');
    expect(family.name).toBe('llava');
    expect(family.modelClass).toBe('LlavaForConditionalGeneration');
    expect(family.tokensPerImage(ctx(config))).toBe(tokens);
    expect(family.multiImage(config)).toBe(multi);
  });

  it('maps SmolVLM to the Idefics3 layout with its own class and 64 tokens per image', () => {
    const family = familyOf({ model_type: 'smolvlm', image_token_id: 49190 }, 'test');
    expect(family.name).toBe('idefics3');
    expect(family.modelClass).toBe('SmolVLMForConditionalGeneration');
    expect(family.tokensPerImage(ctx({}, { image_seq_len: 64 }))).toBe(64);
    expect(familyOf({ model_type: 'idefics3' }, 'test').modelClass).toBe('Idefics3ForConditionalGeneration');
  });

  it('sizes Qwen2-VL images to a square of imageSide: 448 px is 16 x 16 merged patches', () => {
    const family = familyOf({ model_type: 'qwen2_vl', image_token_id: 151655 }, 'test');
    expect(family.tokensPerImage(ctx({}))).toBe(256);
    expect(family.cacheContinuation).toBe(false);
  });

  it('leaves LLaVA-OneVision to the vision encoder (no anyres processor in transformers.js)', () => {
    const family = familyOf({ model_type: 'llava_onevision' }, 'test');
    expect(family.tokensPerImage(ctx({}))).toBeUndefined();
    expect(family.multiImage({})).toBe(true);
  });

  it('refuses a model type it cannot drive, listing the supported ones', () => {
    let err: unknown;
    try {
      familyOf({ model_type: 'paligemma' }, '/models/x');
    } catch (e) {
      err = e;
    }
    expect(isSemclipError(err, 'MODEL_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/paligemma/);
    expect((err as { expected?: string }).expected).toMatch(/llava, llava_onevision, idefics3, smolvlm, qwen2_vl/);
  });
});

describe('bundled local-model manifests', () => {
  const modelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../models');
  const files = readdirSync(modelsDir).filter((f) => /^(llava|smolvlm)-.*\.json$/.test(f));

  it('exist', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s lists one loadable weight variant for each session, with float32 activations throughout', (file) => {
    const manifest = parseManifest(JSON.parse(readFileSync(path.join(modelsDir, file), 'utf8')), file);
    expect(manifest.task).toBe('image-text-to-text');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-manifest-'));
    try {
      mkdirSync(path.join(dir, 'onnx'));
      for (const f of manifest.files) if (f.path.startsWith('onnx/')) writeFileSync(path.join(dir, f.path), '');
      const dtypes = pickDtypes(dir, ['vision_encoder', 'embed_tokens', 'decoder_model_merged'], undefined, manifest.defaultDtype as never, manifest.id, '');
      // The CPU provider lacks many float16 kernels: bundled defaults stay float32 in and out.
      for (const d of Object.values(dtypes)) expect(['fp32', 'q8', 'int8', 'uint8', 'q4', 'bnb4']).toContain(d);
      for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']) {
        expect(manifest.files.map((f) => f.path)).toContain(name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
