/** A trained head's ONNX graph on ONNX Runtime (through the package's one ONNX boundary). */
import { SemclipError } from '@semclip/core';
import { assertFinite } from '@semclip/runtime';
import type { ResolvedDevice } from '@semclip/runtime';
import { createSession, loadOnnxRuntime } from '@semclip/runtime/onnx';
import type { OnnxSession } from '@semclip/runtime/onnx';
import { HEAD_IO, readHeadManifest, readHeadOnnx } from './_head-manifest.js';
import type { HeadManifest } from './_head-manifest.js';

/** A loaded head: scores tiles given the base model's normalised embeddings. */
export interface RelevanceHead {
  readonly manifest: HeadManifest;
  /** Where head.json was read from. */
  readonly path: string;
  readonly dim: number;
  /**
   * One score per tile embedding: the head's cosine in [-1, 1]. `text` is one `dim` vector,
   * `tiles` any number of `dim` vectors (or one flat array of them).
   */
  score(text: Float32Array, tiles: readonly Float32Array[] | Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Loads `head.json` + its ONNX graph (sha256-checked) onto the device.
 *
 * @example
 * ```ts
 * import { loadHead, resolveHeadManifestPath } from '@semclip/scorers/distant';
 *
 * const head = await loadHead(await resolveHeadManifestPath('sqa-clip-b32'), { device: 'cpu' });
 * const scores = await head.score(questionEmbedding, tileEmbeddings);
 * await head.dispose();
 * ```
 */
export async function loadHead(
  manifestFile: string,
  options: { readonly device?: ResolvedDevice; readonly intraOpNumThreads?: number } = {},
): Promise<RelevanceHead> {
  const manifest = await readHeadManifest(manifestFile);
  const bytes = await readHeadOnnx(manifestFile, manifest);
  const ort = await loadOnnxRuntime();
  const session: OnnxSession = await createSession(bytes, {
    device: options.device ?? 'cpu',
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  });
  const names = [HEAD_IO.text, HEAD_IO.image];
  if (!names.every((n) => session.inputNames.includes(n)) || !session.outputNames.includes(HEAD_IO.output)) {
    await session.dispose();
    throw new SemclipError(
      'MODEL_INVALID',
      `The head graph of ${manifestFile} takes [${session.inputNames.join(', ')}] and gives [${session.outputNames.join(', ')}].`,
      {
        expected: `inputs ${names.join(' and ')}, output ${HEAD_IO.output}`,
        hint: 'Train the head again (semclip train)',
      },
    );
  }
  const dim = manifest.dim;
  return {
    manifest,
    path: manifestFile,
    dim,
    async score(text, tiles) {
      if (text.length !== dim) {
        throw new SemclipError(
          'MODEL_INVALID',
          `The head ${manifest.name} takes ${dim}-dimensional embeddings, but the question embedding has ${text.length}.`,
          {
            hint: `Use the base model the head was trained on (${manifest.base.model})`,
          },
        );
      }
      const flat = tiles instanceof Float32Array ? tiles : concat(tiles, dim, manifest.name);
      const n = flat.length / dim;
      if (!Number.isInteger(n) || n < 1) {
        throw new SemclipError('MODEL_INVALID', `The head ${manifest.name} takes ${dim}-dimensional tile embeddings; got ${flat.length} values.`, {
          hint: `Use the base model the head was trained on (${manifest.base.model})`,
        });
      }
      const out = await session.run({
        [HEAD_IO.text]: new ort.Tensor('float32', text, [1, dim]),
        [HEAD_IO.image]: new ort.Tensor('float32', flat, [n, dim]),
      });
      const scores = out[HEAD_IO.output];
      if (scores?.dims.length !== 2 || scores.dims[0] !== 1 || scores.dims[1] !== n) {
        throw new SemclipError(
          'MODEL_OUTPUT_INVALID',
          `The head ${manifest.name} gave scores of shape [${scores?.dims.join(', ') ?? 'none'}], expected [1, ${n}].`,
          {
            hint: 'Train the head again (semclip train)',
          },
        );
      }
      const data = Float32Array.from(scores.data as Float32Array);
      assertFinite(data, `The head ${manifest.name}'s scores`);
      return data;
    },
    dispose: () => session.dispose(),
  };
}

function concat(tiles: readonly Float32Array[], dim: number, name: string): Float32Array {
  const flat = new Float32Array(tiles.length * dim);
  tiles.forEach((t, i) => {
    if (t.length !== dim) {
      throw new SemclipError('MODEL_INVALID', `The head ${name} takes ${dim}-dimensional embeddings, but tile ${i}'s has ${t.length}.`, {
        hint: 'Use the base model the head was trained on',
      });
    }
    flat.set(t, i * dim);
  });
  return flat;
}
