import { describe, expect, it } from 'vitest';
import { SERVER_ENV, mergeServerConfigs, resolveServerConfig, serverConfigFromEnv } from './index.js';

describe('SEMCLIP_DEVICE', () => {
  it('sets where scorer models run, webgpu included', () => {
    expect(serverConfigFromEnv({ SEMCLIP_DEVICE: 'webgpu' }).scorerOptions).toEqual({ device: 'webgpu' });
    expect(serverConfigFromEnv({ SEMCLIP_DEVICE: ' CUDA ' }).scorerOptions).toEqual({ device: 'cuda' });
    expect(SERVER_ENV.SEMCLIP_DEVICE).toMatch(/cpu, cuda, webgpu or auto/);
  });

  it('refuses an unknown device naming the choices', () => {
    expect(() => serverConfigFromEnv({ SEMCLIP_DEVICE: 'gpu' })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', expected: expect.stringContaining('cpu, cuda, webgpu, auto') }),
    );
  });

  it('survives flags that set other scorer options, and --device overrides it', () => {
    const warn = (): void => undefined;
    const env = serverConfigFromEnv({ SEMCLIP_DEVICE: 'webgpu' });
    expect(resolveServerConfig(mergeServerConfigs(env, { scorer: 'random', scorerOptions: { seed: 3, warn } })).scorerOptions).toEqual({
      device: 'webgpu',
      seed: 3,
      warn,
    });
    expect(mergeServerConfigs(env, { scorerOptions: { device: 'cpu' } }).scorerOptions).toEqual({ device: 'cpu' });
  });
});
