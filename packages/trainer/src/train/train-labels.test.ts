/**
 * Label -> train -> distant scorer, end to end: the fake VLM labels a generated ScienceQA set, a
 * tiny random-weight CLIP from the test kit (served by the fake hub) is the frozen base, and the
 * exported head is loaded by the `distant` scorer. The random base carries no real relevance
 * signal, so this checks plumbing, caching, reproducibility and agreement between the pieces; the
 * learning itself is checked on planted embeddings in train.test.ts.
 */
import { readFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '@semclip/eval';
import { createBaseEncoder, createDistantScorer, readHeadManifest } from '@semclip/scorers/distant';
import { tileImage } from '@semclip/tiling';
import { createRunner } from '@semclip/vlm-runner';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { makeTinyClip, writeModelFiles } from '@semclip/test-kit/onnx-models';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { labelResponder, writeLabelScienceQa } from '@semclip/test-kit/trainer-data';
import { labelDataset } from '../label/_label.js';
import { headScores } from './_head-math.js';
import { trainFromLabels } from './_train-labels.js';

const REPO = 'semclip-test/tiny-clip-trainer';
const REVISION = fakeRevision(REPO);
const quiet = () => {};

let root: string;
let data: string;
let labelsFile: string;
let cacheDir: string;
let hub: FakeHub;
let env: NodeJS.ProcessEnv;
const files = makeTinyClip({ seed: 21, dim: 16, imageSize: 32 }).files;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'semclip-train-labels-'));
  data = path.join(root, 'scienceqa');
  cacheDir = path.join(root, 'cache');
  labelsFile = path.join(root, 'labels.jsonl');
  const fixture = await writeLabelScienceQa(data, { items: 30, seed: 9 });
  const fake = await startFakeOpenAI({ behaviour: { respond: labelResponder(fixture) } });
  const runner = await createRunner(`openai:${fake.url}#fake-vlm`, { concurrency: 8, retries: 0 });
  try {
    const dataset = await loadBenchmark('scienceqa', data, { split: 'train', subset: 'img' });
    await labelDataset({ items: dataset.items, runner, out: labelsFile, concurrency: 8, source: { benchmark: 'scienceqa', path: data, split: 'train' } });
  } finally {
    await runner.dispose();
    await fake.close();
  }
  const manifestFile = path.join(root, 'tiny.manifest.json');
  await writeFile(manifestFile, JSON.stringify(manifestFor(REPO, REVISION, files, { id: 'tiny-clip-trainer', family: 'clip' })));
  env = { ...process.env, SEMCLIP_MANIFEST_PATH: manifestFile };
  hub = await startFakeHub({ repos: { [REPO]: { revision: REVISION, files } } });
});
afterAll(async () => {
  await hub?.close();
  await rm(root, { recursive: true, force: true });
});

const common = () => ({
  labels: labelsFile,
  cacheDir,
  autoPull: true,
  hub: { endpoint: hub.url, env },
  device: 'cpu' as const,
  warn: quiet,
  epochs: 3,
  lr: 1e-3,
  batchSize: 16,
  holdout: 0.25,
  seed: 5,
});

describe('trainFromLabels on a tiny CLIP from the fake hub', () => {
  it('embeds once (disk cache), trains, and writes head.onnx + head.json + loss charts into <cache>/heads/<name>', async () => {
    const r = await trainFromLabels({ ...common(), base: 'tiny-clip-trainer', name: 'sqa-tiny' });
    const dir = path.join(cacheDir, 'heads', 'sqa-tiny');
    expect(r.head.dir).toBe(dir);
    for (const f of ['head.onnx', 'head.json', 'loss.svg', 'loss.png']) expect((await stat(path.join(dir, f))).size).toBeGreaterThan(0);
    expect(await sharp(await readFile(path.join(dir, 'loss.png'))).metadata()).toMatchObject({ format: 'png', width: 720 });
    expect(r.embeddings).toMatchObject({ items: r.labels.labelled, computed: r.labels.labelled, cached: 0 });
    expect(r.train.history).toHaveLength(4);
    expect(r.best.epoch).toBe(r.train.bestEpoch);
    const manifest = await readHeadManifest(r.head.manifestPath);
    expect(manifest).toMatchObject({
      name: 'sqa-tiny',
      dim: 16,
      base: { family: 'clip', model: 'tiny-clip-trainer', repo: REPO, revision: REVISION, dtype: 'fp32' },
      query: { choices: 'average' },
      training: {
        bestEpoch: r.train.bestEpoch,
        hyperparameters: { lr: 1e-3, batchSize: 16, epochs: 3, margin: 0.2, seed: 5, holdout: 0.25 },
        labels: { benchmark: 'scienceqa', grid: '2x2', vlm: 'fake-vlm' },
      },
    });
    expect((manifest.training as { history: unknown[] }).history).toHaveLength(4);
    // Every labelled item (holdout included), so eval run can warn when it evaluates them.
    const labelled = (await readFile(labelsFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; id?: string })
      .filter((l) => l.type === 'labelled')
      .map((l) => l.id!);
    expect(labelled.length).toBe(r.labels.labelled);
    expect(manifest.trainedOn).toEqual({ benchmark: 'scienceqa', split: 'train', items: [...labelled].sort() });
  });

  it('reuses the cached embeddings on a second run and, with the same seed, writes the same head bit for bit', async () => {
    const first = await readFile(path.join(cacheDir, 'heads', 'sqa-tiny', 'head.onnx'));
    const r = await trainFromLabels({ ...common(), base: 'tiny-clip-trainer', name: 'sqa-tiny-again' });
    expect(r.embeddings).toMatchObject({ computed: 0, cached: r.labels.labelled });
    const again = await readFile(r.head.onnxPath);
    expect(again.equals(first)).toBe(true);
    const other = await trainFromLabels({ ...common(), seed: 6, base: 'tiny-clip-trainer', name: 'sqa-tiny-seed6' });
    expect((await readFile(other.head.onnxPath)).equals(first)).toBe(false);
  });

  it('the distant scorer loads the head by name and scores like the trained weights over the base embeddings', async () => {
    const r = await trainFromLabels({ ...common(), base: 'tiny-clip-trainer', name: 'sqa-tiny-scorer', epochs: 1 });
    const scorer = await createDistantScorer({ model: 'sqa-tiny-scorer', cacheDir, hub: { endpoint: hub.url, env }, device: 'cpu', warn: quiet });
    const base = await createBaseEncoder({ family: 'clip', modelPath: scorer.info.base.dir, device: 'cpu', warn: quiet });
    try {
      const labels = (await readFile(labelsFile, 'utf8'))
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => JSON.parse(l));
      const rec = labels.find((l) => l.type === 'labelled');
      const tiled = await tileImage(rec.image, { grid: '2x2' });
      const query = { question: rec.question, options: rec.options };
      const { scores } = await scorer.score(query, tiled);
      const t = (await base.embedQuery(query)).vector;
      const { vectors } = await base.embedTiles(tiled);
      const ref = headScores(r.train.params, t, vectors);
      scores.forEach((s, i) => expect(Math.abs(s - ref[i]!)).toBeLessThan(1e-5));
    } finally {
      await Promise.all([scorer.dispose(), base.dispose()]);
    }
  });

  it('takes a folder of towers as the base and records it in head.json', async () => {
    const towers = path.join(root, 'towers');
    await writeModelFiles(towers, files);
    const r = await trainFromLabels({ ...common(), base: towers, name: 'sqa-folder', epochs: 1 });
    expect(r.base).toMatchObject({ family: 'clip', modelPath: towers });
    const scorer = await createDistantScorer({ model: 'sqa-folder', cacheDir, device: 'cpu', warn: quiet });
    try {
      expect(scorer.info.base.dir).toBe(towers);
    } finally {
      await scorer.dispose();
    }
  });

  it('trains on zoom labels: regions embedded from their boxes (none from the grid cache), cached by box; out-of-image boxes refused', async () => {
    // Zoom labels (`label --strategy zoom`) name regions by box, not by grid index: here the
    // grid's tiles shrunk by a few pixels, so nothing of the grid's cache can stand in for them.
    const lines = (await readFile(labelsFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const shrink = (b: { x: number; y: number; width: number; height: number }) => ({ x: b.x + 2, y: b.y + 2, width: b.width - 4, height: b.height - 4 });
    const zoomLines: Record<string, unknown>[] = lines.map((l) =>
      l.type === 'header'
        ? { ...l, strategy: 'zoom', zoom: { maxCalls: 12, tau: 1 } }
        : { ...l, grid: 'zoom', tiles: (l.tiles as Parameters<typeof shrink>[0][]).map(shrink) },
    );
    const zoomFile = path.join(root, 'zoom-labels.jsonl');
    await writeFile(zoomFile, `${zoomLines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const r = await trainFromLabels({ ...common(), labels: zoomFile, base: 'tiny-clip-trainer', name: 'sqa-zoom' });
    expect(r.embeddings).toMatchObject({ computed: r.labels.labelled, cached: 0 });
    const again = await trainFromLabels({ ...common(), labels: zoomFile, base: 'tiny-clip-trainer', name: 'sqa-zoom-again' });
    expect(again.embeddings).toMatchObject({ computed: 0, cached: r.labels.labelled });
    const outside = zoomLines.map((l) =>
      l.type === 'labelled' ? { ...l, tiles: (l.tiles as Parameters<typeof shrink>[0][]).map((b) => ({ ...b, x: b.x + 100000 })) } : l,
    );
    const badFile = path.join(root, 'zoom-outside.jsonl');
    await writeFile(badFile, `${outside.map((l) => JSON.stringify(l)).join('\n')}\n`);
    await expect(
      trainFromLabels({ ...common(), labels: badFile, cacheDir: path.join(root, 'cache-outside'), base: 'tiny-clip-trainer', name: 'x' }),
    ).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringMatching(/region outside its image/),
    });
  });

  it('refuses to train when an image changed since labelling', async () => {
    const labels = (await readFile(labelsFile, 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l));
    const rec = labels.find((l) => l.type === 'labelled');
    const original = await readFile(rec.image);
    await writeFile(
      rec.image,
      await sharp({ create: { width: 301, height: 301, channels: 3, background: '#123456' } })
        .png()
        .toBuffer(),
    );
    try {
      // A fresh cache, so the tiles are embedded (and the image checked) again.
      await expect(trainFromLabels({ ...common(), cacheDir: path.join(root, 'cache2'), base: 'tiny-clip-trainer', name: 'changed' })).rejects.toMatchObject({
        code: 'DATASET_INVALID',
        message: expect.stringContaining('has changed since it was labelled'),
      });
    } finally {
      await writeFile(rec.image, original);
    }
  });

  it.each([
    ['a base that is not clip/siglip', { base: 'llava-interleave-qwen-0.5b' }, 'UNKNOWN_MODEL'],
    ['an unknown base', { base: 'no-such-model' }, 'UNKNOWN_MODEL'],
    ['a missing labels file', { base: 'tiny-clip-trainer', labels: '/nonexistent/labels.jsonl' }, 'DATASET_NOT_FOUND'],
    ['a bad head name', { base: 'tiny-clip-trainer', name: 'a/b' }, 'INVALID_ARGUMENT'],
  ])('rejects %s', async (_name, extra, code) => {
    await expect(trainFromLabels({ ...common(), ...extra })).rejects.toMatchObject({ code });
  });
});
