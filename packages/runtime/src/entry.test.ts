/**
 * Both entries must stay light: the root (devices, dtypes, caches) never loads ONNX Runtime or
 * transformers.js, and `onnx` loads onnxruntime-node only through `import()` inside session
 * creation. Checked on the sources and, once built, on dist/ (what users load), following
 * static imports and re-exports; dynamic `import()`s are collected separately.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Reach {
  /** Packages loaded when the entry is imported (static imports and re-exports, not `import type`). */
  readonly packages: string[];
  /** Packages loaded later, by `import()`. */
  readonly dynamic: string[];
}

function reach(entry: string, mapRelative: (spec: string) => string): Reach {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const dynamic = new Set<string>();
  const statics = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  const dynamics = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(statics)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), mapRelative(spec)));
      else if (!builtinModules.includes(spec.replace(/^node:/, ''))) packages.add(spec);
    }
    for (const m of text.matchAll(dynamics)) dynamic.add(m[1]!);
  }
  return { packages: [...packages].sort(), dynamic: [...dynamic].sort() };
}

const fromSource = (spec: string) => spec.replace(/\.js$/, '.ts');
const asIs = (spec: string) => spec;

describe('@semclip/runtime entry weight', () => {
  it('the root entry reaches only @semclip/core (sources), with no import()', () => {
    expect(reach(path.join(pkg, 'src/index.ts'), fromSource)).toEqual({ packages: ['@semclip/core'], dynamic: [] });
  });

  it('the onnx entry loads onnxruntime-node only through import() (sources)', () => {
    expect(reach(path.join(pkg, 'src/onnx.ts'), fromSource)).toEqual({ packages: ['@semclip/core'], dynamic: ['onnxruntime-node'] });
  });

  const built = existsSync(path.join(pkg, 'dist/index.js')) && existsSync(path.join(pkg, 'dist/onnx.js'));
  // turbo builds before `test`; a bare `vitest run` without dist/ checks the sources only.
  it.skipIf(!built)('the built entries import the same', () => {
    expect(reach(path.join(pkg, 'dist/index.js'), asIs)).toEqual({ packages: ['@semclip/core'], dynamic: [] });
    expect(reach(path.join(pkg, 'dist/onnx.js'), asIs)).toEqual({ packages: ['@semclip/core'], dynamic: ['onnxruntime-node'] });
  });

  it('resolves the cpu device and reads the caches without loading ONNX Runtime', async () => {
    const { resolveDevice, LruCache } = await import('./index.js');
    expect(resolveDevice('cpu')).toBe('cpu');
    expect(new LruCache<string, number>({ maxEntries: 1 }).size).toBe(0);
  });
});
