/**
 * The root entry names types and devices: it must not load ONNX Runtime, transformers.js or the
 * OCR engine; those load with a family's subpath.
 * Checked on the built files (what users load), following static imports only: families
 * are behind `import()` on purpose.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');

function staticPackages(entry: string): string[] {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
      else if (!builtinModules.includes(spec.replace(/^node:/, ''))) packages.add(spec);
    }
  }
  return [...packages].sort();
}

describe('@semclip/scorers entry weight', () => {
  const built = existsSync(path.join(dist, 'index.js'));
  // turbo builds before `test`; a bare `vitest run` without dist/ has nothing to check.
  it.skipIf(!built)('the root entry statically loads only the light @semclip/runtime root (and Node built-ins)', () => {
    expect(staticPackages(path.join(dist, 'index.js'))).toEqual(['@semclip/runtime']);
  });

  it.skipIf(!built)('a model family does load the heavy parts (the check sees static imports)', () => {
    expect(staticPackages(path.join(dist, 'ocr.js'))).toContain('@semclip/runtime/onnx');
    expect(staticPackages(path.join(dist, 'clip.js'))).toContain('@huggingface/transformers');
  });

  it('resolves the cpu device without loading ONNX Runtime', async () => {
    const { resolveDevice } = await import('./index.js');
    expect(resolveDevice('cpu')).toBe('cpu');
  });
});
