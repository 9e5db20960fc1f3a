/**
 * Space and time in the SAE's own coordinates (docs/sae.md#features).
 *
 * The SAE runs over every entity once (native GEMMs, in chunks); its activations are kept sparse, per feature, so a
 * 16k-wide dictionary costs O(nnz), not O(n · d_sae), in everything that follows:
 *   - per feature, per group (all rows, each entity type) and per target: Spearman ρ (average ranks for ties, as
 *     scipy) and R² of a one-feature linear fit (= Pearson r²) of its activation against the target;
 *   - reconstruction metrics: MSE, explained variance, L0, dead-feature fraction;
 *   - the project's ridge probe (exact LOO alpha, docs/method.md#probes) on the raw activations, the same probe
 *     applied to the reconstructions (the fraction of its test R² they keep), a probe refitted on them, and a probe
 *     on only the top-k features per target (chosen by |ρ| on the train rows, so the test rows stay unseen).
 */

import { alphaEdgeWarning, averageRanks, r2Column, ridgeLoo, ridgePredict } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { forEachChunk, type SaeParams } from './model.js';

export const SAE_FEATURES_FORMAT = 'spacetime-lens/sae-features@1';

/** Feature activations in column-compressed form: feature j's nonzeros are rows/values[start[j] .. start[j+1]). */
export interface SparseActivations {
  n: number;
  dSae: number;
  start: Int32Array;
  rows: Int32Array;
  values: Float32Array;
}

export interface ReconstructionMetrics {
  /** Mean squared error per element. */
  mse: number;
  /** 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖². */
  explainedVariance: number;
  /** Mean number of active features per row. */
  l0: number;
  /** Fraction of features that never fire on these rows. */
  deadFraction: number;
}

/** Runs the SAE over x: sparse activations, the reconstruction (n × d_in) and the reconstruction metrics. */
export async function runSae(
  p: SaeParams,
  x: Float32Array,
  n: number,
): Promise<{ acts: SparseActivations; recon: Float32Array; metrics: ReconstructionMetrics }> {
  const d = p.dIn;
  const recon = new Float32Array(n * d);
  const rows: number[] = [];
  const feats: number[] = [];
  const vals: number[] = [];
  await forEachChunk(
    p,
    x,
    n,
    (start, count, a, r) => {
      recon.set(r!, start * d);
      for (let i = 0; i < count; i++) {
        const base = i * p.dSae;
        for (let j = 0; j < p.dSae; j++) {
          const v = a[base + j]!;
          if (v !== 0) {
            rows.push(start + i);
            feats.push(j);
            vals.push(v);
          }
        }
      }
    },
    { recon: true },
  );
  const acts = compress(n, p.dSae, rows, feats, vals);
  return { acts, recon, metrics: reconstructionMetrics(x, recon, n, d, acts) };
}

function compress(
  n: number,
  dSae: number,
  rows: number[],
  feats: number[],
  vals: number[],
): SparseActivations {
  const start = new Int32Array(dSae + 1);
  for (const f of feats) start[f + 1]!++;
  for (let j = 0; j < dSae; j++) start[j + 1]! += start[j]!;
  const next = start.slice(0, dSae);
  const outRows = new Int32Array(rows.length);
  const outVals = new Float32Array(rows.length);
  for (let e = 0; e < rows.length; e++) {
    const at = next[feats[e]!]!++;
    outRows[at] = rows[e]!;
    outVals[at] = vals[e]!;
  }
  return { n, dSae, start, rows: outRows, values: outVals };
}

function reconstructionMetrics(
  x: Float32Array,
  recon: Float32Array,
  n: number,
  d: number,
  acts: SparseActivations,
): ReconstructionMetrics {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  let err = 0;
  let total = 0;
  for (let i = 0; i < n * d; i++) {
    err += (x[i]! - recon[i]!) ** 2;
    total += (x[i]! - mean[i % d]!) ** 2;
  }
  let dead = 0;
  for (let j = 0; j < acts.dSae; j++) if (acts.start[j + 1] === acts.start[j]) dead++;
  return {
    mse: err / (n * d),
    explainedVariance: total > 0 ? 1 - err / total : Number.NaN,
    l0: acts.rows.length / n,
    deadFraction: dead / acts.dSae,
  };
}

/** A group of rows (all, or one entity type) with its targets' ranks and moments precomputed. */
interface PreparedGroup {
  name: string;
  size: number;
  /** Row -> position in the group, −1 outside. */
  position: Int32Array;
  y: Float64Array[];
  yRank: Float64Array[];
  sumY: number[];
  sumY2: number[];
  sumRankY2: number[];
}

function prepareGroup(
  name: string,
  rows: ArrayLike<number>,
  n: number,
  targets: Float64Array,
  t: number,
): PreparedGroup {
  const position = new Int32Array(n).fill(-1);
  for (let i = 0; i < rows.length; i++) position[rows[i]!] = i;
  const y: Float64Array[] = [];
  const yRank: Float64Array[] = [];
  for (let c = 0; c < t; c++) {
    const col = Float64Array.from({ length: rows.length }, (_, i) => targets[rows[i]! * t + c]!);
    y.push(col);
    yRank.push(averageRanks(col));
  }
  const sum = (a: Float64Array, f: (v: number) => number) => a.reduce((s, v) => s + f(v), 0);
  return {
    name,
    size: rows.length,
    position,
    y,
    yRank,
    sumY: y.map((col) => sum(col, (v) => v)),
    sumY2: y.map((col) => sum(col, (v) => v * v)),
    sumRankY2: yRank.map((col) => sum(col, (v) => v * v)),
  };
}

/** Pearson r from sums (NaN when either side is constant). */
function pearsonFromSums(n: number, sa: number, sb: number, saa: number, sbb: number, sab: number): number {
  const cov = n * sab - sa * sb;
  const va = n * saa - sa * sa;
  const vb = n * sbb - sb * sb;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : Number.NaN;
}

/**
 * Spearman ρ and R² of feature j against every target of a group, from its nonzeros only: the zero rows form one
 * tie block whose average rank sits between the negative and the positive activations.
 */
function featureStats(
  acts: SparseActivations,
  j: number,
  g: PreparedGroup,
): { spearman: number[]; r2: number[] } {
  const pos: number[] = [];
  const vals: number[] = [];
  for (let e = acts.start[j]!; e < acts.start[j + 1]!; e++) {
    const at = g.position[acts.rows[e]!]!;
    if (at >= 0) {
      pos.push(at);
      vals.push(acts.values[e]!);
    }
  }
  const n = g.size;
  const zeros = n - pos.length;
  const ranks = averageRanks(Float64Array.from(vals));
  let negatives = 0;
  for (const v of vals) if (v < 0) negatives++;
  for (let i = 0; i < vals.length; i++) if (vals[i]! > 0) ranks[i]! += zeros; // positives rank above the zero block
  const zeroRank = negatives + (zeros + 1) / 2;
  let sa = 0;
  let saa = 0;
  let sra = zeros * zeroRank;
  let sraa = zeros * zeroRank * zeroRank;
  for (let i = 0; i < vals.length; i++) {
    sa += vals[i]!;
    saa += vals[i]! ** 2;
    sra += ranks[i]!;
    sraa += ranks[i]! ** 2;
  }
  const spearman: number[] = [];
  const r2: number[] = [];
  for (let c = 0; c < g.y.length; c++) {
    let sab = 0;
    let sRankAb = 0;
    let sRankYNonzero = 0;
    for (let i = 0; i < pos.length; i++) {
      sab += vals[i]! * g.y[c]![pos[i]!]!;
      sRankAb += ranks[i]! * g.yRank[c]![pos[i]!]!;
      sRankYNonzero += g.yRank[c]![pos[i]!]!;
    }
    const sRankY = (n * (n + 1)) / 2;
    sRankAb += zeroRank * (sRankY - sRankYNonzero);
    spearman.push(pearsonFromSums(n, sra, sRankY, sraa, g.sumRankY2[c]!, sRankAb));
    r2.push(pearsonFromSums(n, sa, g.sumY[c]!, saa, g.sumY2[c]!, sab) ** 2);
  }
  return { spearman, r2 };
}

export interface FeatureGroupStats {
  group: string;
  rows: number;
  /** [target][feature] */
  spearman: Float64Array[];
  r2: Float64Array[];
  /** Fraction of the group's rows on which each feature fires. */
  frequency: Float64Array;
}

/** Per-feature Spearman and R² against each target, for each group of rows. */
export function featureTable(
  acts: SparseActivations,
  targets: Float64Array,
  t: number,
  groups: { name: string; rows: ArrayLike<number> }[],
): FeatureGroupStats[] {
  return groups.map(({ name, rows }) => {
    const g = prepareGroup(name, rows, acts.n, targets, t);
    const spearman = Array.from({ length: t }, () => new Float64Array(acts.dSae));
    const r2 = Array.from({ length: t }, () => new Float64Array(acts.dSae));
    const frequency = new Float64Array(acts.dSae);
    for (let j = 0; j < acts.dSae; j++) {
      const s = featureStats(acts, j, g);
      for (let c = 0; c < t; c++) {
        spearman[c]![j] = s.spearman[c]!;
        r2[c]![j] = s.r2[c]!;
      }
      let fired = 0;
      for (let e = acts.start[j]!; e < acts.start[j + 1]!; e++) if (g.position[acts.rows[e]!]! >= 0) fired++;
      frequency[j] = g.size ? fired / g.size : 0;
    }
    return { group: name, rows: g.size, spearman, r2, frequency };
  });
}

/** The `count` features with the largest |ρ| (NaN last), best first. */
export function topFeatures(spearman: Float64Array, count: number): number[] {
  const score = (j: number) => (Number.isNaN(spearman[j]!) ? -1 : Math.abs(spearman[j]!));
  return Array.from(spearman.keys())
    .sort((a, b) => score(b) - score(a) || a - b)
    .slice(0, count);
}

/** Dense n × |features| activations of the chosen features. */
export function denseColumns(acts: SparseActivations, features: number[]): Float64Array {
  const out = new Float64Array(acts.n * features.length);
  features.forEach((j, c) => {
    for (let e = acts.start[j]!; e < acts.start[j + 1]!; e++)
      out[acts.rows[e]! * features.length + c] = acts.values[e]!;
  });
  return out;
}

/**
 * Each fitted probe keeps its fit's warnings (docs/method.md#probes): an alpha at the edge of the grid (the LOO
 * optimum may lie outside it) and the fit's own (e.g. a constant column); absent when there are none.
 */
export interface ProbeComparison {
  /** Test R² per target and their mean, of the ridge probe on the raw activations. */
  full: { r2: number[]; meanR2: number; alpha: number; warnings?: string[] };
  /** The same probe applied to the SAE's reconstructions. */
  onReconstruction: { r2: number[]; meanR2: number; keptFraction: number };
  /** A probe refitted on the reconstructions. */
  refitOnReconstruction: {
    r2: number[];
    meanR2: number;
    keptFraction: number;
    alpha: number;
    warnings?: string[];
  };
  /** A probe on the top-k features per target only (union over targets). */
  topFeatures: {
    k: number;
    features: number[];
    r2: number[];
    meanR2: number;
    keptFraction: number;
    alpha: number;
    warnings?: string[];
  };
}

/** The fit's own warnings and the grid-edge warning, as `{ warnings }` when there are any. */
function fitWarnings(model: { warnings: string[]; alphaIndex: number }, alphas: number[]) {
  const warnings = [...model.warnings, alphaEdgeWarning(model.alphaIndex, alphas) ?? []].flat();
  return warnings.length ? { warnings } : {};
}

function testR2(truth: Float64Array, pred: Float64Array, t: number, test: number[]): number[] {
  return Array.from({ length: t }, (_, c) =>
    r2Column(
      test.map((i) => truth[i * t + c]!),
      test.map((i) => pred[i * t + c]!),
    ),
  );
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** The ridge probe on raw activations, on reconstructions, and on the top-k features (train/test split of the store). */
export async function compareProbes(input: {
  x: Float32Array;
  recon: Float32Array;
  n: number;
  d: number;
  acts: SparseActivations;
  targets: Float64Array;
  t: number;
  isTest: Uint8Array;
  alphas: number[];
  k: number;
}): Promise<ProbeComparison> {
  const { n, d, t, targets, alphas } = input;
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < n; i++) (input.isTest[i] ? test : train).push(i);
  if (train.length < 2 || test.length < 1)
    throw new UserError(
      `the probe comparison needs train and test rows (train ${train.length}, test ${test.length})`,
    );
  const fit = (data: Float32Array | Float64Array, cols: number) =>
    ridgeLoo({ data, rows: n, cols }, targets, t, alphas, { rows: train });
  const r2Of = async (
    model: Awaited<ReturnType<typeof fit>>,
    data: Float32Array | Float64Array,
    cols: number,
  ) => testR2(targets, await ridgePredict(model, { data, rows: n, cols }), t, test);

  const full = await fit(input.x, d);
  const fullR2 = await r2Of(full, input.x, d);
  const fullMean = mean(fullR2);
  const kept = (r2: number[]) => mean(r2) / fullMean;
  const appliedR2 = await r2Of(full, input.recon, d);
  const refit = await fit(input.recon, d);
  const refitR2 = await r2Of(refit, input.recon, d);

  const trainStats = featureTable(input.acts, targets, t, [{ name: 'train', rows: train }])[0]!;
  const chosen = [...new Set(trainStats.spearman.flatMap((col) => topFeatures(col, input.k)))];
  const dense = denseColumns(input.acts, chosen);
  const sparseProbe = await fit(dense, chosen.length);
  const sparseR2 = await r2Of(sparseProbe, dense, chosen.length);
  return {
    full: { r2: fullR2, meanR2: fullMean, alpha: full.alpha, ...fitWarnings(full, alphas) },
    onReconstruction: { r2: appliedR2, meanR2: mean(appliedR2), keptFraction: kept(appliedR2) },
    refitOnReconstruction: {
      r2: refitR2,
      meanR2: mean(refitR2),
      keptFraction: kept(refitR2),
      alpha: refit.alpha,
      ...fitWarnings(refit, alphas),
    },
    topFeatures: {
      k: input.k,
      features: chosen,
      r2: sparseR2,
      meanR2: mean(sparseR2),
      keptFraction: kept(sparseR2),
      alpha: sparseProbe.alpha,
      ...fitWarnings(sparseProbe, alphas),
    },
  };
}
