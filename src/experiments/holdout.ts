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
 * The centroid angle is from the paper's TEXT, not its code (docs/method.md#block-holdout; the authors' code has no such
 * metric, so there is no paper-compat variant). For space datasets it is measured on the sphere: the training centroid c is
 * the spherical mean (mean of unit vectors, back to longitude/latitude) of the true positions of the rows the
 * held-out probe was fitted on (the "×" of the paper's per-block maps); the true and predicted centroids of v are
 * spherical means too. The angle is the difference of the initial great-circle bearings from c to the true and to
 * the predicted centroid (0° = the block is placed in the right direction from the rest, 180° = the opposite one).
 * A flat (longitude, latitude) plane would break at the ±180° meridian (Fiji, Kiribati, the Aleutians: the mean of
 * 179° and −179° is 0°) and stretch directions at high latitude. For time datasets the construction is 1-D, so the
 * "angle" is 0° (right side of the training mean) or 180°.
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
  /** Space: spherical means as [longitude, latitude] (NaN when the points cancel out); time: arithmetic means. */
  trueCentroid: number[];
  predictedCentroid: number[];
  trainCentroid: number[];
  /** Space: initial great-circle bearings (degrees clockwise from north) from the training centroid; else null. */
  trueBearingDeg: number | null;
  predictedBearingDeg: number | null;
  /** Angle in degrees between the two directions from the training centroid; null when either is undefined. */
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
    const centroidGeometry = blockCentroids(data, pred, inGroup, rest);
    const trainCentroid = centroidGeometry.trainCentroid;
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

const RAD = Math.PI / 180;

/**
 * The spherical mean of rows' (longitude, latitude) in degrees: the direction of the mean unit vector, as
 * [longitude, latitude] at `lon`/`lat` of a t-wide result. NaN when the points cancel out (no mean direction).
 */
export function sphericalCentroid(
  values: Float64Array,
  t: number,
  rows: ArrayLike<number>,
  lon = 0,
  lat = 1,
): number[] {
  let x = 0;
  let y = 0;
  let z = 0;
  for (let i = 0; i < rows.length; i++) {
    const l = values[rows[i]! * t + lon]! * RAD;
    const p = values[rows[i]! * t + lat]! * RAD;
    x += Math.cos(p) * Math.cos(l);
    y += Math.cos(p) * Math.sin(l);
    z += Math.sin(p);
  }
  const flat = Math.hypot(x, y);
  const out = new Array<number>(t).fill(Number.NaN);
  if (Math.hypot(flat, z) < 1e-12 * rows.length) return out;
  out[lon] = flat < 1e-15 * rows.length ? 0 : Math.atan2(y, x) / RAD; // a pole: any longitude, say 0
  out[lat] = Math.atan2(z, flat) / RAD;
  return out;
}

/**
 * Initial great-circle bearing from `from` to `to` ([longitude, latitude] degrees), in degrees clockwise from north,
 * in (−180, 180]; null when the points coincide or either is undefined (NaN).
 */
export function initialBearing(from: [number, number], to: [number, number]): number | null {
  const [l1, p1] = [from[0] * RAD, from[1] * RAD];
  const [l2, p2] = [to[0] * RAD, to[1] * RAD];
  const east = Math.sin(l2 - l1) * Math.cos(p2);
  const north = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(l2 - l1);
  if (!(Math.hypot(east, north) > 1e-12)) return null; // also catches NaN
  return Math.atan2(east, north) / RAD;
}

/** The true, predicted and training centroids of one held-out block and the angle between their directions. */
function blockCentroids(
  data: LayerData,
  pred: Float64Array,
  inGroup: ArrayLike<number>,
  rest: ArrayLike<number>,
): CentroidGeometry {
  const { t } = data;
  if (data.kind !== 'space') {
    return centroidAngle(
      'time',
      centroid(data.targets, t, inGroup),
      centroid(pred, t, inGroup),
      centroid(data.targets, t, rest),
    );
  }
  const lon = Math.max(0, data.targetNames.indexOf('longitude'));
  const lat = data.targetNames.includes('latitude') ? data.targetNames.indexOf('latitude') : 1 - lon;
  return centroidAngle(
    'space',
    sphericalCentroid(data.targets, t, inGroup, lon, lat),
    sphericalCentroid(pred, t, inGroup, lon, lat),
    sphericalCentroid(data.targets, t, rest, lon, lat),
    [lon, lat],
  );
}

/**
 * The centroid angle of the module comment. Space: the difference of the initial bearings from the training
 * centroid to the true and to the predicted centroid (each [lon, lat] at `at`), in [0, 180]. Time: 0 when both lie
 * on the same side of the training centroid, 180 when not.
 */
export function centroidAngle(
  kind: 'space' | 'time',
  trueCentroid: number[],
  predictedCentroid: number[],
  trainCentroid: number[],
  at: [number, number] = [0, 1],
): CentroidGeometry {
  if (kind === 'space') {
    const pick = (c: number[]): [number, number] => [c[at[0]]!, c[at[1]]!];
    const trueBearingDeg = initialBearing(pick(trainCentroid), pick(trueCentroid));
    const predictedBearingDeg = initialBearing(pick(trainCentroid), pick(predictedCentroid));
    let angleDeg: number | null = null;
    if (trueBearingDeg !== null && predictedBearingDeg !== null) {
      const diff = Math.abs(trueBearingDeg - predictedBearingDeg) % 360;
      angleDeg = Math.min(diff, 360 - diff);
    }
    return { trueCentroid, predictedCentroid, trainCentroid, trueBearingDeg, predictedBearingDeg, angleDeg };
  }
  const a = trueCentroid[0]! - trainCentroid[0]!;
  const b = predictedCentroid[0]! - trainCentroid[0]!;
  const angleDeg = a !== 0 && b !== 0 && Number.isFinite(a * b) ? (a * b > 0 ? 0 : 180) : null;
  return {
    trueCentroid,
    predictedCentroid,
    trainCentroid,
    trueBearingDeg: null,
    predictedBearingDeg: null,
    angleDeg,
  };
}
