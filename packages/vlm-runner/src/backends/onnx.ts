/**
 * The package's one ONNX Runtime boundary: the session settings handed to
 * @huggingface/transformers, which creates and runs the onnxruntime-node sessions of local
 * models. Nothing else in this package imports onnxruntime-node or transformers.js directly,
 * and both load lazily, so the `openai` backend never loads ONNX Runtime. Device resolution is
 * shared with @semclip/scorers (same rules, one fallback notice per process).
 */
import { SemclipError } from '@semclip/core';
import type { ResolvedDevice } from '@semclip/scorers';

export { DEVICES, cudaProviderInstalled, resolveDevice } from '@semclip/scorers';
export type { Device, ResolvedDevice, Warn } from '@semclip/scorers';

export type Transformers = typeof import('@huggingface/transformers');

let transformers: Promise<Transformers> | undefined;

/**
 * Loads @huggingface/transformers (and with it onnxruntime-node) on first use. Its own logging
 * is lowered to errors: SemClip reports what matters through its own errors and warnings.
 */
export function loadTransformers(): Promise<Transformers> {
  transformers ??= import('@huggingface/transformers').then((mod) => {
    mod.env.logLevel = mod.LogLevel.ERROR;
    return mod;
  });
  return transformers;
}

export interface SessionSettings {
  readonly device: ResolvedDevice;
  /** Threads per operator; default: ONNX Runtime's choice (all physical cores). */
  readonly intraOpNumThreads?: number;
}

/**
 * The `from_pretrained` options that put every session of a model on the resolved device.
 * CUDA sessions keep the CPU provider as a fallback for operators CUDA lacks.
 */
export function pretrainedSessionOptions(settings: SessionSettings): { device: ResolvedDevice; session_options: Record<string, unknown> } {
  return {
    device: settings.device,
    session_options: {
      executionProviders: settings.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      graphOptimizationLevel: 'all',
      ...(settings.intraOpNumThreads ? { intraOpNumThreads: settings.intraOpNumThreads } : {}),
    },
  };
}

/** Checks every value of a model output is finite; NaN/Inf never becomes an answer or a score. */
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
