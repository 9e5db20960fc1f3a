/**
 * Tolerant view of result JSONs whose layout the report does not know in advance (MLP vs linear, PCA-k, hold-outs,
 * prompt transfer, neurons, interventions...): scalars become a key/value table, every array of records (or object
 * of records) becomes a table, and a table with a numeric x column (layer, k, ...) also becomes a line chart.
 */
import { BASE_CONFIG, type VlSpec } from './specs.js';
import type { ExtraResult } from './types.js';

export type Cell = string | number | boolean | null;

export interface ExtraTable {
  path: string;
  columns: string[];
  rows: Cell[][];
  total: number;
  chart?: VlSpec;
}

export interface ExtraSection {
  title: string;
  source?: string;
  scalars: [string, Cell][];
  tables: ExtraTable[];
}

const MAX_ROWS = 500;
const MAX_DEPTH = 5;
const X_KEYS = [
  'layer',
  'k',
  'pcaK',
  'nComponents',
  'n_components',
  'depth',
  'epoch',
  'step',
  'alpha',
  'weightDecay',
];
const NOT_METRICS = new Set(['row', 'index', 'neuron', 'n', 'nTrain', 'nTest', 'd', 'seed', 'count']);
const LOG_X = new Set(['k', 'pcaK', 'nComponents', 'n_components', 'alpha', 'weightDecay']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isRecord = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Cell => v === null || ['string', 'number', 'boolean'].includes(typeof v);

function scalarText(v: Json): Cell {
  if (isScalar(v)) return v;
  if (Array.isArray(v) && v.every(isScalar) && v.length <= 16) return v.map((x) => String(x)).join(', ');
  return null;
}

/** Flattens nested objects into dotted keys, short scalar arrays into text. */
function flatten(
  record: Record<string, Json>,
  arrayKeys: Set<string>,
  prefix = '',
  out: Record<string, Cell> = {},
  depth = 0,
): Record<string, Cell> {
  for (const [k, v] of Object.entries(record)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isRecord(v) && depth < 2) flatten(v, arrayKeys, key, out, depth + 1);
    else {
      if (Array.isArray(v)) arrayKeys.add(key);
      const text = scalarText(v);
      if (text !== null || v === null) out[key] = text;
    }
  }
  return out;
}

function asRecords(value: Json): Record<string, Json>[] | undefined {
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord))
    return value as Record<string, Json>[];
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length >= 2 && entries.every(([, v]) => isRecord(v) && Object.values(v).some(isScalar))) {
      return entries.map(([key, v]) => ({ key, ...(v as Record<string, Json>) }));
    }
  }
  return undefined;
}

function tableOf(path: string, records: Record<string, Json>[]): ExtraTable {
  const arrayKeys = new Set<string>();
  const flat = records.map((r) => flatten(r, arrayKeys));
  const columns: string[] = [];
  for (const row of flat) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const rows = flat.slice(0, MAX_ROWS).map((row) => columns.map((c) => row[c] ?? null));
  return { path, columns, rows, total: flat.length, chart: chartOf(path, columns, flat, arrayKeys) };
}

function chartOf(
  path: string,
  columns: string[],
  rows: Record<string, Cell>[],
  arrayKeys: Set<string>,
): VlSpec | undefined {
  const numeric = (c: string) =>
    rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number');
  const present = (c: string) => rows.some((r) => typeof r[c] === 'number');
  const x = X_KEYS.find((k) => columns.includes(k) && numeric(k) && present(k));
  const metrics = columns
    .filter((c) => c !== x && !NOT_METRICS.has(c) && numeric(c) && present(c))
    .slice(0, 9);
  if (!metrics.length) return undefined;
  const labels = columns.filter(
    (c) => !arrayKeys.has(c) && rows.some((r) => typeof r[c] === 'string' || typeof r[c] === 'boolean'),
  );
  const seriesCols = labels.filter((c) => new Set(rows.map((r) => r[c])).size <= 12);
  const seriesOf = (r: Record<string, Cell>) =>
    seriesCols.map((c) => String(r[c] ?? '')).join(' · ') || 'all';
  if (x) {
    const values = rows.flatMap((r) =>
      metrics
        .filter((m) => typeof r[m] === 'number')
        .map((m) => ({ x: r[x], metric: m, value: r[m], series: seriesOf(r) })),
    );
    const positive = rows.every((r) => typeof r[x] !== 'number' || (r[x] as number) > 0);
    // A curve only makes sense with one value per x and series (e.g. per layer); ranked lists get points.
    const seen = new Set(values.map((v) => `${v.series}\u0000${v.metric}\u0000${v.x}`));
    const curve = seen.size === values.length;
    return facetChart(path, values, {
      mark: curve ? { type: 'line', point: true } : { type: 'point', filled: true },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative',
          title: x,
          scale: LOG_X.has(x) && positive ? { type: 'log' } : {},
        },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: seriesCols.join(' · ') || null },
        tooltip: [
          { field: 'series' },
          { field: 'x', title: x },
          { field: 'metric' },
          { field: 'value', format: '.4f' },
        ],
      },
    });
  }
  const label = labels.find(
    (c) => !seriesCols.includes(c) || new Set(rows.map((r) => r[c])).size === rows.length,
  );
  const category = label ?? seriesCols[0];
  if (!category || rows.length > 40) return undefined;
  const colour = seriesCols.filter((c) => c !== category);
  const values = rows.flatMap((r) =>
    metrics
      .filter((m) => typeof r[m] === 'number')
      .map((m) => ({
        label: String(r[category]),
        metric: m,
        value: r[m],
        series: colour.map((c) => String(r[c] ?? '')).join(' · ') || 'all',
      })),
  );
  return facetChart(path, values, {
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'label', type: 'nominal', title: category, sort: null },
      yOffset: { field: 'series' },
      x: { field: 'value', type: 'quantitative', title: null },
      color: { field: 'series', type: 'nominal', title: colour.join(' · ') || null },
      tooltip: [
        { field: 'label', title: category },
        { field: 'series' },
        { field: 'metric' },
        { field: 'value', format: '.4f' },
      ],
    },
  });
}

function facetChart(_path: string, values: unknown[], spec: VlSpec): VlSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    facet: { field: 'metric', type: 'nominal', title: null, header: { labelFontWeight: 'bold' } },
    columns: 3,
    spec: { width: 250, height: 170, ...spec },
    resolve: { scale: { y: 'independent', x: 'independent' } },
    config: BASE_CONFIG,
  };
}

function walk(value: Json, path: string, depth: number, section: ExtraSection): void {
  const records = asRecords(value);
  if (records) {
    section.tables.push(tableOf(path, records));
    return;
  }
  if (!isRecord(value) || depth > MAX_DEPTH) return;
  const scalars: [string, Cell][] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = path ? `${path}.${k}` : k;
    const text = scalarText(v);
    if (text !== null || v === null) scalars.push([key, text]);
    else walk(v, key, depth + 1, section);
  }
  section.scalars.push(...scalars);
}

/** Tables and charts for any result JSON. */
export function describeExtra(extra: ExtraResult): ExtraSection {
  const section: ExtraSection = { title: extra.title, source: extra.source, scalars: [], tables: [] };
  walk(extra.data as Json, '', 0, section);
  return section;
}
