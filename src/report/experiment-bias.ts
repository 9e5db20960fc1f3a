/** Fame and region bias of the probe's errors: the fame curve, the group map, the tables (docs/experiments.md#bias). */
import { modelDisplayName } from '../util/paths.js';
import {
  type Cell,
  datasetOrder,
  datasetTitle,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  finite,
  htmlTable,
  MAIN,
} from './experiment-common.js';
import { facet, mapKindOf, num, ofExperiment } from './followup-common.js';
import { BASE_CONFIG, mapFrame, SCHEMA } from './specs.js';
import type { GeoJsonCollection } from './types.js';

type Row = Record<string, Cell>;
const int = (v: Cell | undefined) => (finite(v) ? String(Math.round(v)) : '–');
/** An error in its unit: whole km, years to one decimal. */
const err = (v: Cell | undefined, unit: unknown) =>
  finite(v) ? (unit === 'km' ? v.toFixed(0) : v.toFixed(1)) : '–';

function biasFameFigure(list: ExperimentDoc[]): ExpFigure | undefined {
  const values = list.flatMap((doc) =>
    ((doc.tables?.['bins']?.rows ?? []) as Row[])
      .filter((r) => finite(r['median_error']))
      .map((r) => ({
        dataset: `${datasetTitle(doc.dataset)} (${doc.settings?.['unit'] ?? ''})`,
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
  const datasets = datasetOrder(list.map((d) => d.dataset)).map(
    (d) => `${datasetTitle(d)} (${unitOf.get(d)})`,
  );
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

/** The grouping columns of the paper's datasets, in words (a user's own column keeps its name). */
const GROUP_WORDS: Record<string, string> = {
  state_id: 'state',
  borough_name: 'borough',
  facility_t_name: 'facility type',
  entity_type: 'entity type',
};
const groupWords = (by: unknown) => GROUP_WORDS[String(by)] ?? String(by);
/** A group's value as read (the paper's CSVs write United_States). */
const groupName = (v: unknown) => String(v).replace(/_/g, ' ');

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
  const what = groupWords(by);
  const kind = mapKindOf(doc.dataset);
  const frame = mapFrame(kind, nycOutlines);
  const values = groups
    .filter((r) => r['by'] === by)
    .map((r) => ({
      group: groupName(r['group']),
      lon: r['centroid_lon'],
      lat: r['centroid_lat'],
      n: r['n'],
      share: r['share'],
      median: r['median_error'],
      mean: r['mean_error'],
    }));
  return {
    slug: `bias-map-${doc.dataset}`,
    title: `Median test error per ${what}: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)}, layer ${doc.layer})`,
    caption: `One circle per ${what} at the spherical mean of its places; area = test rows, colour = median great-circle error. Look for where the data are dense (large circles) and whether the error is small there and large where the dataset is thin.`,
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
              { field: 'group', title: what },
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

export function biasSection(docs: ExperimentDoc[], nycOutlines?: GeoJsonCollection): ExpSection | undefined {
  const list = ofExperiment(docs, 'bias');
  if (!list.length) return undefined;
  const slopes = htmlTable(
    ['model · dataset · layer · column', 'rows', 'slope per ×10', '± SE', 'Spearman ρ', 'median error'],
    list.flatMap((doc) =>
      doc.table.map((r) => ({
        cells: [
          `${modelDisplayName(doc.model)} · ${datasetTitle(doc.dataset)} · ${doc.layer} · log10 ${r['column']}`,
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
              `${modelDisplayName(doc.model)} · ${datasetTitle(doc.dataset)} · ${groupWords(r['by'])} ${groupName(r['group'])}`,
              finite(r['share']) ? `${((r['share'] as number) * 100).toFixed(1)}%` : '–',
              int(r['n']),
              `${err(r['median_error'], unit)} ${unit ?? ''}`,
              `${err(r['mean_error'], unit)} ${unit ?? ''}`,
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
