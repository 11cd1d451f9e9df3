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

/**
 * The untrained head: both projections the identity, so it scores the base model's cosine.
 *
 * @example
 * ```ts
 * const params = identityParams(768);          // Float32Array weights, as training uses
 * const exact = identityParams(8, 'f64');      // Float64Array, for gradient checks
 * ```
 */
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
    let s = 0;
    for (let k = 0; k < d; k++) s += w[row + k]! * x[xo + k]!;
    out[o + r] = s;
    sq += s * s;
  }
  return Math.sqrt(sq + HEAD_NORM_EPS);
}

/**
 * `project` for many rows of `src` at once, four per pass over W: each weight is read once per
 * four vectors, which is what bounds the speed at 512-768 dimensions (W does not fit in L2).
 * Row s of `out` gets W src[rows[s]]; norms[s] its n.
 */
function projectRows(w: FloatArray, d: number, src: FloatArray, rows: readonly number[], out: Float64Array, norms: Float64Array): void {
  const count = rows.length;
  for (let g = 0; g < count; g += 4) {
    const last = Math.min(count, g + 4) - 1;
    // Short groups repeat their last row; the repeats are computed and not stored.
    const o0 = rows[g]! * d;
    const o1 = rows[Math.min(g + 1, last)]! * d;
    const o2 = rows[Math.min(g + 2, last)]! * d;
    const o3 = rows[Math.min(g + 3, last)]! * d;
    let q0 = 0;
    let q1 = 0;
    let q2 = 0;
    let q3 = 0;
    for (let r = 0; r < d; r++) {
      const row = r * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < d; k++) {
        const wk = w[row + k]!;
        s0 += wk * src[o0 + k]!;
        s1 += wk * src[o1 + k]!;
        s2 += wk * src[o2 + k]!;
        s3 += wk * src[o3 + k]!;
      }
      out[g * d + r] = s0;
      q0 += s0 * s0;
      if (g + 1 <= last) {
        out[(g + 1) * d + r] = s1;
        q1 += s1 * s1;
      }
      if (g + 2 <= last) {
        out[(g + 2) * d + r] = s2;
        q2 += s2 * s2;
      }
      if (g + 3 <= last) {
        out[(g + 3) * d + r] = s3;
        q3 += s3 * s3;
      }
    }
    norms[g] = Math.sqrt(q0 + HEAD_NORM_EPS);
    if (g + 1 <= last) norms[g + 1] = Math.sqrt(q1 + HEAD_NORM_EPS);
    if (g + 2 <= last) norms[g + 2] = Math.sqrt(q2 + HEAD_NORM_EPS);
    if (g + 3 <= last) norms[g + 3] = Math.sqrt(q3 + HEAD_NORM_EPS);
  }
}

/** grad += sum_s coef[s] src[rows[s]]^T, four rows per pass over grad (coef: row s at s * d). */
function accumulateRows(grad: Float64Array, d: number, coef: Float64Array, src: FloatArray, rows: readonly number[]): void {
  const count = rows.length;
  for (let g = 0; g < count; g += 4) {
    const n = Math.min(4, count - g);
    const o0 = rows[g]! * d;
    const o1 = rows[g + Math.min(1, n - 1)]! * d;
    const o2 = rows[g + Math.min(2, n - 1)]! * d;
    const o3 = rows[g + Math.min(3, n - 1)]! * d;
    for (let r = 0; r < d; r++) {
      const c0 = coef[g * d + r]!;
      const c1 = n > 1 ? coef[(g + 1) * d + r]! : 0;
      const c2 = n > 2 ? coef[(g + 2) * d + r]! : 0;
      const c3 = n > 3 ? coef[(g + 3) * d + r]! : 0;
      if (c0 === 0 && c1 === 0 && c2 === 0 && c3 === 0) continue;
      const row = r * d;
      for (let k = 0; k < d; k++) grad[row + k]! += c0 * src[o0 + k]! + c1 * src[o1 + k]! + c2 * src[o2 + k]! + c3 * src[o3 + k]!;
    }
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
  projectRows(params.wt, d, data.texts, textRows, a, na);
  projectRows(params.wv, d, data.tiles, tileRows, b, nb);
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
    accumulateRows(grads.wt, d, ga, data.texts, textRows);
    accumulateRows(grads.wv, d, gb, data.tiles, tileRows);
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
