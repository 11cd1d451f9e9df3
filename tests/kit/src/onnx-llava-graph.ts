/**
 * A small ONNX graph writer for the tiny random-weight VLM fixtures (onnx-llava.ts): named
 * inputs/outputs with symbolic dims, float/int64 initializers, nodes with attributes, and a
 * seeded generator for reproducible weights.
 */
import onnxProto from 'onnx-proto';
import { prng } from './onnx-graph.js';

const { onnx } = onnxProto;

export type Dim = number | string;
export type ElemType = 'float32' | 'float16' | 'int64' | 'bool';

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Attribute values: numbers become INT unless they are not integers (or `{ f }`), arrays likewise. */
export type AttrValue = number | { f: number } | readonly number[] | { floats: readonly number[] } | string;

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEM[type],
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      }),
    }),
  });
}

function attribute(name: string, value: AttrValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) });
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: T.INT, i: value })
      : onnx.AttributeProto.create({ name, type: T.FLOAT, f: value });
  }
  if ('f' in value) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.f });
  if ('floats' in value) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...value.floats] });
  return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...(value as readonly number[])] });
}

/**
 * Builds one ONNX model. Node outputs get unique names from `tmp()` unless given.
 *
 * @example
 * ```ts
 * const g = new GraphBuilder('embed');
 * g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
 * const table = g.weight('table', [vocab, hidden], rng);
 * g.node('Gather', [table, 'input_ids'], ['inputs_embeds']);
 * g.output('inputs_embeds', 'float32', ['batch_size', 'sequence_length', hidden]);
 * const bytes = g.toBytes();
 * ```
 */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private counter = 0;

  constructor(
    private readonly name: string,
    private readonly opset = 17,
  ) {}

  tmp(prefix = 't'): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** A float32 initializer. */
  floats(name: string, dims: readonly number[], data: Float32Array | readonly number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`initializer ${name}: ${values.length} values for dims [${dims.join(', ')}]`);
    this.inits.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: ELEM.float32,
        rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
      }),
    );
    return name;
  }

  /** An int64 initializer (scalar when dims is []). */
  ints(name: string, dims: readonly number[], data: readonly number[]): string {
    const values = BigInt64Array.from(data.map((v) => BigInt(v)));
    this.inits.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: ELEM.int64, rawData: new Uint8Array(values.buffer) }));
    return name;
  }

  /** A random float32 weight, uniform in [-scale, scale). */
  weight(name: string, dims: readonly number[], rng: () => number, scale = 0.5): string {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = (rng() * 2 - 1) * scale;
    return this.floats(name, dims, data);
  }

  /** Adds a node; returns its first output name. */
  node(op: string, inputs: readonly string[], outputs?: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    const outs = outputs ?? [this.tmp(op.toLowerCase())];
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        input: [...inputs],
        output: [...outs],
        name: this.tmp(`n_${op}`),
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs[0]!;
  }

  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'semclip-test-kit',
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: this.opset })],
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Deterministic uniform [0, 1) generator (mulberry32), the same one the CLIP/SigLIP generator uses. */
export const seededRandom: (seed: number) => () => number = prng;
