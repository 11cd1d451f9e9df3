/**
 * The arithmetic behind the local runner's `embedImages` / `embedText`: pooling visual tokens
 * and picking the question's representation out of decoder outputs. No model code here, so the
 * math is tested on its own with known answers.
 */
import { SemclipError } from '@semclip/core';

/** How `embedText` represents a text; both live in the language model's embedding space. */
export type TextRepresentation = 'last-hidden-state' | 'mean-input-embeddings';

/**
 * How `embedImages` pools an image's projected visual tokens into one vector: `cls` the
 * projected CLS token (what the paper's VLM-embedding scorer uses), `mean` the mean of the
 * visual tokens the language model sees.
 */
export type ImagePool = 'cls' | 'mean';
export const IMAGE_POOLS: readonly ImagePool[] = ['cls', 'mean'];

/**
 * Where an export gives the projected CLS token: `first-token`, each image's first feature of
 * `image_features` (a LLaVA export with a CLIP tower and `vision_feature_select_strategy:
 * "full"`); `cls_features`, a vision-encoder output of its own ([images, hidden] or
 * [images, 1, hidden]). The usual exports have neither: LLaVA-1.5's "default" strategy drops
 * CLIP's CLS before the projector, and SigLIP (LLaVA-OneVision, SmolVLM) and Qwen2-VL towers
 * have no CLS token at all.
 */
export type ClsSource = 'first-token' | 'cls_features';

/** The vision-encoder output that carries the projected CLS token, for exports that add one. */
export const CLS_OUTPUT = 'cls_features';

/**
 * Where this export's projected CLS token is, if anywhere (see `ClsSource`). `first-token` needs
 * a CLIP tower whose config keeps CLS (`full`) and a probed count of exactly patches + 1.
 *
 * @example
 * ```ts
 * clsSourceOf({ vision_feature_select_strategy: 'full', vision_config: { model_type: 'clip_vision_model', image_size: 336, patch_size: 14 } }, 577, ['image_features']);
 * // 'first-token'
 * ```
 */
export function clsSourceOf(
  config: Readonly<Record<string, unknown>>,
  tokensPerImage: number,
  visionOutputs: readonly string[] | undefined,
): ClsSource | undefined {
  if (visionOutputs?.includes(CLS_OUTPUT)) return 'cls_features';
  const vision = (config.vision_config ?? {}) as Record<string, unknown>;
  const size = vision.image_size;
  const patch = vision.patch_size;
  if (
    config.vision_feature_select_strategy === 'full' &&
    vision.model_type === 'clip_vision_model' &&
    typeof size === 'number' &&
    typeof patch === 'number' &&
    patch > 0 &&
    tokensPerImage === Math.floor(size / patch) ** 2 + 1
  ) {
    return 'first-token';
  }
  return undefined;
}

/**
 * Each group's first row: the CLS token of each image when the encoder keeps it first.
 *
 * @example
 * ```ts
 * firstRows(Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]), 2, 2, 2); // [Float32Array [1, 2], Float32Array [10, 20]]
 * ```
 */
export function firstRows(data: ArrayLike<number>, groups: number, rowsPerGroup: number, dim: number): Float32Array[] {
  if (!(groups >= 1 && rowsPerGroup >= 1 && dim >= 1) || data.length !== groups * rowsPerGroup * dim) {
    throw new SemclipError('MODEL_OUTPUT_INVALID', `Cannot take the first row of ${data.length} values as ${groups} group(s) of ${rowsPerGroup} x ${dim}.`, {
      hint: 'The vision encoder returned an unexpected shape; re-download the model or report it',
    });
  }
  return Array.from({ length: groups }, (_, g) => Float32Array.from({ length: dim }, (_, i) => data[g * rowsPerGroup * dim + i]!));
}

/**
 * Decoder output names that may carry the final layer's hidden states, in the order looked
 * for. Usual transformers.js exports have neither (logits and present.* only).
 */
export const HIDDEN_STATE_OUTPUTS = ['last_hidden_state', 'hidden_states'] as const;

/** The decoder output with hidden states, if the export has one. */
export function hiddenStateOutput(outputNames: readonly string[] | undefined): string | undefined {
  return HIDDEN_STATE_OUTPUTS.find((name) => outputNames?.includes(name));
}

/**
 * Splits `rows` consecutive rows of `dim` floats into `groups` equal groups and averages each
 * (in float64): the mean of each image's visual tokens, given the encoder's rows in image order.
 *
 * @example
 * ```ts
 * meanPoolGroups(Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]), 2, 2, 2);
 * // [Float32Array [2, 3], Float32Array [20, 30]]
 * ```
 */
export function meanPoolGroups(data: ArrayLike<number>, groups: number, rowsPerGroup: number, dim: number): Float32Array[] {
  if (!(groups >= 1 && rowsPerGroup >= 1 && dim >= 1) || data.length !== groups * rowsPerGroup * dim) {
    throw new SemclipError('MODEL_OUTPUT_INVALID', `Cannot pool ${data.length} values into ${groups} group(s) of ${rowsPerGroup} x ${dim}.`, {
      hint: 'The vision encoder returned an unexpected shape; re-download the model or report it',
    });
  }
  const out: Float32Array[] = [];
  const sum = new Float64Array(dim);
  for (let g = 0; g < groups; g++) {
    sum.fill(0);
    const base = g * rowsPerGroup * dim;
    for (let r = 0; r < rowsPerGroup; r++) {
      const row = base + r * dim;
      for (let i = 0; i < dim; i++) sum[i]! += data[row + i]!;
    }
    const v = new Float32Array(dim);
    for (let i = 0; i < dim; i++) v[i] = sum[i]! / rowsPerGroup;
    out.push(v);
  }
  return out;
}

/**
 * The last position's vector of a hidden-state tensor: [batch=1, seq, dim], or a stack of
 * layers [layers, 1, seq, dim] (then the final layer's).
 */
export function lastTokenState(dims: readonly number[], data: ArrayLike<number>, what: string): Float32Array {
  let layers = 1;
  let seq: number;
  let dim: number;
  if (dims.length === 3 && dims[0] === 1) [, seq, dim] = dims as [number, number, number];
  else if (dims.length === 4 && dims[1] === 1) [layers, , seq, dim] = dims as [number, number, number, number];
  else {
    throw new SemclipError('MODEL_OUTPUT_INVALID', `${what} has shape [${dims.join(', ')}].`, {
      expected: '[1, sequence, hidden] or [layers, 1, sequence, hidden]',
      hint: 'The ONNX decoder is not in a layout SemClip knows; use a model without hidden-state outputs or report it',
    });
  }
  if (!(seq >= 1)) throw new SemclipError('MODEL_OUTPUT_INVALID', `${what} has no positions.`);
  const start = ((layers - 1) * seq + (seq - 1)) * dim;
  return Float32Array.from({ length: dim }, (_, i) => data[start + i]!);
}
