import { describe, expect, it } from 'vitest';
import { makePlantedSet } from '@semclip/test-kit/trainer-embeddings';
import { Adam, Workspace, batchLossAndGrad, headScores, identityParams } from './_head-math.js';
import type { HeadParams, PairData } from './_head-math.js';
import { mulberry32 } from '@semclip/core';
import { DEFAULT_HYPERPARAMETERS, evaluateHead, resolveHyperparameters, trainHead } from './_train.js';
import type { EpochReport } from './_train.js';

function randomData(dim: number, texts: number, tiles: number, pairs: number, seed: number): PairData {
  const next = mulberry32(seed);
  const rows = (n: number) => Float64Array.from({ length: n * dim }, () => next() * 2 - 1);
  const pick = (n: number) => Uint32Array.from({ length: pairs }, () => Math.floor(next() * n));
  return { dim, texts: rows(texts), tiles: rows(tiles), pairText: pick(texts), pairPos: pick(tiles), pairNeg: pick(tiles) };
}

function perturbed(dim: number, seed: number, scale: number): HeadParams<Float64Array> {
  const p = identityParams(dim, 'f64');
  const next = mulberry32(seed);
  for (const w of [p.wt, p.wv]) for (let i = 0; i < w.length; i++) w[i]! += (next() * 2 - 1) * scale;
  return p;
}

/** Mean hinge loss computed from scratch (float64), independent of the batch code. */
function referenceLoss(p: HeadParams, data: PairData, pairs: readonly number[], margin: number): number {
  const row = (a: ArrayLike<number>, i: number) => Array.from({ length: data.dim }, (_, k) => a[i * data.dim + k]!);
  let sum = 0;
  for (const q of pairs) {
    const [sp, sn] = headScores(p, row(data.texts, data.pairText[q]!), [row(data.tiles, data.pairPos[q]!), row(data.tiles, data.pairNeg[q]!)]);
    sum += Math.max(0, margin - sp! + sn!);
  }
  return sum / pairs.length;
}

describe('margin ranking loss and its gradient', () => {
  const dim = 5;
  const data = randomData(dim, 3, 6, 9, 7);
  const pairs = Array.from({ length: 9 }, (_, i) => i);

  it('gives the loss of the from-scratch reference', () => {
    const p = perturbed(dim, 1, 0.3);
    for (const margin of [0.2, 3]) {
      const { loss } = batchLossAndGrad(p, data, pairs, margin, null);
      expect(loss).toBeCloseTo(referenceLoss(p, data, pairs, margin), 12);
    }
  });

  it.each([
    ['every hinge active (margin 3)', 3],
    ['some hinges inactive (margin 0.1)', 0.1],
  ])('matches central finite differences in float64: %s', (_name, margin) => {
    const p = perturbed(dim, 2, 0.4);
    const grads = { wt: new Float64Array(dim * dim), wv: new Float64Array(dim * dim) };
    const { active } = batchLossAndGrad(p, data, pairs, margin, grads);
    expect(active).toBeGreaterThan(0);
    if (margin < 1) expect(active).toBeLessThan(pairs.length);
    const h = 1e-6;
    let worst = 0;
    for (const [name, w, g] of [
      ['wt', p.wt, grads.wt],
      ['wv', p.wv, grads.wv],
    ] as const) {
      for (let i = 0; i < w.length; i++) {
        const keep = w[i]!;
        w[i] = keep + h;
        const up = batchLossAndGrad(p, data, pairs, margin, null).loss;
        w[i] = keep - h;
        const down = batchLossAndGrad(p, data, pairs, margin, null).loss;
        w[i] = keep;
        const numeric = (up - down) / (2 * h);
        worst = Math.max(worst, Math.abs(numeric - g[i]!));
        expect(Math.abs(numeric - g[i]!), `${name}[${i}]`).toBeLessThan(1e-6);
      }
    }
    // Not vacuous: the gradient is far from zero.
    expect(Math.max(...grads.wt.map(Math.abs), ...grads.wv.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(worst).toBeLessThan(1e-6);
  });

  it('is zero when no hinge is active', () => {
    const grads = { wt: new Float64Array(dim * dim).fill(9), wv: new Float64Array(dim * dim).fill(9) };
    const r = batchLossAndGrad(perturbed(dim, 3, 0.1), data, pairs, -5, grads);
    expect(r).toEqual({ loss: 0, active: 0 });
    expect(grads.wt.every((x) => x === 0) && grads.wv.every((x) => x === 0)).toBe(true);
  });

  it('an identity head scores the plain cosine', () => {
    const t = [0.6, 0.8, 0, 0, 0];
    const v = [1, 0, 0, 0, 0];
    expect(headScores(identityParams(dim), t, [v])[0]).toBeCloseTo(0.6, 7);
  });

  it('reuses a workspace without changing results', () => {
    const p = perturbed(dim, 4, 0.2);
    const ws = new Workspace();
    const g1 = { wt: new Float64Array(dim * dim), wv: new Float64Array(dim * dim) };
    const g2 = { wt: new Float64Array(dim * dim), wv: new Float64Array(dim * dim) };
    batchLossAndGrad(p, data, [0, 1], 3, g1, ws);
    const a = batchLossAndGrad(p, data, pairs, 3, g1, ws);
    const b = batchLossAndGrad(p, data, pairs, 3, g2);
    expect(a).toEqual(b);
    expect(g1).toEqual(g2);
  });
});

describe('Adam', () => {
  it('takes a first step of lr in the direction against the gradient sign (bias correction)', () => {
    const w = Float64Array.of(1, 2);
    new Adam([w], { lr: 0.1 }, 1).update([Float64Array.of(0.5, -3)]);
    expect(w[0]).toBeCloseTo(0.9, 6);
    expect(w[1]).toBeCloseTo(2.1, 6);
  });

  it('minimises a quadratic', () => {
    const w = Float64Array.of(5, -3);
    const adam = new Adam([w], { lr: 0.05 }, 1);
    for (let i = 0; i < 2000; i++) adam.update([Float64Array.of(2 * (w[0]! - 1), 2 * (w[1]! + 2))]);
    expect(w[0]).toBeCloseTo(1, 2);
    expect(w[1]).toBeCloseTo(-2, 2);
  });
});

describe('trainHead on embeddings with a planted relevance signal', () => {
  const set = makePlantedSet({ items: 800, dim: 16, tiles: 4, maxPositives: 2, noise: 0.5, seed: 5 });
  // Hyperparameters for this 16-dimensional toy problem (the defaults are for 512-768-dim CLIP embeddings).
  const options = { lr: 5e-3, epochs: 6, batchSize: 32, margin: 0.2, seed: 3, holdout: 0.2 };

  it('raises the held-out top-1 hit rate from chance to at least 0.9, keeping the lowest-loss epoch', async () => {
    const seen: EpochReport[] = [];
    const result = await trainHead(set, { ...options, onEpoch: (r) => void seen.push(r) });
    const before = result.history[0]!.holdout!;
    const after = result.history.at(-1)!.holdout!;
    expect(before.items).toBe(160);
    // Chance: about half the items have 1 positive of 4, half 2 of 4 (0.375); the base cosine knows nothing.
    expect(before.top1Chance).toBeCloseTo(0.375, 1);
    expect(before.top1HitRate).toBeLessThan(before.top1Chance + 0.1);
    expect(before.pairwiseAccuracy).toBeLessThan(0.6);
    expect(after.top1HitRate).toBeGreaterThanOrEqual(0.9);
    expect(after.pairwiseAccuracy).toBeGreaterThan(0.9);
    expect(seen).toEqual(result.history);
    expect(result.history).toHaveLength(7);
    const losses = result.history.map((r) => r.trainLoss);
    const bestLoss = Math.min(...losses);
    expect(result.history[result.bestEpoch]!.trainLoss).toBe(bestLoss);
    expect(result.history.filter((r) => r.best).at(-1)!.epoch).toBe(result.bestEpoch);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 3);
    // The kept weights are that epoch's: evaluating them again gives its held-out metrics.
    const holdItems = set.items.filter((it) => result.split.holdout.includes(it.id));
    expect(evaluateHead(result.params, holdItems, 0.2)).toEqual(result.history[result.bestEpoch]!.holdout);
    expect(result.split.train.length + result.split.holdout.length).toBe(800);
    expect(new Set([...result.split.train, ...result.split.holdout]).size).toBe(800);
  });

  it('is reproducible: the same seed gives bit-identical weights, another seed different ones', async () => {
    const short = { ...options, epochs: 2 };
    const [a, b, c] = await Promise.all([trainHead(set, short), trainHead(set, short), trainHead(set, { ...short, seed: 4 })]);
    const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    expect(bytes(a.params.wt).equals(bytes(b.params.wt))).toBe(true);
    expect(bytes(a.params.wv).equals(bytes(b.params.wv))).toBe(true);
    expect(a.history.map((r) => r.trainLoss)).toEqual(b.history.map((r) => r.trainLoss));
    expect(bytes(a.params.wt).equals(bytes(c.params.wt))).toBe(false);
    expect(a.split).toEqual(b.split);
    expect(a.split).not.toEqual(c.split);
  });

  it('uses the documented defaults', () => {
    expect(resolveHyperparameters()).toEqual(DEFAULT_HYPERPARAMETERS);
    expect(DEFAULT_HYPERPARAMETERS).toMatchObject({ lr: 1e-4, batchSize: 64, epochs: 10, margin: 0.2, holdout: 0.1 });
  });

  it.each([
    ['lr', 0],
    ['lr', Number.NaN],
    ['batchSize', 0],
    ['epochs', 1.5],
    ['margin', -1],
    ['holdout', 1],
    ['seed', 0.5],
  ] as const)('rejects %s = %s with INVALID_ARGUMENT', async (name, value) => {
    await expect(trainHead(set, { [name]: value })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects items without a positive, or with embeddings of the wrong size', async () => {
    const item = set.items[0]!;
    await expect(trainHead({ dim: 16, items: [{ ...item, positives: [] }] })).rejects.toMatchObject({ code: 'DATASET_INVALID' });
    await expect(trainHead({ dim: 16, items: [{ ...item, text: new Float32Array(3) }] })).rejects.toMatchObject({ code: 'DATASET_INVALID' });
    await expect(trainHead({ dim: 16, items: [] })).rejects.toMatchObject({ code: 'DATASET_INVALID' });
  });

  it('stops with ABORTED when the signal fires', async () => {
    const ctl = new AbortController();
    const run = trainHead(set, { ...options, epochs: 50, onEpoch: (r) => void (r.epoch === 1 && ctl.abort()), signal: ctl.signal });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
