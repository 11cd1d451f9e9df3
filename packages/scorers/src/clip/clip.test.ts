/**
 * CLIP scorer tests. The models are generated with random weights (tests/kit onnx-models): they
 * check shapes, determinism, batching, caching and error plumbing only, not relevance. The one
 * known-answer test uses the `probe` model, whose embeddings are known in closed form.
 */
import { mkdtemp, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TileSource } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { makeTinyClip, PROBE_COLOURS } from '@semclip/test-kit/onnx-models';
import { cudaProviderInstalled, probeWebGpu, resetDeviceWarning } from '@semclip/runtime';
import { createClipScorer } from './index.js';
import type { ClipScorer } from './index.js';
import { PHOTO, cosine, manifestEnv, modelDir, normalisedColour, photoGrid, quadrantsPng, tempRoot, unit } from './_test-models.js';

const REPO = 'semclip-test/tiny-clip';
const REVISION = fakeRevision(REPO);

describe('clip scorer: hub pull -> load -> score (random weights: shapes, determinism, plumbing)', () => {
  let hub: FakeHub;
  let cacheDir: string;
  let scorer: ClipScorer;
  let grid3: TileSource;
  let grid2: TileSource;
  const warn = vi.fn();
  const files = makeTinyClip({ seed: 7, dim: 16, imageSize: 32 }).files;
  const manifest = manifestFor(REPO, REVISION, files, { id: 'tiny-clip', family: 'clip' });

  beforeAll(async () => {
    hub = await startFakeHub({ repos: { [REPO]: { revision: REVISION, files } } });
    cacheDir = await mkdtemp(path.join(await tempRoot(), 'cache-'));
    scorer = await createClipScorer({
      model: manifest as never,
      cacheDir,
      autoPull: true,
      hub: { endpoint: hub.url },
      device: 'cpu',
      warn,
    });
    [grid3, grid2] = await Promise.all([photoGrid('3x3'), photoGrid('2x2')]);
  });

  afterAll(async () => {
    await scorer?.dispose();
    await hub?.close();
  });

  it('downloads every file through the hub into <cacheDir>/models/<repo> and loads it', () => {
    const fetched = new Set(hub.requests.filter((r) => r.status === 200).map((r) => r.file));
    expect([...fetched].sort()).toEqual(Object.keys(files).sort());
    expect(scorer.info.dir).toBe(path.join(cacheDir, 'models', 'semclip-test', 'tiny-clip'));
    expect(scorer.info).toMatchObject({ family: 'clip', model: 'tiny-clip', dtype: 'fp32', device: 'cpu', maxTokens: 77, fit: 'cover' });
    expect(scorer.info.imageSize).toEqual({ width: 32, height: 32 });
  });

  it('says which command repairs a pulled model whose file is damaged (MODEL_INVALID)', async () => {
    // Same size, wrong bytes: the cache's quick presence check passes, ONNX Runtime cannot load it.
    const copy = await mkdtemp(path.join(await tempRoot(), 'damaged-cache-'));
    await cp(cacheDir, copy, { recursive: true });
    const onnx = path.join(copy, 'models', 'semclip-test', 'tiny-clip', 'onnx', 'text_model.onnx');
    await writeFile(onnx, new Uint8Array(files['onnx/text_model.onnx']!.byteLength).fill(3));
    await expect(createClipScorer({ model: manifest as never, cacheDir: copy, device: 'cpu', warn: () => {} })).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(/semclip models verify tiny-clip, then semclip models pull tiny-clip/),
    });
  });

  it.each([
    ['3x3', () => grid3, 9],
    ['2x2', () => grid2, 4],
  ])('scores a real photo on a %s grid: one finite score per tile, with stage timings', async (_g, source, n) => {
    const result = await scorer.score({ question: 'What is the price of the drink?' }, source());
    expect(result.scorer).toBe('clip');
    expect(result.scores).toHaveLength(n);
    for (const s of result.scores) {
      expect(Number.isFinite(s)).toBe(true);
      expect(Math.abs(s)).toBeLessThanOrEqual(1 + 1e-6);
    }
    for (const stage of ['preprocess', 'encode', 'score'] as const) expect(result.timings[stage]).toBeGreaterThanOrEqual(0);
    expect(result.meta).toMatchObject({ model: 'tiny-clip', repo: REPO, revision: REVISION, similarity: 'cosine', embeddingDim: 16 });
  });

  it('is deterministic: the same question twice gives identical scores, and a fresh scorer agrees', async () => {
    const q = { question: 'Which shelf holds the water bottles?' };
    const a = await scorer.score(q, grid3);
    const b = await scorer.score(q, grid3);
    expect(b.scores).toEqual(a.scores);
    const other = await createClipScorer({ modelPath: scorer.info.dir, device: 'cpu', warn: () => {} });
    try {
      const c = await other.score(q, await tileImage(PHOTO, { grid: '3x3' }));
      for (let i = 0; i < 9; i++) expect(c.scores[i]).toBeCloseTo(a.scores[i]!, 5);
    } finally {
      await other.dispose();
    }
  });

  it('encodes all tiles of an image in one vision run, and none again for a second question (tile cache)', async () => {
    scorer.clearCache();
    const first = await scorer.score({ question: 'Is there a red can?' }, grid3);
    expect(scorer.stats().visionRuns).toBe(1);
    expect(scorer.stats().tilesEncoded).toBe(9);
    expect(first.meta).toMatchObject({ cacheHits: 0, tilesEncoded: 9, visionRuns: 1 });
    const second = await scorer.score({ question: 'Where is the coin slot?' }, grid3);
    expect(scorer.stats().visionRuns).toBe(1);
    expect(second.meta).toMatchObject({ cacheHits: 9, tilesEncoded: 0, visionRuns: 0 });
    expect(second.scores).not.toEqual(first.scores);
    // The same picture tiled again (same content hash and grid) hits the cache too.
    const again = await scorer.score({ question: 'Where is the coin slot?' }, await tileImage(PHOTO, { grid: '3x3' }));
    expect(again.meta).toMatchObject({ cacheHits: 9 });
    expect(again.scores).toEqual(second.scores);
    // Another grid of the same image is other tiles: encoded once more, in one run.
    await scorer.score({ question: 'Where is the coin slot?' }, grid2);
    expect(scorer.stats()).toMatchObject({ visionRuns: 2, tilesEncoded: 13 });
  });

  it('encodes the tiles once when two questions about a new image arrive together', async () => {
    scorer.clearCache();
    const [a, b] = await Promise.all([scorer.score({ question: 'first' }, grid3), scorer.score({ question: 'second' }, grid3)]);
    expect(a.scores).toHaveLength(9);
    expect(b.scores).toHaveLength(9);
    expect(scorer.stats().visionRuns).toBe(1);
  });

  it('runs the text tower once for a repeated question (text cache)', async () => {
    scorer.clearCache();
    await scorer.score({ question: 'How many bottles?' }, grid2);
    await scorer.score({ question: 'How many bottles?' }, grid3);
    expect(scorer.stats().textRuns).toBe(1);
  });

  it('keeps the tile cache within its entry bound (LRU)', async () => {
    const small = await createClipScorer({ modelPath: scorer.info.dir, device: 'cpu', tileCache: { maxEntries: 4 }, warn: () => {} });
    try {
      await small.score({ question: 'q' }, grid3);
      expect(small.stats().tileCache.entries).toBe(4);
      const again = await small.score({ question: 'q' }, grid3);
      expect(again.meta).toMatchObject({ cacheHits: 4, tilesEncoded: 5 });
    } finally {
      await small.dispose();
    }
  });

  it.each([
    ['empty', ''],
    ['whitespace', '  \n\t '],
  ])('rejects an %s question with INVALID_QUESTION', async (_what, question) => {
    await expect(scorer.score({ question }, grid2)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
  });

  it('rejects a question that is not a string, and options that are not strings', async () => {
    await expect(scorer.score({ question: 42 } as never, grid2)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
    await expect(scorer.score({ question: 'q', options: [1, 2] } as never, grid2)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
  });

  it('checks the question and the tile source before either tower runs (a bad question encodes no tile)', async () => {
    scorer.clearCache();
    await expect(scorer.score({ question: ' ' }, grid2)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
    await expect(scorer.score({ question: 'q' }, {} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /not a TileSource/ });
    expect(scorer.stats()).toMatchObject({ visionRuns: 0, textRuns: 0, tilesEncoded: 0 });
  });

  it('truncates a 100k-character question to the 77-token context, says so and marks meta.truncated', async () => {
    warn.mockClear();
    const long = `What is written on the sign ${'next to the bottles '.repeat(5000)}`;
    expect(long.length).toBeGreaterThan(100_000);
    const r = await scorer.score({ question: long }, grid2);
    expect(r.meta).toMatchObject({ truncated: true });
    expect(r.scores.every(Number.isFinite)).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/100\d{3} characters is longer than the model's 77-token context; truncated/);
    expect((r.meta!.texts as string[])[0]!.length).toBeLessThanOrEqual(1001);
    // Asked again: served from the text cache (keyed by the kept prefix), still reported.
    const runs = scorer.stats().textRuns;
    const again = await scorer.score({ question: long }, grid2);
    expect(scorer.stats().textRuns).toBe(runs);
    expect(again.meta).toMatchObject({ truncated: true });
    expect(again.scores).toEqual(r.scores);
    expect(warn).toHaveBeenCalledTimes(2);
    const short = await scorer.score({ question: 'What is written on the sign?' }, grid2);
    expect(short.meta).toMatchObject({ truncated: false });
    expect(warn).toHaveBeenCalledTimes(2);
    // A single 100k-character word is cut before tokenizing, so it costs no more than a long sentence.
    const word = await scorer.score({ question: 'a'.repeat(100_000) }, grid2);
    expect(word.meta).toMatchObject({ truncated: true });
  });

  it('rejects an aborted call with ABORTED', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(scorer.score({ question: 'q' }, grid2, { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('clip scorer: known answer (probe model, exact embeddings)', () => {
  // Probe: image embedding = mean normalised colour; text embedding = mean over tokens, where
  // colour words embed to their normalised colour and every other token to zero.
  const colours = [PROBE_COLOURS.red!, PROBE_COLOURS.green!, PROBE_COLOURS.blue!, PROBE_COLOURS.yellow!];
  let scorer: ClipScorer;
  let source: TileSource;
  let mean: number[];
  let std: number[];
  const dim = 4;

  beforeAll(async () => {
    const { dir, model } = await modelDir('clip', { probe: true, dim, imageSize: 16 });
    mean = model.preprocessor.image_mean as number[];
    std = model.preprocessor.image_std as number[];
    scorer = await createClipScorer({ modelPath: dir, device: 'cpu', warn: () => {} });
    source = await tileImage(await quadrantsPng(colours), { grid: '2x2' });
  });
  afterAll(() => scorer?.dispose());

  const tileVec = (i: number) => normalisedColour(colours[i]!, mean, std, dim);

  it('gives cosine 1 to the tile whose embedding equals the text embedding, and the exact cosine to the others', async () => {
    const { scores } = await scorer.score({ question: 'red' }, source);
    expect(scores[0]).toBeCloseTo(1, 5);
    const red = normalisedColour(PROBE_COLOURS.red!, mean, std, dim);
    scores.forEach((s, i) => expect(s).toBeCloseTo(cosine(red, tileVec(i)), 5));
    expect(scores.indexOf(Math.max(...scores))).toBe(0);
  });

  it('ranks the blue tile first for "which one is blue" (non-colour words embed to zero)', async () => {
    const { scores } = await scorer.score({ question: 'which one is blue' }, source);
    expect(scores.indexOf(Math.max(...scores))).toBe(2);
    expect(scores[2]).toBeCloseTo(1, 5);
  });

  it('applies a question template', async () => {
    const s = await createClipScorer({ modelPath: scorer.info.dir, device: 'cpu', template: 'a photo of {}', warn: () => {} });
    try {
      const r = await s.score({ question: 'green' }, source);
      expect(r.meta).toMatchObject({ texts: ['a photo of green'] });
      expect(r.scores[1]).toBeCloseTo(1, 5);
    } finally {
      await s.dispose();
    }
  });

  it('averages the normalised "question option" embeddings by default', async () => {
    const r = await scorer.score({ question: 'which colour', options: ['red', 'blue'] }, source);
    expect(r.meta).toMatchObject({ texts: ['which colour red', 'which colour blue'], choices: 'average' });
    const q = unit(
      Array.from(unit(normalisedColour(PROBE_COLOURS.red!, mean, std, dim)), (v, i) => v + unit(normalisedColour(PROBE_COLOURS.blue!, mean, std, dim))[i]!),
    );
    r.scores.forEach((s, i) => expect(s).toBeCloseTo(cosine(q, tileVec(i)), 5));
  });

  it('appends the options to one text in `append` mode, and ignores them in `ignore` mode', async () => {
    const append = await createClipScorer({ modelPath: scorer.info.dir, device: 'cpu', choices: 'append', warn: () => {} });
    const ignore = await createClipScorer({ modelPath: scorer.info.dir, device: 'cpu', choices: 'ignore', warn: () => {} });
    try {
      const a = await append.score({ question: 'which colour', options: ['red', 'blue'] }, source);
      expect(a.meta).toMatchObject({ texts: ['which colour red blue'] });
      // One text: the mean of the raw (unnormalised) colour embeddings.
      const red = normalisedColour(PROBE_COLOURS.red!, mean, std, dim);
      const blue = normalisedColour(PROBE_COLOURS.blue!, mean, std, dim);
      const q = red.map((v, i) => v + blue[i]!);
      a.scores.forEach((s, i) => expect(s).toBeCloseTo(cosine(q, tileVec(i)), 5));
      // "which colour" has no colour word: a zero text embedding scores every tile 0.
      const z = await ignore.score({ question: 'which colour', options: ['red', 'blue'] }, source);
      expect(z.scores).toEqual([0, 0, 0, 0]);
    } finally {
      await Promise.all([append.dispose(), ignore.dispose()]);
    }
  });
});

describe('clip scorer: errors', () => {
  it('rejects scoring after dispose with a clear error, and dispose twice is fine', async () => {
    const { dir } = await modelDir('clip', { seed: 1 });
    const s = await createClipScorer({ modelPath: dir, device: 'cpu', warn: () => {} });
    const source = await photoGrid('2x2');
    await s.score({ question: 'q' }, source);
    await s.dispose();
    await s.dispose();
    await expect(s.score({ question: 'q' }, source)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/disposed/) });
  });

  it.each(['vision', 'text'] as const)('reports NaN from the %s tower as MODEL_OUTPUT_INVALID, never a ranking', async (nan) => {
    const { dir } = await modelDir('clip', { seed: 1, nan });
    const s = await createClipScorer({ modelPath: dir, device: 'cpu', warn: () => {} });
    try {
      await expect(s.score({ question: 'q' }, await photoGrid('2x2'))).rejects.toMatchObject({
        code: 'MODEL_OUTPUT_INVALID',
        message: expect.stringMatching(/NaN/),
      });
    } finally {
      await s.dispose();
    }
  });

  it.skipIf(cudaProviderInstalled())('fails with DEVICE_UNAVAILABLE for device "cuda" without the CUDA provider', async () => {
    const { dir } = await modelDir('clip', { seed: 1 });
    await expect(createClipScorer({ modelPath: dir, device: 'cuda' })).rejects.toMatchObject({
      code: 'DEVICE_UNAVAILABLE',
      message: expect.stringMatching(/ONNXRUNTIME_NODE_INSTALL=cuda12/),
    });
  });

  it.skipIf(cudaProviderInstalled() || probeWebGpu({ quick: true }).available)(
    'falls back to CPU for device "auto" quietly, and says so once when notices are on',
    async () => {
      const { dir } = await modelDir('clip', { seed: 1 });
      resetDeviceWarning();
      const quiet = vi.fn();
      const q = await createClipScorer({ modelPath: dir, device: 'auto', warn: quiet });
      expect(q.info.device).toBe('cpu');
      expect(quiet.mock.calls.filter(([m]) => /running on CPU/.test(String(m)))).toHaveLength(0);
      await q.dispose();

      resetDeviceWarning();
      const before = process.env.SEMCLIP_DEVICE_NOTICE;
      process.env.SEMCLIP_DEVICE_NOTICE = '1';
      const warn = vi.fn();
      const a = await createClipScorer({ modelPath: dir, device: 'auto', warn });
      const b = await createClipScorer({ modelPath: dir, device: 'auto', warn });
      try {
        expect(a.info.device).toBe('cpu');
        expect(warn.mock.calls.filter(([m]) => /running on CPU/.test(String(m)))).toHaveLength(1);
      } finally {
        if (before === undefined) delete process.env.SEMCLIP_DEVICE_NOTICE;
        else process.env.SEMCLIP_DEVICE_NOTICE = before;
        await Promise.all([a.dispose(), b.dispose()]);
      }
    },
  );

  it('runs on device "webgpu" where an adapter exists, else fails with DEVICE_UNAVAILABLE before loading anything', async () => {
    const { dir } = await modelDir('clip', { seed: 1 });
    if (probeWebGpu().available) {
      const s = await createClipScorer({ modelPath: dir, device: 'webgpu', warn: () => {} });
      expect(s.info.device).toBe('webgpu');
      await s.dispose();
    } else {
      await expect(createClipScorer({ modelPath: dir, device: 'webgpu' })).rejects.toMatchObject({
        code: 'DEVICE_UNAVAILABLE',
        message: expect.stringMatching(/no GPU adapter/),
        hint: expect.stringMatching(/--device cpu/),
      });
    }
  });

  it('rejects an unknown model id with UNKNOWN_MODEL listing the CLIP models', async () => {
    const err = await createClipScorer({ model: 'clip-vit-huge-nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNKNOWN_MODEL', details: { valid: expect.arrayContaining(['clip-vit-base-patch32', 'clip-vit-large-patch14']) } });
    expect((err as Error).message).toContain('clip-vit-base-patch32');
    expect((err as { details: { valid: string[] } }).details.valid).not.toContain('siglip-base-patch16-224');
  });

  it('rejects a SigLIP model id with UNKNOWN_MODEL', async () => {
    await expect(createClipScorer({ model: 'siglip-base-patch16-224' })).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL',
      message: expect.stringMatching(/siglip model, not a clip model/),
    });
  });

  it('says which command downloads a model that is not in the cache (MODEL_NOT_DOWNLOADED)', async () => {
    const cacheDir = await mkdtemp(path.join(await tempRoot(), 'empty-cache-'));
    await expect(createClipScorer({ model: 'clip-vit-base-patch32', cacheDir, offline: true })).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      message: expect.stringMatching(/semclip models pull clip-vit-base-patch32/),
    });
  });

  it('loads a registered model by id (user manifest) from the cache once pulled', async () => {
    const files = makeTinyClip({ seed: 2 }).files;
    const manifest = manifestFor('semclip-test/registered-clip', fakeRevision('r'), files, { id: 'registered-clip', family: 'clip' });
    const env = await manifestEnv('registered-clip', manifest);
    const cacheDir = await mkdtemp(path.join(await tempRoot(), 'reg-cache-'));
    await expect(createClipScorer({ model: 'registered-clip', cacheDir, hub: { env } })).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      message: expect.stringMatching(/semclip models pull registered-clip/),
    });
    const hub = await startFakeHub({ repos: { 'semclip-test/registered-clip': { revision: fakeRevision('r'), files } } });
    try {
      const s = await createClipScorer({ model: 'registered-clip', cacheDir, autoPull: true, hub: { env, endpoint: hub.url }, device: 'cpu', warn: () => {} });
      expect(s.info.model).toBe('registered-clip');
      await s.dispose();
    } finally {
      await hub.close();
    }
  });

  describe('a model folder with missing or mismatched files', () => {
    async function copyOf(kind: 'clip' | 'siglip'): Promise<string> {
      const { dir } = await modelDir(kind, { seed: 1 });
      const copy = await mkdtemp(path.join(await tempRoot(), 'broken-'));
      await cp(dir, copy, { recursive: true });
      return copy;
    }

    it('names a missing file (MODEL_NOT_DOWNLOADED)', async () => {
      const dir = await copyOf('clip');
      await rm(path.join(dir, 'onnx', 'vision_model.onnx'));
      await expect(createClipScorer({ modelPath: dir, device: 'cpu' })).rejects.toMatchObject({
        code: 'MODEL_NOT_DOWNLOADED',
        message: expect.stringMatching(/onnx\/vision_model\.onnx missing/),
        details: { missing: ['onnx/vision_model.onnx'] },
      });
    });

    it('names the variant files a dtype needs', async () => {
      const { dir } = await modelDir('clip', { seed: 1 });
      await expect(createClipScorer({ modelPath: dir, device: 'cpu', dtype: 'q8' })).rejects.toMatchObject({
        code: 'MODEL_NOT_DOWNLOADED',
        message: expect.stringMatching(/onnx\/text_model_quantized\.onnx.*dtype q8/),
      });
    });

    it('loads a dtype variant by its file suffix', async () => {
      const { dir } = await modelDir('clip', { seed: 1, dtypes: ['q8'] });
      const s = await createClipScorer({ modelPath: dir, device: 'cpu', dtype: 'q8', warn: () => {} });
      expect(s.info.dtype).toBe('q8');
      await s.dispose();
    });

    it('rejects a folder that holds a SigLIP model (MODEL_INVALID)', async () => {
      const { dir } = await modelDir('siglip', { seed: 1 });
      await expect(createClipScorer({ modelPath: dir, device: 'cpu' })).rejects.toMatchObject({
        code: 'MODEL_INVALID',
        message: expect.stringMatching(/"siglip" model, not a clip model/),
      });
    });

    it('rejects a corrupt ONNX file (MODEL_INVALID) with the fix', async () => {
      const dir = await copyOf('clip');
      await writeFile(path.join(dir, 'onnx', 'text_model.onnx'), new Uint8Array(1000).fill(7));
      await expect(createClipScorer({ modelPath: dir, device: 'cpu' })).rejects.toMatchObject({
        code: 'MODEL_INVALID',
        message: expect.stringMatching(/Loading the clip model/),
      });
    });

    it('rejects a config.json that is not JSON (MODEL_INVALID)', async () => {
      const dir = await copyOf('clip');
      await writeFile(path.join(dir, 'config.json'), '{ not json');
      await expect(createClipScorer({ modelPath: dir, device: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    });

    it('rejects towers with other output names (MODEL_INVALID)', async () => {
      const dir = await copyOf('clip');
      const siglip = await modelDir('siglip', { seed: 1 });
      await mkdir(path.join(dir, 'onnx'), { recursive: true });
      await cp(path.join(siglip.dir, 'onnx', 'vision_model.onnx'), path.join(dir, 'onnx', 'vision_model.onnx'));
      await expect(createClipScorer({ modelPath: dir, device: 'cpu' })).rejects.toMatchObject({
        code: 'MODEL_INVALID',
        message: expect.stringMatching(/vision tower .* gives \[pooler_output/),
      });
    });

    it('reports a missing folder as MODEL_NOT_DOWNLOADED', async () => {
      await expect(createClipScorer({ modelPath: path.join(await tempRoot(), 'nowhere'), device: 'cpu' })).rejects.toMatchObject({
        code: 'MODEL_NOT_DOWNLOADED',
      });
    });
  });

  it.each([
    ['template without {}', { template: 'a photo' }],
    ['unknown choices mode', { choices: 'vote' }],
    ['negative text cache', { textCacheSize: -1 }],
    ['unknown dtype', { dtype: 'fp8' }],
    ['unknown device', { device: 'tpu' }],
    ['negative tile cache', { tileCache: { maxEntries: -1 } }],
    ['zero threads', { intraOpNumThreads: 0 }],
  ])('rejects a bad option: %s', async (_what, opts) => {
    const { dir } = await modelDir('clip', { seed: 1 });
    await expect(createClipScorer({ modelPath: dir, ...(opts as object) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
