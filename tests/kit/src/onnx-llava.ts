/**
 * A tiny random-weight LLaVA-style vision-language model in the exact Hugging Face / ONNX layout
 * that @huggingface/transformers 4.3.2 loads for `LlavaForConditionalGeneration`:
 *
 * - `onnx/vision_encoder.onnx`: pixel_values [B, 3, S, S] -> image_features [B, (S/P)^2, D]
 *   (patchify Conv + position embedding + 2-layer projector; the CLS token is already dropped,
 *   as LLaVA-1.5's `vision_feature_select_strategy: "default"` export does).
 * - `onnx/embed_tokens.onnx`: input_ids [B, T] -> inputs_embeds [B, T, D] (Gather).
 * - `onnx/decoder_model_merged.onnx`: inputs_embeds, attention_mask, position_ids,
 *   past_key_values.{l}.key/value [B, kv_heads, past, head_dim] -> logits [B, T, V] and
 *   present.{l}.key/value = Concat(past, new). Each layer is real causal softmax attention
 *   (masked by attention_mask, offset by the past length) plus learned position embeddings,
 *   so generation with and without the KV cache gives the same tokens.
 * - config.json (model_type llava, text_config qwen2, vision_config clip_vision_model,
 *   image_token_index), generation_config.json, preprocessor_config.json (CLIPImageProcessor),
 *   processor_config.json (LlavaProcessor, patch 14, num_additional_image_tokens 1, default
 *   strategy: the llava-1.5 settings), tokenizer.json + tokenizer_config.json (byte-level BPE
 *   with an interleave-style chat template containing `<image>`).
 *
 * With `family: 'idefics3'` it is a tiny SmolVLM / Idefics3 instead: the vision encoder takes
 * pixel_values [B, N, 3, S, S] and pixel_attention_mask [B, N, S, S] and returns
 * image_features [B*N, (S/P)^2, D]; config.json is model_type idefics3 (text_config llama,
 * image_token_id); Idefics3ImageProcessor / Idefics3Processor configs with image_seq_len; the
 * tokenizer has `<fake_token_around_image>`, `<global-img>` and `<end_of_utterance>`, and the
 * SmolVLM-style chat template sits in chat_template.json (not tokenizer_config.json), as in
 * the HuggingFaceTB repositories.
 *
 * With `family: 'qwen2_vl'` it is a tiny Qwen2-VL: the vision encoder takes the flattened
 * patches pixel_values [patches, 3*2*P*P] and grid_thw [images, 3] and merges 2x2 patches into
 * image_features [patches/4, D]; the decoder takes multimodal-rotary position_ids [3, B, T]
 * (averaged position embeddings); Qwen2VLImageProcessor / Qwen2VLProcessor configs, and
 * `<|vision_start|><|image_pad|><|vision_end|>` in the chat template. Visual tokens per image
 * follow the image size: (side/28)^2.
 *
 * Weights are seeded random: the model checks shapes, determinism and plumbing only, never
 * answer quality.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder, seededRandom } from './onnx-llava-graph.js';
import { buildTinyTokenizer } from './onnx-llava-tokenizer.js';

export interface TinyLlavaOptions {
  /** Weight seed; the same seed always gives byte-identical files. Default 1. */
  readonly seed?: number;
  /** `llava` (default, LlavaForConditionalGeneration), `idefics3` (SmolVLM / Idefics3) or `qwen2_vl`. */
  readonly family?: TinyVlmFamily;
  /** Repository id the files are meant to be served as. Default `semclip-test/tiny-llava`. */
  readonly repo?: string;
  /** Square input image side in pixels. Default 56. */
  readonly imageSize?: number;
  /** Vision patch size. Default 14, so 56 px gives 16 visual tokens per image. */
  readonly patchSize?: number;
  /** Text hidden size (= heads x head_dim). Default 32. */
  readonly hiddenSize?: number;
  /** Decoder layers (each with its own KV cache). Default 2. */
  readonly numLayers?: number;
  /** Attention heads = key/value heads. Default 2. */
  readonly numHeads?: number;
  /** Vision patch embedding width. Default 16. */
  readonly visionHidden?: number;
  /** Rows of the position embedding table (the longest prompt + answer). Default 1024. */
  readonly maxPositions?: number;
  /**
   * Also write `onnx/vision_encoder_fp16.onnx` and `onnx/embed_tokens_fp16.onnx`: the same
   * weights, with float16 outputs like real fp16 exports, for mixed-dtype loading.
   */
  readonly fp16Variants?: boolean;
  /** Merged over config.json's top level, e.g. a wrong `image_seq_length` to test cross-checks. */
  readonly configOverrides?: Readonly<Record<string, unknown>>;
  /** Files to leave out (e.g. `onnx/embed_tokens.onnx`) to test incomplete downloads. */
  readonly omit?: readonly string[];
  /**
   * Give the decoder one more output, `last_hidden_state` [batch, sequence, hidden]: the final
   * layer's hidden states (the input of lm_head), as exports made with hidden states do.
   * Default false: logits and present.* only, like the usual transformers.js exports.
   */
  readonly exposeHiddenStates?: boolean;
  /**
   * LLaVA only: give the vision encoder a CLS token (an image-dependent summary of the patch
   * tokens, as a real CLIP tower's attends to them) and expose it projected:
   * `first-token` keeps it as each image's first feature (image_features [B, 1 + n, D], config
   * `vision_feature_select_strategy: "full"`, as an export made with that strategy does);
   * `output` adds a vision-encoder output `cls_features` [B, D] and leaves image_features as
   * it is. Default: none (CLS dropped, as LLaVA-1.5's usual exports).
   */
  readonly exposeCls?: 'first-token' | 'output';
}

export type TinyVlmFamily = 'llava' | 'idefics3' | 'qwen2_vl';

export interface TinyLlavaModel {
  readonly family: TinyVlmFamily;
  readonly repo: string;
  /** Repository-relative path -> bytes, ready for the fake hub or for writing to disk. */
  readonly files: Readonly<Record<string, Uint8Array>>;
  readonly config: Record<string, unknown>;
  readonly visualTokensPerImage: number;
  readonly imageTokenId: number;
  readonly eosTokenId: number;
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
}

/** Qwen2-VL's chat format: each image is `<|vision_start|><|image_pad|><|vision_end|>`. */
export const QWEN2_VL_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}" +
  "{% if message['content'] is string %}{{ message['content'] }}{% else %}" +
  "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}" +
  "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}" +
  "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** SmolVLM's chat format: `User:<image>...<end_of_utterance>` then `Assistant:`. */
export const SMOLVLM_CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}" +
  "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}" +
  "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}" +
  "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** Ends a graph in `name`, as float32 or (fp16 variants) cast to float16. */
function finish(g: GraphBuilder, value: string, name: string, dims: readonly (number | string)[], half: boolean): void {
  if (half) g.node('Cast', [value], [name], { to: 10 /* FLOAT16 */ });
  else g.node('Identity', [value], [name]);
  g.output(name, half ? 'float16' : 'float32', dims);
}

function visionEncoder(
  rng: () => number,
  o: { size: number; patch: number; dv: number; d: number; half?: boolean; idefics3?: boolean; cls?: 'first-token' | 'output' },
): Uint8Array {
  const g = new GraphBuilder('tiny_llava_vision_encoder');
  const grid = Math.floor(o.size / o.patch);
  const n = grid * grid;
  let pixels = 'pixel_values';
  let scale: string | undefined;
  if (o.idefics3) {
    // Idefics3: [batch, images, 3, S, S] with a per-pixel validity mask; images are flattened
    // into the batch, and the mask's mean (1 for unpadded images) scales the features.
    g.input('pixel_values', 'float32', ['batch_size', 'num_images', 3, o.size, o.size]);
    g.input('pixel_attention_mask', 'bool', ['batch_size', 'num_images', o.size, o.size]);
    pixels = g.node('Reshape', ['pixel_values', g.ints('images_shape', [4], [-1, 3, o.size, o.size])]);
    scale = g.node('ReduceMean', [g.node('Cast', ['pixel_attention_mask'], undefined, { to: 1 /* FLOAT */ })], undefined, { keepdims: 0 });
  } else {
    g.input('pixel_values', 'float32', ['batch_size', 3, o.size, o.size]);
  }
  const convW = g.weight('patch_embed.weight', [o.dv, 3, o.patch, o.patch], rng, 0.05);
  const convB = g.weight('patch_embed.bias', [o.dv], rng, 0.1);
  const conv = g.node('Conv', [pixels, convW, convB], undefined, {
    kernel_shape: [o.patch, o.patch],
    strides: [o.patch, o.patch],
  });
  const flat = g.node('Reshape', [conv, g.ints('flat_shape', [3], [0, o.dv, -1])]);
  const tokens = g.node('Transpose', [flat], undefined, { perm: [0, 2, 1] });
  const posed = g.node('Add', [tokens, g.weight('vision_pos', [n, o.dv], rng, 0.5)]);
  // Weights in the same order with or without a CLS token, so the other weights stay the same.
  const linear1 = g.weight('projector.linear_1', [o.dv, o.d], rng, 0.5);
  const linear2 = g.weight('projector.linear_2', [o.d, o.d], rng, 0.5);
  const project = (x: string) => g.node('MatMul', [g.node('Tanh', [g.node('MatMul', [x, linear1])]), linear2]);
  let sequence = posed;
  let cls: string | undefined;
  if (o.cls) {
    // CLS = tanh(mean of the patch tokens x W + class_embedding): one [B, 1, dv] token per image.
    const pooled = g.node('ReduceMean', [posed], undefined, { axes: [1], keepdims: 1 });
    const mixed = g.node('MatMul', [pooled, g.weight('cls.weight', [o.dv, o.dv], rng, 1)]);
    cls = g.node('Tanh', [g.node('Add', [mixed, g.weight('class_embedding', [o.dv], rng, 0.5)])]);
    if (o.cls === 'first-token') sequence = g.node('Concat', [cls, posed], undefined, { axis: 1 });
  }
  let features = project(sequence);
  if (scale) features = g.node('Mul', [features, scale]);
  const tokensOut = o.cls === 'first-token' ? n + 1 : n;
  finish(g, features, 'image_features', [o.idefics3 ? 'num_images' : 'batch_size', tokensOut, o.d], o.half ?? false);
  if (cls && o.cls === 'output') {
    const projected = g.node('Reshape', [project(cls), g.ints('cls_shape', [2], [0, o.d])]);
    finish(g, projected, 'cls_features', ['batch_size', o.d], o.half ?? false);
  }
  return g.toBytes();
}

function qwenVisionEncoder(rng: () => number, o: { patch: number; dv: number; d: number }): Uint8Array {
  const g = new GraphBuilder('tiny_qwen2_vl_vision_encoder');
  const patchDim = 3 * 2 * o.patch * o.patch;
  g.input('pixel_values', 'float32', ['num_patches', patchDim]);
  g.input('grid_thw', 'int64', ['num_images', 3]);
  const embedded = g.node('Tanh', [g.node('MatMul', ['pixel_values', g.weight('patch_embed', [patchDim, o.dv], rng, 0.05)])]);
  // The processor orders patches so each 2x2 merge group is 4 consecutive rows.
  const merged = g.node('Reshape', [embedded, g.ints('merge_shape', [2], [-1, 4 * o.dv])]);
  const features = g.node('MatMul', [merged, g.weight('merger', [4 * o.dv, o.d], rng, 0.5)]);
  finish(g, features, 'image_features', ['num_features', o.d], false);
  return g.toBytes();
}

function embedTokens(rng: () => number, vocab: number, d: number, half = false): Uint8Array {
  const g = new GraphBuilder('tiny_llava_embed_tokens');
  g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const embeds = g.node('Gather', [g.weight('embed_tokens.weight', [vocab, d], rng, 1), 'input_ids'], undefined, { axis: 0 });
  finish(g, embeds, 'inputs_embeds', ['batch_size', 'sequence_length', d], half);
  return g.toBytes();
}

function decoder(
  rng: () => number,
  o: { vocab: number; d: number; layers: number; heads: number; headDim: number; maxPos: number; mrope?: boolean; hiddenStates?: boolean },
): Uint8Array {
  const g = new GraphBuilder('tiny_llava_decoder_model_merged');
  const { heads, headDim, d } = o;
  g.input('inputs_embeds', 'float32', ['batch_size', 'sequence_length', d]);
  g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  g.input('position_ids', 'int64', o.mrope ? [3, 'batch_size', 'sequence_length'] : ['batch_size', 'sequence_length']);
  for (let l = 0; l < o.layers; l++) {
    g.input(`past_key_values.${l}.key`, 'float32', ['batch_size', heads, 'past_sequence_length', headDim]);
    g.input(`past_key_values.${l}.value`, 'float32', ['batch_size', heads, 'past_sequence_length', headDim]);
  }

  // Causal mask over [past + new] keys: query i (absolute position past + i) sees keys j <= past + i,
  // and only where attention_mask is 1.
  const axis0 = g.ints('axes_0', [1], [0]);
  const pastLen = g.node('Shape', ['past_key_values.0.key'], undefined, { start: 2, end: 3 });
  const seqLen = g.node('Shape', ['inputs_embeds'], undefined, { start: 1, end: 2 });
  const total = g.node('Add', [pastLen, seqLen]);
  const pastScalar = g.node('Squeeze', [pastLen, axis0]);
  const totalScalar = g.node('Squeeze', [total, axis0]);
  const zero = g.ints('zero', [], [0]);
  const one = g.ints('one', [], [1]);
  const keyPos = g.node('Range', [zero, totalScalar, one]);
  const queryPos = g.node('Unsqueeze', [g.node('Range', [pastScalar, totalScalar, one]), g.ints('axes_1', [1], [1])]);
  const causal = g.node('LessOrEqual', [keyPos, queryPos]);
  const padMask = g.node('Unsqueeze', [g.node('Cast', ['attention_mask'], undefined, { to: 9 /* BOOL */ }), g.ints('axes_12', [2], [1, 2])]);
  const allowed = g.node('And', [causal, padMask]);
  const bias = g.node('Where', [allowed, g.floats('mask_keep', [], [0]), g.floats('mask_drop', [], [-1e4])]);

  let positions = g.node('Gather', [g.weight('position_embedding', [o.maxPos, d], rng, 0.5), 'position_ids'], undefined, {
    axis: 0,
  });
  // Qwen2-VL's three rotary sections (time, height, width) become one averaged embedding.
  if (o.mrope) positions = g.node('ReduceMean', [positions], undefined, { axes: [0], keepdims: 0 });
  let hidden = g.node('Add', ['inputs_embeds', positions]);
  const headShape = g.ints('head_shape', [4], [0, 0, heads, headDim]);
  const mergeShape = g.ints('merge_shape', [3], [0, 0, heads * headDim]);
  const scale = g.floats('attn_scale', [], [1 / Math.sqrt(headDim)]);
  const split = (x: string) => g.node('Transpose', [g.node('Reshape', [x, headShape])], undefined, { perm: [0, 2, 1, 3] });

  for (let l = 0; l < o.layers; l++) {
    const proj = (name: string) => g.node('MatMul', [hidden, g.weight(`layers.${l}.${name}`, [d, heads * headDim], rng, 0.5)]);
    const q = split(proj('q_proj'));
    const k = g.node('Concat', [`past_key_values.${l}.key`, split(proj('k_proj'))], [`present.${l}.key`], { axis: 2 });
    const v = g.node('Concat', [`past_key_values.${l}.value`, split(proj('v_proj'))], [`present.${l}.value`], { axis: 2 });
    const kT = g.node('Transpose', [k], undefined, { perm: [0, 1, 3, 2] });
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, kT]), scale]), bias]);
    const probs = g.node('Softmax', [scores], undefined, { axis: -1 });
    const ctx = g.node('Transpose', [g.node('MatMul', [probs, v])], undefined, { perm: [0, 2, 1, 3] });
    const out = g.node('MatMul', [g.node('Reshape', [ctx, mergeShape]), g.weight(`layers.${l}.o_proj`, [heads * headDim, d], rng, 0.5)]);
    hidden = g.node('Tanh', [g.node('Add', [hidden, out])]);
  }
  g.node('MatMul', [hidden, g.weight('lm_head', [d, o.vocab], rng, 2)], ['logits']);

  g.output('logits', 'float32', ['batch_size', 'sequence_length', o.vocab]);
  for (let l = 0; l < o.layers; l++) {
    g.output(`present.${l}.key`, 'float32', ['batch_size', heads, 'total_sequence_length', headDim]);
    g.output(`present.${l}.value`, 'float32', ['batch_size', heads, 'total_sequence_length', headDim]);
  }
  if (o.hiddenStates) {
    g.node('Identity', [hidden], ['last_hidden_state']);
    g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', d]);
  }
  return g.toBytes();
}

/**
 * Builds every file of the tiny LLaVA repository in memory.
 *
 * @example
 * ```ts
 * import { buildTinyLlava } from '@semclip/test-kit/onnx-llava';
 * const model = buildTinyLlava({ seed: 3 });
 * model.files['onnx/decoder_model_merged.onnx']; // Uint8Array
 * model.visualTokensPerImage; // 16
 * ```
 */
export function buildTinyLlava(options: TinyLlavaOptions = {}): TinyLlavaModel {
  const seed = options.seed ?? 1;
  const repo = options.repo ?? 'semclip-test/tiny-llava';
  const size = options.imageSize ?? 56;
  const patch = options.patchSize ?? 14;
  const d = options.hiddenSize ?? 32;
  const layers = options.numLayers ?? 2;
  const heads = options.numHeads ?? 2;
  const dv = options.visionHidden ?? 16;
  const maxPos = options.maxPositions ?? 1024;
  if (d % heads !== 0) throw new Error(`hiddenSize ${d} must be a multiple of numHeads ${heads}`);
  const headDim = d / heads;
  const grid = Math.floor(size / patch);
  if (options.exposeCls && (options.family ?? 'llava') !== 'llava') throw new Error('exposeCls is for the llava family only');
  // Qwen2-VL merges 2x2 patches; its count is for a size x size image. A kept CLS token is one more.
  const visualTokensPerImage = options.family === 'qwen2_vl' ? Math.floor(grid / 2) ** 2 : grid * grid + (options.exposeCls === 'first-token' ? 1 : 0);
  const selectStrategy = options.exposeCls === 'first-token' ? 'full' : 'default';

  const family = options.family ?? 'llava';
  const idefics3 = family === 'idefics3';
  const qwen = family === 'qwen2_vl';
  const tok = idefics3
    ? buildTinyTokenizer({
        chatTemplate: null,
        extraSpecialTokens: ['<fake_token_around_image>', '<global-img>', '<end_of_utterance>'],
        eosToken: '<end_of_utterance>',
      })
    : qwen
      ? buildTinyTokenizer({
          chatTemplate: QWEN2_VL_CHAT_TEMPLATE,
          extraSpecialTokens: ['<|vision_start|>', '<|vision_end|>', '<|image_pad|>', '<|video_pad|>'],
        })
      : buildTinyTokenizer();
  const vocab = tok.vocabSize;
  const imageTokenId = qwen ? tok.specialIds['<|image_pad|>']! : tok.specialIds['<image>'];
  const eosTokenId = idefics3 ? tok.specialIds['<end_of_utterance>']! : tok.specialIds['<|im_end|>'];
  const padTokenId = tok.specialIds['<|endoftext|>'];

  const llavaConfig = {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    image_token_index: imageTokenId,
    image_seq_length: visualTokensPerImage,
    ignore_index: -100,
    pad_token_id: padTokenId,
    projector_hidden_act: 'gelu',
    vision_feature_layer: -2,
    vision_feature_select_strategy: selectStrategy,
    text_config: {
      model_type: 'qwen2',
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: d,
      intermediate_size: d * 2,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: heads,
      head_dim: headDim,
      vocab_size: vocab,
      max_position_embeddings: maxPos,
      eos_token_id: eosTokenId,
      pad_token_id: padTokenId,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      tie_word_embeddings: false,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: dv,
      intermediate_size: dv * 2,
      image_size: size,
      patch_size: patch,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      projection_dim: d,
    },
    transformers_version: '4.47.0',
  };
  const idefics3Config = {
    architectures: ['Idefics3ForConditionalGeneration'],
    model_type: 'idefics3',
    image_token_id: imageTokenId,
    pad_token_id: padTokenId,
    scale_factor: 1,
    text_config: { ...llavaConfig.text_config, model_type: 'llama', architectures: ['LlamaForCausalLM'] },
    vision_config: { model_type: 'idefics3_vision', hidden_size: dv, image_size: size, patch_size: patch, num_attention_heads: 2, num_hidden_layers: 1 },
    transformers_version: '4.47.0',
  };
  // Qwen2-VL's config is flat: the language model's fields sit at the top level.
  const qwenConfig = {
    ...llavaConfig.text_config,
    architectures: ['Qwen2VLForConditionalGeneration'],
    model_type: 'qwen2_vl',
    image_token_id: imageTokenId,
    video_token_id: tok.specialIds['<|video_pad|>'],
    vision_start_token_id: tok.specialIds['<|vision_start|>'],
    vision_end_token_id: tok.specialIds['<|vision_end|>'],
    rope_scaling: { type: 'mrope', mrope_section: [2, 3, 3] },
    vision_config: { depth: 1, embed_dim: dv, hidden_size: d, in_chans: 3, patch_size: patch, spatial_merge_size: 2, temporal_patch_size: 2 },
    transformers_version: '4.47.0',
  };
  const config: Record<string, unknown> = idefics3 ? idefics3Config : qwen ? qwenConfig : llavaConfig;

  Object.assign(config, options.configOverrides);

  const generationConfig = { eos_token_id: eosTokenId, pad_token_id: padTokenId, do_sample: false };
  const idefics3Preprocessor = {
    do_convert_rgb: true,
    do_image_splitting: true,
    do_normalize: true,
    do_pad: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    image_processor_type: 'Idefics3ImageProcessor',
    max_image_size: { longest_edge: size },
    processor_class: 'Idefics3Processor',
    resample: 1,
    rescale_factor: 1 / 255,
    size: { longest_edge: size * 4 },
  };
  const qwenPreprocessor = {
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: CLIP_MEAN,
    image_std: CLIP_STD,
    image_processor_type: 'Qwen2VLImageProcessor',
    processor_class: 'Qwen2VLProcessor',
    min_pixels: (patch * 2) ** 2,
    max_pixels: (patch * 2 * 8) ** 2,
    merge_size: 2,
    patch_size: patch,
    temporal_patch_size: 2,
    resample: 3,
    rescale_factor: 1 / 255,
  };
  const preprocessorConfig = {
    crop_size: { height: size, width: size },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: CLIP_MEAN,
    image_std: CLIP_STD,
    image_processor_type: 'CLIPImageProcessor',
    processor_class: 'LlavaProcessor',
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: size },
  };
  const processorConfig = {
    image_token: '<image>',
    num_additional_image_tokens: 1,
    patch_size: patch,
    processor_class: 'LlavaProcessor',
    vision_feature_select_strategy: selectStrategy,
  };

  // Separate streams per graph, so changing one graph's size never reshuffles another's weights.
  const files: Record<string, Uint8Array> = {
    'config.json': json(config),
    'generation_config.json': json(generationConfig),
    'preprocessor_config.json': json(idefics3 ? idefics3Preprocessor : qwen ? qwenPreprocessor : preprocessorConfig),
    ...(qwen
      ? {}
      : { 'processor_config.json': json(idefics3 ? { image_seq_len: visualTokensPerImage, processor_class: 'Idefics3Processor' } : processorConfig) }),
    ...(idefics3 ? { 'chat_template.json': json({ chat_template: SMOLVLM_CHAT_TEMPLATE }) } : {}),
    'tokenizer.json': json(tok.tokenizerJson),
    'tokenizer_config.json': json(tok.tokenizerConfig),
    'onnx/vision_encoder.onnx': qwen
      ? qwenVisionEncoder(seededRandom(seed * 3 + 1), { patch, dv, d })
      : visionEncoder(seededRandom(seed * 3 + 1), { size, patch, dv, d, idefics3, ...(options.exposeCls ? { cls: options.exposeCls } : {}) }),
    'onnx/embed_tokens.onnx': embedTokens(seededRandom(seed * 3 + 2), vocab, d),
    'onnx/decoder_model_merged.onnx': decoder(seededRandom(seed * 3 + 3), {
      vocab,
      d,
      layers,
      heads,
      headDim,
      maxPos,
      mrope: qwen,
      hiddenStates: options.exposeHiddenStates ?? false,
    }),
  };
  if (options.fp16Variants) {
    files['onnx/vision_encoder_fp16.onnx'] = visionEncoder(seededRandom(seed * 3 + 1), {
      size,
      patch,
      dv,
      d,
      half: true,
      idefics3,
      ...(options.exposeCls ? { cls: options.exposeCls } : {}),
    });
    files['onnx/embed_tokens_fp16.onnx'] = embedTokens(seededRandom(seed * 3 + 2), vocab, d, true);
  }
  for (const omitted of options.omit ?? []) delete files[omitted];

  return {
    family,
    repo,
    files,
    config,
    visualTokensPerImage,
    imageTokenId,
    eosTokenId,
    vocabSize: vocab,
    numLayers: layers,
    numHeads: heads,
    headDim,
  };
}

/**
 * Writes the tiny LLaVA repository under `dir` (files at `dir/<path>`), e.g. for loading with
 * transformers.js straight from disk.
 */
export async function writeTinyLlava(dir: string, options: TinyLlavaOptions = {}): Promise<TinyLlavaModel> {
  const model = buildTinyLlava(options);
  for (const [rel, bytes] of Object.entries(model.files)) {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
  return model;
}
