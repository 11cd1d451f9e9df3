/**
 * Distant scorer tests on tiny random-weight CLIPs from the test kit (served by the fake hub or
 * read from a folder) and heads written by the kit's own head generator. Random weights check
 * plumbing, shapes, caching and errors; the known answers are exact identities: an identity head
 * scores like the clip scorer, and any head scores like its float64 reference over the base
 * encoder's embeddings.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TileSource } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { makeTinyClip, writeModelFiles } from '@semclip/test-kit/onnx-models';
import { headScore, identityHead, randomHead, writeHead } from '@semclip/test-kit/trainer-head';
import { PHOTO } from '../clip/_test-models.js';
import { createClipScorer } from '../clip/index.js';
import { createBaseEncoder, createDistantScorer, headsRoot, loadHead, resolveHeadManifestPath } from './index.js';
import type { BaseEncoder, DistantScorer } from './index.js';

const REPO = 'semclip-test/tiny-clip-distant';
const REVISION = fakeRevision(REPO);
const DIM = 16;
const quiet = () => {};

describe('distant scorer: base from the fake hub + a trained head', () => {
  let hub: FakeHub;
  let root: string;
  let cacheDir: string;
  let env: NodeJS.ProcessEnv;
  let base: BaseEncoder;
  let grid: TileSource;
  const files = makeTinyClip({ seed: 11, dim: DIM, imageSize: 32 }).files;
  const manifest = manifestFor(REPO, REVISION, files, { id: 'tiny-clip-distant', family: 'clip' });
  const baseRef = { family: 'clip' as const, model: 'tiny-clip-distant', repo: REPO, revision: REVISION, dtype: 'fp32' };
  const random = randomHead(DIM, 3, 0.4);

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'semclip-distant-'));
    cacheDir = path.join(root, 'cache');
    const manifestFile = path.join(root, 'tiny.manifest.json');
    await writeFile(manifestFile, JSON.stringify(manifest));
    env = { ...process.env, SEMCLIP_MANIFEST_PATH: manifestFile };
    hub = await startFakeHub({ repos: { [REPO]: { revision: REVISION, files } } });
    await writeHead(path.join(headsRoot({ cacheDir }), 'identity'), { name: 'identity', head: identityHead(DIM), base: baseRef });
    await writeHead(path.join(headsRoot({ cacheDir }), 'random'), { name: 'random', head: random, base: baseRef });
    base = await createBaseEncoder({
      family: 'clip',
      model: 'tiny-clip-distant',
      cacheDir,
      autoPull: true,
      hub: { endpoint: hub.url, env },
      device: 'cpu',
      warn: quiet,
    });
    grid = await tileImage(PHOTO, { grid: '2x2' });
  });

  afterAll(async () => {
    await base?.dispose();
    await hub?.close();
    await rm(root, { recursive: true, force: true });
  });

  const open = (head: string, extra: Record<string, unknown> = {}): Promise<DistantScorer> =>
    createDistantScorer({ model: head, cacheDir, hub: { endpoint: hub.url, env }, device: 'cpu', warn: quiet, ...extra });

  it('with an identity head scores exactly like the clip scorer on the same base', async () => {
    const scorer = await open('identity');
    const clip = await createClipScorer({ modelPath: base.info.dir, device: 'cpu', warn: quiet });
    try {
      for (const query of [{ question: 'What is the price of the drink?' }, { question: 'Which colour is the can?', options: ['red', 'blue'] }]) {
        const [d, c] = await Promise.all([scorer.score(query, grid), clip.score(query, grid)]);
        expect(d.scorer).toBe('distant');
        expect(d.scores).toHaveLength(4);
        d.scores.forEach((s, i) => expect(Math.abs(s - c.scores[i]!)).toBeLessThan(1e-5));
      }
      expect(scorer.info).toMatchObject({
        head: 'identity',
        headType: 'linear',
        dim: DIM,
        base: { model: 'tiny-clip-distant', revision: REVISION, family: 'clip' },
      });
    } finally {
      await Promise.all([scorer.dispose(), clip.dispose()]);
    }
  });

  it('with a trained head gives cosine(W_t t, W_v v) over the base embeddings (float64 reference, 1e-5)', async () => {
    const scorer = await createDistantScorer({ model: 'random', cacheDir, hub: { endpoint: hub.url, env }, device: 'cpu', warn: quiet });
    try {
      const query = { question: 'Where is the coin slot?' };
      const { scores } = await scorer.score(query, grid);
      const t = (await base.embedQuery(query)).vector;
      const { vectors } = await base.embedTiles(grid);
      vectors.forEach((v, i) => expect(Math.abs(scores[i]! - headScore(random, t, v))).toBeLessThan(1e-5));
      // The head changes the ranking signal: not the plain cosine.
      const plain = vectors.map((v) => v.reduce((s, x, k) => s + x * t[k]!, 0));
      expect(scores.some((s, i) => Math.abs(s - plain[i]!) > 1e-3)).toBe(true);
    } finally {
      await scorer.dispose();
    }
  });

  it('caches tile embeddings like the clip scorer: a second question encodes no tile', async () => {
    const scorer = await open('random');
    try {
      const first = await scorer.score({ question: 'Is there a red can?' }, grid);
      expect(first.meta).toMatchObject({ cacheHits: 0, tilesEncoded: 4, head: 'random', model: 'tiny-clip-distant' });
      const second = await scorer.score({ question: 'Where is the coin slot?' }, grid);
      expect(second.meta).toMatchObject({ cacheHits: 4, tilesEncoded: 0 });
      expect(scorer.stats()).toMatchObject({ visionRuns: 1, tilesEncoded: 4 });
      const again = await scorer.score({ question: 'Is there a red can?' }, grid);
      expect(again.scores).toEqual(first.scores);
      expect(scorer.stats().textRuns).toBe(2);
    } finally {
      await scorer.dispose();
    }
  });

  it('honours another tower folder (externally fine-tuned towers): scores follow those towers', async () => {
    const other = path.join(root, 'finetuned');
    await writeModelFiles(other, makeTinyClip({ seed: 99, dim: DIM, imageSize: 32 }).files);
    const scorer = await open('identity', { modelPath: other });
    const clipOther = await createClipScorer({ modelPath: other, device: 'cpu', warn: quiet });
    const clipBase = await createClipScorer({ modelPath: base.info.dir, device: 'cpu', warn: quiet });
    try {
      const q = { question: 'Which shelf holds the water bottles?' };
      const [d, o, b] = await Promise.all([scorer.score(q, grid), clipOther.score(q, grid), clipBase.score(q, grid)]);
      expect(scorer.info.base.dir).toBe(other);
      d.scores.forEach((s, i) => expect(Math.abs(s - o.scores[i]!)).toBeLessThan(1e-5));
      expect(d.scores.some((s, i) => Math.abs(s - b.scores[i]!) > 1e-3)).toBe(true);
    } finally {
      await Promise.all([scorer.dispose(), clipOther.dispose(), clipBase.dispose()]);
    }
  });

  it('honours base.modelPath recorded in head.json', async () => {
    const dir = path.join(root, 'heads-by-path', 'pathed');
    const file = await writeHead(dir, {
      name: 'pathed',
      head: identityHead(DIM),
      base: { family: 'clip', model: base.info.dir, modelPath: base.info.dir, dtype: 'fp32' },
    });
    const scorer = await createDistantScorer({ model: file, device: 'cpu', warn: quiet });
    try {
      expect(scorer.info.base.dir).toBe(base.info.dir);
      expect((await scorer.score({ question: 'q' }, grid)).scores).toHaveLength(4);
    } finally {
      await scorer.dispose();
    }
  });

  it('finds a head by folder path as well as by name', async () => {
    const folder = path.join(headsRoot({ cacheDir }), 'identity');
    expect(await resolveHeadManifestPath(folder)).toBe(path.join(folder, 'head.json'));
    expect(await resolveHeadManifestPath('identity', { cacheDir })).toBe(path.join(folder, 'head.json'));
  });

  it('names `semclip train` when the head does not exist, and asks for one when none is given', async () => {
    await expect(open('no-such-head')).rejects.toMatchObject({ code: 'MODEL_NOT_DOWNLOADED', message: expect.stringContaining('semclip train') });
    await expect(createDistantScorer({ cacheDir, device: 'cpu' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('semclip train'),
    });
  });

  it('rejects a head graph that does not match head.json (MODEL_CHECKSUM_MISMATCH)', async () => {
    const dir = path.join(headsRoot({ cacheDir }), 'tampered');
    await writeHead(dir, { name: 'tampered', head: identityHead(DIM), base: baseRef });
    const bytes = await readFile(path.join(dir, 'head.onnx'));
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    await writeFile(path.join(dir, 'head.onnx'), bytes);
    await expect(open('tampered')).rejects.toMatchObject({ code: 'MODEL_CHECKSUM_MISMATCH' });
  });

  it('rejects an invalid head.json with MODEL_INVALID listing the problems', async () => {
    const dir = path.join(headsRoot({ cacheDir }), 'broken');
    await writeHead(dir, { name: 'broken', head: identityHead(DIM), base: baseRef, override: { schema: 7, type: 'mlp' } });
    await expect(open('broken')).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(/schema must be 1.*type must be one of linear/),
    });
  });

  it('exposes the items its head was trained on (head.json trainedOn), null for heads that do not record them', async () => {
    const dir = path.join(headsRoot({ cacheDir }), 'with-items');
    const trainedOn = { benchmark: 'scienceqa', split: 'train', items: ['1', '7', '12'] };
    await writeHead(dir, { name: 'with-items', head: identityHead(DIM), base: baseRef, override: { trainedOn } });
    const scorer = await open('with-items');
    const older = await open('identity');
    try {
      expect(scorer.trainedOn).toEqual(trainedOn);
      expect(older.trainedOn).toBeNull();
    } finally {
      await Promise.all([scorer.dispose(), older.dispose()]);
    }
  });

  it.each([
    [{ benchmark: '', split: 'train', items: [] }, 'trainedOn.benchmark'],
    [{ benchmark: 'scienceqa', split: 3, items: [] }, 'trainedOn.split'],
    [{ benchmark: 'scienceqa', split: null, items: [1, 2] }, 'trainedOn.items'],
    [['1', '2'], 'trainedOn must be an object'],
  ])('rejects a head.json with a malformed trainedOn %j', async (trainedOn, problem) => {
    const dir = path.join(headsRoot({ cacheDir }), 'bad-items');
    await writeHead(dir, { name: 'bad-items', head: identityHead(DIM), base: baseRef, override: { trainedOn } });
    await expect(open('bad-items')).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(problem) });
  });

  it('rejects a head whose size does not match the base embeddings', async () => {
    await writeHead(path.join(headsRoot({ cacheDir }), 'small'), { name: 'small', head: identityHead(8), base: baseRef });
    const scorer = await open('small');
    try {
      await expect(scorer.score({ question: 'q' }, grid)).rejects.toMatchObject({
        code: 'MODEL_INVALID',
        message: expect.stringMatching(/8-dimensional.*gives 16/),
      });
    } finally {
      await scorer.dispose();
    }
  });

  it('refuses a head trained on another revision of its base model', async () => {
    await writeHead(path.join(headsRoot({ cacheDir }), 'stale'), { name: 'stale', head: identityHead(DIM), base: { ...baseRef, revision: 'f'.repeat(40) } });
    await expect(open('stale')).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('registry now pins') });
  });

  it('loadHead checks its input sizes', async () => {
    const head = await loadHead(path.join(headsRoot({ cacheDir }), 'identity', 'head.json'));
    try {
      await expect(head.score(new Float32Array(3), [new Float32Array(DIM)])).rejects.toMatchObject({ code: 'MODEL_INVALID' });
      await expect(head.score(new Float32Array(DIM), [new Float32Array(DIM - 1)])).rejects.toMatchObject({ code: 'MODEL_INVALID' });
      const scores = await head.score(
        Float32Array.from({ length: DIM }, (_, i) => (i === 0 ? 1 : 0)),
        new Float32Array(2 * DIM).fill(1),
      );
      expect(scores).toHaveLength(2);
      expect(scores[0]).toBeCloseTo(0.25, 6);
    } finally {
      await head.dispose();
    }
  });

  it('truncates a 100k-character question to the context, says so, and keeps meta small', async () => {
    const warnings: string[] = [];
    const scorer = await open('random', { warn: (m: string) => warnings.push(m) });
    try {
      const r = await scorer.score({ question: `What is on the sign ${'near the bottles '.repeat(6000)}` }, grid);
      expect(r.scores.every(Number.isFinite)).toBe(true);
      expect(r.meta).toMatchObject({ truncated: true });
      expect((r.meta!.texts as string[])[0]!.length).toBeLessThanOrEqual(1001);
      expect(warnings.some((w) => w.includes('77-token context'))).toBe(true);
    } finally {
      await scorer.dispose();
    }
  });

  it('rejects a disposed scorer and an aborted call', async () => {
    const scorer = await open('identity');
    const ctl = new AbortController();
    ctl.abort();
    await expect(scorer.score({ question: 'q' }, grid, { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    await scorer.dispose();
    await expect(scorer.score({ question: 'q' }, grid)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('distant scorer: head folder errors without a model', () => {
  it('says which folder lacks head.json', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'semclip-distant-empty-'));
    await mkdir(path.join(dir, 'x'), { recursive: true });
    await expect(resolveHeadManifestPath(path.join(dir, 'x'))).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      message: expect.stringContaining('head.json'),
    });
    await rm(dir, { recursive: true, force: true });
  });
});
