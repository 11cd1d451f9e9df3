/**
 * A local VLM on `device: 'webgpu'`, on whatever this machine has: it loads where WebGPU finds an
 * adapter, else it fails with DEVICE_UNAVAILABLE before any session is opened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeWebGpu } from '@semclip/runtime';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from './_load.js';
import { createLocalRunner } from './index.js';

let root: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'semclip-webgpu-'));
  await writeTinyLlava(path.join(root, 'm'), { seed: 3 });
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('local runner on webgpu', () => {
  it('loads on a WebGPU adapter, or fails with DEVICE_UNAVAILABLE and a hint', async () => {
    const model = path.join(root, 'm');
    if (probeWebGpu().available) {
      const runner = await createLocalRunner({ model, device: 'webgpu', maxTokens: 4 });
      await runner.dispose();
    } else {
      await expect(createLocalRunner({ model, device: 'webgpu', maxTokens: 4 })).rejects.toMatchObject({
        code: 'DEVICE_UNAVAILABLE',
        message: expect.stringMatching(/WebGPU execution provider found no GPU adapter/),
        hint: expect.stringMatching(/--device cpu/),
      });
    }
  });

  it.skipIf(probeWebGpu().available)('without an adapter, sessions opened on webgpu anyway fail with DEVICE_UNAVAILABLE, not MODEL_INVALID', async () => {
    await expect(loadModel({ model: path.join(root, 'm'), maxTokens: 4 }, 'webgpu', 32)).rejects.toMatchObject({
      code: 'DEVICE_UNAVAILABLE',
      message: expect.stringMatching(/could not start its WebGPU execution provider/),
    });
  });
});
