/**
 * Spatial autocorrelation on the sphere (docs/experiments.md#spatial): k-nearest-neighbour weights by great-circle
 * distance, global Moran's I with its analytic (randomisation) and permutation inference, and local Moran's I (LISA)
 * with conditional-permutation p-values, following PySAL's esda `Moran` and `Moran_Local` definitions (Moran 1950;
 * Cliff & Ord 1981; Anselin 1995).
 *
 * Weights: w_ij = 1/k for the k places j ≠ i with the largest u_i·u_j (u = 3-D unit vector; the same order as
 * great-circle distance), ties broken by the lower row index, row-standardised so S0 = n. With z = x − x̄:
 *   I = (n / S0) · Σ_i z_i Σ_j w_ij z_j / Σ_i z_i²,          E[I] = −1/(n − 1),
 * the randomisation variance of Cliff & Ord (with the kurtosis b2 = n Σz⁴ / (Σz²)²), and the folded one-sided
 * permutation p-value of esda: p = (min(#{I_perm ≥ I}, P − #{I_perm ≥ I}) + 1) / (P + 1).
 * The k-NN search and every batch of I values (observed units, or a unit's permutations) run as onnxruntime graphs.
 */
import { cachedSession, GraphBuilder, ort } from '../native/index.js';
import { unitVectors } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface SpatialWeights {
  n: number;
  k: number;
  /** n×k neighbour rows, nearest first. */
  neighbours: Int32Array;
  /** Σ w_ij (= n, row-standardised). */
  s0: number;
  /** ½ Σ_ij (w_ij + w_ji)². */
  s1: number;
  /** Σ_i (w_i· + w_·i)². */
  s2: number;
}

/** Candidates beyond k taken from the f64 GEMM before the exact re-ranking in a fixed operation order. */
const MARGIN = 8;

function knnGraph(): GraphBuilder {
  const g = new GraphBuilder('sphere_knn');
  g.input('Q', 'float64', ['r', 3]);
  g.input('U', 'float64', ['n', 3]);
  g.input('K', 'int64', [1]);
  const s = g.op('Gemm', ['Q', 'U'], { transB: 1 });
  g.node('TopK', [s, 'K'], { axis: 1, largest: 1, sorted: 1 }, ['values', 'indices']);
  g.output('indices', 'int64', ['r', 'c']);
  return g;
}

const dot3 = (u: Float64Array, i: number, j: number) =>
  u[3 * i]! * u[3 * j]! + u[3 * i + 1]! * u[3 * j + 1]! + u[3 * i + 2]! * u[3 * j + 2]!;

/** k-nearest-neighbour weights on the sphere for (longitude, latitude) rows. */
export async function sphereKnnWeights(lonLat: Float64Array, n: number, k: number): Promise<SpatialWeights> {
  if (!(Number.isInteger(k) && k >= 1 && k < n))
    throw new UserError(`spatial weights: k = ${k} neighbours needs 1 ≤ k < n (n = ${n})`);
  const u = unitVectors(lonLat, n, 'haversine');
  const session = await cachedSession('sphere-knn', knnGraph);
  const take = Math.min(n, k + 1 + MARGIN);
  const U = new ort.Tensor('float64', u, [n, 3]);
  const K = new ort.Tensor('int64', BigInt64Array.of(BigInt(take)), [1]);
  const neighbours = new Int32Array(n * k);
  const block = Math.max(16, Math.floor(8_000_000 / n));
  for (let s = 0; s < n; s += block) {
    const r = Math.min(block, n - s);
    const out = await session.run({
      Q: new ort.Tensor('float64', u.subarray(3 * s, 3 * (s + r)), [r, 3]),
      U,
      K,
    });
    const idx = out['indices']!.data as BigInt64Array;
    for (let a = 0; a < r; a++) {
      const i = s + a;
      const cands: number[] = [];
      for (let c = 0; c < take; c++) {
        const j = Number(idx[a * take + c]!);
        if (j !== i) cands.push(j);
      }
      const d = new Map(cands.map((j) => [j, dot3(u, i, j)]));
      cands.sort((p, q) => d.get(q)! - d.get(p)! || p - q);
      for (let c = 0; c < k; c++) neighbours[i * k + c] = cands[c]!;
    }
  }
  return withMoments(n, k, neighbours);
}

/** S0, S1, S2 of row-standardised binary k-NN weights. */
export function withMoments(n: number, k: number, neighbours: Int32Array): SpatialWeights {
  const edges = new Set<number>();
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) edges.add(i * n + neighbours[i * k + c]!);
  const w = 1 / k;
  let s1 = 0;
  const inWeight = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      const j = neighbours[i * k + c]!;
      inWeight[j] += w;
      // ordered pair (i, j): (w_ij + w_ji)²; a one-way edge also gives the pair (j, i) the same value
      s1 += edges.has(j * n + i) ? (2 * w) ** 2 : 2 * w * w;
    }
  }
  let s2 = 0;
  for (let i = 0; i < n; i++) s2 += (1 + inWeight[i]!) ** 2;
  return { n, k, neighbours, s0: n, s1: s1 / 2, s2 };
}

function moranGraph(): GraphBuilder {
  const g = new GraphBuilder('moran');
  g.input('X', 'float64', ['n', 'm']);
  g.input('idx', 'int64', ['nk']);
  g.input('shape', 'int64', [3]);
  const axis0 = g.constant({ type: 'int64', dims: [1], values: [0] });
  const mean = g.op('ReduceMean', ['X'], { keepdims: 1, axes: [0] });
  const z = g.op('Sub', ['X', mean]);
  const lag = g.op('ReduceMean', [g.op('Reshape', [g.op('Gather', [z, 'idx'], { axis: 0 }), 'shape'])], {
    keepdims: 0,
    axes: [1],
  });
  const z2 = g.op('Mul', [z, z]);
  g.op('ReduceSum', [g.op('Mul', [z, lag]), axis0], { keepdims: 0 }, 'num');
  g.op('ReduceSum', [z2, axis0], { keepdims: 0 }, 'den');
  g.op('ReduceSum', [g.op('Mul', [z2, z2]), axis0], { keepdims: 0 }, 'm4');
  g.output('num', 'float64', ['m']);
  g.output('den', 'float64', ['m']);
  g.output('m4', 'float64', ['m']);
  return g;
}

export interface MoranBatch {
  /** Moran's I per column (NaN for a constant column). */
  I: Float64Array;
  /** Σ z² and Σ z⁴ per column (for the analytic variance). */
  m2: Float64Array;
  m4: Float64Array;
}

const idxCache = new WeakMap<SpatialWeights, ort.Tensor>();

/** Moran's I of every column of an n×m row-major block (one onnxruntime run). */
export async function moranColumns(w: SpatialWeights, block: Float64Array, m: number): Promise<MoranBatch> {
  if (block.length !== w.n * m) throw new Error('moranColumns: block size does not match n×m');
  const session = await cachedSession('moran', moranGraph);
  let idx = idxCache.get(w);
  if (!idx) {
    idx = new ort.Tensor(
      'int64',
      BigInt64Array.from(w.neighbours, (v) => BigInt(v)),
      [w.n * w.k],
    );
    idxCache.set(w, idx);
  }
  const out = await session.run({
    X: new ort.Tensor('float64', block, [w.n, m]),
    idx,
    shape: new ort.Tensor('int64', BigInt64Array.of(BigInt(w.n), BigInt(w.k), BigInt(m)), [3]),
  });
  const num = out['num']!.data as Float64Array;
  const m2 = Float64Array.from(out['den']!.data as Float64Array);
  const m4 = Float64Array.from(out['m4']!.data as Float64Array);
  const scale = w.n / w.s0;
  const I = Float64Array.from(num, (v, j) => (m2[j]! > 0 ? (scale * v) / m2[j]! : Number.NaN));
  return { I, m2, m4 };
}

/** Columns per onnxruntime run so that the gathered n·k×m block stays near 64 MB. */
export function moranBlockWidth(w: SpatialWeights): number {
  return Math.max(1, Math.floor(8_000_000 / (w.n * w.k)));
}

export interface MoranInference {
  I: number;
  expected: number;
  /** Variance of I under randomisation (Cliff & Ord). */
  variance: number;
  z: number;
  /** Two-sided normal p-value of z. */
  p: number;
}

/** Analytic inference under randomisation for one column (esda `Moran` VI_rand, z_rand, p_rand two-tailed). */
export function moranInference(w: SpatialWeights, I: number, m2: number, m4: number): MoranInference {
  const { n, s0, s1, s2 } = w;
  const expected = -1 / (n - 1);
  const b2 = m4 / n / (m2 / n) ** 2;
  const n2 = n * n;
  const s02 = s0 * s0;
  const a = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s02);
  const b = b2 * ((n2 - n) * s1 - 2 * n * s2 + 6 * s02);
  const variance = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s02) - expected * expected;
  const z = (I - expected) / Math.sqrt(variance);
  return { I, expected, variance, z, p: 2 * normalSf(Math.abs(z)) };
}

export interface PermutationResult {
  I: number;
  /** I of each permutation. */
  simulated: Float64Array;
  /** Folded one-sided pseudo p-value (esda p_sim). */
  p: number;
  mean: number;
  /** Population std of the simulated values (esda seI_sim). */
  sd: number;
  z: number;
}

/**
 * Permutation inference for one unit's values: `permutations` seeded random permutations (Fisher–Yates), or the given
 * `orders` (each a permutation of 0..n−1: values[order[i]] sits at place i). The permuted columns go through the same
 * onnxruntime kernel as the observed I.
 */
export async function moranPermutationTest(
  w: SpatialWeights,
  values: ArrayLike<number>,
  options: { permutations?: number; seed?: number; orders?: ArrayLike<number>[] },
): Promise<PermutationResult> {
  const n = w.n;
  const observed = (await moranColumns(w, Float64Array.from(values), 1)).I[0]!;
  const count = options.orders?.length ?? options.permutations ?? 999;
  const rng = new Rng(options.seed ?? 0, 'moran-permutation');
  const simulated = new Float64Array(count);
  const width = moranBlockWidth(w);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let start = 0; start < count; start += width) {
    const m = Math.min(width, count - start);
    const block = new Float64Array(n * m);
    for (let c = 0; c < m; c++) {
      const order = options.orders?.[start + c];
      if (!order) {
        for (let i = n - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          const t = perm[i]!;
          perm[i] = perm[j]!;
          perm[j] = t;
        }
      }
      for (let i = 0; i < n; i++) block[i * m + c] = values[order ? order[i]! : perm[i]!]!;
    }
    simulated.set((await moranColumns(w, block, m)).I, start);
  }
  let above = 0;
  let sum = 0;
  for (const v of simulated) {
    if (v >= observed) above++;
    sum += v;
  }
  const larger = Math.min(above, count - above);
  const mean = sum / count;
  let ss = 0;
  for (const v of simulated) ss += (v - mean) ** 2;
  const sd = Math.sqrt(ss / count);
  return { I: observed, simulated, p: (larger + 1) / (count + 1), mean, sd, z: (observed - mean) / sd };
}

/** LISA quadrants (esda `q`): 1 high-high, 2 low-high, 3 low-low, 4 high-low. */
export const LISA_QUADRANTS = ['', 'high-high', 'low-high', 'low-low', 'high-low'] as const;

export interface LocalMoran {
  /** I_i = (n − 1) z_i Σ_j w_ij z_j / Σ z² (esda Moran_Local `Is`). */
  Is: Float64Array;
  /** 1..4 as LISA_QUADRANTS. */
  quadrant: Uint8Array;
  /** Folded one-sided conditional-permutation p-value per place. */
  p: Float64Array;
}

/**
 * Local Moran's I with conditional permutations: for place i, `permutations` draws of k values from the other n − 1
 * places (without replacement) replace its neighbours' values (Anselin 1995; esda's conditional randomisation).
 */
export function localMoran(
  w: SpatialWeights,
  values: ArrayLike<number>,
  options: { permutations?: number; seed?: number } = {},
): LocalMoran {
  const { n, k, neighbours } = w;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i]!;
  mean /= n;
  const z = Float64Array.from({ length: n }, (_, i) => values[i]! - mean);
  let den = 0;
  for (const v of z) den += v * v;
  const Is = new Float64Array(n);
  const quadrant = new Uint8Array(n);
  const p = new Float64Array(n);
  const count = options.permutations ?? 199;
  const rng = new Rng(options.seed ?? 0, 'lisa');
  const picked = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    let lag = 0;
    for (let c = 0; c < k; c++) lag += z[neighbours[i * k + c]!]!;
    lag /= k;
    const scale = den > 0 ? (n - 1) / den : Number.NaN;
    Is[i] = scale * z[i]! * lag;
    quadrant[i] = z[i]! > 0 ? (lag > 0 ? 1 : 4) : lag > 0 ? 2 : 3;
    let above = 0;
    for (let s = 0; s < count; s++) {
      let sum = 0;
      for (let c = 0; c < k; c++) {
        let j = i;
        while (j === i || taken(picked, c, j)) j = rng.int(n);
        picked[c] = j;
        sum += z[j]!;
      }
      if (scale * z[i]! * (sum / k) >= Is[i]!) above++;
    }
    p[i] = (Math.min(above, count - above) + 1) / (count + 1);
  }
  return { Is, quadrant, p };
}

function taken(picked: Int32Array, count: number, j: number): boolean {
  for (let c = 0; c < count; c++) if (picked[c] === j) return true;
  return false;
}

/** Upper tail of the standard normal, 0.5·erfc(z/√2) (erfc by Chebyshev fitting, relative error < 1.2e-7). */
export function normalSf(z: number): number {
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const e =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return 0.5 * (x >= 0 ? e : 2 - e);
}
