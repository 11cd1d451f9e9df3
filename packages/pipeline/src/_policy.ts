import { SemclipError } from '@semclip/core';
import type { ImagePadding } from '@semclip/core';

/**
 * Model families whose visual-token cost SemClip knows. `fixed` is any model that spends the
 * same number of tokens on every image (its runner's `visualTokensPerImage`).
 */
export const MODEL_FAMILIES = ['llava-1.5', 'llava-next', 'qwen2-vl', 'internvl', 'fixed'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** How a model family sees images: what one image of a given size costs in visual tokens. */
export interface ImagePolicy {
  readonly family: ModelFamily;
  /** Visual tokens the model spends on one image of `width` x `height` pixels (as sent). */
  tokensFor(width: number, height: number): number;
  /** One line for people and reports, e.g. `llava-next (anyres 336 px, up to 2x2 + base)`. */
  readonly description: string;
  /**
   * How images are shaped before they are sent (see `paddingFor`): `pad-square` for LLaVA-1.5,
   * `none` for the dynamic-resolution families. Absent (a hand-made policy): none.
   */
  readonly padding?: ImagePadding;
}

/**
 * `--pad`: `auto` pads as the model family's own evaluation does (see `paddingFor`), `square`
 * always pads to a square of the mean colour, `none` never pads.
 */
export const PADDING_CHOICES = ['auto', 'square', 'none'] as const;
export type PaddingChoice = (typeof PADDING_CHOICES)[number];

/**
 * CLIP's image-processor mean as LLaVA-1.5 fills its padding:
 * `tuple(int(x * 255) for x in image_processor.image_mean)` = (122, 116, 104).
 */
export const CLIP_MEAN_COLOUR: readonly [number, number, number] = [Math.trunc(0.48145466 * 255), Math.trunc(0.4578275 * 255), Math.trunc(0.40821073 * 255)];

/** Options that choose or override the policy. */
export interface ImagePolicyOptions {
  /** The family, when the model id does not say it (or says it wrong). */
  readonly family?: ModelFamily;
  /** `fixed`: tokens per image (default 576, LLaVA-1.5's 24x24 patches). */
  readonly tokensPerImage?: number;
  /** `qwen2-vl`: the image processor's pixel bounds (defaults 56*56 and 28*28*1280, as Qwen2-VL ships). */
  readonly minPixels?: number;
  readonly maxPixels?: number;
  /** `internvl`: the most 448-px tiles per image (default 12, InternVL2.5's `max_num`). */
  readonly maxTiles?: number;
  /** Padding of the images sent: `auto` (default: by family, see `paddingFor`), `square` or `none`. */
  readonly padding?: PaddingChoice;
  /** The colour `square` padding fills with, RGB 0-255. Default `CLIP_MEAN_COLOUR` (122, 116, 104). */
  readonly padColour?: readonly [number, number, number];
}

const LLAVA_TOKENS = 576;

/** Python's round(): halves go to the even neighbour (Qwen's smart_resize relies on it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkSize(width: number, height: number): void {
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
    throw new SemclipError('INVALID_ARGUMENT', `Image size ${String(width)}x${String(height)} is not a positive size in pixels.`, {
      expected: 'a width and height of at least 1 pixel',
    });
  }
}

/** The same count for any valid size. */
function fixedTokens(n: number): (width: number, height: number) => number {
  return (width, height) => {
    checkSize(width, height);
    return n;
  };
}

/** LLaVA-NeXT (v1.6) anyres: `select_best_resolution` over the grid pinpoints, as transformers does. */
const LLAVA_NEXT_PINPOINTS: readonly (readonly [number, number])[] = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
];

function selectBestResolution(height: number, width: number, pinpoints: readonly (readonly [number, number])[]): readonly [number, number] {
  let best: readonly [number, number] = pinpoints[0] as readonly [number, number];
  let maxEffective = 0;
  let minWasted = Number.POSITIVE_INFINITY;
  for (const [h, w] of pinpoints) {
    const scale = Math.min(w / width, h / height);
    const effective = Math.min(Math.trunc(width * scale) * Math.trunc(height * scale), width * height);
    const wasted = w * h - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = [h, w];
    }
  }
  return best;
}

/**
 * LLaVA-NeXT's token count for one image: 576 base tokens (the 336-px overview) plus the
 * unpadded features of the best anyres grid and one newline token per feature row
 * (`LlavaNextProcessor._get_number_of_features` in transformers).
 */
export function llavaNextTokens(width: number, height: number): number {
  checkSize(width, height);
  const [bestH, bestW] = selectBestResolution(height, width, LLAVA_NEXT_PINPOINTS);
  const patches = 24; // 336 / 14
  let currentH = patches * Math.floor(bestH / 336);
  let currentW = patches * Math.floor(bestW / 336);
  if (width / height > currentW / currentH) {
    const newH = Math.round(height * (currentW / width) * 1e7) / 1e7;
    const padding = Math.floor((currentH - Math.trunc(newH)) / 2);
    currentH -= padding * 2;
  } else {
    const newW = Math.round(width * (currentH / height) * 1e7) / 1e7;
    const padding = Math.floor((currentW - Math.trunc(newW)) / 2);
    currentW -= padding * 2;
  }
  return currentH * currentW + currentH + patches * patches;
}

/**
 * Qwen2-VL / Qwen2.5-VL: the image is resized to multiples of 28 within the pixel bounds
 * (`smart_resize`), and every 28x28 block is one token after the 2x2 patch merge.
 */
export function qwen2vlTokens(width: number, height: number, minPixels = 56 * 56, maxPixels = 28 * 28 * 1280): number {
  checkSize(width, height);
  if (Math.max(width, height) / Math.min(width, height) > 200) {
    throw new SemclipError('INVALID_ARGUMENT', `A ${width}x${height} image is too elongated for Qwen2-VL (aspect ratio over 200).`, {
      expected: 'an image whose long side is at most 200 times its short side',
    });
  }
  const factor = 28;
  let h = roundHalfEven(height / factor) * factor;
  let w = roundHalfEven(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  h = Math.max(h, factor);
  w = Math.max(w, factor);
  return (h / factor) * (w / factor);
}

/**
 * InternVL (2 / 2.5): `dynamic_preprocess` cuts the image into the 448-px tile grid whose
 * aspect ratio is closest to the image's (at most `maxTiles` tiles), plus a thumbnail when
 * there is more than one tile; every tile costs 256 tokens.
 */
export function internvlTokens(width: number, height: number, maxTiles = 12): number {
  checkSize(width, height);
  const ratios: Array<readonly [number, number]> = [];
  for (let i = 1; i <= maxTiles; i++) for (let j = 1; j <= maxTiles; j++) if (i * j <= maxTiles) ratios.push([i, j]);
  // Python sorts a set by i*j; among equal products the order only matters on exact ties.
  ratios.sort((a, b) => a[0] * a[1] - b[0] * b[1] || a[0] - b[0]);
  const aspect = width / height;
  const area = width * height;
  let best: readonly [number, number] = [1, 1];
  let bestDiff = Number.POSITIVE_INFINITY;
  for (const r of ratios) {
    const diff = Math.abs(aspect - r[0] / r[1]);
    if (diff < bestDiff) {
      bestDiff = diff;
      best = r;
    } else if (diff === bestDiff && area > 0.5 * 448 * 448 * r[0] * r[1]) {
      best = r;
    }
  }
  const blocks = best[0] * best[1];
  return 256 * (blocks + (blocks > 1 ? 1 : 0));
}

/**
 * The family a model id names, from the id alone: `llava-hf/llava-1.5-7b-hf` is `llava-1.5`,
 * `llava-hf/llava-v1.6-mistral-7b-hf` is `llava-next`, `Qwen/Qwen2.5-VL-7B-Instruct` is
 * `qwen2-vl`, `OpenGVLab/InternVL2_5-8B` is `internvl`; `undefined` when it says none.
 *
 * @example
 * ```ts
 * familyOf('llava-hf/llava-v1.6-34b-hf'); // 'llava-next'
 * familyOf('my-model'); // undefined
 * ```
 */
export function familyOf(modelId: string): ModelFamily | undefined {
  const id = modelId.toLowerCase();
  if (/llava[-_]?(v1\.6|next)|llava-1\.6/.test(id)) return 'llava-next';
  if (/llava[-_]?(v)?1\.5|llava-1\.5/.test(id)) return 'llava-1.5';
  if (/qwen2(\.5)?[-_]?vl/.test(id)) return 'qwen2-vl';
  if (/internvl/.test(id)) return 'internvl';
  return undefined;
}

/**
 * How a family's images are shaped before they are sent, for `padding: 'auto'`:
 *
 * - `llava-1.5`: `pad-square` with the processor mean (122, 116, 104). LLaVA-1.5's own
 *   evaluation (`image_aspect_ratio: pad`) runs `expand2square` before the CLIP processor;
 *   servers built on Hugging Face's `LlavaProcessor` resize the short side and centre-crop
 *   instead, so the sides of a wide tile or overview never reach the model.
 * - `llava-next`: `none`. Its evaluation uses `image_aspect_ratio: anyres`: `process_anyres_image`
 *   picks the best grid resolution and pads to it itself (`resize_and_pad_image`), and the
 *   base image is resized whole; Hugging Face's `LlavaNextImageProcessor` does the same. A
 *   square-padded image would only move the grid choice to a square one.
 * - `qwen2-vl`, `internvl`: `none` (dynamic resolution: every aspect ratio is seen whole).
 * - `fixed` (unknown models): `none`.
 *
 * @example
 * ```ts
 * paddingFor('llava-1.5'); // { mode: 'pad-square', colour: [122, 116, 104] }
 * paddingFor('qwen2-vl'); // { mode: 'none' }
 * paddingFor('qwen2-vl', 'square'); // { mode: 'pad-square', colour: [122, 116, 104] }
 * ```
 */
export function paddingFor(family: ModelFamily, choice: PaddingChoice = 'auto', colour: readonly [number, number, number] = CLIP_MEAN_COLOUR): ImagePadding {
  if (!(PADDING_CHOICES as readonly string[]).includes(choice)) {
    throw new SemclipError('INVALID_ARGUMENT', `Padding "${String(choice)}" is not known.`, {
      expected: `one of ${PADDING_CHOICES.join(', ')}`,
      details: { option: 'padding', valid: [...PADDING_CHOICES] },
    });
  }
  if (!Array.isArray(colour) || colour.length !== 3 || colour.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
    throw new SemclipError('INVALID_ARGUMENT', `Pad colour ${JSON.stringify(colour)} is not a colour.`, {
      expected: '[r, g, b], integers 0-255, e.g. [122, 116, 104]',
      details: { option: 'padColour' },
    });
  }
  const pad = choice === 'square' || (choice === 'auto' && family === 'llava-1.5');
  return pad ? { mode: 'pad-square', colour: [colour[0], colour[1], colour[2]] } : { mode: 'none' };
}

/**
 * One word for reports and headers: `pad-square(122,116,104)` or `none`.
 *
 * @example
 * ```ts
 * describePadding({ mode: 'pad-square', colour: [122, 116, 104] }); // 'pad-square(122,116,104)'
 * ```
 */
export function describePadding(padding: ImagePadding | undefined): string {
  return padding?.mode === 'pad-square' ? `pad-square(${padding.colour.join(',')})` : 'none';
}

/**
 * The size an image of `width` x `height` is sent at under `padding`: a square of its long
 * side for `pad-square`, else unchanged.
 *
 * @example
 * ```ts
 * paddedSize(1024, 768, { mode: 'pad-square', colour: [122, 116, 104] }); // { width: 1024, height: 1024 }
 * ```
 */
export function paddedSize(width: number, height: number, padding: ImagePadding | undefined): { width: number; height: number } {
  if (padding?.mode !== 'pad-square') return { width, height };
  const side = Math.max(width, height);
  return { width: side, height: side };
}

/**
 * The image policy for a model: `options.family` if given, else the family its id names,
 * else `fixed` at `options.tokensPerImage` (the runner's own count) or 576; its `padding` is
 * the family's (`paddingFor`) unless `options.padding` says `square` or `none`.
 *
 * @example
 * ```ts
 * imagePolicyFor('llava-hf/llava-1.5-7b-hf').padding; // { mode: 'pad-square', colour: [122, 116, 104] }
 * imagePolicyFor('Qwen/Qwen2-VL-7B-Instruct').tokensFor(1024, 683); // 888 (37 x 24 blocks of 28 px)
 * imagePolicyFor('llava-hf/llava-1.5-7b-hf').tokensFor(4000, 3000); // 576
 * imagePolicyFor('anything', { family: 'fixed', tokensPerImage: 729 }).tokensFor(384, 384); // 729
 * ```
 */
export function imagePolicyFor(modelId: string | undefined, options: ImagePolicyOptions = {}): ImagePolicy {
  if (options.family !== undefined && !(MODEL_FAMILIES as readonly string[]).includes(options.family)) {
    throw new SemclipError('INVALID_ARGUMENT', `Model family "${String(options.family)}" is not known.`, {
      expected: `one of ${MODEL_FAMILIES.join(', ')}`,
      details: { option: 'family', valid: [...MODEL_FAMILIES] },
    });
  }
  const family = options.family ?? (modelId === undefined ? undefined : familyOf(modelId)) ?? 'fixed';
  const padding = paddingFor(family, options.padding ?? 'auto', options.padColour ?? CLIP_MEAN_COLOUR);
  return { ...tokenPolicy(family, options), padding };
}

function tokenPolicy(family: ModelFamily, options: ImagePolicyOptions): Omit<ImagePolicy, 'padding'> {
  switch (family) {
    case 'llava-1.5':
      return { family, description: 'llava-1.5 (576 tokens per image, 336 px)', tokensFor: fixedTokens(LLAVA_TOKENS) };
    case 'llava-next':
      return { family, description: 'llava-next (anyres 336-px grid + 576 base tokens)', tokensFor: llavaNextTokens };
    case 'qwen2-vl': {
      const min = options.minPixels ?? 56 * 56;
      const max = options.maxPixels ?? 28 * 28 * 1280;
      return { family, description: `qwen2-vl (smart resize to 28-px blocks, ${min}..${max} pixels)`, tokensFor: (w, h) => qwen2vlTokens(w, h, min, max) };
    }
    case 'internvl': {
      const maxTiles = options.maxTiles ?? 12;
      return {
        family,
        description: `internvl (448-px tiles, at most ${maxTiles}, + thumbnail; 256 tokens each)`,
        tokensFor: (w, h) => internvlTokens(w, h, maxTiles),
      };
    }
    case 'fixed': {
      const n = options.tokensPerImage ?? LLAVA_TOKENS;
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new SemclipError('INVALID_ARGUMENT', `Tokens per image ${String(n)} is not a positive integer.`, {
          expected: 'an integer of at least 1, like 576',
        });
      }
      return { family, description: `fixed (${n} tokens per image)`, tokensFor: fixedTokens(n) };
    }
  }
}
