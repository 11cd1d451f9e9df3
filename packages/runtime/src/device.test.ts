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

  it.skipIf(cudaProviderInstalled())('falls back to CPU for auto quietly by default: no notice, no Node warning', () => {
    const saved = process.env.SEMCLIP_DEVICE_NOTICE;
    delete process.env.SEMCLIP_DEVICE_NOTICE;
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      resetDeviceWarning();
      const notes: string[] = [];
      expect(resolveDevice('auto', (m) => notes.push(m))).toBe('cpu');
      expect(resolveDevice('auto')).toBe('cpu');
      expect(notes).toEqual([]);
    } finally {
      if (saved !== undefined) process.env.SEMCLIP_DEVICE_NOTICE = saved;
    }
    // process.emitWarning delivers on the next tick
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        process.off('warning', onWarning);
        expect(warnings.filter((w) => (w as { code?: string }).code === 'SEMCLIP_DEVICE')).toEqual([]);
        resolve();
      }),
    );
  });

  it.skipIf(cudaProviderInstalled())('with SEMCLIP_DEVICE_NOTICE=1, says it falls back to CPU once per process', () => {
    const saved = process.env.SEMCLIP_DEVICE_NOTICE;
    process.env.SEMCLIP_DEVICE_NOTICE = '1';
    try {
      resetDeviceWarning();
      const notes: string[] = [];
      expect(resolveDevice('auto', (m) => notes.push(m))).toBe('cpu');
      expect(resolveDevice('auto', (m) => notes.push(m))).toBe('cpu');
      expect(notes).toEqual(['SemClip: no CUDA execution provider for onnxruntime-node; running on CPU.']);
    } finally {
      if (saved === undefined) delete process.env.SEMCLIP_DEVICE_NOTICE;
      else process.env.SEMCLIP_DEVICE_NOTICE = saved;
    }
  });

  it.runIf(cudaProviderInstalled())('picks cuda for auto and cuda when the provider is installed', () => {
    expect(resolveDevice('auto')).toBe('cuda');
    expect(resolveDevice('cuda')).toBe('cuda');
  });
});
