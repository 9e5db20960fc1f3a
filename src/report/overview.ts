/**
 * The paper's dataset overview (true maps by continent / state / borough, year histograms) and its box plots of
 * test proximity error by entity subtype (whiskers at the 1st and 99th percentiles), from the probe runs.
 */
import { DATASETS } from '../data/registry.js';
import { quantile } from '../neurons/index.js';
import { PAPER_DATASETS } from './paper-reference.js';
import { nearestLayer, type RunPoints } from './points.js';
import { BASE_CONFIG, groupColor, mapFrame, SCHEMA, type VlSpec } from './specs.js';
import type { GeoJsonCollection, ReportRun } from './types.js';

const MAX_OVERVIEW_POINTS = 10000;

export interface OverviewFigure {
  slug: string;
  title: string;
  description: string;
  spec: VlSpec;
  marks: number;
  canvas?: boolean;
}

const TITLES = { world: 'World places by continent', us: 'US places by state', nyc: 'NYC places by borough' };

/** Every k-th row so at most `max` remain (deterministic, keeps the spread of the data). */
function strideRows(n: number, max: number): number[] {
  const step = Math.max(1, Math.ceil(n / max));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

/** One true map per space dataset and one year histogram panel per time dataset (all rows). */
export function overviewSpecs(points: RunPoints[], nycOutlines?: GeoJsonCollection): OverviewFigure[] {
  const figures: OverviewFigure[] = [];
  const seen = new Set<string>();
  for (const p of points) {
    if (p.kind !== 'space' || seen.has(p.datasetName)) continue;
    seen.add(p.datasetName);
    const kind = p.mapKind ?? 'world';
    const frame = mapFrame(kind, nycOutlines);
    const rows = strideRows(p.names.length, MAX_OVERVIEW_POINTS);
    const values = rows.map((i) => ({
      name: p.names[i],
      group: p.groupNames[p.group[i]!],
      lon: p.truth[0]![i],
      lat: p.truth[1]![i],
    }));
    const scale = 0.62;
    figures.push({
      slug: `overview-${p.datasetName}`,
      title: `${TITLES[kind]}: ${p.datasetName} (true positions)`,
      description: `What the probe must recover: ${values.length.toLocaleString('en-US')} entities${
        rows.length < p.names.length ? ` (every ${Math.ceil(p.names.length / rows.length)}th row)` : ''
      } at their true positions, coloured as the prediction maps.`,
      spec: {
        $schema: SCHEMA,
        datasets: frame.datasets,
        width: Math.round(frame.width * scale),
        height: Math.round(frame.height * scale),
        projection: frame.projection,
        layer: [
          ...(frame.outline ? [frame.outline] : []),
          {
            name: 'main',
            data: { values },
            mark: { type: 'circle', size: 6, fillOpacity: 0.7, strokeWidth: 0, clip: true },
            encoding: {
              longitude: { field: 'lon', type: 'quantitative' },
              latitude: { field: 'lat', type: 'quantitative' },
              color: groupColor(p.groupTitle, p.groupNames),
              tooltip: [
                { field: 'name', title: 'entity' },
                { field: 'group', title: p.groupTitle },
              ],
            },
          },
        ],
        config: BASE_CONFIG,
      },
      marks: values.length,
      canvas: values.length > 3000,
    });
  }
  const time = points.filter((p) => p.kind === 'time');
  const histograms = [...new Map(time.map((p) => [p.datasetName, p])).values()];
  if (histograms.length) {
    const values = histograms.flatMap((p) => yearBins(p.datasetName, p.truth[0]!, 50));
    const columns = Math.min(3, histograms.length);
    figures.push({
      slug: 'overview-years',
      title: 'Dates in the time datasets (50 bins)',
      description:
        'The distribution of true years: a probe that predicts the mean does well where it is narrow.',
      spec: {
        $schema: SCHEMA,
        data: { values },
        facet: { field: 'dataset', type: 'nominal', title: null, header: { labelFontWeight: 'bold' } },
        columns,
        spec: {
          width: columns === 1 ? 520 : 290,
          height: 150,
          layer: [
            {
              name: 'main',
              mark: { type: 'rect', color: '#4c78a8', stroke: 'white', strokeWidth: 0.3 },
              encoding: {
                x: {
                  field: 'from',
                  type: 'quantitative',
                  title: 'true year',
                  axis: { format: 'd' },
                  scale: { zero: false },
                },
                x2: { field: 'to' },
                y: { field: 'count', type: 'quantitative', title: 'entities' },
                tooltip: [
                  { field: 'from', format: '.0f' },
                  { field: 'to', format: '.0f' },
                  { field: 'count', title: 'entities' },
                ],
              },
            },
          ],
        },
        resolve: { scale: { x: 'independent', y: 'independent' } },
        config: BASE_CONFIG,
      },
      marks: values.length,
    });
  }
  return figures;
}

function paperRank(label: string): number {
  const i = PAPER_DATASETS.indexOf(label.split(' ')[0]!);
  return i < 0 ? 99 : i;
}

/** Equal-width bins over the range of the finite values (empty bins included). */
export function yearBins(
  dataset: string,
  years: number[],
  bins: number,
): { dataset: string; from: number; to: number; count: number }[] {
  const finite = years.filter(Number.isFinite);
  if (!finite.length) return [];
  const lo = finite.reduce((a, b) => Math.min(a, b));
  const hi = finite.reduce((a, b) => Math.max(a, b));
  const width = (hi - lo) / bins || 1;
  const counts = new Array<number>(bins).fill(0);
  for (const y of finite) counts[Math.min(bins - 1, Math.floor((y - lo) / width))]!++;
  return counts.map((count, i) => ({ dataset, from: lo + i * width, to: lo + (i + 1) * width, count }));
}

const TYPE_COLUMNS = ['entity_type', 'facility_t_name', 'occupation', 'news_desk', 'type'];
const TOP_TYPES = 5;

/** Box statistics of test proximity error per entity subtype, for each map run (`runs[i]` made `points[i]`). */
export function entityBoxes(points: RunPoints[], runs: ReportRun[]): Record<string, string | number>[] {
  const boxes: Record<string, string | number>[] = [];
  for (const [i, p] of points.entries()) {
    const run = runs[i];
    const table = run?.predictions;
    if (!run || !table) continue;
    const known = DATASETS[p.datasetName]?.entityTypeColumn;
    const col = [known, ...TYPE_COLUMNS].find((c) => c && run.columns?.[c]);
    if (!col) continue;
    const layers = [...table.proxError.keys()];
    if (!layers.length) continue;
    const layer = nearestLayer(layers, run.results.bestLayer ?? layers[layers.length - 1]!);
    const errors = table.proxError.get(layer)!;
    const byType = new Map<string, number[]>();
    table.rows.forEach((row, i) => {
      const v = errors[i]!;
      const type = run.columns![col]![row];
      if (!table.isTest[i] || !Number.isFinite(v) || !type) return;
      byType.set(type, [...(byType.get(type) ?? []), v]);
    });
    const types = [...byType].sort((a, b) => b[1].length - a[1].length).slice(0, TOP_TYPES);
    if (types.length < 2) continue;
    for (const [type, values] of types) {
      boxes.push({
        dataset: `${p.datasetName} · L${layer}`,
        type,
        n: values.length,
        p1: quantile(values, 0.01),
        q1: quantile(values, 0.25),
        median: quantile(values, 0.5),
        q3: quantile(values, 0.75),
        p99: quantile(values, 0.99),
      });
    }
  }
  return boxes;
}

/** The paper's entity_errors figure: one panel per dataset, a box per subtype. */
export function entityBoxSpec(points: RunPoints[], runs: ReportRun[]): OverviewFigure | undefined {
  const boxes = entityBoxes(points, runs);
  if (!boxes.length) return undefined;
  const datasets = [...new Set(boxes.map((b) => b.dataset as string))].sort(
    (a, b) => paperRank(a) - paperRank(b) || a.localeCompare(b),
  );
  const columns = Math.min(3, datasets.length);
  const y = { field: 'type', type: 'nominal', title: null, sort: null, axis: { labelLimit: 110 } };
  const tooltip = ['type', 'n', 'p1', 'q1', 'median', 'q3', 'p99'].map((f) => ({
    field: f,
    ...(f === 'type' || f === 'n' ? {} : { format: '.3f' }),
  }));
  return {
    slug: 'entity-type-error-boxes',
    title: 'Test proximity error by entity type',
    description:
      'Boxes: quartiles; whiskers: 1st and 99th percentiles (as the paper). Look for similar boxes: one representation serves every type.',
    spec: {
      $schema: SCHEMA,
      data: { values: boxes },
      facet: {
        field: 'dataset',
        type: 'nominal',
        title: null,
        sort: datasets,
        header: { labelFontWeight: 'bold' },
      },
      columns,
      spec: {
        width: columns === 1 ? 480 : 260,
        height: { step: 22 },
        layer: [
          {
            mark: { type: 'rule', color: '#555' },
            encoding: {
              y,
              x: {
                field: 'p1',
                type: 'quantitative',
                title: 'test proximity error',
                scale: { domain: [0, 1] },
              },
              x2: { field: 'p99' },
              tooltip,
            },
          },
          {
            name: 'main',
            mark: { type: 'bar', size: 14, color: '#9ecae9', stroke: '#4c78a8' },
            encoding: { y, x: { field: 'q1', type: 'quantitative' }, x2: { field: 'q3' }, tooltip },
          },
          {
            mark: { type: 'tick', color: '#1d232a', thickness: 2, size: 14 },
            encoding: { y, x: { field: 'median', type: 'quantitative' }, tooltip },
          },
        ],
      },
      resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
      config: BASE_CONFIG,
    },
    marks: boxes.length,
  };
}
