import { SemclipError } from '@semclip/core';

/**
 * Checks every value of a model output is finite, so NaN or Infinity never becomes a ranking,
 * an answer or a score: MODEL_OUTPUT_INVALID naming `what` and the first bad position.
 *
 * @example
 * ```ts
 * assertFinite(logits, 'The relevance head output'); // throws '... contains NaN at position 3.'
 * ```
 */
export function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      throw new SemclipError('MODEL_OUTPUT_INVALID', `${what} contains ${Number.isNaN(v) ? 'NaN' : 'Infinity'} at position ${i}.`, {
        hint: 'The model files may be corrupt (semclip models verify <id>) or the model overflowed in this dtype; try --device cpu or an fp32 model',
      });
    }
  }
}
