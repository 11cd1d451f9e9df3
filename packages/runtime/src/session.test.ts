import { describe, expect, it, vi } from 'vitest';
import { assertFinite, probeWebGpu } from './index.js';
import { createSession, gpuUnavailable, loadOnnxRuntime, transformersSessionSettings } from './onnx.js';

/** y = x + x for a float32[2] x (the device probe's model). */
const ADD_MODEL = Buffer.from('CAgSDXNlbWNsaXAtcHJvYmU6PgoTCgF4CgF4EgF5GgNhZGQiA0FkZBIFcHJvYmVaDwoBeBIKCggIARIECgIIAmIPCgF5EgoKCAgBEgQKAggCQgQKABAR', 'base64');

describe('createSession', () => {
  it('fails with MODEL_INVALID, saying how to fix it, for bytes that are not an ONNX model', async () => {
    await expect(createSession(new Uint8Array([1, 2, 3, 4]), { device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringContaining('ONNX Runtime could not load the model from memory'),
      hint: expect.stringContaining('semclip models pull'),
    });
  });

  it('fails with MODEL_INVALID naming a missing file', async () => {
    await expect(createSession('/nonexistent/model.onnx', { device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringContaining('"/nonexistent/model.onnx"'),
    });
  });

  it('turns the CPU memory arena and the memory pattern off when asked, and leaves ONNX Runtime its defaults otherwise', async () => {
    const ort = await loadOnnxRuntime();
    const spy = vi.spyOn(ort.InferenceSession, 'create');
    try {
      await createSession(new Uint8Array([1, 2, 3, 4]), { device: 'cpu', cpuMemArena: false, memPattern: false }).catch(() => undefined);
      await createSession(new Uint8Array([1, 2, 3, 4]), { device: 'cpu' }).catch(() => undefined);
      expect(spy.mock.calls[0]![1]).toMatchObject({ enableCpuMemArena: false, enableMemPattern: false, graphOptimizationLevel: 'all' });
      expect(spy.mock.calls[1]![1]).not.toHaveProperty('enableCpuMemArena');
      expect(spy.mock.calls[1]![1]).not.toHaveProperty('enableMemPattern');
    } finally {
      spy.mockRestore();
    }
  });

  it('runs a model on the CPU', async () => {
    const ort = await loadOnnxRuntime();
    const session = await createSession(ADD_MODEL, { device: 'cpu' });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 4]);
    await session.dispose();
  });

  it('opens WebGPU sessions with the CPU provider behind, and no adapter is DEVICE_UNAVAILABLE, not MODEL_INVALID', async () => {
    const ort = await loadOnnxRuntime();
    const spy = vi.spyOn(ort.InferenceSession, 'create');
    try {
      const opened = createSession(ADD_MODEL, { device: 'webgpu' });
      if (probeWebGpu().available) {
        await (await opened).dispose();
      } else {
        await expect(opened).rejects.toMatchObject({ code: 'DEVICE_UNAVAILABLE', hint: expect.stringContaining('--device cpu') });
      }
      expect(spy.mock.calls[0]![1]).toMatchObject({ executionProviders: ['webgpu', 'cpu'] });
    } finally {
      spy.mockRestore();
    }
  });

  it('loads onnxruntime-node once, on demand', async () => {
    const [a, b] = await Promise.all([loadOnnxRuntime(), loadOnnxRuntime()]);
    expect(a).toBe(b);
    expect(new a.Tensor('float32', Float32Array.of(1, 2), [2]).dims).toEqual([2]);
  });
});

describe('transformersSessionSettings', () => {
  it('gives transformers.js the execution providers, optimisation level and threads createSession uses', () => {
    expect(transformersSessionSettings('cuda', { dtype: 'q8', intraOpNumThreads: 2 })).toEqual({
      device: 'cuda',
      dtype: 'q8',
      session_options: { executionProviders: ['cuda', 'cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 2 },
    });
    expect(transformersSessionSettings('cpu')).toEqual({ device: 'cpu', session_options: { executionProviders: ['cpu'], graphOptimizationLevel: 'all' } });
  });

  it('puts WebGPU first with the CPU behind it', () => {
    expect(transformersSessionSettings('webgpu').session_options.executionProviders).toEqual(['webgpu', 'cpu']);
  });

  it('passes a per-session dtype through', () => {
    expect(transformersSessionSettings('cpu', { dtype: { vision_encoder: 'fp16', decoder_model_merged: 'q4' } }).dtype).toEqual({
      vision_encoder: 'fp16',
      decoder_model_merged: 'q4',
    });
  });
});

describe('gpuUnavailable', () => {
  it('tells a GPU provider that could not start from a broken model', () => {
    const adapter = new Error(
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 ... was false. Failed to get a WebGPU adapter: No supported adapters',
    );
    expect(gpuUnavailable('webgpu', adapter)).toMatchObject({
      code: 'DEVICE_UNAVAILABLE',
      message: expect.stringMatching(/^ONNX Runtime could not start its WebGPU execution provider: Failed to get a WebGPU adapter: No supported adapters/),
    });
    expect(gpuUnavailable('webgpu', new Error('Protobuf parsing failed.'))).toBeUndefined();
    expect(gpuUnavailable('cpu', adapter)).toBeUndefined();
  });
});

describe('assertFinite', () => {
  it('passes finite values and names the first NaN or Infinity', () => {
    expect(() => assertFinite(Float32Array.of(0, -1, 3.5), 'x')).not.toThrow();
    expect(() => assertFinite([0, Number.NaN], 'The head output')).toThrowError(
      expect.objectContaining({ code: 'MODEL_OUTPUT_INVALID', message: expect.stringContaining('The head output contains NaN at position 1.') }),
    );
    expect(() => assertFinite([Number.POSITIVE_INFINITY], 'y')).toThrowError(/Infinity at position 0/);
  });
});
