/**
 * The root entry and the scorers entry must not load transformers.js or ONNX Runtime: people
 * who only use the openai backend, or only name the local runner's types, never pay for them.
 * Checked on the sources (every static import reachable from the entry) and, once built, by
 * importing dist/ with those two packages made unresolvable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEAVY = ['@huggingface/transformers', 'onnxruntime-node'];

/** Modules loaded by `entry` through static imports and re-exports that survive compilation (not `import type`). */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
    for (const node of source.statements) {
      let specifier: string | undefined;
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier) specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      if (!specifier) continue;
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('entry weight', () => {
  it.each(['src/index.ts', 'src/scorers/index.ts', 'src/openai/index.ts'])('%s statically imports neither transformers.js nor onnxruntime-node', (entry) => {
    const { files, packages } = staticGraph(path.join(pkg, entry));
    for (const heavy of HEAVY) expect(packages).not.toContain(heavy);
    // The local backend (which loads transformers.js on first use) is reached only through import().
    expect([...files].some((f) => f.includes(`${path.sep}local${path.sep}`) || f.includes(`${path.sep}backends${path.sep}`))).toBe(false);
  });

  it('catches a static import of transformers.js (the check itself works)', () => {
    const { packages } = staticGraph(path.join(pkg, 'src/local/index.ts'));
    expect([...packages]).toEqual(expect.arrayContaining(['@semclip/hub', 'sharp']));
    const { files } = staticGraph(path.join(pkg, 'src/local/index.ts'));
    expect([...files].some((f) => f.endsWith(path.join('backends', 'onnx.ts')))).toBe(true);
  });

  const built = existsSync(path.join(pkg, 'dist/index.js')) && existsSync(path.join(pkg, 'dist/scorers.js'));
  // turbo builds before `test`; a bare `vitest run` without dist/ checks the sources only.
  it.skipIf(!built)('the built root and scorers entries import with transformers.js and onnxruntime-node unresolvable', () => {
    const hooks = `export async function resolve(specifier, context, next) {
      if (${JSON.stringify(HEAVY)}.some((h) => specifier === h || specifier.startsWith(h + '/'))) throw new Error('blocked: ' + specifier);
      return next(specifier, context);
    }`;
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
      const root = await import(${JSON.stringify(path.join(pkg, 'dist/index.js'))});
      const scorers = await import(${JSON.stringify(path.join(pkg, 'dist/scorers.js'))});
      let blocked = false;
      try { await import('@huggingface/transformers'); } catch (err) { blocked = /blocked/.test(String(err)); }
      console.log(JSON.stringify({ root: typeof root.createRunner, scorers: [typeof scorers.createVlmEmbedScorer, typeof scorers.createVlmYesNoScorer], blocked }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: pkg, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ root: 'function', scorers: ['function', 'function'], blocked: true });
  });
});
