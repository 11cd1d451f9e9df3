/**
 * The ONNX weight variants SemClip loads, with the file-name suffix transformers.js gives each
 * (`fp32` -> `vision_model.onnx`, `q8` -> `vision_model_quantized.onnx`). One table for the
 * CLIP/SigLIP towers, the local VLM sessions and the test kit's generated models; the same list
 * as @semclip/hub's `MODEL_DTYPES`.
 */
import { SemclipError } from '@semclip/core';

/** transformers.js file suffix per dtype. */
export const DTYPE_SUFFIX = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const;

/** An ONNX weight variant: `fp32`, `fp16`, `q8`, `int8`, `uint8`, `q4`, `q4f16` or `bnb4`. */
export type Dtype = keyof typeof DTYPE_SUFFIX;

/** Every dtype, in the table's order. */
export const DTYPES: readonly Dtype[] = Object.keys(DTYPE_SUFFIX) as Dtype[];

/** True for a dtype in the table (own keys only: `toString` is not a dtype). */
export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_SUFFIX, value);
}

/**
 * The ONNX file of one session in one dtype, as transformers.js names it.
 * INVALID_ARGUMENT for a dtype outside the table.
 *
 * @example
 * ```ts
 * onnxFileName('vision_model', 'q8'); // 'vision_model_quantized.onnx'
 * onnxFileName('decoder_model_merged', 'fp32'); // 'decoder_model_merged.onnx'
 * ```
 */
export function onnxFileName(session: string, dtype: Dtype): string {
  if (!isDtype(dtype)) {
    throw new SemclipError('INVALID_ARGUMENT', `Unknown dtype "${String(dtype)}".`, { expected: `one of ${DTYPES.join(', ')}` });
  }
  return `${session}${DTYPE_SUFFIX[dtype]}.onnx`;
}
