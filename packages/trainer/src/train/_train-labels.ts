/**
 * From a labels file to a head in the model cache: frozen embeddings (computed once, cached on
 * disk), training, and export (ONNX + head.json + loss chart) of the lowest-loss checkpoint.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { BenchmarkItem, ImageInput, TrainedOn } from '@semclip/core';
import { loadBenchmark } from '@semclip/eval';
import { getManifest, resolveCacheDir } from '@semclip/hub';
import type { EnsureOptions, ModelDtype } from '@semclip/hub';
import { createBaseEncoder, headsRoot, checkHeadName } from '@semclip/scorers/distant';
import type { BaseEncoder, HeadBase } from '@semclip/scorers/distant';
import { boxesSource } from '@semclip/pipeline';
import { tileImage } from '@semclip/tiling';
import { lossChartSvg, svgToPng } from '../export/_chart.js';
import { atomicWrite, writeHeadFolder } from '../export/_head-dir.js';
import type { WrittenHead } from '../export/_head-dir.js';
import { readLabels } from '../label/_records.js';
import type { LabelCounts, LabelledRecord, LabelsFile } from '../label/_records.js';
import { embeddingKey, openEmbeddingStore } from './_embedding-store.js';
import type { EmbeddingStore } from './_embedding-store.js';
import { resolveHyperparameters, trainHead } from './_train.js';
import type { EpochReport, Hyperparameters, TrainOptions, TrainResult, TrainingItem } from './_train.js';

export interface EmbedProgress {
  readonly done: number;
  readonly total: number;
  /** Items whose embeddings all came from the disk cache. */
  readonly cached: number;
  readonly elapsedMs: number;
}

export interface TrainFromLabelsOptions extends Partial<Hyperparameters> {
  /** The labels file from `labelDataset` / `semclip label`. */
  readonly labels: string;
  /** The frozen base: a clip/siglip model id (`clip-vit-base-patch32`), or a folder of towers in the Hugging Face layout. */
  readonly base: string;
  /** The head's name: its folder under `<cacheDir>/heads/`. Default `<labels file name>-<base>`. */
  readonly name?: string;
  /** Write the head here instead of `<cacheDir>/heads/<name>`. */
  readonly dir?: string;
  readonly cacheDir?: string;
  readonly device?: 'cpu' | 'cuda' | 'webgpu' | 'auto';
  readonly dtype?: ModelDtype;
  readonly offline?: boolean;
  /** Download the base model when it is not cached. */
  readonly autoPull?: boolean;
  readonly hub?: Omit<EnsureOptions, 'cacheDir' | 'offline' | 'autoPull'>;
  readonly onEmbed?: (progress: EmbedProgress) => void;
  readonly onEpoch?: TrainOptions['onEpoch'];
  readonly onStep?: TrainOptions['onStep'];
  readonly warn?: (message: string) => void;
  readonly signal?: AbortSignal;
}

export interface TrainFromLabelsResult {
  readonly name: string;
  readonly head: WrittenHead;
  /** loss.svg and loss.png next to head.onnx. */
  readonly charts: { readonly svg: string; readonly png: string };
  readonly base: HeadBase;
  readonly train: TrainResult;
  readonly labels: LabelCounts;
  readonly embeddings: { readonly items: number; readonly computed: number; readonly cached: number; readonly store: string; readonly droppedBytes: number };
  /** The kept epoch's report. */
  readonly best: EpochReport;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** A base given as a folder (towers) or a registered clip/siglip model id. */
async function resolveBase(base: string, env: NodeJS.ProcessEnv | undefined): Promise<{ family: 'clip' | 'siglip'; model?: string; modelPath?: string }> {
  if (typeof base !== 'string' || base.trim() === '') {
    throw new SemclipError('INVALID_ARGUMENT', 'The base model is missing.', {
      expected: 'a clip or siglip model id (semclip models list), or a folder of towers',
      hint: 'Pass --base clip-vit-base-patch32',
    });
  }
  const folder = path.resolve(base);
  if (await isDir(folder)) {
    let type: unknown;
    try {
      type = (JSON.parse(await readFile(path.join(folder, 'config.json'), 'utf8')) as { model_type?: unknown }).model_type;
    } catch (cause) {
      throw new SemclipError('MODEL_INVALID', `${folder} has no readable config.json.`, {
        cause,
        expected: 'a folder in the Hugging Face layout with config.json and onnx/text_model.onnx, onnx/vision_model.onnx',
      });
    }
    if (type !== 'clip' && type !== 'siglip') {
      throw new SemclipError('MODEL_INVALID', `${folder} holds a ${JSON.stringify(type)} model; the base must be CLIP or SigLIP.`, {
        expected: 'config.json model_type "clip" or "siglip"',
      });
    }
    return { family: type, modelPath: folder };
  }
  const m = getManifest(base, env ? { env } : {});
  if (m.family !== 'clip' && m.family !== 'siglip') {
    throw new SemclipError('UNKNOWN_MODEL', `Model "${m.id}" is a ${m.family} model; the base must be a CLIP or SigLIP model.`, {
      hint: 'Pick one from `semclip models list` (family clip or siglip)',
    });
  }
  return { family: m.family, model: m.id };
}

/** Loads images that labelling recorded as embedded in the dataset (no file path), by item id. */
function datasetImages(labels: LabelsFile): (id: string) => Promise<ImageInput> {
  let items: Promise<Map<string, BenchmarkItem>> | undefined;
  return async (id) => {
    items ??= loadBenchmark(labels.header.benchmark, labels.header.source, labels.header.split ? { split: labels.header.split } : {}).then(
      (d) => new Map(d.items.map((it) => [it.id, it])),
    );
    const item = (await items).get(id);
    if (!item) {
      throw new SemclipError('DATASET_NOT_FOUND', `Item ${id} of ${labels.path} is not in ${labels.header.source} any more.`, {
        hint: 'Train on the data the labels were made from, or label again',
      });
    }
    return item.image();
  };
}

async function embedItems(
  labelled: readonly LabelledRecord[],
  labels: LabelsFile,
  base: BaseEncoder,
  store: EmbeddingStore,
  options: TrainFromLabelsOptions,
): Promise<{ items: TrainingItem[]; computed: number; cached: number }> {
  const info = base.info;
  const queryConf = `${info.choices}|${info.template ?? ''}`;
  const fromDataset = datasetImages(labels);
  const items: TrainingItem[] = [];
  let computed = 0;
  let cached = 0;
  const started = performance.now();
  for (const rec of labelled) {
    throwIfAborted(options.signal);
    const textKey = embeddingKey('text', queryConf, JSON.stringify([rec.question, rec.options ?? []]));
    let text = store.get(textKey);
    if (!text) {
      text = (await base.embedQuery({ question: rec.question, ...(rec.options ? { options: rec.options } : {}) })).vector;
      store.put(textKey, text);
    }
    // Zoom labels' regions are nodes of a search, not a grid's tiles: keyed by their boxes.
    const zoomed = rec.grid === 'zoom';
    const tileKeys = rec.tiles.map((b, i) =>
      zoomed ? embeddingKey('tile', rec.imageHash, 'box', `${b.x},${b.y},${b.width},${b.height}`) : embeddingKey('tile', rec.imageHash, rec.grid, String(i)),
    );
    let tiles = tileKeys.map((k) => store.get(k));
    if (tiles.some((t) => t === undefined)) {
      const input = rec.image !== null ? rec.image : await fromDataset(rec.id);
      const tiled = await tileImage(input, { grid: zoomed ? '1x1' : rec.grid });
      if (tiled.id !== rec.imageHash) {
        throw new SemclipError('DATASET_INVALID', `The image of item ${rec.id} (${rec.image ?? 'embedded'}) has changed since it was labelled.`, {
          hint: 'Label it again (semclip label) or restore the original image',
          details: { id: rec.id, image: rec.image },
        });
      }
      if (zoomed) {
        const inside = rec.tiles.every(
          (b) => b.x >= 0 && b.y >= 0 && b.width > 0 && b.height > 0 && b.x + b.width <= tiled.size.width && b.y + b.height <= tiled.size.height,
        );
        if (!inside) {
          throw new SemclipError('DATASET_INVALID', `Item ${rec.id} in ${labels.path} has a region outside its image.`, {
            hint: 'Label it again (semclip label)',
          });
        }
        const { vectors } = await base.embedTiles(boxesSource(tiled, rec.tiles, `labels:${rec.id}`), options.signal ? { signal: options.signal } : {});
        tiles = rec.tiles.map((_, i) => vectors[i]);
      } else {
        const level1 = tiled.grid.tiles.filter((t) => t.level === 1);
        const same = level1.length === rec.tiles.length && level1.every((t, i) => JSON.stringify(t.box) === JSON.stringify(rec.tiles[i]));
        if (!same) {
          throw new SemclipError('DATASET_INVALID', `Item ${rec.id}'s tiles in ${labels.path} do not match grid ${rec.grid} on its image.`, {
            hint: 'Label it again (semclip label)',
          });
        }
        const { vectors } = await base.embedTiles(tiled, options.signal ? { signal: options.signal } : {});
        tiles = level1.map((t) => vectors[t.index]);
      }
      tiles.forEach((v, i) => store.put(tileKeys[i]!, v!));
      computed += 1;
      if (computed % 64 === 0) await store.flush();
    } else cached += 1;
    items.push({ id: rec.id, text, tiles: tiles as Float32Array[], positives: rec.positives, negatives: rec.negatives });
    options.onEmbed?.({ done: items.length, total: labelled.length, cached, elapsedMs: performance.now() - started });
  }
  await store.flush();
  return { items, computed, cached };
}

function defaultName(labelsPath: string, base: string): string {
  const stem = path.basename(labelsPath).replace(/\.[^.]*$/, '');
  const b = path.basename(base.replace(/[\\/]+$/, ''));
  return (
    `${stem}-${b}`
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 128) || 'head'
  );
}

function round(n: number): number {
  return Number(n.toPrecision(6));
}

/**
 * Trains a relevance head from a labels file and writes it into the model cache
 * (`<cacheDir>/heads/<name>/head.onnx` + `head.json`, with `loss.svg`/`loss.png`), where the
 * `distant` scorer loads it by name. The base model's embeddings of every question and tile are
 * computed once and cached on disk (`<cacheDir>/embeddings/`), so later runs cost only the head.
 * The head is rewritten whenever an epoch reaches a new lowest training loss.
 *
 * @example
 * ```ts
 * import { trainFromLabels } from '@semclip/trainer';
 *
 * const r = await trainFromLabels({ labels: 'labels.jsonl', base: 'clip-vit-base-patch32', name: 'sqa-clip-b32', epochs: 10 });
 * console.log(r.head.manifestPath, r.best.holdout?.top1HitRate);
 * // then: createScorer('distant', { model: 'sqa-clip-b32' })
 * ```
 */
export async function trainFromLabels(options: TrainFromLabelsOptions): Promise<TrainFromLabelsResult> {
  const env = options.hub?.env;
  const labels = await readLabels(path.resolve(options.labels));
  if (labels.labelled.length === 0) {
    throw new SemclipError('DATASET_INVALID', `${labels.path} has no labelled item (${labels.counts.processed} processed, all skipped).`, {
      hint: 'Label more items; items where every tile (or no tile) gives the right answer teach nothing',
    });
  }
  const name = checkHeadName(options.name ?? defaultName(labels.path, options.base));
  const cacheDir = options.cacheDir ? path.resolve(options.cacheDir) : resolveCacheDir(env ?? process.env);
  const dir = options.dir ? path.resolve(options.dir) : path.join(headsRoot({ cacheDir }), name);
  const where = await resolveBase(options.base, env);
  const warn = options.warn ?? ((m: string) => process.emitWarning(m, { code: 'SEMCLIP_TRAINER' }));
  const base = await createBaseEncoder({
    family: where.family,
    ...(where.modelPath ? { modelPath: where.modelPath } : { model: where.model! }),
    cacheDir,
    ...(options.device ? { device: options.device } : {}),
    ...(options.dtype ? { dtype: options.dtype } : {}),
    ...(options.offline === undefined ? {} : { offline: options.offline }),
    ...(options.autoPull === undefined ? {} : { autoPull: options.autoPull }),
    ...(options.hub ? { hub: options.hub } : {}),
    // Training walks every tile once: the disk store is the cache, not the in-memory LRU.
    tileCache: false,
    warn,
  });
  try {
    const store = await openEmbeddingStore(cacheDir, base.info.modelKey);
    let embedded: Awaited<ReturnType<typeof embedItems>>;
    try {
      embedded = await embedItems(labels.labelled, labels, base, store, options);
    } finally {
      await store.close();
    }
    const headBase: HeadBase = {
      family: base.info.family,
      model: base.info.model,
      ...(base.info.repo ? { repo: base.info.repo } : {}),
      ...(base.info.revision ? { revision: base.info.revision } : {}),
      dtype: base.info.dtype,
      ...(where.modelPath ? { modelPath: where.modelPath } : {}),
    };
    const dim = embedded.items[0]!.text.length;
    const svgPath = path.join(dir, 'loss.svg');
    const pngPath = path.join(dir, 'loss.png');
    let bestEpoch = 0;
    const hyper: Partial<Hyperparameters> = {
      lr: options.lr,
      batchSize: options.batchSize,
      epochs: options.epochs,
      margin: options.margin,
      seed: options.seed,
      holdout: options.holdout,
      weightDecay: options.weightDecay,
    };
    let written: WrittenHead | undefined;
    const history: EpochReport[] = [];
    // Every labelled item, holdout included: the holdout picked the kept epoch.
    const trainedOn: TrainedOn = {
      benchmark: labels.header.benchmark,
      split: labels.header.split ?? null,
      items: [...new Set(labels.labelled.map((r) => r.id))].sort(),
    };
    const training = (h: Hyperparameters, best: EpochReport) => ({
      labels: { path: labels.path, benchmark: labels.header.benchmark, grid: labels.header.grid, vlm: labels.header.runner.model, ...labels.counts },
      hyperparameters: h,
      bestEpoch: best.epoch,
      trainLoss: round(best.trainLoss),
      ...(best.holdout ? { holdout: best.holdout } : {}),
      ...(history[0]?.holdout ? { baseline: history[0].holdout } : {}),
      history: history.map((r) => ({
        epoch: r.epoch,
        trainLoss: round(r.trainLoss),
        ...(r.holdout ? { top1HitRate: round(r.holdout.top1HitRate), pairwiseAccuracy: round(r.holdout.pairwiseAccuracy) } : {}),
      })),
      trainer: '@semclip/trainer',
    });
    const train = await trainHead(
      { dim, items: embedded.items },
      {
        ...hyper,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onStep ? { onStep: options.onStep } : {}),
        onEpoch: async (report, params) => {
          history.push(report);
          if (report.best) {
            bestEpoch = report.epoch;
            written = await writeHeadFolder({
              dir,
              name,
              params,
              base: headBase,
              query: { choices: base.info.choices, ...(base.info.template ? { template: base.info.template } : {}) },
              training: training(resolveHyperparameters(hyper), report),
              trainedOn,
            });
          }
          const svg = lossChartSvg(history, { title: `${name}: margin ranking loss`, bestEpoch });
          await atomicWrite(svgPath, svg);
          await atomicWrite(pngPath, await svgToPng(svg));
          await options.onEpoch?.(report, params);
        },
      },
    );
    const best = train.history[train.bestEpoch]!;
    // The last best checkpoint was written during training; rewrite its manifest with the full history.
    written = await writeHeadFolder({
      dir,
      name,
      params: train.params,
      base: headBase,
      query: { choices: base.info.choices, ...(base.info.template ? { template: base.info.template } : {}) },
      training: training(train.hyperparameters, best),
      trainedOn,
    });
    return {
      name,
      head: written,
      charts: { svg: svgPath, png: pngPath },
      base: headBase,
      train,
      labels: labels.counts,
      embeddings: { items: embedded.items.length, computed: embedded.computed, cached: embedded.cached, store: store.dir, droppedBytes: store.droppedBytes },
      best,
    };
  } finally {
    await base.dispose();
  }
}
