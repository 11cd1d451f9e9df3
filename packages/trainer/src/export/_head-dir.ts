/** Writes a trained head where the distant scorer finds it: head.onnx + head.json (+ loss charts). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HEAD_KIND, HEAD_MANIFEST_FILE, HEAD_ONNX_FILE, checkHeadName, parseHeadManifest } from '@semclip/scorers/distant';
import type { ChoiceMode, HeadBase, HeadManifest } from '@semclip/scorers/distant';
import type { TrainedOn } from '@semclip/core';
import type { HeadParams } from '../train/_head-math.js';
import { headToOnnx } from './_onnx.js';

async function atomicWrite(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

export interface WriteHeadOptions {
  /** The head folder (e.g. `<cacheDir>/heads/<name>`). */
  readonly dir: string;
  readonly name: string;
  readonly params: HeadParams;
  readonly base: HeadBase;
  readonly query: { readonly choices: ChoiceMode; readonly template?: string };
  readonly training?: Readonly<Record<string, unknown>>;
  /** The benchmark items of the labels file, recorded so evaluations can warn about overlap. */
  readonly trainedOn?: TrainedOn;
}

export interface WrittenHead {
  readonly dir: string;
  readonly manifestPath: string;
  readonly onnxPath: string;
  readonly manifest: HeadManifest;
}

/**
 * Exports the head as ONNX and writes its manifest, each file atomically (temp file + rename;
 * the graph first, so head.json never names a graph that is not there).
 *
 * @example
 * ```ts
 * await writeHeadFolder({ dir: path.join(headsRoot(), 'my-head'), name: 'my-head', params: result.params,
 *   base: { family: 'clip', model: 'clip-vit-base-patch32', dtype: 'fp32' }, query: { choices: 'average' } });
 * ```
 */
export async function writeHeadFolder(options: WriteHeadOptions): Promise<WrittenHead> {
  const name = checkHeadName(options.name);
  await mkdir(options.dir, { recursive: true });
  // No name or date in the graph: the same weights and base give the same bytes.
  const onnx = headToOnnx(options.params, { base: options.base.model, ...(options.base.revision ? { revision: options.base.revision } : {}) });
  const manifest = parseHeadManifest(
    {
      schema: 1,
      kind: HEAD_KIND,
      name,
      type: 'linear',
      dim: options.params.dim,
      file: HEAD_ONNX_FILE,
      sha256: createHash('sha256').update(onnx).digest('hex'),
      base: options.base,
      query: options.query,
      createdAt: new Date().toISOString(),
      ...(options.training ? { training: options.training } : {}),
      ...(options.trainedOn ? { trainedOn: options.trainedOn } : {}),
    },
    `head "${name}"`,
  );
  const onnxPath = path.join(options.dir, HEAD_ONNX_FILE);
  const manifestPath = path.join(options.dir, HEAD_MANIFEST_FILE);
  await atomicWrite(onnxPath, onnx);
  await atomicWrite(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir: options.dir, manifestPath, onnxPath, manifest };
}

export { atomicWrite };
