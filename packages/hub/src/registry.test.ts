import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getManifest, listModels, parseManifest } from './index.js';
import { renderManifestsModule, MODELS_DIR, OUTPUT } from '../scripts/generate-manifests.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelsDir = path.resolve(here, '../../../models');

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'semclip-hub-registry-'));
}

const userManifest = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  repo: `me/${id}`,
  revision: 'f'.repeat(40),
  task: 'image-text-relevance',
  family: 'relevance',
  license: 'Apache-2.0',
  defaultDtype: 'fp32',
  verified: false,
  files: [{ path: 'onnx/model.onnx', size: null, sha256: null }],
  ...extra,
});

describe('bundled manifests', () => {
  it('bundles every manifest in models/ exactly as written', () => {
    const files = readdirSync(modelsDir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const bundled = listModels({ env: {} });
    for (const file of files) {
      const json = JSON.parse(readFileSync(path.join(modelsDir, file), 'utf8'));
      const inRegistry = bundled.find((m) => m.id === json.id);
      expect(inRegistry, `models/${file} (${json.id}) is not in the registry`).toBeDefined();
      expect(inRegistry).toEqual({ ...parseManifest(json, file), origin: 'bundled' });
    }
    expect(bundled).toHaveLength(files.length);
  });

  it('has a generated src/_manifests.ts that is up to date with models/', () => {
    expect(path.resolve(MODELS_DIR)).toBe(modelsDir);
    expect(readFileSync(OUTPUT, 'utf8'), 'run: pnpm --filter @semclip/hub generate').toBe(renderManifestsModule(modelsDir));
  });

  it.each(['clip-vit-large-patch14', 'clip-vit-base-patch32', 'siglip-base-patch16-224'])('ships %s pinned to a commit', (id) => {
    const m = getManifest(id, { env: {} });
    expect(m.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(m.files.map((f) => f.path)).toEqual(expect.arrayContaining(['config.json', 'preprocessor_config.json', 'tokenizer.json']));
    expect(m.files.some((f) => f.path.startsWith('onnx/') && f.path.endsWith('.onnx'))).toBe(true);
  });

  it('marks a manifest verified only when every file has a published size and hash', () => {
    for (const m of listModels({ env: {} })) {
      expect(m.verified, m.id).toBe(m.files.every((f) => f.size !== null && f.sha256 !== null));
    }
  });

  it('gives every model a distinct id and alias', () => {
    const names = listModels({ env: {} }).flatMap((m) => [m.id, ...(m.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('getManifest', () => {
  it('throws UNKNOWN_MODEL listing the valid ids', () => {
    try {
      getManifest('clip-vit-huge', { env: {} });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'UNKNOWN_MODEL' });
      expect((err as Error).message).toContain('clip-vit-base-patch32');
      expect((err as Error).message).toContain('siglip-base-patch16-224');
      expect((err as { details: { valid: string[] } }).details.valid).toContain('clip-vit-large-patch14');
    }
  });

  it.each([
    ['openai/clip-vit-large-patch14', 'clip-vit-large-patch14'],
    ['clip-l14', 'clip-vit-large-patch14'],
    ['Xenova/siglip-base-patch16-224', 'siglip-base-patch16-224'],
    ['Xenova/clip-vit-base-patch32', 'clip-vit-base-patch32'],
  ])('resolves the alias %s to %s', (alias, id) => {
    expect(getManifest(alias, { env: {} }).id).toBe(id);
  });
});

describe('SEMCLIP_MANIFEST_PATH', () => {
  it('merges user manifest files and directories into the registry', () => {
    const dir = tmp();
    const single = path.join(dir, 'one.json');
    writeFileSync(single, JSON.stringify(userManifest('my-relevance')));
    const folder = path.join(dir, 'more');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'two.json'), JSON.stringify([userManifest('my-a'), userManifest('my-b')]));
    writeFileSync(path.join(folder, 'notes.txt'), 'ignored');
    const env = { SEMCLIP_MANIFEST_PATH: [single, folder].join(path.delimiter) };
    const ids = listModels({ env }).map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['clip-vit-base-patch32', 'my-relevance', 'my-a', 'my-b']));
    expect(getManifest('my-a', { env }).origin).toBe(path.join(folder, 'two.json'));
  });

  it('lets a user manifest replace a bundled one with the same id', () => {
    const dir = tmp();
    const file = path.join(dir, 'override.json');
    writeFileSync(file, JSON.stringify(userManifest('clip-vit-base-patch32', { repo: 'me/clip-fork' })));
    expect(getManifest('clip-vit-base-patch32', { env: { SEMCLIP_MANIFEST_PATH: file } }).repo).toBe('me/clip-fork');
  });

  it.each([
    { what: 'a malformed manifest', content: JSON.stringify(userManifest('bad', { revision: 'main' })), needle: 'revision' },
    { what: 'invalid JSON', content: '{ "id": ', needle: 'not valid JSON' },
  ])('names the file of $what (MODEL_INVALID)', ({ content, needle }) => {
    const file = path.join(tmp(), 'broken.json');
    writeFileSync(file, content);
    expect(() => listModels({ env: { SEMCLIP_MANIFEST_PATH: file } })).toThrowError(
      expect.objectContaining({ code: 'MODEL_INVALID', message: expect.stringContaining(file) }),
    );
    expect(() => listModels({ env: { SEMCLIP_MANIFEST_PATH: file } })).toThrowError(expect.objectContaining({ message: expect.stringContaining(needle) }));
  });

  it('refuses a path that does not exist', () => {
    expect(() => listModels({ env: { SEMCLIP_MANIFEST_PATH: '/nonexistent/semclip.json' } })).toThrowError(
      expect.objectContaining({ code: 'MODEL_INVALID', message: expect.stringContaining('/nonexistent/semclip.json') }),
    );
  });

  it('refuses two user manifests with one id', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'a.json'), JSON.stringify(userManifest('twin')));
    writeFileSync(path.join(dir, 'b.json'), JSON.stringify(userManifest('twin')));
    expect(() => listModels({ env: { SEMCLIP_MANIFEST_PATH: dir } })).toThrowError(expect.objectContaining({ code: 'MODEL_INVALID' }));
  });
});
