import { cachedSession, GraphBuilder, ort } from './onnx.js';

type Floats = Float32Array | Float64Array;

/**
 * C = A·B (or Aᵀ·B with `transA`) for row-major matrices, computed by onnxruntime's GEMM.
 * A is m×k (k×m when transposed), B is k×n; the element type follows A (both must match).
 */
export async function matmul(
  a: Floats,
  b: Floats,
  m: number,
  k: number,
  n: number,
  options: { transA?: boolean } = {},
): Promise<Floats> {
  const type = a instanceof Float64Array ? 'float64' : 'float32';
  if (a.constructor !== b.constructor) throw new Error('matmul: A and B must have the same element type');
  if (a.length !== m * k || b.length !== k * n) throw new Error(`matmul: sizes do not match ${m}x${k}x${n}`);
  const transA = options.transA ? 1 : 0;
  const session = await cachedSession(`gemm:${type}:${transA}`, () => {
    const g = new GraphBuilder('gemm');
    g.input('A', type, transA ? ['k', 'm'] : ['m', 'k']);
    g.input('B', type, ['k', 'n']);
    g.op('Gemm', ['A', 'B'], { transA }, 'C');
    g.output('C', type, ['m', 'n']);
    return g;
  });
  const out = await session.run({
    A: new ort.Tensor(type, a, transA ? [k, m] : [m, k]),
    B: new ort.Tensor(type, b, [k, n]),
  });
  return out['C']!.data as Floats;
}
