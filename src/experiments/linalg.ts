/**
 * Small dense linear algebra for the experiments: a Jacobi eigensolver for q×q symmetric matrices (q ≲ 300,
 * the Rayleigh-Ritz step of PCA), Cholesky, and CholeskyQR2 orthonormalisation of tall-thin matrices whose
 * O(n q²) products run in onnxruntime's f64 GEMM. Big products never run here.
 */
import { matmul } from '../native/index.js';

/**
 * Eigen-decomposition of a symmetric q×q matrix (row-major) by cyclic Jacobi rotations.
 * Returns eigenvalues in descending order and the eigenvectors as the columns of a row-major q×q matrix.
 */
export function symmetricEigen(a: Float64Array, q: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(q * q);
  for (let i = 0; i < q; i++) V[i * q + i] = 1;
  let scale = 0;
  for (let i = 0; i < q * q; i++) scale += A[i]! * A[i]!;
  const tol = 1e-30 * Math.max(scale, 1e-300);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < q; i++) for (let j = i + 1; j < q; j++) off += A[i * q + j]! ** 2;
    if (off <= tol) break;
    for (let p = 0; p < q; p++) {
      for (let r = p + 1; r < q; r++) {
        const apr = A[p * q + r]!;
        if (apr === 0) continue;
        const app = A[p * q + p]!;
        const arr = A[r * q + r]!;
        const theta = (arr - app) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < q; k++) {
          const akp = A[k * q + p]!;
          const akr = A[k * q + r]!;
          A[k * q + p] = c * akp - s * akr;
          A[k * q + r] = s * akp + c * akr;
        }
        for (let k = 0; k < q; k++) {
          const apk = A[p * q + k]!;
          const ark = A[r * q + k]!;
          A[p * q + k] = c * apk - s * ark;
          A[r * q + k] = s * apk + c * ark;
        }
        for (let k = 0; k < q; k++) {
          const vkp = V[k * q + p]!;
          const vkr = V[k * q + r]!;
          V[k * q + p] = c * vkp - s * vkr;
          V[k * q + r] = s * vkp + c * vkr;
        }
      }
    }
  }
  const order = Array.from({ length: q }, (_, i) => i).sort((i, j) => A[j * q + j]! - A[i * q + i]!);
  const values = Float64Array.from(order, (i) => A[i * q + i]!);
  const vectors = new Float64Array(q * q);
  for (let k = 0; k < q; k++) for (let c = 0; c < q; c++) vectors[k * q + c] = V[k * q + order[c]!]!;
  return { values, vectors };
}

/** Lower-triangular L with L·Lᵀ = G, or undefined when G is not numerically positive definite. */
export function cholesky(g: Float64Array, q: number): Float64Array | undefined {
  const L = new Float64Array(q * q);
  for (let j = 0; j < q; j++) {
    let s = g[j * q + j]!;
    for (let k = 0; k < j; k++) s -= L[j * q + k]! ** 2;
    if (!(s > 0)) return undefined;
    const ljj = Math.sqrt(s);
    L[j * q + j] = ljj;
    for (let i = j + 1; i < q; i++) {
      let t = g[i * q + j]!;
      for (let k = 0; k < j; k++) t -= L[i * q + k]! * L[j * q + k]!;
      L[i * q + j] = t / ljj;
    }
  }
  return L;
}

/** (Lᵀ)⁻¹ for lower-triangular L: an upper-triangular matrix. */
function inverseTransposeLower(L: Float64Array, q: number): Float64Array {
  // Solve L·X = I column by column (X = L⁻¹, lower), then transpose.
  const X = new Float64Array(q * q);
  for (let c = 0; c < q; c++) {
    for (let i = c; i < q; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= L[i * q + k]! * X[k * q + c]!;
      X[i * q + c] = s / L[i * q + i]!;
    }
  }
  const out = new Float64Array(q * q);
  for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) out[j * q + i] = X[i * q + j]!;
  return out;
}

/**
 * Orthonormal columns spanning the columns of Y (n×q, row-major, n ≥ q): CholeskyQR2, with a modified
 * Gram-Schmidt fallback when the Gram matrix is too ill-conditioned for Cholesky.
 */
export async function orthonormalize(y: Float64Array, n: number, q: number): Promise<Float64Array> {
  let Q = y;
  for (let pass = 0; pass < 2; pass++) {
    const G = (await matmul(Q, Q, q, n, q, { transA: true })) as Float64Array;
    const L = cholesky(G, q);
    if (!L) return gramSchmidt(Q, n, q);
    Q = (await matmul(Q, inverseTransposeLower(L, q), n, q, q)) as Float64Array;
  }
  return Q;
}

function gramSchmidt(y: Float64Array, n: number, q: number): Float64Array {
  const cols: Float64Array[] = [];
  for (let c = 0; c < q; c++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = y[i * q + c]!;
    for (let pass = 0; pass < 2; pass++) {
      for (const u of cols) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += u[i]! * v[i]!;
        for (let i = 0; i < n; i++) v[i] -= dot * u[i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i]! ** 2;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < n; i++) v[i] /= norm;
    cols.push(v);
  }
  const out = new Float64Array(n * q);
  for (let c = 0; c < q; c++) for (let i = 0; i < n; i++) out[i * q + c] = cols[c]![i]!;
  return out;
}
