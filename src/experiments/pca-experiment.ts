/**
 * PCA probes (docs/method.md#pca): project one layer onto its top-k principal components (fitted on all N rows) and fit
 * the LOO ridge probe on the k features, for each k; k = d means the raw activations.
 */
import type { LayerData } from './layer-data.js';
import { type Distance, fitRidgeLoo, predictLinear, type ScalarMetrics, scoreSplit } from './linear.js';
import { type PcaOptions, type PcaResult, pca, projectOntoComponents } from './pca.js';
import { splitRows } from './prompts.js';

/** The paper's k grid; `d` is appended by the caller (the raw activations). */
export const PAPER_PCA_KS = [2, 4, 6, 8, 10, 15, 20, 30, 40, 50, 75, 100];

export interface PcaExperimentRow {
  k: number;
  raw: boolean;
  /** Fraction of the total variance in the top k components (1 for the raw activations). */
  explainedVariance: number;
  alpha: number;
  train: ScalarMetrics;
  test: ScalarMetrics;
}

export interface PcaExperiment {
  rows: PcaExperimentRow[];
  pca: Pick<
    PcaResult,
    'k' | 'explainedVarianceRatio' | 'iterations' | 'converged' | 'residual' | 'totalVariance'
  >;
  skippedKs: number[];
}

export async function runPcaExperiment(
  data: LayerData,
  options: { ks?: number[]; alphas: number[]; distance: Distance; includeRaw?: boolean; pca?: PcaOptions },
): Promise<PcaExperiment> {
  const { n, d } = data;
  const rank = Math.min(n - 1, d);
  const wanted = [...new Set(options.ks ?? PAPER_PCA_KS)].sort((a, b) => a - b);
  const ks = wanted.filter((k) => k >= 1 && k <= rank && k < d);
  const skippedKs = wanted.filter((k) => !ks.includes(k) && k !== d);
  const { train } = splitRows(data);
  const rows: PcaExperimentRow[] = [];
  const kmax = ks.length ? ks[ks.length - 1]! : 0;
  let components: PcaResult | undefined;
  if (kmax > 0) components = await pca(data.x, n, d, kmax, options.pca);
  let cumulative = 0;
  let counted = 0;
  for (const k of ks) {
    while (counted < k) cumulative += components!.explainedVarianceRatio[counted++]!;
    const features = await projectOntoComponents(data.x, n, components!, k);
    const view = { ...data, x: features, d: k };
    const fit = await fitRidgeLoo(view, train, options.alphas);
    const pred = await predictLinear(fit, features, n);
    rows.push({
      k,
      raw: false,
      explainedVariance: cumulative,
      alpha: fit.alpha,
      ...(await scores(data, pred, options.distance)),
    });
  }
  if (options.includeRaw ?? true) {
    const fit = await fitRidgeLoo(data, train, options.alphas);
    const pred = await predictLinear(fit, data.x, n);
    rows.push({
      k: d,
      raw: true,
      explainedVariance: 1,
      alpha: fit.alpha,
      ...(await scores(data, pred, options.distance)),
    });
  }
  const summary = components ?? {
    k: 0,
    explainedVarianceRatio: new Float64Array(0),
    iterations: 0,
    converged: true,
    residual: 0,
    totalVariance: Number.NaN,
  };
  return {
    rows,
    pca: {
      k: summary.k,
      explainedVarianceRatio: summary.explainedVarianceRatio,
      iterations: summary.iterations,
      converged: summary.converged,
      residual: summary.residual,
      totalVariance: summary.totalVariance,
    },
    skippedKs,
  };
}

async function scores(data: LayerData, pred: Float64Array, distance: Distance) {
  const { train, test } = await scoreSplit(data, pred, distance);
  return { train, test };
}
