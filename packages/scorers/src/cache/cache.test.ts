/**
 * `@semclip/scorers/cache` is for scorers written elsewhere: it must stay light. Checked by
 * following every import (static, re-export and `import()`) from the entry, in the sources and,
 * once built, in dist/ (what users load, chunks included).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TileSource } from '@semclip/core';
import { LruCache, TileEmbeddingCache } from './index.js';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Packages and files reached from `entry` by imports that load code at runtime. `mapRelative`
 * turns a relative specifier into a file (sources: `.js` -> `.ts`). Type-only imports are skipped.
 */
function reach(entry: string, mapRelative: (spec: string) => string): { packages: string[]; files: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pattern = /(?:^|;|\n)\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(pattern)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), mapRelative(spec)));
      else packages.add(spec);
    }
  }
  return { packages: [...packages].sort(), files: [...files].map((f) => path.relative(pkg, f)).sort() };
}

const fromSource = (spec: string) => spec.replace(/\.js$/, '.ts');

describe('@semclip/scorers/cache', () => {
  it('reaches only @semclip/core from the sources', () => {
    expect(reach(path.join(pkg, 'src/cache/index.ts'), fromSource)).toEqual({
      packages: ['@semclip/core'],
      files: [path.join('src', '_embedding-cache.ts'), path.join('src', 'cache', 'index.ts')],
    });
  });

  it('sees a heavy import (the check itself works)', () => {
    expect(reach(path.join(pkg, 'src/clip/index.ts'), fromSource).packages).toContain('@huggingface/transformers');
  });

  it('gives the same classes the CLIP scorers use, working', async () => {
    const texts = new LruCache<string, number>({ maxEntries: 1 });
    texts.set('a', 1);
    texts.set('b', 2);
    expect([texts.get('a'), texts.get('b')]).toEqual([undefined, 2]);
    const tiles = new TileEmbeddingCache({ maxEntries: 10 }, 'm');
    const source = { id: 'img', gridKey: '1x2', grid: { tiles: [{}, {}] } } as unknown as TileSource;
    let calls = 0;
    const encode = async (missing: readonly number[]) => {
      calls += 1;
      return missing.map((i) => Float32Array.of(i));
    };
    expect(await tiles.embed(source, encode)).toMatchObject({ cacheHits: 0, encoded: 2 });
    expect(await tiles.embed(source, encode)).toMatchObject({ cacheHits: 2, encoded: 0 });
    expect(calls).toBe(1);
  });

  const built = existsSync(path.join(pkg, 'dist/cache.js'));
  // turbo builds before `test`; a bare `vitest run` without dist/ checks the sources only.
  it.skipIf(!built)('the built dist/cache.js and its chunks import only @semclip/core', () => {
    const { packages, files } = reach(path.join(pkg, 'dist/cache.js'), (spec) => spec);
    expect(packages).toEqual(['@semclip/core']);
    expect(files.length).toBeLessThanOrEqual(3); // the entry and the chunk it shares with clip/siglip
    // The same walk over dist/clip.js does find transformers.js (static or import()): the check sees built code.
    expect(reach(path.join(pkg, 'dist/clip.js'), (spec) => spec).packages).toContain('@huggingface/transformers');
  });
});
