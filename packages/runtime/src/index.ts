/**
 * `@semclip/runtime`: the model-running pieces shared by @semclip/scorers and
 * @semclip/vlm-runner that load nothing heavy: device resolution, the ONNX dtype table, the
 * finiteness check of model outputs and the embedding caches. Importing it loads only
 * @semclip/core; sessions are in `@semclip/runtime/onnx`.
 */
export { DEVICES, cudaProviderInstalled, probeProvider, probeWebGpu, resetDeviceWarning, resolveDevice, webgpuPrecheck } from './_device.js';
export type { Device, DeviceProbes, ProbeResult, ResolvedDevice, Warn } from './_device.js';

export { DTYPES, DTYPE_SUFFIX, isDtype, onnxFileName } from './_dtypes.js';
export type { Dtype } from './_dtypes.js';

export { assertFinite } from './_finite.js';

export { LruCache, TileEmbeddingCache } from './_cache.js';
export type { CachedTileEmbeddings, LruLimits, LruStats } from './_cache.js';
