/** Vega-Lite specifications of the report's figures. Data for layer-switchable figures come in as `points`. */
import { modelDisplayName } from '../util/paths.js';
import { loadTopology, US_TOPOLOGY, WORLD_TOPOLOGY } from './geo.js';
import type { RunPoints } from './points.js';
import type { GeoJsonCollection, MapKind, ReportRun } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: Vega-Lite specs are plain JSON.
export type VlSpec = Record<string, any>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
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
  series: string;
  layer: number;
  x: number;
  value: number;
  train: number | null;
  best: boolean;
}

/** Test metric by layer for every run; x is normalized depth when runs have different numbers of layers. */
export function curvePoints(
  runs: ReportRun[],
  metric: 'r2' | 'proxError',
): { points: CurvePoint[]; depth: boolean } {
  const maxLayers = runs.map((r) => Math.max(...r.results.layers.map((l) => l.layer)));
  const depth = new Set(maxLayers).size > 1;
  const points: CurvePoint[] = [];
  runs.forEach((run, i) => {
    const r = run.results;
    const best = r.bestLayer ?? bestByR2(run);
    for (const l of [...r.layers].sort((a, b) => a.layer - b.layer)) {
      const value = l.test[metric];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const train = l.train?.[metric];
      points.push({
        dataset: r.dataset,
        series: `${modelDisplayName(r.model)} · ${r.prompt}${run.labelSuffix ?? ''}`,
        layer: l.layer,
        x: depth ? l.layer / Math.max(1, maxLayers[i]) : l.layer,
        value,
        train: typeof train === 'number' && Number.isFinite(train) ? train : null,
        best: l.layer === best,
      });
    }
  });
  return { points, depth };
}

function bestByR2(run: ReportRun): number | undefined {
  let best: { layer: number; r2: number } | undefined;
  for (const l of run.results.layers)
    if (!best || l.test.r2 > best.r2) best = { layer: l.layer, r2: l.test.r2 };
  return best?.layer;
}

/** The paper's main figure: test R² (or proximity error) against layer, one panel per dataset. */
export function layerCurveSpec(runs: ReportRun[], metric: 'r2' | 'proxError'): VlSpec {
  const { points, depth } = curvePoints(runs, metric);
  const title = metric === 'r2' ? 'test R²' : 'test proximity error';
  const x = {
    field: 'x',
    type: 'quantitative',
    title: depth ? 'normalized depth (layer / last layer)' : 'layer',
    scale: { nice: false, padding: 8 },
    axis: depth ? { format: '.1f' } : { format: 'd', tickMinStep: 1 },
  };
  const y = { field: 'value', type: 'quantitative', title };
  const color = { field: 'series', type: 'nominal', title: 'model · prompt', legend: { labelLimit: 420 } };
  const tooltip = [
    { field: 'dataset' },
    { field: 'series', title: 'model · prompt' },
    { field: 'layer' },
    { field: 'value', title, format: '.4f' },
    { field: 'train', title: title.replace('test', 'train'), format: '.4f' },
  ];
  const datasets = new Set(points.map((p) => p.dataset)).size;
  return {
    $schema: SCHEMA,
    data: { values: points },
    facet: {
      field: 'dataset',
      type: 'nominal',
      title: null,
      header: { labelFontSize: 13, labelFontWeight: 'bold' },
    },
    columns: Math.min(3, datasets),
    spec: {
      width: datasets > 1 ? 280 : 560,
      height: datasets > 1 ? 190 : 260,
      layer: [
        { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color, tooltip } },
        {
          mark: { type: 'point', filled: true, size: 110, shape: 'diamond', opacity: 1 },
          transform: [{ filter: 'datum.best' }],
          encoding: { x, y, color, tooltip },
        },
      ],
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

interface MapFrame {
  projection: VlSpec;
  width: number;
  height: number;
  outline?: VlSpec;
}

function mapFrame(kind: MapKind, nycOutlines?: GeoJsonCollection): MapFrame {
  const outlineMark = { type: 'geoshape', fill: '#eef0f2', stroke: '#9aa3ad', strokeWidth: 0.6 };
  if (kind === 'world') {
    return {
      projection: { type: 'equalEarth', fit: bboxFeature(-179.9, -58, 179.9, 84) },
      width: 880,
      height: 440,
      outline: {
        data: { values: loadTopology(WORLD_TOPOLOGY), format: { type: 'topojson', feature: 'countries' } },
        mark: outlineMark,
      },
    };
  }
  if (kind === 'us') {
    const topo = loadTopology(US_TOPOLOGY);
    const states = {
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
    return {
      projection: { type: 'albers', fit: bboxFeature(-124.8, 24.4, -66.9, 49.4) },
      width: 880,
      height: 520,
      outline: {
        data: { values: states, format: { type: 'topojson', feature: 'states' } },
        mark: outlineMark,
      },
    };
  }
  return {
    projection: { type: 'mercator', fit: bboxFeature(-74.26, 40.49, -73.7, 40.92) },
    width: 620,
    height: 620,
    outline: nycOutlines
      ? { data: { values: nycOutlines, format: { type: 'json', property: 'features' } }, mark: outlineMark }
      : undefined,
  };
}

const PALETTE = (n: number) => (n <= 10 ? 'tableau10' : 'tableau20');

/** Map of predicted positions, coloured by the true region; tooltip: name, truth, prediction, error. */
export function mapSpec(points: RunPoints, nycOutlines?: GeoJsonCollection): VlSpec {
  const frame = mapFrame(points.mapKind ?? 'world', nycOutlines);
  const layers: VlSpec[] = [];
  if (frame.outline) layers.push(frame.outline);
  layers.push({
    data: { name: 'points' },
    mark: { type: 'circle', size: 10, fillOpacity: 0.75, strokeWidth: 0, clip: true, aria: false },
    encoding: {
      longitude: { field: 'plon', type: 'quantitative' },
      latitude: { field: 'plat', type: 'quantitative' },
      color: {
        field: 'group',
        type: 'nominal',
        title: points.groupTitle,
        scale: { domain: points.groupNames, scheme: PALETTE(points.groupNames.length) },
        legend: { symbolOpacity: 1, columns: points.groupNames.length > 12 ? 2 : 1 },
      },
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
  return {
    $schema: SCHEMA,
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
    ],
    config: BASE_CONFIG,
  };
}
