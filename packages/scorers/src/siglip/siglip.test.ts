/**
 * SigLIP scorer tests. Random-weight models check shapes, determinism, caching and plumbing
 * only; the probe model (closed-form embeddings) checks the sigmoid score exactly.
 */
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TileSource } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { makeTinySiglip, PROBE_COLOURS } from '@semclip/test-kit/onnx-models';
import { createSiglipScorer, SIGLIP_DEFAULT_LOGIT_BIAS, SIGLIP_DEFAULT_LOGIT_SCALE } from './index.js';
import type { SiglipScorer } from './index.js';
import { cosine, modelDir, normalisedColour, photoGrid, quadrantsPng, tempRoot } from '../clip/_test-models.js';

const REPO = 'semclip-test/tiny-siglip';
const REVISION = fakeRevision(REPO);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('siglip scorer: hub pull -> load -> score (random weights: shapes, determinism, plumbing)', () => {
  let hub: FakeHub;
  let scorer: SiglipScorer;
  let grid3: TileSource;
  const warn = vi.fn();
  const files = makeTinySiglip({ seed: 5, dim: 16, imageSize: 32 }).files;

  beforeAll(async () => {
    hub = await startFakeHub({ repos: { [REPO]: { revision: REVISION, files } } });
    const cacheDir = await mkdtemp(path.join(await tempRoot(), 'siglip-cache-'));
    const manifest = manifestFor(REPO, REVISION, files, { id: 'tiny-siglip', family: 'siglip' });
    scorer = await createSiglipScorer({ model: manifest as never, cacheDir, autoPull: true, hub: { endpoint: hub.url }, device: 'cpu', warn });
    grid3 = await photoGrid('3x3');
  });
  afterAll(async () => {
    await scorer?.dispose();
    await hub?.close();
  });

  it('pulls, loads and scores a real photo: one probability per tile, deterministic', async () => {
    expect(scorer.info).toMatchObject({ family: 'siglip', model: 'tiny-siglip', maxTokens: 64, fit: 'fill' });
    const q = { question: 'Where is the price tag?' };
    const a = await scorer.score(q, grid3);
    expect(a.scorer).toBe('siglip');
    expect(a.scores).toHaveLength(9);
    for (const s of a.scores) expect(s > 0 && s < 1).toBe(true);
    expect(a.meta).toMatchObject({
      similarity: 'sigmoid',
      logitScale: SIGLIP_DEFAULT_LOGIT_SCALE,
      logitBias: SIGLIP_DEFAULT_LOGIT_BIAS,
      logitSource: 'default',
    });
    const b = await scorer.score(q, grid3);
    expect(b.scores).toEqual(a.scores);
  });

  it('runs the vision tower once per image and not at all for a second question on a 2x2 grid', async () => {
    scorer.clearCache();
    const grid2 = await photoGrid('2x2');
    await scorer.score({ question: 'first question' }, grid2);
    const second = await scorer.score({ question: 'second question' }, grid2);
    expect(scorer.stats()).toMatchObject({ visionRuns: 1, tilesEncoded: 4 });
    expect(second.meta).toMatchObject({ cacheHits: 4, visionRuns: 0 });
  });

  it('pads every text to the 64-token context and truncates a 100k-character question to it', async () => {
    warn.mockClear();
    const r = await scorer.score({ question: 'where is the sign '.repeat(6000) }, grid3);
    expect(r.meta).toMatchObject({ truncated: true });
    expect(warn.mock.calls[0]![0]).toMatch(/64-token context/);
    expect(r.scores.every(Number.isFinite)).toBe(true);
  });

  it('rejects an empty question with INVALID_QUESTION', async () => {
    await expect(scorer.score({ question: ' ' }, grid3)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
  });
});

describe('siglip scorer: known answer (probe model)', () => {
  const colours = [PROBE_COLOURS.red!, PROBE_COLOURS.green!, PROBE_COLOURS.blue!, PROBE_COLOURS.yellow!];
  let dir: string;
  let source: TileSource;
  let mean: number[];
  let std: number[];

  beforeAll(async () => {
    const m = await modelDir('siglip', { probe: true, dim: 3, imageSize: 16 });
    dir = m.dir;
    mean = m.model.preprocessor.image_mean as number[];
    std = m.model.preprocessor.image_std as number[];
    source = await tileImage(await quadrantsPng(colours), { grid: '2x2' });
  });

  it.each([
    ['the defaults', {}, SIGLIP_DEFAULT_LOGIT_SCALE, SIGLIP_DEFAULT_LOGIT_BIAS],
    ['given scale and bias', { logitScale: Math.log(20), logitBias: -5 }, Math.log(20), -5],
  ])('scores sigmoid(exp(scale) * cosine + bias) with %s', async (_what, opts, scale, bias) => {
    const s = await createSiglipScorer({ modelPath: dir, device: 'cpu', warn: () => {}, ...opts });
    try {
      const { scores, meta } = await s.score({ question: 'the yellow one' }, source);
      const yellow = normalisedColour(PROBE_COLOURS.yellow!, mean, std, 3);
      colours.forEach((c, i) => {
        const cos = cosine(yellow, normalisedColour(c, mean, std, 3));
        expect(scores[i]).toBeCloseTo(sigmoid(Math.exp(scale) * cos + bias), 5);
      });
      expect(scores.indexOf(Math.max(...scores))).toBe(3);
      expect(meta).toMatchObject({ logitScale: scale, logitBias: bias });
    } finally {
      await s.dispose();
    }
  });
});

describe('siglip scorer: errors', () => {
  it('reports NaN from the vision tower as MODEL_OUTPUT_INVALID', async () => {
    const { dir } = await modelDir('siglip', { seed: 2, nan: 'vision' });
    const s = await createSiglipScorer({ modelPath: dir, device: 'cpu', warn: () => {} });
    try {
      await expect(s.score({ question: 'q' }, await photoGrid('2x2'))).rejects.toMatchObject({ code: 'MODEL_OUTPUT_INVALID' });
    } finally {
      await s.dispose();
    }
  });

  it('rejects a CLIP folder (MODEL_INVALID) and a CLIP model id (UNKNOWN_MODEL listing SigLIP models)', async () => {
    const { dir } = await modelDir('clip', { seed: 1 });
    await expect(createSiglipScorer({ modelPath: dir, device: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    await expect(createSiglipScorer({ model: 'clip-vit-base-patch32' })).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL',
      details: { valid: expect.arrayContaining(['siglip-base-patch16-224']) },
    });
  });

  it('rejects a non-finite logit scale', async () => {
    const { dir } = await modelDir('siglip', { seed: 1 });
    await expect(createSiglipScorer({ modelPath: dir, device: 'cpu', logitScale: Number.NaN, warn: () => {} })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
