/**
 * The cache layout is only useful if @huggingface/transformers loads from it. These tests pull
 * real tokenizer files (the CLIP BPE tokenizer from ../shared/data) through the fake hub into a
 * temporary cache, then load them with transformers.js pointed at `modelsRoot()` with remote
 * models disabled: the real loading code, no network.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, manifestFor, fakeRevision, type FakeHub } from '@semclip/test-kit/hub-server';
import { modelsRoot, parseManifest, pullModel } from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tokenizerDir = path.resolve(here, '../../../../shared/data/tokenizers/clip');

const REPO = 'semclip-test/clip-tokenizer-only';
const REV = fakeRevision('clip-tokenizer-only');
const files = {
  'config.json': new TextEncoder().encode(JSON.stringify({ model_type: 'clip', projection_dim: 512, architectures: ['CLIPModel'] })),
  'tokenizer.json': new Uint8Array(readFileSync(path.join(tokenizerDir, 'tokenizer.json'))),
  'tokenizer_config.json': new Uint8Array(readFileSync(path.join(tokenizerDir, 'tokenizer_config.json'))),
};

let hub: FakeHub;
let cacheDir: string;
let transformers: typeof import('@huggingface/transformers');

beforeAll(async () => {
  hub = await startFakeHub({ repos: { [REPO]: { revision: REV, files } } });
  cacheDir = mkdtempSync(path.join(tmpdir(), 'semclip-hub-tjs-'));
  transformers = await import('@huggingface/transformers');
  const env = transformers.env;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false; // its own cache lives in node_modules; never write there
  env.localModelPath = modelsRoot({ cacheDir });
});

afterAll(async () => {
  await hub?.close();
});

describe('transformers.js loads from the cache layout', () => {
  it('fails to find the model before it is pulled (it really reads our folder)', async () => {
    await expect(transformers.AutoConfig.from_pretrained(REPO)).rejects.toThrow(/not found locally/);
  });

  it('loads config and the real CLIP tokenizer after a pull', async () => {
    const manifest = parseManifest(manifestFor(REPO, REV, files, { id: 'clip-tokenizer-only' }));
    await pullModel(manifest, { cacheDir, endpoint: hub.url, env: {} });

    const config = await transformers.AutoConfig.from_pretrained(REPO);
    expect((config as unknown as { model_type: string }).model_type).toBe('clip');

    const tokenizer = await transformers.AutoTokenizer.from_pretrained(REPO);
    const ids = tokenizer.encode('a photo of a cat');
    expect(ids).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });
});
