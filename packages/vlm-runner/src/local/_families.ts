/**
 * What differs between the vision-language model families transformers.js 4.3.2 can run:
 * which class loads them, how their processor is called, how many visual tokens one image
 * costs, and whether they were trained on several images per prompt. Everything else (the
 * chat template, tokenizer, image processors, the merge of image features into the text
 * embeddings, the generation loop) is transformers.js's.
 */
import { SemclipError } from '@semclip/core';
import type { RgbPixels } from './_pixels.js';

export type FamilyName = 'llava' | 'llava_onevision' | 'idefics3' | 'qwen2_vl';

/** Loosely typed handles on transformers.js objects (its own .d.ts types are JSDoc-derived and loose). */
// biome-ignore lint/suspicious/noExplicitAny: one alias for transformers.js objects, whose JSDoc-derived types do not describe what the families call
export type Any = any;

export interface FamilyContext {
  readonly tf: Any;
  readonly config: Record<string, Any>;
  readonly tokenizer: Any;
  /** The image processor (LLaVA families) or the full processor (the others). */
  readonly processor: Any;
  readonly imageSide: number;
}

export interface Family {
  readonly name: FamilyName;
  /** transformers.js class that loads the ONNX sessions. */
  readonly modelClass: string;
  /** Loads `processor` for this family: the full multimodal processor, or only the image processor. */
  readonly processorClass: 'AutoProcessor' | 'AutoImageProcessor';
  /**
   * Whether `choose` may score multi-token answers by continuing from the prompt's KV cache.
   * Qwen2-VL's multimodal rotary positions need the whole sequence, so it re-runs the prompt.
   */
  readonly cacheContinuation: boolean;
  multiImage(config: Record<string, Any>): boolean;
  /** Visual tokens per image from the configs; undefined when only the vision encoder can tell. */
  tokensPerImage(ctx: FamilyContext): number | undefined;
  /** The id of the placeholder token image features replace. */
  imageTokenId(ctx: FamilyContext): number;
  /** Tokenises the templated text with one expanded placeholder per image, and preprocesses the images. */
  prepare(ctx: FamilyContext, text: string, images: readonly RgbPixels[], tokensPerImage: number): Promise<Record<string, Any>>;
  /**
   * The vision encoder's inputs for a batch of images and no text, one view per image, for
   * `embedImages`: the encoder then returns images x tokensPerImage feature vectors in image order.
   */
  visionInputs(ctx: FamilyContext, images: readonly RgbPixels[]): Promise<Record<string, Any>>;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function rawImages(ctx: FamilyContext, images: readonly RgbPixels[]): Any[] {
  return images.map((im) => new ctx.tf.RawImage(im.data, im.width, im.height, 3));
}

/** The text starts with the BOS token already (the template wrote it): do not add a second. */
function addSpecialTokens(ctx: FamilyContext, text: string): boolean {
  const bos = ctx.tokenizer.bos_token;
  return !(typeof bos === 'string' && bos.length > 0 && text.startsWith(bos));
}

const llavaBase = {
  modelClass: 'LlavaForConditionalGeneration',
  processorClass: 'AutoImageProcessor' as const,
  cacheContinuation: true,
  imageTokenId(ctx: FamilyContext): number {
    const id = num(ctx.config.image_token_index) ?? num(ctx.config.image_token_id);
    if (id === undefined) throw new SemclipError('MODEL_INVALID', 'The LLaVA config.json has no image_token_index.', { hint: 'Re-download the model' });
    return id;
  },
  /**
   * Expands every image placeholder itself. transformers.js 4.3.2's LlavaProcessor expands only
   * the first `<image>` (String.replace) and ignores `vision_feature_select_strategy`, so
   * prompts with several images, or LLaVA-1.5's CLS-dropping "default" strategy, would not
   * match the vision encoder's output. The image processor and tokenizer are still its own.
   */
  async prepare(ctx: FamilyContext, text: string, images: readonly RgbPixels[], tokensPerImage: number): Promise<Record<string, Any>> {
    const { pixel_values } = await ctx.processor(rawImages(ctx, images));
    const token = placeholder(ctx);
    const expanded = text.split(token).join(token.repeat(tokensPerImage));
    const encoded = ctx.tokenizer(expanded, { add_special_tokens: addSpecialTokens(ctx, text) });
    return { ...encoded, pixel_values };
  },
  async visionInputs(ctx: FamilyContext, images: readonly RgbPixels[]): Promise<Record<string, Any>> {
    const { pixel_values } = await ctx.processor(rawImages(ctx, images));
    return { pixel_values };
  },
};

/**
 * Qwen2-VL's pixels, one image at a time (see `prepare`), each resized to the imageSide square
 * first; `counts` are the image tokens of each.
 */
async function qwenPixels(ctx: FamilyContext, images: readonly RgbPixels[]): Promise<{ parts: Any[]; counts: number[] }> {
  const imageProcessor = ctx.processor.image_processor;
  const patch = num(imageProcessor?.config?.patch_size) ?? 14;
  const merge = num(imageProcessor?.config?.merge_size) ?? 2;
  const side = Math.max(patch * merge, Math.floor(ctx.imageSide / (patch * merge)) * patch * merge);
  const resized = await Promise.all(rawImages(ctx, images).map((im: Any) => im.resize(side, side)));
  const parts: Any[] = [];
  for (const im of resized) parts.push(await imageProcessor(im));
  const counts = parts.map((p) => Number((p.image_grid_thw.tolist()[0] as bigint[]).reduce((a, b) => a * b, 1n)) / merge ** 2);
  return { parts, counts };
}

function placeholder(ctx: FamilyContext): string {
  const token: unknown = ctx.tokenizer.decode([llavaBase.imageTokenId(ctx)], { skip_special_tokens: false });
  if (typeof token !== 'string' || !token) {
    throw new SemclipError('MODEL_INVALID', 'The tokenizer has no text for the image token of config.json (image_token_index).', {
      hint: 'Re-download the model; its tokenizer and config do not belong together',
    });
  }
  return token;
}

export const FAMILIES: Record<FamilyName, Family> = {
  llava: {
    ...llavaBase,
    name: 'llava',
    // LLaVA-1.5 (a Llama/Vicuna language model with CLIP) was trained on one image per prompt;
    // the interleave models (Qwen) were trained on several.
    multiImage: (config) => !(config.text_config?.model_type === 'llama' && config.vision_config?.model_type === 'clip_vision_model'),
    tokensPerImage(ctx) {
      const c = ctx.config;
      const given = num(c.image_seq_length);
      if (given !== undefined) return given;
      const size = num(c.vision_config?.image_size);
      const patch = num(c.vision_config?.patch_size);
      if (size === undefined || patch === undefined) return undefined;
      const patches = Math.floor(size / patch) ** 2;
      // CLIP adds a CLS token, which the "default" strategy drops and "full" keeps.
      const cls = c.vision_config?.model_type === 'clip_vision_model' ? 1 : 0;
      return patches + (c.vision_feature_select_strategy === 'full' ? cls : 0);
    },
  },
  llava_onevision: {
    ...llavaBase,
    name: 'llava_onevision',
    modelClass: 'LlavaOnevisionForConditionalGeneration',
    multiImage: () => true,
    // transformers.js has no anyres processor for OneVision: the export's vision encoder decides.
    tokensPerImage: () => undefined,
  },
  idefics3: {
    name: 'idefics3',
    modelClass: 'Idefics3ForConditionalGeneration',
    processorClass: 'AutoProcessor',
    cacheContinuation: true,
    multiImage: () => true,
    tokensPerImage: (ctx) => num(ctx.processor.config?.image_seq_len),
    imageTokenId(ctx) {
      const id = num(ctx.config.image_token_id) ?? ctx.tokenizer.model?.tokens_to_ids?.get?.('<image>');
      if (typeof id !== 'number')
        throw new SemclipError('MODEL_INVALID', 'The Idefics3/SmolVLM config.json has no image_token_id.', { hint: 'Re-download the model' });
      return id;
    },
    // SemClip picks the regions itself, so the processor's own tiling is off: each image is one
    // global view of image_seq_len tokens.
    async prepare(ctx, text, images) {
      return ctx.processor(text, rawImages(ctx, images), { do_image_splitting: false });
    },
    // The image processor alone takes a list of images as one sample of several views:
    // pixel_values [1, images, 3, S, S], which the vision encoder flattens in image order.
    async visionInputs(ctx, images) {
      const { pixel_values, pixel_attention_mask } = await ctx.processor.image_processor(rawImages(ctx, images), { do_image_splitting: false });
      return { pixel_values, pixel_attention_mask };
    },
  },
  qwen2_vl: {
    name: 'qwen2_vl',
    modelClass: 'Qwen2VLForConditionalGeneration',
    processorClass: 'AutoProcessor',
    cacheContinuation: false,
    multiImage: () => true,
    tokensPerImage(ctx) {
      const patch = num(ctx.processor.image_processor?.config?.patch_size) ?? 14;
      const merge = num(ctx.processor.image_processor?.config?.merge_size) ?? 2;
      const side = Math.max(patch * merge, Math.floor(ctx.imageSide / (patch * merge)) * patch * merge);
      return (side / patch / merge) ** 2;
    },
    imageTokenId(ctx) {
      const id = num(ctx.config.image_token_id);
      if (id === undefined) throw new SemclipError('MODEL_INVALID', 'The Qwen2-VL config.json has no image_token_id.', { hint: 'Re-download the model' });
      return id;
    },
    /**
     * Qwen2-VL's token count follows the pixel count; resizing every image to the same square
     * keeps it at visualTokensPerImage. Images go through the image processor one at a time:
     * transformers.js 4.3.2's Qwen2VLImageProcessor reads a batch of images as the frames of
     * one video (one image_grid_thw row), so the processor cannot take several. The
     * placeholders are then expanded the way Qwen2VLProcessor does it, one image at a time.
     */
    async prepare(ctx, text, images) {
      const { parts, counts } = await qwenPixels(ctx, images);
      const token: string = ctx.processor.constructor.image_token ?? '<|image_pad|>';
      const chunks = text.split(token);
      const expanded = chunks.map((chunk, i) => (i === 0 ? chunk : token.repeat(counts[i - 1] ?? 1) + chunk)).join('');
      return {
        ...ctx.tokenizer(expanded),
        ...(parts.length
          ? {
              pixel_values: ctx.tf.cat(
                parts.map((p) => p.pixel_values),
                0,
              ),
              image_grid_thw: ctx.tf.cat(
                parts.map((p) => p.image_grid_thw),
                0,
              ),
            }
          : {}),
      };
    },
    async visionInputs(ctx, images) {
      const { parts } = await qwenPixels(ctx, images);
      return {
        pixel_values: ctx.tf.cat(
          parts.map((p) => p.pixel_values),
          0,
        ),
        image_grid_thw: ctx.tf.cat(
          parts.map((p) => p.image_grid_thw),
          0,
        ),
      };
    },
  },
};

const MODEL_TYPES: Record<string, FamilyName> = {
  llava: 'llava',
  llava_onevision: 'llava_onevision',
  idefics3: 'idefics3',
  smolvlm: 'idefics3',
  qwen2_vl: 'qwen2_vl',
};

export const SUPPORTED_MODEL_TYPES = Object.keys(MODEL_TYPES);

/** The family of a config.json, or MODEL_INVALID listing what is supported. */
export function familyOf(config: Record<string, Any>, where: string): Family {
  const type = config.model_type;
  const name = typeof type === 'string' ? MODEL_TYPES[type] : undefined;
  if (!name) {
    throw new SemclipError('MODEL_INVALID', `The model in ${where} has model_type ${JSON.stringify(type)}, which the local runner cannot drive.`, {
      expected: `a vision-language model of type ${SUPPORTED_MODEL_TYPES.join(', ')}`,
      hint: 'Use a supported model (semclip models list), or serve this one with an OpenAI-compatible server and use openai:<url>#<model>',
      details: { modelType: type, supported: SUPPORTED_MODEL_TYPES },
    });
  }
  const family = FAMILIES[name];
  // SmolVLM reuses Idefics3's layout under its own class name.
  return type === 'smolvlm' ? { ...family, modelClass: 'SmolVLMForConditionalGeneration' } : family;
}
