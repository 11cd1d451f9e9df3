import type { Options } from 'tsup';

/**
 * The one tsup configuration every package builds with: ESM, type declarations,
 * Node 20 target. Packages pass only their entry points.
 */
export function defineSemclipConfig(entry: Record<string, string> | string[], extra: Partial<Options> = {}): Options {
  return {
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    ...extra,
  };
}
