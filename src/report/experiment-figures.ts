/**
 * Dedicated figures and tables for the result files of `experiment`, `neurons`, `intervene` and `familiarity`
 * (schema `spacetime-lens/experiment@1`), drawn the way the paper draws them (docs/method.md#mlp, #pca,
 * #block-holdout, #entity-holdout, #prompt-experiments, #neurons, #interventions, #familiarity). Results of the same
 * experiment for several datasets and models share one figure: one panel per dataset, one colour per model.
 */

import { modelDisplayName } from '../util/paths.js';
import { escapeHtml } from './escape.js';
import {
  PAPER_DATASET_TITLES,
  PAPER_DATASETS,
  PAPER_HOLDOUT,
  PAPER_LINEAR_MLP,
  PAPER_TRANSFER,
  paperPromptMatches,
} from './paper-reference.js';
import { BASE_CONFIG, mapFrame, OUTLINE_MARK, outlineData, type VlSpec } from './specs.js';
import type { GeoJsonCollection } from './types.js';

type Cell = number | string | boolean | null;
type Row = Record<string, Cell>;

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

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const MAIN = 'main'; // name of each figure's counted layer (vega mark "main_marks")

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const datasetTitle = (d: string) => PAPER_DATASET_TITLES[d] ?? d;
const datasetOrder = (names: string[]) =>
  [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(d: string): number {
  const i = PAPER_DATASETS.indexOf(d);
  return i < 0 ? 99 : i;
}

function fmt(v: Cell | undefined, digits = 3): string {
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
function panel(n: number): { width: number; height: number; columns: number } {
  const columns = Math.min(3, Math.max(1, n));
  return { width: columns === 1 ? 520 : columns === 2 ? 420 : 290, height: 180, columns };
}

/** Test R² against normalized depth, one colour per series: the encoding of every by-layer experiment curve. */
function depthR2Encoding(colorTitle: string): VlSpec {
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

function facetSpec(values: unknown[], datasets: string[], layers: VlSpec[], extra: VlSpec = {}): VlSpec {
  const p = panel(datasets.length);
  return {
    $schema: SCHEMA,
    data: { values },
    facet: {
      field: 'dataset',
      type: 'nominal',
      title: null,
      sort: datasets,
      header: { labelFontSize: 13, labelFontWeight: 'bold' },
    },
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

const pointLayer = (encoding: VlSpec, mark: VlSpec = {}): VlSpec => ({
  name: MAIN,
  mark: { type: 'point', filled: true, size: 45, ...mark },
  encoding,
});
const lineLayer = (encoding: VlSpec): VlSpec => ({ mark: { type: 'line', strokeWidth: 1.8 }, encoding });

function byExperiment(docs: ExperimentDoc[], name: string): ExperimentDoc[] {
  return docs.filter((d) => d.experiment === name);
}

/** layer / last layer of the model (from the probe runs when known, else the result's own layers). */
export type DepthOf = (model: string, fallbackLast: number) => number;

// ---------------------------------------------------------------- linear vs MLP (docs/method.md#mlp)

function mlpSection(docs: ExperimentDoc[], depthOf: DepthOf): ExpSection | undefined {
  const mlp = byExperiment(docs, 'mlp');
  if (!mlp.length) return undefined;
  const datasets = datasetOrder(mlp.map((d) => d.dataset));
  const models = [...new Set(mlp.map((d) => d.model))];
  const rows: { cells: (string | number | null)[]; reference?: boolean }[] = [];
  for (const model of models) {
    for (const probe of ['linear', 'mlp']) {
      const cells = datasets.map((ds) => {
        const doc = mlp.find((d) => d.model === model && d.dataset === ds);
        const r = doc
          ? atPaperLayer(
              doc.table.filter((t) => t['probe'] === probe),
              doc.layer,
            )
          : undefined;
        return finite(r?.['test_r2']) ? (r!['test_r2'] as number) : null;
      });
      rows.push({ cells: [`${modelDisplayName(model)} · ${probe === 'mlp' ? 'MLP' : 'Linear'}`, ...cells] });
    }
  }
  // The paper ran these on its canonical prompts: its rows only where a run used the same prompt.
  const matched = new Set(mlp.filter((d) => paperPromptMatches(d.dataset, d.prompt)).map((d) => d.dataset));
  if (matched.size) {
    for (const ref of PAPER_LINEAR_MLP) {
      for (const probe of ['linear', 'mlp'] as const) {
        rows.push({
          cells: [
            `paper, ${ref.model}, layer ${ref.layer} · ${probe === 'mlp' ? 'MLP' : 'Linear'}`,
            ...datasets.map((d) => (matched.has(d) ? (ref[probe][d] ?? null) : null)),
          ],
          reference: true,
        });
      }
    }
  }
  const table = htmlTable(
    ['model · probe', ...datasets.map(datasetTitle)],
    rows,
    'Test R², linear ridge vs MLP probe',
  );
  const values = mlp.flatMap((doc) =>
    doc.table
      .filter((r) => finite(r['test_r2']) && finite(r['layer']))
      .map((r) => ({
        dataset: doc.dataset,
        series: `${modelDisplayName(doc.model)} · ${r['probe'] === 'mlp' ? 'MLP' : 'linear'}`,
        layer: r['layer'],
        depth: (r['layer'] as number) / depthOf(doc.model, maxLayer(doc.table)),
        r2: r['test_r2'],
      })),
  );
  const enc = depthR2Encoding('model · probe');
  return {
    id: 'mlp',
    title: 'Linear vs MLP probe',
    intro:
      'If the representation is linear, a nonlinear MLP probe should do little better than the ridge probe.',
    tables: [table],
    figures: [
      {
        slug: 'linear-vs-mlp-by-layer',
        title: 'Linear vs MLP probe: test R² by layer',
        caption:
          'Look for the MLP line close to the linear one: a small gap means the features are linearly decodable.',
        spec: facetSpec(values, datasets, [lineLayer(enc), pointLayer(enc)]),
        marks: values.length,
      },
    ],
  };
}

function maxLayer(rows: Row[]): number {
  return Math.max(1, ...rows.map((r) => (finite(r['layer']) ? (r['layer'] as number) : 0)));
}

function atPaperLayer(rows: Row[], layer: number | null): Row | undefined {
  if (!rows.length) return undefined;
  if (layer === null) return rows[rows.length - 1];
  return rows.find((r) => r['layer'] === layer) ?? rows[rows.length - 1];
}

// ---------------------------------------------------------------- prompts (docs/method.md#prompt-experiments)

function promptsSection(docs: ExperimentDoc[], depthOf: DepthOf): ExpSection | undefined {
  const list = byExperiment(docs, 'prompts');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const multiModel = new Set(list.map((d) => d.model)).size > 1;
  const values = list.flatMap((doc) =>
    doc.table
      .filter((r) => finite(r['test_r2']))
      .map((r) => ({
        dataset: doc.dataset,
        series: multiModel ? `${modelDisplayName(doc.model)} · ${r['prompt']}` : String(r['prompt']),
        layer: r['layer'],
        depth: (r['layer'] as number) / depthOf(doc.model, maxLayer(doc.table)),
        r2: r['test_r2'],
      })),
  );
  const enc = depthR2Encoding(multiModel ? 'model · prompt' : 'prompt');
  const head = [
    'model',
    ...datasets.flatMap((d) => [`${datasetTitle(d)} same`, `${datasetTitle(d)} different`]),
  ];
  const tables: string[] = [];
  for (const metric of ['spearman', 'r2'] as const) {
    const rows: { cells: (string | number | null)[]; reference?: boolean }[] = [];
    for (const model of new Set(list.map((d) => d.model))) {
      rows.push({
        cells: [
          modelDisplayName(model),
          ...datasets.flatMap((ds) => {
            const s = list.find((d) => d.model === model && d.dataset === ds)?.summary ?? {};
            const same = s[`same_test_${metric}`];
            const diff = s[`different_test_${metric}`];
            return [finite(same) ? same : null, finite(diff) ? diff : null];
          }),
        ],
      });
    }
    if (datasets.some((d) => PAPER_DATASETS.includes(d))) {
      for (const ref of PAPER_TRANSFER) {
        rows.push({
          cells: [
            `paper, ${ref.model}, layer ${ref.layer}`,
            ...datasets.flatMap((d) => ref[metric][d] ?? [null, null]),
          ],
          reference: true,
        });
      }
    }
    tables.push(
      htmlTable(
        head,
        rows,
        `Prompt transfer, test ${metric === 'r2' ? 'R²' : 'Spearman'}: probe trained on the same prompt vs a different one (mean)`,
      ),
    );
  }
  return {
    id: 'prompts',
    title: 'Prompts',
    intro: 'The representation should not depend much on the words around the entity.',
    tables,
    figures: [
      {
        slug: 'prompts-r2-by-layer',
        title: 'Prompt sensitivity: test R² by layer, one line per prompt',
        caption:
          'Look for the prompts to converge in the middle layers; the empty and random prompts lag at first.',
        spec: facetSpec(values, datasets, [lineLayer(enc), pointLayer(enc, { size: 25 })]),
        marks: values.length,
      },
    ],
  };
}

// ---------------------------------------------------------------- hold-outs (docs/method.md#block-holdout, #entity-holdout)

function holdoutTable(list: ExperimentDoc[], which: 'block' | 'entity'): string {
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const rows: { cells: (string | number | null)[]; reference?: boolean }[] = [];
  for (const model of new Set(list.map((d) => d.model))) {
    rows.push({
      cells: [
        modelDisplayName(model),
        ...datasets.flatMap((ds) => {
          const s = list.find((d) => d.model === model && d.dataset === ds)?.summary ?? {};
          return [s['nominal_prox_error'], s['heldout_prox_error']].map((v) => (finite(v) ? v : null));
        }),
      ],
    });
  }
  // The paper ran these on its canonical prompts: its rows only where a run used the same prompt.
  const matched = new Set(list.filter((d) => paperPromptMatches(d.dataset, d.prompt)).map((d) => d.dataset));
  if (matched.size) {
    for (const ref of PAPER_HOLDOUT)
      rows.push({
        cells: [
          `paper, ${ref.model}, layer ${ref.layer}`,
          ...datasets.flatMap((d) => (matched.has(d) ? (ref[which][d] ?? [null, null]) : [null, null])),
        ],
        reference: true,
      });
  }
  return htmlTable(
    ['model', ...datasets.flatMap((d) => [`${datasetTitle(d)} nominal`, `${datasetTitle(d)} held-out`])],
    rows,
    `Mean test proximity error (lower is better), nominal vs ${which === 'block' ? 'block' : 'entity type'} held out`,
  );
}

function nominalVsHeldout(list: ExperimentDoc[], what: string, slug: string): ExpFigure {
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const values = list.flatMap((doc) =>
    doc.table.flatMap((r) =>
      (['nominal', 'heldout'] as const)
        .filter((s) => finite(r[`${s}_prox_error`]))
        .map((s) => ({
          dataset: doc.dataset,
          group: `${r['group']}`,
          split: s === 'heldout' ? 'held out' : 'nominal',
          model: modelDisplayName(doc.model),
          value: r[`${s}_prox_error`],
        })),
    ),
  );
  const enc = {
    y: { field: 'group', type: 'nominal', title: null, sort: null, axis: { labelLimit: 120 } },
    x: { field: 'value', type: 'quantitative', title: 'test proximity error', scale: { domain: [0, 1] } },
    color: {
      field: 'split',
      type: 'nominal',
      title: null,
      scale: { domain: ['nominal', 'held out'], range: ['#4c78a8', '#e45756'] },
    },
    shape: {
      field: 'model',
      type: 'nominal',
      legend: new Set(list.map((d) => d.model)).size > 1 ? {} : null,
    },
    tooltip: [{ field: 'group' }, { field: 'split' }, { field: 'model' }, { field: 'value', format: '.3f' }],
  };
  const spec = facetSpec(values, datasets, [
    {
      mark: { type: 'rule', color: '#bbb' },
      transform: [{ pivot: 'split', value: 'value', groupby: ['group', 'model'] }],
      encoding: { y: enc.y, x: { field: 'nominal', type: 'quantitative' }, x2: { field: 'held out' } },
    },
    pointLayer(enc, { size: 55 }),
  ]);
  spec['resolve'] = { scale: { y: 'independent' }, axis: { x: 'independent' } };
  spec['spec'].height = { step: 14 };
  spec['spec'].width = Math.min(spec['spec'].width, 250);
  return {
    slug,
    title: `${what}: nominal vs held-out proximity error per group`,
    caption:
      'Look for red dots close to blue ones: a held-out group the probe still places well was not memorised.',
    spec,
    marks: values.length,
  };
}

interface BlockMap {
  group: string;
  truth: [number, number][];
  heldOutPrediction: [number, number][];
  trainCentroid: [number, number];
}

/** The paper's held-out block grid: per group, its held-out predictions, the true and predicted centroids. */
function blockMaps(doc: ExperimentDoc, nycOutlines?: GeoJsonCollection): ExpFigure | undefined {
  const maps = (doc.figures?.['maps'] as BlockMap[] | undefined)?.slice(0, 20);
  if (!maps?.length) return undefined;
  const us = doc.dataset.startsWith('us');
  const nyc = doc.dataset.startsWith('nyc');
  const angles = new Map(doc.table.map((r) => [String(r['group']), r['centroid_angle_deg']]));
  const points: object[] = [];
  const centroids: object[] = [];
  const mean = (xs: [number, number][], k: 0 | 1) => {
    const ok = xs.filter((p) => finite(p[0]) && finite(p[1]));
    return ok.reduce((a, p) => a + p[k], 0) / Math.max(1, ok.length);
  };
  for (const m of maps) {
    m.heldOutPrediction.forEach((p, i) => {
      if (finite(p[0]) && finite(p[1]))
        points.push({ group: m.group, lon: p[0], lat: p[1], tlon: m.truth[i]?.[0], tlat: m.truth[i]?.[1] });
    });
    const angle = angles.get(m.group);
    const label = `${m.group}${finite(angle) ? ` · ${angle.toFixed(0)}°` : ''}`;
    centroids.push(
      { group: m.group, label, kind: 'true centroid', lon: mean(m.truth, 0), lat: mean(m.truth, 1) },
      {
        group: m.group,
        label,
        kind: 'predicted centroid',
        lon: mean(m.heldOutPrediction, 0),
        lat: mean(m.heldOutPrediction, 1),
      },
      { group: m.group, label, kind: 'training centroid', lon: m.trainCentroid[0], lat: m.trainCentroid[1] },
    );
  }
  const kind = us ? 'us' : nyc ? 'nyc' : 'world';
  const frame = mapFrame(kind).projection; // fitted to the region, whatever the panel size
  const outline = outlineData(kind, nycOutlines);
  const groups = maps.map((m) => m.group);
  const cell = (g: string, index: number) => ({
    title: {
      text: centroids.find((c) => (c as { group: string }).group === g)
        ? (centroids.find((c) => (c as { group: string }).group === g) as { label: string }).label
        : g,
      fontSize: 11,
    },
    width: 240,
    height: nyc ? 200 : 125,
    projection: frame,
    layer: [
      ...(outline ? [{ data: outline.data, mark: { ...OUTLINE_MARK, strokeWidth: 0.4, clip: true } }] : []),
      {
        name: `${MAIN}_${index}`,
        data: { name: 'points' },
        transform: [{ filter: { field: 'group', equal: g } }],
        mark: { type: 'circle', size: 7, color: '#e45756', fillOpacity: 0.55, clip: true },
        encoding: {
          longitude: { field: 'lon', type: 'quantitative' },
          latitude: { field: 'lat', type: 'quantitative' },
        },
      },
      {
        data: { name: 'centroids' },
        transform: [{ filter: { field: 'group', equal: g } }],
        mark: { type: 'point', filled: false, strokeWidth: 2, size: 70, clip: true },
        encoding: {
          longitude: { field: 'lon', type: 'quantitative' },
          latitude: { field: 'lat', type: 'quantitative' },
          shape: {
            field: 'kind',
            type: 'nominal',
            title: null,
            scale: {
              domain: ['true centroid', 'predicted centroid', 'training centroid'],
              range: ['circle', 'diamond', 'cross'],
            },
          },
          color: {
            field: 'kind',
            type: 'nominal',
            title: null,
            scale: {
              domain: ['true centroid', 'predicted centroid', 'training centroid'],
              range: ['#1f77b4', '#d62728', '#333'],
            },
          },
          tooltip: [
            { field: 'group' },
            { field: 'kind' },
            { field: 'lon', format: '.2f' },
            { field: 'lat', format: '.2f' },
          ],
        },
      },
    ],
  });
  return {
    slug: `block-holdout-maps-${doc.dataset}`,
    title: `Held-out blocks: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)})`,
    caption:
      'Each panel: predictions for one block by a probe that never saw it (red), its true centroid (○), predicted centroid (◇) and the training centroid (×); the title gives the angle between true and predicted direction from ×.',
    spec: {
      $schema: SCHEMA,
      datasets: { points, centroids, ...outline?.datasets },
      concat: groups.map(cell),
      columns: 4,
      spacing: 8,
      config: {
        ...BASE_CONFIG,
        view: { stroke: '#dde1e6' },
        legend: { ...BASE_CONFIG.legend, orient: 'top', direction: 'horizontal' },
      },
    },
    marks: points.length,
  };
}

/** Time blocks: true, predicted and training mean year per held-out block. */
function blockTimeline(doc: ExperimentDoc): ExpFigure | undefined {
  const rows = doc.tables?.['centroids']?.rows ?? [];
  const offset = /^(art|headline)/.test(doc.dataset) ? 1970 : 0;
  const values = rows.flatMap((r) =>
    (['true', 'pred', 'train'] as const)
      .filter((k) => finite(r[`${k}_year`]))
      .map((k) => ({
        group: String(r['group']),
        kind:
          k === 'true'
            ? 'true mean year'
            : k === 'pred'
              ? 'predicted mean year (held out)'
              : 'training mean year',
        year: (r[`${k}_year`] as number) + offset,
      })),
  );
  if (!values.length) return undefined;
  const kinds = ['true mean year', 'predicted mean year (held out)', 'training mean year'];
  return {
    slug: `block-holdout-timeline-${doc.dataset}`,
    title: `Held-out periods: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)})`,
    caption:
      'Look for the predicted mean year (◇) of each held-out period to fall on the true side of the training mean (×).',
    spec: {
      $schema: SCHEMA,
      data: { values },
      width: 620,
      height: { step: 18 },
      layer: [
        {
          mark: { type: 'rule', color: '#ccc' },
          transform: [
            { filter: "datum.kind !== 'training mean year'" },
            { pivot: 'kind', value: 'year', groupby: ['group'] },
          ],
          encoding: {
            y: { field: 'group', type: 'nominal', sort: null, title: null },
            x: { field: 'true mean year', type: 'quantitative' },
            x2: { field: 'predicted mean year (held out)' },
          },
        },
        pointLayer(
          {
            y: { field: 'group', type: 'nominal', sort: null, title: 'held-out block' },
            x: {
              field: 'year',
              type: 'quantitative',
              title: 'year',
              scale: { zero: false },
              axis: { format: 'd' },
            },
            shape: {
              field: 'kind',
              type: 'nominal',
              title: null,
              scale: { domain: kinds, range: ['circle', 'diamond', 'cross'] },
            },
            color: {
              field: 'kind',
              type: 'nominal',
              title: null,
              scale: { domain: kinds, range: ['#1f77b4', '#d62728', '#333'] },
            },
            tooltip: [{ field: 'group' }, { field: 'kind' }, { field: 'year', format: '.1f' }],
          },
          { size: 70 },
        ),
      ],
      config: BASE_CONFIG,
    },
    marks: values.length,
  };
}

function holdoutSection(
  docs: ExperimentDoc[],
  which: 'block' | 'entity',
  nycOutlines?: GeoJsonCollection,
): ExpSection | undefined {
  const list = byExperiment(docs, `${which}-holdout`);
  if (!list.length) return undefined;
  const what = which === 'block' ? 'Block hold-out' : 'Entity-type hold-out';
  const figures: ExpFigure[] = [nominalVsHeldout(list, what, `${which}-holdout-groups`)];
  if (which === 'block') {
    for (const doc of list) {
      const fig = doc.kind === 'space' ? blockMaps(doc, nycOutlines) : blockTimeline(doc);
      if (fig) figures.push(fig);
    }
  }
  return {
    id: `${which}-holdout`,
    title: what,
    intro:
      which === 'block'
        ? 'A probe trained without a whole country, state, borough or period still places it roughly right if it learned geometry rather than a lookup.'
        : 'A probe trained without one entity type still works on it if places (or dates) of every type share one representation.',
    tables: [holdoutTable(list, which)],
    figures,
  };
}

// ---------------------------------------------------------------- PCA-k (docs/method.md#pca)

function pcaSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'pca');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const multiModel = new Set(list.map((d) => d.model)).size > 1;
  const values = list.flatMap((doc) =>
    doc.table
      .filter((r) => r['features'] !== 'raw' && finite(r['k']))
      .flatMap((r) =>
        (['r2', 'spearman'] as const)
          .filter((m) => finite(r[`test_${m}`]))
          .map((m) => ({
            dataset: doc.dataset,
            series: `${multiModel ? `${modelDisplayName(doc.model)} · ` : ''}test ${m === 'r2' ? 'R²' : 'Spearman'}`,
            k: r['k'],
            value: r[`test_${m}`],
          })),
      ),
  );
  const raw = list.flatMap((doc) =>
    doc.table
      .filter((r) => r['features'] === 'raw')
      .flatMap((r) =>
        (['r2', 'spearman'] as const)
          .filter((m) => finite(r[`test_${m}`]))
          .map((m) => ({
            dataset: doc.dataset,
            series: `${multiModel ? `${modelDisplayName(doc.model)} · ` : ''}test ${m === 'r2' ? 'R²' : 'Spearman'}`,
            value: r[`test_${m}`],
          })),
      ),
  );
  const color = { field: 'series', type: 'nominal', title: null };
  const enc = {
    x: { field: 'k', type: 'quantitative', title: 'principal components k', scale: { type: 'log' } },
    y: { field: 'value', type: 'quantitative', title: 'test score' },
    color,
    tooltip: [{ field: 'series' }, { field: 'k' }, { field: 'value', format: '.3f' }],
  };
  // Facet children can't take their own data with a filter on the facet field, so raw lines are joined in:
  const merged = [...values, ...raw.map((r) => ({ ...r, k: null, raw: true }))];
  return {
    id: 'pca',
    title: 'PCA-k probes',
    intro:
      'Probes on the top k principal components: the order of places and dates (Spearman) is recovered with few components.',
    tables: [],
    figures: [
      {
        slug: 'pca-k',
        title: 'Test R² and Spearman against k',
        caption:
          'Look for Spearman saturating at small k while R² keeps climbing; dashed lines: the probe on all d dimensions.',
        spec: facetSpec(merged, datasets, [
          { transform: [{ filter: 'datum.raw !== true' }], ...lineLayer(enc) },
          { transform: [{ filter: 'datum.raw !== true' }], ...pointLayer(enc, { size: 30 }) },
          {
            transform: [{ filter: 'datum.raw === true' }],
            mark: { type: 'rule', strokeDash: [4, 3], opacity: 0.8 },
            encoding: { y: { field: 'value', type: 'quantitative' }, color },
          },
        ]),
        marks: values.length,
      },
    ],
  };
}

// ---------------------------------------------------------------- neurons (docs/method.md#neurons)

interface NeuronActivations {
  target: string;
  layer: number;
  neuron: number;
  r2: number;
  spearman: number;
  values: number[];
}

const MAX_NEURON_POINTS = 4000;

function neuronsSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'neurons');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  const tables: string[] = [];
  for (const doc of list) {
    const acts = (doc.figures?.['neuronActivations'] as NeuronActivations[] | undefined) ?? [];
    const targets = (doc.figures?.['targets'] as Record<string, number[]> | undefined) ?? {};
    const types = doc.figures?.['entityTypes'] as string[] | undefined;
    const names = (doc.figures?.['names'] as string[] | undefined) ?? [];
    const offset = doc.kind === 'time' && /^(art|headline)/.test(doc.dataset) ? 1970 : 0;
    const top = pickNeurons(acts);
    const values: object[] = [];
    for (const a of top) {
      const truth = targets[a.target] ?? [];
      const stride = Math.max(1, Math.ceil(a.values.length / MAX_NEURON_POINTS));
      const panelTitle = `${a.target} · L${a.layer} N${a.neuron} · ρ ${fmt(a.spearman, 2)}`;
      for (let i = 0; i < a.values.length; i += stride) {
        if (!finite(a.values[i]) || !finite(truth[i])) continue;
        values.push({
          panel: panelTitle,
          activation: a.values[i],
          truth: truth[i]! + (a.target === 'year' ? offset : 0),
          type: types?.[i] ?? doc.dataset,
          name: names[i] ?? '',
        });
      }
    }
    if (values.length) {
      const panels = [...new Set(values.map((v) => (v as { panel: string }).panel))];
      figures.push({
        slug: `neurons-${doc.dataset}`,
        title: `Top single neurons: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)})`,
        caption:
          'Each panel: one MLP neuron’s activation against the true coordinate or year, coloured by entity type; a monotone cloud means the neuron alone tracks the variable.',
        spec: {
          $schema: SCHEMA,
          data: { values },
          facet: {
            field: 'panel',
            type: 'nominal',
            title: null,
            sort: panels,
            header: { labelFontSize: 11, labelLimit: 300 },
          },
          columns: Math.min(4, panels.length),
          spec: {
            width: 200,
            height: 150,
            layer: [
              pointLayer(
                {
                  x: {
                    field: 'truth',
                    type: 'quantitative',
                    title: doc.kind === 'time' ? 'true year' : 'true coordinate (degrees)',
                    scale: { zero: false },
                  },
                  y: {
                    field: 'activation',
                    type: 'quantitative',
                    title: 'activation',
                    scale: { zero: false },
                  },
                  color: { field: 'type', type: 'nominal', title: 'entity type' },
                  tooltip: [
                    { field: 'name' },
                    { field: 'type' },
                    { field: 'truth', format: '.2f' },
                    { field: 'activation', format: '.3f' },
                  ],
                },
                { size: 9, opacity: 0.6, type: 'circle' },
              ),
            ],
          },
          resolve: { scale: { x: 'independent', y: 'independent' } },
          config: BASE_CONFIG,
        },
        marks: values.length,
      });
    }
    tables.push(neuronTables(doc));
  }
  return {
    id: 'neurons',
    title: 'Space and time neurons',
    intro:
      'Individual MLP neurons whose input or output weights align with the probe, or whose activation correlates with the coordinate or year.',
    tables,
    figures,
  };
}

/** The best neuron per target plus the next best overall, at most 8. */
function pickNeurons(acts: NeuronActivations[]): NeuronActivations[] {
  const byTarget = new Map<string, NeuronActivations[]>();
  for (const a of acts) byTarget.set(a.target, [...(byTarget.get(a.target) ?? []), a]);
  const chosen: NeuronActivations[] = [];
  for (let k = 0; chosen.length < 8 && k < 4; k++)
    for (const list of byTarget.values()) if (list[k] && chosen.length < 8) chosen.push(list[k]!);
  return chosen;
}

/** The two searches side by side: correlation (the code's) and probe-cosine (the text's). */
function neuronTables(doc: ExperimentDoc): string {
  const corr = doc.columns?.includes('corr') ? doc.table : undefined;
  const cos = doc.tables?.['probe_cosine']?.rows ?? (doc.columns?.includes('cos') ? doc.table : undefined);
  const parts: string[] = [];
  if (corr?.length) {
    const top = [...corr].sort((a, b) => (b['abs_corr'] as number) - (a['abs_corr'] as number)).slice(0, 10);
    parts.push(
      htmlTable(
        ['feature', 'weight', 'layer', 'neuron', 'Spearman ρ'],
        top.map((r) => ({
          cells: [
            String(r['feature']),
            String(r['weight']),
            `${r['layer']}`,
            `${r['neuron']}`,
            r['corr'] as number,
          ],
        })),
        `Correlation search (the authors' code): top |ρ|, ${datasetTitle(doc.dataset)}`,
      ),
    );
  }
  if (cos?.length) {
    const top = [...cos].sort((a, b) => (b['abs_cos'] as number) - (a['abs_cos'] as number)).slice(0, 10);
    parts.push(
      htmlTable(
        ['target', 'weight', 'layer', 'neuron', 'cos', 'alone ρ', 'alone R²'],
        top.map((r) => ({
          cells: [
            String(r['target']),
            String(r['weight']),
            `${r['layer']}`,
            `${r['neuron']}`,
            r['cos'] as number,
            r['spearman'] as number,
            r['r2'] as number,
          ],
        })),
        `Probe-cosine search (the paper's text): top |cos|, ${datasetTitle(doc.dataset)}`,
      ),
    );
  }
  return `<div class="side">${parts.join('')}</div>`;
}

// ---------------------------------------------------------------- interventions (docs/method.md#interventions)

function interveneSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'intervene');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  for (const doc of list) {
    const candidates = doc.columns?.filter((c) => c.startsWith('logp_')).map((c) => c.slice(5)) ?? [];
    const values = doc.table.flatMap((r) =>
      candidates
        .filter((c) => finite(r[`logp_${c}`]))
        .map((c) => ({
          prompt: String(r['prompt']),
          candidate: c,
          alpha: r['alpha'],
          logp: r[`logp_${c}`],
          p: r[`p_first_${c}`],
        })),
    );
    const shift = doc.table
      .filter((r) => finite(r['probe_shift']))
      .map((r) => ({
        prompt: String(r['prompt']),
        alpha: r['alpha'],
        shift: r['probe_shift'],
        completion: String(r['completion'] ?? ''),
      }));
    const target = String(doc.settings?.['target'] ?? doc.targetNames?.[0] ?? 'target');
    const prompts = [...new Set(values.map((v) => v.prompt))];
    if (values.length) {
      figures.push({
        slug: `intervene-dose-response-${doc.dataset}`,
        title: `Steering along the ${target} probe: answer log-probability against strength (${modelDisplayName(doc.model)})`,
        caption:
          'Look for the candidate answers’ log-probabilities to rise and fall monotonically as the edit pushes the probe’s reading.',
        spec: {
          $schema: SCHEMA,
          data: { values },
          facet: {
            field: 'prompt',
            type: 'nominal',
            title: null,
            sort: prompts,
            header: { labelFontSize: 12, labelLimit: 380 },
          },
          columns: Math.min(3, prompts.length),
          spec: {
            width: 300,
            height: 180,
            layer: [
              lineLayer({
                x: { field: 'alpha', type: 'quantitative', title: 'steering strength α' },
                y: { field: 'logp', type: 'quantitative', title: 'log P(answer)' },
                color: { field: 'candidate', type: 'nominal' },
              }),
              pointLayer({
                x: { field: 'alpha', type: 'quantitative' },
                y: { field: 'logp', type: 'quantitative' },
                color: { field: 'candidate', type: 'nominal' },
                tooltip: [
                  { field: 'prompt' },
                  { field: 'candidate' },
                  { field: 'alpha' },
                  { field: 'logp', format: '.3f', title: 'log P' },
                  { field: 'p', format: '.2e', title: 'P(first token)' },
                ],
              }),
            ],
          },
          config: BASE_CONFIG,
        },
        marks: values.length,
      });
    }
    if (shift.length) {
      figures.push({
        slug: `intervene-probe-shift-${doc.dataset}`,
        title: `Decoded ${target} after the edit against strength (${modelDisplayName(doc.model)})`,
        caption: `The probe’s reading moves by this much ${target} at each α (the edit’s size in target units); hover for the greedy completion.`,
        spec: {
          $schema: SCHEMA,
          data: { values: shift },
          width: 520,
          height: 200,
          layer: [
            lineLayer({
              x: { field: 'alpha', type: 'quantitative', title: 'steering strength α' },
              y: { field: 'shift', type: 'quantitative', title: `change of decoded ${target}` },
              color: { field: 'prompt', type: 'nominal', legend: { labelLimit: 320 } },
            }),
            pointLayer({
              x: { field: 'alpha', type: 'quantitative' },
              y: { field: 'shift', type: 'quantitative' },
              color: { field: 'prompt', type: 'nominal' },
              tooltip: [
                { field: 'prompt' },
                { field: 'alpha' },
                { field: 'shift', format: '.2f' },
                { field: 'completion' },
              ],
            }),
          ],
          config: BASE_CONFIG,
        },
        marks: shift.length,
      });
    }
  }
  return {
    id: 'intervene',
    title: 'Interventions',
    intro:
      'Adding the probe direction to the residual stream tests whether the model uses the feature, not just whether it is decodable.',
    tables: [],
    figures,
  };
}

// ---------------------------------------------------------------- familiarity (docs/method.md#familiarity)

function familiaritySection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'familiarity');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const values = list.flatMap((doc) =>
    doc.table
      .filter((r) => finite(r['test_r2']))
      .map((r) => ({
        dataset: doc.dataset,
        analysis:
          r['analysis'] === 'bucket'
            ? 'one probe, test R² per familiarity bucket'
            : 'probe refitted on rows above the quantile',
        bucket: `${Math.round((r['quantile_low'] as number) * 100)}–${Math.round((r['quantile_high'] as number) * 100)}%`,
        from: r['quantile_low'],
        r2: r['test_r2'],
        n: r['n_test'],
        model: modelDisplayName(doc.model),
      })),
  );
  const enc = {
    // Both analyses start at the same quantile: a bucket [q, next q) and a filter (rows at or above q).
    x: {
      field: 'from',
      type: 'quantitative',
      title: 'familiarity quantile q (log P of the true answer): bucket from q, or rows ≥ q',
      axis: { format: '.0%', values: [0, 0.25, 0.5, 0.75] },
      scale: { domain: [0, 0.75], nice: false },
    },
    y: { field: 'r2', type: 'quantitative', title: 'test R²' },
    color: { field: 'analysis', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
    tooltip: [
      { field: 'analysis' },
      { field: 'bucket', title: 'quantiles' },
      { field: 'r2', format: '.3f' },
      { field: 'n', title: 'test rows' },
    ],
  };
  return {
    id: 'familiarity',
    title: 'Familiarity',
    intro:
      'Entities the model knows better (higher log-probability of the true country, state or year) should be placed better.',
    tables: [],
    figures: [
      {
        slug: 'familiarity-buckets',
        title: 'Probe accuracy by familiarity',
        caption: 'Look for R² rising from the least to the most familiar bucket.',
        spec: facetSpec(values, datasets, [
          { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { ...enc, tooltip: undefined } },
          pointLayer(enc, { size: 60 }),
        ]),
        marks: values.length,
      },
    ],
  };
}

/** Every dedicated section for the given experiment documents, in the paper's order. */
export function experimentSections(
  docs: ExperimentDoc[],
  depthOf: DepthOf,
  nycOutlines?: GeoJsonCollection,
): ExpSection[] {
  return [
    mlpSection(docs, depthOf),
    promptsSection(docs, depthOf),
    holdoutSection(docs, 'block', nycOutlines),
    holdoutSection(docs, 'entity'),
    pcaSection(docs),
    neuronsSection(docs),
    interveneSection(docs),
    familiaritySection(docs),
  ].filter((s): s is ExpSection => s !== undefined);
}

/** Known experiment names (others fall back to the raw-results appendix only). */
export const KNOWN_EXPERIMENTS = new Set([
  'mlp',
  'prompts',
  'block-holdout',
  'entity-holdout',
  'pca',
  'neurons',
  'intervene',
  'familiarity',
]);

export { paperPromptMatches };
