/**
 * Writes the trained head as an ONNX graph (opset 17, IR 8) with `onnx-proto`:
 *
 *   text_embeds [B, dim] --MatMul W_t^T--> a --/ sqrt(sum(a^2) + eps)--> a^
 *   image_embeds [N, dim] --MatMul W_v^T--> b --/ sqrt(sum(b^2) + eps)--> b^
 *   scores [B, N] = a^ b^T
 *
 * the same arithmetic as the trainer's forward pass (`headScores`), so ONNX Runtime and TypeScript
 * agree to float32 rounding.
 */
import onnxProto from 'onnx-proto';
import { HEAD_IO, HEAD_NORM_EPS } from '@semclip/scorers/distant';
import type { HeadParams } from '../train/_head-math.js';

const { onnx } = onnxProto;
const FLOAT = 1;
const OPSET = 17;
const IR_VERSION = 8;

type Attr = onnxProto.onnx.IAttributeProto;

function transposeF32(w: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(dim * dim);
  for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) out[c * dim + r] = w[r * dim + c]!;
  return out;
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function input(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/**
 * The head as ONNX bytes; `metadata` goes into the model's metadata_props (strings).
 *
 * @example
 * ```ts
 * const bytes = headToOnnx(result.params, { base: 'clip-vit-base-patch32' });
 * await writeFile('head.onnx', bytes);
 * ```
 */
export function headToOnnx(params: HeadParams, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const d = params.dim;
  const nodes: onnxProto.onnx.INodeProto[] = [];
  let n = 0;
  const node = (opType: string, inputs: string[], attribute: Attr[] = []): string => {
    const out = `${opType.toLowerCase()}_${++n}`;
    nodes.push({ opType, name: out, input: inputs, output: [out], attribute });
    return out;
  };
  const ints = (name: string, v: number[]): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name: string, v: number): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  const normalise = (x: string): string => {
    const sq = node('ReduceSumSquare', [x], [ints('axes', [1]), int('keepdims', 1)]);
    const norm = node('Sqrt', [node('Add', [sq, 'eps'])]);
    return node('Div', [x, norm]);
  };
  const a = normalise(node('MatMul', [HEAD_IO.text, 'w_text_T']));
  const b = normalise(node('MatMul', [HEAD_IO.image, 'w_image_T']));
  const bt = node('Transpose', [b], [ints('perm', [1, 0])]);
  nodes.push({ opType: 'MatMul', name: 'scores', input: [a, bt], output: [HEAD_IO.output] });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: '@semclip/trainer',
    producerVersion: '1',
    docString: 'SemClip relevance head: scores = cosine(W_t t, W_v v) over frozen CLIP/SigLIP embeddings.',
    opsetImport: [{ domain: '', version: OPSET }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'semclip_relevance_head',
      node: nodes,
      initializer: [
        floatTensor('w_text_T', [d, d], transposeF32(params.wt, d)),
        floatTensor('w_image_T', [d, d], transposeF32(params.wv, d)),
        floatTensor('eps', [], Float32Array.of(HEAD_NORM_EPS)),
      ],
      input: [input(HEAD_IO.text, ['batch', d]), input(HEAD_IO.image, ['tiles', d])],
      output: [input(HEAD_IO.output, ['batch', 'tiles'])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
