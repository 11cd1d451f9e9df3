/**
 * vlm-embed end to end: tiny random-weight LLaVAs from the test kit, served by the fake hub,
 * pulled by @semclip/hub, loaded by the local runner, scoring a tiled image. One model's decoder
 * outputs `last_hidden_state`, the other's does not, so both question representations run.
 * Random weights: shapes, determinism, batching, caching and plumbing only, never relevance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullModel } from '@semclip/hub';
import type { ModelManifest } from '@semclip/hub';
import { tileImage } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { buildTinyLlava, writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { createLocalRunner } from '../local/index.js';
import type { LocalRunner, LocalTraceEvent } from '../local/index.js';
import { createOpenAIRunner } from '../openai/index.js';
import { createVlmEmbedScorer } from './index.js';
import type { VlmEmbedMeta, VlmEmbedScorer } from './index.js';

const plainTiny = buildTinyLlava({ seed: 9, repo: 'semclip-test/tiny-llava-embed' });
const hiddenTiny = buildTinyLlava({ seed: 9, repo: 'semclip-test/tiny-llava-embed-hidden', exposeHiddenStates: true });

let hub: FakeHub;
let cacheDir: string;
let plainManifest: ModelManifest;
let hiddenManifest: ModelManifest;
let image: Uint8Array;
let tiled: TiledImage;

function manifest(tiny: typeof plainTiny, id: string): ModelManifest {
  return manifestFor(tiny.repo, fakeRevision(tiny.repo), tiny.files, { id, task: 'image-text-to-text', family: 'llava' }) as unknown as ModelManifest;
}

beforeAll(async () => {
  hub = await startFakeHub({
    repos: {
      [plainTiny.repo]: { revision: fakeRevision(plainTiny.repo), files: plainTiny.files },
      [hiddenTiny.repo]: { revision: fakeRevision(hiddenTiny.repo), files: hiddenTiny.files },
    },
  });
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'semclip-vlm-embed-'));
  plainManifest = manifest(plainTiny, 'tiny-llava-embed');
  hiddenManifest = manifest(hiddenTiny, 'tiny-llava-embed-hidden');
  await Promise.all([pullModel(plainManifest, { cacheDir, endpoint: hub.url }), pullModel(hiddenManifest, { cacheDir, endpoint: hub.url })]);
  image = await makeJpeg({ width: 320, height: 240, pattern: 'quadrants' });
  tiled = await tileImage(image, { grid: '2x2' });
});

afterAll(async () => {
  await hub?.close();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

describe('vlm-embed on a tiny random-weight LLaVA (shapes, determinism, caching, plumbing only)', () => {
  let runner: LocalRunner;
  let scorer: VlmEmbedScorer;
  const trace: LocalTraceEvent[] = [];

  beforeAll(async () => {
    runner = await createLocalRunner({ model: plainManifest, cacheDir, device: 'cpu', onTrace: (e) => trace.push(e) });
    scorer = await createVlmEmbedScorer({ runner });
  });
  afterAll(async () => {
    await scorer?.dispose();
    await runner?.dispose();
  });

  it('gives one finite cosine per tile from one batched vision-encoder run', async () => {
    trace.length = 0;
    const result = await scorer.score({ question: 'What colour is the top-left corner?' }, tiled);
    expect(result.scorer).toBe('vlm-embed');
    expect(result.scores).toHaveLength(4);
    for (const s of result.scores) {
      expect(Number.isFinite(s)).toBe(true);
      expect(Math.abs(s)).toBeLessThanOrEqual(1 + 1e-6);
    }
    // Four flat-coloured quadrants are four different pictures.
    expect(new Set(result.scores.map((s) => s.toFixed(6))).size).toBe(4);
    const vision = trace.filter((e) => e.kind === 'vision');
    expect(vision).toEqual([{ kind: 'vision', batch: 4, featureTokens: 4 * plainTiny.visualTokensPerImage }]);
    const meta = result.meta as unknown as VlmEmbedMeta;
    expect(meta).toMatchObject({
      model: 'tiny-llava-embed',
      questionRepresentation: 'mean-input-embeddings',
      pooling: 'mean',
      tokensPerImage: plainTiny.visualTokensPerImage,
      embeddingDim: (plainTiny.config.text_config as { hidden_size: number }).hidden_size,
      cacheHits: 0,
      tilesEncoded: 4,
      visionRuns: 1,
      textCacheHit: false,
    });
    expect(result.timings.encode).toBeGreaterThan(0);
  });

  it('serves a second question about the same image from the tile cache (no vision run)', async () => {
    trace.length = 0;
    const second = await scorer.score({ question: 'Where is the yellow part?' }, tiled);
    expect(trace.filter((e) => e.kind === 'vision')).toHaveLength(0);
    expect(second.meta).toMatchObject({ cacheHits: 4, tilesEncoded: 0, visionRuns: 0, textCacheHit: false });
    expect(scorer.stats()).toMatchObject({ visionRuns: 1, tilesEncoded: 4, textRuns: 2 });
    // The same question again: both caches hit, the same scores.
    const first = await scorer.score({ question: 'What colour is the top-left corner?' }, tiled);
    expect(first.meta).toMatchObject({ cacheHits: 4, textCacheHit: true });
    expect(scorer.stats().textRuns).toBe(2);
  });

  it('is deterministic across scorers and runners, and keys the cache by grid', async () => {
    const question = { question: 'What colour is the top-left corner?' };
    const a = await scorer.score(question, tiled);
    const fresh = await createVlmEmbedScorer({ model: plainManifest, cacheDir, device: 'cpu' });
    try {
      const b = await fresh.score(question, tiled);
      expect(b.scores).toEqual(a.scores);
      expect(b.meta).toMatchObject({ tilesEncoded: 4 });
    } finally {
      await fresh.dispose();
    }
    trace.length = 0;
    const regrid = await tileImage(image, { grid: '1x3' });
    const c = await scorer.score(question, regrid);
    expect(c.scores).toHaveLength(3);
    expect(c.meta).toMatchObject({ cacheHits: 0, tilesEncoded: 3, visionRuns: 1 });
    expect(trace.filter((e) => e.kind === 'vision').map((e) => (e as { batch: number }).batch)).toEqual([3]);
  });

  it('checks its input and stays usable after a bad call', async () => {
    await expect(scorer.score({ question: '  ' }, tiled)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
    await expect(scorer.score({ question: 'q?' }, {} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const ctl = new AbortController();
    ctl.abort();
    await expect(scorer.score({ question: 'q?' }, tiled, { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await scorer.score({ question: 'q?' }, tiled)).scores).toHaveLength(4);
  });

  it('never disposes a runner it was given', async () => {
    const borrowed = await createVlmEmbedScorer({ runner });
    await borrowed.dispose();
    await expect(borrowed.score({ question: 'q?' }, tiled)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await runner.embedText('still open')).vector.length).toBeGreaterThan(0);
  });
});

describe('vlm-embed question representation', () => {
  it("uses the decoder's last hidden state when the export outputs it, and records it", async () => {
    const scorer = await createVlmEmbedScorer({ model: hiddenManifest, cacheDir, device: 'cpu' });
    const plain = await createVlmEmbedScorer({ vlm: `local:${path.join(cacheDir, 'models', plainTiny.repo)}`, device: 'cpu' });
    try {
      const question = { question: 'What colour is the top-left corner?' };
      const h = await scorer.score(question, tiled);
      expect(h.meta).toMatchObject({ questionRepresentation: 'last-hidden-state', tilesEncoded: 4, visionRuns: 1 });
      expect(h.scores.every(Number.isFinite)).toBe(true);
      const p = await plain.score(question, tiled);
      expect(p.meta).toMatchObject({ questionRepresentation: 'mean-input-embeddings' });
      // Same weights, so the same tile vectors; only the question's vector differs.
      expect(h.scores).not.toEqual(p.scores);
      const forced = await createVlmEmbedScorer({ model: hiddenManifest, cacheDir, device: 'cpu', representation: 'mean-input-embeddings' });
      try {
        const m = await forced.score(question, tiled);
        expect(m.meta).toMatchObject({ questionRepresentation: 'mean-input-embeddings' });
        m.scores.forEach((s, i) => expect(s).toBeCloseTo(p.scores[i]!, 5));
      } finally {
        await forced.dispose();
      }
    } finally {
      await scorer.dispose();
      await plain.dispose();
    }
  });

  it('refuses last-hidden-state for a decoder without it, and an HTTP runner', async () => {
    await expect(createVlmEmbedScorer({ model: plainManifest, cacheDir, device: 'cpu', representation: 'last-hidden-state' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_CAPABILITY',
    });
    const fake = await startFakeOpenAI();
    try {
      const http = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm' });
      await expect(createVlmEmbedScorer({ runner: http })).rejects.toMatchObject({
        code: 'UNSUPPORTED_CAPABILITY',
        message: expect.stringContaining('vlm-yesno'),
      });
      await expect(createVlmEmbedScorer({ vlm: `openai:${fake.url}#fake-vlm` })).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY' });
      expect(fake.requests).toHaveLength(0);
    } finally {
      await fake.close();
    }
  });

  it('names the pull command for a model that is not in the cache', async () => {
    const missing = { ...plainManifest, id: 'tiny-llava-missing', repo: 'semclip-test/tiny-llava-missing' } as ModelManifest;
    await expect(createVlmEmbedScorer({ model: missing, cacheDir, device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      message: expect.stringContaining('semclip models pull tiny-llava-missing'),
    });
  });
});

// Random weights: which tensors become the tile and question vectors, what meta says and when
// the scorer refuses or warns; never whether a score means anything.
describe('vlm-embed as the paper defines it (projected CLS token, last hidden state)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-vlm-embed-cls-'));
    await Promise.all([
      writeTinyLlava(path.join(dir, 'paper'), { seed: 9, exposeCls: 'first-token', exposeHiddenStates: true }),
      writeTinyLlava(path.join(dir, 'plain'), { seed: 9 }),
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const question = { question: 'What colour is the top-left corner?' };

  it('uses the CLS token and the last hidden state by default where the export has both, and says so', async () => {
    const warnings: string[] = [];
    const scorer = await createVlmEmbedScorer({ vlm: `local:${path.join(dir, 'paper')}`, device: 'cpu', warn: (m) => warnings.push(m) });
    try {
      expect([scorer.pooling, scorer.questionRepresentation]).toEqual(['cls', 'last-hidden-state']);
      const r = await scorer.score(question, tiled);
      expect(r.meta).toMatchObject({
        pooling: 'cls',
        questionRepresentation: 'last-hidden-state',
        paperDefinition: true,
        representation: "tile = projected CLS token, question = last hidden state of its final token (the paper's definition)",
        tokensPerImage: 1,
      });
      expect(scorer.representation).toBe(r.meta?.representation);
      expect(warnings).toEqual([]);
      // The tile vectors are the runner's CLS vectors of the crops: the same cosines by hand.
      const runner = scorer.runner as LocalRunner;
      const crops = await Promise.all(tiled.grid.tiles.map((t) => tiled.crop(t.box, { maxSide: 1024 })));
      const { vectors } = await runner.embedImages(crops, { pool: 'cls' });
      const { vector } = await runner.embedText('What colour is the top-left corner?', { representation: 'last-hidden-state' });
      const cos = (a: Float32Array, b: Float32Array) => {
        let d = 0;
        let na = 0;
        let nb = 0;
        a.forEach((x, i) => {
          d += x * b[i]!;
          na += x * x;
          nb += b[i]! * b[i]!;
        });
        return d / Math.sqrt(na * nb);
      };
      r.scores.forEach((sc, i) => expect(sc).toBeCloseTo(cos(vectors[i]!, vector), 5));
      // pool 'mean' on the same export: other tile vectors, other scores, recorded as such.
      const mean = await createVlmEmbedScorer({ runner, pool: 'mean' });
      const m = await mean.score(question, tiled);
      expect(m.meta).toMatchObject({ pooling: 'mean', paperDefinition: false });
      expect(m.scores).not.toEqual(r.scores);
      await mean.dispose();
    } finally {
      await scorer.dispose();
    }
  });

  it('on an export with neither, falls back only with a notice and meta saying so; refuses pool cls asked for', async () => {
    const warnings: string[] = [];
    const scorer = await createVlmEmbedScorer({ vlm: `local:${path.join(dir, 'plain')}`, device: 'cpu', warn: (m) => warnings.push(m) });
    try {
      const r = await scorer.score(question, tiled);
      expect(r.meta).toMatchObject({ pooling: 'mean', questionRepresentation: 'mean-input-embeddings', paperDefinition: false });
      expect(String(r.meta?.representation)).toContain("not the paper's definition");
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /not the paper's scorer: it represents tiles as the mean of their visual tokens .* and questions as the mean of their input embeddings/,
      );
    } finally {
      await scorer.dispose();
    }
    // Chosen explicitly: no notice.
    const chosen: string[] = [];
    const explicit = await createVlmEmbedScorer({
      vlm: `local:${path.join(dir, 'plain')}`,
      device: 'cpu',
      pool: 'mean',
      representation: 'mean-input-embeddings',
      warn: (m) => chosen.push(m),
    });
    await explicit.dispose();
    expect(chosen).toEqual([]);
    await expect(createVlmEmbedScorer({ vlm: `local:${path.join(dir, 'plain')}`, device: 'cpu', pool: 'cls' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_CAPABILITY',
      message: expect.stringContaining('does not give the projected CLS token'),
    });
    await expect(createVlmEmbedScorer({ vlm: `local:${path.join(dir, 'plain')}`, device: 'cpu', pool: 'max' as never })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
