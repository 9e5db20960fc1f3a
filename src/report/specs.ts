/** Vega-Lite specifications of the report's figures. Data for layer-switchable figures come in as `points`. */
import { modelDisplayName } from '../util/paths.js';
import { loadTopology, US_TOPOLOGY, WORLD_TOPOLOGY } from './geo.js';
import { PAPER_DATASETS, paperPromptMatches, paperR2Marks } from './paper-reference.js';
import type { RunPoints } from './points.js';
import type { GeoJsonCollection, MapKind, ReportRun } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: Vega-Lite specs are plain JSON.
export type VlSpec = Record<string, any>;

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The facet of a one-panel-per-dataset figure, in `sort` order when given. */
export function datasetFacet(sort?: string[]): VlSpec {
  return {
    field: 'dataset',
    type: 'nominal',
    title: null,
    ...(sort ? { sort } : {}),
    header: { labelFontSize: 13, labelFontWeight: 'bold' },
  };
}
const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';
export const BASE_CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e8eb' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220 },
  title: { fontSize: 14, anchor: 'start' },
};

/** One point of a by-layer curve. */
export interface CurvePoint {
  dataset: string;
  /** The model's label (with the run's suffix when runs share model, dataset and prompt). */
  model: string;
  series: string;
  layer: number;
  x: number;
  value: number;
  train: number | null;
  best: boolean;
}

/** The model's last layer as far as a run knows it: the deepest probed or skipped layer. */
export function lastLayer(run: ReportRun): number {
  const skipped = run.results['skippedLayers'];
  const extra = Array.isArray(skipped)
    ? skipped.map((s) => (s as { layer?: unknown }).layer).filter((l): l is number => typeof l === 'number')
    : [];
  const n = run.results['nLayers'];
  if (typeof n === 'number' && n > 1) return n - 1;
  return Math.max(1, ...run.results.layers.map((l) => l.layer), ...extra);
}

/** Test metric against normalized depth (layer / last layer), as the paper's main figure. */
export function curvePoints(runs: ReportRun[], metric: 'r2' | 'proxError'): CurvePoint[] {
  const points: CurvePoint[] = [];
  for (const run of runs) {
    const r = run.results;
    const best = r.bestLayer ?? bestByR2(run);
    const last = lastLayer(run);
    for (const l of [...r.layers].sort((a, b) => a.layer - b.layer)) {
      const value = l.test[metric];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const train = l.train?.[metric];
      points.push({
        dataset: r.dataset,
        model: `${modelDisplayName(r.model)}${run.labelSuffix ?? ''}`,
        series: `${modelDisplayName(r.model)} · ${r.prompt}${run.labelSuffix ?? ''}`,
        layer: l.layer,
        x: l.layer / last,
        value,
        train: typeof train === 'number' && Number.isFinite(train) ? train : null,
        best: l.layer === best,
      });
    }
  }
  return points;
}

function bestByR2(run: ReportRun): number | undefined {
  let best: { layer: number; r2: number } | undefined;
  for (const l of run.results.layers)
    if (Number.isFinite(l.test.r2) && (!best || l.test.r2 > best.r2))
      best = { layer: l.layer, r2: l.test.r2 };
  return best?.layer;
}

function paperRank(dataset: string): number {
  const i = PAPER_DATASETS.indexOf(dataset);
  return i < 0 ? 99 : i;
}

/** The paper's test R² markers for the panels whose dataset has a run with the paper's prompt. */
function paperMarks(runs: ReportRun[]): object[] {
  const datasets = new Set(
    runs.filter((r) => paperPromptMatches(r.results.dataset, r.results.prompt)).map((r) => r.results.dataset),
  );
  return [...datasets].flatMap((d) =>
    paperR2Marks(d).map((m) => ({
      dataset: d,
      x: m.depth,
      value: m.value,
      label: m.label,
      size: m.model.replace('Llama-2-', ''),
    })),
  );
}

/** The paper's main figure: test R² (or proximity error) against normalized depth, one panel per dataset. */
export function layerCurveSpec(runs: ReportRun[], metric: 'r2' | 'proxError'): VlSpec {
  const points = curvePoints(runs, metric);
  const marks = metric === 'r2' ? paperMarks(runs) : [];
  const title = metric === 'r2' ? 'test R²' : 'test proximity error';
  const x = {
    field: 'x',
    type: 'quantitative',
    title: 'normalized depth (layer / last layer)',
    scale: { domain: [0, 1] },
    axis: { format: '.1f' },
  };
  const y = { field: 'value', type: 'quantitative', title };
  // One line per model and dataset (the main figure): colour by model, the same colour in every panel.
  const lines = (key: (p: CurvePoint) => string) =>
    new Set(points.map((p) => `${key(p)}\u0000${p.dataset}`)).size;
  const perModel = lines((p) => p.model) === lines((p) => p.series);
  const color = {
    field: perModel ? 'model' : 'series',
    type: 'nominal',
    title: perModel ? 'model' : 'model · prompt',
    legend: { labelLimit: 300, orient: 'bottom', columns: 3 },
  };
  const tooltip = [
    { field: 'dataset' },
    { field: 'series', title: 'model · prompt' },
    { field: 'layer' },
    { field: 'value', title, format: '.4f' },
    { field: 'train', title: title.replace('test', 'train'), format: '.4f' },
  ];
  const datasets = [
    ...new Set([...points.map((p) => p.dataset), ...marks.map((m) => (m as { dataset: string }).dataset)]),
  ].sort((a, b) => paperRank(a) - paperRank(b) || a.localeCompare(b));
  const columns = Math.min(3, datasets.length);
  const layers: VlSpec[] = [
    { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color, tooltip } },
    {
      name: 'main',
      mark: { type: 'point', filled: true, size: 18, opacity: 0.9 },
      encoding: { x, y, color, tooltip },
    },
    {
      mark: { type: 'point', filled: true, size: 110, shape: 'diamond', opacity: 1 },
      transform: [{ filter: 'datum.best' }],
      encoding: { x, y, color, tooltip },
    },
  ];
  const values: object[] = [...points];
  if (marks.length) {
    values.push(...marks.map((m) => ({ ...m, paper: true })));
    layers.push({
      name: 'paper',
      transform: [{ filter: 'datum.paper === true' }],
      mark: { type: 'point', size: 70, color: '#666', filled: true, opacity: 0.85 },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { field: 'value', type: 'quantitative' },
        shape: {
          field: 'size',
          type: 'nominal',
          title: 'paper, Llama-2',
          scale: { domain: ['7B', '13B', '70B'], range: ['triangle-up', 'square', 'cross'] },
          legend: { orient: 'right', symbolFillColor: '#666', symbolStrokeColor: '#666' },
        },
        tooltip: [
          { field: 'label', title: 'reference' },
          { field: 'value', title: 'test R²', format: '.3f' },
        ],
      },
    });
    for (const l of layers.slice(0, 3))
      l['transform'] = [{ filter: 'datum.paper !== true' }, ...(l['transform'] ?? [])];
  }
  return {
    $schema: SCHEMA,
    data: { values },
    facet: datasetFacet(datasets),
    columns,
    spec: {
      width: columns === 1 ? 560 : columns === 2 ? 420 : 300,
      height: columns === 1 ? 260 : 190,
      layer: layers,
    },
    config: BASE_CONFIG,
  };
}

const US_EXCLUDED_STATES = new Set(['02', '15', '60', '66', '69', '72', '78']); // AK, HI, territories

function bboxFeature(x0: number, y0: number, x1: number, y1: number) {
  return {
    type: 'Feature',
    properties: {},
    geometry: {
      type: 'MultiPoint',
      coordinates: [
        [x0, y0],
        [x1, y1],
        [x0, y1],
        [x1, y0],
        [(x0 + x1) / 2, y0],
      ],
    },
  };
}

export interface MapFrame {
  projection: VlSpec;
  width: number;
  height: number;
  outline?: VlSpec;
  /** Named datasets the outline reads (the page stores each outline once and shares it between figures). */
  datasets: Record<string, unknown>;
}

/** Prefix of the named datasets that hold map outlines (shared between figures in the page). */
export const OUTLINE_PREFIX = 'outline-';

let usStates: unknown;
/** The contiguous US states of us-atlas (Alaska, Hawaii and the territories would squash the map). */
function contiguousStates(): unknown {
  if (!usStates) {
    const topo = loadTopology(US_TOPOLOGY);
    usStates = {
      ...topo,
      objects: {
        states: {
          ...topo.objects.states,
          geometries: topo.objects.states.geometries.filter(
            (g: { id: string }) => !US_EXCLUDED_STATES.has(g.id),
          ),
        },
      },
    };
  }
  return usStates;
}

/** The outline layer of a map kind (countries, states, NYC boroughs) as a named dataset. */
export function outlineData(
  kind: MapKind,
  nycOutlines?: GeoJsonCollection,
): { data: VlSpec; datasets: Record<string, unknown> } | undefined {
  if (kind === 'world') {
    const name = `${OUTLINE_PREFIX}world`;
    return {
      data: { name, format: { type: 'topojson', feature: 'countries' } },
      datasets: { [name]: loadTopology(WORLD_TOPOLOGY) },
    };
  }
  if (kind === 'us') {
    const name = `${OUTLINE_PREFIX}us`;
    return {
      data: { name, format: { type: 'topojson', feature: 'states' } },
      datasets: { [name]: contiguousStates() },
    };
  }
  if (!nycOutlines) return undefined;
  const name = `${OUTLINE_PREFIX}nyc`;
  return {
    data: { name, format: { type: 'json', property: 'features' } },
    datasets: { [name]: nycOutlines },
  };
}

export const OUTLINE_MARK = { type: 'geoshape', fill: '#eef0f2', stroke: '#9aa3ad', strokeWidth: 0.6 };

export function mapFrame(kind: MapKind, nycOutlines?: GeoJsonCollection): MapFrame {
  const outline = outlineData(kind, nycOutlines);
  const frame = {
    outline: outline && { data: outline.data, mark: OUTLINE_MARK },
    datasets: outline?.datasets ?? {},
  };
  if (kind === 'world')
    return {
      ...frame,
      projection: { type: 'equalEarth', fit: bboxFeature(-179.9, -58, 179.9, 84) },
      width: 880,
      height: 440,
    };
  if (kind === 'us')
    return {
      ...frame,
      projection: { type: 'albers', fit: bboxFeature(-124.8, 24.4, -66.9, 49.4) },
      width: 880,
      height: 520,
    };
  return {
    ...frame,
    projection: { type: 'mercator', fit: bboxFeature(-74.26, 40.49, -73.7, 40.92) },
    width: 620,
    height: 620,
  };
}

/** Few groups: a legend on the right; many (US states): rows under the map, so the map keeps the page width. */
export function mapLegend(groups: number): VlSpec {
  return groups > 10
    ? { symbolOpacity: 1, orient: 'bottom', direction: 'horizontal', columns: 7, labelLimit: 130 }
    : { symbolOpacity: 1, labelLimit: 150 };
}

export const PALETTE = (n: number) => (n <= 10 ? 'tableau10' : 'tableau20');

/** A map's colour by entity group: one palette colour per group, the legend placed by mapLegend. */
export function groupColor(title: string, groups: string[]): VlSpec {
  return {
    field: 'group',
    type: 'nominal',
    title,
    scale: { domain: groups, scheme: PALETTE(groups.length) },
    legend: mapLegend(groups.length),
  };
}

/**
 * The layer's test Spearman ρ and R² as text in a corner of the plot (`stats` is filled with the layer shown, by
 * the page and by the export). Bottom-left on maps (ocean on the world and US maps), top-left in time scatters
 * (off the diagonal).
 */
export function statsLayer(corner: 'top' | 'bottom', height: number): VlSpec {
  return {
    name: 'stats',
    data: { name: 'stats' },
    mark: {
      type: 'text',
      align: 'left',
      baseline: corner,
      x: 8,
      y: corner === 'top' ? 6 : height - 6,
      fontSize: 13,
      fontWeight: 600,
      lineHeight: 17,
      color: '#1d232a',
    },
    encoding: { text: { field: 'text' } },
  };
}

/** Map of predicted positions, coloured by the true region; tooltip: name, truth, prediction, error. */
export function mapSpec(points: RunPoints, nycOutlines?: GeoJsonCollection): VlSpec {
  const frame = mapFrame(points.mapKind ?? 'world', nycOutlines);
  const layers: VlSpec[] = [];
  if (frame.outline) layers.push(frame.outline);
  layers.push({
    name: 'main',
    data: { name: 'points' },
    mark: { type: 'circle', size: 10, fillOpacity: 0.75, strokeWidth: 0, clip: true, aria: false },
    encoding: {
      longitude: { field: 'plon', type: 'quantitative' },
      latitude: { field: 'plat', type: 'quantitative' },
      color: groupColor(points.groupTitle, points.groupNames),
      tooltip: [
        { field: 'name', title: 'entity' },
        { field: 'group', title: points.groupTitle },
        { field: 'lon', title: 'true longitude', format: '.3f' },
        { field: 'lat', title: 'true latitude', format: '.3f' },
        { field: 'plon', title: 'predicted longitude', format: '.3f' },
        { field: 'plat', title: 'predicted latitude', format: '.3f' },
        { field: 'errKm', title: 'error (km)', format: ',.1f' },
      ],
    },
  });
  // NYC: Staten Island fills the bottom-left corner; New Jersey (top-left) has no points.
  layers.push(statsLayer(points.mapKind === 'nyc' ? 'top' : 'bottom', frame.height));
  return {
    $schema: SCHEMA,
    datasets: frame.datasets,
    width: frame.width,
    height: frame.height,
    projection: frame.projection,
    layer: layers,
    config: BASE_CONFIG,
  };
}

/** Predicted against true year, coloured by entity type, with the y = x line. */
export function timeSpec(points: RunPoints): VlSpec {
  const years = points.truth[0].filter(Number.isFinite);
  const lo = years.length ? Math.floor(Math.min(...years)) : 0;
  const hi = years.length ? Math.ceil(Math.max(...years)) : 1;
  const offsetNote = points.yearOffset
    ? ` (stored as years since ${points.yearOffset}; shown as calendar years)`
    : '';
  const axis = { format: 'd' };
  return {
    $schema: SCHEMA,
    width: 560,
    height: 440,
    layer: [
      {
        name: 'main',
        data: { name: 'points' },
        mark: { type: 'circle', size: 12, fillOpacity: 0.6, strokeWidth: 0, clip: true, aria: false },
        encoding: {
          x: {
            field: 'year',
            type: 'quantitative',
            title: `true year${offsetNote}`,
            scale: { domain: [lo, hi] },
            axis,
          },
          y: {
            field: 'pred',
            type: 'quantitative',
            title: 'predicted year',
            scale: { domain: [lo, hi] },
            axis,
          },
          color: {
            field: 'group',
            type: 'nominal',
            title: points.groupTitle,
            scale: { domain: points.groupNames, scheme: PALETTE(points.groupNames.length) },
            legend: { symbolOpacity: 1 },
          },
          tooltip: [
            { field: 'name', title: 'entity' },
            { field: 'group', title: points.groupTitle },
            { field: 'year', title: 'true year', format: '.2f' },
            { field: 'pred', title: 'predicted year', format: '.2f' },
            { field: 'err', title: 'error (years)', format: '.2f' },
          ],
        },
      },
      {
        data: { values: [{ v: lo }, { v: hi }] },
        mark: { type: 'line', color: '#333', strokeDash: [5, 4], strokeWidth: 1.2 },
        encoding: { x: { field: 'v', type: 'quantitative' }, y: { field: 'v', type: 'quantitative' } },
      },
      statsLayer('top', 440),
    ],
    config: BASE_CONFIG,
  };
}
