import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'DEFAULT_ENDPOINT',
    'MODEL_DTYPES',
    'MODEL_FAMILIES',
    'defineManifest',
    'ensureModel',
    'getManifest',
    'listModels',
    'modelDir',
    'modelStatus',
    'modelsRoot',
    'parseManifest',
    'pullModel',
    'removeModel',
    'resolveCacheDir',
    'verifyModel',
  ]);
});
