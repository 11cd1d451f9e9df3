/**
 * What every call of a local runner works with once the model is loaded: the transformers.js
 * handles, the prompt settings, the one-at-a-time lock, and the feature-count check shared
 * between the wrapped vision encoder and the calls that arm it.
 */
import { SemclipError, intOption, isSemclipError } from '@semclip/core';
import type { Semaphore } from '@semclip/core';
import type { PromptTemplates } from '../_prompt.js';
import type { ClsSource } from './_embed.js';
import type { Any, Family, FamilyContext } from './_families.js';
import type { LocalTraceEvent } from './_types.js';

/**
 * The vision-encoder check: a call that builds a prompt sets `expected` to its image tokens;
 * the wrapped `encode_image` compares what the encoder returns with it; the call clears it.
 */
export interface FeatureCheck {
  expected: number | undefined;
}

/** A loaded model and what its calls share. */
export interface LocalCallContext {
  readonly tf: Any;
  /** The transformers.js model: `model(inputs)` is a forward pass; `encode_image` / `encode_text` are wrapped. */
  readonly model: Any;
  readonly tokenizer: Any;
  readonly family: Family;
  readonly familyContext: FamilyContext;
  /** The model as errors name it: its id or folder. */
  readonly label: string;
  /** A chat template found next to the model when the tokenizer has none. */
  readonly chatTemplate: string | undefined;
  readonly imageTokenId: number;
  readonly visualTokensPerImage: number;
  /** The decoder output with hidden states, if the export has one. */
  readonly hiddenOutput: string | undefined;
  /** Where the export gives the projected CLS token, if it does. */
  readonly clsSource: ClsSource | undefined;
  readonly features: FeatureCheck;
  /** One forward pass at a time. */
  readonly lock: Semaphore;
  readonly buildOptions: { readonly layout: 'separate'; readonly templates?: PromptTemplates };
  readonly onTrace: ((event: LocalTraceEvent) => void) | undefined;
  /** Throws when the runner was disposed or the signal fired. */
  checkOpen(signal: AbortSignal | undefined): void;
}

/** An integer option of the local runner, named as such in errors ("Local runner option maxTokens is 0."). */
export function localIntOption(name: string, value: number | undefined, fallback: number): number {
  return intOption(name, value, { fallback, what: 'Local runner option' });
}

/** A failure inside transformers.js during a call, as INTERNAL naming the model and the step. */
export function runError(label: string, err: unknown, what: string): unknown {
  if (isSemclipError(err)) return err;
  return new SemclipError('INTERNAL', `Model ${label}: ${what} failed: ${(err as Error)?.message ?? String(err)}.`, {
    cause: err,
    hint: 'If the model files are intact (semclip models verify), this is a bug; please report it with --verbose output',
  });
}

/** A tensor's values as float32. */
export function floatData(t: Any): Float32Array {
  return (t.type === 'float32' ? t.data : t.to('float32').data) as Float32Array;
}

/** Rows of token ids as an int64 [rows, width] tensor. */
export function int64(tf: Any, rows: readonly (readonly bigint[])[]): Any {
  const width = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, i) => data.set(row, i * width));
  return new tf.Tensor('int64', data, [rows.length, width]);
}

/** An all-ones int64 [batch, n] attention mask. */
export function ones(tf: Any, batch: number, n: number): Any {
  return new tf.Tensor('int64', new BigInt64Array(batch * n).fill(1n), [batch, n]);
}
