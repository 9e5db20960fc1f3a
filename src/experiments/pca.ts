/**
 * Principal components of a layer's activations (docs/method.md#pca): all N rows, centred.
 *
 * Block subspace iteration on the covariance XcᵀXc, applied implicitly: each pass streams X in row chunks
 * through one onnxruntime graph (centre, Y = Xc·V, Z += Xcᵀ·Y), so no d×d or centred n×d copy is ever built.
 * The block (k + oversample columns) is re-orthonormalised in f64 after every pass and the Ritz values are
 * tracked until they stop changing; a final Rayleigh-Ritz step gives the components. With enough passes this
 * is exact PCA to f32 precision (unlike torch.pca_lowrank's fixed two power iterations in the authors' code).
 */

import { cachedSession, GraphBuilder, matmul, ort } from '../native/index.js';
import { gemm64, topTridiagonalEigenvalues, tridiagonalize } from '../native/linalg.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { applyTridiagonalQ, orthonormalize, symmetricEigen, tridiagonalEigenvectors } from './linalg.js';

export interface PcaOptions {
  /**
   * 'exact' (default): eigendecomposition of the f64 covariance (or of the Gram matrix XcXcᵀ when n ≤ d) through
   * Householder tridiagonalisation, bisection and inverse iteration, exact to f64 rounding whatever the spectrum.
   * 'subspace': block subspace iteration streamed over X (never builds d×d), for very wide layers.
   */
  method?: 'exact' | 'subspace';
  /** Extra block columns beyond k; they speed up convergence of the k-th component. */
  oversample?: number;
  maxIterations?: number;
  /** Stop when every top-k Ritz residual ‖C·v − λ·v‖ is below this fraction of the largest eigenvalue. */
  tolerance?: number;
  seed?: number;
  chunkRows?: number;
}

export interface PcaResult {
  n: number;
  d: number;
  k: number;
  mean: Float64Array;
  /** k×d row-major, unit rows, like scikit-learn's components_; sign: the largest-|·| entry is positive. */
  components: Float64Array;
  /** Variance along each component (eigenvalue of the covariance, ddof 1), descending. */
  explainedVariance: Float64Array;
  explainedVarianceRatio: Float64Array;
  totalVariance: number;
  iterations: number;
  converged: boolean;
  /** The final largest Ritz residual, relative to the top eigenvalue. */
  residual: number;
}

function passGraph(): GraphBuilder {
  const g = new GraphBuilder('pca_pass');
  g.input('X', 'float32', ['r', 'd']);
  g.input('mu', 'float32', ['d']);
  g.input('V', 'float32', ['d', 'q']);
  const Xc = g.op('Sub', ['X', 'mu']);
  const Y = g.op('MatMul', [Xc, 'V']);
  g.op('Gemm', [Xc, Y], { transA: 1 }, 'Z');
  g.output('Z', 'float32', ['d', 'q']);
  return g;
}

/** Top-k principal components of x (n×d, row-major). */
export async function pca(x: Float32Array, n: number, d: number, k: number, options: PcaOptions = {}) {
  if (x.length !== n * d) throw new Error('pca: array size does not match n×d');
  const rank = Math.min(n - 1, d);
  if (k < 1 || k > rank) throw new UserError(`PCA: k = ${k} is outside 1..${rank} (n = ${n}, d = ${d})`);
  const q = Math.min(rank, k + (options.oversample ?? 10));
  const maxIterations = options.maxIterations ?? 30;
  const tolerance = options.tolerance ?? 1e-6;
  const chunkRows = options.chunkRows ?? Math.max(64, Math.floor(16_777_216 / d));

  const { mean, totalSumSquares } = centreStats(x, n, d);
  if ((options.method ?? 'exact') === 'exact') {
    const eig = await exactTopEigen(x, n, d, k, mean, chunkRows);
    return finishPca(n, d, k, mean, totalSumSquares, eig.vectors, k, eig.values, 1, true, eig.residual);
  }
  const mu32 = Float32Array.from(mean);
  const session = await cachedSession('pca-pass', passGraph);
  /** Z = XcᵀXc·V (d×q) for orthonormal V (d×q, row-major f64). */
  const covarianceTimes = async (V: Float64Array): Promise<Float64Array> => {
    const V32 = new ort.Tensor('float32', Float32Array.from(V), [d, q]);
    const mu = new ort.Tensor('float32', mu32, [d]);
    const Z = new Float64Array(d * q);
    for (let start = 0; start < n; start += chunkRows) {
      const rows = Math.min(chunkRows, n - start);
      const out = await session.run({
        X: new ort.Tensor('float32', x.subarray(start * d, (start + rows) * d), [rows, d]),
        mu,
        V: V32,
      });
      const part = out['Z']!.data as Float32Array;
      for (let i = 0; i < part.length; i++) Z[i] += part[i]!;
    }
    return Z;
  };

  const rng = new Rng(options.seed ?? 0, 'pca-start');
  const start = new Float64Array(d * q);
  for (let i = 0; i < start.length; i++) start[i] = rng.normal();
  let V = await orthonormalize(start, d, q);
  let ritz: { values: Float64Array; vectors: Float64Array } = {
    values: new Float64Array(q),
    vectors: new Float64Array(q * q),
  };
  let VU = V;
  let iterations = 0;
  let converged = false;
  let residual = Infinity;
  while (iterations < maxIterations) {
    const Z = await covarianceTimes(V);
    iterations++;
    // Rayleigh-Ritz on span(V): components V·U, residuals ‖C·VU_i − λ_i·VU_i‖ / λ_1 for the top k.
    ritz = symmetricEigen(symmetrize((await matmul(V, Z, q, d, q, { transA: true })) as Float64Array, q), q);
    VU = (await matmul(V, ritz.vectors, d, q, q)) as Float64Array;
    const ZU = (await matmul(Z, ritz.vectors, d, q, q)) as Float64Array;
    residual = ritzResidual(VU, ZU, ritz.values, d, q, k);
    if (residual < tolerance) {
      converged = true;
      break;
    }
    if (iterations < maxIterations) V = await orthonormalize(Z, d, q);
  }
  return finishPca(n, d, k, mean, totalSumSquares, VU, q, ritz.values, iterations, converged, residual);
}

/** Features X·V[:, :k] (n×k, f32), not re-centred (the probe's intercept absorbs the offset), as in docs/method.md#pca. */
export async function projectOntoComponents(x: Float32Array, n: number, result: PcaResult, k: number) {
  const { d } = result;
  if (k > result.k) throw new Error(`projectOntoComponents: only ${result.k} components were computed`);
  const Vk = new Float32Array(d * k); // d×k: column c = component c
  for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) Vk[j * k + c] = result.components[c * d + j]!;
  return (await matmul(x, Vk, n, d, k)) as Float32Array;
}

function centreStats(x: Float32Array, n: number, d: number) {
  const mean = new Float64Array(d);
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < d; j++) {
      const v = row[j]!;
      mean[j] += v;
      sumSquares += v * v;
    }
  }
  let meanSquares = 0;
  for (let j = 0; j < d; j++) {
    mean[j] /= n;
    meanSquares += mean[j]! * mean[j]!;
  }
  return { mean, totalSumSquares: Math.max(0, sumSquares - n * meanSquares) };
}

function symmetrize(m: Float64Array, q: number): Float64Array {
  for (let i = 0; i < q; i++) {
    for (let j = i + 1; j < q; j++) {
      const v = (m[i * q + j]! + m[j * q + i]!) / 2;
      m[i * q + j] = v;
      m[j * q + i] = v;
    }
  }
  return m;
}

function ritzResidual(
  VU: Float64Array,
  ZU: Float64Array,
  values: Float64Array,
  d: number,
  q: number,
  k: number,
) {
  const scale = Math.abs(values[0]!) || 1;
  let worst = 0;
  for (let c = 0; c < k; c++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += (ZU[j * q + c]! - values[c]! * VU[j * q + c]!) ** 2;
    worst = Math.max(worst, Math.sqrt(sum) / scale);
  }
  return worst;
}

/** Components from the top eigenvectors (columns of `vectors`, d×width row-major) and eigenvalues of XcᵀXc. */
function finishPca(
  n: number,
  d: number,
  k: number,
  mean: Float64Array,
  totalSumSquares: number,
  vectors: Float64Array,
  width: number,
  values: Float64Array,
  iterations: number,
  converged: boolean,
  residual: number,
): PcaResult {
  const components = new Float64Array(k * d);
  for (let c = 0; c < k; c++) {
    let norm = 0;
    let biggest = 0;
    for (let j = 0; j < d; j++) {
      const v = vectors[j * width + c]!;
      norm += v * v;
      if (Math.abs(v) > Math.abs(biggest)) biggest = v;
    }
    const scale = Math.sign(biggest || 1) / Math.sqrt(norm);
    for (let j = 0; j < d; j++) components[c * d + j] = vectors[j * width + c]! * scale;
  }
  const explainedVariance = Float64Array.from(values.subarray(0, k), (v) => Math.max(v, 0) / (n - 1));
  const totalVariance = totalSumSquares / (n - 1);
  return {
    n,
    d,
    k,
    mean,
    components,
    explainedVariance,
    explainedVarianceRatio: explainedVariance.map((v) => v / totalVariance),
    totalVariance,
    iterations,
    converged,
    residual,
  };
}

function gramGraph(): GraphBuilder {
  const g = new GraphBuilder('pca_gram');
  g.input('X', 'float32', ['r', 'd']);
  g.input('mu', 'float64', ['d']);
  const xc = g.op('Sub', [g.op('Cast', ['X'], { to: 11 }), 'mu']);
  g.op('Gemm', [xc, xc], { transA: 1 }, 'G');
  g.output('G', 'float64', ['d', 'd']);
  return g;
}

/**
 * Top-k eigenpairs of XcᵀXc in f64. n > d: the d×d covariance; n ≤ d: the n×n Gram matrix XcXcᵀ, whose
 * eigenvectors U give V = XcᵀU/√λ. Both: tridiagonalise (src/native/linalg), bisection, inverse iteration, back-transform.
 */
async function exactTopEigen(
  x: Float32Array,
  n: number,
  d: number,
  k: number,
  mean: Float64Array,
  chunkRows: number,
) {
  const mu = new ort.Tensor('float64', mean, [d]);
  let m: number;
  let matrix: Float64Array;
  let xc: Float64Array | undefined;
  if (n > d) {
    m = d;
    matrix = new Float64Array(d * d);
    const session = await cachedSession('pca-gram', gramGraph);
    for (let start = 0; start < n; start += chunkRows) {
      const rows = Math.min(chunkRows, n - start);
      const out = await session.run({
        X: new ort.Tensor('float32', x.subarray(start * d, (start + rows) * d), [rows, d]),
        mu,
      });
      const part = out['G']!.data as Float64Array;
      for (let i = 0; i < part.length; i++) matrix[i] += part[i]!;
    }
  } else {
    m = n;
    xc = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc[i * d + j] = x[i * d + j]! - mean[j]!;
    matrix = await gemm64(xc, xc, n, d, n, { transB: true });
  }
  symmetrize(matrix, m);
  const red = await tridiagonalize(matrix, m);
  const values = topTridiagonalEigenvalues(red, k);
  const s = tridiagonalEigenvectors(red, values);
  const u = await applyTridiagonalQ(red, s, k); // m×k eigenvectors of `matrix`
  const residual = ritzResidual(u, await gemm64(matrix, u, m, m, k), values, m, k, k);
  if (!xc) return { values, vectors: u, residual };
  const v = await gemm64(xc, u, d, n, k, { transA: true }); // d×k, column c scaled by √λ_c
  return { values, vectors: v, residual };
}
