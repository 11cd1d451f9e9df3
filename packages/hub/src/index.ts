export { defineManifest, parseManifest, MODEL_FAMILIES, MODEL_DTYPES } from './_manifest.js';
export type { ModelManifest, ModelManifestInput, ModelFile, ModelFamily, ModelDtype } from './_manifest.js';

export { listModels, getManifest } from './_registry.js';
export type { RegistryOptions } from './_registry.js';

export { resolveCacheDir, modelsRoot, modelDir } from './_cache.js';
export type { CacheOptions, Sidecar, SidecarFile } from './_cache.js';

export { pullModel, ensureModel, removeModel, modelStatus, DEFAULT_ENDPOINT } from './_pull.js';
export type {
  PullOptions,
  PullProgress,
  PullResult,
  PulledFile,
  EnsureOptions,
  RemoveResult,
  ModelStatus,
} from './_pull.js';
export type { RetryOptions } from './_download.js';

export { verifyModel } from './_verify.js';
export type { VerifyReport, VerifyOptions, VerifyProgress, FileReport, FileStatus, HashSource } from './_verify.js';
