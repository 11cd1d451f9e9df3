/**
 * The OCR scorer on `device: 'webgpu'`, on whatever this machine has: it runs where WebGPU finds
 * an adapter, else it fails with DEVICE_UNAVAILABLE (never MODEL_INVALID, a crash or a hang).
 */
import { probeWebGpu } from '@semclip/runtime';
import { describe, expect, it } from 'vitest';
import { createOcrScorer } from './index.js';

describe('OCR scorer on webgpu', () => {
  it('opens its sessions on a WebGPU adapter, or fails with DEVICE_UNAVAILABLE and a hint', async () => {
    if (probeWebGpu().available) {
      const scorer = await createOcrScorer({ device: 'webgpu', warn: () => {} });
      await scorer.dispose();
    } else {
      await expect(createOcrScorer({ device: 'webgpu', warn: () => {} })).rejects.toMatchObject({
        code: 'DEVICE_UNAVAILABLE',
        message: expect.stringMatching(/WebGPU execution provider found no GPU adapter/),
        hint: expect.stringMatching(/Vulkan.*--device cpu/s),
      });
    }
  });
});
