/**
 * CLIP towers opened through transformers.js on WebGPU where no adapter exists fail as a device
 * problem (DEVICE_UNAVAILABLE with the hint), not as a broken model (MODEL_INVALID).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { probeWebGpu } from '@semclip/runtime';
import { makeTinyClip, writeModelFiles } from '@semclip/test-kit/onnx-models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkModelFolder, loadModel } from './_model.js';
import type { ModelLocation } from './_model.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'semclip-clip-webgpu-'));
  await writeModelFiles(dir, makeTinyClip({ seed: 1 }).files);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('CLIP towers on webgpu', () => {
  it.skipIf(probeWebGpu().available)('without an adapter, the towers fail with DEVICE_UNAVAILABLE, not MODEL_INVALID', async () => {
    const loc: ModelLocation = { dir, id: dir, dtype: 'fp32', fix: 'none' };
    const config = await checkModelFolder('clip', loc);
    await expect(loadModel('clip', loc, config, 'webgpu', undefined)).rejects.toMatchObject({
      code: 'DEVICE_UNAVAILABLE',
      message: expect.stringMatching(/could not start its WebGPU execution provider/),
      hint: expect.stringMatching(/--device cpu/),
    });
  });
});
