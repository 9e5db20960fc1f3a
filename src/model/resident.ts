/**
 * Device-resident execution (WebGPU): weights are uploaded once per layer and the residual stream stays in device
 * memory from the embedding to the last needed block; only the rows a hook keeps come back (a Gather on the
 * device, then one small copy). Two tiny graphs do the moving:
 *   upload(x f32 [n], shape int64 [r]) -> y [shape]  (f32, or f16 for weights held in half precision)
 *   gather(x f32 [N, w], rows int64 [k]) -> y f32 [k, w]  (its output is on the CPU)
 * On the CPU provider the same code runs with host tensors, which is how it is tested without a GPU.
 */
import { GraphBuilder, ort } from '../native/index.js';

/** onnx.TensorProto.DataType.FLOAT16, the `to` of a Cast. */
const FLOAT16 = 10;

export function uploadGraph(f16: boolean): GraphBuilder {
  const g = new GraphBuilder(f16 ? 'upload_f16' : 'upload_f32');
  const x = g.input('x', 'float32', ['n']);
  const shape = g.input('shape', 'int64', ['r']);
  const value = f16 ? g.op('Cast', [x], { to: FLOAT16 }) : x;
  g.op('Reshape', [value, shape], {}, 'y');
  g.output('y', f16 ? 'float16' : 'float32');
  return g;
}

export function gatherGraph(): GraphBuilder {
  const g = new GraphBuilder('gather_rows');
  const x = g.input('x', 'float32', ['N', 'w']);
  const rows = g.input('rows', 'int64', ['k']);
  g.op('Gather', [x, rows], { axis: 0 }, 'y');
  g.output('y', 'float32', ['k', 'w']);
  return g;
}

export function rowsTensor(rows: number[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(rows, (r) => BigInt(r)),
    [rows.length],
  );
}

/** The row of each sequence's kept position in a [B·T, w] batch (sequence b's rows start at b·T). */
export function keptRows(seqs: number[], T: number, kept: number[]): number[] {
  return seqs.map((s, b) => b * T + kept[s]!);
}

/** Throws when a tensor that should have stayed on the GPU came back to the host (a silent, slow fallback). */
export function expectOnDevice(t: ort.Tensor, name: string): void {
  if (t.location !== 'gpu-buffer') {
    throw new Error(
      `onnxruntime returned '${name}' in ${t.location} memory although it was asked to keep it on the GPU ` +
        '(preferredOutputLocation); this onnxruntime-node build does not do WebGPU IO binding',
    );
  }
}

/** Throws on NaN/±Inf in values read back from the GPU: a driver or kernel fault must not pass as activations. */
export function expectFinite(values: Float32Array, where: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new Error(
        `the GPU returned a non-finite value (${values[i]}) at ${where}, element ${i}; compare with --device cpu`,
      );
    }
  }
}
