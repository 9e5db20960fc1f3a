/**
 * The numerical kernels of the neuron searches (docs/method.md#neurons): gain-free RMSNorm, neuron-proxy GEMMs through
 * onnxruntime, column-wise Spearman with average ranks, cosines, single-neuron 1-D fits.
 */
import { cachedSession, GraphBuilder, ort } from '../native/index.js';

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
  const ranks = averageRanksOf(Float64Array.from(values));
  const mean = (ranks.length + 1) / 2;
  let ss = 0;
  for (let i = 0; i < ranks.length; i++) {
    ranks[i] = ranks[i]! - mean;
    ss += ranks[i]! * ranks[i]!;
  }
  return { name, centred: ranks, norm: Math.sqrt(ss) };
}

const INDEX_BITS = 2 ** 21;
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * 1-based average ranks (scipy.stats.rankdata 'average') of `values` (f32 values, or any values exactly
 * representable in f32). Values are packed with their index into one float64 (an order-preserving 32-bit key of
 * the f32 value times 2^21, plus the index) and sorted natively, so no comparator runs; equal values (−0 and +0
 * included) get their average rank, as SciPy gives them.
 */
export function averageRanksOf(
  values: Float32Array | Float64Array,
  out = new Float64Array(values.length),
): Float64Array {
  const n = values.length;
  if (n >= INDEX_BITS || values instanceof Float64Array) return comparatorRanks(values, out);
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = sortKey(values[i]!) * INDEX_BITS + i;
  packed.sort();
  assignAverageRanks(
    packed,
    out,
    (p) => Math.floor(p / INDEX_BITS),
    (p) => p % INDEX_BITS,
  );
  return out;
}

/** Order-preserving unsigned key of an f32 value (−0 maps to +0's key; NaN sorts last). */
function sortKey(v: number): number {
  f32Scratch[0] = v + 0;
  const bits = u32Scratch[0]!;
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

function assignAverageRanks(
  sorted: Float64Array,
  out: Float64Array,
  key: (p: number) => number,
  index: (p: number) => number,
): void {
  const n = sorted.length;
  let i = 0;
  while (i < n) {
    const k = key(sorted[i]!);
    let j = i;
    while (j + 1 < n && key(sorted[j + 1]!) === k) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) out[index(sorted[t]!)] = avg;
    i = j + 1;
  }
}

function comparatorRanks(values: ArrayLike<number>, out: Float64Array): Float64Array {
  const n = values.length;
  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const sorted = Float64Array.from(Array.from(order).sort((a, b) => values[a]! - values[b]!));
  assignAverageRanks(
    sorted,
    out,
    (p) => values[p]! + 0,
    (p) => p,
  );
  return out;
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
    averageRanksOf(col, ranks);
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
