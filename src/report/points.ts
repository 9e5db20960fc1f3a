/**
 * Per-entity point data of one run, in the compact column form embedded in the page, and the rows the figures
 * plot. The page's script builds the same rows (client.ts `rowsFor`), so the two must stay in step.
 */
import { calendarYearOffset, timeTargetUnit } from '../data/registry.js';
import { spaceDistanceKm } from '../probe/metrics.js';
import { modelDisplayName } from '../util/paths.js';
import { boroughIndex, continentOf, detectMapKind, usStates } from './geo.js';
import type { MapKind, ReportOptions, ReportRun } from './types.js';

export interface LayerMetricsSummary {
  r2: number;
  proxError?: number;
  spearman?: number;
}

/** What the page needs to draw one run's map or time scatter at any of its prediction layers. */
export interface RunPoints {
  kind: 'space' | 'time';
  mapKind?: MapKind;
  label: string;
  /** The run's dataset name (results.json `dataset`). */
  datasetName: string;
  groupTitle: string;
  groupNames: string[];
  names: string[];
  group: number[];
  isTest: number[];
  /** truth[t][i] (time: already shifted by yearOffset). */
  truth: number[][];
  yearOffset: number;
  layers: number[];
  /** layer -> pred[t][i]; a layer whose train rows have no prediction (compact probe output) holds test rows only. */
  pred: Record<string, number[][]>;
  metrics: Record<string, LayerMetricsSummary>;
  /** Space runs: the probe's distance (results settings.distance), so map km match its tables under --paper-compat. */
  distance?: 'haversine' | 'haversine-swapped';
}

export type PointRow = Record<string, string | number | boolean>;

const MAX_GROUPS = 20;

function round(values: ArrayLike<number>, digits: number): number[] {
  const f = 10 ** digits;
  return Array.from(values, (v) => (Number.isFinite(v) ? Math.round(v * f) / f : Number.NaN));
}

/** Keeps the most frequent labels and folds the rest into 'other' so a legend stays readable. */
function compactGroups(labels: string[]): { groupNames: string[]; group: number[] } {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let names = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || a.localeCompare(b));
  if (names.length > MAX_GROUPS) names = [...names.slice(0, MAX_GROUPS - 1), 'other'];
  names.sort((a, b) => (a === 'other' ? 1 : b === 'other' ? -1 : a.localeCompare(b)));
  const index = new Map(names.map((n, i) => [n, i]));
  const other = index.get('other');
  return { groupNames: names, group: labels.map((l) => index.get(l) ?? other ?? 0) };
}

function columnAt(
  run: ReportRun,
  candidates: string[],
): { name: string; values: (string | undefined)[] } | undefined {
  const cols = run.columns;
  const table = run.predictions!;
  if (!cols) return undefined;
  for (const name of candidates) {
    const col = cols[name];
    if (col) return { name, values: table.rows.map((r) => col[r]) };
  }
  return undefined;
}

function spaceGroups(
  run: ReportRun,
  mapKind: MapKind,
  options: ReportOptions,
): { title: string; labels: string[] } {
  const table = run.predictions!;
  const [lon, lat] = table.truth;
  const fill = (values: (string | undefined)[], locate: (i: number) => string | undefined) =>
    values.map((v, i) => (v?.trim() ? v : (locate(i) ?? 'unknown')));
  if (mapKind === 'nyc') {
    const outlines = options.nycOutlines ? boroughIndex(options.nycOutlines) : undefined;
    const col = columnAt(run, ['borough_name', 'borough', 'boro_name']);
    const locate = (i: number) => outlines?.locate(lon[i], lat[i]);
    if (!col && !outlines) return { title: 'place', labels: table.names.map(() => 'New York City') };
    return { title: 'true borough', labels: fill(col?.values ?? table.names.map(() => undefined), locate) };
  }
  if (mapKind === 'us') {
    const col = columnAt(run, ['state_name', 'state_id', 'state']);
    const states = usStates();
    return {
      title: 'true state',
      labels: fill(col?.values ?? table.names.map(() => undefined), (i) => states.locate(lon[i], lat[i])),
    };
  }
  const col = columnAt(run, ['continent']);
  return {
    title: 'true continent',
    labels: fill(col?.values ?? table.names.map(() => undefined), (i) => continentOf(lon[i], lat[i])),
  };
}

function timeGroups(run: ReportRun): { title: string; labels: string[] } {
  const col = columnAt(run, ['entity_type', 'news_desk', 'occupation', 'entity_subtype', 'type']);
  if (!col) return { title: 'entities', labels: run.predictions!.names.map(() => run.results.dataset) };
  return {
    title: col.name.replace(/_/g, ' '),
    labels: col.values.map((v) => (v?.trim() ? v : 'unknown')),
  };
}

/** 1970 for targets stored as years since 1970 (art, headline: the dataset registry's target definition), else 0. */
export function defaultYearOffset(run: ReportRun): number {
  const declared = run.results.targetUnit === undefined ? undefined : String(run.results.targetUnit);
  return calendarYearOffset(timeTargetUnit(run.results.dataset, declared));
}

/** A model id as shown in legends: local checkpoint paths by their last folder, Hub ids as they are. */
export function runLabel(run: ReportRun): string {
  const r = run.results;
  return `${modelDisplayName(r.model)} · ${r.dataset} · ${r.prompt}${run.labelSuffix ?? ''}`;
}

/** Compact per-entity data of a run that has predictions. */
export function buildRunPoints(run: ReportRun, options: ReportOptions): RunPoints {
  const table = run.predictions!;
  const kind = run.results.kind;
  const mapKind =
    kind === 'space'
      ? (options.mapKind ?? detectMapKind(run.results.dataset, table.truth[0], table.truth[1]))
      : undefined;
  const { title, labels } = kind === 'space' ? spaceGroups(run, mapKind!, options) : timeGroups(run);
  const { groupNames, group } = compactGroups(labels);
  const yearOffset = kind === 'time' ? (options.yearOffset ?? defaultYearOffset(run)) : 0;
  // The precision the page keeps (pack.ts stores these decimals losslessly as integers): truths and predictions at
  // 1e-3 degree (~110 m) on world / US maps, where a pixel is ~0.4 degree (world) / ~0.07 degree (US); 1e-4 (~11 m)
  // in NYC, a pixel ~0.0008 degree; 0.01 year (~4 days) for dates, where a pixel is ~0.02 year on the shortest
  // (headline, ~10 years) axis. Tooltips show 3 decimals of degrees, 2 of years. Metrics stay exact.
  const digits = kind === 'time' ? 2 : mapKind === 'nyc' ? 4 : 3;
  const shift = (values: Float64Array) =>
    round(
      Float64Array.from(values, (v) => v + yearOffset),
      digits,
    );
  const layers = [...table.pred.keys()].sort((a, b) => a - b);
  const pred: Record<string, number[][]> = {};
  const testRows = table.rows.map((_, i) => i).filter((i) => table.isTest[i]);
  for (const layer of layers) {
    const cols = table.pred.get(layer)!;
    const trainEmpty =
      testRows.length > 0 && cols.every((c) => c.every((v, i) => table.isTest[i] || Number.isNaN(v)));
    pred[layer] = trainEmpty
      ? cols.map((c) => shift(Float64Array.from(testRows, (i) => c[i]!)))
      : cols.map(shift);
  }
  const metrics: Record<string, LayerMetricsSummary> = {};
  for (const l of run.results.layers) {
    const sp = l.test.spearman;
    metrics[l.layer] = {
      r2: l.test.r2,
      proxError: l.test.proxError,
      spearman: sp?.length ? sp.reduce((a, b) => a + b, 0) / sp.length : undefined,
    };
  }
  return {
    kind,
    mapKind,
    label: runLabel(run),
    datasetName: run.results.dataset,
    groupTitle: title,
    groupNames,
    names: table.names,
    group,
    isTest: Array.from(table.isTest),
    truth: table.truth.map(shift),
    yearOffset,
    layers,
    pred,
    metrics,
    ...(kind === 'space' && { distance: runDistance(run) }),
  };
}

/** A space run's distance: the authors' swapped haversine when the probe used it (--paper-compat), else the true one. */
function runDistance(run: ReportRun): 'haversine' | 'haversine-swapped' {
  return run.results.settings?.['distance'] === 'haversine-swapped' ? 'haversine-swapped' : 'haversine';
}

/** The layer of `available` closest to `wanted` (ties: the lower one). */
export function nearestLayer(available: number[], wanted: number): number {
  let best = available[0];
  for (const l of available) if (Math.abs(l - wanted) < Math.abs(best - wanted)) best = l;
  return best;
}

/** Rows plotted for one layer and split (the page's `rowsFor` does the same in the browser). */
export function pointRows(points: RunPoints, layer: number, split: 'test' | 'train' | 'all'): PointRow[] {
  const stored = points.pred[nearestLayer(points.layers, layer)];
  const full = stored[0].length === points.names.length;
  const rows: PointRow[] = [];
  let k = -1; // index among test rows
  for (let i = 0; i < points.names.length; i++) {
    const test = points.isTest[i] === 1;
    if (test) k++;
    if ((split === 'test' && !test) || (split === 'train' && test) || (!full && !test)) continue;
    const at = full ? i : k;
    const group = points.groupNames[points.group[i]];
    if (points.kind === 'space') {
      const [lon, lat, plon, plat] = [points.truth[0][i], points.truth[1][i], stored[0][at], stored[1][at]];
      if (!Number.isFinite(plon) || !Number.isFinite(plat)) continue;
      rows.push({
        name: points.names[i],
        group,
        lon,
        lat,
        plon,
        plat,
        errKm: spaceDistanceKm([lon, lat], [plon, plat], points.distance ?? 'haversine'),
        test,
      });
    } else {
      const [year, predYear] = [points.truth[0][i], stored[0][at]];
      if (!Number.isFinite(predYear)) continue;
      rows.push({ name: points.names[i], group, year, pred: predYear, err: Math.abs(predYear - year), test });
    }
  }
  return rows;
}

/**
 * The test metrics of the layer shown, as the text drawn in a corner of a map or time scatter (the paper prints ρ
 * in its scatter plots): one row of lines, none when the layer has no finite metric. The page's `statsRows` does
 * the same in the browser.
 */
export function statsRows(points: RunPoints, layer: number): { text: string[] }[] {
  const m = points.metrics[nearestLayer(points.layers, layer)];
  const line = (name: string, v: number | undefined) =>
    typeof v === 'number' && Number.isFinite(v) ? [`${name} = ${v.toFixed(3)}`] : [];
  const text = [...line('Spearman ρ', m?.spearman), ...line('test R²', m?.r2)];
  return text.length ? [{ text }] : [];
}
