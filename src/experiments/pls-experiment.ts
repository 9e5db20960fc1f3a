/**
 * PLS probes (Heinzerling & Inui 2024; docs/experiments.md#pls): test scores of the PLS regression with k = 1..K
 * components, beside the PCA-k probe at the same k and the LOO ridge probe on all d dimensions. PLS picks the
 * directions that covary with the target, PCA the ones of largest variance: a target carried by a few PLS
 * components lives in a low-dimensional subspace even when PCA needs many more.
 */
import type { LayerData } from './layer-data.js';
import { type Distance, fitRidgeLoo, predictLinear, type ScalarMetrics, scoreSplit } from './linear.js';
import { runPcaExperiment } from './pca-experiment.js';
import { type PlsOptions, plsRegression } from './pls.js';
import { splitRows } from './prompts.js';

export interface PlsRow {
  method: 'pls' | 'pca' | 'ridge';
  /** Components (d for the ridge on the raw activations). */
  k: number;
  /** The ridge alpha (LOO) of the pca and ridge rows; null for PLS, which has no penalty. */
  alpha: number | null;
  train: ScalarMetrics;
  test: ScalarMetrics;
}

export interface PlsExperiment {
  rows: PlsRow[];
  /** Components fitted (fewer than asked when the targets' residual vanished). */
  components: number;
  skippedKs: number[];
}

export async function runPlsExperiment(
  data: LayerData,
  options: {
    ks: number[];
    alphas: number[];
    distance: Distance;
    /** Also the PCA-k probes at the same k (default true). */
    pca?: boolean;
    pls?: PlsOptions;
    seed?: number;
  },
): Promise<PlsExperiment> {
  const { train } = splitRows(data);
  const rank = Math.min(train.length - 1, data.d);
  const wanted = [...new Set(options.ks)].sort((a, b) => a - b);
  const ks = wanted.filter((k) => k >= 1 && k <= rank);
  const skippedKs = wanted.filter((k) => !ks.includes(k));
  const rows: PlsRow[] = [];
  let components = 0;
  if (ks.length) {
    const fit = await plsRegression(
      data.x,
      data.n,
      data.d,
      data.targets,
      data.t,
      train,
      ks[ks.length - 1]!,
      options.pls,
    );
    components = fit.components;
    for (const k of ks) {
      const pred = fit.predictions[Math.min(k, fit.components) - 1]!;
      const { train: tr, test } = await scoreSplit(data, pred, options.distance);
      rows.push({ method: 'pls', k, alpha: null, train: tr, test });
    }
  }
  if (options.pca ?? true) {
    const pca = await runPcaExperiment(data, {
      ks,
      alphas: options.alphas,
      distance: options.distance,
      includeRaw: true,
      pca: { seed: options.seed ?? 0 },
    });
    for (const r of pca.rows) {
      rows.push({ method: r.raw ? 'ridge' : 'pca', k: r.k, alpha: r.alpha, train: r.train, test: r.test });
    }
  } else {
    const fit = await fitRidgeLoo(data, train, options.alphas);
    const pred = await predictLinear(fit, data.x, data.n);
    const { train: tr, test } = await scoreSplit(data, pred, options.distance);
    rows.push({ method: 'ridge', k: data.d, alpha: fit.alpha, train: tr, test });
  }
  return { rows, components, skippedKs };
}

/** The smallest k whose PLS test R² reaches `fraction` of the ridge's, or null. */
export function componentsToReach(rows: PlsRow[], fraction: number): number | null {
  const ridge = rows.find((r) => r.method === 'ridge')?.test['r2'];
  if (ridge === undefined || !Number.isFinite(ridge) || ridge <= 0) return null;
  const hit = rows
    .filter((r) => r.method === 'pls')
    .sort((a, b) => a.k - b.k)
    .find((r) => (r.test['r2'] ?? Number.NaN) >= fraction * ridge);
  return hit ? hit.k : null;
}
