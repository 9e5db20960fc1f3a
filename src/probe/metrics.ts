/**
 * The paper's probe metrics (docs/method.md#metrics): R² (scikit-learn, uniform average over targets), Spearman (average ranks
 * for ties, as SciPy), Kendall τ-b, Pearson, pooled MAE/RMSE, haversine MAE in km for space, and the proximity error.
 * No p-values (docs/method.md#metrics says why).
 */
import { type DistanceMode, proximityErrors } from './proximity.js';
import { averageRanks } from './ranks.js';

export { averageRanks };

export interface Metrics {
  r2: number;
  r2PerTarget: number[];
  spearman: number[];
  /** Kendall τ-b per target (scipy.stats.kendalltau). */
  kendall: number[];
  pearson: number[];
  mae: number;
  rmse: number;
  proxError: number;
  haversineMaeKm?: number;
}

export const EARTH_RADIUS_KM = 6371;

/**
 * Great-circle distance in km between two [longitude, latitude] points in degrees (GeoJSON order), by the haversine
 * formula. The one implementation: the report's browser script embeds this function's own source (report/client.ts),
 * so it must stay self-contained (no outside names).
 */
export function haversineKm(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const rad = Math.PI / 180;
  const s1 = Math.sin(((lat2 - lat1) * rad) / 2);
  const s2 = Math.sin(((lon2 - lon1) * rad) / 2);
  const h = s1 * s1 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * s2 * s2;
  return 2 * 6371 * Math.asin(Math.sqrt(Math.min(1, Math.max(0, h))));
}

/**
 * Distance between two [lon, lat] points under a mode: 'haversine-swapped' is the authors' quirk of reading column 0
 * as latitude. Embedded in the report's browser script like haversineKm (it may name only haversineKm).
 */
export function spaceDistanceKm(a: ArrayLike<number>, b: ArrayLike<number>, mode: DistanceMode): number {
  return mode === 'haversine-swapped'
    ? haversineKm(a[1]!, a[0]!, b[1]!, b[0]!)
    : haversineKm(a[0]!, a[1]!, b[0]!, b[1]!);
}

/** R² of one column (scikit-learn: 1 when both residual and total sums are 0, 0 when only the total is). */
export function r2Column(truth: ArrayLike<number>, pred: ArrayLike<number>): number {
  const n = truth.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i]!;
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (truth[i]! - pred[i]!) ** 2;
    ssTot += (truth[i]! - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

/** Pearson correlation (NaN when either side is constant, like SciPy). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  if (saa === 0 || sbb === 0) return Number.NaN;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** Spearman rank correlation with average ranks for ties (scipy.stats.spearmanr). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(averageRanks(a), averageRanks(b));
}

/** Strict inversions (i < j, v[i] > v[j]) of `v`, by merge sort; `v` is reordered. */
function inversions(v: Float64Array<ArrayBuffer>): number {
  const n = v.length;
  let src = v;
  let dst = new Float64Array(n);
  let count = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (src[j]! < src[i]!) {
          count += mid - i; // every remaining left value is larger
          dst[k++] = src[j++]!;
        } else dst[k++] = src[i++]!;
      }
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
    }
    [src, dst] = [dst, src];
  }
  return count;
}

/** Σ t(t−1)/2 over runs of equal values of `key` along `order`. */
function tiedPairs(
  order: Int32Array,
  key: (i: number) => number,
  same?: (i: number, j: number) => boolean,
): number {
  let pairs = 0;
  let run = 1;
  for (let k = 1; k <= order.length; k++) {
    const tied =
      k < order.length &&
      key(order[k]!) === key(order[k - 1]!) &&
      (same ? same(order[k]!, order[k - 1]!) : true);
    if (tied) run++;
    else {
      pairs += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  return pairs;
}

/**
 * Kendall's τ-b (scipy.stats.kendalltau, variant 'b'), in O(n log n) (Knight 1966): sort by (a, b), count the
 * discordant pairs as inversions of b, correct for ties in a, in b and in both. NaN when either side is constant.
 */
export function kendall(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const byA = Int32Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i]! - a[j]! || b[i]! - b[j]!);
  const byB = Int32Array.from({ length: n }, (_, i) => i).sort((i, j) => b[i]! - b[j]!);
  const total = (n * (n - 1)) / 2;
  const tieA = tiedPairs(byA, (i) => a[i]!);
  const tieBoth = tiedPairs(
    byA,
    (i) => a[i]!,
    (i, j) => b[i] === b[j],
  );
  const tieB = tiedPairs(byB, (i) => b[i]!);
  const discordant = inversions(Float64Array.from(byA, (i) => b[i]!));
  const denom = Math.sqrt(total - tieA) * Math.sqrt(total - tieB);
  if (!(denom > 0)) return Number.NaN;
  const tau = (total - tieA - tieB + tieBoth - 2 * discordant) / denom;
  return Math.max(-1, Math.min(1, tau));
}

function column(m: Float64Array, rows: ArrayLike<number>, t: number, j: number): Float64Array {
  return Float64Array.from({ length: rows.length }, (_, i) => m[rows[i]! * t + j]!);
}

/**
 * Every metric but the proximity error for the given rows (truth/pred are N × t row-major). Space targets must be
 * (lon, lat); `mode` decides the haversine variant.
 */
export function pointMetrics(
  truth: Float64Array,
  pred: Float64Array,
  t: number,
  rows: ArrayLike<number>,
  mode: DistanceMode,
): Omit<Metrics, 'proxError'> {
  const r2PerTarget: number[] = [];
  const sp: number[] = [];
  const kt: number[] = [];
  const pe: number[] = [];
  for (let j = 0; j < t; j++) {
    const a = column(truth, rows, t, j);
    const b = column(pred, rows, t, j);
    r2PerTarget.push(r2Column(a, b));
    sp.push(spearman(a, b));
    kt.push(kendall(a, b));
    pe.push(pearson(a, b));
  }
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < rows.length; i++) {
    for (let j = 0; j < t; j++) {
      const e = truth[rows[i]! * t + j]! - pred[rows[i]! * t + j]!;
      abs += Math.abs(e);
      sq += e * e;
    }
  }
  const count = rows.length * t;
  const out: Omit<Metrics, 'proxError'> = {
    r2: r2PerTarget.reduce((s, v) => s + v, 0) / t,
    r2PerTarget,
    spearman: sp,
    kendall: kt,
    pearson: pe,
    mae: abs / count,
    rmse: Math.sqrt(sq / count),
  };
  if (mode !== 'absolute') {
    let km = 0;
    for (const r of Array.from(rows)) {
      km += spaceDistanceKm(truth.subarray(r * 2, r * 2 + 2), pred.subarray(r * 2, r * 2 + 2), mode);
    }
    out.haversineMaeKm = km / rows.length;
  }
  return out;
}

/**
 * Below this many test rows R², Spearman, Pearson and the proximity error are too noisy to mean anything (with one
 * row R² is 0 or undefined and the proximity error is 0 by construction): they are reported as undefined (NaN, null
 * in JSON) and no best layer is named. MAE, RMSE and haversine km stay: they are plain averages of errors.
 */
export const MIN_TEST_ROWS = 20;

/** Test metrics with the rank and variance based scores undefined (see MIN_TEST_ROWS). */
function withoutRelativeScores(m: Metrics, t: number): Metrics {
  const undef = () => Array.from({ length: t }, () => Number.NaN);
  return {
    ...m,
    r2: Number.NaN,
    r2PerTarget: undef(),
    spearman: undef(),
    kendall: undef(),
    pearson: undef(),
    proxError: Number.NaN,
  };
}

export interface SplitMetrics {
  train: Metrics;
  test: Metrics;
  /** PE_All(i) for every row (the predictions file's `prox_error`). */
  proxErrorPerPoint: Float64Array;
}

/**
 * Train and test metrics of one probe's predictions for all N rows (proximity error test×test and train×train). A test
 * split under MIN_TEST_ROWS rows gets undefined R², correlations and proximity error.
 */
export async function splitMetrics(
  truth: Float64Array,
  pred: Float64Array,
  t: number,
  isTest: Uint8Array,
  mode: DistanceMode,
): Promise<SplitMetrics> {
  const n = isTest.length;
  if (mode !== 'absolute' && t !== 2) throw new Error('space metrics need (lon, lat) targets');
  if (mode === 'absolute' && t !== 1) throw new Error("distance 'absolute' needs one target");
  const testRows: number[] = [];
  const trainRows: number[] = [];
  for (let i = 0; i < n; i++) (isTest[i] ? testRows : trainRows).push(i);
  const prox = await proximityErrors(truth, pred, n, isTest, mode);
  const nanMetrics = (): Metrics => ({
    r2: Number.NaN,
    r2PerTarget: [],
    spearman: [],
    kendall: [],
    pearson: [],
    mae: Number.NaN,
    rmse: Number.NaN,
    proxError: Number.NaN,
  });
  let test = testRows.length
    ? { ...pointMetrics(truth, pred, t, testRows, mode), proxError: prox.test }
    : nanMetrics();
  if (testRows.length > 0 && testRows.length < MIN_TEST_ROWS) test = withoutRelativeScores(test, t);
  const train = trainRows.length
    ? { ...pointMetrics(truth, pred, t, trainRows, mode), proxError: prox.train }
    : nanMetrics();
  return { train, test, proxErrorPerPoint: prox.perPointAll };
}
