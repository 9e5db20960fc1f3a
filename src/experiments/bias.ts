/**
 * Fame and region bias of a probe's errors (docs/experiments.md#bias): on the test rows, the per-entity error
 * (great-circle km for places, |years| for dates) regressed on log10 page views and log10 population, binned by
 * quintile of each, and averaged per continent / country / state / borough (places) or entity type and era (dates),
 * beside each group's share of the dataset. Follow-ups of Gurnee & Tegmark report that probes are best where the
 * training text is densest (the US and the UK) and that errors fall with an entity's name frequency.
 */
import { COUNTRIES } from '../data/countries.js';
import { quantile } from '../neurons/familiarity.js';
import { singleNeuronFit } from '../neurons/neurons-math.js';
import { spaceDistanceKm } from '../probe/index.js';
import { sphericalCentroid } from './holdout.js';
import type { LayerData } from './layer-data.js';
import type { Distance } from './linear.js';
import { sphereKnnWeights } from './moran.js';

export interface FameRegression {
  /** The regressor column, e.g. page_views. */
  column: string;
  /** Test rows with a positive value. */
  n: number;
  /** OLS error = intercept + slope · log10(value): error units per tenfold increase. */
  slope: number;
  slopeSe: number;
  intercept: number;
  r2: number;
  /** Spearman ρ between the error and the value. */
  spearman: number;
  /** Quintile bins of log10(value): bounds, rows, mean and median error. */
  bins: { lo: number; hi: number; n: number; meanError: number; medianError: number }[];
}

export interface GroupError {
  /** continent, country, state_id, ... */
  by: string;
  group: string;
  /** Test rows in the group. */
  n: number;
  /** The group's share of all rows of the dataset (its representation). */
  share: number;
  meanError: number;
  medianError: number;
  /** Places: spherical mean of the group's true positions (for the map). */
  centroid?: [number, number];
}

export interface BiasResult {
  unit: 'km' | 'years';
  testRows: number;
  meanError: number;
  medianError: number;
  regressions: FameRegression[];
  groups: GroupError[];
  /** Up to `maxPoints` test rows: [log10 page views or null, error] for the scatter. */
  sample: { logViews: number | null; error: number }[];
}

/** Per-row error of a prediction: great-circle km (the distance mode) for places, |Δ| years for dates. */
export function rowErrors(
  data: Pick<LayerData, 'n' | 't' | 'targets'>,
  pred: Float64Array,
  distance: Distance,
) {
  const out = new Float64Array(data.n);
  for (let i = 0; i < data.n; i++) {
    out[i] =
      distance === 'absolute'
        ? Math.abs(pred[i]! - data.targets[i]!)
        : spaceDistanceKm(data.targets.subarray(2 * i, 2 * i + 2), pred.subarray(2 * i, 2 * i + 2), distance);
  }
  return out;
}

/** OLS of y on [1, x] (src/neurons singleNeuronFit) with the slope's standard error √(SSE / (n − 2) / Sxx). */
export function olsLine(x: ArrayLike<number>, y: ArrayLike<number>) {
  const fit = singleNeuronFit(x, y);
  const n = x.length;
  const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / n;
  const mx = mean(x);
  const my = mean(y);
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  const sse = syy * (1 - (Number.isFinite(fit.r2) ? fit.r2 : 0));
  return {
    slope: fit.slope,
    intercept: fit.intercept,
    r2: fit.r2,
    spearman: fit.spearman,
    slopeSe: Math.sqrt(sse / (n - 2) / sxx),
  };
}

function fameRegression(
  column: string,
  values: string[],
  errors: Float64Array,
  rows: number[],
): FameRegression | undefined {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const i of rows) {
    const v = Number(values[i]);
    if (values[i] !== '' && Number.isFinite(v) && v > 0) {
      xs.push(Math.log10(v));
      ys.push(errors[i]!);
    }
  }
  if (xs.length < 10) return undefined;
  const line = olsLine(xs, ys);
  const edges = [0, 0.2, 0.4, 0.6, 0.8, 1].map((q) => quantile(xs, q));
  const bins = edges.slice(0, -1).map((lo, b) => {
    const hi = edges[b + 1]!;
    const inBin = ys.filter((_, i) => xs[i]! >= lo && (b === 4 ? xs[i]! <= hi : xs[i]! < hi));
    return {
      lo,
      hi,
      n: inBin.length,
      meanError: inBin.reduce((s, v) => s + v, 0) / inBin.length,
      medianError: quantile(inBin, 0.5),
    };
  });
  return { column, n: xs.length, ...line, bins: bins.filter((b) => b.n > 0) };
}

/** Continent of each row from its country name (GeoNames names, underscores as spaces), else of the nearest known place. */
export async function continentsOf(countries: string[], lonLat: Float64Array): Promise<string[] | undefined> {
  const byName = new Map([...COUNTRIES.values()].map((c) => [c.name.toLowerCase(), c.continent]));
  const direct = countries.map((c) => byName.get(c.replace(/_/g, ' ').trim().toLowerCase()));
  const known = direct.flatMap((c, i) => (c ? [i] : []));
  if (known.length < 0.5 * countries.length || known.length < 2) return undefined;
  const out = direct.slice();
  const unknown = direct.flatMap((c, i) => (c ? [] : [i]));
  if (unknown.length) {
    // the nearest of its 32 nearest places whose country is known (unknown when none is)
    const w = await sphereKnnWeights(lonLat, countries.length, Math.min(32, countries.length - 1));
    for (const i of unknown) {
      for (let c = 0; c < w.k; c++) {
        const j = w.neighbours[i * w.k + c]!;
        if (direct[j]) {
          out[i] = direct[j];
          break;
        }
      }
    }
  }
  return out.map((c) => (c ? c : 'unknown'));
}

function groupErrors(
  by: string,
  labels: string[],
  errors: Float64Array,
  testRows: number[],
  lonLat: Float64Array | undefined,
): GroupError[] {
  const all = new Map<string, number>();
  for (const g of labels) all.set(g, (all.get(g) ?? 0) + 1);
  const members = new Map<string, number[]>();
  for (const i of testRows) {
    const list = members.get(labels[i]!) ?? [];
    list.push(i);
    members.set(labels[i]!, list);
  }
  return [...members]
    .map(([group, rows]) => {
      const e = rows.map((i) => errors[i]!);
      return {
        by,
        group,
        n: rows.length,
        share: all.get(group)! / labels.length,
        meanError: e.reduce((s, v) => s + v, 0) / e.length,
        medianError: quantile(e, 0.5),
        ...(lonLat && { centroid: sphericalCentroid(lonLat, 2, rows) as [number, number] }),
      };
    })
    .sort((a, b) => b.n - a.n || a.group.localeCompare(b.group));
}

/** The bias analysis of one probe's predictions (see the file comment). */
export async function runBias(
  data: LayerData,
  pred: Float64Array,
  options: { distance: Distance; groupColumns: string[]; maxPoints?: number },
): Promise<BiasResult> {
  const errors = rowErrors(data, pred, options.distance);
  const testRows = [...data.isTest.keys()].filter((i) => data.isTest[i]);
  const rows = testRows.length ? testRows : [...data.isTest.keys()];
  const space = data.kind === 'space';
  const regressions = ['page_views', 'population']
    .filter((c) => data.columns[c])
    .map((c) => fameRegression(c, data.columns[c]!, errors, rows))
    .filter((r): r is FameRegression => r !== undefined);
  const groups: GroupError[] = [];
  const lonLat = space ? data.targets : undefined;
  if (space && data.columns['country']) {
    const continents = await continentsOf(data.columns['country'], data.targets);
    if (continents) groups.push(...groupErrors('continent', continents, errors, rows, lonLat));
  }
  for (const c of options.groupColumns) {
    if (data.columns[c]) groups.push(...groupErrors(c, data.columns[c]!, errors, rows, lonLat));
  }
  const views = data.columns['page_views'];
  const step = Math.max(1, Math.ceil(rows.length / (options.maxPoints ?? 2500)));
  const sample = rows
    .filter((_, k) => k % step === 0)
    .map((i) => {
      const v = views ? Number(views[i]) : Number.NaN;
      return { logViews: v > 0 ? Math.log10(v) : null, error: errors[i]! };
    });
  const e = rows.map((i) => errors[i]!);
  return {
    unit: space ? 'km' : 'years',
    testRows: rows.length,
    meanError: e.reduce((s, v) => s + v, 0) / e.length,
    medianError: quantile(e, 0.5),
    regressions,
    groups,
    sample,
  };
}
