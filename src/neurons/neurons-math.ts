/**
 * The numerical kernels of the neuron searches (docs/method.md#neurons): gain-free RMSNorm, neuron-proxy GEMMs through
 * onnxruntime, column-wise Spearman with average ranks (probe/ranks.ts), cosines, single-neuron 1-D fits.
 */
import { cachedSession, GraphBuilder, ort } from '../native/index.js';
import { averageRanks } from '../probe/index.js';

/**
 * x / sqrt(mean(x²) + eps) per row, with no learned gain (the authors' `RMSNorm` in model_composition.py).
 * `out` may be `x` itself (in place).
 */
export function rmsNormRows(
  x: Float32Array,
  n: number,
  d: number,
  eps = 1e-6,
  out: Float32Array = new Float32Array(n * d),
): Float32Array {
  for (let i = 0; i < n; i++) {
    let ss = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) ss += x[o + j]! * x[o + j]!;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[o + j] = x[o + j]! * inv;
  }
  return out;
}

/** C = A·Bᵀ (A: n×d, B: m×d, f32) by onnxruntime's Gemm with transB: one proxy column per neuron row of B. */
export async function matmulTransB(
  a: Float32Array,
  b: Float32Array,
  n: number,
  d: number,
  m: number,
): Promise<Float32Array> {
  if (a.length !== n * d || b.length !== m * d)
    throw new Error(`matmulTransB: sizes do not match ${n}x${d}x${m}`);
  const session = await cachedSession('neurons:gemm-transB:f32', () => {
    const g = new GraphBuilder('gemm_tb');
    g.input('A', 'float32', ['n', 'd']);
    g.input('B', 'float32', ['m', 'd']);
    g.op('Gemm', ['A', 'B'], { transB: 1 }, 'C');
    g.output('C', 'float32', ['n', 'm']);
    return g;
  });
  const out = await session.run({
    A: new ort.Tensor('float32', a, [n, d]),
    B: new ort.Tensor('float32', b, [m, d]),
  });
  return out['C']!.data as Float32Array;
}

/** A target prepared for many Spearman correlations: centred average ranks and their norm. */
export interface RankedTarget {
  name: string;
  centred: Float64Array;
  norm: number;
}

export function rankTarget(name: string, values: ArrayLike<number>): RankedTarget {
  const ranks = averageRanks(Float64Array.from(values));
  const mean = (ranks.length + 1) / 2;
  let ss = 0;
  for (let i = 0; i < ranks.length; i++) {
    ranks[i] = ranks[i]! - mean;
    ss += ranks[i]! * ranks[i]!;
  }
  return { name, centred: ranks, norm: Math.sqrt(ss) };
}

/**
 * Spearman correlation of every column of P (n × m, row-major f32) with every target: m × T row-major.
 * Every column is ranked (the authors' chunking bug that skipped columns is not reproduced, docs/method.md#neurons).
 * A constant column or target, or a column with a NaN/Inf, gives NaN, as SciPy does (nan_policy 'propagate').
 */
export function spearmanColumns(
  p: Float32Array,
  n: number,
  m: number,
  targets: RankedTarget[],
): Float64Array {
  const T = targets.length;
  const out = new Float64Array(m * T);
  const col = new Float32Array(n);
  const ranks = new Float64Array(n);
  const mean = (n + 1) / 2;
  for (let j = 0; j < m; j++) {
    let finite = true;
    for (let i = 0; i < n; i++) {
      col[i] = p[i * m + j]!;
      finite &&= col[i]! - col[i]! === 0;
    }
    if (!finite) {
      // SciPy propagates a NaN (and an overflowed proxy) to ρ = NaN; ranking it would give a finite, wrong ρ.
      for (let t = 0; t < T; t++) out[j * T + t] = Number.NaN;
      continue;
    }
    averageRanks(col, ranks);
    let ss = 0;
    for (let i = 0; i < n; i++) {
      ranks[i] = ranks[i]! - mean;
      ss += ranks[i]! * ranks[i]!;
    }
    const norm = Math.sqrt(ss);
    for (let t = 0; t < T; t++) {
      const y = targets[t]!.centred;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += ranks[i]! * y[i]!;
      const denom = norm * targets[t]!.norm;
      out[j * T + t] = denom > 0 ? dot / denom : Number.NaN;
    }
  }
  return out;
}

/** Cosine of every row of W (m × d) with the unit vector u (length d). A zero row gives NaN. */
export function rowCosines(w: Float32Array, m: number, d: number, u: Float64Array): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let dot = 0;
    let ss = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) {
      dot += w[o + j]! * u[j]!;
      ss += w[o + j]! * w[o + j]!;
    }
    out[i] = ss > 0 ? dot / Math.sqrt(ss) : Number.NaN;
  }
  return out;
}

/** Unit vector of a float64 direction (a UserError-free helper: a zero vector stays zero). */
export function unit(v: ArrayLike<number>): Float64Array {
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += v[i]! * v[i]!;
  const s = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  return Float64Array.from(v, (x) => x * s);
}

/** How well one activation alone predicts a target: Spearman ρ, R² of the 1-D least-squares fit y ≈ a + b·x. */
export interface SingleFit {
  n: number;
  spearman: number;
  r2: number;
  slope: number;
  intercept: number;
}

export function singleNeuronFit(x: ArrayLike<number>, y: ArrayLike<number>): SingleFit {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const r2 = syy > 0 ? (sxx > 0 ? (sxy * sxy) / (sxx * syy) : 0) : Number.NaN;
  const rx = rankTarget('x', x);
  const ry = rankTarget('y', y);
  let dot = 0;
  for (let i = 0; i < n; i++) dot += rx.centred[i]! * ry.centred[i]!;
  const denom = rx.norm * ry.norm;
  return { n, spearman: denom > 0 ? dot / denom : Number.NaN, r2, slope, intercept: my - slope * mx };
}
