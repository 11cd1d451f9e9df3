import { describe, expect, it } from 'vitest';
import { CLIP_MEAN_COLOUR, describePadding, familyOf, imagePolicyFor, internvlTokens, llavaNextTokens, paddingFor, qwen2vlTokens } from './_policy.js';

// Expected values printed by the reference code on the same sizes (transformers 5.18:
// LlavaNextProcessor._get_number_of_features with llava-v1.6 pinpoints, Qwen2-VL smart_resize with
// the processor's 56*56..28*28*1280 bounds; InternVL's dynamic_preprocess from its model card,
// max_num 12 with thumbnail). The script is in packages/pipeline/README.md, "Visual tokens".
describe('token formulas match the reference implementations', () => {
  it.each([
    [336, 336, 1176],
    [672, 672, 2928],
    [1024, 683, 2144],
    [4000, 3000, 2340],
    [600, 400, 2144],
    [3000, 1000, 2328],
    [1000, 3000, 2376],
    [200, 800, 1944],
    [1800, 1200, 2144],
    [5650, 3767, 2144],
  ])('llava-next %ix%i -> %i', (w, h, tokens) => {
    expect(llavaNextTokens(w, h)).toBe(tokens);
  });

  it.each([
    [336, 336, 144],
    [1024, 683, 888],
    [600, 400, 294],
    [4000, 3000, 1230],
    [28, 28, 4],
    [10, 1000, 20],
    [1344, 1008, 1230],
    [50, 50, 4],
  ])('qwen2-vl %ix%i -> %i', (w, h, tokens) => {
    expect(qwen2vlTokens(w, h)).toBe(tokens);
  });

  it.each([
    [448, 448, 256],
    [896, 448, 768],
    [1024, 683, 1792],
    [4000, 3000, 3328],
    [300, 1200, 1280],
    [1000, 1000, 2560],
    [2000, 1000, 2304],
  ])('internvl %ix%i -> %i', (w, h, tokens) => {
    expect(internvlTokens(w, h)).toBe(tokens);
  });
});

describe('imagePolicyFor', () => {
  it.each([
    ['llava-hf/llava-1.5-7b-hf', 'llava-1.5'],
    ['liuhaotian/llava-v1.5-13b', 'llava-1.5'],
    ['llava-hf/llava-v1.6-mistral-7b-hf', 'llava-next'],
    ['llava-hf/llava-next-72b-hf', 'llava-next'],
    ['Qwen/Qwen2.5-VL-7B-Instruct', 'qwen2-vl'],
    ['Qwen/Qwen2-VL-2B-Instruct', 'qwen2-vl'],
    ['OpenGVLab/InternVL2_5-8B', 'internvl'],
    ['fake-vlm', undefined],
  ])('reads the family of %s', (id, family) => {
    expect(familyOf(id)).toBe(family);
  });

  it('uses the fixed count of the runner when the id names no family', () => {
    const p = imagePolicyFor('fake-vlm', { tokensPerImage: 729 });
    expect(p.family).toBe('fixed');
    expect(p.tokensFor(5000, 10)).toBe(729);
  });

  it('lets the caller override the family', () => {
    expect(imagePolicyFor('llava-hf/llava-1.5-7b-hf', { family: 'qwen2-vl' }).tokensFor(336, 336)).toBe(144);
  });

  it('rejects an unknown family and a 0x0 image', () => {
    expect(() => imagePolicyFor('x', { family: 'gpt' as never })).toThrow(/not known/);
    expect(() => imagePolicyFor('llava-hf/llava-1.5-7b-hf').tokensFor(0, 0)).toThrow(/not a positive size/);
  });
});

describe('padding per family', () => {
  it('fills with the CLIP processor mean as LLaVA computes it: int(x * 255) of image_mean', () => {
    expect(CLIP_MEAN_COLOUR).toEqual([122, 116, 104]);
  });

  it.each([
    ['llava-hf/llava-1.5-7b-hf', 'pad-square(122,116,104)'],
    ['liuhaotian/llava-v1.5-13b', 'pad-square(122,116,104)'],
    ['llava-hf/llava-v1.6-mistral-7b-hf', 'none'],
    ['llava-hf/llava-onevision-qwen2-7b-ov-hf', 'none'],
    ['Qwen/Qwen2-VL-7B-Instruct', 'none'],
    ['OpenGVLab/InternVL2_5-8B', 'none'],
    ['fake-vlm', 'none'],
  ])('auto pads %s as its own evaluation does: %s', (id, want) => {
    expect(describePadding(imagePolicyFor(id).padding)).toBe(want);
  });

  it('lets square or none override the family, with an optional colour', () => {
    expect(imagePolicyFor('Qwen/Qwen2-VL-7B-Instruct', { padding: 'square' }).padding).toEqual({ mode: 'pad-square', colour: [122, 116, 104] });
    expect(imagePolicyFor('llava-hf/llava-1.5-7b-hf', { padding: 'none' }).padding).toEqual({ mode: 'none' });
    expect(paddingFor('fixed', 'square', [0, 0, 0])).toEqual({ mode: 'pad-square', colour: [0, 0, 0] });
  });

  it('rejects an unknown padding and a colour out of range', () => {
    expect(() => paddingFor('llava-1.5', 'crop' as never)).toThrow(/Padding "crop" is not known/);
    expect(() => paddingFor('llava-1.5', 'square', [0, 0, 256])).toThrow(/not a colour/);
  });
});
