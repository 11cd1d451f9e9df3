import { describe, expect, it } from 'vitest';
import { DEVICES, cudaProviderInstalled, resetDeviceWarning, resolveDevice } from './index.js';

describe('resolveDevice', () => {
  it('knows cpu, cuda and auto', () => {
    expect(DEVICES).toEqual(['cpu', 'cuda', 'auto']);
    expect(resolveDevice('cpu')).toBe('cpu');
  });

  it('rejects an unknown device with the choices', () => {
    expect(() => resolveDevice('gpu' as never)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT', expected: 'one of cpu, cuda, auto' }));
  });

  it.skipIf(cudaProviderInstalled())('fails with DEVICE_UNAVAILABLE for cuda without the CUDA provider, saying how to install it', () => {
    expect(() => resolveDevice('cuda')).toThrowError(
      expect.objectContaining({ code: 'DEVICE_UNAVAILABLE', hint: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=cuda12') }),
    );
  });

  it.skipIf(cudaProviderInstalled())('falls back to CPU for auto and says so once per process', () => {
    resetDeviceWarning();
    const notes: string[] = [];
    expect(resolveDevice('auto', (m) => notes.push(m))).toBe('cpu');
    expect(resolveDevice('auto', (m) => notes.push(m))).toBe('cpu');
    expect(notes).toEqual(['SemClip: no CUDA execution provider for onnxruntime-node; running on CPU.']);
  });

  it.runIf(cudaProviderInstalled())('picks cuda for auto and cuda when the provider is installed', () => {
    expect(resolveDevice('auto')).toBe('cuda');
    expect(resolveDevice('cuda')).toBe('cuda');
  });
});
