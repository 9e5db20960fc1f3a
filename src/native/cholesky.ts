/**
 * Blocked Cholesky A = L Lᵀ of a symmetric positive definite float64 matrix and its solves: the diagonal blocks in
 * JS, the panel and trailing updates as onnxruntime GEMMs (the ridge probe's direct route).
 */
import { cachedSession, GraphBuilder, ort } from './onnx.js';

type F64 = Float64Array;

/** Lower-triangular inverse of a small dense lower-triangular block (row-major b×b), in JS. */
function invertLower(l: F64, b: number): F64 {
  const inv = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    inv[j * b + j] = 1 / l[j * b + j]!;
    for (let i = j + 1; i < b; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * b + k]! * inv[k * b + j]!;
      inv[i * b + j] = -s / l[i * b + i]!;
    }
  }
  return inv;
}

/** (Lᵀ)⁻¹ = (L⁻¹)ᵀ for a small dense lower-triangular L (row-major b×b), in JS: an upper-triangular matrix. */
export function inverseTransposeLower(l: F64, b: number): F64 {
  const inv = invertLower(l, b);
  const out = new Float64Array(b * b);
  for (let i = 0; i < b; i++) for (let j = 0; j <= i; j++) out[j * b + i] = inv[i * b + j]!;
  return out;
}

/** A blocked Cholesky factor A = L Lᵀ, kept as panels: L11⁻¹ (b×b) and L21 ((m−b)×b) per diagonal block. */
export interface CholeskyFactor {
  size: number;
  panels: { start: number; width: number; inv11: F64; l21: F64 }[];
}

/**
 * Cholesky factorisation of a symmetric positive definite d×d matrix (row-major, both triangles; not modified).
 * Right-looking and blocked: each diagonal block in JS, L21 = A21·L11⁻ᵀ and the trailing update A22 −= L21·L21ᵀ as
 * ORT float64 GEMMs. Throws when the matrix is not positive definite.
 */
export async function cholesky(a: F64, d: number, blockSize = 128): Promise<CholeskyFactor> {
  if (a.length !== d * d) throw new Error('cholesky: matrix size does not match');
  const step = await cachedSession('linalg:cholesky-step', () => {
    const g = new GraphBuilder('cholesky-step');
    g.input('S', 'float64', ['m', 'm']);
    g.input('inv11T', 'float64', ['b', 'b']);
    g.input('starts', 'int64', [2]);
    g.input('ends', 'int64', [2]);
    g.input('colStarts', 'int64', [2]);
    g.input('colEnds', 'int64', [2]);
    const a21 = g.op('Slice', ['S', 'colStarts', 'colEnds']); // rows b.., cols 0..b
    const l21 = g.op('MatMul', [a21, 'inv11T'], {}, 'L21');
    const s22 = g.op('Slice', ['S', 'starts', 'ends']);
    g.op('Gemm', [l21, l21, s22], { transB: 1, alpha: { float: -1 }, beta: { float: 1 } }, 'next');
    g.output('L21', 'float64', ['q', 'b']);
    g.output('next', 'float64', ['q', 'q']);
    return g;
  });
  const panels: CholeskyFactor['panels'] = [];
  let s: F64 = a;
  for (let k = 0; k < d; ) {
    const m = d - k;
    const b = Math.min(blockSize, m);
    // Factor the diagonal block in JS (unblocked Cholesky–Banachiewicz).
    const l11 = new Float64Array(b * b);
    for (let i = 0; i < b; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = s[i * m + j]!;
        for (let p = 0; p < j; p++) sum -= l11[i * b + p]! * l11[j * b + p]!;
        if (i === j) {
          if (!(sum > 0))
            throw new Error(`cholesky: matrix is not positive definite (pivot ${k + i} = ${sum})`);
          l11[i * b + i] = Math.sqrt(sum);
        } else {
          l11[i * b + j] = sum / l11[j * b + j]!;
        }
      }
    }
    const inv11 = invertLower(l11, b);
    if (b === m) {
      panels.push({ start: k, width: b, inv11, l21: new Float64Array(0) });
      break;
    }
    const inv11T = new Float64Array(b * b);
    for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) inv11T[j * b + i] = inv11[i * b + j]!;
    const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [2]);
    const out = await step.run({
      S: new ort.Tensor('float64', s, [m, m]),
      inv11T: new ort.Tensor('float64', inv11T, [b, b]),
      starts: i64([b, b]),
      ends: i64([m, m]),
      colStarts: i64([b, 0]),
      colEnds: i64([m, b]),
    });
    panels.push({ start: k, width: b, inv11, l21: out['L21']!.data as F64 });
    s = out['next']!.data as F64;
    k += b;
  }
  return { size: d, panels };
}

/** Solves A X = B with a Cholesky factor (B is d×t row-major); O(d²·t) in JS. */
export function choleskySolve(f: CholeskyFactor, b: F64, t: number): F64 {
  const d = f.size;
  const r = b.slice();
  const y = new Float64Array(d * t);
  // Forward: L y = b, panel by panel.
  for (const p of f.panels) {
    const { start, width, inv11, l21 } = p;
    for (let i = 0; i < width; i++) {
      for (let j = 0; j < t; j++) {
        let acc = 0;
        for (let k = 0; k <= i; k++) acc += inv11[i * width + k]! * r[(start + k) * t + j]!;
        y[(start + i) * t + j] = acc;
      }
    }
    const rest = d - start - width;
    for (let i = 0; i < rest; i++) {
      for (let j = 0; j < t; j++) {
        let acc = 0;
        for (let k = 0; k < width; k++) acc += l21[i * width + k]! * y[(start + k) * t + j]!;
        r[(start + width + i) * t + j] = r[(start + width + i) * t + j]! - acc;
      }
    }
  }
  // Backward: Lᵀ x = y.
  const x = new Float64Array(d * t);
  for (let pi = f.panels.length - 1; pi >= 0; pi--) {
    const { start, width, inv11, l21 } = f.panels[pi]!;
    const rest = d - start - width;
    const z = new Float64Array(width * t);
    for (let k = 0; k < width; k++) for (let j = 0; j < t; j++) z[k * t + j] = y[(start + k) * t + j]!;
    for (let i = 0; i < rest; i++) {
      for (let k = 0; k < width; k++) {
        const l = l21[i * width + k]!;
        for (let j = 0; j < t; j++) z[k * t + j] = z[k * t + j]! - l * x[(start + width + i) * t + j]!;
      }
    }
    // x_block = L11⁻ᵀ z
    for (let i = 0; i < width; i++) {
      for (let j = 0; j < t; j++) {
        let acc = 0;
        for (let k = i; k < width; k++) acc += inv11[k * width + i]! * z[k * t + j]!;
        x[(start + i) * t + j] = acc;
      }
    }
  }
  return x;
}
