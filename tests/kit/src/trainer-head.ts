/**
 * Relevance heads for the distant scorer's tests, in the layout `@semclip/trainer` writes
 * (`head.json` + `head.onnx`): score = cosine(W_t t, W_v v) with one dim x dim projection per
 * tower. The graph is built with the kit's GraphBuilder, independently of the trainer's exporter,
 * so the scorer is tested against a second implementation of the format.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GraphBuilder, attr, prng } from './onnx-graph.js';

/** Structural twin of `HeadManifest` in `@semclip/scorers/distant` (the kit does not depend on it). */
export interface KitHeadManifest {
  schema: 1;
  kind: 'semclip-relevance-head';
  name: string;
  type: 'linear';
  dim: number;
  file: string;
  sha256: string;
  base: { family: 'clip' | 'siglip'; model: string; repo?: string; revision?: string; dtype: string; modelPath?: string };
  query: { choices: 'average' | 'append' | 'ignore'; template?: string };
  createdAt: string;
  training?: Record<string, unknown>;
}

export interface HeadWeights {
  readonly dim: number;
  /** Row-major [dim_out, dim_in]: projected = W x. */
  readonly wt: Float32Array;
  readonly wv: Float32Array;
}

/** The identity head: its scores are the base model's plain cosine. */
export function identityHead(dim: number): HeadWeights {
  const eye = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) eye[i * dim + i] = 1;
  return { dim, wt: eye, wv: eye.slice() };
}

/** Identity plus uniform(-scale, scale) noise, from a seed. */
export function randomHead(dim: number, seed = 1, scale = 0.5): HeadWeights {
  const next = prng(seed);
  const make = () => {
    const w = new Float32Array(dim * dim);
    for (let i = 0; i < w.length; i++) w[i] = (next() * 2 - 1) * scale;
    for (let i = 0; i < dim; i++) w[i * dim + i]! += 1;
    return w;
  };
  return { dim, wt: make(), wv: make() };
}

function transpose(w: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(dim * dim);
  for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) out[c * dim + r] = w[r * dim + c]!;
  return out;
}

/** The head graph: text_embeds [B, dim], image_embeds [N, dim] -> scores [B, N]. */
export function makeHeadOnnx(head: HeadWeights, eps = 1e-12): Uint8Array {
  const { dim } = head;
  const g = new GraphBuilder('semclip_test_head');
  const t = g.input('text_embeds', 'float32', ['batch', dim]);
  const v = g.input('image_embeds', 'float32', ['tiles', dim]);
  const normalise = (x: string): string => {
    const sq = g.op('ReduceSumSquare', [x], { axes: attr.ints([1]), keepdims: attr.i(1) });
    const n = g.op('Sqrt', [g.op('Add', [sq, g.floats([], [eps], 'eps')])]);
    return g.op('Div', [x, n]);
  };
  const a = normalise(g.op('MatMul', [t, g.tensor('wt_T', [dim, dim], transpose(head.wt, dim))]));
  const b = normalise(g.op('MatMul', [v, g.tensor('wv_T', [dim, dim], transpose(head.wv, dim))]));
  const scores = g.op('MatMul', [a, g.op('Transpose', [b], { perm: attr.ints([1, 0]) })]);
  g.output(scores, 'scores', 'float32', ['batch', 'tiles']);
  return g.encode({ semclip: 'test-head' });
}

export interface HeadFilesOptions {
  readonly name: string;
  readonly head: HeadWeights;
  readonly base: KitHeadManifest['base'];
  readonly query?: KitHeadManifest['query'];
  /** Overrides merged into head.json after it is built (for invalid-manifest tests). */
  readonly override?: Record<string, unknown>;
}

/** `head.json` + `head.onnx` bytes. */
export function makeHeadFiles(options: HeadFilesOptions): { 'head.json': Uint8Array; 'head.onnx': Uint8Array; manifest: KitHeadManifest } {
  const onnx = makeHeadOnnx(options.head);
  const manifest: KitHeadManifest = {
    schema: 1,
    kind: 'semclip-relevance-head',
    name: options.name,
    type: 'linear',
    dim: options.head.dim,
    file: 'head.onnx',
    sha256: createHash('sha256').update(onnx).digest('hex'),
    base: options.base,
    query: options.query ?? { choices: 'average' },
    createdAt: '2026-01-01T00:00:00.000Z',
    training: { generator: '@semclip/test-kit/trainer-head' },
    ...(options.override ?? {}),
  } as KitHeadManifest;
  return { 'head.json': new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`), 'head.onnx': onnx, manifest };
}

/** Writes a head folder (`<dir>/head.json`, `<dir>/head.onnx`); returns the manifest path. */
export async function writeHead(dir: string, options: HeadFilesOptions): Promise<string> {
  const files = makeHeadFiles(options);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'head.onnx'), files['head.onnx']);
  await writeFile(path.join(dir, 'head.json'), files['head.json']);
  return path.join(dir, 'head.json');
}

/** The head's score in float64, for comparisons: cosine(W_t t, W_v v). */
export function headScore(head: HeadWeights, t: ArrayLike<number>, v: ArrayLike<number>, eps = 1e-12): number {
  const { dim } = head;
  const project = (w: Float32Array, x: ArrayLike<number>) => {
    const out = new Float64Array(dim);
    for (let r = 0; r < dim; r++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += w[r * dim + k]! * x[k]!;
      out[r] = s;
    }
    return out;
  };
  const a = project(head.wt, t);
  const b = project(head.wv, v);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < dim; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na + eps) * Math.sqrt(nb + eps));
}
