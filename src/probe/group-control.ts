/**
 * Group controls (docs/controls.md#group-baseline-and-within-group-r): what a probe shows beyond "which group".
 *
 * - Group baseline: every row predicted by its group's training mean (country / state / borough for places, the
 *   entity type for time), the global training mean for a group with no training rows. Its test R² is the number a
 *   probe must beat to show more than the group.
 * - Within-group probe: the same ridge probe (same grid, same LOO or fixed alpha) refitted after the group's
 *   training mean is removed from both the activations and the targets (the fixed-effects "within" transform: by
 *   Frisch–Waugh–Lovell it is the probe with one unpenalised intercept per group), scored on the test rows whose
 *   group has training rows: R² of the residuals, MAE, and the mean km error of group mean + predicted residual.
 */
import { DATASETS } from '../data/registry.js';
import { UserError } from '../util/errors.js';
import { MIN_TEST_ROWS, r2Column, spaceDistanceKm } from './metrics.js';
import type { DistanceMode } from './proximity.js';
import { fitRidge, type Matrix, ridgeLoo, ridgePredict } from './ridge.js';
import { alphaEdgeWarning } from './warnings.js';

/** R², MAE and (for places) mean km of one predictor on one set of rows. */
export interface GroupScores {
  n: number;
  r2: number;
  r2PerTarget: number[];
  mae: number;
  haversineMaeKm?: number;
}

/** Results-level: the group column and the group-mean predictor's scores. */
export interface GroupBaseline {
  column: string;
  /** Distinct groups among all rows, and among the training rows. */
  groups: number;
  trainGroups: number;
  /** Test rows whose group has no training row (predicted by the global training mean; left out of within-group). */
  unseenTestRows: number;
  train: GroupScores;
  test: GroupScores;
}

/** Per layer: the within-group probe. */
export interface WithinGroupResult {
  alpha: number;
  alphaIndex: number | null;
  /** Training rows fitted on: those of groups with two or more training rows (a singleton's residual is 0). */
  nFit: number;
  /** Test rows of groups with training rows: R² of residuals, MAE, km of group mean + predicted residual. */
  test: GroupScores;
  warnings?: string[];
}

/**
 * The default group column of a store: for places the paper dataset's block column (country, state_id,
 * borough_name), for time its entity-type column (occupation, entity_type, news_desk); custom datasets use
 * `country` (space) or `entity_type` (time) when present. Undefined when none is present.
 */
export function defaultGroupColumn(
  datasetName: string,
  kind: 'space' | 'time',
  columns: string[],
): string | undefined {
  const spec = DATASETS[datasetName];
  const wanted = spec
    ? kind === 'space'
      ? spec.blockColumn
      : spec.entityTypeColumn
    : kind === 'space'
      ? 'country'
      : 'entity_type';
  return columns.includes(wanted) ? wanted : undefined;
}

/** The rows and group means a probe run shares across its layers. */
export interface GroupPlan {
  column: string;
  /** Group index of every row. */
  group: Int32Array;
  /** Training mean of the targets per group (G × t); NaN for a group without training rows. */
  yMean: Float64Array;
  nGroups: number;
  isTest: Uint8Array;
  fitRows: number[];
  evalRows: number[];
  baseline: GroupBaseline;
  /** Why no within-group probe can be fitted (e.g. every training group is a singleton); undefined when it can. */
  withinSkip?: string;
}

/** Groups, their training target means and the group baseline's scores. */
export function planGroups(
  column: string,
  keys: readonly string[],
  targets: Float64Array,
  t: number,
  isTest: Uint8Array,
  mode: DistanceMode,
): GroupPlan {
  const n = keys.length;
  const index = new Map<string, number>();
  const group = Int32Array.from(keys, (k) => {
    let g = index.get(k);
    if (g === undefined) {
      g = index.size;
      index.set(k, g);
    }
    return g;
  });
  const G = index.size;
  const count = new Float64Array(G);
  const sum = new Float64Array(G * t);
  const global = new Float64Array(t);
  let nTrain = 0;
  for (let i = 0; i < n; i++) {
    if (isTest[i]) continue;
    nTrain++;
    count[group[i]!]!++;
    for (let j = 0; j < t; j++) {
      sum[group[i]! * t + j]! += targets[i * t + j]!;
      global[j]! += targets[i * t + j]!;
    }
  }
  for (let j = 0; j < t; j++) global[j] = global[j]! / nTrain;
  const yMean = sum.map((s, k) => s / count[Math.floor(k / t)]!);
  const pred = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    const g = group[i]!;
    for (let j = 0; j < t; j++) pred[i * t + j] = count[g]! > 0 ? yMean[g * t + j]! : global[j]!;
  }
  const trainRows: number[] = [];
  const testRows: number[] = [];
  const fitRows: number[] = [];
  const evalRows: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = group[i]!;
    if (isTest[i]) {
      testRows.push(i);
      if (count[g]! > 0) evalRows.push(i);
    } else {
      trainRows.push(i);
      if (count[g]! >= 2) fitRows.push(i);
    }
  }
  const baseline: GroupBaseline = {
    column,
    groups: G,
    trainGroups: count.filter((c) => c > 0).length,
    unseenTestRows: testRows.length - evalRows.length,
    train: scores(targets, pred, t, trainRows, mode),
    test: scores(targets, pred, t, testRows, mode),
  };
  const plan: GroupPlan = { column, group, yMean, nGroups: G, isTest, fitRows, evalRows, baseline };
  const skip = withinSkipReason(plan, targets, t);
  return skip ? { ...plan, withinSkip: skip } : plan;
}

/** A within-group probe needs 2+ fit rows and residual variance in every target. */
function withinSkipReason(plan: GroupPlan, targets: Float64Array, t: number): string | undefined {
  if (plan.fitRows.length < 2)
    return `fewer than 2 training rows in groups of 2+ (by ${plan.column}): no within-group probe`;
  for (let j = 0; j < t; j++) {
    let ss = 0;
    for (const i of plan.fitRows) ss += (targets[i * t + j]! - plan.yMean[plan.group[i]! * t + j]!) ** 2;
    if (!(ss > 0))
      return `target ${j} is constant within every group (by ${plan.column}): no within-group probe`;
  }
  return undefined;
}

/**
 * R² (scikit-learn, uniform over targets), pooled MAE and mean km of `pred` against `truth` on `rows`; R² is
 * undefined (NaN) under MIN_TEST_ROWS rows, as for the probe's own test metrics.
 */
export function scores(
  truth: Float64Array,
  pred: Float64Array,
  t: number,
  rows: number[],
  mode: DistanceMode,
  residualOf?: (i: number, j: number) => number,
): GroupScores {
  const n = rows.length;
  const r2PerTarget: number[] = [];
  let abs = 0;
  for (let j = 0; j < t; j++) {
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    rows.forEach((i, k) => {
      const off = residualOf ? residualOf(i, j) : 0;
      a[k] = truth[i * t + j]! - off;
      b[k] = pred[i * t + j]! - off;
      abs += Math.abs(a[k]! - b[k]!);
    });
    r2PerTarget.push(n >= MIN_TEST_ROWS ? r2Column(a, b) : Number.NaN);
  }
  const out: GroupScores = {
    n,
    r2: r2PerTarget.reduce((s, v) => s + v, 0) / t,
    r2PerTarget,
    mae: n ? abs / (n * t) : Number.NaN,
  };
  if (mode !== 'absolute') {
    let km = 0;
    for (const i of rows) {
      km += spaceDistanceKm(truth.subarray(i * 2, i * 2 + 2), pred.subarray(i * 2, i * 2 + 2), mode);
    }
    out.haversineMaeKm = n ? km / n : Number.NaN;
  }
  return out;
}

/**
 * The within-group probe at one layer. `x` is demeaned in place (each row minus its group's training mean of the
 * activations; rows of groups without training rows become 0): the caller must be done with it.
 */
export async function withinGroupProbe(
  plan: GroupPlan,
  x: Matrix,
  targets: Float64Array,
  t: number,
  fit: { cv: 'loo' | 'none'; alphas: number[]; targetNames: string[] },
  mode: DistanceMode,
): Promise<WithinGroupResult> {
  if (plan.withinSkip) throw new UserError(plan.withinSkip);
  const { group, yMean, nGroups } = plan;
  const d = x.cols;
  const data = x.data;
  const xSum = new Float64Array(nGroups * d);
  const count = new Float64Array(nGroups);
  for (let i = 0; i < x.rows; i++) {
    if (plan.isTest[i]) continue; // group means are training means, as for the targets
    const g = group[i]!;
    count[g]!++;
    const o = i * d;
    for (let c = 0; c < d; c++) xSum[g * d + c]! += data[o + c]!;
  }
  for (let i = 0; i < x.rows; i++) {
    const g = group[i]!;
    const o = i * d;
    if (!(count[g]! > 0)) {
      data.fill(0, o, o + d);
      continue;
    }
    const inv = 1 / count[g]!;
    for (let c = 0; c < d; c++) data[o + c] = data[o + c]! - xSum[g * d + c]! * inv;
  }
  const yWithin = new Float64Array(targets.length);
  for (let i = 0; i < x.rows; i++) {
    const g = group[i]!;
    for (let j = 0; j < t; j++) {
      const m = yMean[g * t + j]!;
      yWithin[i * t + j] = Number.isNaN(m) ? 0 : targets[i * t + j]! - m;
    }
  }
  const options = { rows: plan.fitRows, targetNames: fit.targetNames };
  const model =
    fit.cv === 'loo'
      ? await ridgeLoo(x, yWithin, t, fit.alphas, options)
      : { ...(await fitRidge(x, yWithin, t, fit.alphas[0]!, options)), alphaIndex: null };
  const predResid = await ridgePredict(model, x);
  // Full predictions (group mean + predicted residual): their residual R² is the within-group R², their km the error.
  const pred = new Float64Array(targets.length);
  for (const i of plan.evalRows) {
    for (let j = 0; j < t; j++) pred[i * t + j] = yMean[group[i]! * t + j]! + predResid[i * t + j]!;
  }
  const test = scores(targets, pred, t, plan.evalRows, mode, (i, j) => yMean[group[i]! * t + j]!);
  const warnings = [...model.warnings, alphaEdgeWarning(model.alphaIndex, fit.alphas) ?? []].flat();
  return {
    alpha: model.alpha,
    alphaIndex: model.alphaIndex,
    nFit: plan.fitRows.length,
    test,
    ...(warnings.length ? { warnings } : {}),
  };
}
