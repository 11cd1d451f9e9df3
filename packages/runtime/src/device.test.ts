import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVICES, cudaProviderInstalled, probeProvider, probeWebGpu, resetDeviceWarning, resolveDevice, webgpuPrecheck } from './index.js';
import type { DeviceProbes, ProbeResult } from './index.js';

describe('resolveDevice', () => {
  it('knows cpu, cuda, webgpu and auto', () => {
    expect(DEVICES).toEqual(['cpu', 'cuda', 'webgpu', 'auto']);
    expect(resolveDevice('cpu')).toBe('cpu');
  });

  it('rejects an unknown device with the choices', () => {
    expect(() => resolveDevice('gpu' as never)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT', expected: 'one of cpu, cuda, webgpu, auto' }));
  });

  it.skipIf(cudaProviderInstalled())('fails with DEVICE_UNAVAILABLE for cuda without the CUDA provider, saying how to install it', () => {
    expect(() => resolveDevice('cuda')).toThrowError(
      expect.objectContaining({ code: 'DEVICE_UNAVAILABLE', hint: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=cuda12') }),
    );
  });

  it.skipIf(cudaProviderInstalled() || probeWebGpu({ quick: true }).available)(
    'falls back to CPU for auto quietly by default: no notice, no Node warning',
    () => {
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
    },
  );

  it.skipIf(cudaProviderInstalled())('with SEMCLIP_DEVICE_NOTICE=1, says it falls back to CPU once per process', () => {
    const saved = process.env.SEMCLIP_DEVICE_NOTICE;
    process.env.SEMCLIP_DEVICE_NOTICE = '1';
    try {
      resetDeviceWarning();
      const notes: string[] = [];
      const noGpu = { webgpu: () => ({ available: false, reason: 'the Vulkan loader (libvulkan.so.1) is not installed' }) };
      expect(resolveDevice('auto', (m) => notes.push(m), noGpu)).toBe('cpu');
      expect(resolveDevice('auto', (m) => notes.push(m), noGpu)).toBe('cpu');
      expect(notes).toEqual([
        'SemClip: no CUDA execution provider for onnxruntime-node and no WebGPU adapter (the Vulkan loader (libvulkan.so.1) is not installed); running on CPU.',
      ]);
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

/** Probes that record what `resolveDevice` asked, answering as told. */
function fakeProbes(cuda: boolean, webgpu: ProbeResult): { probes: DeviceProbes; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    probes: {
      cuda: () => {
        asked.push('cuda');
        return cuda;
      },
      webgpu: ({ quick }) => {
        asked.push(quick ? 'webgpu(quick)' : 'webgpu');
        return webgpu;
      },
    },
  };
}

describe('resolveDevice with webgpu (injected probes)', () => {
  const yes: ProbeResult = { available: true };
  const no: ProbeResult = { available: false, reason: 'Failed to get a WebGPU adapter: No supported adapters' };

  it('auto takes CUDA first and never starts the WebGPU probe then', () => {
    const { probes, asked } = fakeProbes(true, yes);
    expect(resolveDevice('auto', () => undefined, probes)).toBe('cuda');
    expect(asked).toEqual(['cuda']);
  });

  it('auto takes WebGPU after CUDA, with the quick probe', () => {
    const { probes, asked } = fakeProbes(false, yes);
    expect(resolveDevice('auto', () => undefined, probes)).toBe('webgpu');
    expect(asked).toEqual(['cuda', 'webgpu(quick)']);
  });

  it('auto falls through to the CPU when neither is there, quietly without SEMCLIP_DEVICE_NOTICE', () => {
    const saved = process.env.SEMCLIP_DEVICE_NOTICE;
    delete process.env.SEMCLIP_DEVICE_NOTICE;
    try {
      resetDeviceWarning();
      const { probes, asked } = fakeProbes(false, no);
      const notes: string[] = [];
      expect(resolveDevice('auto', (m) => notes.push(m), probes)).toBe('cpu');
      expect(asked).toEqual(['cuda', 'webgpu(quick)']);
      expect(notes).toEqual([]);
    } finally {
      if (saved !== undefined) process.env.SEMCLIP_DEVICE_NOTICE = saved;
    }
  });

  it('webgpu asks the full probe only, and is webgpu when it finds an adapter', () => {
    const { probes, asked } = fakeProbes(true, yes);
    expect(resolveDevice('webgpu', () => undefined, probes)).toBe('webgpu');
    expect(asked).toEqual(['webgpu']);
  });

  it('webgpu without an adapter is DEVICE_UNAVAILABLE saying what was tried, what is needed and how to fall back', () => {
    const { probes } = fakeProbes(true, no);
    expect(() => resolveDevice('webgpu', () => undefined, probes)).toThrowError(
      expect.objectContaining({
        code: 'DEVICE_UNAVAILABLE',
        message: expect.stringContaining('WebGPU execution provider found no GPU adapter: Failed to get a WebGPU adapter: No supported adapters.'),
        hint: expect.stringMatching(/Vulkan driver.*scripts\/device-check\.sh.*--device cpu.*--device auto/s),
        details: { tried: 'webgpu', reason: no.reason },
      }),
    );
  });

  it('cuda never falls to webgpu', () => {
    const { probes, asked } = fakeProbes(false, yes);
    expect(() => resolveDevice('cuda', () => undefined, probes)).toThrowError(expect.objectContaining({ code: 'DEVICE_UNAVAILABLE' }));
    expect(asked).toEqual(['cuda']);
  });
});

describe('the WebGPU probe on this machine (real onnxruntime-node, in a child process)', () => {
  it('the probe machinery works: the probe model opens and computes on the CPU provider', () => {
    expect(probeProvider('cpu')).toEqual({ available: true });
  });

  it("an unknown provider is unavailable with ONNX Runtime's reason, not a crash", () => {
    const r = probeProvider('no-such-provider');
    expect(r.available).toBe(false);
    expect(r.reason).toMatch(/no-such-provider/);
  });

  it('--device webgpu either finds an adapter or fails with DEVICE_UNAVAILABLE and the reason', () => {
    const found = probeWebGpu();
    if (found.available) {
      expect(resolveDevice('webgpu')).toBe('webgpu');
    } else {
      expect(found.reason).toMatch(/\S/);
      expect(() => resolveDevice('webgpu')).toThrowError(
        expect.objectContaining({ code: 'DEVICE_UNAVAILABLE', message: expect.stringContaining(found.reason!), hint: expect.stringContaining('--device cpu') }),
      );
    }
  });

  it('caches the probe: asking again starts no process', () => {
    const first = probeWebGpu();
    const again = probeWebGpu();
    const quick = probeWebGpu({ quick: true });
    // A cached answer is the same object; a new probe would be a new one.
    expect(again).toBe(first);
    expect(quick).toBe(first);
  });

  it.runIf(process.platform === 'linux')('the quick check agrees with the probe when it rules WebGPU out', () => {
    const why = webgpuPrecheck();
    if (why) expect(probeWebGpu().available).toBe(false);
  });

  const built = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'dist/index.js');
  it.skipIf(!existsSync(built))('a process that asked for WebGPU (and got it or not) still exits by itself', () => {
    const code = `import { probeWebGpu } from ${JSON.stringify(built)}; console.log(JSON.stringify(probeWebGpu()));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toHaveProperty('available');
  });
});
