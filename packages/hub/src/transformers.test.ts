/**
 * The cache layout is only useful if @huggingface/transformers loads from it. These tests pull
 * real tokenizer files (the CLIP BPE tokenizer from ../shared/data; without it, the test kit's
 * generated tokenizer in the same layout) through the fake hub into a temporary cache, then load them with transformers.js pointed at `modelsRoot()` with remote
 * models disabled: the real loading code, no network.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, manifestFor, fakeRevision, type FakeHub } from '@semclip/test-kit/hub-server';
import { generatedClipTokenizer } from '@semclip/test-kit/onnx-models';
import { hasSharedData, itShared, sharedData } from '@semclip/test-kit/shared-data';
import { modelsRoot, parseManifest, pullModel } from './index.js';

const tokenizerDir = sharedData('tokenizers/clip');
const generated = generatedClipTokenizer();

const REPO = 'semclip-test/clip-tokenizer-only';
const REV = fakeRevision('clip-tokenizer-only');
const files = {
  'config.json': new TextEncoder().encode(JSON.stringify({ model_type: 'clip', projection_dim: 512, architectures: ['CLIPModel'] })),
  ...(hasSharedData()
    ? {
        'tokenizer.json': new Uint8Array(readFileSync(path.join(tokenizerDir, 'tokenizer.json'))),
        'tokenizer_config.json': new Uint8Array(readFileSync(path.join(tokenizerDir, 'tokenizer_config.json'))),
      }
    : { 'tokenizer.json': generated.json, 'tokenizer_config.json': new TextEncoder().encode(JSON.stringify(generated.config)) }),
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

  it('loads config and the CLIP tokenizer after a pull', async () => {
    const manifest = parseManifest(manifestFor(REPO, REV, files, { id: 'clip-tokenizer-only' }));
    await pullModel(manifest, { cacheDir, endpoint: hub.url, env: {} });

    const config = await transformers.AutoConfig.from_pretrained(REPO);
    expect((config as unknown as { model_type: string }).model_type).toBe('clip');

    const tokenizer = await transformers.AutoTokenizer.from_pretrained(REPO);
    const ids = tokenizer.encode('a photo of a cat');
    expect(ids).toHaveLength(7);
    expect([ids[0], ids[1], ids[4], ids[6]]).toEqual([49406, 320, 320, 49407]);
    if (!hasSharedData()) expect(ids).toEqual([49406, 320, generated.idOf('photo'), generated.idOf('of'), 320, generated.idOf('cat'), 49407]);
  });

  itShared('the real CLIP tokenizer gives the published ids', async () => {
    const tokenizer = await transformers.AutoTokenizer.from_pretrained(REPO);
    expect(tokenizer.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });
});
