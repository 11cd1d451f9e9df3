/**
 * The package's one ONNX Runtime boundary: device resolution, session creation and the
 * settings handed to @huggingface/transformers. Nothing else in this package imports
 * onnxruntime-node directly.
 */
import * as ort from 'onnxruntime-node';
import { SemclipError } from '@semclip/core';
import type { ResolvedDevice } from './_device.js';

export { DEVICES, cudaProviderInstalled, resolveDevice, resetDeviceWarning } from './_device.js';
export type { Device, ResolvedDevice, Warn } from './_device.js';

export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  dispose(): Promise<void>;
}

export interface SessionOptions {
  readonly device: ResolvedDevice;
  readonly intraOpNumThreads?: number;
}

/** Opens an ONNX model file (or bytes) on the resolved device. */
export async function createSession(model: string | Uint8Array, options: SessionOptions): Promise<OnnxSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: options.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  };
  let session: ort.InferenceSession;
  try {
    session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model, sessionOptions);
  } catch (cause) {
    const where = typeof model === 'string' ? `"${model}"` : 'from memory';
    throw new SemclipError('MODEL_INVALID', `ONNX Runtime could not load the model ${where}: ${(cause as Error).message}`, {
      cause,
      hint: 'Re-download the model (semclip models verify <id>, then semclip models pull <id>)',
    });
  }
  let disposed = false;
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds) => {
      if (disposed) {
        return Promise.reject(new SemclipError('INVALID_ARGUMENT', 'This scorer was disposed; its ONNX session is closed.', { hint: 'Create a new scorer' }));
      }
      return session.run(feeds) as Promise<Record<string, ort.Tensor>>;
    },
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}

/** Checks every value of a model output is finite; NaN/Inf never becomes a ranking. */
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

/** What `@huggingface/transformers` `from_pretrained` needs so its sessions run like ours. */
export interface TransformersSessionSettings {
  /** transformers.js device name; it maps `cuda` to the CUDA execution provider and `cpu` to the CPU one. */
  readonly device: ResolvedDevice;
  /** transformers.js dtype: picks the ONNX file suffix (`fp32` -> `model.onnx`, `q8` -> `model_quantized.onnx`...). */
  readonly dtype: string;
  readonly session_options: ort.InferenceSession.SessionOptions;
}

/**
 * Settings for transformers.js model loading on a resolved device: the same optimisation level
 * and thread count as `createSession`, so a model loaded through transformers.js and one loaded
 * directly behave alike.
 */
export function transformersSessionSettings(
  device: ResolvedDevice,
  options: { readonly dtype?: string; readonly intraOpNumThreads?: number } = {},
): TransformersSessionSettings {
  return {
    device,
    dtype: options.dtype ?? 'fp32',
    session_options: {
      graphOptimizationLevel: 'all',
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    },
  };
}

export { ort };
