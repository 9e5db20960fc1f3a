/**
 * The experiments' bridge to src/probe: its LOO ridge, fixed-alpha ridge, prediction, alpha presets and metrics,
 * reshaped for experiments (row subsets, flat metric records). No ridge or metric maths lives here.
 */

import type { ModelRef } from '../model/index.js';
import {
  fitRidge,
  type Metrics,
  pointMetrics,
  proximityErrors,
  type RidgeModel,
  resolveAlphas as resolveProbeAlphas,
  ridgeLoo,
  ridgePredict,
  splitMetrics,
} from '../probe/index.js';
import type { LayerData } from './layer-data.js';

export type Distance = 'haversine' | 'haversine-swapped' | 'absolute';

/** Flat metrics: r2, spearman and pearson (means over targets), mae, rmse, proxError, haversineMaeKm (space). */
export type ScalarMetrics = Record<string, number>;

export interface LinearFit extends RidgeModel {
  /** Mean squared LOO error per alpha (LOO fits only). */
  looMse?: number[];
}

type FitData = Pick<LayerData, 'x' | 'n' | 'd' | 't' | 'targets' | 'targetNames'>;

/** sklearn `Ridge(alpha)` on the given rows, targets standardised with those rows' μ/σ (docs/method.md#block-holdout). */
export async function fitRidgeFixed(
  data: FitData,
  rows: ArrayLike<number>,
  alpha: number,
): Promise<LinearFit> {
  return fitRidge({ data: data.x, rows: data.n, cols: data.d }, data.targets, data.t, alpha, {
    rows,
    targetNames: data.targetNames,
  });
}

/** sklearn `RidgeCV(alphas)` (exact LOO) on the given rows (docs/method.md#probes). */
export async function fitRidgeLoo(
  data: FitData,
  rows: ArrayLike<number>,
  alphas: number[],
): Promise<LinearFit> {
  return ridgeLoo({ data: data.x, rows: data.n, cols: data.d }, data.targets, data.t, alphas, {
    rows,
    targetNames: data.targetNames,
  });
}

/**
 * Predictions (n×t, target units) for every row of x. With `shift`, the activations are first moved by −shift
 * (the prompt-transfer "centred" variant: X_a − (mean(X_a) − mean(X_b))).
 */
export async function predictLinear(fit: LinearFit, x: Float32Array, n: number, shift?: Float64Array) {
  const model = shift ? { ...fit, xMean: fit.xMean.map((m, j) => m + shift[j]!) } : fit;
  return ridgePredict(model, { data: x, rows: n, cols: fit.d });
}

/** The proximity-error distance for a dataset kind (docs/method.md#paper-compat: true haversine unless paper-compat). */
export function defaultDistance(kind: 'space' | 'time', paperCompat = false): Distance {
  if (kind === 'time') return 'absolute';
  return paperCompat ? 'haversine-swapped' : 'haversine';
}

/** src/probe's Metrics as a flat record (Spearman and Pearson averaged over targets, as the paper's tables). */
export function toScalarMetrics(m: Omit<Metrics, 'proxError'> & { proxError?: number }): ScalarMetrics {
  const mean = (a: number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : Number.NaN);
  const out: ScalarMetrics = {
    r2: m.r2,
    spearman: mean(m.spearman),
    pearson: mean(m.pearson),
    mae: m.mae,
    rmse: m.rmse,
    proxError: m.proxError ?? Number.NaN,
  };
  if (m.haversineMaeKm !== undefined) out['haversineMaeKm'] = m.haversineMaeKm;
  return out;
}

type ScoreData = Pick<LayerData, 'n' | 't' | 'targets' | 'isTest'>;

/** Train and test metrics of predictions for all rows (proximity error train×train and test×test, docs/method.md#metrics). */
export async function scoreSplit(data: ScoreData, pred: Float64Array, distance: Distance) {
  const m = await splitMetrics(data.targets, pred, data.t, data.isTest, distance);
  return {
    train: toScalarMetrics(m.train),
    test: toScalarMetrics(m.test),
    proxErrorPerPoint: m.proxErrorPerPoint,
  };
}

/** PE_All(i) for every row: the fraction of all N predictions closer to t_i than p_i (docs/method.md#metrics). */
export async function combinedProxError(data: ScoreData, pred: Float64Array, distance: Distance) {
  return (await proximityErrors(data.targets, pred, data.n, data.isTest, distance)).perPointAll;
}

/**
 * Metrics on a subset of rows. proxError = the mean of `proxAll` (PE_All, the "combined" version of docs/method.md#metrics) over the rows
 * when given, else the proximity error within the subset (rows × rows).
 */
export async function scoreRows(
  data: ScoreData,
  pred: Float64Array,
  rows: ArrayLike<number>,
  distance: Distance,
  proxAll?: Float64Array,
): Promise<ScalarMetrics> {
  if (rows.length === 0) throw new Error('scoreRows: no rows');
  const point = pointMetrics(data.targets, pred, data.t, rows, distance);
  let proxError: number;
  if (proxAll) {
    proxError = 0;
    for (let i = 0; i < rows.length; i++) proxError += proxAll[rows[i]!]!;
    proxError /= rows.length;
  } else {
    const mask = new Uint8Array(data.n);
    for (let i = 0; i < rows.length; i++) mask[rows[i]!] = 1;
    proxError = (await proximityErrors(data.targets, pred, data.n, mask, distance)).test;
  }
  return toScalarMetrics({ ...point, proxError });
}

/**
 * An alpha grid through src/probe's resolver: `auto` (the paper's grid for Llama-2 7B/13B/70B, else the
 * width-scaled default), a preset (7b, 13b, 70b, mlp-baseline, default), `logspace:A:B:N`, or a list.
 */
export function experimentAlphaGrid(
  spec: string | number[],
  d: number,
  model: ModelRef,
): { values: number[]; preset: string } {
  const grid = resolveProbeAlphas(spec, d, model);
  return { values: grid.alphas, preset: grid.preset };
}
