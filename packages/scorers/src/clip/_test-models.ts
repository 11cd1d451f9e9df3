/**
 * Test fixtures for the CLIP and SigLIP scorer tests (not part of the build: nothing exported
 * from the package imports this file). Generated models are written once per process into a
 * temporary folder in the Hugging Face layout.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { TileSource } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import { makeJpeg, writeTemp } from '@semclip/test-kit/images';
import { makeTinyClip, makeTinySiglip, writeModelFiles } from '@semclip/test-kit/onnx-models';
import { hasSharedData, sharedData } from '@semclip/test-kit/shared-data';
import type { TinyModelOptions, TinyModel } from '@semclip/test-kit/onnx-models';

/**
 * A real photo from the shared data (2250x1500 JPEG); without ../shared (a fresh clone) a generated
 * JPEG of the same size (random-weight models only need a picture).
 */
export const PHOTO = hasSharedData()
  ? sharedData('images/vending_machine.jpg')
  : await writeTemp('vending-machine-stand-in.jpg', await makeJpeg({ width: 2250, height: 1500, pattern: 'quadrants' }));

let tmpRoot: Promise<string> | undefined;
export function tempRoot(): Promise<string> {
  tmpRoot ??= mkdtemp(path.join(tmpdir(), 'semclip-scorers-'));
  return tmpRoot;
}

const written = new Map<string, Promise<{ dir: string; model: TinyModel }>>();

/** A generated model written to a temp folder (memoised by family and options). */
export function modelDir(family: 'clip' | 'siglip', options: TinyModelOptions = {}): Promise<{ dir: string; model: TinyModel }> {
  const key = `${family}:${JSON.stringify(options)}`;
  let p = written.get(key);
  if (!p) {
    p = (async () => {
      const model = family === 'clip' ? makeTinyClip(options) : makeTinySiglip(options);
      const dir = path.join(await tempRoot(), 'models', `${family}-${written.size}`);
      await writeModelFiles(dir, model.files);
      return { dir, model };
    })();
    written.set(key, p);
  }
  return p;
}

/** A PNG whose 2x2 quadrants are flat colours (top-left, top-right, bottom-left, bottom-right). */
export async function quadrantsPng(colours: readonly (readonly [number, number, number])[], side = 64): Promise<Uint8Array> {
  const data = new Uint8Array(side * side * 3);
  const half = side / 2;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const c = colours[(y < half ? 0 : 2) + (x < half ? 0 : 1)]!;
      data.set(c, (y * side + x) * 3);
    }
  }
  const png = await sharp(data, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

/** The normalised pixel value of a colour under a processor's mean and std (what the probe model embeds). */
export function normalisedColour(rgb: readonly number[], mean: readonly number[], std: readonly number[], dim: number): Float64Array {
  const v = new Float64Array(dim);
  rgb.forEach((c, i) => {
    v[i] = (c / 255 - mean[i]!) / std[i]!;
  });
  return v;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export function unit(a: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i]! * a[i]!;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = n === 0 ? 0 : a[i]! / Math.sqrt(n);
  return out;
}

/** Writes a user manifest file and returns the env that registers it with @semclip/hub. */
export async function manifestEnv(name: string, manifest: unknown): Promise<NodeJS.ProcessEnv> {
  const file = path.join(await tempRoot(), `${name}.manifest.json`);
  await writeFile(file, JSON.stringify(manifest));
  return { SEMCLIP_MANIFEST_PATH: file };
}

const grids = new Map<string, Promise<TileSource>>();

/** The real photo tiled on a grid, shared by tests (its decodes are cached inside). */
export function photoGrid(grid: '2x2' | '3x3'): Promise<TileSource> {
  let p = grids.get(grid);
  if (!p) {
    p = tileImage(PHOTO, { grid });
    grids.set(grid, p);
  }
  return p;
}
