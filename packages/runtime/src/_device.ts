/**
 * Device resolution for every ONNX Runtime user in SemClip (@semclip/scorers' sessions and
 * transformers.js towers, @semclip/vlm-runner's local VLMs): `cuda` without the CUDA execution
 * provider fails with DEVICE_UNAVAILABLE; `auto` falls back to the CPU quietly (a CPU-only
 * machine is normal, not a problem): the notice goes to `warn`, once per process, only when
 * SEMCLIP_DEVICE_NOTICE=1 (the CLI sets it for `--verbose` or `--device auto`). It only looks for the provider's library on disk, so importing it never loads
 * ONNX Runtime.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SemclipError } from '@semclip/core';

export type Device = 'cpu' | 'cuda' | 'auto';
export type ResolvedDevice = 'cpu' | 'cuda';
export type Warn = (message: string) => void;

export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'auto'];

const CUDA_HINT =
  'Install the CUDA execution provider for onnxruntime-node: `ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm rebuild onnxruntime-node` ' +
  '(or `npm rebuild onnxruntime-node` with the same variable) on a machine with CUDA 12 and cuDNN 9, or pass --device cpu';

const defaultWarn: Warn = (message) => process.emitWarning(message, { code: 'SEMCLIP_DEVICE' });
let warnedFallback = false;

/** The notice `auto` gives when it falls back to the CPU (with SEMCLIP_DEVICE_NOTICE=1). */
const FALLBACK_NOTICE = 'SemClip: no CUDA execution provider for onnxruntime-node; running on CPU.';

/**
 * Where onnxruntime-node keeps its native binaries. Resolved from transformers.js's own
 * dependency first: that copy is the one that creates the sessions.
 */
function ortBinDirs(): string[] {
  const dirs: string[] = [];
  const here = createRequire(import.meta.url);
  const candidates: (() => string)[] = [
    () => createRequire(here.resolve('@huggingface/transformers')).resolve('onnxruntime-node/package.json'),
    () => here.resolve('onnxruntime-node/package.json'),
  ];
  for (const find of candidates) {
    try {
      dirs.push(path.join(path.dirname(find()), 'bin', 'napi-v6', process.platform, process.arch));
    } catch {
      // not resolvable from here; try the next
    }
  }
  return dirs;
}

/** True when onnxruntime-node's CUDA provider library is installed next to its binding. */
export function cudaProviderInstalled(): boolean {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return ortBinDirs().some((dir) => existsSync(path.join(dir, lib)));
}

/**
 * Turns the user's device choice into the device sessions run on. `warn` receives the CPU
 * fallback notice for `auto`, once per process and only when the environment variable
 * SEMCLIP_DEVICE_NOTICE is "1" (default: a Node warning with code SEMCLIP_DEVICE).
 *
 * @example
 * ```ts
 * resolveDevice('auto'); // 'cuda' when the CUDA provider is installed, else 'cpu' (silently, unless SEMCLIP_DEVICE_NOTICE=1)
 * resolveDevice('cuda'); // throws DEVICE_UNAVAILABLE without the provider
 * ```
 */
export function resolveDevice(device: Device = 'auto', warn: Warn = defaultWarn): ResolvedDevice {
  if (device === 'cpu') return 'cpu';
  if (device !== 'cuda' && device !== 'auto') {
    throw new SemclipError('INVALID_ARGUMENT', `Unknown device "${String(device)}".`, { expected: 'one of cpu, cuda, auto' });
  }
  const available = cudaProviderInstalled();
  if (device === 'cuda') {
    if (!available) {
      throw new SemclipError('DEVICE_UNAVAILABLE', 'The CUDA device was requested but onnxruntime-node has no CUDA execution provider installed.', {
        hint: CUDA_HINT,
      });
    }
    return 'cuda';
  }
  if (available) return 'cuda';
  if (!warnedFallback && process.env.SEMCLIP_DEVICE_NOTICE === '1') {
    warnedFallback = true;
    warn(FALLBACK_NOTICE);
  }
  return 'cpu';
}

/** Forgets that the CPU-fallback notice was given, so the next `auto` fallback warns again (for tests). */
export function resetDeviceWarning(): void {
  warnedFallback = false;
}
