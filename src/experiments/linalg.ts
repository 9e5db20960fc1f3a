/**
 * Small dense linear algebra for the experiments: a Jacobi eigensolver for q×q symmetric matrices (q ≲ 300,
 * the Rayleigh-Ritz step of PCA), Cholesky, and CholeskyQR2 orthonormalisation of tall-thin matrices whose
 * O(n q²) products run in onnxruntime's f64 GEMM. Big products never run here.
 */
import { inverseTransposeLower } from '../native/cholesky.js';
import { matmul } from '../native/index.js';
import { blockReflectorT, gemm64, type Tridiagonal, type TridiagonalReduction } from '../native/linalg.js';

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

/**
 * Solves (T − λI) x = b for a symmetric tridiagonal T by Gaussian elimination with partial pivoting (LAPACK
 * dgttrf/dgttrs). Zero pivots are replaced by `tiny`, which is what inverse iteration wants near an eigenvalue.
 */
function shiftedTridiagonalSolve(
  t: Tridiagonal,
  lambda: number,
  b: Float64Array,
  tiny: number,
): Float64Array {
  const n = t.diag.length;
  const dd = Float64Array.from(t.diag, (v) => v - lambda);
  const du = Float64Array.from(t.off);
  const dl = Float64Array.from(t.off);
  const du2 = new Float64Array(Math.max(0, n - 2));
  const swap = new Uint8Array(n);
  const x = Float64Array.from(b);
  for (let k = 0; k < n - 1; k++) {
    if (Math.abs(dd[k]!) >= Math.abs(dl[k]!)) {
      if (dd[k] === 0) dd[k] = tiny;
      const l = dl[k]! / dd[k]!;
      dl[k] = l;
      dd[k + 1] = dd[k + 1]! - l * du[k]!;
    } else {
      const l = dd[k]! / dl[k]!;
      dd[k] = dl[k]!;
      dl[k] = l;
      const tmp = du[k]!;
      du[k] = dd[k + 1]!;
      dd[k + 1] = tmp - l * dd[k + 1]!;
      if (k < n - 2) {
        du2[k] = du[k + 1]!;
        du[k + 1] = -l * du[k + 1]!;
      }
      swap[k] = 1;
    }
  }
  if (dd[n - 1] === 0) dd[n - 1] = tiny;
  for (let k = 0; k < n - 1; k++) {
    if (swap[k]) {
      const tmp = x[k]!;
      x[k] = x[k + 1]!;
      x[k + 1] = tmp - dl[k]! * x[k + 1]!;
    } else {
      x[k + 1] = x[k + 1]! - dl[k]! * x[k]!;
    }
  }
  x[n - 1] = x[n - 1]! / dd[n - 1]!;
  if (n > 1) x[n - 2] = (x[n - 2]! - du[n - 2]! * x[n - 1]!) / dd[n - 2]!;
  for (let k = n - 3; k >= 0; k--) x[k] = (x[k]! - du[k]! * x[k + 1]! - du2[k]! * x[k + 2]!) / dd[k]!;
  return x;
}

/**
 * Eigenvectors of a symmetric tridiagonal matrix for given eigenvalues (descending), by inverse iteration with
 * re-orthogonalisation inside clusters of close eigenvalues (as LAPACK dstein). Returns d×k, row-major.
 */
export function tridiagonalEigenvectors(t: Tridiagonal, values: Float64Array, seed = 0): Float64Array {
  const d = t.diag.length;
  const k = values.length;
  let norm = 0;
  for (let i = 0; i < d; i++) {
    norm = Math.max(
      norm,
      Math.abs(t.diag[i]!) + (i > 0 ? Math.abs(t.off[i - 1]!) : 0) + (i < d - 1 ? Math.abs(t.off[i]!) : 0),
    );
  }
  const tiny = Math.max(norm, Number.MIN_VALUE) * Number.EPSILON;
  const clusterGap = 1e-3 * Math.max(norm, Number.MIN_VALUE);
  const vectors: Float64Array[] = [];
  let clusterStart = 0;
  let state = (seed * 2654435761 + 12345) >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5;
  };
  for (let j = 0; j < k; j++) {
    if (j > 0 && Math.abs(values[j - 1]! - values[j]!) > clusterGap) clusterStart = j;
    let v: Float64Array = Float64Array.from({ length: d }, random);
    for (let iter = 0; iter < 3; iter++) {
      v = shiftedTridiagonalSolve(t, values[j]!, v, tiny);
      for (let c = clusterStart; c < j; c++) {
        const u = vectors[c]!;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += u[i]! * v[i]!;
        for (let i = 0; i < d; i++) v[i] = v[i]! - dot * u[i]!;
      }
      let s = 0;
      for (let i = 0; i < d; i++) s += v[i]! * v[i]!;
      s = Math.sqrt(s);
      if (!(s > 0) || !Number.isFinite(s))
        throw new Error('tridiagonalEigenvectors: inverse iteration broke down');
      for (let i = 0; i < d; i++) v[i] = v[i]! / s;
    }
    vectors.push(v);
  }
  const out = new Float64Array(d * k);
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) out[i * k + c] = vectors[c]![i]!;
  return out;
}

/**
 * Q·S for the orthogonal factor Q of a Householder tridiagonalisation (src/native/linalg `tridiagonalize`) and a
 * d×k matrix S (row-major), without forming Q: each panel is applied as a block reflector I − V·T·Vᵀ (LAPACK
 * dlarft/dlarfb, forward, columnwise) through f64 GEMMs, last panel first. Cost ≈ 2·d²·k instead of formQ's d³.
 */
export async function applyTridiagonalQ(
  red: TridiagonalReduction,
  s: Float64Array,
  k: number,
): Promise<Float64Array> {
  const d = red.size;
  const out = Float64Array.from(s);
  for (let p = red.panels.length - 1; p >= 0; p--) {
    const panel = red.panels[p]!;
    const rows = d - panel.start;
    const b = panel.count;
    const t = await blockReflectorT(panel, rows);
    const block = out.subarray(panel.start * k, d * k);
    const w = await gemm64(panel.v, block, b, rows, k, { transA: true }); // Vᵀ·S: b×k
    const tw = await gemm64(t, w, b, b, k); // T·Vᵀ·S
    const updated = await gemm64(panel.v, tw, rows, b, k, { alpha: -1, c0: block, beta: 1 });
    out.set(updated, panel.start * k);
  }
  return out;
}
