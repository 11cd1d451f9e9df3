import { SemclipError } from '@semclip/core';
import type { Any } from './_families.js';

/** Float32 logits [batch, seq, vocab] as a flat array plus their shape. */
export function logitsOf(output: Any, what: string): { data: Float32Array; seq: number; vocab: number } {
  let logits = output?.logits;
  if (!logits || !Array.isArray(logits.dims) || logits.dims.length !== 3) {
    throw new SemclipError('MODEL_OUTPUT_INVALID', `${what}: the decoder returned no logits [batch, sequence, vocab].`, {
      hint: 'The ONNX decoder is not in the layout transformers.js expects; re-download the model',
    });
  }
  if (logits.type !== 'float32') logits = logits.to('float32');
  const [, seq, vocab] = logits.dims as [number, number, number];
  return { data: logits.data as Float32Array, seq, vocab };
}

/**
 * log p(token) at one position: logits minus their log-sum-exp, in float64 so 100k-entry
 * vocabularies lose no precision. MODEL_OUTPUT_INVALID when the row has NaN or Infinity.
 */
export function logProbAt(logits: { data: Float32Array; seq: number; vocab: number }, position: number, token: number, what: string): number {
  const { data, vocab } = logits;
  const start = position * vocab;
  let max = -Infinity;
  for (let i = start; i < start + vocab; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      throw new SemclipError('MODEL_OUTPUT_INVALID', `${what}: the logits contain ${Number.isNaN(v) ? 'NaN' : 'Infinity'} at position ${position}.`, {
        hint: 'The model files may be corrupt (semclip models verify <id>) or the model overflowed in this dtype; try an fp32 model or --device cpu',
      });
    }
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = start; i < start + vocab; i++) sum += Math.exp(data[i]! - max);
  return data[start + token]! - max - Math.log(sum);
}

/** Renames a forward pass's `present.*` outputs to the `past_key_values.*` inputs of the next. */
export function pastFrom(output: Record<string, Any>): Record<string, Any> {
  const past: Record<string, Any> = {};
  for (const [name, tensor] of Object.entries(output)) {
    if (name.startsWith('present')) past[name.replace('present', 'past_key_values')] = tensor;
  }
  return past;
}
