/**
 * SemClip's one ONNX Runtime boundary: loading onnxruntime-node (lazily, on first use), opening
 * sessions, and the session settings handed to @huggingface/transformers, so a model loaded
 * directly and one loaded through transformers.js run alike. Nothing here loads ONNX Runtime
 * until `loadOnnxRuntime` or `createSession` is called.
 */
import { SemclipError } from '@semclip/core';
import type * as Ort from 'onnxruntime-node';
import type { ResolvedDevice } from './_device.js';

/** The onnxruntime-node module (`Tensor`, `InferenceSession`, ...). */
export type OnnxRuntime = typeof Ort;
/** An onnxruntime-node tensor. */
export type OrtTensor = Ort.Tensor;

let runtime: Promise<OnnxRuntime> | undefined;

/**
 * Loads onnxruntime-node on first use (later calls share the import); for building `Tensor`s.
 * DEVICE_UNAVAILABLE when it is not installed or its native binding does not load.
 *
 * @example
 * ```ts
 * const ort = await loadOnnxRuntime();
 * const input = new ort.Tensor('float32', data, [1, 3, 224, 224]);
 * ```
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  runtime ??= import('onnxruntime-node').then(
    (mod) => mod,
    (cause: unknown) => {
      runtime = undefined;
      throw new SemclipError('DEVICE_UNAVAILABLE', `ONNX Runtime (onnxruntime-node) could not be loaded: ${(cause as Error)?.message ?? String(cause)}`, {
        cause,
        hint: 'Install onnxruntime-node 1.30 next to the package that runs models (pnpm add onnxruntime-node@1.30.0)',
      });
    },
  );
  return runtime;
}

export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  dispose(): Promise<void>;
}

export interface SessionOptions {
  readonly device: ResolvedDevice;
  /** Threads per operator; default: ONNX Runtime's choice (all physical cores). */
  readonly intraOpNumThreads?: number;
  /** Who holds the session, for the error after `dispose()` ("This <owner> was disposed"). Default `scorer`. */
  readonly owner?: string;
  /**
   * ONNX Runtime's CPU memory arena (default on). Off, each run's buffers go to and come back from
   * the C allocator, which may keep them: with `memPattern: false` the arena is the leaner choice
   * for the OCR models (530 against 690 MB on a 12-MP photo at 3x3).
   */
  readonly cpuMemArena?: boolean;
  /**
   * ONNX Runtime's memory pattern (default on): it plans one block per input shape for a run's
   * buffers. Off, buffers are taken one by one: far lower peak memory for models fed many input
   * shapes (the OCR detector: 270 instead of 440 MB at 1280 x 960) at the same speed there.
   */
  readonly memPattern?: boolean;
}

/**
 * The ONNX Runtime session options for a resolved device: GPU sessions (CUDA, WebGPU) keep the
 * CPU provider as a fallback for operators the GPU provider lacks; full graph optimisation.
 */
function ortSessionOptions(device: ResolvedDevice, intraOpNumThreads: number | undefined): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: device === 'cpu' ? ['cpu'] : [device, 'cpu'],
    graphOptimizationLevel: 'all',
    ...(intraOpNumThreads ? { intraOpNumThreads } : {}),
  };
}

/**
 * DEVICE_UNAVAILABLE for a session that failed because its GPU provider could not start (no
 * WebGPU adapter, CUDA libraries missing), so that is not reported as a broken model; undefined
 * for other failures. For code that creates sessions itself (e.g. through transformers.js).
 *
 * @example
 * ```ts
 * try { await Model.from_pretrained(dir, transformersSessionSettings(device)); }
 * catch (e) { throw gpuUnavailable(device, e) ?? e; }
 * ```
 */
export function gpuUnavailable(device: ResolvedDevice, cause: unknown): SemclipError | undefined {
  const message = String((cause as Error)?.message ?? cause);
  const webgpu = device === 'webgpu' && /webgpu|adapter|dawn|vulkan/i.test(message);
  const cuda = device === 'cuda' && /cuda|provider|libcudnn|libcublas/i.test(message);
  if (!webgpu && !cuda) return undefined;
  const reason = message
    .split('\n')[0]!
    .replace(/^.*?(Failed to get a WebGPU adapter)/, '$1')
    .slice(0, 300);
  return new SemclipError('DEVICE_UNAVAILABLE', `ONNX Runtime could not start its ${webgpu ? 'WebGPU' : 'CUDA'} execution provider: ${reason}`, {
    cause,
    hint: webgpu
      ? 'WebGPU needs a GPU with a Vulkan driver on Linux (D3D12 on Windows, Metal on macOS); check with scripts/device-check.sh, or pass --device cpu or --device auto'
      : 'Check the CUDA 12 and cuDNN 9 libraries (ldconfig -p | grep -E "cudnn|cublas"), or pass --device cpu or --device auto',
  });
}

/**
 * Opens an ONNX model file (or bytes) on the resolved device. MODEL_INVALID when ONNX Runtime
 * cannot load it; `run` after `dispose` fails with INVALID_ARGUMENT.
 *
 * @example
 * ```ts
 * const session = await createSession('/models/head.onnx', { device: resolveDevice('auto') });
 * const out = await session.run({ input: tensor });
 * await session.dispose();
 * ```
 */
export async function createSession(model: string | Uint8Array, options: SessionOptions): Promise<OnnxSession> {
  const ort = await loadOnnxRuntime();
  const sessionOptions = {
    ...ortSessionOptions(options.device, options.intraOpNumThreads),
    ...(options.cpuMemArena === false ? { enableCpuMemArena: false } : {}),
    ...(options.memPattern === false ? { enableMemPattern: false } : {}),
  };
  let session: Ort.InferenceSession;
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
  } catch (cause) {
    const where = typeof model === 'string' ? `"${model}"` : 'from memory';
    const gpu = gpuUnavailable(options.device, cause);
    if (gpu) throw gpu;
    throw new SemclipError('MODEL_INVALID', `ONNX Runtime could not load the model ${where}: ${(cause as Error).message}`, {
      cause,
      hint: 'Re-download the model (semclip models verify <id>, then semclip models pull <id>)',
    });
  }
  const owner = options.owner ?? 'scorer';
  let disposed = false;
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds) => {
      if (disposed) {
        return Promise.reject(
          new SemclipError('INVALID_ARGUMENT', `This ${owner} was disposed; its ONNX session is closed.`, { hint: `Create a new ${owner}` }),
        );
      }
      return session.run(feeds) as Promise<Record<string, OrtTensor>>;
    },
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}

/** What `@huggingface/transformers` `from_pretrained` needs so its sessions run like `createSession`'s. */
export interface TransformersSessionSettings<D = string> {
  /** transformers.js device name; it maps `cuda` to the CUDA execution provider and `cpu` to the CPU one. */
  readonly device: ResolvedDevice;
  /** transformers.js dtype, one for all sessions or per session: picks the ONNX file suffix (see `DTYPE_SUFFIX`). Absent when not given. */
  readonly dtype?: D;
  readonly session_options: Ort.InferenceSession.SessionOptions;
}

/**
 * Settings for transformers.js model loading on a resolved device: the same execution
 * providers, optimisation level and thread count as `createSession`. Loads nothing.
 *
 * @example
 * ```ts
 * const model = await CLIPVisionModelWithProjection.from_pretrained(dir, {
 *   local_files_only: true,
 *   ...transformersSessionSettings('cpu', { dtype: 'q8' }),
 * });
 * ```
 */
export function transformersSessionSettings<D = string>(
  device: ResolvedDevice,
  options: { readonly dtype?: D; readonly intraOpNumThreads?: number } = {},
): TransformersSessionSettings<D> {
  return {
    device,
    ...(options.dtype === undefined ? {} : { dtype: options.dtype }),
    session_options: ortSessionOptions(device, options.intraOpNumThreads),
  };
}
