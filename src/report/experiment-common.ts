/**
 * What every experiment section shares: the experiment@1 document type, the escaped HTML table, number formatting,
 * dataset order and titles, and the faceted by-layer Vega-Lite spec (one panel per dataset, one colour per model).
 */

import { escapeHtml } from './escape.js';
import { PAPER_DATASET_TITLES, PAPER_DATASETS } from './paper-reference.js';
import { BASE_CONFIG, datasetFacet, SCHEMA, type VlSpec } from './specs.js';

export type Cell = number | string | boolean | null;
export type Row = Record<string, Cell>;

/** The fields of an experiment@1 document that the figures read. */
export interface ExperimentDoc {
  schema: string;
  experiment: string;
  title?: string;
  model: string;
  dataset: string;
  prompt: string;
  layer: number | null;
  kind: 'space' | 'time';
  targetNames?: string[];
  settings?: Record<string, unknown>;
  columns?: string[];
  table: Row[];
  summary?: Record<string, Cell>;
  tables?: Record<string, { columns: string[]; rows: Row[] }>;
  figures?: Record<string, unknown>;
  source?: string;
}

export const EXPERIMENT_SCHEMA = 'spacetime-lens/experiment@1';

export function isExperimentDoc(value: unknown): value is ExperimentDoc {
  const v = value as ExperimentDoc | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.schema === EXPERIMENT_SCHEMA &&
    typeof v.experiment === 'string' &&
    Array.isArray(v.table)
  );
}

/** One figure of an experiment section; `marks` = rows of its main layer (the browser test counts them). */
export interface ExpFigure {
  slug: string;
  title: string;
  caption: string;
  spec: VlSpec;
  marks: number;
}

/** One experiment's part of the page: HTML tables (already escaped) and figures, in order. */
export interface ExpSection {
  id: string;
  title: string;
  intro: string;
  tables: string[];
  figures: ExpFigure[];
}

export const MAIN = 'main'; // name of each figure's counted layer (vega mark "main_marks")

export const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const datasetTitle = (d: string) => PAPER_DATASET_TITLES[d] ?? d;
export const datasetOrder = (names: string[]) =>
  [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(d: string): number {
  const i = PAPER_DATASETS.indexOf(d);
  return i < 0 ? 99 : i;
}

export function fmt(v: Cell | undefined, digits = 3): string {
  if (!finite(v)) return '–';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(digits);
}

/** An escaped HTML table: first column text, other columns numbers (right-aligned). */
export function htmlTable(
  head: string[],
  rows: { cells: (string | number | null)[]; reference?: boolean }[],
  caption?: string,
): string {
  const th = head.map((h, i) => `<th${i ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => {
      const tds = r.cells
        .map((c, i) =>
          i === 0 || typeof c === 'string'
            ? `<td${i ? ' class="num"' : ''}>${escapeHtml(c ?? '')}</td>`
            : `<td class="num">${escapeHtml(fmt(c))}</td>`,
        )
        .join('');
      return `<tr${r.reference ? ' class="paper"' : ''}>${tds}</tr>`;
    })
    .join('');
  const cap = caption ? `<caption>${escapeHtml(caption)}</caption>` : '';
  return `<table class="results">${cap}<thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Panel size for a facet over `n` datasets within the 1,240 px page. */
export function panel(n: number): { width: number; height: number; columns: number } {
  const columns = Math.min(3, Math.max(1, n));
  return { width: columns === 1 ? 520 : columns === 2 ? 420 : 290, height: 180, columns };
}

/** Test R² against normalized depth, one colour per series: the encoding of every by-layer experiment curve. */
export function depthR2Encoding(colorTitle: string): VlSpec {
  return {
    x: {
      field: 'depth',
      type: 'quantitative',
      title: 'normalized depth (layer / last layer)',
      scale: { domain: [0, 1] },
    },
    y: { field: 'r2', type: 'quantitative', title: 'test R²' },
    color: { field: 'series', type: 'nominal', title: colorTitle },
    tooltip: [{ field: 'series' }, { field: 'layer' }, { field: 'r2', format: '.3f', title: 'test R²' }],
  };
}

export function facetSpec(
  values: unknown[],
  datasets: string[],
  layers: VlSpec[],
  extra: VlSpec = {},
): VlSpec {
  const p = panel(datasets.length);
  return {
    $schema: SCHEMA,
    data: { values },
    facet: datasetFacet(datasets),
    columns: p.columns,
    spec: { width: p.width, height: p.height, layer: layers },
    resolve: { axis: { x: 'independent' } },
    config: {
      ...BASE_CONFIG,
      legend: { ...BASE_CONFIG.legend, orient: 'bottom', columns: 3, labelLimit: 320 },
    },
    ...extra,
  };
}

export const pointLayer = (encoding: VlSpec, mark: VlSpec = {}): VlSpec => ({
  name: MAIN,
  mark: { type: 'point', filled: true, size: 45, ...mark },
  encoding,
});
export const lineLayer = (encoding: VlSpec): VlSpec => ({
  mark: { type: 'line', strokeWidth: 1.8 },
  encoding,
});

export function byExperiment(docs: ExperimentDoc[], name: string): ExperimentDoc[] {
  return docs.filter((d) => d.experiment === name);
}

/** layer / last layer of the model (from the probe runs when known, else the result's own layers). */
export type DepthOf = (model: string, fallbackLast: number) => number;

export function maxLayer(rows: Row[]): number {
  return Math.max(1, ...rows.map((r) => (finite(r['layer']) ? (r['layer'] as number) : 0)));
}
