/**
 * Device resolution for every ONNX Runtime user in SemClip (@semclip/scorers' sessions and
 * transformers.js towers, @semclip/vlm-runner's local VLMs, the trainer's embeddings).
 *
 * - `cuda` without the CUDA execution provider (an install-time download of onnxruntime-node)
 *   fails with DEVICE_UNAVAILABLE.
 * - `webgpu` runs on the WebGPU execution provider onnxruntime-node 1.30 bundles (Dawn, over
 *   Vulkan on Linux, D3D12 on Windows, Metal on macOS): no download, but a GPU adapter. Whether
 *   one exists is only known by asking Dawn, so a child process opens a two-value model on it
 *   (see `probeWebGpu`); without an adapter it fails with DEVICE_UNAVAILABLE.
 * - `auto` tries CUDA, then WebGPU, then falls back to the CPU quietly (a CPU-only machine is
 *   normal, not a problem): the notice goes to `warn`, once per process, only when
 *   SEMCLIP_DEVICE_NOTICE=1 (the CLI sets it for `--verbose` or `--device auto`).
 *
 * Nothing here loads ONNX Runtime into this process: CUDA is a file on disk, WebGPU a child
 * process. That keeps Dawn (its threads, its stderr warnings, a driver that might hang) out of
 * processes that end up on the CPU, and keeps importing this module cheap.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SemclipError } from '@semclip/core';

export type Device = 'cpu' | 'cuda' | 'webgpu' | 'auto';
export type ResolvedDevice = 'cpu' | 'cuda' | 'webgpu';
export type Warn = (message: string) => void;

export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu', 'auto'];

/** What a provider probe found: `available`, or why not (`reason`, one sentence without a final period). */
export interface ProbeResult {
  readonly available: boolean;
  readonly reason?: string;
}

/**
 * How `resolveDevice` finds out which GPU providers work; injectable so the order `auto` tries
 * them in can be tested without the hardware.
 */
export interface DeviceProbes {
  /** Whether onnxruntime-node's CUDA provider is installed (default `cudaProviderInstalled`). */
  readonly cuda: () => boolean;
  /**
   * Whether the WebGPU provider finds an adapter. `quick` (for `auto`) may answer "no" from
   * cheap signs alone (no Vulkan loader or only a software Vulkan driver on Linux) without
   * starting the real probe. Default `probeWebGpu`.
   */
  readonly webgpu: (options: { readonly quick: boolean }) => ProbeResult;
}

const CUDA_HINT =
  'Install the CUDA execution provider for onnxruntime-node: `ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm rebuild onnxruntime-node` ' +
  '(or `npm rebuild onnxruntime-node` with the same variable) on a machine with CUDA 12 and cuDNN 9, or pass --device cpu';

const WEBGPU_HINT =
  'WebGPU needs a GPU and its driver: on Linux a Vulkan driver for the GPU (e.g. NVIDIA: the driver with its Vulkan ICD; AMD/Intel: Mesa RADV/ANV) ' +
  'and the Vulkan loader (libvulkan.so.1); software Vulkan (llvmpipe) is not enough. Check with scripts/device-check.sh; ' +
  'or pass --device cpu (or --device auto to use the CPU when no GPU is usable)';

const defaultWarn: Warn = (message) => process.emitWarning(message, { code: 'SEMCLIP_DEVICE' });
let warnedFallback = false;

/**
 * Where onnxruntime-node's package is. Resolved from transformers.js's own dependency first:
 * that copy is the one that creates the sessions.
 */
function ortPackageDirs(): string[] {
  const dirs: string[] = [];
  const here = createRequire(import.meta.url);
  const candidates: (() => string)[] = [
    () => createRequire(here.resolve('@huggingface/transformers')).resolve('onnxruntime-node/package.json'),
    () => here.resolve('onnxruntime-node/package.json'),
  ];
  for (const find of candidates) {
    try {
      dirs.push(path.dirname(find()));
    } catch {
      // not resolvable from here; try the next
    }
  }
  return dirs;
}

/** True when onnxruntime-node's CUDA provider library is installed next to its binding. */
export function cudaProviderInstalled(): boolean {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return ortPackageDirs().some((dir) => existsSync(path.join(dir, 'bin', 'napi-v6', process.platform, process.arch, lib)));
}

// ---------------------------------------------------------------------------------------------
// WebGPU

/** A serialised ONNX model (opset 17): y = x + x for a float32[2] x. Small enough to inline. */
const PROBE_MODEL_BASE64 = 'CAgSDXNlbWNsaXAtcHJvYmU6PgoTCgF4CgF4EgF5GgNhZGQiA0FkZBIFcHJvYmVaDwoBeBIKCggIARIECgIIAmIPCgF5EgoKCAgBEgQKAggCQgQKABAR';

/**
 * The probe child: loads onnxruntime-node from the path it is given, opens the probe model on
 * one provider only (no CPU fallback, so a session means the provider works), runs it once and
 * prints one JSON line. It exits explicitly: a GPU runtime's threads must not keep it alive.
 */
const PROBE_SCRIPT = `
const [ortDir, provider, b64] = process.argv.slice(1);
const done = (r) => { process.stdout.write(JSON.stringify(r) + '\\n', () => process.exit(0)); };
(async () => {
  const ort = require(ortDir);
  const s = await ort.InferenceSession.create(Buffer.from(b64, 'base64'), { executionProviders: [provider] });
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1.5, -2), [2]) });
  const y = Array.from(out.y.data);
  if (y[0] !== 3 || y[1] !== -4) throw new Error('the probe model computed ' + JSON.stringify(y) + ' instead of [3,-4]');
  done({ ok: true });
})().catch((e) => done({ ok: false, message: String(e && e.message || e) }));
`;

/** How long the probe child may take before it counts as hung (a driver that never answers). */
const PROBE_TIMEOUT_MS = 20_000;

/** The reason in ONNX Runtime's message, without its source location ("...cc:136 ... was false."). */
function shortReason(message: string): string {
  const adapter = /Failed to get a WebGPU adapter[^\n]*/.exec(message);
  const text = (adapter ? adapter[0] : message).trim().replace(/\s+/g, ' ');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text.replace(/\.$/, '');
}

/** Dawn's own explanation on stderr, e.g. "Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file". */
function dawnNote(stderr: string): string | undefined {
  const m = /Warning: ([^\n]*)/.exec(stderr);
  return m?.[1]?.trim();
}

/**
 * Opens a two-value model on one onnxruntime-node execution provider in a child process and
 * runs it; `available` when that worked. Not cached (see `probeWebGpu`). `ortDir` defaults to
 * the onnxruntime-node the sessions use.
 *
 * @example
 * ```ts
 * probeProvider('cpu'); // { available: true }
 * probeProvider('webgpu'); // { available: false, reason: 'Failed to get a WebGPU adapter: No supported adapters (Dawn: Couldn't load Vulkan: ...)' } without a GPU
 * ```
 */
export function probeProvider(provider: string, options: { readonly ortDir?: string; readonly timeoutMs?: number } = {}): ProbeResult {
  const ortDir = options.ortDir ?? ortPackageDirs()[0];
  if (!ortDir) return { available: false, reason: 'onnxruntime-node is not installed' };
  const timeout = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const child = spawnSync(process.execPath, ['-e', PROBE_SCRIPT, ortDir, provider, PROBE_MODEL_BASE64], {
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    return { available: false, reason: `the ${provider} probe did not finish within ${Math.round(timeout / 1000)} s (a GPU driver that does not answer)` };
  }
  const line = (child.stdout ?? '').trim().split('\n').pop() ?? '';
  let result: { ok?: boolean; message?: string } | undefined;
  try {
    result = JSON.parse(line) as { ok?: boolean; message?: string };
  } catch {
    result = undefined;
  }
  if (result?.ok === true) return { available: true };
  const note = dawnNote(child.stderr ?? '');
  const why = result?.message
    ? shortReason(result.message)
    : `the probe process ended without an answer (${child.signal ? `signal ${child.signal}` : `exit code ${child.status}`})`;
  return { available: false, reason: note ? `${why} (Dawn: ${note})` : why };
}

/** Directories the Vulkan loader (libvulkan.so.1) is usually found in on Linux. */
function libraryDirs(): string[] {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [...fromEnv, `/usr/lib/${arch}`, `/lib/${arch}`, '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib'];
}

/** Vulkan driver manifests (ICDs): from VK_DRIVER_FILES / VK_ICD_FILENAMES, else the standard folders. */
function vulkanDrivers(): string[] {
  const listed = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (listed)
    return listed
      .split(':')
      .filter(Boolean)
      .map((f) => path.basename(f));
  const home = process.env.HOME;
  const dirs = [
    '/usr/share/vulkan/icd.d',
    '/etc/vulkan/icd.d',
    '/usr/local/share/vulkan/icd.d',
    ...(home ? [path.join(home, '.local/share/vulkan/icd.d')] : []),
  ];
  const out: string[] = [];
  for (const dir of dirs) {
    try {
      out.push(...readdirSync(dir).filter((f) => f.endsWith('.json')));
    } catch {
      // folder absent
    }
  }
  return out;
}

/**
 * Why WebGPU cannot work here, judged from files alone (Linux only; elsewhere undefined, so
 * the real probe decides). Dawn reaches the GPU through Vulkan on Linux: without the loader, or
 * with only lavapipe (llvmpipe, a CPU rasteriser Dawn does not accept), there is no adapter.
 */
export function webgpuPrecheck(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  if (!libraryDirs().some((dir) => existsSync(path.join(dir, 'libvulkan.so.1')))) {
    return 'the Vulkan loader (libvulkan.so.1) is not installed';
  }
  const drivers = vulkanDrivers();
  if (drivers.length === 0) return 'no Vulkan driver (ICD) is installed';
  if (drivers.every((f) => /^lvp_icd|lavapipe|swiftshader/i.test(f))) return `only software Vulkan drivers are installed (${drivers.join(', ')})`;
  return undefined;
}

let webgpuFull: ProbeResult | undefined;
let webgpuQuick: ProbeResult | undefined;

/**
 * Whether onnxruntime-node's WebGPU provider finds a GPU adapter here, cached per process.
 * The full probe (`quick: false`, what `--device webgpu` uses) runs `probeProvider('webgpu')`
 * once, about 0.1-0.3 s; `quick: true` (what `auto` uses) first answers "no" from
 * `webgpuPrecheck` without starting a process, so CPU-only Linux machines pay nothing.
 *
 * @example
 * ```ts
 * probeWebGpu(); // { available: false, reason: '...' } on a machine without a Vulkan GPU
 * ```
 */
export function probeWebGpu(options: { readonly quick?: boolean } = {}): ProbeResult {
  if (webgpuFull) return webgpuFull;
  if (options.quick) {
    if (webgpuQuick) return webgpuQuick;
    const why = webgpuPrecheck();
    if (why) {
      webgpuQuick = { available: false, reason: why };
      return webgpuQuick;
    }
  }
  webgpuFull = probeProvider('webgpu');
  return webgpuFull;
}

const defaultProbes: DeviceProbes = {
  cuda: cudaProviderInstalled,
  webgpu: (options) => probeWebGpu(options),
};

/**
 * Turns the user's device choice into the device sessions run on. `auto` tries CUDA, then
 * WebGPU, then the CPU; `warn` receives the CPU fallback notice for `auto`, once per process
 * and only when the environment variable SEMCLIP_DEVICE_NOTICE is "1" (default: a Node warning
 * with code SEMCLIP_DEVICE). `probes` replaces how providers are found (for tests).
 *
 * @example
 * ```ts
 * resolveDevice('auto'); // 'cuda' with the CUDA provider, else 'webgpu' with a GPU adapter, else 'cpu' (silently, unless SEMCLIP_DEVICE_NOTICE=1)
 * resolveDevice('cuda'); // throws DEVICE_UNAVAILABLE without the provider
 * resolveDevice('webgpu'); // throws DEVICE_UNAVAILABLE without a WebGPU adapter, saying why
 * ```
 */
export function resolveDevice(device: Device = 'auto', warn: Warn = defaultWarn, probes: Partial<DeviceProbes> = {}): ResolvedDevice {
  if (device === 'cpu') return 'cpu';
  if (!DEVICES.includes(device)) {
    throw new SemclipError('INVALID_ARGUMENT', `Unknown device "${String(device)}".`, { expected: `one of ${DEVICES.join(', ')}` });
  }
  const cuda = probes.cuda ?? defaultProbes.cuda;
  const webgpu = probes.webgpu ?? defaultProbes.webgpu;
  if (device === 'cuda') {
    if (!cuda()) {
      throw new SemclipError('DEVICE_UNAVAILABLE', 'The CUDA device was requested but onnxruntime-node has no CUDA execution provider installed.', {
        hint: CUDA_HINT,
      });
    }
    return 'cuda';
  }
  if (device === 'webgpu') {
    const found = webgpu({ quick: false });
    if (!found.available) {
      throw new SemclipError(
        'DEVICE_UNAVAILABLE',
        `The WebGPU device was requested but onnxruntime-node's WebGPU execution provider found no GPU adapter: ${found.reason ?? 'no reason given'}.`,
        { hint: WEBGPU_HINT, details: { tried: 'webgpu', reason: found.reason } },
      );
    }
    return 'webgpu';
  }
  if (cuda()) return 'cuda';
  const found = webgpu({ quick: true });
  if (found.available) return 'webgpu';
  if (!warnedFallback && process.env.SEMCLIP_DEVICE_NOTICE === '1') {
    warnedFallback = true;
    warn(`SemClip: no CUDA execution provider for onnxruntime-node and no WebGPU adapter (${found.reason ?? 'unknown reason'}); running on CPU.`);
  }
  return 'cpu';
}

/** Forgets that the CPU-fallback notice was given, so the next `auto` fallback warns again (for tests). */
export function resetDeviceWarning(): void {
  warnedFallback = false;
}
