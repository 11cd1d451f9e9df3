// Packaging: what npm users get. Packs @semclip/core and @semclip/tiling with pnpm (which turns
// `workspace:^` into real versions), installs both tarballs into a fresh project outside the
// workspace with npm (sharp comes from the registry or npm's cache), and runs an ESM script
// there that tiles a generated image.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg } from '@semclip/test-kit/images';

const run = promisify(execFile);
const TILING = join(dirname(fileURLToPath(import.meta.url)), '..');
const CORE = join(TILING, '..', 'core');

/** Newest modification time of the non-test sources of a package. */
function newestSource(pkg: string): number {
  const walk = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.ts') ? 0 : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  return Math.max(walk(join(pkg, 'src')), statSync(join(pkg, 'package.json')).mtimeMs);
}

/** `turbo run test` builds first; a direct `vitest run` may find no or stale dist, so build then. */
async function ensureBuilt(pkg: string): Promise<void> {
  const dist = join(pkg, 'dist', 'index.js');
  if (existsSync(dist) && statSync(dist).mtimeMs >= newestSource(pkg)) return;
  await run('pnpm', ['exec', 'tsup'], { cwd: pkg, timeout: 120_000 });
}

describe('npm package', () => {
  let dir: string;
  let tarballs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'semclip-pack-'));
    for (const pkg of [CORE, TILING]) {
      await ensureBuilt(pkg);
      await run('pnpm', ['pack', '--pack-destination', dir], { cwd: pkg, timeout: 120_000 });
    }
    tarballs = (await readdir(dir)).filter((f) => f.endsWith('.tgz')).sort();
  }, 240_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('packs only the build output, README and package.json, with workspace ranges resolved', async () => {
    expect(tarballs).toEqual([expect.stringMatching(/^semclip-core-.*\.tgz$/), expect.stringMatching(/^semclip-tiling-.*\.tgz$/)]);
    const tiling = join(dir, tarballs[1]!);
    const { stdout: list } = await run('tar', ['-tzf', tiling]);
    const files = list.trim().split('\n').sort();
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    expect(files.filter((f) => /\.test\.|\/src\/|bench\//.test(f))).toEqual([]);
    const { stdout: manifest } = await run('tar', ['-xzOf', tiling, 'package/package.json']);
    const pkg = JSON.parse(manifest) as { dependencies: Record<string, string> };
    expect(pkg.dependencies['@semclip/core']).not.toMatch(/workspace:/);
    expect(pkg.dependencies.sharp).toMatch(/0\.35/);
  });

  it('installs outside the workspace with npm and tiles an image from an ESM script', async () => {
    const project = join(dir, 'consumer');
    await run('mkdir', ['-p', project]);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: Object.fromEntries(tarballs.map((t) => [t.startsWith('semclip-core') ? '@semclip/core' : '@semclip/tiling', `file:../${t}`])),
      }),
    );
    await run('npm', ['install', '--offline=false', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
      timeout: 150_000,
      env: { ...process.env, npm_config_workspaces: 'false' },
    });
    await writeFile(join(project, 'photo.jpg'), await makeJpeg({ width: 640, height: 480, pattern: 'quadrants' }));
    await writeFile(
      join(project, 'main.mjs'),
      `
import { tileImage, parseGrid, renderOverlay } from '@semclip/tiling';
import { isSemclipError } from '@semclip/core';
const image = await tileImage('photo.jpg', { grid: '2x2' });
const t = await image.tensors({ size: { width: 32, height: 32 }, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
const overlay = await renderOverlay(image, { scores: [1, 2, 3, 4], selected: [3] });
let code = null;
try { parseGrid('0x0'); } catch (err) { code = isSemclipError(err, 'INVALID_GRID') ? err.code : 'wrong'; }
console.log(JSON.stringify({ dims: t.dims, finite: t.data.every(Number.isFinite), gridKey: image.gridKey, tiles: image.grid.tiles.length, id: image.id, overlayPng: overlay[1] === 0x50, code }));
`,
    );
    const { stdout } = await run('node', ['main.mjs'], { cwd: project, timeout: 60_000 });
    const out = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(out).toMatchObject({ dims: [5, 3, 32, 32], finite: true, gridKey: '2x2:o0:l1', tiles: 4, overlayPng: true, code: 'INVALID_GRID' });
    expect(out.id).toMatch(/^[0-9a-f]{64}$/);
  }, 240_000);
});
