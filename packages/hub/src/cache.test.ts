import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir, modelsRoot, resolveCacheDir } from './index.js';

describe('resolveCacheDir', () => {
  it.each([
    { why: 'SEMCLIP_CACHE_DIR wins', env: { SEMCLIP_CACHE_DIR: '/data/semclip', XDG_CACHE_HOME: '/xdg' }, want: '/data/semclip' },
    { why: 'XDG_CACHE_HOME is next', env: { XDG_CACHE_HOME: '/xdg' }, want: '/xdg/semclip' },
    { why: 'a relative XDG_CACHE_HOME is ignored (XDG spec)', env: { XDG_CACHE_HOME: 'rel', HOME: '/home/u' }, want: '/home/u/.cache/semclip' },
    { why: 'HOME/.cache is the default', env: { HOME: '/home/u' }, want: '/home/u/.cache/semclip' },
    { why: 'an empty SEMCLIP_CACHE_DIR is unset', env: { SEMCLIP_CACHE_DIR: '', HOME: '/home/u' }, want: '/home/u/.cache/semclip' },
  ])('$why', ({ env, want }) => {
    expect(resolveCacheDir(env)).toBe(want);
  });

  it('resolves a relative SEMCLIP_CACHE_DIR against the working directory', () => {
    expect(resolveCacheDir({ SEMCLIP_CACHE_DIR: 'cache' })).toBe(path.resolve('cache'));
  });

  it('falls back to the home directory when nothing is set', () => {
    expect(resolveCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'semclip'));
  });

  it('refuses a cache inside node_modules (INVALID_ARGUMENT)', () => {
    expect(() => resolveCacheDir({ SEMCLIP_CACHE_DIR: '/app/node_modules/.cache/semclip' })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('node_modules') }),
    );
  });
});

describe('cache layout', () => {
  it('puts a model at <cacheDir>/models/<repo>, the path transformers.js reads with localModelPath', () => {
    const opts = { env: { SEMCLIP_CACHE_DIR: '/c' } };
    expect(modelsRoot(opts)).toBe('/c/models');
    expect(modelDir('clip-vit-base-patch32', opts)).toBe('/c/models/Xenova/clip-vit-base-patch32');
    expect(modelDir('siglip-base-patch16-224', { cacheDir: '/x' })).toBe('/x/models/Xenova/siglip-base-patch16-224');
  });

  it('throws UNKNOWN_MODEL for an unknown id', () => {
    expect(() => modelDir('nope', { env: {} })).toThrowError(expect.objectContaining({ code: 'UNKNOWN_MODEL' }));
  });
});
