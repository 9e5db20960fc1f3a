/** Block and entity-type hold-out sections (docs/method.md#block-holdout, #entity-holdout). */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  datasetOrder,
  datasetTitle,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  facetSpec,
  finite,
  htmlTable,
  MAIN,
  pointLayer,
} from './experiment-common.js';
import { PAPER_HOLDOUT, paperPromptMatches } from './paper-reference.js';
import { BASE_CONFIG, mapFrame, OUTLINE_MARK, outlineData, SCHEMA } from './specs.js';
import type { GeoJsonCollection } from './types.js';

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

export function holdoutSection(
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
