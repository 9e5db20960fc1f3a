/**
 * Native kernels through onnxruntime-node: a small ONNX graph builder and a session cache.
 * Heavy maths (GEMMs, the transformer blocks) runs as tiny ONNX graphs whose weights are graph *inputs*,
 * so one compiled session serves every layer and every call.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { onnx as OnnxNs } from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = createRequire(import.meta.url)('onnx-proto') as { onnx: typeof OnnxNs };

export type ElementType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8';
export type Dim = number | string;
type AttrValue =
  | number
  | number[]
  | string
  | { float: number }
  | { floats: number[] }
  | { tensor: TensorLiteral };

/** A constant tensor baked into a graph (small things only: shapes, axes, scalars). */
export interface TensorLiteral {
  type: ElementType;
  dims: number[];
  values: number[];
}

const ELEMENT_CODE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** Builds an ONNX model node by node; `toBytes()` gives the serialized ModelProto for a session. */
export class GraphBuilder {
  private readonly inputs: OnnxNs.IValueInfoProto[] = [];
  private readonly outputs: OnnxNs.IValueInfoProto[] = [];
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private counter = 0;

  constructor(private readonly name = 'graph') {}

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** An output; without dims its shape is left to inference (rank-polymorphic outputs). */
  output(name: string, type: ElementType, dims?: Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Adds a node; returns its output names. Unnamed outputs get fresh names. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs?: string[]): string[] {
    const outs = outputs ?? [this.fresh(op)];
    this.nodes.push({
      opType: op,
      input: inputs,
      output: outs,
      name: this.fresh(`${op}_node`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Single-output node shorthand. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    return this.node(op, inputs, attrs, output ? [output] : undefined)[0]!;
  }

  /** A named constant tensor (initializer). */
  constant(literal: TensorLiteral, name = this.fresh('const')): string {
    this.initializers.push(tensorProto(name, literal));
    return name;
  }

  /** The f32 inputs named in `values` become initializers holding those bytes (raw, little-endian as in memory). */
  bakeInputs(values: Record<string, { data: Float32Array; dims: readonly number[] }>): this {
    for (let i = this.inputs.length - 1; i >= 0; i--) {
      const name = this.inputs[i]!.name!;
      const v = values[name];
      if (!v) continue;
      if (this.inputs[i]!.type?.tensorType?.elemType !== onnx.TensorProto.DataType.FLOAT)
        throw new Error(`bakeInputs: ${name} is not a float32 input`);
      this.inputs.splice(i, 1);
      this.initializers.push({
        name,
        dims: [...v.dims],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength),
      });
    }
    return this;
  }

  toBytes(opset = 17): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'spacetime-lens',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }
}

function valueInfo(name: string, type: ElementType, dims?: Dim[]): OnnxNs.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: ELEMENT_CODE[type], ...(shape && { shape }) } } };
}

function tensorProto(name: string, t: TensorLiteral): OnnxNs.ITensorProto {
  const base: OnnxNs.ITensorProto = { name, dims: t.dims, dataType: ELEMENT_CODE[t.type] };
  switch (t.type) {
    case 'float32':
      return { ...base, floatData: t.values };
    case 'float64':
      return { ...base, doubleData: t.values };
    case 'int64':
      return { ...base, int64Data: t.values };
    case 'int32':
    case 'bool':
    case 'uint8':
      return { ...base, int32Data: t.values };
    default:
      throw new Error(`constant of type ${t.type} is not supported`);
  }
}

function attribute(name: string, v: AttrValue): OnnxNs.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: tensorProto(name, v.tensor) };
}

/** onnxruntime execution providers the engine can run on (see webgpu.ts for choosing one). */
export type Device = 'cpu' | 'cuda' | 'webgpu';

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads; defaults to the machine's available parallelism. */
  threads?: number;
  /** WebGPU: outputs that stay on the GPU (tensors with location 'gpu-buffer', fed to the next session as is). */
  gpuOutputs?: string[];
  /**
   * Whether idle intra-op threads spin waiting for the next op (onnxruntime's default, true). Graphs of many small
   * ops want false when cores are shared: a spinning thread takes the core the working one needs (bench/forward).
   */
  spinning?: boolean;
  /**
   * onnxruntime's memory pattern (default true): it plans one block per input shape from the first run and
   * allocates it on the second, so a graph with large intermediates pays fresh-page faults twice before its arena
   * is warm. false: the arena's freed blocks are reused from the second run on (bench/sae: the second step 2x faster).
   */
  memPattern?: boolean;
}

/** Creates an inference session for a built graph. */
export async function createSession(
  graph: GraphBuilder | Uint8Array,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const bytes = graph instanceof GraphBuilder ? graph.toBytes() : graph;
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: [options.device ?? 'cpu'],
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    ...(options.memPattern === false && { enableMemPattern: false }),
    ...(options.spinning === false && { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    ...(options.device === 'webgpu' && options.gpuOutputs?.length
      ? { preferredOutputLocation: outputLocations(bytes, options.gpuOutputs) }
      : {}),
  });
  return session;
}

/** 'gpu-buffer' for the named outputs, 'cpu' for the rest (the binding wants every output named). */
function outputLocations(bytes: Uint8Array, gpuOutputs: string[]): Record<string, 'gpu-buffer' | 'cpu'> {
  const names = (onnx.ModelProto.decode(bytes).graph?.output ?? []).map((o) => o.name ?? '');
  return Object.fromEntries(names.map((n) => [n, gpuOutputs.includes(n) ? 'gpu-buffer' : 'cpu']));
}

const sessionCache = new Map<string, Promise<ort.InferenceSession>>();

/** A session built once per key and reused (graphs are shape-polymorphic, so keys name the graph kind). */
export function cachedSession(
  key: string,
  build: () => GraphBuilder,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const fullKey = `${key}|${options.device ?? 'cpu'}|${options.threads ?? ''}|${options.spinning ?? ''}|${options.memPattern ?? ''}`;
  let session = sessionCache.get(fullKey);
  if (!session) {
    session = createSession(build(), options);
    sessionCache.set(fullKey, session);
  }
  return session;
}

export { ort };
