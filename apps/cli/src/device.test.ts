/**
 * `--device webgpu` end to end through the built CLI, on whatever this machine has: with a
 * WebGPU adapter the command runs; without one it ends promptly with DEVICE_UNAVAILABLE and a
 * hint (never a crash or a hang), and `auto` falls through to the CPU, saying so only when asked.
 */
import { describe, expect, it } from 'vitest';
import { makeJpeg, writeTemp } from '@semclip/test-kit/images';
import { semclip } from './_cli-harness.js';

const image = await writeTemp('device-check.jpg', await makeJpeg({ width: 320, height: 240, pattern: 'gradient' }));

describe('--device webgpu', () => {
  it('runs the OCR scorer on a WebGPU adapter, or fails with DEVICE_UNAVAILABLE saying what is needed and how to fall back', async () => {
    const res = await semclip(['select', image, 'What is the wait time?', '--scorer', 'ocr', '--device', 'webgpu', '--json']);
    if (res.code === 0) {
      expect(JSON.parse(res.stdout)).toHaveProperty('scores');
    } else {
      const { error } = JSON.parse(res.stdout) as { error: { code: string; message: string; hint: string } };
      expect(error.code).toBe('DEVICE_UNAVAILABLE');
      expect(error.message).toMatch(/WebGPU execution provider found no GPU adapter: .+/);
      expect(error.hint).toMatch(/Vulkan driver/);
      expect(error.hint).toMatch(/--device cpu/);
      expect(res.stderr).not.toMatch(/\n\s+at /); // no crash, no stack trace
    }
  });

  it('auto falls through to a device that works; --verbose names what it fell back from', async () => {
    const res = await semclip(['select', image, 'What is the wait time?', '--scorer', 'ocr', '--device', 'auto', '--verbose', '--json']);
    expect(res.code).toBe(0);
    if (/running on CPU/.test(res.stderr))
      expect(res.stderr).toMatch(/no CUDA execution provider for onnxruntime-node and no WebGPU adapter \(.+\); running on CPU/);
  });

  it('lists webgpu among the devices', async () => {
    const res = await semclip(['select', image, 'q', '--device', 'gpu']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/cpu, cuda, webgpu, auto|cpu\|cuda\|webgpu\|auto/);
  });
});
