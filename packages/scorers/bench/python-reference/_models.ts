/**
 * The random-weight CLIP towers the side-by-side bench runs, generated once by the test kit in the
 * transformers.js layout into a cache folder (never committed): full-size shapes, random weights,
 * the real CLIP tokenizer when ../shared has it.
 */
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTinyClip, writeModelFiles } from '@semclip/test-kit/onnx-models';
import type { TinyModelOptions } from '@semclip/test-kit/onnx-models';

export interface BenchModel {
  readonly id: 'b32' | 'l14';
  readonly label: string;
  readonly options: TinyModelOptions;
}

export const MODELS: readonly BenchModel[] = [
  // ViT-B/32 at 224: vision width 768 x 12 layers; text width 512 x 12 layers; 512-d embeddings.
  { id: 'b32', label: 'CLIP ViT-B/32-224 shapes', options: { seed: 1, size: 'vit-b-32' } },
  // ViT-L/14 at 336 (clip-vit-large-patch14-336, LLaVA-1.5's tower): vision width 1024 x 24 layers,
  // 16 heads, patch 14 (577 tokens); text width 768 x 12 layers, 12 heads; 768-d embeddings.
  {
    id: 'l14',
    label: 'CLIP ViT-L/14-336 shapes',
    options: {
      seed: 2,
      size: 'vit-b-32',
      imageSize: 336,
      patchSize: 14,
      vision: { width: 1024, layers: 24, heads: 16 },
      text: { width: 768, layers: 12, heads: 12 },
      dim: 768,
    },
  },
];

/** Where generated models are kept between bench runs: SEMCLIP_PYREF_CACHE, else ~/.cache/semclip/pyref-models. */
export function modelCacheDir(): string {
  const env = process.env.SEMCLIP_PYREF_CACHE;
  return env ? path.resolve(env) : path.join(os.homedir(), '.cache', 'semclip', 'pyref-models');
}

/** Bump when the generator's output changes, so stale folders are not reused. */
const LAYOUT = 'v1';

/** The model's folder, generated (into a `.part` folder, then renamed) when it is not there yet. */
export async function ensureModel(model: BenchModel, log: (line: string) => void): Promise<{ dir: string; generatedMs: number }> {
  const dir = path.join(modelCacheDir(), `${model.id}-${LAYOUT}`);
  if (existsSync(path.join(dir, 'onnx', 'vision_model.onnx'))) return { dir, generatedMs: 0 };
  const t = performance.now();
  log(`generating the ${model.label} model (random weights) into ${dir} ...`);
  const part = `${dir}.part`;
  await rm(part, { recursive: true, force: true });
  // Both towers are built in memory first (L/14: about 1.7 GB), then written.
  await writeModelFiles(part, makeTinyClip(model.options).files);
  await writeFile(path.join(part, 'SEMCLIP_RANDOM_WEIGHTS'), `${JSON.stringify(model.options)}\n`);
  await rename(part, dir);
  return { dir, generatedMs: performance.now() - t };
}
