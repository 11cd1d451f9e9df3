import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHead, readHeadManifest } from '@semclip/scorers/distant';
import { makePlantedSet } from '@semclip/test-kit/trainer-embeddings';
import { headScores, identityParams } from '../train/_head-math.js';
import type { HeadParams } from '../train/_head-math.js';
import { mulberry32 } from '@semclip/core';
import { trainHead } from '../train/_train.js';
import { lossChartSvg, svgToPng } from './_chart.js';
import { writeHeadFolder } from './_head-dir.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'semclip-export-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

function randomParams(dim: number, seed: number, scale: number): HeadParams<Float32Array> {
  const p = identityParams(dim);
  const next = mulberry32(seed);
  for (const w of [p.wt, p.wv]) for (let i = 0; i < w.length; i++) w[i]! += (next() * 2 - 1) * scale;
  return p;
}

function unitRows(n: number, dim: number, seed: number): Float32Array[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, () => next() * 2 - 1);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

const base = {
  family: 'clip' as const,
  model: 'clip-vit-base-patch32',
  repo: 'Xenova/clip-vit-base-patch32',
  revision: 'd15189d7028b43f1d3e65039190477f6af591c2a',
  dtype: 'fp32',
};

describe('ONNX export of the head', () => {
  it.each([
    ['768-dim random head (CLIP ViT-L/14 size)', 768, 9],
    ['16-dim random head', 16, 40],
  ])('gives the TypeScript forward pass scores on ONNX Runtime: %s (max abs diff < 1e-5)', async (_name, dim, tiles) => {
    const params = randomParams(dim, dim, 0.05);
    const dir = path.join(root, `head-${dim}`);
    const written = await writeHeadFolder({ dir, name: `parity-${dim}`, params, base, query: { choices: 'average' } });
    const head = await loadHead(written.manifestPath, { device: 'cpu' });
    try {
      const [text, ...rest] = unitRows(tiles + 1, dim, 7);
      const onnx = await head.score(text!, rest);
      const ts = headScores(params, text!, rest);
      let worst = 0;
      for (let i = 0; i < tiles; i++) worst = Math.max(worst, Math.abs(onnx[i]! - ts[i]!));
      expect(worst).toBeLessThan(1e-5);
      // Not vacuous: the head is far from the plain cosine.
      const plain = rest.map((v) => v.reduce((s, x, k) => s + x * text![k]!, 0));
      expect(Math.max(...rest.map((_, i) => Math.abs(ts[i]! - plain[i]!)))).toBeGreaterThan(1e-3);
    } finally {
      await head.dispose();
    }
  });

  it('exports a trained head that ranks held-out items on ONNX Runtime as it did in TypeScript', async () => {
    const set = makePlantedSet({ items: 300, dim: 16, tiles: 4, seed: 2 });
    const result = await trainHead(set, { lr: 5e-3, epochs: 3, batchSize: 32, seed: 1 });
    const written = await writeHeadFolder({ dir: path.join(root, 'trained'), name: 'trained', params: result.params, base, query: { choices: 'average' } });
    const head = await loadHead(written.manifestPath);
    try {
      for (const it of set.items.slice(0, 30)) {
        const onnx = await head.score(it.text, it.tiles);
        const ts = headScores(result.params, it.text, it.tiles);
        onnx.forEach((s, i) => expect(Math.abs(s - ts[i]!)).toBeLessThan(1e-5));
      }
    } finally {
      await head.dispose();
    }
  });

  it('writes head.json naming the base model and revision, with the graph sha256', async () => {
    const dir = path.join(root, 'manifest');
    const written = await writeHeadFolder({ dir, name: 'manifest', params: identityParams(8), base, query: { choices: 'average' }, training: { note: 'x' } });
    const manifest = await readHeadManifest(written.manifestPath);
    expect(manifest).toMatchObject({
      schema: 1,
      kind: 'semclip-relevance-head',
      name: 'manifest',
      type: 'linear',
      dim: 8,
      file: 'head.onnx',
      base,
      query: { choices: 'average' },
      training: { note: 'x' },
    });
    expect(manifest.sha256).toBe(
      createHash('sha256')
        .update(await readFile(written.onnxPath))
        .digest('hex'),
    );
  });

  it('rejects a head name that is not a folder name', async () => {
    await expect(
      writeHeadFolder({ dir: path.join(root, 'x'), name: '../evil', params: identityParams(2), base, query: { choices: 'average' } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('loss chart', () => {
  const history = [0, 1, 2, 3].map((epoch) => ({
    epoch,
    trainLoss: 0.3 / (epoch + 1),
    activeFraction: 0.5,
    holdout: { items: 10, pairs: 30, pairwiseAccuracy: 0.5 + epoch * 0.1, top1HitRate: 0.3 + epoch * 0.2, top1Chance: 0.3, loss: 0.25 / (epoch + 1) },
    best: true,
    steps: epoch * 5,
    elapsedMs: 10,
    pairsPerSecond: 100,
  }));

  it('draws the training and held-out curves and marks the kept epoch', () => {
    const svg = lossChartSvg(history, { title: 'a <b> & c', bestEpoch: 3 });
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg).toContain('kept: epoch 3');
    expect(svg).toContain('a &lt;b&gt; &amp; c');
    expect(svg).toContain('held-out top-1 hit rate');
  });

  it('renders to a PNG of the chart size', async () => {
    const png = await svgToPng(lossChartSvg(history));
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 720, height: 400 });
  });
});
