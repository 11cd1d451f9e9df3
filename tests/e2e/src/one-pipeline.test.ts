/**
 * "One pipeline": no command, route or run composes the SemClip flow itself. Each entry
 * point's module graph (value imports only, static and dynamic, across workspace packages)
 * is followed from source; it stops at @semclip/pipeline. An entry that still reaches
 * tiling + scorers + selector on its own is composing the flow again.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

/** Workspace package name -> its folder. */
function workspacePackages(): Map<string, string> {
  const out = new Map<string, string>();
  for (const group of ['packages', 'apps', 'tests']) {
    for (const name of readdirSync(join(ROOT, group))) {
      const manifest = join(ROOT, group, name, 'package.json');
      if (existsSync(manifest)) out.set((JSON.parse(readFileSync(manifest, 'utf8')) as { name: string }).name, join(ROOT, group, name));
    }
  }
  return out;
}
const PACKAGES = workspacePackages();

/** The source file a package specifier (`@semclip/x` or `@semclip/x/sub`) points at, via its tsup entries. */
function packageEntry(spec: string): string | undefined {
  const [scope, name, ...rest] = spec.split('/');
  const dir = PACKAGES.get(`${scope}/${name}`);
  if (!dir) return undefined;
  const sub = rest.join('/');
  const tsup = existsSync(join(dir, 'tsup.config.ts')) ? readFileSync(join(dir, 'tsup.config.ts'), 'utf8') : '';
  // Entries are written as { name: 'src/file.ts' }; the root entry is `index`.
  const key = sub === '' ? 'index' : sub;
  const m = new RegExp(`['"]?${key.replace(/[-/]/g, '\\$&')}['"]?\\s*:\\s*['"]([^'"]+)['"]`).exec(tsup);
  const file = m ? join(dir, m[1] as string) : join(dir, 'src', sub === '' ? 'index.ts' : `${sub}/index.ts`);
  return existsSync(file) ? file : undefined;
}

function resolveRelative(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts'), base]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Value imports of a file: `import x from`, `import { a, type B } from`, `export { a } from`, `import('x')`; not `import type` / `export type`. */
export function valueImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([\s\S]*?)\s+from\s+['"]([^'"]+)['"]/gm)) {
    if (m[2]) continue;
    const clause = m[3] as string;
    // `import { type A, type B } from` brings in no value.
    const names = /^\{([\s\S]*)\}$/.exec(clause.trim());
    if (names && (names[1] as string).split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    out.push(m[4] as string);
  }
  for (const m of code.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  return out;
}

/** The workspace packages an entry's graph reaches, not looking inside `stopAt`. */
export function reachedPackages(entry: string, stopAt: readonly string[] = ['@semclip/pipeline']): Set<string> {
  const reached = new Set<string>();
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of valueImports(readFileSync(file, 'utf8'))) {
      let next: string | undefined;
      if (spec.startsWith('.')) next = resolveRelative(file, spec);
      else if (spec.startsWith('@semclip/')) {
        const pkg = spec.split('/').slice(0, 2).join('/');
        reached.add(pkg);
        if (stopAt.includes(pkg)) continue;
        next = packageEntry(spec);
      }
      if (next) stack.push(next);
    }
  }
  return reached;
}

const FLOW = ['@semclip/tiling', '@semclip/scorers', '@semclip/selector'] as const;
const composesFlow = (reached: Set<string>) => FLOW.every((p) => reached.has(p));

const commands = readdirSync(join(ROOT, 'apps/cli/src/commands'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => `apps/cli/src/commands/${f}`);
const ENTRIES = [...commands, 'apps/cli/src/cli.ts', 'apps/server/src/index.ts', 'packages/eval/src/index.ts', 'packages/trainer/src/index.ts'];

describe('the module-graph check itself', () => {
  it('sees the flow inside the pipeline when it does not stop there', () => {
    const reached = reachedPackages(join(ROOT, 'packages/pipeline/src/index.ts'), []);
    expect([...FLOW].filter((p) => !reached.has(p))).toEqual([]);
  });

  it('reads value imports and skips type-only ones', () => {
    const src = [
      "import type { A } from '@semclip/a';",
      "import { type B, type C } from '@semclip/b';",
      "import { d, type E } from '@semclip/d';",
      "export type { F } from '@semclip/f';",
      "export { g } from './g.js';",
      "const h = await import('@semclip/h');",
      "// import x from '@semclip/comment';",
    ].join('\n');
    expect(valueImports(src).sort()).toEqual(['./g.js', '@semclip/d', '@semclip/h']);
  });
});

describe('no command, route or run composes the flow itself', () => {
  it.each(ENTRIES)('%s reaches tiling + scorers + selector only through @semclip/pipeline', (entry) => {
    const reached = reachedPackages(join(ROOT, entry));
    expect(composesFlow(reached), `${entry} reaches ${[...reached].sort().join(', ')}`).toBe(false);
  });

  it.each([
    'apps/cli/src/commands/select.ts',
    'apps/cli/src/commands/ask.ts',
    'apps/cli/src/commands/eval.ts',
    'apps/cli/src/commands/label.ts',
    'apps/server/src/index.ts',
    'packages/trainer/src/index.ts',
  ])('%s goes through @semclip/pipeline', (entry) => {
    expect(reachedPackages(join(ROOT, entry)).has('@semclip/pipeline')).toBe(true);
  });

  it('keeps @semclip/eval free of the image and model packages (it is handed the stages)', () => {
    const reached = reachedPackages(join(ROOT, 'packages/eval/src/index.ts'), []);
    expect(
      [...reached].filter((p) => ['@semclip/tiling', '@semclip/scorers', '@semclip/selector', '@semclip/vlm-runner', '@semclip/pipeline'].includes(p)),
    ).toEqual([]);
  });
});
