import { SemclipError, mulberry32, throwIfAborted } from '@semclip/core';
import { Adam, Workspace, batchLossAndGrad, cloneParams, headScores, identityParams } from './_head-math.js';
import type { HeadParams, PairData } from './_head-math.js';
import { shuffleInPlace } from './_rng.js';

/** One labelled item with its frozen embeddings: what training consumes. */
export interface TrainingItem {
  readonly id: string;
  /** The question's normalised base embedding. */
  readonly text: Float32Array;
  /** Every tile's normalised base embedding, in grid order. */
  readonly tiles: readonly Float32Array[];
  /** Tiles with which the VLM answered right. */
  readonly positives: readonly number[];
  /** Tiles with which it answered wrong. */
  readonly negatives: readonly number[];
}

export interface TrainingSet {
  readonly dim: number;
  readonly items: readonly TrainingItem[];
}

/** The knobs of `trainHead`; see `DEFAULT_HYPERPARAMETERS` for the defaults and why. */
export interface Hyperparameters {
  /** Adam learning rate. */
  readonly lr: number;
  /** Pairs per step. */
  readonly batchSize: number;
  readonly epochs: number;
  /** m in max(0, m - s(q, pos) + s(q, neg)). */
  readonly margin: number;
  /** Seeds the holdout split and the shuffling (the head starts at the identity). */
  readonly seed: number;
  /** Fraction of items (not pairs) kept out of training for the held-out metrics. */
  readonly holdout: number;
  /** Decoupled weight decay towards the identity. */
  readonly weightDecay: number;
}

/**
 * Defaults as the method trains its relevance model: Adam at 1e-4 (the 1e-5..1e-4 range; the head
 * starts at the identity, so small steps keep it near the pretrained similarity), batches of 64
 * pairs, margin 0.2 on cosine scores, 10 epochs (the checkpoint with the lowest training loss is
 * kept), 10% of items held out, seed 0, no weight decay.
 */
export const DEFAULT_HYPERPARAMETERS: Hyperparameters = {
  lr: 1e-4,
  batchSize: 64,
  epochs: 10,
  margin: 0.2,
  seed: 0,
  holdout: 0.1,
  weightDecay: 0,
};

/** Ranking quality on held-out items. */
export interface HoldoutMetrics {
  readonly items: number;
  readonly pairs: number;
  /** Fraction of (positive, negative) pairs the head orders right (ties count half). */
  readonly pairwiseAccuracy: number;
  /** Fraction of items whose best-scored tile is a positive (ties go to the lower tile index). */
  readonly top1HitRate: number;
  /** What picking a tile at random would score on top-1 (mean of positives / tiles). */
  readonly top1Chance: number;
  /** Mean margin loss over the held-out pairs. */
  readonly loss: number;
}

export interface EpochReport {
  /** 0 = before training (the identity head = the base model's cosine). */
  readonly epoch: number;
  /** Mean batch loss over the epoch (epoch 0: the loss of the untrained head). */
  readonly trainLoss: number;
  /** Fraction of training pairs whose hinge was active (loss > 0). */
  readonly activeFraction: number;
  readonly holdout?: HoldoutMetrics;
  /** True when this epoch's training loss is the lowest so far (its weights are the kept checkpoint). */
  readonly best: boolean;
  readonly steps: number;
  readonly elapsedMs: number;
  /** Training pairs processed per second in this epoch. */
  readonly pairsPerSecond: number;
}

export interface TrainOptions extends Partial<Hyperparameters> {
  /** Called after every epoch (and for epoch 0) with the report and the current weights. */
  readonly onEpoch?: (report: EpochReport, params: HeadParams<Float32Array>) => void | Promise<void>;
  /** Called after each step, for progress bars. */
  readonly onStep?: (progress: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  readonly signal?: AbortSignal;
}

export interface TrainResult {
  /** The weights of the epoch with the lowest training loss. */
  readonly params: HeadParams<Float32Array>;
  readonly bestEpoch: number;
  readonly history: readonly EpochReport[];
  readonly hyperparameters: Hyperparameters;
  readonly split: { readonly train: readonly string[]; readonly holdout: readonly string[] };
  readonly pairs: { readonly train: number; readonly holdout: number };
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new SemclipError('INVALID_ARGUMENT', `${name} ${String(value)} is not valid.`, { expected, details: { [name]: value } });
}

/**
 * Validates hyperparameters and fills in the defaults; INVALID_ARGUMENT names a bad one.
 *
 * @example
 * ```ts
 * resolveHyperparameters({ lr: 3e-5 }); // { lr: 3e-5, batchSize: 64, epochs: 10, margin: 0.2, seed: 0, holdout: 0.1, weightDecay: 0 }
 * ```
 */
export function resolveHyperparameters(options: Partial<Hyperparameters> = {}): Hyperparameters {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<Hyperparameters>;
  const h = { ...DEFAULT_HYPERPARAMETERS, ...defined };
  check('lr', h.lr, Number.isFinite(h.lr) && h.lr > 0 && h.lr <= 1, 'a learning rate above 0 and at most 1, like 1e-4');
  check('batchSize', h.batchSize, Number.isInteger(h.batchSize) && h.batchSize >= 1, 'an integer of at least 1, like 64');
  check('epochs', h.epochs, Number.isInteger(h.epochs) && h.epochs >= 1, 'an integer of at least 1, like 10');
  check('margin', h.margin, Number.isFinite(h.margin) && h.margin >= 0 && h.margin <= 2, 'a margin from 0 to 2 (scores are cosines), like 0.2');
  check('seed', h.seed, Number.isSafeInteger(h.seed), 'an integer');
  check('holdout', h.holdout, Number.isFinite(h.holdout) && h.holdout >= 0 && h.holdout < 1, 'a fraction from 0 up to, not including, 1, like 0.1');
  check('weightDecay', h.weightDecay, Number.isFinite(h.weightDecay) && h.weightDecay >= 0, 'a number of at least 0');
  return h;
}

function checkSet(set: TrainingSet): void {
  const d = set.dim;
  if (!Number.isInteger(d) || d < 1)
    throw new SemclipError('INVALID_ARGUMENT', `Embedding size ${String(d)} is not valid.`, { expected: 'a positive integer' });
  set.items.forEach((item) => {
    const bad = (why: string) =>
      new SemclipError('DATASET_INVALID', `Training item ${JSON.stringify(item.id)} ${why}.`, {
        expected: 'one text embedding, tile embeddings of the same size, and at least one positive and one negative tile',
      });
    if (item.text.length !== d) throw bad(`has a ${item.text.length}-dimensional question embedding, not ${d}`);
    item.tiles.forEach((t, i) => {
      if (t.length !== d) throw bad(`has a ${t.length}-dimensional embedding for tile ${i}, not ${d}`);
    });
    if (item.positives.length === 0 || item.negatives.length === 0) throw bad('has no positive or no negative tile');
    for (const i of [...item.positives, ...item.negatives])
      if (!Number.isInteger(i) || i < 0 || i >= item.tiles.length) throw bad(`names tile ${i}, which it does not have`);
  });
}

/** Flattens items into the row tables and pair triples the math works on. */
function pairData(dim: number, items: readonly TrainingItem[]): PairData & { tileOffset: Uint32Array } {
  const texts = new Float32Array(items.length * dim);
  const tileCount = items.reduce((s, it) => s + it.tiles.length, 0);
  const tiles = new Float32Array(tileCount * dim);
  const tileOffset = new Uint32Array(items.length);
  let pairCount = 0;
  for (const it of items) pairCount += it.positives.length * it.negatives.length;
  const pairText = new Uint32Array(pairCount);
  const pairPos = new Uint32Array(pairCount);
  const pairNeg = new Uint32Array(pairCount);
  let off = 0;
  let p = 0;
  items.forEach((it, i) => {
    texts.set(it.text, i * dim);
    tileOffset[i] = off;
    it.tiles.forEach((t, j) => tiles.set(t, (off + j) * dim));
    for (const pos of it.positives) {
      for (const neg of it.negatives) {
        pairText[p] = i;
        pairPos[p] = off + pos;
        pairNeg[p] = off + neg;
        p++;
      }
    }
    off += it.tiles.length;
  });
  return { dim, texts, tiles, pairText, pairPos, pairNeg, tileOffset };
}

/**
 * Held-out ranking metrics of a head.
 *
 * @example
 * ```ts
 * const m = evaluateHead(result.params, holdoutItems, 0.2);
 * console.log(m.top1HitRate, m.pairwiseAccuracy);
 * ```
 */
export function evaluateHead(params: HeadParams, items: readonly TrainingItem[], margin: number): HoldoutMetrics {
  let pairs = 0;
  let right = 0;
  let hits = 0;
  let chance = 0;
  let loss = 0;
  for (const it of items) {
    const s = headScores(params, it.text, it.tiles);
    let best = 0;
    for (let j = 1; j < s.length; j++) if (s[j]! > s[best]!) best = j;
    if (it.positives.includes(best)) hits += 1;
    chance += it.positives.length / it.tiles.length;
    for (const p of it.positives) {
      for (const n of it.negatives) {
        pairs += 1;
        right += s[p]! > s[n]! ? 1 : s[p]! === s[n]! ? 0.5 : 0;
        loss += Math.max(0, margin - s[p]! + s[n]!);
      }
    }
  }
  const n = items.length;
  return {
    items: n,
    pairs,
    pairwiseAccuracy: pairs > 0 ? right / pairs : 0,
    top1HitRate: n > 0 ? hits / n : 0,
    top1Chance: n > 0 ? chance / n : 0,
    loss: pairs > 0 ? loss / pairs : 0,
  };
}

/** Splits item indices into train and holdout with the seeded generator. */
function split(n: number, holdout: number, next: () => number): { train: number[]; hold: number[] } {
  const order = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, next);
  let k = holdout > 0 && n >= 2 ? Math.max(1, Math.round(n * holdout)) : 0;
  k = Math.min(k, n - 1);
  return { hold: order.slice(0, k).sort((a, b) => a - b), train: order.slice(k).sort((a, b) => a - b) };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Trains the relevance head over frozen embeddings with the margin ranking loss and Adam:
 * seeded (same seed and data: identical weights, bit for bit), keeping the weights of the epoch
 * with the lowest training loss, with held-out pairwise accuracy and top-1 hit rate after every
 * epoch.
 *
 * @example
 * ```ts
 * import { trainHead } from '@semclip/trainer';
 *
 * const result = await trainHead({ dim: 512, items }, { epochs: 10, lr: 1e-4, onEpoch: (r) => console.log(r) });
 * console.log(result.bestEpoch, result.history.at(-1)?.holdout?.top1HitRate);
 * ```
 */
export async function trainHead(set: TrainingSet, options: TrainOptions = {}): Promise<TrainResult> {
  const h = resolveHyperparameters(options);
  checkSet(set);
  if (set.items.length === 0) {
    throw new SemclipError('DATASET_INVALID', 'There is nothing to train on: no labelled item has both a positive and a negative tile.', {
      hint: 'Label more items (semclip label), or use a harder benchmark where the right tile matters',
    });
  }
  const rng = mulberry32(h.seed);
  const { train, hold } = split(set.items.length, h.holdout, rng);
  const trainItems = train.map((i) => set.items[i]!);
  const holdItems = hold.map((i) => set.items[i]!);
  const data = pairData(set.dim, trainItems);
  const nPairs = data.pairText.length;
  const params = identityParams(set.dim);
  const grads = { wt: new Float64Array(set.dim * set.dim), wv: new Float64Array(set.dim * set.dim) };
  const adam = new Adam([params.wt, params.wv], { lr: h.lr, weightDecay: h.weightDecay }, set.dim);
  const ws = new Workspace();
  const order = new Uint32Array(nPairs);
  for (let i = 0; i < nPairs; i++) order[i] = i;
  const stepsPerEpoch = Math.ceil(nPairs / h.batchSize);
  const history: EpochReport[] = [];
  let best = { loss: Infinity, epoch: 0, params: cloneParams(params) };

  const report = async (epoch: number, trainLoss: number, active: number, steps: number, elapsedMs: number): Promise<void> => {
    const isBest = trainLoss < best.loss;
    if (isBest) best = { loss: trainLoss, epoch, params: cloneParams(params) };
    const r: EpochReport = {
      epoch,
      trainLoss,
      activeFraction: nPairs > 0 ? active / nPairs : 0,
      ...(holdItems.length > 0 ? { holdout: evaluateHead(params, holdItems, h.margin) } : {}),
      best: isBest,
      steps,
      elapsedMs,
      pairsPerSecond: elapsedMs > 0 && epoch > 0 ? (nPairs / elapsedMs) * 1000 : 0,
    };
    history.push(r);
    await options.onEpoch?.(r, params);
  };

  // Epoch 0: the untrained (identity) head over every training pair, with no update.
  {
    let sum = 0;
    let active = 0;
    for (let start = 0; start < nPairs; start += h.batchSize) {
      const chunk = order.subarray(start, Math.min(nPairs, start + h.batchSize));
      const r = batchLossAndGrad(params, data, chunk, h.margin, null, ws);
      sum += r.loss * chunk.length;
      active += r.active;
    }
    await report(0, nPairs > 0 ? sum / nPairs : 0, active, 0, 0);
  }
  for (let epoch = 1; epoch <= h.epochs; epoch++) {
    throwIfAborted(options.signal);
    const started = performance.now();
    shuffleInPlace(order, rng);
    let sum = 0;
    let active = 0;
    let lastYield = performance.now();
    for (let step = 0; step < stepsPerEpoch; step++) {
      const batch = order.subarray(step * h.batchSize, Math.min(nPairs, (step + 1) * h.batchSize));
      const r = batchLossAndGrad(params, data, batch, h.margin, grads, ws);
      // Weighted by batch size so a short last batch counts for what it holds.
      sum += r.loss * batch.length;
      active += r.active;
      adam.update([grads.wt, grads.wv]);
      options.onStep?.({ epoch, step: step + 1, stepsPerEpoch, loss: r.loss });
      if (performance.now() - lastYield > 25) {
        await yieldToLoop();
        throwIfAborted(options.signal);
        lastYield = performance.now();
      }
    }
    await report(epoch, nPairs > 0 ? sum / nPairs : 0, active, adam.steps, performance.now() - started);
  }
  return {
    params: best.params,
    bestEpoch: best.epoch,
    history,
    hyperparameters: h,
    split: { train: trainItems.map((i) => i.id), holdout: holdItems.map((i) => i.id) },
    pairs: { train: nPairs, holdout: holdItems.reduce((s, it) => s + it.positives.length * it.negatives.length, 0) },
  };
}
