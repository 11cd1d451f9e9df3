/**
 * The relevance head and its hand-written backprop.
 *
 * Head (`linear`): a = W_t t, b = W_v v, score s = <a, b> / (n_a n_b) with n_x = sqrt(|x|^2 + eps)
 * (eps = HEAD_NORM_EPS, the same in the ONNX graph). t and v are the base model's L2-normalised
 * embeddings; W_t and W_v are dim x dim, row-major, initialised to the identity (so an untrained
 * head scores exactly like the base model's cosine).
 *
 * Loss per (question, positive tile, negative tile) pair: max(0, m - s(q, pos) + s(q, neg)),
 * averaged over the batch. Gradients (a^ = a / n_a):
 *   ds/da = (b^ - s a^) / n_a,   ds/db = (a^ - s b^) / n_b,
 *   dL/dW_t = sum_q g_a(q) t_q^T,  dL/dW_v = sum_v g_b(v) v^T.
 * Everything is computed with float64 accumulators in a fixed order, so the same inputs give the
 * same bits. Parameters may be Float32Array (training) or Float64Array (the gradient check).
 */
import { HEAD_NORM_EPS } from '@semclip/scorers/distant';

export type FloatArray = Float32Array | Float64Array;

export interface HeadParams<A extends FloatArray = FloatArray> {
  readonly dim: number;
  /** Row-major [dim_out, dim_in]. */
  readonly wt: A;
  readonly wv: A;
}

export interface HeadGrads {
  readonly wt: Float64Array;
  readonly wv: Float64Array;
}

/** Question rows, tile rows and (question, positive, negative) index triples into them. */
export interface PairData {
  readonly dim: number;
  /** Question embeddings, one row of `dim` per question. */
  readonly texts: FloatArray;
  /** Tile embeddings, one row of `dim` per tile. */
  readonly tiles: FloatArray;
  readonly pairText: Uint32Array;
  readonly pairPos: Uint32Array;
  readonly pairNeg: Uint32Array;
}

export function identityParams(dim: number): HeadParams<Float32Array>;
export function identityParams(dim: number, kind: 'f64'): HeadParams<Float64Array>;
export function identityParams(dim: number, kind: 'f32' | 'f64' = 'f32'): HeadParams {
  const make = () => {
    const w = kind === 'f64' ? new Float64Array(dim * dim) : new Float32Array(dim * dim);
    for (let i = 0; i < dim; i++) w[i * dim + i] = 1;
    return w;
  };
  return { dim, wt: make(), wv: make() };
}

export function cloneParams<A extends FloatArray>(p: HeadParams<A>): HeadParams<A> {
  return { dim: p.dim, wt: p.wt.slice() as A, wv: p.wv.slice() as A };
}

/** out[o..o+d) = W x[xo..xo+d); returns n = sqrt(|out|^2 + eps) and leaves out unnormalised. */
function project(w: FloatArray, d: number, x: ArrayLike<number>, xo: number, out: Float64Array, o: number): number {
  let sq = 0;
  for (let r = 0; r < d; r++) {
    const row = r * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let k = 0;
    for (; k + 3 < d; k += 4) {
      s0 += w[row + k]! * x[xo + k]!;
      s1 += w[row + k + 1]! * x[xo + k + 1]!;
      s2 += w[row + k + 2]! * x[xo + k + 2]!;
      s3 += w[row + k + 3]! * x[xo + k + 3]!;
    }
    for (; k < d; k++) s0 += w[row + k]! * x[xo + k]!;
    const s = s0 + s1 + s2 + s3;
    out[o + r] = s;
    sq += s * s;
  }
  return Math.sqrt(sq + HEAD_NORM_EPS);
}

/** grad += g x^T (g: d values at go, x: d values at xo). */
function accumulateOuter(grad: Float64Array, d: number, g: Float64Array, go: number, x: ArrayLike<number>, xo: number): void {
  for (let r = 0; r < d; r++) {
    const gr = g[go + r]!;
    if (gr === 0) continue;
    const row = r * d;
    for (let k = 0; k < d; k++) grad[row + k]! += gr * x[xo + k]!;
  }
}

/**
 * Head scores of one question against several tiles, in float64.
 *
 * @example
 * ```ts
 * const s = headScores(params, questionEmbedding, [tile0, tile1, tile2, tile3]);
 * ```
 */
export function headScores(params: HeadParams, text: ArrayLike<number>, tiles: readonly ArrayLike<number>[]): Float64Array {
  const d = params.dim;
  const a = new Float64Array(d);
  const b = new Float64Array(d);
  const na = project(params.wt, d, text, 0, a, 0);
  const out = new Float64Array(tiles.length);
  tiles.forEach((v, j) => {
    const nb = project(params.wv, d, v, 0, b, 0);
    let dot = 0;
    for (let i = 0; i < d; i++) dot += a[i]! * b[i]!;
    out[j] = dot / (na * nb);
  });
  return out;
}

/** Reusable buffers for `batchLossAndGrad` (grown as needed). */
export class Workspace {
  a = new Float64Array(0);
  b = new Float64Array(0);
  ga = new Float64Array(0);
  gb = new Float64Array(0);
  na = new Float64Array(0);
  nb = new Float64Array(0);
  ensure(d: number, texts: number, tiles: number): void {
    if (this.a.length < texts * d) {
      this.a = new Float64Array(texts * d);
      this.ga = new Float64Array(texts * d);
      this.na = new Float64Array(texts);
    }
    if (this.b.length < tiles * d) {
      this.b = new Float64Array(tiles * d);
      this.gb = new Float64Array(tiles * d);
      this.nb = new Float64Array(tiles);
    }
  }
}

/**
 * Mean margin ranking loss over the given pairs, and its gradient with respect to both
 * projections (written into `grads`, which is zeroed first; `null` for the loss only). Pairs whose hinge is inactive
 * (m - s_pos + s_neg <= 0) contribute neither loss nor gradient.
 */
export function batchLossAndGrad(
  params: HeadParams,
  data: PairData,
  pairs: ArrayLike<number>,
  margin: number,
  grads: HeadGrads | null,
  ws: Workspace = new Workspace(),
): { loss: number; active: number } {
  const d = params.dim;
  const B = pairs.length;
  grads?.wt.fill(0);
  grads?.wv.fill(0);
  if (B === 0) return { loss: 0, active: 0 };
  // Unique rows in first-seen order: a question or tile shared by several pairs is projected once.
  const textSlot = new Map<number, number>();
  const tileSlot = new Map<number, number>();
  const textRows: number[] = [];
  const tileRows: number[] = [];
  for (let i = 0; i < B; i++) {
    const p = pairs[i]!;
    const t = data.pairText[p]!;
    if (!textSlot.has(t)) {
      textSlot.set(t, textRows.length);
      textRows.push(t);
    }
    for (const v of [data.pairPos[p]!, data.pairNeg[p]!]) {
      if (!tileSlot.has(v)) {
        tileSlot.set(v, tileRows.length);
        tileRows.push(v);
      }
    }
  }
  ws.ensure(d, textRows.length, tileRows.length);
  const { a, b, ga, gb, na, nb } = ws;
  ga.fill(0, 0, textRows.length * d);
  gb.fill(0, 0, tileRows.length * d);
  textRows.forEach((row, s) => {
    na[s] = project(params.wt, d, data.texts, row * d, a, s * d);
  });
  tileRows.forEach((row, s) => {
    nb[s] = project(params.wv, d, data.tiles, row * d, b, s * d);
  });
  let loss = 0;
  let active = 0;
  const inv = 1 / B;
  const cos = (ta: number, tb: number): number => {
    let dot = 0;
    for (let i = 0; i < d; i++) dot += a[ta * d + i]! * b[tb * d + i]!;
    return dot / (na[ta]! * nb[tb]!);
  };
  // d s / d a += coef (b^ - s a^) / n_a ; d s / d b += coef (a^ - s b^) / n_b
  const backprop = (ta: number, tb: number, s: number, coef: number) => {
    const nA = na[ta]!;
    const nB = nb[tb]!;
    const cA = coef / nA;
    const cB = coef / nB;
    for (let i = 0; i < d; i++) {
      const ah = a[ta * d + i]! / nA;
      const bh = b[tb * d + i]! / nB;
      ga[ta * d + i]! += cA * (bh - s * ah);
      gb[tb * d + i]! += cB * (ah - s * bh);
    }
  };
  for (let i = 0; i < B; i++) {
    const p = pairs[i]!;
    const ta = textSlot.get(data.pairText[p]!)!;
    const tp = tileSlot.get(data.pairPos[p]!)!;
    const tn = tileSlot.get(data.pairNeg[p]!)!;
    const sp = cos(ta, tp);
    const sn = cos(ta, tn);
    const h = margin - sp + sn;
    if (h <= 0) continue;
    loss += h;
    active += 1;
    if (!grads) continue;
    backprop(ta, tp, sp, -inv);
    backprop(ta, tn, sn, inv);
  }
  if (grads && active > 0) {
    textRows.forEach((row, s) => accumulateOuter(grads.wt, d, ga, s * d, data.texts, row * d));
    tileRows.forEach((row, s) => accumulateOuter(grads.wv, d, gb, s * d, data.tiles, row * d));
  }
  return { loss: loss * inv, active };
}

/** Adam hyperparameters (PyTorch's defaults for the betas and eps). */
export interface AdamOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  /** Decoupled weight decay towards the identity (AdamW-style, pulls W to I, not to 0). Default 0. */
  readonly weightDecay?: number;
}

/** Adam with bias correction; state in float64, parameters updated in place. */
export class Adam {
  private step = 0;
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  constructor(
    private readonly params: readonly FloatArray[],
    private readonly options: AdamOptions,
    private readonly dim: number,
  ) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  get steps(): number {
    return this.step;
  }

  update(grads: readonly Float64Array[]): void {
    const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = this.options;
    this.step += 1;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    const d = this.dim;
    this.params.forEach((p, j) => {
      const g = grads[j]!;
      const m = this.m[j]!;
      const v = this.v[j]!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        let next = p[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
        if (weightDecay > 0) {
          const target = Math.floor(i / d) === i % d ? 1 : 0;
          next -= lr * weightDecay * (p[i]! - target);
        }
        p[i] = next;
      }
    });
  }
}
