/** The public names of both entries: adding or removing one is a deliberate API change. */
import { describe, expect, it } from 'vitest';

describe('@semclip/runtime exports', () => {
  it('the root entry', async () => {
    expect(Object.keys(await import('./index.js')).sort()).toEqual([
      'DEVICES',
      'DTYPES',
      'DTYPE_SUFFIX',
      'LruCache',
      'TileEmbeddingCache',
      'assertFinite',
      'cudaProviderInstalled',
      'isDtype',
      'onnxFileName',
      'probeProvider',
      'probeWebGpu',
      'resetDeviceWarning',
      'resolveDevice',
      'webgpuPrecheck',
    ]);
  });

  it('the onnx entry', async () => {
    expect(Object.keys(await import('./onnx.js')).sort()).toEqual(['createSession', 'gpuUnavailable', 'loadOnnxRuntime', 'transformersSessionSettings']);
  });
});
