/**
 * Generalization experiments (docs/method.md#block-holdout): block hold-out and entity-type hold-out with a fixed-alpha ridge.
 *
 * For each held-out value v of a group column:
 *  - nominal: the probe fitted on the default train split, scored on the rows of v that are in the default test split;
 *  - held-out: a probe fitted on every row whose column ≠ v (test rows included; target μ/σ from those rows),
 *    scored on all rows of v.
 * prox_error is the mean over the scored rows of the combined proximity error PE_All(i), i.e. against the
 * predictions of all N rows of the same probe (docs/method.md#metrics). Table values are unweighted means over groups.
 *
 * The centroid angle is from the paper's TEXT, not its code (docs/method.md#block-holdout, #paper-compat): our definition is the angle, in
 * the (longitude, latitude) plane, between (true centroid of v − training centroid) and (predicted centroid of v −
 * training centroid), where the training centroid is the mean true position of the rows the held-out probe was
 * fitted on (the "×" of the paper's per-block maps). 0° = the block is placed in the right direction from the rest.
 * For time datasets the same construction is 1-D, so the "angle" is 0° (right side of the training mean) or 180°.
 */
import { UserError } from '../util/errors.js';
import type { LayerData } from './layer-data.js';
import {
  combinedProxError,
  type Distance,
  fitRidgeFixed,
  predictLinear,
  type ScalarMetrics,
  scoreRows,
} from './linear.js';
import { meanMetrics } from './stats.js';

export interface HoldoutOptions {
  column: string;
  /** Values to hold out, in order; default every distinct value of the column, most frequent first. */
  values?: string[];
  alpha: number;
  distance: Distance;
  /** Keep per-row map data (true, held-out and nominal predictions) for space datasets (default true). */
  maps?: boolean;
}

export interface CentroidGeometry {
  trueCentroid: number[];
  predictedCentroid: number[];
  trainCentroid: number[];
  /** Angle in degrees between (true − train) and (predicted − train); null when either vector is zero. */
  angleDeg: number | null;
}

export interface HoldoutGroup {
  group: string;
  nGroup: number;
  /** Rows of the group in the default test split (the nominal score's rows). */
  nNominal: number;
  nHeldOutTrain: number;
  nominal: ScalarMetrics | null;
  heldOut: ScalarMetrics;
  centroid: CentroidGeometry;
}

export interface HoldoutMapGroup {
  group: string;
  rows: number[];
  names: string[];
  /** Per row, target-major: [t0, t1, ...] for each row. */
  truth: number[][];
  heldOutPrediction: number[][];
  nominalPrediction: number[][];
  trainCentroid: number[];
}

export interface HoldoutResult {
  column: string;
  alpha: number;
  groups: HoldoutGroup[];
  /** Unweighted means over groups of each metric (nominal over groups that have default-test rows). */
  means: { nominal: ScalarMetrics; heldOut: ScalarMetrics; nominalGroups: number; heldOutGroups: number };
  meanAngleDeg: number | null;
  maps: HoldoutMapGroup[];
  skipped: { group: string; reason: string }[];
}

export async function runHoldout(data: LayerData, options: HoldoutOptions): Promise<HoldoutResult> {
  const { n, t } = data;
  const col = data.columns[options.column];
  if (!col) {
    throw new UserError(
      `column '${options.column}' is not in the store's entities (have: ${Object.keys(data.columns).join(', ')})`,
    );
  }
  const values = options.values ?? distinctByFrequency(col);
  const wantMaps = options.maps ?? data.kind === 'space';
  const allRows = Int32Array.from({ length: n }, (_, i) => i);
  const trainRows = allRows.filter((i) => !data.isTest[i]);

  const nominalFit = await fitRidgeFixed(data, trainRows, options.alpha);
  const nominalPred = await predictLinear(nominalFit, data.x, n);
  const nominalProx = await combinedProxError(data, nominalPred, options.distance);

  const groups: HoldoutGroup[] = [];
  const maps: HoldoutMapGroup[] = [];
  const skipped: { group: string; reason: string }[] = [];
  for (const v of values) {
    const inGroup = allRows.filter((i) => col[i] === v);
    if (inGroup.length === 0) {
      skipped.push({ group: v, reason: 'no rows' });
      continue;
    }
    const rest = allRows.filter((i) => col[i] !== v);
    if (rest.length < 2) {
      skipped.push({ group: v, reason: 'nothing left to train on' });
      continue;
    }
    const nominalRows = inGroup.filter((i) => data.isTest[i] === 1);
    const fit = await fitRidgeFixed(data, rest, options.alpha);
    const pred = await predictLinear(fit, data.x, n);
    const prox = await combinedProxError(data, pred, options.distance);
    const heldOut = await scoreRows(data, pred, inGroup, options.distance, prox);
    const nominal = nominalRows.length
      ? await scoreRows(data, nominalPred, nominalRows, options.distance, nominalProx)
      : null;
    const trainCentroid = centroid(data.targets, t, rest);
    const centroidGeometry = centroidAngle(
      centroid(data.targets, t, inGroup),
      centroid(pred, t, inGroup),
      trainCentroid,
    );
    groups.push({
      group: v,
      nGroup: inGroup.length,
      nNominal: nominalRows.length,
      nHeldOutTrain: rest.length,
      nominal,
      heldOut,
      centroid: centroidGeometry,
    });
    if (wantMaps) {
      const pick = (a: Float64Array, i: number) => Array.from(a.subarray(i * t, (i + 1) * t));
      maps.push({
        group: v,
        rows: Array.from(inGroup),
        names: Array.from(inGroup, (i) => data.names[i] ?? ''),
        truth: Array.from(inGroup, (i) => pick(data.targets, i)),
        heldOutPrediction: Array.from(inGroup, (i) => pick(pred, i)),
        nominalPrediction: Array.from(inGroup, (i) => pick(nominalPred, i)),
        trainCentroid,
      });
    }
  }
  if (groups.length === 0) {
    throw new UserError(
      `none of the hold-out values of '${options.column}' has rows (${values.slice(0, 5).join(', ')})`,
    );
  }
  const nominalMetrics = groups.flatMap((g) => (g.nominal ? [g.nominal] : []));
  const angles = groups.flatMap((g) => (g.centroid.angleDeg === null ? [] : [g.centroid.angleDeg]));
  return {
    column: options.column,
    alpha: options.alpha,
    groups,
    means: {
      nominal: meanMetrics(nominalMetrics),
      heldOut: meanMetrics(groups.map((g) => g.heldOut)),
      nominalGroups: nominalMetrics.length,
      heldOutGroups: groups.length,
    },
    meanAngleDeg: angles.length ? angles.reduce((a, b) => a + b, 0) / angles.length : null,
    maps,
    skipped,
  };
}

export function distinctByFrequency(col: string[]): string[] {
  const counts = new Map<string, number>();
  for (const v of col) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v);
}

export function centroid(values: Float64Array, t: number, rows: ArrayLike<number>): number[] {
  const c = new Array<number>(t).fill(0);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < t; j++) c[j]! += values[rows[i]! * t + j]!;
  return c.map((v) => v / rows.length);
}

/** The paper-text centroid angle (see the module comment): angle between (truth − train) and (pred − train). */
export function centroidAngle(trueCentroid: number[], predictedCentroid: number[], trainCentroid: number[]) {
  const a = trueCentroid.map((v, j) => v - trainCentroid[j]!);
  const b = predictedCentroid.map((v, j) => v - trainCentroid[j]!);
  const dot = a.reduce((s, v, j) => s + v * b[j]!, 0);
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  const angleDeg =
    na > 0 && nb > 0 ? (Math.acos(Math.min(1, Math.max(-1, dot / (na * nb)))) * 180) / Math.PI : null;
  return { trueCentroid, predictedCentroid, trainCentroid, angleDeg } satisfies CentroidGeometry;
}
