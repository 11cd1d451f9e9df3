/**
 * A small builder for ONNX graphs written from TypeScript (opset 17), encoded with `onnx-proto`.
 * Test models are built from real ONNX operators so ONNX Runtime loads and runs them exactly as it
 * runs exported Hugging Face models; only the weights are random.
 */
import { mulberry32 } from '@semclip/core';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const OPSET = 17;
/** IR version 8 (ONNX 1.10+), which onnx-proto encodes and ONNX Runtime 1.30 reads. */
export const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64' | 'int32' | 'bool';
const ELEM: Record<ElemType, number> = { float32: 1, int64: 7, int32: 6, bool: 9 };

/** A dimension: a fixed size, or a named symbolic one like `"batch_size"`. */
export type Dim = number | string;

type Attr =
  | { readonly kind: 'i'; readonly v: number }
  | { readonly kind: 'f'; readonly v: number }
  | { readonly kind: 'ints'; readonly v: readonly number[] }
  | { readonly kind: 'floats'; readonly v: readonly number[] }
  | { readonly kind: 's'; readonly v: string };

/** Attribute constructors; ONNX attributes are typed, so ints and floats are told apart here. */
export const attr = {
  i: (v: number): Attr => ({ kind: 'i', v }),
  f: (v: number): Attr => ({ kind: 'f', v }),
  ints: (v: readonly number[]): Attr => ({ kind: 'ints', v }),
  floats: (v: readonly number[]): Attr => ({ kind: 'floats', v }),
  s: (v: string): Attr => ({ kind: 's', v }),
};

function encodeAttr(name: string, a: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'i':
      return { name, type: T.INT, i: a.v };
    case 'f':
      return { name, type: T.FLOAT, f: a.v };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.v] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.v] };
    case 's':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.v) };
  }
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

function elemOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}

/**
 * Builds one graph. Every method returns the name of the value it produced, so graphs read like
 * expressions: `g.op('MatMul', [x, g.weight('w', [4, 8])])`.
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;
  /** Bytes of initializer data so far (to size the output). */
  bytes = 0;

  constructor(private readonly name: string) {}

  private fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `value` a graph output under `name` (adding an Identity when the names differ). */
  output(value: string, name: string, type: ElemType, dims: readonly Dim[]): string {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.fresh('Identity') });
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** A constant tensor stored as an initializer (raw little-endian bytes, no copy of the data). */
  tensor(name: string, dims: readonly number[], data: TensorData): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: ELEM[elemOf(data)],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    this.bytes += data.byteLength;
    return name;
  }

  floats(dims: readonly number[], values: readonly number[] | Float32Array, prefix = 'const'): string {
    return this.tensor(this.fresh(prefix), dims, values instanceof Float32Array ? values : Float32Array.from(values));
  }

  ints(values: readonly number[], prefix = 'shape'): string {
    return this.tensor(this.fresh(prefix), [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /** A scalar int64 (rank 0), as Gather indices that drop an axis. */
  scalarInt(value: number): string {
    return this.tensor(this.fresh('scalar'), [], BigInt64Array.of(BigInt(value)));
  }

  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    return this.opN(opType, inputs, 1, attrs)[0]!;
  }

  opN(opType: string, inputs: readonly string[], outputs: number, attrs: Record<string, Attr> = {}): string[] {
    const name = this.fresh(opType);
    const out = Array.from({ length: outputs }, (_, i) => `${name}_out${i}`);
    this.nodes.push({
      opType,
      name,
      input: [...inputs],
      output: out,
      attribute: Object.entries(attrs).map(([k, v]) => encodeAttr(k, v)),
    });
    return out;
  }

  /** The serialised ModelProto. */
  encode(meta: Record<string, string> = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'semclip-test-kit',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: OPSET }],
      metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** The seeded PRNG (core's mulberry32), so generated weights are identical on every machine. */
export function prng(seed: number): () => number {
  return mulberry32(seed);
}

/** Uniform(-scale, scale) weights from a seeded generator. */
export function randomWeights(next: () => number, size: number, scale: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}
