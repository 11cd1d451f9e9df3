/**
 * Random-weight CLIP and SigLIP models in the exact Hugging Face / transformers.js layout
 * (`config.json`, `preprocessor_config.json`, `tokenizer.json`, `tokenizer_config.json`,
 * `onnx/text_model.onnx`, `onnx/vision_model.onnx`), so the real loading code runs on them.
 *
 * Random weights check shapes, determinism and plumbing only: the scores mean nothing. The one
 * exception is `probe: true`, a hand-built model whose embeddings are known in closed form
 * (mean tile colour vs. the colour named in the text), for checking that similarity is computed right.
 *
 * @example
 * ```ts
 * import { makeTinyClip, writeModelFiles } from '@semclip/test-kit/onnx-models';
 * const { files } = makeTinyClip({ seed: 1, dim: 16, imageSize: 32 });
 * await writeModelFiles('/tmp/models/tiny/clip', files);
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { onnxFileName } from '@semclip/runtime';
import { GraphBuilder, attr, prng, randomWeights } from './onnx-graph.js';
import { sharedDataDir } from './shared-data.js';

export { sharedDataDir };

/** Files of one model repository: repo-relative path -> bytes. */
export type ModelFiles = Record<string, Uint8Array>;

export interface TowerSize {
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  /** MLP width as a multiple of `width`. Default 4. */
  readonly mlpRatio?: number;
}

export interface TinyModelOptions {
  /** Seed of the weights; the same options always give byte-identical files. Default 0. */
  readonly seed?: number;
  /** Embedding (projection) size. Default 16; `vit-b-32` uses 512 for CLIP and 768 for SigLIP. */
  readonly dim?: number;
  /** Square input size of the vision tower, written to preprocessor_config.json. Default 32. */
  readonly imageSize?: number;
  /** Patch size of the vision tower. Default imageSize / 4 (`vit-b-32`: 32). */
  readonly patchSize?: number;
  /**
   * `tiny` (default): 1-layer, width-32 towers, milliseconds per run.
   * `vit-b-32`: ViT-B/32-sized vision tower (224 px, patch 32, width 768, 12 layers, 12 heads, MLP 3072)
   * and a CLIP-B-sized text tower (width 512, 12 layers, 8 heads), for benchmarks. ~600 MB of weights:
   * generate at bench time, never commit.
   */
  readonly size?: 'tiny' | 'vit-b-32';
  readonly vision?: Partial<TowerSize>;
  readonly text?: Partial<TowerSize>;
  /** Make a tower emit NaN (a NaN constant is added to its embeddings), for MODEL_OUTPUT_INVALID tests. */
  readonly nan?: 'vision' | 'text';
  /**
   * Known-answer model: the vision tower is the mean normalised colour of the image, the text tower
   * the mean of per-token embeddings where colour words (red, green, blue, yellow, white, black,
   * purple, magenta) embed to that colour's normalised pixel value and every other token to zero. A
   * pure-red tile and the text "red" then have identical embeddings (cosine 1).
   */
  readonly probe?: boolean;
  /** CLIP only: declare `attention_mask` as a text-tower input and pool by masked mean (default: EOS pooling, `input_ids` only, as the optimum export). */
  readonly textAttentionMask?: boolean;
  /** Directory of the real CLIP tokenizer files (default `../shared/data/tokenizers/clip` from the repo root, or SEMCLIP_SHARED_DATA). */
  readonly clipTokenizerDir?: string;
  /** Extra transformers.js dtypes to publish as copies of the fp32 graphs (`q8` -> `onnx/*_quantized.onnx`, `fp16` -> `*_fp16.onnx`). Same weights; only the file names differ. */
  readonly dtypes?: readonly ('q8' | 'fp16' | 'int8' | 'uint8' | 'q4')[];
}

export interface TinyModel {
  readonly files: ModelFiles;
  /** The parsed config.json, for tests that need the sizes. */
  readonly config: Record<string, unknown>;
  /** The parsed preprocessor_config.json. */
  readonly preprocessor: Record<string, unknown>;
  /** For `probe` models: the colour each colour word stands for (0-255 RGB). */
  readonly colours: Readonly<Record<string, readonly [number, number, number]>>;
}

export const PROBE_COLOURS: Readonly<Record<string, readonly [number, number, number]>> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  purple: [128, 0, 128],
  magenta: [255, 0, 255],
  white: [255, 255, 255],
  black: [0, 0, 0],
};

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
const SIGLIP_MEAN = [0.5, 0.5, 0.5] as const;
const SIGLIP_STD = [0.5, 0.5, 0.5] as const;

const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

/** Writes model files under `dir` (creating folders), e.g. `<cache>/models/<repo>`. */
export async function writeModelFiles(dir: string, files: ModelFiles): Promise<void> {
  for (const [rel, bytes] of Object.entries(files)) {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared graph pieces

interface Ctx {
  readonly g: GraphBuilder;
  readonly next: () => number;
  readonly prefix: string;
}

function weight(ctx: Ctx, name: string, dims: readonly number[], fanIn: number): string {
  const size = dims.reduce((a, b) => a * b, 1);
  return ctx.g.tensor(`${ctx.prefix}.${name}`, dims, randomWeights(ctx.next, size, 1 / Math.sqrt(fanIn)));
}

function ones(ctx: Ctx, name: string, n: number): string {
  return ctx.g.tensor(`${ctx.prefix}.${name}`, [n], new Float32Array(n).fill(1));
}

function zeros(ctx: Ctx, name: string, n: number): string {
  return ctx.g.tensor(`${ctx.prefix}.${name}`, [n], new Float32Array(n));
}

function layerNorm(ctx: Ctx, x: string, name: string, width: number): string {
  return ctx.g.op('LayerNormalization', [x, ones(ctx, `${name}.weight`, width), zeros(ctx, `${name}.bias`, width)], {
    axis: attr.i(-1),
    epsilon: attr.f(1e-5),
  });
}

function linear(ctx: Ctx, x: string, name: string, inDim: number, outDim: number, bias = true): string {
  const y = ctx.g.op('MatMul', [x, weight(ctx, `${name}.weight`, [inDim, outDim], inDim)]);
  return bias ? ctx.g.op('Add', [y, weight(ctx, `${name}.bias`, [outDim], inDim)]) : y;
}

/** One pre-LayerNorm transformer encoder block (self-attention + quick-GELU MLP), as in CLIP. */
function block(ctx: Ctx, x: string, i: number, size: Required<TowerSize>, mask?: string): string {
  const { g } = ctx;
  const { width: w, heads } = size;
  const hd = w / heads;
  const p = `layers.${i}`;
  const h = layerNorm(ctx, x, `${p}.layer_norm1`, w);
  const qkv = linear(ctx, h, `${p}.self_attn.qkv`, w, 3 * w);
  const [q, k, v] = g.opN('Split', [qkv, g.ints([w, w, w])], 3, { axis: attr.i(-1) }) as [string, string, string];
  const heads4 = g.ints([0, 0, heads, hd]);
  const qh = g.op('Transpose', [g.op('Reshape', [q, heads4])], { perm: attr.ints([0, 2, 1, 3]) });
  const kh = g.op('Transpose', [g.op('Reshape', [k, heads4])], { perm: attr.ints([0, 2, 3, 1]) });
  const vh = g.op('Transpose', [g.op('Reshape', [v, heads4])], { perm: attr.ints([0, 2, 1, 3]) });
  let scores = g.op('Mul', [g.op('MatMul', [qh, kh]), g.floats([], [1 / Math.sqrt(hd)])]);
  if (mask) scores = g.op('Add', [scores, mask]);
  const probs = g.op('Softmax', [scores], { axis: attr.i(-1) });
  const ctxv = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: attr.ints([0, 2, 1, 3]) });
  const merged = g.op('Reshape', [ctxv, g.ints([0, 0, w])]);
  const x1 = g.op('Add', [x, linear(ctx, merged, `${p}.self_attn.out_proj`, w, w)]);
  const h2 = layerNorm(ctx, x1, `${p}.layer_norm2`, w);
  const mlp = size.mlpRatio * w;
  const f1 = linear(ctx, h2, `${p}.mlp.fc1`, w, mlp);
  const act = g.op('Mul', [f1, g.op('Sigmoid', [g.op('Mul', [f1, g.floats([], [1.702])])])]);
  return g.op('Add', [x1, linear(ctx, act, `${p}.mlp.fc2`, mlp, w)]);
}

/** Sequence length of `ids` [B, S] as a 1-D int64 tensor of one element. */
function seqLen(g: GraphBuilder, ids: string): string {
  return g.op('Shape', [ids], { start: attr.i(1), end: attr.i(2) });
}

/** Token + position embeddings of `input_ids`. */
function embedTokens(ctx: Ctx, ids: string, vocab: number, maxPos: number, width: number): string {
  const { g } = ctx;
  const tok = g.op('Gather', [weight(ctx, 'embeddings.token_embedding.weight', [vocab, width], 1), ids], { axis: attr.i(0) });
  const posTable = weight(ctx, 'embeddings.position_embedding.weight', [maxPos, width], 1);
  const pos = g.op('Slice', [posTable, g.ints([0]), seqLen(g, ids), g.ints([0])]);
  return g.op('Add', [tok, pos]);
}

function poisonIf(g: GraphBuilder, x: string, on: boolean): string {
  return on ? g.op('Add', [x, g.floats([1], [Number.NaN], 'nan')]) : x;
}

function fullSize(s: Partial<TowerSize> | undefined, fallback: TowerSize): Required<TowerSize> {
  const width = s?.width ?? fallback.width;
  const heads = s?.heads ?? fallback.heads;
  if (width % heads !== 0) throw new Error(`tower width ${width} is not divisible by ${heads} heads`);
  return { width, heads, layers: s?.layers ?? fallback.layers, mlpRatio: s?.mlpRatio ?? fallback.mlpRatio ?? 4 };
}

// ---------------------------------------------------------------------------------------------
// Towers

interface TextSpec {
  readonly family: 'clip' | 'siglip';
  readonly vocab: number;
  readonly maxPos: number;
  readonly size: Required<TowerSize>;
  readonly dim: number;
  readonly attentionMask: boolean;
  readonly nan: boolean;
}

function textTower(spec: TextSpec, next: () => number): Uint8Array {
  const g = new GraphBuilder(`${spec.family}_text_model`);
  const ctx: Ctx = { g, next, prefix: 'text_model' };
  const { width: w } = spec.size;
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = spec.attentionMask ? g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']) : undefined;
  let x = embedTokens(ctx, ids, spec.vocab, spec.maxPos, w);

  // CLIP's text encoder is causal; SigLIP's attends both ways over its fixed 64 tokens.
  let causal: string | undefined;
  if (spec.family === 'clip') {
    const table = new Float32Array(spec.maxPos * spec.maxPos);
    for (let r = 0; r < spec.maxPos; r++) for (let c = r + 1; c < spec.maxPos; c++) table[r * spec.maxPos + c] = -1e9;
    const s = seqLen(g, ids);
    causal = g.op('Slice', [
      g.tensor('text_model.causal_mask', [spec.maxPos, spec.maxPos], table),
      g.ints([0, 0]),
      g.op('Concat', [s, s], { axis: attr.i(0) }),
      g.ints([0, 1]),
    ]);
  }
  for (let i = 0; i < spec.size.layers; i++) x = block(ctx, x, i, spec.size, causal);
  x = layerNorm(ctx, x, 'final_layer_norm', w);
  const hidden = x;

  let pooled: string;
  if (spec.family === 'clip' && mask) {
    // Masked mean over real tokens.
    const m = g.op('Unsqueeze', [g.op('Cast', [mask], { to: attr.i(1) }), g.ints([1])]);
    const sum = g.op('Squeeze', [g.op('MatMul', [m, x]), g.ints([1])]);
    pooled = g.op('Div', [sum, g.op('ReduceSum', [m, g.ints([2])], { keepdims: attr.i(0) })]);
  } else if (spec.family === 'clip') {
    // As HF CLIP: the hidden state at the first end-of-text token, the largest id (argmax of input_ids).
    const eos = g.op('ArgMax', [ids], { axis: attr.i(1), keepdims: attr.i(1) });
    const positions = g.op('Unsqueeze', [g.op('Range', [g.scalarInt(0), g.op('Squeeze', [seqLen(g, ids), g.ints([0])]), g.scalarInt(1)]), g.ints([0])]);
    const onehot = g.op('Cast', [g.op('Equal', [positions, eos])], { to: attr.i(1) });
    pooled = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [onehot, g.ints([1])]), x]), g.ints([1])]);
  } else {
    // As HF SigLIP: the last token's hidden state, then the head.
    pooled = g.op('Gather', [x, g.scalarInt(-1)], { axis: attr.i(1) });
  }

  if (spec.family === 'clip') {
    const embeds = poisonIf(g, linear({ ...ctx, prefix: 'text_projection' }, pooled, 'x', w, spec.dim, false), spec.nan);
    g.output(embeds, 'text_embeds', 'float32', ['batch_size', spec.dim]);
  } else {
    const embeds = poisonIf(g, linear(ctx, pooled, 'head', w, spec.dim), spec.nan);
    g.output(embeds, 'pooler_output', 'float32', ['batch_size', spec.dim]);
  }
  g.output(hidden, 'last_hidden_state', 'float32', ['batch_size', 'sequence_length', w]);
  return g.encode();
}

interface VisionSpec {
  readonly family: 'clip' | 'siglip';
  readonly imageSize: number;
  readonly patchSize: number;
  readonly size: Required<TowerSize>;
  readonly dim: number;
  readonly nan: boolean;
}

function visionTower(spec: VisionSpec, next: () => number): Uint8Array {
  const g = new GraphBuilder(`${spec.family}_vision_model`);
  const ctx: Ctx = { g, next, prefix: 'vision_model' };
  const { width: w } = spec.size;
  const p = spec.patchSize;
  const grid = Math.floor(spec.imageSize / p);
  const patches = grid * grid;
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 3, spec.imageSize, spec.imageSize]);
  const convInputs = [pixels, weight(ctx, 'embeddings.patch_embedding.weight', [w, 3, p, p], 3 * p * p)];
  if (spec.family === 'siglip') convInputs.push(weight(ctx, 'embeddings.patch_embedding.bias', [w], 3 * p * p));
  const conv = g.op('Conv', convInputs, { kernel_shape: attr.ints([p, p]), strides: attr.ints([p, p]) });
  let x = g.op('Transpose', [g.op('Reshape', [conv, g.ints([0, 0, -1])])], { perm: attr.ints([0, 2, 1]) });
  let tokens = patches;
  if (spec.family === 'clip') {
    const batch = g.op('Shape', [pixels], { start: attr.i(0), end: attr.i(1) });
    const cls = g.op('Expand', [weight(ctx, 'embeddings.class_embedding', [1, 1, w], 1), g.op('Concat', [batch, g.ints([1, w])], { axis: attr.i(0) })]);
    x = g.op('Concat', [cls, x], { axis: attr.i(1) });
    tokens += 1;
  }
  x = g.op('Add', [x, weight(ctx, 'embeddings.position_embedding.weight', [tokens, w], 1)]);
  if (spec.family === 'clip') x = layerNorm(ctx, x, 'pre_layrnorm', w);
  for (let i = 0; i < spec.size.layers; i++) x = block(ctx, x, i, spec.size);
  const hidden = x;
  if (spec.family === 'clip') {
    const pooled = layerNorm(ctx, g.op('Gather', [x, g.scalarInt(0)], { axis: attr.i(1) }), 'post_layernorm', w);
    const embeds = poisonIf(g, linear({ ...ctx, prefix: 'visual_projection' }, pooled, 'x', w, spec.dim, false), spec.nan);
    g.output(embeds, 'image_embeds', 'float32', ['batch_size', spec.dim]);
  } else {
    // SigLIP pools with an attention head; a mean over patches keeps the same shapes.
    const pooled = g.op('ReduceMean', [layerNorm(ctx, x, 'post_layernorm', w)], { axes: attr.ints([1]), keepdims: attr.i(0) });
    const embeds = poisonIf(g, linear(ctx, pooled, 'head', w, spec.dim), spec.nan);
    g.output(embeds, 'pooler_output', 'float32', ['batch_size', spec.dim]);
  }
  g.output(hidden, 'last_hidden_state', 'float32', ['batch_size', tokens, w]);
  return g.encode();
}

/** Normalised value of a 0-255 colour, as the image processor computes it. */
function normalisedColour(rgb: readonly number[], mean: readonly number[], std: readonly number[]): number[] {
  return rgb.map((c, i) => (c / 255 - mean[i]!) / std[i]!);
}

function probeVision(family: 'clip' | 'siglip', imageSize: number, dim: number, nan: boolean): Uint8Array {
  const g = new GraphBuilder(`${family}_probe_vision_model`);
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 3, imageSize, imageSize]);
  const mean = g.op('ReduceMean', [pixels], { axes: attr.ints([2, 3]), keepdims: attr.i(0) });
  const proj = new Float32Array(3 * dim);
  for (let c = 0; c < 3; c++) proj[c * dim + c] = 1;
  const embeds = poisonIf(g, g.op('MatMul', [mean, g.tensor('probe.projection', [3, dim], proj)]), nan);
  g.output(embeds, family === 'clip' ? 'image_embeds' : 'pooler_output', 'float32', ['batch_size', dim]);
  return g.encode();
}

function probeText(family: 'clip' | 'siglip', table: Float32Array, vocab: number, dim: number, nan: boolean): Uint8Array {
  const g = new GraphBuilder(`${family}_probe_text_model`);
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const tok = g.op('Gather', [g.tensor('probe.token_embedding', [vocab, dim], table), ids], { axis: attr.i(0) });
  const embeds = poisonIf(g, g.op('ReduceMean', [tok], { axes: attr.ints([1]), keepdims: attr.i(0) }), nan);
  g.output(embeds, family === 'clip' ? 'text_embeds' : 'pooler_output', 'float32', ['batch_size', dim]);
  return g.encode();
}

function probeTable(vocab: number, dim: number, idOf: (word: string) => number | undefined, mean: readonly number[], std: readonly number[]): Float32Array {
  if (dim < 3) throw new Error('probe models need dim >= 3');
  const table = new Float32Array(vocab * dim);
  for (const [word, rgb] of Object.entries(PROBE_COLOURS)) {
    const id = idOf(word);
    if (id === undefined) throw new Error(`probe: the tokenizer has no token for "${word}"`);
    table.set(normalisedColour(rgb, mean, std), id * dim);
  }
  return table;
}

// ---------------------------------------------------------------------------------------------
// Tokenizers

interface TokenizerFiles {
  readonly json: Uint8Array;
  readonly config: Record<string, unknown>;
  readonly vocabSize: number;
  readonly idOf: (word: string) => number | undefined;
}

const clipTokenizerCache = new Map<string, TokenizerFiles>();

/**
 * The real CLIP BPE tokenizer from the shared data folder (read at test time, never copied into the repo).
 * Without `../shared/data` (a fresh clone) and no explicit `dir`: a generated CLIP-layout tokenizer
 * (`generatedClipTokenizer`), so the tiny CLIP models still work.
 */
export function clipTokenizer(dir?: string): TokenizerFiles {
  if (dir === undefined) {
    dir = path.join(sharedDataDir(), 'tokenizers/clip');
    if (!existsSync(path.join(dir, 'tokenizer.json'))) return generatedClipTokenizer();
  }
  const cached = clipTokenizerCache.get(dir);
  if (cached) return cached;
  const bytes = readFileSync(path.join(dir, 'tokenizer.json'));
  const parsed = JSON.parse(bytes.toString('utf8')) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  const ids = Object.values(parsed.model.vocab).concat(parsed.added_tokens.map((t) => t.id));
  const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const files: TokenizerFiles = {
    json: new Uint8Array(bytes),
    config,
    vocabSize: Math.max(...ids) + 1,
    idOf: (word) => parsed.model.vocab[`${word}</w>`],
  };
  clipTokenizerCache.set(dir, files);
  return files;
}

let generatedClip: TokenizerFiles | undefined;

/** GPT-2/CLIP byte-level alphabet: byte -> printable character, in CLIP's vocabulary order. */
function byteAlphabet(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return cs.map((c) => String.fromCodePoint(c));
}

/**
 * A generated tokenizer in the real CLIP layout (byte-level BPE with `</w>` word ends, lowercasing,
 * `<|startoftext|>` 49406 and `<|endoftext|>` 49407, 49408 ids, 77-token context), used when the real
 * one in `../shared/data/tokenizers/clip` is absent. Bytes and byte + `</w>` have CLIP's ids (0-511,
 * `a</w>` = 320); common question words and the probe colour words are single tokens; any other text
 * falls back to one token per byte, so everything tokenizes. Ids of words differ from the real CLIP's.
 */
export function generatedClipTokenizer(): TokenizerFiles {
  if (generatedClip) return generatedClip;
  const alphabet = byteAlphabet();
  const vocab: Record<string, number> = {};
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  alphabet.forEach(add);
  alphabet.forEach((c) => add(`${c}</w>`));
  const merges: [string, string][] = [];
  const rank = new Map<string, number>();
  // BPE as tokenizers applies it: repeatedly merge the lowest-ranked adjacent pair.
  const bpe = (word: string): string[] => {
    const chars = [...word];
    const parts = chars.map((c, i) => (i === chars.length - 1 ? `${c}</w>` : c));
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) return parts;
      parts.splice(best, 2, parts[best]! + parts[best + 1]!);
    }
  };
  // Each word becomes one token: merge whatever pieces the earlier merges leave, left to right. New
  // merges rank after all earlier ones, so words added before keep their single token.
  for (const word of CLIP_WORDS) {
    const parts = bpe(word);
    let acc = parts[0]!;
    for (const next of parts.slice(1)) {
      rank.set(`${acc} ${next}`, merges.length);
      merges.push([acc, next]);
      acc += next;
      add(acc);
    }
  }
  const BOS = 49406;
  for (let i = Object.keys(vocab).length; i < BOS; i++) vocab[`<|unused${i}|>`] = i;
  vocab['<|startoftext|>'] = BOS;
  vocab['<|endoftext|>'] = BOS + 1;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BOS, '<|startoftext|>'), special(BOS + 1, '<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', BOS + 1], cls: ['<|startoftext|>', BOS], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  generatedClip = {
    json: json(tokenizer),
    config: {
      bos_token: '<|startoftext|>',
      eos_token: '<|endoftext|>',
      model_max_length: 77,
      pad_token: '<|endoftext|>',
      tokenizer_class: 'CLIPTokenizer',
      unk_token: '<|endoftext|>',
    },
    vocabSize: BOS + 2,
    idOf: (word) => vocab[`${word}</w>`],
  };
  return generatedClip;
}

const SIGLIP_WORDS = [
  'a',
  'an',
  'the',
  'of',
  'in',
  'on',
  'at',
  'to',
  'is',
  'are',
  'what',
  'which',
  'where',
  'who',
  'how',
  'many',
  'color',
  'colour',
  'photo',
  'picture',
  'image',
  'this',
  'that',
  'there',
  'sign',
  'flag',
  'cup',
  'mug',
  'bag',
  'glass',
  'bottle',
  'doll',
  'machine',
  'vending',
  'time',
  'wait',
  'queue',
  'left',
  'right',
  'top',
  'bottom',
  'side',
  'small',
  'large',
  'man',
  'woman',
  'person',
  'people',
  'car',
  'dog',
  'cat',
  'house',
  'tree',
  'sky',
  'water',
  'text',
  'say',
  'does',
  'do',
  'and',
  'or',
  'with',
  'it',
  'its',
  'object',
  'letter',
  'number',
  ...Object.keys(PROBE_COLOURS),
];

/** Words the generated CLIP tokenizer keeps whole (the SigLIP words plus a few more). */
const CLIP_WORDS = [...SIGLIP_WORDS, 'coin', 'slot', 'price', 'tag', 'wall', 'door', 'window', 'red', 'photo'];

/**
 * A small but valid SigLIP-style tokenizer.json (SentencePiece Unigram with Metaspace, lowercasing,
 * `</s>` appended, padding with `</s>`), so transformers.js's SiglipTokenizer runs unchanged.
 * Every lowercase letter and digit is in the vocabulary, so any text tokenizes (unknown symbols -> `<unk>`).
 */
export function siglipTokenizer(maxLength = 64): TokenizerFiles {
  const vocab: [string, number][] = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
    ['\u2581', -2],
  ];
  const seen = new Set(vocab.map(([t]) => t));
  const add = (piece: string, score: number): void => {
    if (seen.has(piece)) return;
    seen.add(piece);
    vocab.push([piece, score]);
  };
  SIGLIP_WORDS.forEach((w, i) => add(`\u2581${w}`, -3 - i / 1000));
  for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789.,?!\'"-:;()') {
    add(ch, -8);
    add(`\u2581${ch}`, -8.5);
  }
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
  const index = new Map(vocab.map(([t], i) => [t, i]));
  return {
    json: json(tokenizer),
    config: {
      model_max_length: maxLength,
      tokenizer_class: 'SiglipTokenizer',
      eos_token: '</s>',
      pad_token: '</s>',
      unk_token: '<unk>',
      do_lower_case: true,
    },
    vocabSize: vocab.length,
    idOf: (word) => index.get(`\u2581${word}`),
  };
}

// ---------------------------------------------------------------------------------------------
// Public generators

interface Resolved {
  readonly seed: number;
  readonly dim: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly vision: Required<TowerSize>;
  readonly text: Required<TowerSize>;
}

function resolve(options: TinyModelOptions, family: 'clip' | 'siglip'): Resolved {
  const big = options.size === 'vit-b-32';
  const imageSize = options.imageSize ?? (big ? 224 : 32);
  const patchSize = options.patchSize ?? (big ? 32 : Math.max(1, Math.floor(imageSize / 4)));
  if (imageSize % patchSize !== 0) throw new Error(`imageSize ${imageSize} is not a multiple of patchSize ${patchSize}`);
  const vision = fullSize(options.vision, big ? { width: 768, layers: 12, heads: 12 } : { width: 32, layers: 1, heads: 2 });
  const text = fullSize(
    options.text,
    big ? { width: family === 'clip' ? 512 : 768, layers: 12, heads: family === 'clip' ? 8 : 12 } : { width: 32, layers: 1, heads: 2 },
  );
  const dim = options.dim ?? (big ? (family === 'clip' ? 512 : 768) : 16);
  return { seed: options.seed ?? 0, dim, imageSize, patchSize, vision, text };
}

function addDtypeCopies(files: ModelFiles, dtypes: TinyModelOptions['dtypes']): void {
  for (const dtype of dtypes ?? []) {
    for (const tower of ['text_model', 'vision_model']) {
      files[`onnx/${onnxFileName(tower, dtype)}`] = files[`onnx/${tower}.onnx`]!;
    }
  }
}

function towerConfig(size: Required<TowerSize>): Record<string, number> {
  return {
    hidden_size: size.width,
    intermediate_size: size.width * size.mlpRatio,
    num_attention_heads: size.heads,
    num_hidden_layers: size.layers,
  };
}

/**
 * A random-weight CLIP (`model_type: clip`) in the Xenova/transformers.js layout, with the real CLIP
 * tokenizer (49408 tokens, 77-token context). Text tower: input_ids -> text_embeds [B, dim];
 * vision tower: pixel_values [B, 3, S, S] -> image_embeds [B, dim].
 *
 * @example
 * ```ts
 * const { files } = makeTinyClip({ seed: 7, dim: 16, imageSize: 32 });
 * const hub = await startFakeHub({ repos: { 'test/tiny-clip': { revision, files } } });
 * const manifest = manifestFor('test/tiny-clip', revision, files, { id: 'tiny-clip', family: 'clip' });
 * const scorer = await createClipScorer({ model: manifest, cacheDir, autoPull: true, hub: { endpoint: hub.url } });
 * ```
 */
export function makeTinyClip(options: TinyModelOptions = {}): TinyModel {
  const r = resolve(options, 'clip');
  const next = prng(r.seed);
  const tok = clipTokenizer(options.clipTokenizerDir);
  const maxPos = 77;
  const files: ModelFiles = {};
  const preprocessor = {
    crop_size: { height: r.imageSize, width: r.imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [...CLIP_MEAN],
    image_processor_type: 'CLIPImageProcessor',
    image_std: [...CLIP_STD],
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: r.imageSize },
  };
  const config = {
    architectures: ['CLIPModel'],
    initializer_factor: 1.0,
    logit_scale_init_value: 2.6592,
    model_type: 'clip',
    projection_dim: r.dim,
    text_config: {
      model_type: 'clip_text_model',
      ...towerConfig(r.text),
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
      max_position_embeddings: maxPos,
      vocab_size: tok.vocabSize,
      bos_token_id: 49406,
      eos_token_id: 49407,
      pad_token_id: 1,
      projection_dim: r.dim,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      ...towerConfig(r.vision),
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
      image_size: r.imageSize,
      patch_size: r.patchSize,
      num_channels: 3,
      projection_dim: r.dim,
    },
    transformers_version: '4.46.0',
    _semclip_test_model: options.probe ? 'probe' : 'random-weights',
  };
  files['config.json'] = json(config);
  files['preprocessor_config.json'] = json(preprocessor);
  files['tokenizer.json'] = tok.json;
  files['tokenizer_config.json'] = json(tok.config);
  files['special_tokens_map.json'] = json({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
  if (options.probe) {
    const table = probeTable(tok.vocabSize, r.dim, tok.idOf, CLIP_MEAN, CLIP_STD);
    files['onnx/text_model.onnx'] = probeText('clip', table, tok.vocabSize, r.dim, options.nan === 'text');
    files['onnx/vision_model.onnx'] = probeVision('clip', r.imageSize, r.dim, options.nan === 'vision');
  } else {
    files['onnx/text_model.onnx'] = textTower(
      {
        family: 'clip',
        vocab: tok.vocabSize,
        maxPos,
        size: r.text,
        dim: r.dim,
        attentionMask: options.textAttentionMask ?? false,
        nan: options.nan === 'text',
      },
      next,
    );
    files['onnx/vision_model.onnx'] = visionTower(
      { family: 'clip', imageSize: r.imageSize, patchSize: r.patchSize, size: r.vision, dim: r.dim, nan: options.nan === 'vision' },
      next,
    );
  }
  addDtypeCopies(files, options.dtypes);
  return { files, config, preprocessor, colours: PROBE_COLOURS };
}

/**
 * A random-weight SigLIP (`model_type: siglip`) in the Xenova/transformers.js layout, with a small
 * generated Unigram tokenizer (64-token context, padded to max length as SigLIP was trained).
 * Both towers output `pooler_output` [B, dim]; logit scale and bias are not part of these files
 * (as in the published exports), see the scorer's docs.
 *
 * @example
 * ```ts
 * const { files } = makeTinySiglip({ seed: 1, probe: true, dim: 3 });
 * await writeModelFiles(dir, files);
 * const scorer = await createSiglipScorer({ modelPath: dir, logitScale: Math.log(10), logitBias: -10 });
 * ```
 */
export function makeTinySiglip(options: TinyModelOptions = {}): TinyModel {
  const r = resolve(options, 'siglip');
  const next = prng(r.seed);
  const maxPos = 64;
  const tok = siglipTokenizer(maxPos);
  const files: ModelFiles = {};
  const preprocessor = {
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [...SIGLIP_MEAN],
    image_processor_type: 'SiglipImageProcessor',
    image_std: [...SIGLIP_STD],
    processor_class: 'SiglipProcessor',
    resample: 3,
    rescale_factor: 1 / 255,
    size: { height: r.imageSize, width: r.imageSize },
  };
  const config = {
    architectures: ['SiglipModel'],
    initializer_factor: 1.0,
    model_type: 'siglip',
    text_config: {
      model_type: 'siglip_text_model',
      ...towerConfig(r.text),
      hidden_act: 'gelu_pytorch_tanh',
      layer_norm_eps: 1e-6,
      max_position_embeddings: maxPos,
      vocab_size: tok.vocabSize,
      pad_token_id: 1,
      eos_token_id: 1,
      projection_size: r.dim,
    },
    vision_config: {
      model_type: 'siglip_vision_model',
      ...towerConfig(r.vision),
      hidden_act: 'gelu_pytorch_tanh',
      layer_norm_eps: 1e-6,
      image_size: r.imageSize,
      patch_size: r.patchSize,
      num_channels: 3,
    },
    transformers_version: '4.46.0',
    _semclip_test_model: options.probe ? 'probe' : 'random-weights',
  };
  files['config.json'] = json(config);
  files['preprocessor_config.json'] = json(preprocessor);
  files['tokenizer.json'] = tok.json;
  files['tokenizer_config.json'] = json(tok.config);
  files['special_tokens_map.json'] = json({ eos_token: '</s>', pad_token: '</s>', unk_token: '<unk>' });
  if (options.probe) {
    const table = probeTable(tok.vocabSize, r.dim, tok.idOf, SIGLIP_MEAN, SIGLIP_STD);
    files['onnx/text_model.onnx'] = probeText('siglip', table, tok.vocabSize, r.dim, options.nan === 'text');
    files['onnx/vision_model.onnx'] = probeVision('siglip', r.imageSize, r.dim, options.nan === 'vision');
  } else {
    files['onnx/text_model.onnx'] = textTower(
      { family: 'siglip', vocab: tok.vocabSize, maxPos, size: r.text, dim: r.dim, attentionMask: false, nan: options.nan === 'text' },
      next,
    );
    files['onnx/vision_model.onnx'] = visionTower(
      { family: 'siglip', imageSize: r.imageSize, patchSize: r.patchSize, size: r.vision, dim: r.dim, nan: options.nan === 'vision' },
      next,
    );
  }
  addDtypeCopies(files, options.dtypes);
  return { files, config, preprocessor, colours: PROBE_COLOURS };
}
