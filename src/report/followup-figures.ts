/**
 * Report sections of the follow-up methods (docs/experiments.md#pls, #spatial, #bias, #negative-controls,
 * docs/method.md#target-variants): PLS-k curves beside PCA-k and the ridge, LISA maps of the most spatially
 * organised units, the probe's error against fame and per region, negative-control targets beside the real ones,
 * and the globe / log-time probes beside the plain ones.
 */
import { modelDisplayName } from '../util/paths.js';
import {
  type DepthOf,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  htmlTable,
} from './experiment-figures.js';
import { PAPER_DATASET_TITLES, PAPER_DATASETS } from './paper-reference.js';
import { BASE_CONFIG, mapFrame, OUTLINE_MARK, outlineData, type VlSpec } from './specs.js';
import type { GeoJsonCollection, MapKind, ReportRun } from './types.js';

type Cell = number | string | boolean | null;
type Row = Record<string, Cell>;

export const FOLLOWUP_EXPERIMENTS = new Set(['pls', 'spatial', 'bias', 'negative-controls']);

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const MAIN = 'main';
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const title = (d: string) => PAPER_DATASET_TITLES[d] ?? d;
const num = (v: Cell | undefined) => (finite(v) ? v : null);
const int = (v: Cell | undefined) => (finite(v) ? String(Math.round(v)) : '–');
/** An error in its unit: whole km, years to one decimal. */
const err = (v: Cell | undefined, unit: unknown) =>
  finite(v) ? (unit === 'km' ? v.toFixed(0) : v.toFixed(1)) : '–';

function datasetOrder(names: string[]): string[] {
  const rank = (d: string) => {
    const i = PAPER_DATASETS.indexOf(d);
    return i < 0 ? 99 : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** One panel per dataset within the 1,240 px page (at most three across). */
function facet(values: unknown[], datasets: string[], layers: VlSpec[], independentY = false): VlSpec {
  const columns = Math.min(3, Math.max(1, datasets.length));
  const width = columns === 1 ? 520 : columns === 2 ? 420 : 290;
  return {
    $schema: SCHEMA,
    data: { values },
    facet: {
      field: 'dataset',
      type: 'nominal',
      title: null,
      sort: datasets.map(title),
      header: { labelFontSize: 13, labelFontWeight: 'bold' },
    },
    columns,
    spec: { width, height: 190, layer: layers },
    resolve: {
      axis: { x: 'independent', y: 'independent' },
      ...(independentY && { scale: { y: 'independent' } }),
    },
    config: {
      ...BASE_CONFIG,
      legend: { ...BASE_CONFIG.legend, orient: 'bottom', columns: 4, labelLimit: 320 },
    },
  };
}

/** The docs of one experiment, in the paper's dataset order. */
function ofExperiment(docs: ExperimentDoc[], name: string): ExperimentDoc[] {
  const order = datasetOrder(docs.map((d) => d.dataset));
  return docs
    .filter((d) => d.experiment === name)
    .sort((a, b) => order.indexOf(a.dataset) - order.indexOf(b.dataset));
}

const mapKindOf = (dataset: string): MapKind =>
  dataset.startsWith('us') ? 'us' : dataset.startsWith('nyc') ? 'nyc' : 'world';

// ---------------------------------------------------------------- PLS (docs/experiments.md#pls)

function plsSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = ofExperiment(docs, 'pls');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const multi = new Set(list.map((d) => d.model)).size > 1;
  const prefix = (doc: ExperimentDoc) => (multi ? `${modelDisplayName(doc.model)} · ` : '');
  const curves = list.flatMap((doc) =>
    doc.table
      .filter((r) => (r['method'] === 'pls' || r['method'] === 'pca') && finite(r['test_r2']))
      .map((r) => ({
        dataset: title(doc.dataset),
        series: `${prefix(doc)}${r['method'] === 'pls' ? 'PLS' : 'PCA'}-k`,
        k: r['k'],
        r2: r['test_r2'],
      })),
  );
  const ridge = list.flatMap((doc) =>
    doc.table
      .filter((r) => r['method'] === 'ridge' && finite(r['test_r2']))
      .map((r) => ({
        dataset: title(doc.dataset),
        series: `${prefix(doc)}ridge, all d`,
        r2: r['test_r2'],
        ridge: true,
      })),
  );
  const color = { field: 'series', type: 'nominal', title: null };
  const enc = {
    x: {
      field: 'k',
      type: 'quantitative',
      title: 'components k',
      scale: { type: 'log', domain: [1, Math.max(2, ...curves.map((c) => c.k as number))], nice: false },
      axis: {
        values: [1, 2, 4, 8, 16, 32, 64, 128].filter(
          (v) => v <= Math.max(...curves.map((c) => c.k as number)),
        ),
      },
    },
    y: { field: 'r2', type: 'quantitative', title: 'test R²' },
    color,
    tooltip: [{ field: 'series' }, { field: 'k' }, { field: 'r2', format: '.3f', title: 'test R²' }],
  };
  const notRidge = { filter: 'datum.ridge !== true' };
  const table = htmlTable(
    ['model · dataset · layer', 'ridge R²', 'best PLS R²', 'at k', 'k for 90% of ridge', 'k for 95%'],
    list.map((doc) => ({
      cells: [
        `${modelDisplayName(doc.model)} · ${title(doc.dataset)} · ${doc.layer}`,
        num(doc.summary?.['ridge_test_r2']),
        num(doc.summary?.['best_pls_test_r2']),
        finite(doc.summary?.['best_pls_k']) ? String(doc.summary!['best_pls_k']) : '–',
        finite(doc.summary?.['pls_k_for_90pct_ridge']) ? String(doc.summary!['pls_k_for_90pct_ridge']) : '–',
        finite(doc.summary?.['pls_k_for_95pct_ridge']) ? String(doc.summary!['pls_k_for_95pct_ridge']) : '–',
      ],
    })),
    'PLS components needed to reach the full ridge probe (test R²)',
  );
  return {
    id: 'pls',
    title: 'PLS probes (Heinzerling & Inui 2024)',
    intro:
      'Partial least squares picks, one at a time, the directions of the activations that covary most with the target. If a handful of them reach the full ridge probe, the attribute lives in a low-dimensional subspace.',
    tables: [table],
    figures: [
      {
        slug: 'pls-k',
        title: 'Test R² against the number of components: PLS-k, PCA-k and the ridge',
        caption:
          'Look for the PLS curve meeting the dashed ridge line within a few components while PCA-k is still far below it: the target is carried by a few directions that are not the directions of largest variance.',
        spec: facet(
          [...curves, ...ridge],
          datasets,
          [
            { transform: [notRidge], mark: { type: 'line', strokeWidth: 1.8 }, encoding: enc },
            {
              name: MAIN,
              transform: [notRidge],
              mark: { type: 'point', filled: true, size: 30 },
              encoding: enc,
            },
            {
              transform: [{ filter: 'datum.ridge === true' }],
              mark: { type: 'rule', strokeDash: [5, 3], strokeWidth: 1.5 },
              encoding: { y: { field: 'r2', type: 'quantitative' }, color },
            },
          ],
          true,
        ),
        marks: curves.length,
      },
    ],
  };
}

// ---------------------------------------------------------------- spatial autocorrelation (#spatial)

interface UnitMap {
  source: string;
  unit: number;
  I: number;
  pSim: number;
  hotShare: number;
  coldShare: number;
  points: [number, number, number, number, number][];
}

const LISA_DOMAIN = ['high-high', 'low-low', 'low-high', 'high-low', 'not significant'];
const LISA_RANGE = ['#d7191c', '#2c7bb6', '#abd9e9', '#fdae61', '#d9d9d9'];
const QUADRANT = ['', 'high-high', 'low-high', 'low-low', 'high-low'];
const SOURCE_NAMES: Record<string, string> = {
  neurons: 'neuron',
  residual: 'residual dim',
  sae: 'SAE feature',
};

function spatialMaps(doc: ExperimentDoc, nycOutlines?: GeoJsonCollection): ExpFigure | undefined {
  const maps = (doc.figures?.['maps'] as UnitMap[] | undefined)?.slice(0, 12);
  if (!maps?.length) return undefined;
  const kind = mapKindOf(doc.dataset);
  const outline = outlineData(kind, nycOutlines);
  const projection = mapFrame(kind, nycOutlines).projection;
  const points = maps.flatMap((m, index) =>
    m.points.map((p) => ({
      panel: index,
      lon: p[0],
      lat: p[1],
      value: p[2],
      cluster: p[4] ? QUADRANT[p[3]]! : 'not significant',
    })),
  );
  const cell = (m: UnitMap, index: number) => ({
    title: {
      text: `${SOURCE_NAMES[m.source] ?? m.source} ${m.unit} · I = ${m.I.toFixed(2)} · p = ${Number(m.pSim.toPrecision(2))}`,
      fontSize: 11,
    },
    width: 266,
    height: kind === 'nyc' ? 230 : kind === 'us' ? 160 : 135,
    projection,
    layer: [
      ...(outline ? [{ data: outline.data, mark: { ...OUTLINE_MARK, strokeWidth: 0.4, clip: true } }] : []),
      {
        name: `${MAIN}_${index}`,
        data: { name: 'points' },
        transform: [{ filter: { field: 'panel', equal: index } }],
        mark: { type: 'circle', size: 6, opacity: 0.8, clip: true },
        encoding: {
          longitude: { field: 'lon', type: 'quantitative' },
          latitude: { field: 'lat', type: 'quantitative' },
          color: {
            field: 'cluster',
            type: 'nominal',
            title: 'LISA cluster (p ≤ 0.05)',
            scale: { domain: LISA_DOMAIN, range: LISA_RANGE },
          },
          order: { field: 'cluster', sort: 'descending' },
          tooltip: [{ field: 'cluster' }, { field: 'value', title: 'activation' }],
        },
      },
    ],
  });
  return {
    slug: `spatial-lisa-${doc.dataset}`,
    title: `Most spatially organised units: ${title(doc.dataset)} (${modelDisplayName(doc.model)}, layer ${doc.layer})`,
    caption:
      "Each panel is one unit, ranked by Moran's I (k-NN on the sphere); places are coloured by their local Moran (LISA) cluster. Look for large red (high-high) and blue (low-low) patches: a unit that is on over one region and off over another. Grey places are not significant at p ≤ 0.05.",
    spec: {
      $schema: SCHEMA,
      datasets: { points, ...outline?.datasets },
      concat: maps.map(cell),
      columns: 4,
      spacing: 10,
      config: {
        ...BASE_CONFIG,
        view: { stroke: '#dde1e6' },
        legend: { ...BASE_CONFIG.legend, orient: 'top', direction: 'horizontal' },
      },
    },
    marks: points.length,
  };
}

function spatialSection(docs: ExperimentDoc[], nycOutlines?: GeoJsonCollection): ExpSection | undefined {
  const list = ofExperiment(docs, 'spatial');
  if (!list.length) return undefined;
  const rows = list.flatMap((doc) => {
    const sources = (doc.tables?.['sources']?.rows ?? []) as Row[];
    return doc.table
      .filter((r) => finite(r['rank']) && (r['rank'] as number) <= 5)
      .map((r) => {
        const s = sources.find((x) => x['source'] === r['source']);
        return {
          cells: [
            `${modelDisplayName(doc.model)} · ${title(doc.dataset)} · layer ${doc.layer} · ${SOURCE_NAMES[String(r['source'])] ?? r['source']} ${r['unit']}`,
            num(r['moran_i']),
            num(r['z_rand']),
            finite(r['p_sim']) ? String(Number((r['p_sim'] as number).toPrecision(2))) : '–',
            s ? `${s['bonferroni_significant']} of ${s['units']}` : '–',
          ],
        };
      });
  });
  const table = htmlTable(
    ['unit', "Moran's I", 'z (randomisation)', 'permutation p', 'units significant (Bonferroni)'],
    rows,
    "Top units by Moran's I per model, dataset and unit kind",
  );
  return {
    id: 'spatial',
    title: 'Spatial autocorrelation of neurons and features',
    intro:
      "Moran's I asks whether a unit's activation is similar at neighbouring places (I near 1) or unrelated to place (I near 0), without assuming any linear code of latitude and longitude.",
    tables: [table],
    figures: list.map((d) => spatialMaps(d, nycOutlines)).filter((f): f is ExpFigure => f !== undefined),
  };
}

// ---------------------------------------------------------------- fame and region bias (#bias)

function biasFameFigure(list: ExperimentDoc[]): ExpFigure | undefined {
  const values = list.flatMap((doc) =>
    ((doc.tables?.['bins']?.rows ?? []) as Row[])
      .filter((r) => finite(r['median_error']))
      .map((r) => ({
        dataset: `${title(doc.dataset)} (${doc.settings?.['unit'] ?? ''})`,
        series: `${modelDisplayName(doc.model)} · ${r['column'] === 'page_views' ? 'page views' : 'population'}`,
        x: ((r['log10_lo'] as number) + (r['log10_hi'] as number)) / 2,
        median: r['median_error'],
        mean: r['mean_error'],
        n: r['n'],
        unit: String(doc.settings?.['unit'] ?? ''),
      })),
  );
  if (!values.length) return undefined;
  const unitOf = new Map(list.map((d) => [d.dataset, String(d.settings?.['unit'] ?? '')]));
  const datasets = datasetOrder(list.map((d) => d.dataset)).map((d) => `${title(d)} (${unitOf.get(d)})`);
  const enc = {
    x: {
      field: 'x',
      type: 'quantitative',
      title: 'log10 page views / population (quintile middle)',
      scale: { zero: false },
    },
    y: { field: 'median', type: 'quantitative', title: 'median test error' },
    color: { field: 'series', type: 'nominal', title: null },
    tooltip: [
      { field: 'series' },
      { field: 'x', format: '.2f', title: 'log10' },
      { field: 'median', format: '.1f', title: 'median error' },
      { field: 'mean', format: '.1f', title: 'mean error' },
      { field: 'unit' },
      { field: 'n' },
    ],
  };
  return {
    slug: 'bias-fame',
    title: "The probe's error against fame: median test error per fifth of page views (and of population)",
    caption:
      'Look for the line falling from left to right: entities with more page views (or larger places) are placed or dated better, so a probe’s average hides how much it depends on how often the model read the name.',
    spec: facet(
      values,
      datasets,
      [
        { mark: { type: 'line', strokeWidth: 1.8 }, encoding: enc },
        { name: MAIN, mark: { type: 'point', filled: true, size: 40 }, encoding: enc },
      ],
      true,
    ),
    marks: values.length,
  };
}

function biasMap(doc: ExperimentDoc, nycOutlines?: GeoJsonCollection): ExpFigure | undefined {
  if (doc.kind !== 'space') return undefined;
  const groups = ((doc.tables?.['groups']?.rows ?? []) as Row[]).filter(
    (r) =>
      r['by'] !== 'continent' &&
      r['by'] !== 'entity_type' &&
      finite(r['centroid_lon']) &&
      finite(r['median_error']),
  );
  if (!groups.length) return undefined;
  const by = String(groups[0]!['by']);
  const kind = mapKindOf(doc.dataset);
  const frame = mapFrame(kind, nycOutlines);
  const values = groups
    .filter((r) => r['by'] === by)
    .map((r) => ({
      group: r['group'],
      lon: r['centroid_lon'],
      lat: r['centroid_lat'],
      n: r['n'],
      share: r['share'],
      median: r['median_error'],
      mean: r['mean_error'],
    }));
  return {
    slug: `bias-map-${doc.dataset}`,
    title: `Median test error per ${by}: ${title(doc.dataset)} (${modelDisplayName(doc.model)}, layer ${doc.layer})`,
    caption: `One circle per ${by} at the spherical mean of its places; area = test rows, colour = median great-circle error. Look for where the data are dense (large circles) and whether the error is small there and large where the dataset is thin.`,
    spec: {
      $schema: SCHEMA,
      width: Math.min(frame.width, 900),
      height: Math.min(frame.height, 450),
      projection: frame.projection,
      datasets: frame.datasets,
      layer: [
        ...(frame.outline ? [frame.outline] : []),
        {
          name: MAIN,
          data: { values },
          mark: { type: 'circle', opacity: 0.8, stroke: '#333', strokeWidth: 0.3 },
          encoding: {
            longitude: { field: 'lon', type: 'quantitative' },
            latitude: { field: 'lat', type: 'quantitative' },
            size: { field: 'n', type: 'quantitative', title: 'test rows', scale: { range: [10, 900] } },
            color: {
              field: 'median',
              type: 'quantitative',
              title: 'median error (km)',
              scale: { scheme: 'orangered', type: 'log' },
            },
            order: { field: 'n', sort: 'descending' },
            tooltip: [
              { field: 'group', title: by },
              { field: 'n', title: 'test rows' },
              { field: 'share', format: '.1%', title: 'share of dataset' },
              { field: 'median', format: '.0f', title: 'median km' },
              { field: 'mean', format: '.0f', title: 'mean km' },
            ],
          },
        },
      ],
      config: { ...BASE_CONFIG, legend: { ...BASE_CONFIG.legend, orient: 'right' } },
    },
    marks: values.length,
  };
}

function biasSection(docs: ExperimentDoc[], nycOutlines?: GeoJsonCollection): ExpSection | undefined {
  const list = ofExperiment(docs, 'bias');
  if (!list.length) return undefined;
  const slopes = htmlTable(
    ['model · dataset · layer · column', 'rows', 'slope per ×10', '± SE', 'Spearman ρ', 'median error'],
    list.flatMap((doc) =>
      doc.table.map((r) => ({
        cells: [
          `${modelDisplayName(doc.model)} · ${title(doc.dataset)} · ${doc.layer} · log10 ${r['column']}`,
          int(r['n']),
          `${err(r['slope'], doc.settings?.['unit'])} ${doc.settings?.['unit'] ?? ''}`,
          err(r['slope_se'], doc.settings?.['unit']),
          num(r['spearman']),
          `${err(doc.summary?.['median_error'], doc.settings?.['unit'])} ${doc.settings?.['unit'] ?? ''}`,
        ],
      })),
    ),
    'Error regressed on log10 page views and population (test rows; negative slope: famous entities are predicted better)',
  );
  const regions = htmlTable(
    ['model · dataset · group', 'share of rows', 'test rows', 'median error', 'mean error'],
    list.flatMap((doc) => {
      const rows = (doc.tables?.['groups']?.rows ?? []) as Row[];
      const unit = doc.settings?.['unit'];
      return [...new Set(rows.map((r) => r['by']))].flatMap((by) =>
        rows
          .filter((r) => r['by'] === by)
          .slice(0, 7)
          .map((r) => ({
            cells: [
              `${modelDisplayName(doc.model)} · ${title(doc.dataset)} · ${r['by']} ${r['group']}`,
              finite(r['share']) ? `${((r['share'] as number) * 100).toFixed(1)}%` : '–',
              int(r['n']),
              err(r['median_error'], unit),
              err(r['mean_error'], unit),
            ],
          })),
      );
    }),
    'Largest groups (up to 7 per grouping, by test rows): their share of the dataset and the probe’s error on them',
  );
  const figures = [biasFameFigure(list), ...list.map((d) => biasMap(d, nycOutlines))].filter(
    (f): f is ExpFigure => f !== undefined,
  );
  return {
    id: 'bias',
    title: 'Fame and region bias',
    intro:
      "Where and for whom is the probe right? The per-entity test error against how often the entity's page is read, and per continent, country or state beside each group's share of the dataset.",
    tables: [slopes, regions],
    figures,
  };
}

// ---------------------------------------------------------------- negative controls (#negative-controls)

function negativeControlsSection(docs: ExperimentDoc[], depthOf: DepthOf): ExpSection | undefined {
  const list = ofExperiment(docs, 'negative-controls');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const multi = new Set(list.map((d) => d.model)).size > 1;
  const values = list.flatMap((doc) => {
    const last = Math.max(1, ...doc.table.map((r) => (finite(r['layer']) ? (r['layer'] as number) : 0)));
    return doc.table
      .filter((r) => finite(r['test_r2']) && finite(r['layer']))
      .map((r) => ({
        dataset: title(doc.dataset),
        series: `${multi ? `${modelDisplayName(doc.model)} · ` : ''}${r['target']}`,
        kind:
          r['kind'] === 'real'
            ? 'real targets'
            : r['kind'] === 'permuted'
              ? 'permuted targets'
              : 'random smooth fields',
        depth: (r['layer'] as number) / depthOf(doc.model, last),
        layer: r['layer'],
        r2: r['test_r2'],
      }));
  });
  const enc = {
    x: {
      field: 'depth',
      type: 'quantitative',
      title: 'normalized depth (layer / last layer)',
      scale: { domain: [0, 1] },
    },
    y: { field: 'r2', type: 'quantitative', title: 'test R²' },
    color: {
      field: 'kind',
      type: 'nominal',
      title: null,
      scale: {
        domain: ['real targets', 'random smooth fields', 'permuted targets'],
        range: ['#1f77b4', '#9aa3ad', '#e45756'],
      },
    },
    detail: { field: 'series' },
    tooltip: [{ field: 'series' }, { field: 'layer' }, { field: 'r2', format: '.3f', title: 'test R²' }],
  };
  const table = htmlTable(
    ['model · dataset', 'best real R²', 'best permuted R²', 'best field R²'],
    list.map((doc) => ({
      cells: [
        `${modelDisplayName(doc.model)} · ${title(doc.dataset)}`,
        num(doc.summary?.['max_real_test_r2']),
        num(doc.summary?.['max_permuted_test_r2']),
        num(doc.summary?.['max_field_test_r2']),
      ],
    })),
    'Negative-control targets through the same probe (test R², best layer)',
  );
  return {
    id: 'negative-controls',
    title: 'Negative-control targets',
    intro:
      'The same probe on attributes the model has no reason to encode linearly: the real targets permuted among entities, and random smooth fields of position (or date) with every linear function of the true position removed.',
    tables: [table],
    figures: [
      {
        slug: 'negative-controls-by-layer',
        title: 'Real targets beside permuted targets and random smooth fields: test R² by layer',
        caption:
          "Look for a wide gap between the blue line and every control: permuted targets (red) sit at or below 0, and the grey fields show how much of an arbitrary smooth function of place or date a probe picks up. A real target's R² means something only above the grey lines.",
        spec: facet(values, datasets, [
          { mark: { type: 'line', strokeWidth: 1.6 }, encoding: enc },
          { name: MAIN, mark: { type: 'point', filled: true, size: 25 }, encoding: enc },
        ]),
        marks: values.length,
      },
    ],
  };
}

// ---------------------------------------------------------------- target variants (docs/method.md#target-variants)

/** A run's probe target when not the dataset's own: ' · globe probe', ' · log-time probe', else ''. */
export function targetVariantSuffix(run: ReportRun): string {
  const target = run.results.settings?.['target'];
  return target === 'globe' || target === 'log-time' ? ` · ${target} probe` : '';
}

function bestLayerOf(run: ReportRun) {
  const layers = run.results.layers.filter((l) => finite(l.test.r2));
  return layers.reduce<(typeof layers)[number] | undefined>(
    (b, l) => (!b || l.test.r2 > b.test.r2 ? l : b),
    undefined,
  );
}

function targetVariantsSection(runs: ReportRun[]): ExpSection | undefined {
  const variants = runs.filter((r) => targetVariantSuffix(r));
  if (!variants.length) return undefined;
  const rows = variants.flatMap((v) => {
    const native = runs.find(
      (r) =>
        !targetVariantSuffix(r) &&
        r.results.model === v.results.model &&
        r.results.dataset === v.results.dataset &&
        r.results.prompt === v.results.prompt &&
        (r.results.hook ?? '') === (v.results.hook ?? ''),
    );
    const line = (run: ReportRun, label: string) => {
      const best = bestLayerOf(run);
      const fit = (best as { fitR2?: { test?: number } } | undefined)?.fitR2?.test;
      return {
        cells: [
          `${modelDisplayName(run.results.model)} · ${title(run.results.dataset)} · ${label}`,
          best ? String(best.layer) : '–',
          num(best?.test.r2),
          num(best?.test.proxError),
          run.results.kind === 'space' ? num(best?.test.haversineMaeKm) : num(best?.test.mae),
          num(fit),
        ],
      };
    };
    const plain = v.results.kind === 'space' ? 'longitude, latitude' : 'year';
    return [...(native ? [line(native, plain)] : []), line(v, String(v.results.settings?.['target']))];
  });
  return {
    id: 'target-variants',
    title: 'Globe and log-time probes',
    intro:
      'The same ridge probe fitted on other targets: the 3-D unit vector of each place (predictions projected back onto the sphere; no ±180° seam) and ln(reference year − year) (Li et al. 2025). Both are scored on longitude/latitude and years like the plain probe (their lines in the main figure). R² on longitude and latitude rewards predictions pulled towards the mean, which a point on the sphere is not: compare the km and proximity errors too.',
    tables: [
      htmlTable(
        [
          'model · dataset · target',
          'best layer',
          'test R²',
          'proximity error',
          'mean km / MAE years',
          'R² on fitted target',
        ],
        rows,
        'Best layer of each probe (R², proximity error and errors on lon/lat or years; last column: R² on x, y, z or on the log distance)',
      ),
    ],
    figures: [],
  };
}

/** The follow-up sections present in these inputs, in reading order. */
export function followupSections(
  docs: ExperimentDoc[],
  runs: ReportRun[],
  depthOf: DepthOf,
  nycOutlines?: GeoJsonCollection,
): ExpSection[] {
  return [
    targetVariantsSection(runs),
    plsSection(docs),
    negativeControlsSection(docs, depthOf),
    biasSection(docs, nycOutlines),
    spatialSection(docs, nycOutlines),
  ].filter((s): s is ExpSection => s !== undefined);
}
