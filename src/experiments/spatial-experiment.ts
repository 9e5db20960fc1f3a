/**
 * The spatial-autocorrelation experiment (docs/experiments.md#spatial): Moran's I of every unit (MLP neuron, residual
 * dimension, SAE feature) over the places, with k-NN weights on the sphere; the most spatially organised units get a
 * permutation p-value and a LISA map.
 */
import {
  LISA_QUADRANTS,
  localMoran,
  moranBlockWidth,
  moranColumns,
  moranInference,
  moranPermutationTest,
  type SpatialWeights,
  sphereKnnWeights,
} from './moran.js';

/** A family of units whose activations over the n places can be read a block of columns at a time. */
export interface UnitSource {
  /** neurons | residual | sae */
  name: string;
  /** Where they come from (hook name, SAE path). */
  origin: string;
  count: number;
  /** n×m row-major activations of units start..start+m−1. */
  block(start: number, m: number): Float64Array;
}

/** Columns start..start+m−1 of an n×d row-major matrix, as f64. */
export function columnBlock(x: Float32Array | Float64Array, n: number, d: number, start: number, m: number) {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) out[i * m + c] = x[i * d + start + c]!;
  return out;
}

export interface UnitScore {
  source: string;
  unit: number;
  I: number;
  z: number;
  p: number;
}

export interface TopUnit extends UnitScore {
  rank: number;
  /** Permutation pseudo p-value and z (esda p_sim, z_sim). */
  pSim: number;
  zSim: number;
}

export interface UnitMap {
  source: string;
  unit: number;
  I: number;
  pSim: number;
  /** Share of places in a significant (p ≤ 0.05) high-high / low-low cluster. */
  hotShare: number;
  coldShare: number;
  /** [lon, lat, activation, quadrant (1..4), significant (0/1)] for a subsample of places. */
  points: [number, number, number, number, number][];
}

export interface SpatialResult {
  weights: Pick<SpatialWeights, 'n' | 'k' | 's0' | 's1' | 's2'>;
  /** Per source: units scored, finite I, Bonferroni-significant (p < 0.05 / units) and the I histogram. */
  sources: {
    name: string;
    origin: string;
    units: number;
    scored: number;
    significant: number;
    histogram: { lo: number; hi: number; count: number }[];
  }[];
  top: TopUnit[];
  maps: UnitMap[];
}

export interface SpatialOptions {
  k?: number;
  /** Permutations for the top units' global test (default 999). */
  permutations?: number;
  /** Conditional permutations per place for the LISA maps (default 199). */
  lisaPermutations?: number;
  /** Units per source with a permutation test (default 20). */
  top?: number;
  /** Units per source with a LISA map (default 4). */
  maps?: number;
  maxMapPoints?: number;
  seed?: number;
  onProgress?: (line: string) => void;
}

const HISTOGRAM_BINS = 40;

export async function runSpatial(
  lonLat: Float64Array,
  n: number,
  sources: UnitSource[],
  options: SpatialOptions = {},
): Promise<SpatialResult> {
  const w = await sphereKnnWeights(lonLat, n, options.k ?? 8);
  const width = moranBlockWidth(w);
  const summary: SpatialResult['sources'] = [];
  const top: TopUnit[] = [];
  const maps: UnitMap[] = [];
  for (const source of sources) {
    options.onProgress?.(`spatial: Moran's I of ${source.count} ${source.name} units`);
    const scores: UnitScore[] = [];
    for (let start = 0; start < source.count; start += width) {
      const m = Math.min(width, source.count - start);
      const batch = await moranColumns(w, source.block(start, m), m);
      for (let c = 0; c < m; c++) {
        const I = batch.I[c]!;
        if (!Number.isFinite(I)) continue;
        const inf = moranInference(w, I, batch.m2[c]!, batch.m4[c]!);
        scores.push({ source: source.name, unit: start + c, I, z: inf.z, p: inf.p });
      }
    }
    scores.sort((a, b) => b.I - a.I || a.unit - b.unit);
    summary.push({
      name: source.name,
      origin: source.origin,
      units: source.count,
      scored: scores.length,
      significant: scores.filter((s) => s.p < 0.05 / Math.max(1, scores.length)).length,
      histogram: histogram(scores.map((s) => s.I)),
    });
    const chosen = scores.slice(0, options.top ?? 20);
    for (const [rank, s] of chosen.entries()) {
      const values = source.block(s.unit, 1);
      const perm = await moranPermutationTest(w, values, {
        permutations: options.permutations ?? 999,
        seed: (options.seed ?? 0) + s.unit,
      });
      top.push({ ...s, rank: rank + 1, pSim: perm.p, zSim: perm.z });
      if (rank < (options.maps ?? 4)) {
        options.onProgress?.(`spatial: LISA map of ${source.name} ${s.unit}`);
        maps.push(unitMap(w, lonLat, values, s, perm.p, options));
      }
    }
  }
  return { weights: { n: w.n, k: w.k, s0: w.s0, s1: w.s1, s2: w.s2 }, sources: summary, top, maps };
}

function unitMap(
  w: SpatialWeights,
  lonLat: Float64Array,
  values: Float64Array,
  s: UnitScore,
  pSim: number,
  options: SpatialOptions,
): UnitMap {
  const lisa = localMoran(w, values, {
    permutations: options.lisaPermutations ?? 199,
    seed: (options.seed ?? 0) + s.unit,
  });
  const n = w.n;
  let hot = 0;
  let cold = 0;
  for (let i = 0; i < n; i++) {
    if (lisa.p[i]! > 0.05) continue;
    if (lisa.quadrant[i] === 1) hot++;
    if (lisa.quadrant[i] === 3) cold++;
  }
  const step = Math.max(1, Math.ceil(n / (options.maxMapPoints ?? 2500)));
  const points: UnitMap['points'] = [];
  for (let i = 0; i < n; i += step) {
    points.push([
      round(lonLat[2 * i]!, 3),
      round(lonLat[2 * i + 1]!, 3),
      Number(values[i]!.toPrecision(4)),
      lisa.quadrant[i]!,
      lisa.p[i]! <= 0.05 ? 1 : 0,
    ]);
  }
  return { source: s.source, unit: s.unit, I: s.I, pSim, hotShare: hot / n, coldShare: cold / n, points };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

function histogram(values: number[]): { lo: number; hi: number; count: number }[] {
  if (!values.length) return [];
  const lo = Math.min(...values, 0);
  const hi = Math.max(...values, 0);
  const width = (hi - lo) / HISTOGRAM_BINS || 1;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (const v of values) counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((v - lo) / width))]!++;
  return counts.map((count, b) => ({ lo: lo + b * width, hi: lo + (b + 1) * width, count }));
}

export { LISA_QUADRANTS };
